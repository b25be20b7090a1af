"""`hailong broker-config --target nats`, and hailong on a three-node NATS Server cluster.

The configuration is checked as text (the subjects and permissions written by hand from the
Mosquitto ACL of docs/protocol.md), by nats-server itself (`-t`), and live: the generated
files start a cluster whose permissions tests/test_broker_conformance.py exercises need by
need. The proof: `hailong serve` given all three nodes, on node 2, simulated devices on
node 1, node 3 then node 1 SIGKILLed mid-stream and restarted; every rating the devices
made is stored exactly once (tools/nats_failover.py --short; the long run is the same
command without --short).
"""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest
from nats_cluster import NATS_SERVER, NatsCluster

from collector.db.store import Store
from collector.org.brokerconf import BrokerConfigError
from collector.org.credentials import verify_bcrypt
from collector.org.natsconf import (
    CONF_PATTERN,
    NatsNode,
    check_cluster,
    generate,
    parse_node,
    permissions,
    subject,
)
from collector.org.registry import Registry

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))

COLLECTOR = "hailong-collector"
COLLECTOR_PASSWORD = "collector-secret-0123456789"
ROUTE_PASSWORD = "route-secret-0123456789"
DEV_A, DEV_B = "kiosk-nc-01", "kiosk-nc-02"
HAILONG = str(Path(sys.executable).parent / "hailong")
NODES = [NatsNode("10.20.0.1"), NatsNode("10.20.0.2"), NatsNode("10.20.0.3")]


# --- topics, subjects, permissions (pure) --------------------------------------------------

def test_topics_become_subjects_as_nats_converts_them():
    assert subject("hailong/v1/devices/+/rating") == "hailong.v1.devices.*.rating"
    assert subject("hailong/v1/devices/kiosk-hk-01/ack") == "hailong.v1.devices.kiosk-hk-01.ack"
    assert subject("hailong/v1/devices/#") == "hailong.v1.devices.>"


@pytest.mark.parametrize("topic", ["", "a.b/c", "a b/c", "a/*/c", "a/>", "/a", "a//b"])
def test_a_topic_nats_would_escape_or_refuse_has_no_subject(topic):
    with pytest.raises(BrokerConfigError):
        subject(topic)


def test_the_permissions_are_the_mosquitto_acls():
    grants = permissions(["kiosk-x1"], "hc")
    assert grants["hc"] == (
        ["hailong.v1.devices.*.assignment", "hailong.v1.devices.*.command",
         "hailong.v1.devices.*.session", "hailong.v1.devices.*.ack"],
        ["hailong.v1.devices.*.rating", "hailong.v1.devices.*.status", "$MQTT.sub.>"])
    assert grants["kiosk-x1"] == (
        ["hailong.v1.devices.kiosk-x1.rating", "hailong.v1.devices.kiosk-x1.status"],
        ["hailong.v1.devices.kiosk-x1.assignment", "hailong.v1.devices.kiosk-x1.command",
         "hailong.v1.devices.kiosk-x1.session", "hailong.v1.devices.kiosk-x1.ack",
         "$MQTT.sub.>"])
    assert set(grants) == {"hc", "kiosk-x1"}


def test_a_cluster_must_outlive_one_node():
    check_cluster(NODES)
    check_cluster(NODES[:1])  # one node: no cluster, still JetStream
    with pytest.raises(BrokerConfigError, match="two nodes"):
        check_cluster(NODES[:2])
    with pytest.raises(BrokerConfigError, match="twice"):
        check_cluster([NODES[0], NODES[1], NODES[0]])
    assert parse_node("10.20.0.9") == NatsNode("10.20.0.9", 6222)
    assert parse_node("nats-3.lan:7000") == NatsNode("nats-3.lan", 7000)
    for bad in ("10.0.0.1:x", "a b:6222", "10.0.0.1:70000", "host\nx"):
        with pytest.raises(BrokerConfigError):
            parse_node(bad)


