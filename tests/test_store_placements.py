"""The store's organisation migration, device placements and online spans.

- 0006_organisation carries the per-device `assignments` of 0001 into the counter roster and
  the devices' placements, and drops the old table;
- a rating is attributed through the counter its device stood at when it was pressed;
- a device's online stretches open on an online status, stretch while statuses keep coming,
  and close on the last will or after MAX_SILENCE_MS of silence.
"""

from __future__ import annotations

import json

from factories import T0, incoming, rating_bytes

from collector.db.store import Store, connect, migrate
from collector.db.schema import MIGRATIONS
from collector.ingest.recording import record_batch
from collector.org.registry import register_device, retire_device
from collector.ratings.evidence import MAX_SILENCE_MS
from collector.roster.attribution import attribute

MIN = 60_000


# --- migration 0006 ------------------------------------------------------------------------

def database_at_0005(path):
    """A database as the collector left it before 0006: every migration up to 0005_tasks."""
    db = connect(path)
    db["_migrations"].create({"name": str, "applied_at": int}, pk="name")
    for name, apply in MIGRATIONS[:5]:
        with db.atomic():
            apply(db)
            db["_migrations"].insert({"name": name, "applied_at": 0})
    assert MIGRATIONS[4][0] == "0005_tasks" and MIGRATIONS[5][0] == "0006_organisation"
    return db


def test_migration_0006_carries_assignments_into_roster_and_placements(tmp_path):
    db = database_at_0005(tmp_path / "old.db")
    db["units"].insert({"id": "hk-1c", "name": "Một cửa", "parent_id": None})
    for officer in ("A", "B", "C"):
        db["officers"].insert({"id": officer, "name": officer, "title": "CV",
                               "unit_id": "hk-1c"})
    for counter in ("q1", "q2"):
        db["counters"].insert({"id": counter, "label": counter, "unit_id": "hk-1c"})
    db["devices"].insert_all([
        {"id": "d1", "counter_id": "q1", "scale": 4, "registered_at": 500, "retired_at": None},
        {"id": "d2", "counter_id": "q2", "scale": 4, "registered_at": None,
         "retired_at": 9_000},
    ])
    db["assignments"].insert_all([
        {"device_id": "d1", "officer_id": "A", "starts_at": 1_000, "ends_at": 2_000},
        {"device_id": "d1", "officer_id": None, "starts_at": 2_000, "ends_at": 3_000},  # closed
        {"device_id": "d1", "officer_id": "B", "starts_at": 3_000, "ends_at": None},
        {"device_id": "d2", "officer_id": "C", "starts_at": 4_000, "ends_at": 4_000},  # empty
        {"device_id": "d2", "officer_id": "C", "starts_at": 5_000, "ends_at": 8_000},
    ])
    assert migrate(db)[:1] == ["0006_organisation"]

    shifts = [tuple(row) for row in db.execute(
        "SELECT counter_id, officer_id, starts_at, ends_at, created_by, replaced_at "
        "FROM roster_shifts ORDER BY id")]
    assert shifts == [("q1", "A", 1_000, 2_000, "migration", None),
                      ("q1", "B", 3_000, None, "migration", None),
                      ("q2", "C", 5_000, 8_000, "migration", None)]
    placements = [tuple(row) for row in db.execute(
        "SELECT device_id, counter_id, starts_at, ends_at FROM device_placements ORDER BY id")]
    assert placements == [("d1", "q1", 500, None), ("d2", "q2", 0, 9_000)]
    assert not db["assignments"].exists()
    # Attribution after the migration answers what the old assignments said.
    assert [attribute(db, "d1", at, None)[0] for at in (999, 1_500, 2_500, 3_000)] == \
        [None, "A", None, "B"]
    assert attribute(db, "d2", 6_000, None) == ("C", "roster")
    assert attribute(db, "d2", 9_500, "C") == ("C", "device")  # retired: no placement
    db.conn.close()


def test_a_store_opened_on_an_old_database_migrates_it(tmp_path):
    database_at_0005(tmp_path / "old.db").conn.close()
    store = Store(tmp_path / "old.db")
    try:
        names = [row["name"] for row in store.db["_migrations"].rows]
        assert names == [name for name, _ in MIGRATIONS]
    finally:
        store.close()


# --- placements ------------------------------------------------------------------------------

def owners(store, device):
    return {row["seq"]: (row["officer_id"], row["attribution"]) for row in store.db.query(
        "SELECT seq, officer_id, attribution FROM ratings WHERE device_id = ?", [device])}


