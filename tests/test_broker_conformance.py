"""What hailong needs from any MQTT broker, one test per need, run on every broker it supports.

Each test runs twice: on Mosquitto as production runs it (tests/mosquitto.py, with the
password file and ACL `hailong broker-config` writes) and on a three-node NATS Server cluster
with JetStream (tests/nats_cluster.py, with the files `hailong broker-config --target nats`
writes). On the cluster the devices connect to node 1, the collector to node 2 and "another
connection" to node 3, so every message also crosses the cluster. The list, the reason for
each need and which brokers meet it are in docs/scaling.md ("What hailong needs from a
broker"); a broker that fails one of these is not a broker hailong can run on.

"Not delivered" is shown with a barrier, never a sleep: the forbidden message is published
and acknowledged (PUBACK) first, then an allowed one on the same subscription; both brokers
deliver one subscription in the order they accepted the messages (a JetStream stream's
order on NATS), so when the allowed one arrives first the forbidden one was dropped.
"""

from __future__ import annotations

import os
import queue
import shutil
import socket
import tempfile
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import paho.mqtt.client as mqtt
import pytest
from mosquitto import Mosquitto
from nats_cluster import NatsCluster
from waiting import wait_for

from collector.db.store import Store
from collector.demo.seed import seed_demo
from collector.org.brokerconf import ACL_NAME, PASSWD_NAME, generate
from collector.org.registry import Registry
from collector.protocol.messages import OUTBOUND_KINDS, device_topic

COLLECTOR = "hailong-collector"
COLLECTOR_PASSWORD = "collector-secret-0123456789"
DEV_A, DEV_B = "kiosk-ac-01", "kiosk-ac-02"
RATINGS = device_topic("+", "rating")
STATUSES = device_topic("+", "status")
# The collector commits and acknowledges up to this many messages at a time
# (collector/ingest/subscriber.py, Ingest(batch_max=200)).
BATCH_MAX = 200


@dataclass
class World:
    db_path: Path
    passwords: dict[str, str]


@dataclass
class Broker:
    """The broker under test as the tests see it: where each side connects, and a restart."""
    name: str
    device_port: int
    collector_port: int
    other_port: int
    restart: Callable[[], None]


class Client:
    """A paho MQTT 3.1.1 client whose events land in queues (read with a timeout, no sleep)."""

    def __init__(self, port: int, username: str | None, password: str | None, *,
                 client_id: str | None = None, clean: bool = True,
                 will: tuple[str, bytes] | None = None, manual_ack: bool = False):
        self.connack: queue.Queue = queue.Queue()
        self.subacks: queue.Queue = queue.Queue()
        self.messages: queue.Queue = queue.Queue()
        self.disconnected = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                  client_id=client_id or f"{username}-{uuid.uuid4().hex[:8]}",
                                  protocol=mqtt.MQTTv311, clean_session=clean,
                                  reconnect_on_failure=False, manual_ack=manual_ack)
        if username is not None:
            self.client.username_pw_set(username, password)
        if will is not None:
            self.client.will_set(will[0], will[1], qos=1, retain=True)
        self.client.on_connect = lambda c, u, flags, rc, p: self.connack.put((rc, flags))
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self.subacks.put(rcs)
        self.client.on_message = lambda c, u, message: self.messages.put(message)
        self.client.on_disconnect = lambda *args: self.disconnected.set()
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()
        self.reason, self.flags = self.connack.get(timeout=20)

    @property
    def accepted(self) -> bool:
        return not self.reason.is_failure

    @property
    def session_present(self) -> bool:
        return bool(self.flags.session_present)

    def subscribe(self, *topics: str) -> list[int]:
        """QoS 1 subscriptions; the granted QoS of each (128: refused)."""
        self.client.subscribe([(topic, 1) for topic in topics])
        return [code.value for code in self.subacks.get(timeout=20)]

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        """QoS 1, returns at the PUBACK."""
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(20)

    def publish_many(self, topic: str, payloads: list[bytes]) -> None:
        infos = [self.client.publish(topic, payload, qos=1) for payload in payloads]
        for info in infos:
            info.wait_for_publish(60)

    def next(self, timeout: float = 20, retained: bool = False) -> mqtt.MQTTMessage:
        """The next message; replays of retained messages are passed over unless asked for
        (other tests of the module leave retained statuses behind)."""
        while True:
            message = self.messages.get(timeout=timeout)
            if retained or not message.retain:
                return message

    def drop(self) -> None:
        """The connection lost without DISCONNECT (a dead device): the broker fires the will."""
        sock = self.client.socket()
        self.client.loop_stop()
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self) -> None:
        if self.client.is_connected():
            self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    path = tmp_path_factory.mktemp("conformance") / "hailong.db"
    store = Store(path)
    try:
        seed_demo(store, 4)
        registry = Registry(store)
        passwords = {device: registry.add(device, "hk-q1").password for device in (DEV_A, DEV_B)}
    finally:
        store.close()
    return World(path, passwords)


