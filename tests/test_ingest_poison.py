"""Nothing a message holds stops the live ingest (real Mosquitto, the real threads; issue 10).

Each poison message is published, then a good rating: the good rating is stored, every
message is accounted for (stored + duplicate + status + rejected = received) and health has
no reason to be degraded. Threads killed on purpose are restarted by the supervisor.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import uuid

import paho.mqtt.client as mqtt
import pytest
from conftest import golden_bytes, golden_cases
from factories import rating_bytes
from waiting import wait_for

from collector.ingest import subscriber as ingest_module
from collector.ingest import recording
from collector.ingest.committer import Committer
from collector.core.settings import BrokerAddress
from collector.ingest.subscriber import Ingest
from collector.ratings import alerts
from collector.db.reader import open_reader

DEVICE = "kiosk-hk-01"
RATING_TOPIC = f"hailong/v1/devices/{DEVICE}/rating"
BOOT = 4242  # a boot the seeded database has no ratings of
# Mosquitto refuses a topic with a control character (it closes the publisher's connection
# as malformed), so the trailing-newline topic cannot reach the collector through it; the
# parser's tests (test_messages.py) cover it.
POISON = [case for case in golden_cases() if case["kind"] in ("rating", "status")
          and not case["expect"]["ok"] and "\n" not in case["topic"]]


class Publisher:
    def __init__(self, port: int):
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        wait_for(self.client.is_connected, what="the publisher's CONNACK")

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def accounted(ingest: Ingest) -> int:
    return sum(ingest.totals[name] for name in ("stored", "duplicate", "status", "rejected"))


def make_ingest(broker, db, client_id=None) -> Ingest:
    return Ingest(str(db), BrokerAddress("127.0.0.1", broker.port),
                  client_id=client_id or f"test-{uuid.uuid4().hex[:8]}", supervise_s=0.1)


@pytest.fixture
def running(mosquitto, seeded_db):
    ingest = make_ingest(mosquitto, seeded_db)
    ingest.start()
    assert ingest.wait_connected(10)
    publisher = Publisher(mosquitto.port)
    yield ingest, publisher
    publisher.close()
    ingest.stop()


def stored_ids(db) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {row[0] for row in conn.execute("SELECT id FROM ratings WHERE boot = ?",
                                                [BOOT])}


def rejected_rows(db) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT reason, payload_size, payload_sha256, length(payload) "
                            "FROM rejected ORDER BY id").fetchall()


def good_rating_after(ingest, publisher, seeded_db, seq: int) -> None:
    publisher.publish(RATING_TOPIC, rating_bytes(boot=BOOT, seq=seq))
    wait_for(lambda: f"{DEVICE}:{BOOT}:{seq}" in stored_ids(seeded_db),
             what=f"the good rating {seq} after the poison")
    wait_for(lambda: accounted(ingest) == ingest.totals["received"],
             what="every message accounted for")
    assert ingest.health_reasons() == []


def test_every_poison_case_is_rejected_and_ingest_goes_on(running, seeded_db):
    ingest, publisher = running
    for seq, case in enumerate(POISON):
        publisher.publish(case["topic"], golden_bytes(case))
        good_rating_after(ingest, publisher, seeded_db, seq)
    reasons = [row[0] for row in rejected_rows(seeded_db)]
    # A topic outside the subscriptions never reaches the collector (unknown_topic is the
    # parser's answer should a broader subscription deliver one).
    assert reasons == [case["expect"]["reason"] for case in POISON
                       if case["expect"]["reason"] != "unknown_topic"]
    assert ingest.totals["stored"] == len(POISON) and ingest.supervisor.stopped() == []


def test_an_oversized_payload_keeps_a_prefix_its_length_and_digest(running, seeded_db):
    ingest, publisher = running
    # Above the protocol's 1024 bytes, within the broker's max_packet_size (brokerconf.py),
    # which closes the connection of a sender of anything larger before it is buffered.
    big = b'{"v":1,"pad":"' + b"x" * 6_000 + b'"}'
    publisher.publish(RATING_TOPIC, big)
    good_rating_after(ingest, publisher, seeded_db, 1)
    assert rejected_rows(seeded_db) == [("too_large", len(big), hashlib.sha256(big).hexdigest(),
                                         1024)]


def test_a_failure_inside_a_batch_is_isolated_and_the_rest_stored(running, seeded_db,
                                                                  monkeypatch):
    ingest, publisher = running
    real = recording._record_rating

    def poisoned(db, rating, received_at):
        if rating.seq == 13:
            "\ud800".encode("utf-8")  # what SQLite met in the lone-surrogate officer
        return real(db, rating, received_at)
    monkeypatch.setattr(recording, "_record_rating", poisoned)
    ingest.batch_wait_s = 0.5  # let the ten arrive as one batch
    for seq in range(10, 20):
        publisher.client.publish(RATING_TOPIC, rating_bytes(boot=BOOT, seq=seq), qos=1)
    wait_for(lambda: accounted(ingest) == 10, what="all ten accounted for")
    assert stored_ids(seeded_db) == {f"{DEVICE}:{BOOT}:{seq}" for seq in range(10, 20)
                                     if seq != 13}
    assert [row[0] for row in rejected_rows(seeded_db)] == ["internal_error:UnicodeEncodeError"]
    assert ingest.totals["internal_errors"] == 1
    good_rating_after(ingest, publisher, seeded_db, 20)


def test_a_parse_that_raises_becomes_a_rejection(running, seeded_db, monkeypatch):
    ingest, publisher = running
    real = ingest_module.parse_message

    def exploding(topic, payload):
        if payload == b"boom":
            raise RecursionError("deep")
        return real(topic, payload)
    monkeypatch.setattr(ingest_module, "parse_message", exploding)
    publisher.publish(RATING_TOPIC, b"boom")
    good_rating_after(ingest, publisher, seeded_db, 1)
    assert [row[0] for row in rejected_rows(seeded_db)] == ["internal_error:RecursionError"]


def test_a_failing_alert_check_does_not_stop_the_writer(running, seeded_db, monkeypatch):
    ingest, publisher = running

    def broken(*args):
        raise KeyError("rule")
    monkeypatch.setattr(alerts, "check_after_batch", broken)
    for seq in (1, 2):
        publisher.publish(RATING_TOPIC, rating_bytes(boot=BOOT, seq=seq))
        wait_for(lambda: f"{DEVICE}:{BOOT}:{seq}" in stored_ids(seeded_db),
                 what=f"rating {seq} stored while the alert check fails")
    wait_for(lambda: accounted(ingest) == ingest.totals["received"],
             what="every message accounted for")
    # Alert detection is a unit of its own (collector/ingest/alerting.py): health names it.
    wait_for(lambda: ingest.health_reasons() == ["alerts_failing"], what="alerts_failing")
    assert ingest.supervisor.stopped() == []


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_stopped_writer_is_restarted_and_what_it_held_comes_again(running, seeded_db,
                                                                     monkeypatch):
    ingest, publisher = running
    real = Committer.record
    died = []

    def dying(self, batch):
        if not died:
            died.append(len(batch))
            raise SystemExit  # ends the thread, as no exception of a message can
        return real(self, batch)
    monkeypatch.setattr(Committer, "record", dying)
    publisher.publish(RATING_TOPIC, rating_bytes(boot=BOOT, seq=1))
    wait_for(lambda: f"{DEVICE}:{BOOT}:1" in stored_ids(seeded_db), timeout=20,
             what="the held rating, redelivered after the restart")
    assert died and ingest.supervisor.restarts["writer"] == 1
    assert ingest.wait_connected(10)
    publisher.publish(RATING_TOPIC, rating_bytes(boot=BOOT, seq=2))
    wait_for(lambda: f"{DEVICE}:{BOOT}:2" in stored_ids(seeded_db), what="the next rating")
    # Received twice (the dead writer's copy, then the broker's redelivery), stored once.
    wait_for(lambda: accounted(ingest) == ingest.totals["received"] - 1 == 2,
             what="every delivery but the lost one accounted for")
    assert ingest.health_reasons() == []


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_stopped_network_loop_is_restarted(running, seeded_db, monkeypatch):
    ingest, publisher = running
    real = ingest_module.incoming_from_wire
    died = []

    def dying(*args):
        if not died:
            died.append(args[0])
            raise SystemExit  # passes paho's `except Exception` and ends its thread
        return real(*args)
    monkeypatch.setattr(ingest_module, "incoming_from_wire", dying)
    publisher.publish(RATING_TOPIC, rating_bytes(boot=BOOT, seq=1))
    wait_for(lambda: f"{DEVICE}:{BOOT}:1" in stored_ids(seeded_db), timeout=20,
             what="the rating, redelivered on the new connection")
    assert ingest.supervisor.restarts["network"] >= 1
    good_rating_after(ingest, publisher, seeded_db, 2)


def status_payload(**fields) -> bytes:
    return json.dumps({"v": 1, "device": DEVICE, "state": "online", "fw": "0.1.0", "boot": 3,
                       "uptime_ms": 1_000, "mem_free": 1, "rssi": None, "queue": 0,
                       "filtered": 0, "dropped": 0, **fields}).encode()


def test_retained_statuses_replayed_at_subscribe_change_nothing(mosquitto, seeded_db):
    publisher = Publisher(mosquitto.port)
    publisher.publish(f"hailong/v1/devices/{DEVICE}/status", status_payload(), retain=True)
    # One retained message per topic: each poison status on a topic of its own.
    poison = [case for case in POISON if case["kind"] == "status"]
    for number, case in enumerate(poison):
        device = f"kiosk-p{number:02d}"
        publisher.publish(case["topic"].replace(DEVICE, device),
                          golden_bytes(case).replace(DEVICE.encode(), device.encode()),
                          retain=True)
    ingest = make_ingest(mosquitto, seeded_db)
    ingest.start()
    try:
        assert ingest.wait_connected(10)
        wait_for(lambda: accounted(ingest) == 1 + len(poison), what="the replayed statuses")
        assert (ingest.totals["status"], ingest.totals["rejected"]) == (1, len(poison))
        good_rating_after(ingest, publisher, seeded_db, 1)
    finally:
        publisher.close()
        ingest.stop()
    with sqlite3.connect(seeded_db) as conn:
        assert conn.execute("SELECT status_at, online_status_at FROM device_status "
                            "WHERE device_id = ?", [DEVICE]).fetchall() in ([], [(None, None)])
        assert conn.execute("SELECT count(*) FROM boot_epochs").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM device_online_spans").fetchone()[0] == 0


def test_a_lost_broker_session_makes_health_degraded(mosquitto, seeded_db):
    client_id = f"test-{uuid.uuid4().hex[:8]}"
    first = make_ingest(mosquitto, seeded_db, client_id)
    first.start()
    assert first.wait_connected(10)
    wait_for(lambda: session_row(seeded_db, client_id),
             what="the subscription to be recorded")
    first.stop()
    # The session survives a restart of the collector ...
    again = make_ingest(mosquitto, seeded_db, client_id)
    again.start()
    assert again.wait_connected(10) and again.health_reasons() == []
    again.stop()
    # ... until the broker forgets it (here: a clean-session connect with the same id).
    wiper = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                        clean_session=True)
    wiper.connect("127.0.0.1", mosquitto.port)
    wiper.disconnect()
    lost = make_ingest(mosquitto, seeded_db, client_id)
    lost.start()
    try:
        assert lost.wait_connected(10)
        assert lost.health_reasons() == ["broker_session_lost"]
        wait_for(lambda: (session_row(seeded_db, client_id) or {}).get("lost_count") == 1,
                 what="the loss to be recorded")
    finally:
        lost.stop()
    # A new process still reports it: the loss is read back from the database.
    later = make_ingest(mosquitto, seeded_db, client_id)
    later.start()
    try:
        assert later.wait_connected(10)
        assert later.health_reasons() == ["broker_session_lost"]
    finally:
        later.stop()


def session_row(db, client_id: str) -> dict | None:
    reader = open_reader(db)
    try:
        return recording.ingest_session(reader, client_id)
    finally:
        reader.conn.close()


def test_an_assignment_that_cannot_be_encoded_holds_back_no_other(mosquitto, seeded_db):
    with sqlite3.connect(seeded_db) as conn:
        conn.execute("UPDATE counters SET label = ? WHERE id = (SELECT counter_id FROM devices "
                     "WHERE id = ?)", ["Q" * 41, DEVICE])  # longer than a device shows
    received: dict[str, bytes] = {}
    watcher = Publisher(mosquitto.port)
    watcher.client.on_message = lambda c, u, m: received.update({m.topic: m.payload})
    watcher.client.subscribe("hailong/v1/devices/+/assignment", qos=1)
    ingest = make_ingest(mosquitto, seeded_db)
    ingest.assignment_poll_s = 0.1
    ingest.start()
    try:
        assert ingest.wait_connected(10)
        wait_for(lambda: "hailong/v1/devices/kiosk-hk-02/assignment" in received,
                 what="the other devices' assignments")
        assert f"hailong/v1/devices/{DEVICE}/assignment" not in received
        assert ingest.supervisor.stopped() == [] and ingest.health_reasons() == []
        assert ingest.supervisor.restarts["assignments"] == 0
    finally:
        watcher.close()
        ingest.stop()
