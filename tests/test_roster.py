"""The duty roster: shift rules, history, re-attribution of stored ratings, and the ingest
publishing the roster's assignment when a shift starts (on a real Mosquitto).

The seed staffs hk-q1 (HK-0001), bd-q1 (BD-0001) and hk-q2 (HK-0002) until further notice
from seeding time and leaves bd-q2 (device kiosk-bd-02) closed: most tests roster bd-q2.
"""

from __future__ import annotations

import json
import threading
import uuid
from datetime import datetime, timedelta, timezone

import paho.mqtt.client as mqtt
import pytest
from factories import T0, incoming, rating_bytes
from waiting import wait_for

from collector.db import audit
from collector.core.settings import BrokerAddress
from collector.ingest.subscriber import Ingest
from collector.roster.shifts import (
    RosterConflict,
    RosterError,
    RosterForbidden,
    RosterNotFound,
    RosterService,
    format_time,
    parse_time,
)
from collector.accounts.scope import Scope
from collector.db.store import Store, now_ms
from collector.ingest.recording import record_batch
from collector.org.organisation import upsert_counter
from collector.org.registry import register_device

MIN = 60_000
S = T0 + 3_600_000  # a moment well after the seed's shifts and placements start
CLOCK = S + 100 * MIN


@pytest.fixture
def roster(store):
    return RosterService(store, actor="test:BD-0101", clock=lambda: CLOCK)


def press(store, seq, at, device="kiosk-bd-02", officer=None):
    # Received just after the press: a device clock ahead of the collector's is not trusted.
    record_batch(store.db, [incoming(rating_bytes(device=device, seq=seq, ts=at, officer=officer),
                                     device=device, received_at=at + 500)])


def owners(store, device="kiosk-bd-02"):
    """seq → (officer, attribution) of the device's stored ratings."""
    return {row["seq"]: (row["officer_id"], row["attribution"]) for row in store.db.query(
        "SELECT seq, officer_id, attribution FROM ratings WHERE device_id = ?", [device])}


def last_audit(store):
    entry = audit.recent(store.db, None)[0]
    return entry.action, entry.subject, entry.before_value, entry.after_value


# --- rules -----------------------------------------------------------------------------------

def test_a_shift_is_stored_with_local_times_and_audited(roster, store):
    shift = roster.add_shift("bd-q2", "BD-0002", S, S + 240 * MIN, note="ca sáng")
    assert (shift["counter_id"], shift["officer_id"], shift["note"], shift["current"],
            shift["created_by"], shift["created_at"]) == \
        ("bd-q2", "BD-0002", "ca sáng", True, "test:BD-0101", CLOCK)
    assert shift["starts"] == format_time(S) and shift["starts"].endswith("+07:00")
    action, subject, before, after = last_audit(store)
    assert (action, subject, before) == ("roster.add", f"shift:{shift['id']}", None)
    assert (after["officer_id"], after["starts_at"], after["ends_at"], after["reattributed"]) \
        == ("BD-0002", S, S + 240 * MIN, {})
    assert audit.verify(store.db).ok


@pytest.mark.parametrize("counter, officer, start, end, error, words", [
    ("bd-q2", "BD-0002", S, S, RosterError, "end after it starts"),
    ("bd-q2", "BD-0002", S, S - 1, RosterError, "end after it starts"),
    ("zz-q9", "BD-0002", S, None, RosterError, "no counter"),
    ("bd-q2", "NOBODY", S, None, RosterError, "no officer"),
    ("bd-q2", "BD-0002", "hôm qua", None, RosterError, "ISO 8601"),
    ("bd-q2", "BD-0002", 0, None, RosterError, "2020–2099"),
    # bd-q1 is BD-0001's until further notice: any later shift there overlaps it.
    ("bd-q1", "BD-0002", S, S + MIN, RosterConflict, "Counter bd-q1 already has shift"),
    # HK-0001 staffs hk-q1 until further notice: not at bd-q2 as well.
    ("bd-q2", "HK-0001", S, S + MIN, RosterConflict, "nobody staffs two counters at once"),
])
def test_shifts_that_break_a_rule_are_refused(roster, store, counter, officer, start, end,
                                              error, words):
    before = store.db.execute("SELECT count(*) FROM roster_shifts").fetchone()[0]
    with pytest.raises(error, match=words) as raised:
        roster.add_shift(counter, officer, start, end)
    assert raised.value.vi and raised.value.en  # both languages
    assert store.db.execute("SELECT count(*) FROM roster_shifts").fetchone()[0] == before