@pytest.fixture(scope="module", params=["mosquitto", "nats"])
def broker(request, world):
    if request.param == "mosquitto":
        # Readable by `mosquitto`, which the broker becomes (pytest's tmp_path is private).
        conf_dir = Path(tempfile.mkdtemp(prefix="hailong-conformance-"))
        os.chmod(conf_dir, 0o755)
        store = Store(world.db_path)
        try:
            generate(store.db, conf_dir, collector_user=COLLECTOR,
                     collector_password=COLLECTOR_PASSWORD)
        finally:
            store.close()
        mosquitto = Mosquitto(password_file=conf_dir / PASSWD_NAME,
                              acl_file=conf_dir / ACL_NAME).start()

        def restart():
            mosquitto.stop()  # SIGTERM: Mosquitto saves its store
            mosquitto.start()

        yield Broker("mosquitto", mosquitto.port, mosquitto.port, mosquitto.port, restart)
        mosquitto.cleanup()
        shutil.rmtree(conf_dir, ignore_errors=True)
    else:
        store = Store(world.db_path)
        try:
            cluster = NatsCluster(store.db, collector_user=COLLECTOR,
                                  collector_password=COLLECTOR_PASSWORD)
        finally:
            store.close()
        try:
            cluster.start()
            yield Broker("nats", cluster.mqtt_port(0), cluster.mqtt_port(1),
                         cluster.mqtt_port(2), cluster.restart)
        finally:
            cluster.cleanup()


@pytest.fixture
def connect(broker, world):
    clients: list[Client] = []

    def connect(who: str | None, port: int | None = None, *, password: str | None = None,
                **options) -> Client:
        if password is None and who is not None:
            password = COLLECTOR_PASSWORD if who == COLLECTOR else world.passwords.get(who)
        if port is None:
            port = broker.collector_port if who == COLLECTOR else broker.device_port
        client = Client(port, who, password, **options)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()


def session_id() -> str:
    return f"collector-{uuid.uuid4().hex[:8]}"


def forget(connect, client_id: str) -> None:
    """End a persistent session (a clean connect), so that it queues nothing more."""
    connect(COLLECTOR, client_id=client_id, clean=True).close()


# --- 1. MQTT 3.1.1 with a user name and password per account ------------------------------

def test_accounts_admit_the_collector_and_each_device_and_refuse_everyone_else(connect,
                                                                               world):
    assert connect(COLLECTOR).accepted
    assert connect(DEV_A).accepted and connect(DEV_B).accepted
    assert not connect(DEV_A, password=world.passwords[DEV_B]).accepted
    assert not connect("kiosk-zz-99", password=world.passwords[DEV_A]).accepted
    assert not connect("kiosk-hk-01", password="anything").accepted  # no credentials issued
    assert not connect(COLLECTOR, password="wrong-password-0123").accepted
    assert not connect(None).accepted  # anonymous


# --- 2. QoS 1 both ways ---------------------------------------------------------------------

def test_qos_1_is_granted_and_kept_both_ways(connect):
    collector = connect(COLLECTOR)
    assert collector.subscribe(RATINGS, STATUSES) == [1, 1]
    device = connect(DEV_A)
    assert device.subscribe(*[device_topic(DEV_A, kind) for kind in OUTBOUND_KINDS]) == [1] * 4
    device.publish(device_topic(DEV_A, "rating"), b"rating")
    message = collector.next()
    assert (message.topic, message.payload, message.qos) == (device_topic(DEV_A, "rating"),
                                                             b"rating", 1)
    collector.publish(device_topic(DEV_A, "ack"), b"ack")
    message = device.next()
    assert (message.topic, message.payload, message.qos) == (device_topic(DEV_A, "ack"), b"ack", 1)


# --- 3. Per-device ACL: publish -------------------------------------------------------------