# --- the registry's second hash -------------------------------------------------------------

@pytest.fixture
def registry(seeded_db):
    store = Store(seeded_db)
    registry = Registry(store)
    registry.passwords = {device: registry.add(device, "hk-q1").password
                          for device in (DEV_A, DEV_B)}
    yield registry
    store.close()


def bcrypt_of(registry, device):
    row = registry.db.execute("SELECT bcrypt_hash FROM device_credentials WHERE device_id = ?",
                              [device]).fetchone()
    return row[0] if row else None


def test_the_registry_keeps_a_bcrypt_hash_of_the_password_it_issues(registry):
    old = registry.passwords[DEV_A]
    assert verify_bcrypt(old, bcrypt_of(registry, DEV_A))
    assert not verify_bcrypt(registry.passwords[DEV_B], bcrypt_of(registry, DEV_A))
    new = registry.rotate_credentials(DEV_A).password
    assert verify_bcrypt(new, bcrypt_of(registry, DEV_A))
    assert not verify_bcrypt(old, bcrypt_of(registry, DEV_A))
    registry.retire(DEV_A)
    assert bcrypt_of(registry, DEV_A) is None


# --- the files --------------------------------------------------------------------------------

def write(registry, out: Path, nodes=NODES):
    return generate(registry.db, out, nodes=nodes, collector_user=COLLECTOR,
                    collector_password=COLLECTOR_PASSWORD, route_password=ROUTE_PASSWORD,
                    group=None)


def test_one_file_per_node_written_only_when_something_changed(registry, tmp_path):
    files = write(registry, tmp_path)
    assert [p.name for p in files.confs] == [CONF_PATTERN.format(n) for n in (1, 2, 3)]
    assert files.changed == files.confs and files.devices == [DEV_A, DEV_B]
    # The demo's devices predate the registry: no credentials, refused and named.
    assert "kiosk-hk-01" in files.without_credentials
    for index, path in enumerate(files.confs):
        text = path.read_text()
        assert stat.S_IMODE(path.stat().st_mode) == 0o640  # hashes and the route password
        assert f'server_name: "hailong-{index + 1}"' in text
        assert f'listen: "10.20.0.{index + 1}:6222"' in text
        for other in NODES:
            assert f"@{other.host}:6222" in text
        assert registry.passwords[DEV_A] not in text and COLLECTOR_PASSWORD not in text
        assert "stream_replicas: 3" in text and "consumer_replicas: 3" in text
        assert "max_ack_pending: 200" in text
    assert write(registry, tmp_path).changed == []  # same registry, same passwords: same bytes
    registry.rotate_credentials(DEV_B)
    assert write(registry, tmp_path).changed == files.confs


def test_credentials_issued_before_the_bcrypt_hash_are_refused_until_rotated(registry,
                                                                               tmp_path):
    registry.db.execute("UPDATE device_credentials SET bcrypt_hash = NULL WHERE device_id = ?",
                        [DEV_B])
    files = write(registry, tmp_path)
    assert files.devices == [DEV_A] and DEV_B in files.without_credentials
    assert f'user: "{DEV_B}"' not in files.confs[0].read_text()


def test_every_file_is_valid_for_nats_server(registry, tmp_path):
    for path in write(registry, tmp_path).confs:
        result = subprocess.run([NATS_SERVER, "-t", "-c", str(path)], capture_output=True,
                                text=True, timeout=30)
        assert result.returncode == 0, result.stderr + result.stdout


def test_a_single_node_has_no_cluster_block_and_one_replica(registry, tmp_path):
    text = write(registry, tmp_path, NODES[:1]).confs[0].read_text()
    assert "cluster {" not in text and "stream_replicas: 1" in text


# --- the command ------------------------------------------------------------------------------

def run(*args):
    return subprocess.run([HAILONG, "broker-config", *args], capture_output=True, text=True,
                          timeout=60)