def test_overlap_is_judged_on_half_open_periods(roster):
    roster.add_shift("bd-q2", "BD-0002", S, S + 60 * MIN)
    roster.add_shift("bd-q2", "BD-0003", S + 60 * MIN, S + 120 * MIN)  # back to back is fine
    with pytest.raises(RosterConflict):
        roster.add_shift("bd-q2", "BD-0004", S + 119 * MIN, S + 180 * MIN)
    with pytest.raises(RosterConflict):
        roster.add_shift("bd-q2", "BD-0004", S - 10 * MIN, None)  # open end reaches them all


def test_an_officer_is_rostered_only_within_their_active_dates(roster, store):
    store.db.execute("UPDATE officers SET active_from = '2030-01-02', active_to = '2030-01-31' "
                     "WHERE id = 'BD-0002'")
    day = parse_time("2030-01-02T00:00", "t")
    with pytest.raises(RosterError, match="active from 2030-01-02"):
        roster.add_shift("bd-q2", "BD-0002", day - 1, day + MIN)
    with pytest.raises(RosterError, match="active until 2030-01-31"):
        roster.add_shift("bd-q2", "BD-0002", day, None)
    last_midnight = parse_time("2030-02-01T00:00", "t")
    with pytest.raises(RosterError, match="active until 2030-01-31"):
        roster.add_shift("bd-q2", "BD-0002", day, last_midnight + 1)
    # ending at the midnight after the last active day ends on that day
    assert roster.add_shift("bd-q2", "BD-0002", day, last_midnight)["current"]


@pytest.mark.parametrize("text, expected", [
    ("2026-03-02T07:30", datetime(2026, 3, 2, 0, 30, tzinfo=timezone.utc)),  # UTC+7 implied
    ("2026-03-02 07:30:15", datetime(2026, 3, 2, 0, 30, 15, tzinfo=timezone.utc)),
    ("2026-03-02T07:30+07:00", datetime(2026, 3, 2, 0, 30, tzinfo=timezone.utc)),
    ("2026-03-02T00:30Z", datetime(2026, 3, 2, 0, 30, tzinfo=timezone.utc)),
    ("2026-03-02", datetime(2026, 3, 1, 17, 0, tzinfo=timezone.utc)),  # local midnight
])
def test_times_are_read_as_vietnam_time_unless_they_say_otherwise(text, expected):
    at = parse_time(text, "starts_at")
    assert at == int(expected.timestamp() * 1000)
    assert datetime.fromisoformat(format_time(at)).utcoffset() == timedelta(hours=7)


# --- history ---------------------------------------------------------------------------------

