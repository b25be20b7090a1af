"""Broker security on a real Mosquitto: files generated from the registry, hashes it accepts.

Each broker test starts Mosquitto with the password file and ACL that `brokerconf` wrote from
a registry of two devices, and talks to it with paho-mqtt clients. "Not delivered" is shown
with a barrier, never a sleep: the forbidden message is sent first, then an allowed one with
QoS 1 on the same path; Mosquitto delivers in order, so when the allowed one arrives alone the
forbidden one was dropped.
"""

from __future__ import annotations

import base64
import grp
import json
import os
import queue
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import uuid
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
from factories import rating_bytes
from hypothesis import given, settings
from hypothesis import strategies as st
from kiosk.sim import SimulatedKiosk
from mosquitto import Mosquitto, free_port
from waiting import wait_for

from collector.org.brokerconf import (
    ACL_NAME,
    CONF_NAME,
    PASSWD_NAME,
    Account,
    BrokerConfigError,
    acl_text,
    generate,
    passwd_text,
    reload_broker,
)
from collector.org.credentials import (
    HASH_PATTERN,
    PBKDF2_ITERATIONS,
    generate_password,
    hash_password,
    verify_password,
)
from collector.core.settings import BrokerAddress
from collector.ingest.subscriber import Ingest
from collector.protocol.messages import device_topic
from collector.org.registry import Registry
from collector.db.store import Store

COLLECTOR = "hailong-collector"
COLLECTOR_PASSWORD = "collector-secret-0123456789"
DEV_A, DEV_B = "kiosk-ac-01", "kiosk-ac-02"
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"


# --- hashes -----------------------------------------------------------------------------

def test_our_hash_has_mosquittos_format():
    hashed = hash_password("k3f9q-7hwmx-2dcpa-rt8nz")
    match = HASH_PATTERN.match(hashed)
    assert match and int(match.group(1)) == PBKDF2_ITERATIONS
    assert len(base64.b64decode(match.group(2))) == 12
    assert len(base64.b64decode(match.group(3))) == 64


def test_a_hash_written_by_mosquitto_passwd_verifies(tmp_path):
    path = tmp_path / "passwd"
    subprocess.run([MOSQUITTO_PASSWD, "-c", "-b", str(path), "dev", "Mật khẩu-1"], check=True)
    user, _, hashed = path.read_text().strip().partition(":")
    assert user == "dev"
    assert verify_password("Mật khẩu-1", hashed)
    assert not verify_password("Mật khẩu-2", hashed)


@settings(max_examples=50, deadline=None)
@given(st.text(min_size=1, max_size=40))
def test_hash_round_trip(password):
    hashed = hash_password(password)
    assert verify_password(password, hashed)
    assert not verify_password(password + "x", hashed)


@pytest.mark.parametrize("bad", ["", "plain", "$6$abc$def", "$7$101$!!!!$AAAA",
                                 "$7$101$AAAAAAAAAAAAAAAA$AAAA",
                                 hash_password("x") + "\nintruder:$7$1$AA==$AA=="])
def test_malformed_hashes_never_verify(bad):
    assert not verify_password("x", bad)


def test_generated_passwords_are_long_random_and_readable():
    passwords = {generate_password() for _ in range(200)}
    assert len(passwords) == 200
    for password in passwords:
        assert len(password) == 23 and not set(password) & set("01ilo")


# --- generated files (pure and on disk) -------------------------------------------------

def test_acl_grants_each_device_only_its_own_topics():
    text = acl_text(["kiosk-x1"], "hc")
    header, rules = text[:text.index("user hc")], text[text.index("user hc"):]
    assert all(line.startswith("#") or not line for line in header.splitlines())
    assert rules == (
        "user hc\n"
        "topic read hailong/v1/devices/+/rating\n"
        "topic read hailong/v1/devices/+/status\n"
        "topic write hailong/v1/devices/+/assignment\n"
        "topic write hailong/v1/devices/+/command\n"
        "topic write hailong/v1/devices/+/session\n"
        "topic write hailong/v1/devices/+/ack\n"
        "\n"
        "user kiosk-x1\n"
        "topic write hailong/v1/devices/kiosk-x1/rating\n"
        "topic write hailong/v1/devices/kiosk-x1/status\n"
        "topic read hailong/v1/devices/kiosk-x1/assignment\n"
        "topic read hailong/v1/devices/kiosk-x1/command\n"
        "topic read hailong/v1/devices/kiosk-x1/session\n"
        "topic read hailong/v1/devices/kiosk-x1/ack\n")


