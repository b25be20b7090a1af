"""The collector on the several nodes of a broker cluster (`hailong serve --broker
mqtt://USER@HOST:PORT,HOST:PORT,…`, collector/ingest/failover.py).

The address list is pure and tested with literal tables; the moving between nodes with a fake
paho client (what it is told to connect to), then live: two Mosquittos and a dead port (the
first node that answers; a SIGKILLed node left for the next; `hailong serve` with a password
file on the second node), and the real three-node NATS JetStream cluster, where the
collector's own node is SIGKILLed mid-stream with messages received and not yet committed,
and every rating ends stored once and confirmed.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
from kiosk.sim import SimulatedKiosk
from mosquitto import Mosquitto, free_port
from nats_cluster import NatsCluster
from paho.mqtt.packettypes import PacketTypes
from waiting import wait_for

from collector.cli.main import main
from collector.core.settings import BrokerAddress
from collector.db.store import Store
from collector.ingest.failover import Failover, refusal_delay
from collector.ingest.subscriber import Ingest
from collector.org.brokerconf import ACL_NAME, PASSWD_NAME, generate
from collector.org.registry import Registry

COLLECTOR = "hailong-collector"
COLLECTOR_PASSWORD = "collector-secret-0123456789"
DEVICES = ("kiosk-fo-01", "kiosk-fo-02")


# --- the address list (pure) -----------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("mqtt://127.0.0.1:1883", BrokerAddress("127.0.0.1", 1883)),
    ("broker.lan", BrokerAddress("broker.lan", 1883)),
    ("mqtt://col:s3cret@10.0.0.5:1884/", BrokerAddress("10.0.0.5", 1884, "col", "s3cret")),
    ("mqtt://hailong-collector@127.0.0.1:4001,127.0.0.1:4002,127.0.0.1:4003",
     BrokerAddress("127.0.0.1", 4001, "hailong-collector", None,
                   (("127.0.0.1", 4002), ("127.0.0.1", 4003)))),
    ("mqtt://u:p,w@nats-1.lan, nats-2.lan:4222 ,[fd00::3]",
     BrokerAddress("nats-1.lan", 1883, "u", "p,w", (("nats-2.lan", 4222), ("fd00::3", 1883)))),
])
def test_an_address_names_one_node_or_the_nodes_of_a_cluster(text, expected):
    assert BrokerAddress.parse(text) == expected


def test_each_node_has_the_shared_credentials_and_shows_without_them():
    broker = BrokerAddress.parse("mqtt://c:pw@a:1,b:2,[fd00::3]:3")
    assert [(n.host, n.port, n.username, n.password, n.more_nodes) for n in broker.nodes] == [
        ("a", 1, "c", "pw", ()), ("b", 2, "c", "pw", ()), ("fd00::3", 3, "c", "pw", ())]
    assert str(broker) == "mqtt://a:1,b:2,[fd00::3]:3"
    assert [str(node) for node in broker.nodes] == ["mqtt://a:1", "mqtt://b:2",
                                                    "mqtt://[fd00::3]:3"]


@pytest.mark.parametrize("text, vietnamese, english", [
    ("mqtt://u@a:1,,b:2", "địa chỉ thứ 2 trong danh sách broker bị trống",
     "address 2 of the broker list is empty"),
    ("mqtt://a:1,b:2,", "địa chỉ thứ 3 trong danh sách broker bị trống",
     "address 3 of the broker list is empty"),
    ("mqtt://a:1,b:x", "địa chỉ thứ 2 trong danh sách broker phải có dạng HOST:PORT",
     "address 2 of the broker list must look like HOST:PORT"),
    ("mqtt://a:1,b:70000", "cổng 1–65535", "port 1–65535"),
    ("mqtt://a:1,mqtt://b:2", "giao thức và tên đăng nhập ghi một lần",
     "the scheme and the user name come once"),
    ("mqtt://u:pw@a:1,mqtt://u:pw@b:2", "giao thức và tên đăng nhập ghi một lần",
     "the scheme and the user name come once"),
    ("mqtt://a:1,b:2,a:1", "a:1 có hai lần trong danh sách broker",
     "a:1 is twice in the broker list"),
    ("mqtts://a:8883,b:8883", "phải có dạng mqtt://HOST:PORT", "must look like mqtt://HOST:PORT"),
])
def test_a_bad_list_is_refused_in_vietnamese_then_english(text, vietnamese, english):
    with pytest.raises(ValueError) as refused:
        BrokerAddress.parse(text)
    message = str(refused.value)
    assert vietnamese in message and english in message
    assert message.index(vietnamese) < message.index(" / ") < message.index(english)


def test_a_refusal_never_repeats_the_password():
    for text in ("mqtt://u:topsecret@a:1,,b", "http://u:topsecret@a:1"):
        with pytest.raises(ValueError) as refused:
            BrokerAddress.parse(text)
        assert "topsecret" not in str(refused.value)


def test_serve_refuses_a_bad_list_in_one_line_exit_2(tmp_path, capsys):
    argv = ["serve", "--db", str(tmp_path / "h.db"),
            "--broker", "mqtt://hailong-collector:topsecret@127.0.0.1:4001,,127.0.0.1:4003"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "topsecret" not in err
    assert err.index("địa chỉ thứ 2 trong danh sách broker bị trống") < \
        err.index("address 2 of the broker list is empty")


# --- moving between nodes (a fake paho client) ---------------------------------------------

class FakeClient:
    """What Failover asks of paho: where to connect, the backoff, the socket to cut."""

    def __init__(self):
        self.targets: list[tuple[str, int]] = []
        self.delays: list[tuple[int, int]] = []
        self.sock = None

    def connect_async(self, host, port, keepalive):
        self.targets.append((host, port))

    def reconnect_delay_set(self, min_delay, max_delay):
        self.delays.append((min_delay, max_delay))

    def socket(self):
        return self.sock


LOST = mqtt.ReasonCode(PacketTypes.DISCONNECT, "Unspecified error")
HUNG_UP = mqtt.ReasonCode(PacketTypes.DISCONNECT, "Success")
REFUSED = mqtt.ReasonCode(PacketTypes.SUBACK, "Unspecified error")


def test_each_failure_moves_to_the_next_node_round_robin():
    failover = Failover(BrokerAddress.parse("mqtt://a:1,b:2,c:3"))
    client = FakeClient()
    failover.connect(client)
    assert failover.unreachable(client) == "cannot connect to mqtt://a:1"
    assert failover.lost(client, LOST) == "disconnected: Unspecified error"
    failover.lost(client, LOST)
    assert client.targets == [("a", 1), ("b", 2), ("c", 3), ("a", 1)]
    failover.lost(client, HUNG_UP)  # our own disconnect(): the loop ends, nothing moves
    assert client.targets[-1] == ("a", 1) and str(failover.current) == "mqtt://a:1"


def test_one_node_is_never_reconnected_elsewhere():
    failover = Failover(BrokerAddress.parse("mqtt://a:1"))
    client = FakeClient()
    failover.unreachable(client)
    failover.lost(client, LOST)
    assert client.targets == [] and str(failover.current) == "mqtt://a:1"


def test_refusals_in_a_row_wait_longer_until_a_subscription_is_granted():
    assert [refusal_delay(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]
    failover = Failover(BrokerAddress.parse("mqtt://a:1,b:2"))
    client = FakeClient()
    client.sock, peer = socket.socketpair()
    try:
        assert failover.refuse(client, [REFUSED]) == "subscription refused: Unspecified error"
        assert peer.recv(1) == b"", "the connection is cut"
        assert failover.lost(client, LOST) is None, "the refusal is the error, not the drop"
        assert str(failover.current) == "mqtt://b:2"
        failover.refuse(client, [REFUSED])
        assert (failover.refusals, failover.refused) == (2, "Unspecified error")
        failover.grant(client)
        assert (failover.refusals, failover.refused) == (0, None)
        assert client.delays == [(1, 30), (2, 30), (1, 30)]
    finally:
        client.sock.close()
        peer.close()


# --- live: Mosquitto -------------------------------------------------------------------------

def stored(db_path) -> list[str]:
    with sqlite3.connect(db_path) as conn:
        return sorted(row[0] for row in conn.execute("SELECT id FROM ratings"))


def test_the_first_node_that_answers_then_the_next_when_it_dies(seeded_db):
    """A dead port first, then two Mosquittos: on the first that answers; SIGKILLed, the next.
    Two Mosquittos are no cluster: the session is not on the second, and health says so."""
    first, second = Mosquitto().start(), Mosquitto().start()
    dead = free_port()
    broker = BrokerAddress.parse(
        f"mqtt://127.0.0.1:{dead},127.0.0.1:{first.port},127.0.0.1:{second.port}")
    ingest = Ingest(str(seeded_db), broker, client_id=f"collector-{uuid.uuid4().hex[:8]}")
    kiosk = None
    try:
        ingest.start()
        assert ingest.wait_connected(20), ingest.last_error
        assert ingest.broker_address == ingest.state().broker_address == first.url
        kiosk = SimulatedKiosk("kiosk-hk-01", "127.0.0.1", first.port, boot=31,
                               cooldown_s=0).start()
        kiosk.press(4)
        assert kiosk.wait_until(lambda: kiosk.confirmed == 1, 20)
        kiosk.stop()
        first.kill()
        wait_for(lambda: ingest.broker_address == second.url, timeout=20,
                 what="the collector on the second node")
        kiosk = SimulatedKiosk("kiosk-hk-01", "127.0.0.1", second.port, boot=32,
                               cooldown_s=0).start()
        kiosk.press(2)
        assert kiosk.wait_until(lambda: kiosk.confirmed == 1, 20), "confirmed from there"
        assert ingest.health_reasons() == ["broker_session_lost"]
    finally:
        if kiosk is not None:
            kiosk.stop()
        ingest.stop()
        first.cleanup()
        second.cleanup()
    assert stored(seeded_db) == ["kiosk-hk-01:31:0", "kiosk-hk-01:32:0"]


@pytest.fixture
def secured(seeded_db):
    """Mosquitto with the password file and ACL `hailong broker-config` writes."""
    conf_dir = Path(tempfile.mkdtemp(prefix="hailong-failover-"))
    os.chmod(conf_dir, 0o755)  # read by the broker as `mosquitto`
    store = Store(seeded_db)
    try:
        generate(store.db, conf_dir, collector_user=COLLECTOR,
                 collector_password=COLLECTOR_PASSWORD)
    finally:
        store.close()
    broker = Mosquitto(password_file=conf_dir / PASSWD_NAME,
                       acl_file=conf_dir / ACL_NAME).start()
    yield broker
    broker.cleanup()
    shutil.rmtree(conf_dir, ignore_errors=True)


def test_serve_takes_a_list_and_the_password_file_holds_for_every_node(secured, seeded_db,
                                                                        tmp_path):
    secret = tmp_path / "collector.password"
    secret.write_text(COLLECTOR_PASSWORD + "\n")
    http = free_port()
    listed = f"mqtt://{COLLECTOR}@127.0.0.1:{free_port()},127.0.0.1:{secured.port}"
    command = [sys.executable, "-m", "collector.cli.main", "serve", "--db", str(seeded_db),
               "--broker", listed, "--broker-password-file", str(secret),
               "--http", f"127.0.0.1:{http}"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        def connected():
            try:
                return httpx.get(f"http://127.0.0.1:{http}/api/v1/health",
                                 timeout=1).json()["broker"]["connected"]
            except httpx.HTTPError:
                return False
        wait_for(connected, timeout=30, what="serve connected on the second node")
        # Health names the node it is on, without the credentials.
        broker = httpx.get(f"http://127.0.0.1:{http}/api/v1/health", timeout=5).json()["broker"]
        assert broker["address"] == f"mqtt://127.0.0.1:{secured.port}"
    finally:
        process.terminate()
        output = process.communicate(timeout=20)[0].decode()
    assert "broker mqtt://127.0.0.1:" in output and f",127.0.0.1:{secured.port}" in output
    assert COLLECTOR_PASSWORD not in output


# --- live: the three-node NATS JetStream cluster ----------------------------------------------

@pytest.fixture
def registry(seeded_db):
    store = Store(seeded_db)
    registry = Registry(store)
    registry.passwords = {device: registry.add(device, "hk-q1").password
                          for device in DEVICES}
    yield registry
    store.close()


def test_the_collector_leaves_its_killed_node_and_every_rating_is_stored_once(registry,
                                                                             seeded_db):
    """Devices on node 3, the collector given all three nodes and on node 1. Ratings are
    received and held uncommitted (the database locked) when node 1 is SIGKILLed; more come
    while the collector moves to node 2; node 1 comes back. Every rating is stored once and
    confirmed; what node 1 delivered and never saw acknowledged comes again, as a duplicate."""
    cluster = NatsCluster(registry.db, collector_user=COLLECTOR,
                          collector_password=COLLECTOR_PASSWORD)
    ingest = kiosks = blocker = None
    boot = 41
    try:
        cluster.start()
        nodes = ",".join(f"127.0.0.1:{cluster.mqtt_port(i)}" for i in range(3))
        ingest = Ingest(str(seeded_db),
                        BrokerAddress.parse(f"mqtt://{COLLECTOR}:{COLLECTOR_PASSWORD}@{nodes}"),
                        client_id=COLLECTOR)
        ingest.start()
        assert ingest.wait_connected(30), ingest.last_error
        assert ingest.broker_address == cluster.url(0)  # the first node that answers
        wait_for(lambda: cluster.node_of(COLLECTOR) == 0, what="node 1 to see the collector")
        kiosks = [SimulatedKiosk(device, "127.0.0.1", cluster.mqtt_port(2), username=device,
                                 password=registry.passwords[device], boot=boot, cooldown_s=0,
                                 confirm_timeout_s=5, backoff_max_s=2).start()
                  for device in DEVICES]

        def press(levels):
            for kiosk in kiosks:
                for level in levels:
                    kiosk.press(level)

        def every_kiosk(condition):
            return all(condition(kiosk) for kiosk in kiosks)
        press([1, 2, 3, 4, 4])
        wait_for(lambda: every_kiosk(lambda k: k.confirmed == 5), timeout=30,
                 what="the first ratings confirmed")
        received = ingest.totals["received"]
        blocker = sqlite3.connect(seeded_db, timeout=5, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # received from node 1, neither committed nor acked
        press([4, 3, 4, 2, 4])
        wait_for(lambda: ingest.totals["received"] >= received + 10, timeout=30,
                 what="ten ratings received and held")
        cluster.kill(0)  # the collector's node, mid-stream
        blocker.execute("ROLLBACK")
        blocker.close()
        blocker = None
        press([3, 3, 4, 1, 4])
        wait_for(lambda: ingest.broker_address in (cluster.url(1), cluster.url(2)),
                 timeout=60, what="the collector on a surviving node")
        # The broker's own view (its /connz by client id) agrees, once NATS has closed the
        # attempts it could not set up on the way.
        wait_for(lambda: cluster.node_of(COLLECTOR) is not None
                 and cluster.url(cluster.node_of(COLLECTOR)) == ingest.broker_address,
                 what="the cluster to see the collector where it says it is")
        cluster.start_node(0, timeout=120)
        press([2, 4, 4, 3, 4])
        wait_for(lambda: every_kiosk(lambda k: k.confirmed == 20 and k.queue_depth == 0),
                 timeout=90, what="every rating confirmed")
        assert ingest.totals["duplicate"] >= 10, ingest.totals
        assert ingest.health_reasons() == []
    finally:
        if blocker is not None:
            blocker.execute("ROLLBACK")
            blocker.close()
        for kiosk in kiosks or []:
            kiosk.stop()
        if ingest is not None:
            ingest.stop()
        cluster.cleanup()
    ids = [row for row in stored(seeded_db) if row.startswith("kiosk-fo-")]
    assert ids == sorted(f"{device}:{boot}:{seq}" for device in DEVICES for seq in range(20))