def test_a_moved_device_attributes_by_where_it_stood_at_press_time(store):
    moved_at = T0 + 30 * MIN
    # bd-q2 is closed in the seed; BD-0003 staffs it from before the move.
    register_device(store.db, "kiosk-bd-02", "bd-q2")  # same counter again: no new placement
    store.db.execute("INSERT INTO roster_shifts (counter_id, officer_id, starts_at, created_at, "
                     "created_by) VALUES ('bd-q2', 'BD-0003', ?, 0, 'test')", [T0])
    register_device(store.db, "kiosk-hk-01", "bd-q2", at=moved_at)
    record_batch(store.db, [
        incoming(rating_bytes(seq=1, ts=moved_at - MIN)),      # still at hk-q1
        incoming(rating_bytes(seq=2, ts=moved_at + MIN)),      # now at bd-q2
    ])
    # A press made before the move but delivered after it still belongs to hk-q1.
    record_batch(store.db, [incoming(rating_bytes(seq=3, ts=moved_at - 2 * MIN),
                                     received_at=moved_at + 5 * MIN)])
    assert owners(store, "kiosk-hk-01") == {1: ("HK-0001", "roster"),
                                            2: ("BD-0003", "roster"),
                                            3: ("HK-0001", "roster")}
    placements = [tuple(row) for row in store.db.execute(
        "SELECT counter_id, ends_at FROM device_placements WHERE device_id = 'kiosk-hk-01' "
        "ORDER BY id")]
    assert placements == [("hk-q1", moved_at), ("bd-q2", None)]
    assert store.db.execute("SELECT count(*) FROM device_placements WHERE device_id = "
                            "'kiosk-bd-02'").fetchone()[0] == 1


def test_a_retired_device_leaves_its_counter_and_the_roster_stays(store):
    retire_device(store.db, "kiosk-hk-01", at=T0)
    assert store.db.execute("SELECT ends_at FROM device_placements WHERE device_id = "
                            "'kiosk-hk-01'").fetchone()[0] == T0
    assert attribute(store.db, "kiosk-hk-01", T0 + 1, None) == (None, "none")
    # The counter's shift is the counter's: a replacement board there shows the same officer.
    register_device(store.db, "kiosk-hk-05", "hk-q1", at=T0 + 10)
    assert attribute(store.db, "kiosk-hk-05", T0 + 20, None) == ("HK-0001", "roster")


# --- online spans ----------------------------------------------------------------------------

def status(at, state="online", device="kiosk-hk-01"):
    body = {"v": 1, "device": device, "state": state}
    if state == "online":
        # Booted an hour before T0: the uptime runs with the clock, as a device's does.
        body.update(fw="0.1.0", boot=1, uptime_ms=at - T0 + 3_600_000, mem_free=50_000,
                    rssi=-60, queue=0,
                    filtered=0, dropped=0)
    return incoming(json.dumps(body).encode(), device=device, kind="status", received_at=at)


def spans(store, device="kiosk-hk-01"):
    return [tuple(row) for row in store.db.execute(
        "SELECT starts_at, last_seen_at, ended_at FROM device_online_spans WHERE device_id = ? "
        "ORDER BY id", [device])]


def test_statuses_open_and_extend_a_span_and_the_will_closes_it(store):
    record_batch(store.db, [status(T0)])
    assert spans(store) == [(T0, T0, None)]
    record_batch(store.db, [status(T0 + MIN), status(T0 + 2 * MIN)])
    assert spans(store) == [(T0, T0 + 2 * MIN, None)]
    record_batch(store.db, [status(T0 + 2 * MIN + 5_000, "offline")])
    assert spans(store) == [(T0, T0 + 2 * MIN, T0 + 2 * MIN + 5_000)]
    record_batch(store.db, [status(T0 + 10 * MIN)])
    assert spans(store)[1] == (T0 + 10 * MIN, T0 + 10 * MIN, None)


def test_silence_closes_a_span_at_the_allowance(store):
    record_batch(store.db, [status(T0)])
    record_batch(store.db, [status(T0 + MAX_SILENCE_MS)])  # exactly at the allowance: same span
    assert spans(store) == [(T0, T0 + MAX_SILENCE_MS, None)]
    back = T0 + MAX_SILENCE_MS + MAX_SILENCE_MS + 1
    record_batch(store.db, [status(back)])
    assert spans(store) == [(T0, T0 + MAX_SILENCE_MS, T0 + 2 * MAX_SILENCE_MS),
                            (back, back, None)]
    # A will after a long silence ends the stretch at the allowance, not when it came.
    later = back + 10 * MAX_SILENCE_MS
    record_batch(store.db, [status(later, "offline")])
    assert spans(store)[1] == (back, back, back + MAX_SILENCE_MS)


def test_a_will_without_an_open_span_and_ratings_open_nothing(store):
    record_batch(store.db, [status(T0, "offline"), incoming(rating_bytes(ts=T0))])
    assert spans(store) == []
    record_batch(store.db, [status(T0, device="kiosk-bd-01"), status(T0 + 1)])
    assert spans(store, "kiosk-bd-01") == [(T0, T0, None)]
    assert spans(store) == [(T0 + 1, T0 + 1, None)]


def test_a_late_status_does_not_pull_last_seen_back(store):
    record_batch(store.db, [status(T0), status(T0 + 2 * MIN)])
    record_batch(store.db, [status(T0 + MIN)])  # delivered out of order
    assert spans(store) == [(T0, T0 + 2 * MIN, None)]


# --- placements from a past day (issue 12) ---------------------------------------------------

