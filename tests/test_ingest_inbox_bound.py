"""The collector's inbox is bounded: above its high-water mark the network thread stops reading.

A backlog storm (bench/backlog_storm.py) delivers faster than the writer commits, and
Mosquitto 2.0.11 does not keep to its in-flight window once acknowledgements flow, so an
unbounded inbox grows the collector's memory with the storm. At the mark the network thread
leaves the rest in the socket (TCP holds the broker back, which keeps it) until the writer has
taken the inbox below the low-water mark. Nothing is read, so nothing is acknowledged, before
the writer commits it; paho's keep-alive goes on while nothing is read.

The floods here are QoS 0 where the test needs more on the socket than the mark at once: at
QoS 1 Mosquitto sends at most its window (200) until acknowledgements flow, and how far it
oversends then varies from run to run.
"""

from __future__ import annotations

import functools
import sqlite3
import threading
import uuid

import paho.mqtt.client as mqtt
from factories import rating_bytes
from waiting import wait_for

from collector.core.settings import BrokerAddress
from collector.ingest import subscriber
from collector.ingest.mqttclient import Inbox, IngestClient

TOPIC = "hailong/v1/devices/kiosk-hk-01/rating"


def test_the_inbox_holds_from_its_high_mark_until_the_writer_takes_it_below_the_low_mark():
    rooms = []
    inbox: Inbox[int] = Inbox(high=5, low=2)
    inbox.on_room(lambda: rooms.append(len(inbox)))
    for item in range(4):
        inbox.put(item)
        assert not inbox.holding()
    inbox.put(4)
    assert inbox.holding() and (inbox.peak, inbox.holds) == (5, 1)
    assert inbox.take(2, 0.0) == [0, 1]
    assert inbox.holding() and rooms == []  # 3 left: not below the low mark yet
    assert inbox.take(2, 0.0) == [2, 3]
    assert not inbox.holding() and rooms == [1]  # the network thread is woken once
    assert inbox.drain() == [4] and rooms == [1]
    assert (inbox.peak, inbox.holds) == (5, 1)


def test_the_default_marks_leave_the_writer_several_backlog_batches():
    inbox: Inbox[int] = Inbox()
    assert inbox.low >= 2 * subscriber.BACKLOG_BATCH_MAX and inbox.high == 2 * inbox.low


def test_a_flood_larger_than_the_mark_is_stored_exactly_once_within_the_mark(
        mosquitto, seeded_db, monkeypatch):
    inboxes: list[Inbox] = []

    def small_inbox() -> Inbox:
        inboxes.append(Inbox(high=100, low=50))
        return inboxes[-1]

    monkeypatch.setattr(subscriber, "Inbox", small_inbox)
    ingest = subscriber.Ingest(str(seeded_db), BrokerAddress("127.0.0.1", mosquitto.port),
                               client_id=f"test-{uuid.uuid4().hex[:8]}", busy_timeout_ms=100)
    blocker = sqlite3.connect(seeded_db, isolation_level=None)
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    flood = 3000  # more than the writer holds in hand (BACKLOG_BATCH_MAX) and the mark
    ingest.start()
    try:
        assert ingest.wait_connected(10)
        [inbox] = inboxes
        # The writer cannot commit: what arrives stays with the collector until it can.
        blocker.execute("BEGIN IMMEDIATE")
        publisher.connect("127.0.0.1", mosquitto.port)
        publisher.loop_start()
        for seq in range(flood):
            publisher.publish(TOPIC, rating_bytes(seq=seq), qos=0)
        wait_for(lambda: inbox.holds >= 1, what="the network thread to stop reading")
        wait_for(lambda: ingest.store_error, what="the writer to meet the locked database")
        assert inbox.peak == 100 and len(inbox) == 100
        blocker.execute("ROLLBACK")
        wait_for(lambda: ingest.totals["stored"] == flood, timeout=60,
                 what="the whole flood to be stored")
        assert inbox.peak == 100 and inbox.holds >= 2  # held again as the writer drained it
        assert ingest.totals["received"] == flood and ingest.totals["duplicate"] == 0
        assert ingest.connected.is_set()
    finally:
        blocker.close()
        publisher.disconnect()
        publisher.loop_stop()
        ingest.stop()
    with sqlite3.connect(seeded_db) as conn:
        assert conn.execute("SELECT count(*), count(DISTINCT id) FROM ratings").fetchone() \
            == (flood, flood)
        assert {row[0] for row in conn.execute("SELECT seq FROM ratings")} == set(range(flood))


def test_keepalive_goes_on_while_reading_is_held(mosquitto):
    """paho closes a connection whose PINGRESP has not come within the keep-alive; while the
    network thread holds, the PINGRESP waits unread behind the held messages."""
    inbox: Inbox[tuple[int, bytes]] = Inbox(high=10, low=5)
    client = IngestClient(mqtt.CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:8]}",
                          clean_session=False, manual_ack=True, inbox=inbox)
    pings_while_held, disconnects = [], []
    subscribed = threading.Event()

    def on_log(c, userdata, level, text) -> None:
        if text.startswith("Sending PINGREQ") and inbox.holding():
            pings_while_held.append(text)

    client.on_log = on_log
    client.on_message = lambda c, userdata, m: inbox.put((m.mid, m.payload))
    client.on_subscribe = lambda *args: subscribed.set()
    client.on_disconnect = lambda *args: disconnects.append(args[3])
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    sent = [b"m%d" % i for i in range(50)]
    try:
        client.connect("127.0.0.1", mosquitto.port, keepalive=2)  # Mosquitto: 3 s of silence
        client.loop_start()
        client.subscribe("t/#", qos=1)
        assert subscribed.wait(10)
        publisher.connect("127.0.0.1", mosquitto.port)
        publisher.loop_start()
        for payload in sent:
            publisher.publish("t/x", payload, qos=1).wait_for_publish(10)
        wait_for(lambda: len(pings_while_held) >= 3 or disconnects, timeout=30,
                 what="three keep-alive periods with reading held")
        assert disconnects == [] and client.is_connected()
        assert len(inbox) == 10 and inbox.peak == 10  # nothing read past the mark
        received: list[tuple[int, bytes]] = []
        while len(received) < len(sent):  # the writer's part: take, then acknowledge
            batch = inbox.take(10, 0.0, idle_s=1.0)
            received += batch
            client.ack_all(mid for mid, _ in batch)
        assert [payload for _, payload in received] == sent and inbox.peak == 10
        assert disconnects == [] and client.is_connected()
    finally:
        publisher.disconnect()
        publisher.loop_stop()
        client.disconnect()
        client.loop_stop()