def test_a_device_publishes_only_its_own_rating_and_status(connect):
    collector = connect(COLLECTOR)
    collector.subscribe(RATINGS, STATUSES)
    device_b = connect(DEV_B)
    device_b.subscribe(device_topic(DEV_B, "ack"), device_topic(DEV_B, "assignment"))
    device_a = connect(DEV_A)
    # Each forbidden publish is acknowledged (neither broker tells the device) and dropped.
    device_a.publish(device_topic(DEV_B, "rating"), b"forged rating")
    device_a.publish(device_topic(DEV_B, "status"), b"forged status")
    device_a.publish(device_topic(DEV_B, "ack"), b"forged ack")       # confirming B's ratings
    device_a.publish(device_topic(DEV_B, "assignment"), b"forged assignment")
    device_a.publish(device_topic(DEV_A, "rating"), b"barrier")
    assert collector.next().payload == b"barrier"
    collector.publish(device_topic(DEV_B, "ack"), b"real ack")
    collector.publish(device_topic(DEV_B, "assignment"), b"real assignment")
    # Two subscriptions: NATS keeps the order within each, not between them; a forged
    # message would come before the real one of its own subscription, so among these two.
    assert sorted([device_b.next().payload, device_b.next().payload]) == [b"real ack",
                                                                          b"real assignment"]


# --- 4. Per-device ACL: read ----------------------------------------------------------------

def test_a_device_reads_only_its_own_topics(connect, broker):
    device_a = connect(DEV_A)
    tries = [device_topic(DEV_B, "command"), device_topic(DEV_B, "assignment"),
             device_topic("+", "command"), "hailong/v1/devices/kiosk-ac-02/#", "$MQTT/sub/#"]
    granted = device_a.subscribe(*tries)
    # Mosquitto grants and filters each delivery; NATS refuses the subscription (0x80).
    assert granted == ([1] * len(tries) if broker.name == "mosquitto" else [128] * len(tries))
    assert device_a.subscribe(device_topic(DEV_A, "command")) == [1]
    collector = connect(COLLECTOR)
    collector.subscribe(RATINGS)  # a QoS 1 subscription of its own: NATS's $MQTT.sub delivery
    collector.publish(device_topic(DEV_B, "command"), b"for B")
    collector.publish(device_topic(DEV_B, "assignment"), b"for B")
    device_b = connect(DEV_B)
    device_b.publish(device_topic(DEV_B, "rating"), b"B's rating")
    assert collector.next().payload == b"B's rating"
    collector.publish(device_topic(DEV_A, "command"), b"for A")
    assert device_a.next().payload == b"for A"
    assert device_a.messages.empty()


# --- 5. Persistent session: what arrives while the collector is down waits for it -----------

def test_the_collectors_session_keeps_what_arrives_while_it_is_down(connect):
    client_id = session_id()
    collector = connect(COLLECTOR, client_id=client_id, clean=False)
    collector.subscribe(RATINGS)
    collector.close()
    sent = [b"queued-%d" % n for n in range(2000)]
    connect(DEV_A).publish_many(device_topic(DEV_A, "rating"), sent)
    back = connect(COLLECTOR, client_id=client_id, clean=False)
    assert back.session_present
    back.subscribe(RATINGS)  # as the collector does on every connect: nothing may be lost
    assert sorted(back.next().payload for _ in sent) == sorted(sent)
    back.close()
    forget(connect, client_id)


# --- 6. ... and survives a restart of the broker --------------------------------------------

def test_the_session_and_its_queue_survive_a_broker_restart(connect, broker):
    client_id = session_id()
    collector = connect(COLLECTOR, client_id=client_id, clean=False)
    collector.subscribe(RATINGS)
    collector.close()
    sent = [b"before-restart-%d" % n for n in range(300)]
    device = connect(DEV_A)
    device.publish_many(device_topic(DEV_A, "rating"), sent)
    device.close()
    broker.restart()
    back = connect(COLLECTOR, client_id=client_id, clean=False)
    assert back.session_present
    back.subscribe(RATINGS)
    assert sorted(back.next(timeout=60).payload for _ in sent) == sorted(sent)
    back.close()
    forget(connect, client_id)


# --- 7. A delivery never acknowledged comes again --------------------------------------------

def test_a_delivery_the_collector_never_acknowledged_comes_again(connect):
    """The collector acknowledges after its commit: killed before it, the message must come
    again (Mosquitto at once when the session resumes, NATS after its ack_wait, 10 s)."""
    client_id = session_id()
    collector = connect(COLLECTOR, client_id=client_id, clean=False, manual_ack=True)
    collector.subscribe(RATINGS)
    connect(DEV_A).publish(device_topic(DEV_A, "rating"), b"never acknowledged")
    assert collector.next().payload == b"never acknowledged"
    collector.drop()
    back = connect(COLLECTOR, client_id=client_id, clean=False)
    back.subscribe(RATINGS)
    assert back.next(timeout=40).payload == b"never acknowledged"
    back.close()
    forget(connect, client_id)


# --- 8. Retained messages ---------------------------------------------------------------------