def test_the_command_writes_a_file_per_node(registry, seeded_db, tmp_path):
    out = tmp_path / "nats"
    base = ["--db", str(seeded_db), "--out", str(out), "--target", "nats",
            "--collector-password-file", str(tmp_path / "collector.password"),
            "--route-password-file", str(tmp_path / "route.password")]
    result = run(*base, "--node", "10.20.0.1", "--node", "10.20.0.2:6222",
                 "--node", "10.20.0.3")
    assert result.returncode == 0, result.stderr
    assert "systemctl reload nats-server" in result.stdout
    assert sorted(p.name for p in out.iterdir()) == [CONF_PATTERN.format(n) for n in (1, 2, 3)]
    route = (tmp_path / "route.password").read_text().strip()
    assert f"hailong-route:{route}@10.20.0.2:6222" in (out / CONF_PATTERN.format(1)).read_text()
    for args, message in [([], "--node"), (["--node", "a", "--node", "b"], "two nodes"),
                          (["--node", "a", "--reload", "/run/x.pid"], "systemctl reload")]:
        refused = run(*base, *args)
        assert refused.returncode == 2 and message in refused.stderr, refused.stderr
    mosquitto_only = run("--db", str(seeded_db), "--out", str(tmp_path / "m"),
                         "--collector-password-file", str(tmp_path / "collector.password"),
                         "--node", "10.20.0.1")
    assert mosquitto_only.returncode == 2 and "--target nats" in mosquitto_only.stderr


# --- live -------------------------------------------------------------------------------------

def test_new_credentials_and_a_retirement_apply_after_a_reload(registry):
    from test_broker_conformance import Client  # the conformance suite's client

    cluster = NatsCluster(registry.db, collector_user=COLLECTOR,
                          collector_password=COLLECTOR_PASSWORD)
    clients = []

    def connect(user, password, node=0):
        client = Client(cluster.mqtt_port(node), user, password)
        clients.append(client)
        return client
    try:
        cluster.start()
        old = registry.passwords[DEV_A]
        assert connect(DEV_A, old).accepted
        new = registry.rotate_credentials(DEV_A).password
        registry.retire(DEV_B)
        assert connect(DEV_B, registry.passwords[DEV_B], node=1).accepted  # not reloaded yet
        cluster.regenerate(registry.db)
        cluster.reload()
        for node in range(3):
            assert not connect(DEV_A, old, node).accepted
            assert connect(DEV_A, new, node).accepted
            assert not connect(DEV_B, registry.passwords[DEV_B], node).accepted
            assert connect(COLLECTOR, COLLECTOR_PASSWORD, node).accepted
    finally:
        for client in clients:
            client.close()
        cluster.cleanup()


def test_failover_a_node_killed_mid_stream_loses_no_rating_and_doubles_none(tmp_path):
    """Node 3, then node 1 (the devices' node) SIGKILLed while devices press; the devices
    move to node 2 through the cluster's address; the collector, given all three nodes, stays
    on node 2."""
    from nats_failover import Plan, Run

    plan = Plan.short()
    figures = Run(plan, tmp_path, log=lambda line: None).execute()
    summary = {k: v for k, v in figures.items() if k != "plan"}
    assert [kill["node"] for kill in figures["node_kills"]] == [3, 1], summary
    assert figures["device_connections_per_node"]["node 2"] >= plan.devices, summary
    assert figures["ratings_made_by_devices"] >= plan.target, summary
    assert (figures["lost"], figures["unexpected"], figures["stored_under_two_ids"]) == \
        (0, 0, 0), summary
    assert figures["ratings_stored"] == figures["distinct_ids_stored"] == \
        figures["ratings_made_by_devices"], summary
    assert (figures["journals_not_empty"], figures["journal_records_after_stop"],
            figures["refused_by_device"]) == (0, 0, 0), summary
    assert (figures["health"], figures["health_reasons"]) == ("ok", []), summary
    assert figures["ok"], summary