def test_a_correction_keeps_the_old_shift_as_history(roster, store):
    first = roster.add_shift("bd-q2", "BD-0002", S, S + 60 * MIN, note="ca sáng")
    with pytest.raises(RosterError, match="reason is required"):
        roster.correct_shift(first["id"], officer_id="BD-0003", reason="  ")
    with pytest.raises(RosterError, match="Nothing differs"):
        roster.correct_shift(first["id"], officer_id="BD-0002", reason="nhầm")
    fixed = roster.correct_shift(first["id"], officer_id="BD-0003", ends_at=S + 90 * MIN,
                                 reason="Đổi ca theo phân công mới")
    old = roster.shift(first["id"])
    assert (old["current"], old["replaced_at"], old["replaced_by"]) == (False, CLOCK,
                                                                         fixed["id"])
    assert (fixed["officer_id"], fixed["starts_at"], fixed["ends_at"], fixed["note"]) == \
        ("BD-0003", S, S + 90 * MIN, "ca sáng")  # what was not given stays
    assert [s["id"] for s in roster.shifts(counter_id="bd-q2")] == [fixed["id"]]
    assert [s["id"] for s in roster.shifts(counter_id="bd-q2", include_history=True)] == \
        [first["id"], fixed["id"]]
    action, subject, before, after = last_audit(store)
    assert (action, subject, before["officer_id"], after["officer_id"], after["reason"]) == \
        ("roster.correct", f"shift:{first['id']}", "BD-0002", "BD-0003",
         "Đổi ca theo phân công mới")
    with pytest.raises(RosterConflict, match="already replaced"):
        roster.correct_shift(first["id"], officer_id="BD-0004", reason="x")


def test_a_correction_may_not_collide_but_may_move_within_its_own_period(roster):
    shift = roster.add_shift("bd-q2", "BD-0002", S, S + 60 * MIN)
    roster.add_shift("bd-q2", "BD-0003", S + 60 * MIN, S + 120 * MIN)
    moved = roster.correct_shift(shift["id"], starts_at=S + 10 * MIN, reason="đến muộn")
    assert moved["starts_at"] == S + 10 * MIN  # overlapped only itself
    with pytest.raises(RosterConflict, match="already has shift"):
        roster.correct_shift(moved["id"], ends_at=S + 61 * MIN, reason="ở lại")


def test_a_cancelled_shift_stays_in_the_history(roster, store):
    shift = roster.add_shift("bd-q2", "BD-0002", S, S + 60 * MIN)
    with pytest.raises(RosterError, match="reason is required"):
        roster.cancel_shift(shift["id"], None)
    gone = roster.cancel_shift(shift["id"], "Cán bộ nghỉ ốm")
    assert (gone["current"], gone["replaced_at"], gone["replaced_by"]) == (False, CLOCK, None)
    assert roster.shifts(counter_id="bd-q2") == []
    assert last_audit(store)[0] == "roster.cancel"
    with pytest.raises(RosterConflict):
        roster.cancel_shift(shift["id"], "again")
    with pytest.raises(RosterNotFound):
        roster.cancel_shift(9999, "none")


def test_shifts_are_listed_by_period_counter_and_officer(roster):
    a = roster.add_shift("bd-q2", "BD-0002", S, S + 60 * MIN)
    b = roster.add_shift("bd-q2", "BD-0003", S + 60 * MIN, S + 120 * MIN)
    ids = lambda **kw: [s["id"] for s in roster.shifts(counter_id="bd-q2", **kw)]  # noqa: E731
    assert ids() == [a["id"], b["id"]]
    assert ids(start=S + 60 * MIN) == [b["id"]]  # a ended exactly then
    assert ids(end=S + 60 * MIN) == [a["id"]]  # b starts exactly then
    assert ids(start=S + 30 * MIN, end=S + 61 * MIN) == [a["id"], b["id"]]
    assert [s["id"] for s in roster.shifts(officer_id="BD-0003")] == [b["id"]]


# --- re-attribution --------------------------------------------------------------------------

def test_adding_a_shift_gives_it_the_ratings_pressed_in_its_period(roster, store):
    press(store, 1, S + 5 * MIN, officer="BD-0002")   # closed counter: kept as shown
    press(store, 2, S + 30 * MIN)                      # nobody shown, nobody rostered
    press(store, 3, S + 70 * MIN, officer="BD-0002")  # after the shift
    assert owners(store) == {1: ("BD-0002", "device"), 2: (None, "none"),
                             3: ("BD-0002", "device")}
    roster.add_shift("bd-q2", "BD-0004", S, S + 60 * MIN)
    assert owners(store) == {1: ("BD-0004", "roster"), 2: ("BD-0004", "roster"),
                             3: ("BD-0002", "device")}
    assert last_audit(store)[3]["reattributed"] == {"BD-0002→BD-0004": 1, "—→BD-0004": 1}