def test_retained_messages_replay_on_subscribe_and_only_then_carry_the_flag(connect):
    """The device gets its assignment at every connect; the collector tells a replayed
    (retained) status from a live one by the flag, so a live delivery must not carry it."""
    collector = connect(COLLECTOR)
    topic = device_topic(DEV_A, "assignment")
    collector.publish(topic, b"assignment 1", retain=True)
    device = connect(DEV_A)
    device.subscribe(topic)
    replayed = device.next(retained=True)
    assert (replayed.payload, replayed.retain) == (b"assignment 1", True)
    collector.publish(topic, b"assignment 2", retain=True)
    live = device.next(retained=True)
    assert (live.payload, live.retain) == (b"assignment 2", False)
    collector.publish(topic, b"", retain=True)  # a retired device: the assignment cleared
    collector.publish(topic, b"not retained")
    later = connect(DEV_A)
    later.subscribe(topic)
    collector.publish(topic, b"barrier")
    assert later.next(retained=True).payload == b"barrier"  # nothing replayed before it


# --- 9. Last will -----------------------------------------------------------------------------

def test_a_dead_devices_last_will_reaches_the_collector_and_stays_retained(connect):
    collector = connect(COLLECTOR)
    collector.subscribe(STATUSES)
    status = device_topic(DEV_A, "status")
    device = connect(DEV_A, will=(status, b"offline"))
    device.publish(status, b"online", retain=True)
    assert collector.next().payload == b"online"
    device.drop()
    will = collector.next()
    assert (will.topic, will.payload, will.qos) == (status, b"offline", 1)
    later = connect(COLLECTOR)
    later.subscribe(status)
    replayed = later.next(retained=True)
    assert (replayed.payload, replayed.retain) == (b"offline", True)


# --- 10. Order -----------------------------------------------------------------------------

def test_one_devices_messages_on_one_topic_arrive_in_order(connect):
    collector = connect(COLLECTOR)
    collector.subscribe(RATINGS)
    sent = [b"%05d" % n for n in range(500)]
    connect(DEV_A).publish_many(device_topic(DEV_A, "rating"), sent)
    assert [collector.next().payload for _ in sent] == sent


# --- 11. In flight ----------------------------------------------------------------------------

def test_at_least_a_batch_is_delivered_before_the_first_acknowledgement(connect):
    """The collector acknowledges a batch after committing it: the broker must deliver a
    whole batch (200) unacknowledged, or every commit is cut short."""
    client_id = session_id()
    collector = connect(COLLECTOR, client_id=client_id, clean=False, manual_ack=True)
    collector.subscribe(RATINGS)
    sent = [b"inflight-%d" % n for n in range(BATCH_MAX + 100)]
    connect(DEV_A).publish_many(device_topic(DEV_A, "rating"), sent)
    wait_for(lambda: collector.messages.qsize() >= BATCH_MAX, timeout=30,
             what=f"{BATCH_MAX} deliveries before any acknowledgement")
    received = []
    while len(received) < len(sent):
        message = collector.next()
        received.append(message.payload)
        collector.client.ack(message.mid, message.qos)
    assert sorted(received) == sorted(sent)
    collector.close()
    forget(connect, client_id)


# --- 12. One connection per client id ---------------------------------------------------------

def test_a_new_connection_with_the_same_client_id_replaces_the_old_one(connect, broker):
    """A device whose old connection is half-open (or a standby collector taking over) comes
    back under the same client id, on any node."""
    collector = connect(COLLECTOR)
    collector.subscribe(RATINGS)
    first = connect(DEV_A, client_id=DEV_A)
    second = connect(DEV_A, broker.other_port, client_id=DEV_A)
    assert second.accepted
    assert first.disconnected.wait(20)
    second.publish(device_topic(DEV_A, "rating"), b"from the new connection")
    assert collector.next().payload == b"from the new connection"


# --- 13. Bounded packets --------------------------------------------------------------------

def test_an_oversized_packet_never_reaches_the_collector(connect, broker, request):
    if broker.name == "nats":
        request.applymarker(pytest.mark.xfail(
            strict=True, reason="NATS 2.9 puts no bound on an MQTT publish (max_payload is "
                                "for NATS clients): the collector keeps only the first bytes"))
    collector = connect(COLLECTOR)
    collector.subscribe(RATINGS)
    device = connect(DEV_A)
    device.publish(device_topic(DEV_A, "rating"), b"x" * 4000)  # kept as `too_large` evidence
    assert collector.next().payload == b"x" * 4000
    huge = device.client.publish(device_topic(DEV_A, "rating"), b"y" * 65536, qos=1)
    # Mosquitto closes the sender's connection (max_packet_size); a broker that takes the
    # packet acknowledges it.
    wait_for(lambda: huge.is_published() or device.disconnected.is_set(),
             what="the broker to take or refuse the packet")
    connect(DEV_B).publish(device_topic(DEV_B, "rating"), b"barrier")
    assert collector.next().payload == b"barrier"
