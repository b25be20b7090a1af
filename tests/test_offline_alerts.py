"""A device offline or unplugged during a roster shift raises an alert to the unit's leaders
(issue 12, item 3; policy `[offline] alert_minutes`, 30 in both presets).

The world, March 2026 (local time, UTC+7), built through the store as the collector would:
units hk (ward, head HK-H) ⊃ hk-1c (one-stop section, leader HK-L); counters q1 and q2 of
hk-1c. Device d1 stands at q1 from 20 February; device d2 is placed at q2 only at 10:00 on
2 March, so before that nothing stood there to be rated on.

- HK-A at q1 on 2 March 08:00–12:00: d1 online 07:30–10:00 and 10:40–12:30, offline
  10:00–10:40 = 40 minutes > 30 → one alert saying 40;
- HK-A at q1 on 3 March 08:00–12:00: d1 online 07:30–09:00 and 09:20–12:30, offline
  20 minutes ≤ 30 → no alert;
- HK-B at q2 on 2 March 08:00–12:00: d2 online 07:00–13:00 but placed at 10:00, so the
  counter had no device 08:00–10:00 = 120 minutes → one alert saying 120.

The store is created today; the world lies in the past, so each test starts the watch on
1 March (the `alert_progress` mark a new database sets to its creation time).
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

import paho.mqtt.client as mqtt
import pytest
from factories import rating_bytes
from fastapi.testclient import TestClient
from waiting import wait_for

from accounts_support import as_officer
from collector.app import create_app
from collector.core.settings import BrokerAddress, Settings
from collector.core.timeline import LOCAL_TZ
from collector.db.store import Store, connect
from collector.evaluation.policy import load_preset
from collector.evaluation.rules.offline import OfflineRule, offline_action, shift_offline_ms
from collector.ingest import offline_watch, recording
from collector.ingest.alerting import AlertDetector
from collector.ingest.subscriber import Ingest
from collector.ingest.supervision import IngestState, health_reasons
from collector.org.organisation import upsert_counter, upsert_officer, upsert_unit
from collector.org.registry import register_device
from collector.ratings import alert_records, offline_alerts
from collector.ratings.alert_rule import DEFAULT_ALERT_RULE
from collector.ratings.evidence import receiving_intervals
from collector.roster.shifts import RosterService

RULE = load_preset("hanoi-3814").offline
MINUTE = 60_000


def at(day: int, hour: int, minute: int = 0) -> int:
    """Unix ms of a local (UTC+7) time in March 2026."""
    return int(datetime(2026, 3, day, hour, minute, tzinfo=LOCAL_TZ).timestamp() * 1000)


def online(store: Store, device: str, start: int, end: int) -> None:
    store.db.execute("INSERT INTO device_online_spans (device_id, starts_at, last_seen_at, "
                     "ended_at) VALUES (?, ?, ?, ?)", [device, start, end - MINUTE, end])


@pytest.fixture
def db_path(tmp_path):
    path = tmp_path / "hailong.db"
    store = Store(path)
    try:
        upsert_unit(store.db, "hk", "UBND phường Hoàn Kiếm", None, kind="ward")
        upsert_unit(store.db, "hk-1c", "Bộ phận Một cửa phường Hoàn Kiếm", "hk", kind="office")
        upsert_officer(store.db, "HK-H", "Ngô Văn Hùng", "Chủ tịch", "hk")
        upsert_officer(store.db, "HK-L", "Đặng Thị Mai Lan", "Trưởng bộ phận", "hk",
                       leader_id="HK-H")
        upsert_officer(store.db, "HK-A", "Nguyễn Thị Thu Hường", "Chuyên viên", "hk-1c",
                       leader_id="HK-L")
        upsert_officer(store.db, "HK-B", "Trần Văn Đức", "Chuyên viên", "hk-1c",
                       leader_id="HK-L")
        upsert_unit(store.db, "hk", "UBND phường Hoàn Kiếm", None, kind="ward", head_id="HK-H")
        upsert_counter(store.db, "q1", "Quầy 1", "hk-1c")
        upsert_counter(store.db, "q2", "Quầy 2", "hk-1c")
        register_device(store.db, "d1", "q1", at=at(1, 0) - 9 * 86_400_000)
        register_device(store.db, "d2", "q2", at=at(2, 10))
        roster = RosterService(store, actor="test")
        roster.add_shift("q1", "HK-A", at(2, 8), at(2, 12))
        roster.add_shift("q1", "HK-A", at(3, 8), at(3, 12))
        roster.add_shift("q2", "HK-B", at(2, 8), at(2, 12))
        with store.db.atomic():
            online(store, "d1", at(2, 7, 30), at(2, 10))
            online(store, "d1", at(2, 10, 40), at(2, 12, 30))
            online(store, "d1", at(3, 7, 30), at(3, 9))
            online(store, "d1", at(3, 9, 20), at(3, 12, 30))
            online(store, "d2", at(2, 7), at(2, 13))
            # Watch from 1 March: the world is older than the database.
            store.db.execute("UPDATE alert_progress SET offline_through = ?", [at(1, 0)])
    finally:
        store.close()
    return path


@pytest.fixture
def store(db_path):
    store = Store(db_path)
    yield store
    store.close()


def offline_rows(db) -> list[tuple]:
    return db.execute("SELECT counter_id, officer_id, unit_id, first_at, last_at, "
                      "offline_minutes FROM alerts WHERE kind = 'device_offline' "
                      "ORDER BY id").fetchall()


def test_forty_minutes_offline_in_a_shift_raises_one_alert_saying_forty(store):
    raised = offline_watch.check_offline_shifts(store.db, RULE, at(3, 13))
    assert offline_rows(store.db) == [
        ("q1", "HK-A", "hk-1c", at(2, 8), at(2, 12), 40),
        ("q2", "HK-B", "hk-1c", at(2, 8), at(2, 12), 120),
    ]
    assert len(raised) == 2
    items = alert_records.list_alerts(store.db, state="all", kind="device_offline")["items"]
    q1 = next(item for item in items if item["counter_id"] == "q1")
    assert q1["kind"] == "device_offline" and q1["offline_minutes"] == 40
    assert q1["message"]["vi"] == ("Thiết bị tại «Quầy 1» mất kết nối 40 phút trong ca làm "
                                   "việc của Nguyễn Thị Thu Hường (08:00–12:00 ngày 02/03/2026)")
    assert q1["message"]["en"] == ("The device at “Quầy 1” was offline for 40 minutes "
                                   "during Nguyễn Thị Thu Hường's shift (08:00–12:00, "
                                   "2026-03-02)")


def test_twenty_minutes_offline_raise_nothing(store):
    offline_watch.check_offline_shifts(store.db, RULE, at(3, 13))
    assert [row for row in offline_rows(store.db) if row[3] == at(3, 8)] == []


def test_no_device_placed_at_the_counter_counts_as_offline(store):
    offline_watch.check_offline_shifts(store.db, RULE, at(3, 13))
    assert ("q2", "HK-B", "hk-1c", at(2, 8), at(2, 12), 120) in offline_rows(store.db)


def test_the_threshold_is_the_policy_s(store):
    offline_watch.check_offline_shifts(store.db, OfflineRule(alert_minutes=15), at(3, 13))
    assert sorted(row[5] for row in offline_rows(store.db)) == [20, 40, 120]


def test_running_detection_again_raises_nothing_new(store):
    offline_watch.check_offline_shifts(store.db, RULE, at(3, 13))
    assert offline_watch.check_offline_shifts(store.db, RULE, at(3, 14)) == []
    assert offline_watch.check_offline_shifts(store.db, RULE, at(4, 9)) == []
    assert len(offline_rows(store.db)) == 2


def test_a_running_shift_raises_once_it_passes_the_threshold_and_once_only(store):
    # At 10:20 HK-A's first shift has been offline 20 minutes: nothing yet (q2 has had no
    # device for two hours by then: its alert). At 10:35, 35.
    offline_watch.check_offline_shifts(store.db, RULE, at(2, 10, 20))
    assert [row[0] for row in offline_rows(store.db)] == ["q2"]
    (alert_id,) = [i for i in offline_watch.check_offline_shifts(store.db, RULE, at(2, 10, 35))
                   if store.db.execute("SELECT counter_id FROM alerts WHERE id = ?",
                                       [i]).fetchone()[0] == "q1"]
    assert offline_rows(store.db)[1] == ("q1", "HK-A", "hk-1c", at(2, 8), at(2, 10, 35), 35)
    # When the shift has ended the same alert carries the shift's whole offline time.
    offline_watch.check_offline_shifts(store.db, RULE, at(2, 12, 5))
    rows = [row for row in offline_rows(store.db) if row[0] == "q1"]
    assert rows == [("q1", "HK-A", "hk-1c", at(2, 8), at(2, 12), 40)]
    assert store.db.execute("SELECT COUNT(*) FROM alerts WHERE counter_id = 'q1'"
                            ).fetchone()[0] == 1
    assert alert_id


def test_an_acknowledged_alert_is_left_as_the_leader_saw_it(store):
    offline_watch.check_offline_shifts(store.db, RULE, at(2, 10, 35))
    alert_id = store.db.execute("SELECT id FROM alerts WHERE counter_id = 'q1'").fetchone()[0]
    alert_records.AlertService(store.db).acknowledge(alert_id, "cb.hk-l", "Đã kiểm tra")
    offline_watch.check_offline_shifts(store.db, RULE, at(2, 12, 5))
    assert [row[5] for row in offline_rows(store.db) if row[0] == "q1"] == [35]


def test_a_failed_write_moves_neither_the_alerts_nor_the_mark(store, monkeypatch):
    before = store.db.execute("SELECT offline_through FROM alert_progress").fetchone()[0]

    def broken(*args, **kwargs):
        raise sqlite3.OperationalError("disk I/O error")
    monkeypatch.setattr(offline_alerts, "raise_alert", broken)
    with pytest.raises(sqlite3.OperationalError):
        offline_watch.check_offline_shifts(store.db, RULE, at(3, 13))
    assert offline_rows(store.db) == []
    assert store.db.execute("SELECT offline_through FROM alert_progress").fetchone()[0] == before
    monkeypatch.undo()
    offline_watch.check_offline_shifts(store.db, RULE, at(3, 13))
    assert len(offline_rows(store.db)) == 2


def test_the_alert_detector_watches_the_shifts(db_path):
    detector = AlertDetector(str(db_path), DEFAULT_ALERT_RULE, offline=RULE)
    detector.start()
    detector.finish(10)
    assert not detector.alive() and detector.failing is None
    db = connect(db_path)
    try:
        assert [row[5] for row in offline_rows(db)] == [40, 120]
    finally:
        db.conn.close()


def test_a_corrected_shift_is_not_alerted_twice(store):
    offline_watch.check_offline_shifts(store.db, RULE, at(2, 10, 35))
    shift_id = store.db.execute("SELECT shift_id FROM alerts WHERE counter_id = 'q1'"
                                ).fetchone()[0]
    RosterService(store, actor="test").correct_shift(shift_id, ends_at=at(2, 11, 30),
                                                     reason="về sớm")
    offline_watch.check_offline_shifts(store.db, RULE, at(2, 12, 5))
    assert [row for row in offline_rows(store.db) if row[0] == "q1"] == [
        ("q1", "HK-A", "hk-1c", at(2, 8), at(2, 11, 30), 40)]


def test_an_open_alert_follows_a_correction_made_after_its_shift_was_judged(store):
    # Judged the next day, when the shift had long ended and the mark had passed it; the
    # roster then says HK-L staffed the counter that morning, not HK-A.
    offline_watch.check_offline_shifts(store.db, RULE, at(3, 13))
    shift_id = store.db.execute("SELECT shift_id FROM alerts WHERE counter_id = 'q1'"
                                ).fetchone()[0]
    corrected = RosterService(store, actor="test").correct_shift(
        shift_id, officer_id="HK-L", reason="đổi ca")
    offline_watch.check_offline_shifts(store.db, RULE, at(3, 14))
    assert [row for row in offline_rows(store.db) if row[0] == "q1"] == [
        ("q1", "HK-L", "hk-1c", at(2, 8), at(2, 12), 40)]
    assert store.db.execute("SELECT shift_id FROM alerts WHERE counter_id = 'q1'"
                            ).fetchone()[0] == corrected["id"]


def test_an_acknowledged_alert_does_not_follow_a_later_correction(store):
    offline_watch.check_offline_shifts(store.db, RULE, at(3, 13))
    alert_id, shift_id = store.db.execute("SELECT id, shift_id FROM alerts WHERE "
                                          "counter_id = 'q1'").fetchone()
    store.db.execute("UPDATE alerts SET acknowledged_at = ?, acknowledged_by = 'HK-L' "
                     "WHERE id = ?", [at(3, 13), alert_id])
    RosterService(store, actor="test").correct_shift(shift_id, officer_id="HK-L",
                                                     reason="đổi ca")
    offline_watch.check_offline_shifts(store.db, RULE, at(3, 14))
    assert [row for row in offline_rows(store.db) if row[0] == "q1"] == [
        ("q1", "HK-A", "hk-1c", at(2, 8), at(2, 12), 40)]


def test_the_leader_sees_filters_and_acknowledges_it_with_a_note(db_path):
    store = Store(db_path)
    try:
        offline_watch.check_offline_shifts(store.db, RULE, at(3, 13))
    finally:
        store.close()
    leader = as_officer(db_path, "HK-L")
    with TestClient(create_app(Settings(db_path, broker_url=None))) as client:
        listed = client.get("/api/v1/alerts?kind=device_offline", headers=leader)
        assert listed.status_code == 200, listed.text
        items = listed.json()["items"]
        # Latest first; the same end: the later raised first.
        assert [(i["counter_id"], i["offline_minutes"]) for i in items] == [("q2", 120),
                                                                           ("q1", 40)]
        assert client.get("/api/v1/alerts?kind=negative_share",
                          headers=leader).json()["total"] == 0
        assert client.get("/api/v1/alerts?kind=nonsense", headers=leader).status_code == 422
        alert_id = items[1]["id"]
        done = client.post(f"/api/v1/alerts/{alert_id}/acknowledge", headers=leader,
                           json={"comment": "Mất điện tại quầy, đã báo kỹ thuật"})
        assert done.status_code == 200, done.text
        body = done.json()
        assert body["state"] == "acknowledged" and body["acknowledged_by"] == "cb.hk-l"
        assert [n["text"] for n in body["notes"]] == ["Mất điện tại quầy, đã báo kỹ thuật"]
        again = client.post(f"/api/v1/alerts/{alert_id}/acknowledge", headers=leader, json={})
        assert again.status_code == 409
        page = client.get("/alerts?state=all&kind=device_offline", headers=leader)
        assert page.status_code == 200
        assert "mất kết nối 40 phút" in page.text and "Quầy 2" in page.text
        one = client.get(f"/alerts/{alert_id}", headers=leader)
        assert one.status_code == 200 and "mất kết nối 40 phút" in one.text
        overview = client.get("/?month=2026-03", headers=leader)  # the open one, in words
        assert overview.status_code == 200 and "mất kết nối 120 phút" in overview.text


# --- the arithmetic alone (collector/evaluation/rules/offline.py) ---------------------------

M = MINUTE


@pytest.mark.parametrize("online, offline", [
    ([], 240 * M),                                   # no device online (or none placed)
    ([(-30 * M, 120 * M), (160 * M, 270 * M)], 40 * M),
    ([(0, 100 * M), (50 * M, 200 * M)], 40 * M),     # two devices overlapping: counted once
    ([(-60 * M, None)], 0),                          # still online as far as anyone knows
    ([(300 * M, 400 * M)], 240 * M),                 # online only after the shift
])
def test_offline_time_of_a_shift(online, offline):
    assert shift_offline_ms(0, 240 * M, online) == offline


@pytest.mark.parametrize("offline_ms, raised, action", [
    (30 * M, None, "none"),             # exactly the threshold is not more than it
    (30 * M + 1, None, "raise"),
    (40 * M, (35, False), "update"),    # open: follows the shift
    (40 * M, (35, True), "none"),       # acknowledged: as the leader saw it
    (40 * M, (40, False), "none"),
    (10 * M, (40, False), "update"),    # a corrected, shorter shift
])
def test_what_a_shift_calls_for(offline_ms, raised, action):
    assert offline_action(RULE, offline_ms, raised) == action


# --- the collector's own downtime is unknown, not offline -----------------------------------
# The collector records when it receives (table ingest_receiving, collector/ingest/
# recording.py): a span from each subscription to the broker, kept alive while connected and
# ended when it loses the broker or stops; one left open by a collector that was killed ends
# at its last sign of life. Time outside every span is "unknown": neither online nor offline.
# A device counts as offline only once the collector has listened as long as a device may be
# silent (3 minutes, evidence.MAX_SILENCE_MS): a collector that subscribes at 09:57 judges
# from 10:00. Time before the first span ever recorded is judged as before (the records
# begin with the upgrade).

CLIENT = "hailong-collector"


def receiving(db, start: int, alive: int, ended: int | None = None) -> None:
    """A span of the collector's receiving, written as the ingest writes it: subscribed at
    `start`, alive at `alive`, and disconnected at `ended` (None: killed, never closed)."""
    recording.note_session(db, CLIENT, "subscribed", start)
    recording.note_receiving(db, CLIENT, alive)
    if ended is not None:
        recording.note_session(db, CLIENT, "disconnected", ended)


def test_a_shift_the_collector_missed_raises_no_alert(store):
    # HK-A at q1 on 5 March 08:00–12:00, d1 never online that day. The collector was killed:
    # its last sign of life 5 March 07:00; it subscribed again at 13:00. Without the record
    # the shift would read 240 minutes offline; with it, all 240 are unknown.
    RosterService(store, actor="test").add_shift("q1", "HK-A", at(5, 8), at(5, 12))
    receiving(store.db, at(4, 8), at(5, 7))
    receiving(store.db, at(5, 13), at(5, 13, 4))
    offline_watch.check_offline_shifts(store.db, RULE, at(5, 13, 5))  # the round at restart
    assert [row for row in offline_rows(store.db) if row[3] == at(5, 8)] == []
    # The shifts before the records began are judged as they were.
    assert sorted(row[5] for row in offline_rows(store.db)) == [40, 120]


def test_an_outage_over_half_a_shift_counts_only_the_minutes_received(store):
    # HK-A at q1 on 6 March 08:00–12:00. The collector lost the broker at 08:00 and
    # subscribed again at 09:57, so it judges from 10:00; d1 came online at 10:45. Offline
    # while received: 10:00–10:45 = 45 minutes > 30 → one alert saying 45 (not 165).
    RosterService(store, actor="test").add_shift("q1", "HK-A", at(6, 8), at(6, 12))
    receiving(store.db, at(5, 13), at(6, 7, 59), ended=at(6, 8))
    receiving(store.db, at(6, 9, 57), at(6, 12, 4))
    online(store, "d1", at(6, 10, 45), at(6, 12, 30))
    offline_watch.check_offline_shifts(store.db, RULE, at(6, 12, 5))
    assert [row for row in offline_rows(store.db) if row[3] == at(6, 8)] == [
        ("q1", "HK-A", "hk-1c", at(6, 8), at(6, 12), 45)]


def test_a_running_shift_counts_the_outage_as_unknown_while_it_runs(store):
    # The same day, watched while it runs: at 10:30 30 minutes offline while received (not
    # more than 30: nothing), at 10:31 31 (raised), at 12:05 the shift's 45.
    RosterService(store, actor="test").add_shift("q1", "HK-A", at(6, 8), at(6, 12))
    receiving(store.db, at(5, 13), at(6, 7, 59), ended=at(6, 8))
    receiving(store.db, at(6, 9, 57), at(6, 10, 30))
    offline_watch.check_offline_shifts(store.db, RULE, at(6, 10, 30))
    assert [row for row in offline_rows(store.db) if row[3] == at(6, 8)] == []
    recording.note_receiving(store.db, CLIENT, at(6, 10, 31))
    offline_watch.check_offline_shifts(store.db, RULE, at(6, 10, 31))
    assert [row[5] for row in offline_rows(store.db) if row[3] == at(6, 8)] == [31]
    online(store, "d1", at(6, 10, 45), at(6, 12, 30))
    recording.note_receiving(store.db, CLIENT, at(6, 12, 4))
    offline_watch.check_offline_shifts(store.db, RULE, at(6, 12, 5))
    assert [row[5] for row in offline_rows(store.db) if row[3] == at(6, 8)] == [45]


@pytest.mark.parametrize("online, receiving_at, offline", [
    ([], None, 240 * M),                              # no record kept: as before
    ([], [], 0),                                      # the collector received none of it
    ([], [(0, 120 * M)], 120 * M),                    # received the first half only
    ([(60 * M, None)], [(0, 120 * M)], 60 * M),       # online from 01:00; unknown after 02:00
    ([(0, 240 * M)], [], 0),                          # online (a late status placed it) is online
    ([], [(-60 * M, 30 * M), (200 * M, None)], 70 * M),  # an open span runs through the end
])
def test_offline_time_of_a_shift_while_received(online, receiving_at, offline):
    assert shift_offline_ms(0, 240 * M, online, receiving_at) == offline


@pytest.mark.parametrize("rows, now, expected", [
    # (started_at, last_alive_at, ended_at); records begin with the first span ever.
    ([], 1000 * M, None),
    ([(100 * M, 150 * M, 160 * M)], 1000 * M, [(0, 100 * M), (103 * M, 160 * M)]),
    # Open and alive within 3 minutes of now: receiving through now (an open end).
    ([(100 * M, 150 * M, 160 * M), (200 * M, 998 * M, None)], 1000 * M,
     [(0, 100 * M), (103 * M, 160 * M), (203 * M, None)]),
    # Open but silent for longer: the collector was killed; it ended at its last beat.
    ([(100 * M, 150 * M, None)], 1000 * M, [(0, 100 * M), (103 * M, 150 * M)]),
    # Shorter than the 3 minutes a device may be silent: nothing could be judged offline.
    ([(100 * M, 101 * M, 102 * M)], 1000 * M, [(0, 100 * M)]),
])
def test_when_the_collector_was_receiving(rows, now, expected):
    first = rows[0][0] if rows else None
    assert receiving_intervals(rows, first, now) == expected


def test_the_collector_records_when_it_receives(mosquitto, tmp_path):
    path = tmp_path / "hailong.db"
    Store(path).close()
    ingest = Ingest(str(path), BrokerAddress("127.0.0.1", mosquitto.port),
                    client_id="test-receiving", supervise_s=3600)
    ingest.start()
    try:
        assert ingest.wait_connected(10)
        wait_for(lambda: spans(path) and spans(path)[0][1] is None, what="a span begun")
        mosquitto.stop()  # the broker goes away: the span ends when the collector notices
        wait_for(lambda: spans(path)[0][1] is not None, what="the span ended")
        mosquitto.start()
        assert ingest.wait_connected(30)
        wait_for(lambda: len(spans(path)) == 2, what="a second span")
        first, second = spans(path)
        assert first[1] >= first[0] and second[0] >= first[1] and second[1] is None
    finally:
        ingest.stop()
    (*_, last) = spans(path)
    assert last[1] is not None  # a collector that stops ends its span


def spans(path) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT started_at, ended_at FROM ingest_receiving "
                            "WHERE client_id = 'test-receiving' ORDER BY id").fetchall()


# --- health says the watch is failing until a round of it passes ---------------------------

def test_health_stays_degraded_while_the_watch_fails_though_bursts_are_checked(
        mosquitto, seeded_db, monkeypatch):
    broken = [True]
    real = offline_watch.check_offline_shifts

    def failing(*args):
        if broken[0]:
            raise sqlite3.OperationalError("database is locked")
        return real(*args)
    monkeypatch.setattr(offline_watch, "check_offline_shifts", failing)
    ingest = Ingest(str(seeded_db), BrokerAddress("127.0.0.1", mosquitto.port),
                    client_id="test-watch-health", supervise_s=3600)
    ingest.start()  # the detector's first round watches the shifts, and fails
    try:
        assert ingest.wait_connected(10)
        wait_for(lambda: ingest.alerts.watch_failing, what="the watch's failure")
        publish(mosquitto.port, 1)
        wait_for(lambda: ingest.alerts.checked >= 1, what="a burst check that passes")
        assert ingest.alerts.failing is None
        assert ingest.health_reasons() == ["offline_watch_failing"]
        broken[0] = False
        ingest.alerts.offline_every_s = 0.0  # the next round watches again
        publish(mosquitto.port, 2)
        wait_for(lambda: ingest.health_reasons() == [], what="health well once a watch passes")
    finally:
        ingest.stop()


def publish(port: int, seq: int) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        client.publish("hailong/v1/devices/kiosk-hk-01/rating",
                       rating_bytes(boot=8181, seq=seq, ts=None), qos=1).wait_for_publish(5)
    finally:
        client.disconnect()
        client.loop_stop()


def test_the_watch_failing_is_its_own_health_reason():
    state = IngestState(connected=True, session_lost_at=None, store_error=None,
                        oldest_waiting_s=None, writer_idle_s=0.1, stopped=[],
                        failing=["offline_watch"])
    assert health_reasons(state, 0) == ["offline_watch_failing"]