def test_a_correction_moves_ratings_of_both_the_old_and_the_new_period(roster, store):
    shift = roster.add_shift("bd-q2", "BD-0002", S, S + 60 * MIN)
    for seq, minute in enumerate((5, 30, 59, 65, 90)):
        press(store, seq, S + minute * MIN, officer="BD-0002")
    assert [o for o, _ in owners(store).values()] == ["BD-0002"] * 5
    # The shift was really BD-0003's, and it ran until S + 80 min.
    roster.correct_shift(shift["id"], officer_id="BD-0003", ends_at=S + 80 * MIN,
                         reason="Nhập nhầm cán bộ trực")
    assert owners(store) == {0: ("BD-0003", "roster"), 1: ("BD-0003", "roster"),
                             2: ("BD-0003", "roster"), 3: ("BD-0003", "roster"),
                             4: ("BD-0002", "device")}
    assert last_audit(store)[3]["reattributed"] == {"BD-0002→BD-0003": 4}
    # Shortening it takes the cut tail away from BD-0003: nobody is on the roster then, and
    # the officer the device showed is only the ingest's guess, not the corrected roster's.
    current = roster.shifts(counter_id="bd-q2")[0]
    roster.correct_shift(current["id"], ends_at=S + 30 * MIN, reason="Về sớm")
    assert [owners(store)[seq] for seq in (1, 2, 3)] == [(None, "none")] * 3
    assert owners(store)[0] == ("BD-0003", "roster")
    assert last_audit(store)[3]["reattributed"] == {"BD-0003→—": 3}
    assert audit.verify(store.db).ok


def test_a_correction_moving_a_shift_between_counters_reattributes_both(roster, store):
    shift = roster.add_shift("bd-q2", "BD-0002", S, S + 60 * MIN)
    press(store, 1, S + 10 * MIN)                                    # at bd-q2
    upsert_counter(store.db, "bd-q3", "Quầy 3", "bd-1c")
    register_device(store.db, "kiosk-bd-03", "bd-q3", at=S - MIN)
    press(store, 2, S + 10 * MIN, device="kiosk-bd-03")              # at bd-q3
    roster.correct_shift(shift["id"], counter_id="bd-q3", reason="Trực quầy 3")
    assert owners(store) == {1: (None, "none")}
    assert owners(store, "kiosk-bd-03") == {2: ("BD-0002", "roster")}
    assert last_audit(store)[3]["reattributed"] == {"BD-0002→—": 1, "—→BD-0002": 1}


def test_a_rating_pressed_before_its_device_moved_keeps_its_counter(roster, store):
    # kiosk-hk-02 stands at hk-q2 (HK-0002) until S + 20 min, then serves bd-q2.
    press(store, 1, S + 10 * MIN, device="kiosk-hk-02")
    register_device(store.db, "kiosk-hk-02", "bd-q2", at=S + 20 * MIN)
    press(store, 2, S + 30 * MIN, device="kiosk-hk-02")
    roster.add_shift("bd-q2", "BD-0004", S, S + 60 * MIN)
    assert owners(store, "kiosk-hk-02") == {1: ("HK-0002", "roster"),
                                            2: ("BD-0004", "roster")}
    assert last_audit(store)[3]["reattributed"] == {"—→BD-0004": 1}


