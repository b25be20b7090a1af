"""The ingest's units of work, apart (issue 11): the writer commits, acknowledges and confirms;
alert detection (collector/ingest/alerting.py) and the assignment publisher
(collector/ingest/assignments.py) run on threads of their own, watched by the supervisor. A
slow, failing or stopped unit holds no rating back, and health says which one is unwell.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid

import paho.mqtt.client as mqtt
import pytest
from factories import T0, incoming, rating_bytes
from waiting import wait_for

from collector.core.settings import BrokerAddress
from collector.db.store import now_ms
from collector.ingest.alerting import AlertDetector
from collector.ingest.outbound import Assignments
from collector.ingest.recording import record_batch
from collector.ingest.subscriber import Ingest
from collector.ratings import alerts
from collector.ratings.alert_rule import DEFAULT_ALERT_RULE

DEVICE = "kiosk-hk-01"
BOOT = 5151  # a boot the seeded database has no ratings of
MIN = 60_000


class Watcher:
    """Publishes ratings as a device would and collects what the collector publishes."""

    def __init__(self, port: int):
        self.received: dict[str, bytes] = {}
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self.client.on_message = lambda c, u, m: self.received.update({m.topic: m.payload})
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        wait_for(self.client.is_connected, what="the watcher's CONNACK")

    def press(self, seq: int, level: int = 4) -> None:
        self.client.publish(f"hailong/v1/devices/{DEVICE}/rating",
                            rating_bytes(boot=BOOT, seq=seq, level=level, ts=None),
                            qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def make_ingest(broker, db, **options) -> Ingest:
    return Ingest(str(db), BrokerAddress("127.0.0.1", broker.port),
                  client_id=f"test-{uuid.uuid4().hex[:8]}", **options)


@pytest.fixture
def live(mosquitto, seeded_db):
    """A started ingest whose supervisor checks only when the test says (`supervisor.check`),
    so a stopped unit stays stopped long enough to be seen."""
    ingest = make_ingest(mosquitto, seeded_db, supervise_s=3600)
    ingest.start()
    assert ingest.wait_connected(10)
    watcher = Watcher(mosquitto.port)
    yield ingest, watcher
    watcher.close()
    ingest.stop()


def stored(db, seq: int) -> bool:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT 1 FROM ratings WHERE id = ?",
                            [f"{DEVICE}:{BOOT}:{seq}"]).fetchone() is not None


def alert_count(db) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM alerts").fetchone()[0]


def committed_and_confirmed(ingest: Ingest, db, seqs) -> None:
    wait_for(lambda: all(stored(db, seq) for seq in seqs), what="the ratings stored")
    wait_for(lambda: ingest.totals["acks"] >= 1 and ingest.state().oldest_waiting_s is None,
             what="the batch acknowledged and confirmed")


# --- the writer does not wait for alert detection ---------------------------------------------

def test_a_slow_alert_check_holds_no_rating_back(live, seeded_db, monkeypatch):
    ingest, watcher = live
    gate, entered = threading.Event(), threading.Event()
    real = alerts.check_after_batch

    def slow(*args):
        entered.set()
        gate.wait(20)
        return real(*args)
    monkeypatch.setattr(alerts, "check_after_batch", slow)
    for seq in range(1, 5):
        watcher.press(seq, level=1)
    wait_for(entered.is_set, what="the alert check to begin")
    # The check is held, yet every rating is committed, acknowledged and confirmed.
    committed_and_confirmed(ingest, seeded_db, range(1, 5))
    assert alert_count(seeded_db) == 0 and ingest.health_reasons() == []
    gate.set()
    wait_for(lambda: alert_count(seeded_db) == 1, what="the alert, once the check goes on")


def test_a_failing_alert_check_is_reported_and_the_writer_goes_on(live, seeded_db,
                                                                  monkeypatch):
    ingest, watcher = live
    broken = [True]
    real = alerts.check_after_batch

    def failing(*args):
        if broken[0]:
            raise KeyError("rule")
        return real(*args)
    monkeypatch.setattr(alerts, "check_after_batch", failing)
    watcher.press(1)
    committed_and_confirmed(ingest, seeded_db, [1])
    wait_for(lambda: ingest.health_reasons() == ["alerts_failing"], what="alerts_failing")
    watcher.press(2)
    wait_for(lambda: stored(seeded_db, 2), what="the next rating, stored all the same")
    assert ingest.alerts.alive() and ingest.supervisor.stopped() == []
    broken[0] = False
    watcher.press(3)
    wait_for(lambda: ingest.health_reasons() == [], what="health well once a check passes")


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_stopped_alert_detector_is_reported_restarted_and_checks_again(live, seeded_db,
                                                                         monkeypatch):
    ingest, watcher = live
    real = alerts.check_after_batch
    died = []

    def dying(*args):
        if not died:
            died.append(1)
            raise SystemExit  # ends the thread, as no exception of a check can
        return real(*args)
    monkeypatch.setattr(alerts, "check_after_batch", dying)
    watcher.press(1)
    wait_for(lambda: "thread_stopped:alerts" in ingest.health_reasons(),
             what="the stopped detector in health")
    # The writer is not the detector: it goes on committing while the detector is down.
    watcher.press(2)
    committed_and_confirmed(ingest, seeded_db, [1, 2])
    ingest.supervisor.check()
    assert ingest.supervisor.restarts == {"network": 0, "writer": 0, "alerts": 1,
                                          "assignments": 0}
    for seq in range(3, 7):
        watcher.press(seq, level=1)
    wait_for(lambda: alert_count(seeded_db) == 1, what="an alert from the restarted detector")
    assert ingest.health_reasons() == []


# --- the assignment publisher ------------------------------------------------------------------

def test_a_failing_assignment_round_is_reported_and_retried(mosquitto, seeded_db,
                                                           monkeypatch):
    broken = [True]
    real = Assignments.publish

    def failing(self, everything=False):
        if broken[0]:
            raise sqlite3.OperationalError("database is locked")
        return real(self, everything)
    monkeypatch.setattr(Assignments, "publish", failing)
    watcher = Watcher(mosquitto.port)
    watcher.client.subscribe(f"hailong/v1/devices/{DEVICE}/assignment", qos=1)
    ingest = make_ingest(mosquitto, seeded_db, assignment_poll_s=0.1)
    ingest.start()
    try:
        assert ingest.wait_connected(10)
        wait_for(lambda: ingest.health_reasons() == ["assignments_failing"],
                 what="assignments_failing")
        watcher.press(1)
        wait_for(lambda: stored(seeded_db, 1), what="a rating, stored all the same")
        broken[0] = False
        wait_for(lambda: f"hailong/v1/devices/{DEVICE}/assignment" in watcher.received,
                 what="the assignment, once a round passes")
        wait_for(lambda: ingest.health_reasons() == [], what="health well again")
        assert ingest.supervisor.restarts["assignments"] == 0
    finally:
        watcher.close()
        ingest.stop()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_stopped_assignment_publisher_is_restarted_and_still_publishes_all(
        mosquitto, seeded_db, monkeypatch):
    real = Assignments.publish
    died = []

    def dying(self, everything=False):
        if not died:
            died.append(everything)
            raise SystemExit
        return real(self, everything)
    monkeypatch.setattr(Assignments, "publish", dying)
    watcher = Watcher(mosquitto.port)
    watcher.client.subscribe(f"hailong/v1/devices/{DEVICE}/assignment", qos=1)
    ingest = make_ingest(mosquitto, seeded_db, supervise_s=3600)
    ingest.start()
    try:
        assert ingest.wait_connected(10)
        wait_for(lambda: "thread_stopped:assignments" in ingest.health_reasons(),
                 what="the stopped publisher in health")
        assert died == [True]  # it died in the full round the connect asked for ...
        ingest.supervisor.check()
        # ... which is still due for the new thread: the retained assignments go out.
        wait_for(lambda: f"hailong/v1/devices/{DEVICE}/assignment" in watcher.received,
                 what="the assignments from the restarted publisher")
        assert ingest.supervisor.restarts["assignments"] == 1
        assert ingest.health_reasons() == []
    finally:
        watcher.close()
        ingest.stop()


# --- the alert detector on its own (no broker) --------------------------------------------------

def negative_presses(count: int, first_seq: int = 1):
    return [incoming(rating_bytes(boot=BOOT, seq=first_seq + n, level=1, ts=T0 + n * MIN),
                     received_at=T0 + n * MIN + 500) for n in range(count)]


def test_the_detector_checks_what_was_submitted_before_it_finishes(store, seeded_db):
    batch = negative_presses(4)
    record_batch(store.db, batch)
    detector = AlertDetector(str(seeded_db), DEFAULT_ALERT_RULE)
    detector.start()
    detector.submit(batch[:2])
    detector.submit(batch[2:])
    detector.finish(10)
    assert not detector.alive() and detector.checked == 4 and detector.failing is None
    assert alert_count(seeded_db) == 1


def test_the_detector_skips_what_holds_no_rating_and_survives_a_failing_check(
        store, seeded_db, monkeypatch):
    calls = []

    def failing(db, ids, rule, now):
        calls.append(list(ids))
        raise ValueError("bug")
    monkeypatch.setattr(alerts, "check_after_batch", failing)
    detector = AlertDetector(str(seeded_db), DEFAULT_ALERT_RULE)
    detector.start()
    status = incoming(b'{"v":1}', kind="status", received_at=now_ms())
    detector.submit([status])  # no rating in it: wakes nobody
    batch = negative_presses(1)
    record_batch(store.db, batch)  # what the detector checks is what was committed
    detector.submit(batch)
    wait_for(lambda: detector.failing, what="the failure to be kept")
    assert detector.alive() and calls == [[f"{DEVICE}:{BOOT}:1"]]
    assert detector.failing == "ValueError: bug"
    detector.finish(10)