@pytest.mark.parametrize("account, message", [
    (Account("kiosk-x1", "plain-text"), "not a Mosquitto"),
    (Account("kiosk-x1", hash_password("x") + "\nevil:" + hash_password("y")), "not a Mosquitto"),
    (Account("a:b", hash_password("x")), "user name"),
])
def test_password_file_refuses_what_could_inject_lines(account, message):
    with pytest.raises(BrokerConfigError, match=message):
        passwd_text([account])


@pytest.fixture
def registry(seeded_db):
    store = Store(seeded_db)
    registry = Registry(store)
    registry.passwords = {device: registry.add(device, "hk-q1").password
                          for device in (DEV_A, DEV_B)}
    yield registry
    store.close()


@pytest.fixture
def conf_dir():
    # Not pytest's tmp_path: its parents are private to root, and the broker reads as
    # `mosquitto`.
    path = Path(tempfile.mkdtemp(prefix="hailong-brokerconf-"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def regenerate(registry, conf_dir, user=COLLECTOR):
    return generate(registry.db, conf_dir, collector_user=user,
                    collector_password=COLLECTOR_PASSWORD)


def test_files_are_written_for_the_broker_and_only_when_changed(registry, conf_dir):
    first = regenerate(registry, conf_dir)
    assert first.devices == [DEV_A, DEV_B]
    # The seed's devices predate the registry: they have no login and are named as such.
    assert "kiosk-hk-01" in first.without_credentials
    assert set(first.changed) == {conf_dir / PASSWD_NAME, conf_dir / ACL_NAME,
                                  conf_dir / CONF_NAME}
    passwd = (conf_dir / PASSWD_NAME).read_text()
    assert [line.split(":")[0] for line in passwd.splitlines()] == [COLLECTOR, DEV_A, DEV_B]
    assert registry.passwords[DEV_A] not in passwd and COLLECTOR_PASSWORD not in passwd
    try:
        group = grp.getgrnam("mosquitto").gr_gid
    except KeyError:
        group = None
    for name in (PASSWD_NAME, ACL_NAME):
        info = (conf_dir / name).stat()
        if group is not None and os.geteuid() == 0:
            assert (stat.S_IMODE(info.st_mode), info.st_gid) == (0o640, group)
    assert sorted(p.name for p in conf_dir.iterdir()) == sorted([PASSWD_NAME, ACL_NAME,
                                                                 CONF_NAME])  # no temp files
    conf = (conf_dir / CONF_NAME).read_text()
    assert f"password_file {conf_dir / PASSWD_NAME}" in conf and "allow_anonymous false" in conf
    # Same registry, same collector password: nothing rewritten, the collector's hash kept.
    again = regenerate(registry, conf_dir)
    assert again.changed == [] and (conf_dir / PASSWD_NAME).read_text() == passwd


@pytest.mark.parametrize("user, message", [(DEV_A, "collector's user name"),
                                           ("bad name", "bad collector user name")])
def test_collector_user_must_be_valid_and_not_a_device(registry, conf_dir, user, message):
    with pytest.raises(BrokerConfigError, match=message):
        regenerate(registry, conf_dir, user=user)


def test_reload_refuses_a_pid_that_is_not_mosquitto(tmp_path):
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        pid_file = tmp_path / "broker.pid"
        pid_file.write_text(f"{sleeper.pid}\n")
        with pytest.raises(BrokerConfigError, match="not Mosquitto"):
            reload_broker(pid_file)
        assert sleeper.poll() is None  # not signalled (SIGHUP would have ended it)
    finally:
        sleeper.kill()
        sleeper.wait()


@pytest.mark.parametrize("content, message", [(None, "no pid file"), ("abc", "process id"),
                                              ("999999999", "no process")])
def test_reload_explains_a_bad_pid_file(tmp_path, content, message):
    pid_file = tmp_path / "broker.pid"
    if content is not None:
        pid_file.write_text(content)
    with pytest.raises(BrokerConfigError, match=message):
        reload_broker(pid_file)


# --- a real broker ----------------------------------------------------------------------

class Client:
    """A paho-mqtt 2.x client that records its CONNACK, SUBACKs, messages and disconnect."""

    def __init__(self, port: int, username: str | None, password: str | None):
        self.connack: queue.Queue = queue.Queue()
        self.subacks: queue.Queue = queue.Queue()
        self.messages: queue.Queue = queue.Queue()
        self.disconnected = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                  client_id=f"{username}-{uuid.uuid4().hex[:8]}",
                                  protocol=mqtt.MQTTv311, reconnect_on_failure=False)
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.on_connect = lambda c, u, flags, rc, props: self.connack.put(rc)
        self.client.on_subscribe = lambda c, u, mid, rcs, props: self.subacks.put(rcs)
        self.client.on_message = lambda c, u, m: self.messages.put((m.topic, m.payload))
        self.client.on_disconnect = lambda *args: self.disconnected.set()
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()
        self.reason = self.connack.get(timeout=5)

    @property
    def accepted(self) -> bool:
        return not self.reason.is_failure

    @property
    def not_authorised(self) -> bool:
        # MQTT 3.1.1 CONNACK return code 5; paho 2 names it with the MQTT 5 reason 135.
        return self.reason.is_failure and self.reason.value == 135

    def subscribe(self, *topics: str) -> None:
        for topic in topics:
            self.client.subscribe(topic, qos=1)
            self.subacks.get(timeout=5)

    def publish(self, topic: str, payload: bytes) -> None:
        """QoS 1 and wait for the PUBACK (Mosquitto sends one even when the ACL drops it)."""
        self.client.publish(topic, payload, qos=1).wait_for_publish(5)

    def next_message(self) -> tuple[str, bytes]:
        return self.messages.get(timeout=5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def broker(registry, conf_dir):
    regenerate(registry, conf_dir)
    broker = Mosquitto(password_file=conf_dir / PASSWD_NAME, acl_file=conf_dir / ACL_NAME)
    broker.start()
    clients: list[Client] = []

    def connect(username, password):
        client = Client(broker.port, username, password)
        clients.append(client)
        return client

    def apply_registry():
        """What a technician runs after a change: regenerate, SIGHUP through the pid file."""
        regenerate(registry, conf_dir)
        before = broker.reloads()
        assert reload_broker(broker.pid_file) == broker.process.pid
        broker.wait_reloaded(before)

    broker.connect = connect
    broker.apply_registry = apply_registry
    yield broker
    for client in clients:
        client.close()
    broker.cleanup()


def test_a_device_cannot_publish_on_another_devices_topics(broker, registry):
    collector = broker.connect(COLLECTOR, COLLECTOR_PASSWORD)
    collector.subscribe(device_topic("+", "rating"), device_topic("+", "status"))
    device_a = broker.connect(DEV_A, registry.passwords[DEV_A])
    device_a.publish(device_topic(DEV_B, "rating"), b"forged rating")
    device_a.publish(device_topic(DEV_B, "status"), b"forged status")
    device_a.publish(device_topic(DEV_A, "rating"), b"barrier")
    assert collector.next_message() == (device_topic(DEV_A, "rating"), b"barrier")
    assert collector.messages.empty()


def test_a_device_publishes_its_own_topics_and_reads_only_its_own(broker, registry):
    collector = broker.connect(COLLECTOR, COLLECTOR_PASSWORD)
    collector.subscribe(device_topic("+", "rating"), device_topic("+", "status"))
    device_a = broker.connect(DEV_A, registry.passwords[DEV_A])
    # Mosquitto 2.0 grants these subscriptions; the ACL acts when it delivers.
    device_a.subscribe(device_topic(DEV_A, "assignment"), device_topic(DEV_B, "assignment"),
                       device_topic(DEV_A, "command"), device_topic(DEV_B, "command"))
    device_a.publish(device_topic(DEV_A, "status"), b"online")
    device_a.publish(device_topic(DEV_A, "rating"), b"rating")
    assert collector.next_message() == (device_topic(DEV_A, "status"), b"online")
    assert collector.next_message() == (device_topic(DEV_A, "rating"), b"rating")
    # A device may not write its own assignment either (a board cannot choose its officer).
    device_a.publish(device_topic(DEV_A, "assignment"), b"self-assigned")
    collector.publish(device_topic(DEV_B, "assignment"), b"for B")
    collector.publish(device_topic(DEV_B, "command"), b"for B")
    collector.publish(device_topic(DEV_A, "assignment"), b"for A")
    collector.publish(device_topic(DEV_A, "command"), b"command for A")
    assert device_a.next_message() == (device_topic(DEV_A, "assignment"), b"for A")
    assert device_a.next_message() == (device_topic(DEV_A, "command"), b"command for A")
    assert device_a.messages.empty()


def test_only_the_collector_confirms_and_only_to_the_device_concerned(broker, registry):
    """The ack topic (protocol: ack): the collector writes it for any device; a device reads
    only its own and can neither confirm its own ratings nor another device's."""
    collector = broker.connect(COLLECTOR, COLLECTOR_PASSWORD)
    device_a = broker.connect(DEV_A, registry.passwords[DEV_A])
    device_b = broker.connect(DEV_B, registry.passwords[DEV_B])
    device_a.subscribe(device_topic(DEV_A, "ack"), device_topic(DEV_B, "ack"))
    device_b.subscribe(device_topic(DEV_B, "ack"))
    device_b.publish(device_topic(DEV_A, "ack"), b"forged by B")  # B may not confirm for A
    device_a.publish(device_topic(DEV_A, "ack"), b"self-confirmed")  # nor A for itself
    collector.publish(device_topic(DEV_B, "ack"), b"for B")
    collector.publish(device_topic(DEV_A, "ack"), b"for A")
    assert device_a.next_message() == (device_topic(DEV_A, "ack"), b"for A")
    assert device_b.next_message() == (device_topic(DEV_B, "ack"), b"for B")
    assert device_a.messages.empty() and device_b.messages.empty()


def test_wrong_unknown_or_missing_credentials_are_not_authorised(broker, registry):
    assert broker.connect(DEV_A, registry.passwords[DEV_B]).not_authorised
    assert broker.connect("kiosk-zz-99", registry.passwords[DEV_A]).not_authorised
    assert broker.connect("kiosk-hk-01", "anything").not_authorised  # no credentials issued
    assert broker.connect(None, None).not_authorised                 # anonymous
    assert broker.connect(COLLECTOR, "wrong").not_authorised
    assert broker.connect(DEV_A, registry.passwords[DEV_A]).accepted


def test_a_retired_device_is_cut_off_after_the_reload(broker, registry):
    collector = broker.connect(COLLECTOR, COLLECTOR_PASSWORD)
    device_a = broker.connect(DEV_A, registry.passwords[DEV_A])
    assert device_a.accepted
    registry.retire(DEV_A)
    broker.apply_registry()
    # Mosquitto 2.0 closes a connection whose account disappeared on reload ...
    assert device_a.disconnected.wait(5)
    # ... and refuses it from then on, while everyone else carries on.
    assert broker.connect(DEV_A, registry.passwords[DEV_A]).not_authorised
    assert broker.connect(DEV_B, registry.passwords[DEV_B]).accepted
    assert collector.client.is_connected() and not collector.disconnected.is_set()


def test_rotated_credentials_replace_the_old_ones_after_the_reload(broker, registry):
    old = registry.passwords[DEV_A]
    new = registry.rotate_credentials(DEV_A).password
    # Until the broker reloads it only knows the old hash: rotation is not live by itself.
    session = broker.connect(DEV_A, old)
    assert session.accepted
    broker.apply_registry()
    # A session opened with the old password is closed too (a leaked password loses it).
    assert session.disconnected.wait(5)
    assert broker.connect(DEV_A, old).not_authorised
    assert broker.connect(DEV_A, new).accepted


def test_the_collector_works_through_its_own_account(broker, registry, seeded_db):
    """The real ingest on the secured broker: it subscribes, stores, publishes assignments."""
    ingest = Ingest(str(seeded_db), BrokerAddress("127.0.0.1", broker.port, COLLECTOR,
                                                  COLLECTOR_PASSWORD),
                    client_id=f"collector-{uuid.uuid4().hex[:8]}")
    ingest.start()
    try:
        assert ingest.wait_connected(5), ingest.last_error
        device_a = broker.connect(DEV_A, registry.passwords[DEV_A])
        device_a.subscribe(device_topic(DEV_A, "assignment"))
        topic, payload = device_a.next_message()  # retained, published by the collector
        assert topic == device_topic(DEV_A, "assignment")
        assert json.loads(payload)["officer"]["id"] == "HK-0001"
        device_a.publish(device_topic(DEV_A, "rating"), rating_bytes(device=DEV_A))
        wait_for(lambda: ingest.totals["stored"] == 1, what="the rating to be stored")
    finally:
        ingest.stop()


def test_the_device_firmware_works_within_its_acl(broker, registry):
    """The firmware core (simulated board) logs in with its credentials and does its job:
    status online, assignment shown, a rating delivered and confirmed, the last will
    published for it."""
    collector = broker.connect(COLLECTOR, COLLECTOR_PASSWORD)
    collector.subscribe(device_topic("+", "rating"), device_topic("+", "status"))
    assignment = {"v": 1, "state": "open", "counter": "Quầy 1", "scale": 4,
                  "officer": {"id": "HK-0001", "name": "Nguyễn Thị Thu Hường",
                              "title": "Chuyên viên", "unit": "UBND phường Hoàn Kiếm"}}
    collector.client.publish(device_topic(DEV_A, "assignment"),
                             json.dumps(assignment).encode(), qos=1,
                             retain=True).wait_for_publish(5)
    kiosk = SimulatedKiosk(DEV_A, "127.0.0.1", broker.port, username=DEV_A,
                           password=registry.passwords[DEV_A], cooldown_s=0, boot=4).start()
    try:
        topic, payload = collector.next_message()
        assert topic == device_topic(DEV_A, "status") and json.loads(payload)["state"] == "online"
        assert kiosk.wait_until(lambda: "Nguyễn Thị Thu Hường" in kiosk.screen_text())
        kiosk.press(4)
        topic, payload = collector.next_message()
        assert topic == device_topic(DEV_A, "rating") and json.loads(payload)["level"] == 4
        assert kiosk.queue_depth == 1, "kept until the collector confirms it"
        collector.publish(device_topic(DEV_A, "ack"), b'{"v":1,"boot":4,"seq":[0]}')
        assert kiosk.wait_until(lambda: kiosk.queue_depth == 0 and kiosk.confirmed == 1)
        kiosk.kill()
        topic, payload = collector.next_message()
        assert (topic, json.loads(payload)["state"]) == (device_topic(DEV_A, "status"),
                                                        "offline")
    finally:
        kiosk.stop()


def test_serve_reads_the_collector_password_from_a_file(broker, registry, seeded_db,
                                                        tmp_path):
    """`hailong serve --broker-password-file`: connected on the secured broker, and the
    password is neither on the command line nor in what serve prints."""
    secret = tmp_path / "collector.password"
    secret.write_text(COLLECTOR_PASSWORD + "\n")
    http = free_port()
    command = [sys.executable, "-m", "collector.cli.main", "serve", "--db", str(seeded_db),
               "--broker", f"mqtt://{COLLECTOR}@127.0.0.1:{broker.port}",
               "--broker-password-file", str(secret), "--http", f"127.0.0.1:{http}"]
    assert COLLECTOR_PASSWORD not in " ".join(command)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        def connected():
            try:
                health = httpx.get(f"http://127.0.0.1:{http}/api/v1/health", timeout=1).json()
            except httpx.HTTPError:
                return False
            return health["broker"]["connected"]
        wait_for(connected, timeout=20, what="serve to connect with the password from the file")
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=20)
    assert COLLECTOR_PASSWORD not in output.decode()