def test_cancelling_a_shift_takes_its_ratings_from_the_officer(roster, store):
    """Reviewer item 2: the device showed BD-0002 because the (mistaken) roster told it to;
    cancelling the shift must not leave the ratings with BD-0002 as "device"."""
    shift = roster.add_shift("bd-q2", "BD-0002", S, S + 60 * MIN)
    press(store, 1, S + 10 * MIN, officer="BD-0002")
    press(store, 2, S + 20 * MIN, officer="BD-0003")
    press(store, 3, S + 30 * MIN)
    assert set(owners(store).values()) == {("BD-0002", "roster")}
    roster.cancel_shift(shift["id"], "Cán bộ nghỉ phép, quầy đóng")
    assert owners(store) == {1: (None, "none"), 2: (None, "none"), 3: (None, "none")}
    assert last_audit(store)[3]["reattributed"] == {"BD-0002→—": 3}


def test_a_shift_starting_later_loses_the_ratings_before_its_new_start(roster, store):
    roster.add_shift("bd-q2", "BD-0003", S, S + 60 * MIN)
    shift = roster.add_shift("bd-q2", "BD-0002", S + 60 * MIN, S + 120 * MIN)
    press(store, 1, S + 30 * MIN, officer="BD-0003")
    press(store, 2, S + 90 * MIN, officer="BD-0002")
    press(store, 3, S + 110 * MIN, officer="BD-0002")
    later = roster.correct_shift(shift["id"], starts_at=S + 100 * MIN, reason="Vào ca muộn")
    assert owners(store) == {1: ("BD-0003", "roster"), 2: (None, "none"),
                             3: ("BD-0002", "roster")}
    # Corrected to another officer: the ratings it covers move to them.
    roster.correct_shift(later["id"], officer_id="BD-0004", reason="Nhầm người")
    assert owners(store) == {1: ("BD-0003", "roster"), 2: (None, "none"),
                             3: ("BD-0004", "roster")}
    assert last_audit(store)[3]["reattributed"] == {"BD-0002→BD-0004": 1}


def test_the_ingest_alone_keeps_the_officer_shown_where_no_shift_covers(roster, store):
    press(store, 1, S + 10 * MIN, officer="BD-0002")
    assert owners(store) == {1: ("BD-0002", "device")}
    shift = roster.add_shift("bd-q2", "BD-0003", S, S + 60 * MIN)
    roster.cancel_shift(shift["id"], "Nhập nhầm")
    assert owners(store) == {1: (None, "none")}  # the roster was corrected: it decides


def test_a_failed_write_changes_nothing(roster, store, monkeypatch):
    press(store, 1, S + 10 * MIN)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")
    monkeypatch.setattr(audit, "append", broken)
    with pytest.raises(RuntimeError):
        roster.add_shift("bd-q2", "BD-0002", S, S + 60 * MIN)
    assert roster.shifts(counter_id="bd-q2") == []
    assert owners(store) == {1: (None, "none")}
    assert not store.db.conn.in_transaction


# --- the ingest follows the roster ------------------------------------------------------------