DAY = 86_400_000
NOV_20_10H = 1_795_143_600_000   # 2026-11-20 10:00 ICT: the registry's "now" below
NOV_01 = 1_793_466_000_000       # 2026-11-01 00:00 ICT (= 2026-10-31 17:00 UTC)
NOV_10 = 1_794_243_600_000       # 2026-11-10 00:00 ICT


def past_history(store):
    """hk-q8 and hk-q9, new counters of hk-1c: HK-0003 staffs hk-q9 all November, HK-0004
    staffs hk-q8 from 1 to 18 November; kiosk-hk-09 is registered on 20 November as standing
    at hk-q9 since 1 November."""
    from collector.org.organisation import upsert_counter
    from collector.org.registry import Registry
    from collector.roster.shifts import RosterService
    upsert_counter(store.db, "hk-q8", "Quầy 8", "hk-1c")
    upsert_counter(store.db, "hk-q9", "Quầy 9", "hk-1c")
    roster = RosterService(store, actor="test", clock=lambda: NOV_20_10H)
    roster.add_shift("hk-q9", "HK-0003", NOV_01, NOV_01 + 30 * DAY)
    roster.add_shift("hk-q8", "HK-0004", NOV_01, NOV_01 + 17 * DAY)
    registry = Registry(store, actor="cli:kythuat", clock=lambda: NOV_20_10H)
    registry.add("kiosk-hk-09", "hk-q9", placed_from="2026-11-01")
    return registry


def press(store, device, seq, at, officer=None):
    record_batch(store.db, [incoming(rating_bytes(device=device, seq=seq, ts=at,
                                                  officer=officer), device=device)])


def test_a_device_added_from_a_past_day_attributes_its_backlog_through_the_roster(store):
    past_history(store)
    placements = [tuple(row) for row in store.db.execute(
        "SELECT counter_id, starts_at, ends_at FROM device_placements "
        "WHERE device_id = 'kiosk-hk-09'")]
    assert placements == [("hk-q9", 1_793_466_000_000, None)]  # 1 Nov 00:00 local
    # Pressed on 5 November, delivered now (the board's queue): hk-q9's roster says HK-0003.
    # Placed only "now", the press would belong to nobody.
    press(store, "kiosk-hk-09", 1, NOV_01 + 4 * DAY + 3_600_000)
    assert owners(store, "kiosk-hk-09") == {1: ("HK-0003", "roster")}


def test_a_move_from_a_past_day_re_attributes_the_devices_ratings_only(store):
    from collector.fleet.moves import move_device
    registry = past_history(store)
    press(store, "kiosk-hk-09", 1, NOV_01 + 5 * DAY)          # 6 Nov: stays at hk-q9
    press(store, "kiosk-hk-09", 2, NOV_10 + 2 * DAY)          # 12 Nov: hk-q8 after the move
    press(store, "kiosk-hk-09", 3, NOV_01 + 18 * DAY)         # 19 Nov: hk-q8, nobody rostered
    # Another board at hk-q8, pressed after HK-0004's shift: the officer it showed is kept.
    registry.add("kiosk-hk-08", "hk-q8", placed_from="2026-11-01")
    press(store, "kiosk-hk-08", 1, NOV_01 + 18 * DAY, officer="HK-0004")
    assert owners(store, "kiosk-hk-09") == {1: ("HK-0003", "roster"), 2: ("HK-0003", "roster"),
                                            3: ("HK-0003", "roster")}

    moved = move_device(registry, "kiosk-hk-09", "hk-q8", placed_from="2026-11-10")

    assert (moved["placed_from"], moved["previous"]) == (
        1_794_243_600_000, {"counter": "hk-q9", "placed_from": 1_793_466_000_000})
    assert moved["reattributed"] == {"HK-0003→HK-0004": 1, "HK-0003→—": 1}
    assert owners(store, "kiosk-hk-09") == {1: ("HK-0003", "roster"), 2: ("HK-0004", "roster"),
                                            3: (None, "none")}
    assert owners(store, "kiosk-hk-08") == {1: ("HK-0004", "device")}  # untouched
    placements = [tuple(row) for row in store.db.execute(
        "SELECT counter_id, starts_at, ends_at FROM device_placements "
        "WHERE device_id = 'kiosk-hk-09' ORDER BY starts_at")]
    assert placements == [("hk-q9", NOV_01, NOV_10), ("hk-q8", NOV_10, None)]
    assert registry.show("kiosk-hk-09")["counter_id"] == "hk-q8"
    entry = store.db.execute("SELECT actor, action, subject, before, after FROM audit_log "
                             "ORDER BY id DESC LIMIT 1").fetchone()
    assert entry[:3] == ("cli:kythuat", "device.move", "device:kiosk-hk-09")
    assert json.loads(entry[3]) == {"counter": "hk-q9", "placed_from": NOV_01}
    assert json.loads(entry[4]) == {"counter": "hk-q8", "placed_from": NOV_10,
                                    "reattributed": {"HK-0003→HK-0004": 1, "HK-0003→—": 1}}