class AssignmentWatcher:
    """Records (arrival unix ms, payload) of one device's retained assignment messages."""

    def __init__(self, port: int, device: str):
        self.messages: list[tuple[int, dict]] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                  client_id=f"watch-{uuid.uuid4().hex[:8]}")
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(f"hailong/v1/devices/{device}/assignment", qos=1)
        self.client.loop_start()

    def _on_message(self, client, userdata, message) -> None:
        with self.lock:
            self.messages.append((now_ms(), json.loads(message.payload)))

    def officer_shown(self, officer_id: str) -> tuple[int, dict] | None:
        with self.lock:
            return next(((at, body) for at, body in self.messages
                         if body["officer"] and body["officer"]["id"] == officer_id), None)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_the_device_is_sent_a_shift_when_it_starts_and_corrections_reattribute(mosquitto,
                                                                                 seeded_db):
    ingest = Ingest(str(seeded_db), BrokerAddress("127.0.0.1", mosquitto.port),
                    client_id=f"test-{uuid.uuid4().hex[:8]}", assignment_poll_s=0.2)
    ingest.start()
    watcher = AssignmentWatcher(mosquitto.port, "kiosk-bd-02")
    store = Store(seeded_db)
    try:
        assert ingest.wait_connected(10)
        wait_for(lambda: watcher.messages and watcher.messages[-1][1]["state"] == "closed",
                 what="the closed counter's assignment")
        service = RosterService(store, actor="test")
        starts = now_ms() + 1000
        shift = service.add_shift("bd-q2", "BD-0002", starts)
        arrived, body = wait_for(lambda: watcher.officer_shown("BD-0002"), timeout=5,
                                 what="the shift's assignment")
        assert body["state"] == "open" and body["counter"] == "Quầy 2"
        assert arrived >= starts  # not before the shift starts

        publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        publisher.connect("127.0.0.1", mosquitto.port)
        publisher.loop_start()
        try:
            publisher.publish("hailong/v1/devices/kiosk-bd-02/rating",
                              rating_bytes(device="kiosk-bd-02", seq=1, ts=now_ms(),
                                           officer="BD-0002"), qos=1).wait_for_publish(5)
        finally:
            publisher.disconnect()
            publisher.loop_stop()
        wait_for(lambda: owners(store), what="the rating to be stored")
        assert owners(store) == {1: ("BD-0002", "roster")}

        service.correct_shift(shift["id"], officer_id="BD-0003",
                              reason="Người trực thực tế là BD-0003")
        assert owners(store) == {1: ("BD-0003", "roster")}
        assert last_audit(store)[3]["reattributed"] == {"BD-0002→BD-0003": 1}
        wait_for(lambda: watcher.officer_shown("BD-0003"), timeout=5,
                 what="the corrected assignment")
    finally:
        store.close()
        watcher.stop()
        ingest.stop()


# --- scope (issue 10) ---------------------------------------------------------------------------

BA_DINH = Scope(False, frozenset({"bd", "bd-1c"}), frozenset())


def test_a_scoped_change_may_not_move_ratings_of_an_officer_outside_the_scope(store):
    """bd-q2 is closed, so a press there keeps the officer its device showed: here a Hoàn Kiếm
    officer. A Ba Đình leader's shift over that press would take it from them: refused, and
    nothing is written."""
    press(store, 1, S + 5 * MIN, officer="HK-0003")
    assert owners(store) == {1: ("HK-0003", "device")}
    scoped = RosterService(store, actor="test:BD-0101", clock=lambda: CLOCK, scope=BA_DINH)
    with pytest.raises(RosterForbidden, match="outside your account's scope") as caught:
        scoped.add_shift("bd-q2", "BD-0002", S, S + 60 * MIN)
    assert "HK-0003" not in str(caught.value)
    assert owners(store) == {1: ("HK-0003", "device")}
    assert scoped.shifts(counter_id="bd-q2") == [] and audit.recent(store.db, None) == []
    # Outside that press's window the same leader may roster bd-q2.
    assert scoped.add_shift("bd-q2", "BD-0002", S + 10 * MIN, S + 60 * MIN)["current"]


def test_a_scoped_service_refuses_counters_and_officers_outside_the_scope(store):
    scoped = RosterService(store, actor="test:BD-0101", clock=lambda: CLOCK, scope=BA_DINH)
    with pytest.raises(RosterForbidden, match="this counter is outside"):
        scoped.add_shift("hk-q1", "BD-0002", S, S + MIN)
    with pytest.raises(RosterForbidden, match="this officer is outside"):
        scoped.add_shift("bd-q2", "HK-0003", S, S + MIN)
    hk_shift = store.db.execute("SELECT id FROM roster_shifts WHERE counter_id = 'hk-q1'"
                                ).fetchone()[0]
    for change in (lambda: scoped.cancel_shift(hk_shift, "x"),
                   lambda: scoped.correct_shift(hk_shift, officer_id="BD-0002", reason="x")):
        with pytest.raises(RosterForbidden, match="This shift is at a counter or of an") as caught:
            change()
        assert "hk-" not in str(caught.value) and "HK-" not in str(caught.value)
    assert store.db["roster_shifts"].count == 3
