"""`hailong broker-config`'s Mosquitto configuration: complete, each line with its reason, valid
on Debian's Mosquitto, and what the tests' broker runs (tests/mosquitto.py)."""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from mosquitto import DEBIAN_CONF, MOSQUITTO, Mosquitto, free_port, main_conf
from waiting import wait_for

from collector.org.brokerconf import (
    CONF_NAME,
    PASSWD_NAME,
    BrokerConfigError,
    check_listener,
    conf_text,
    generate,
)
from collector.ingest.subscriber import Ingest
from collector.org.registry import Registry
from collector.db.store import Store

PASSWD = Path("/etc/mosquitto/conf.d/hailong.passwd")
ACL = Path("/etc/mosquitto/conf.d/hailong.acl")


def options(text: str) -> dict[str, list[str]]:
    """Option name -> the values of its lines, in order."""
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition(" ")
            found.setdefault(name, []).append(value)
    return found


def test_debian_main_configuration_is_the_installed_one():
    # The tests' broker stands on this copy; it must be what the package installs.
    installed = Path("/etc/mosquitto/mosquitto.conf")
    assert installed.exists(), "Debian's mosquitto package is needed (apt-get install mosquitto)"
    assert installed.read_text() == DEBIAN_CONF


def test_every_line_says_why():
    lines = conf_text(PASSWD, ACL).splitlines()
    for index, line in enumerate(lines):
        if not line or line.startswith("#"):
            continue
        above = index - 1
        while above >= 0 and lines[above] and not lines[above].startswith("#"):
            above -= 1  # lines of one option group share the comment above the first
        assert above >= 0 and lines[above].startswith("#"), f"no reason above {line!r}"


def test_the_configuration_is_complete_and_safe():
    found = options(conf_text(PASSWD, ACL))
    assert found["listener"] == ["1883"], "every interface: the counters are on the LAN"
    assert found["allow_anonymous"] == ["false"]
    assert found["password_file"] == [str(PASSWD)] and found["acl_file"] == [str(ACL)]
    assert found["persistence"] == ["true"]
    assert found["autosave_on_changes"] == ["false"] and int(found["autosave_interval"][0]) <= 60
    # Three days of 100 devices at a status a minute and up to 500 ratings a day.
    assert int(found["max_queued_messages"][0]) >= 3 * 100 * (1440 + 500)
    assert int(found["max_queued_bytes"][0]) >= 100 * 1024 * 1024
    assert found["persistent_client_expiration"] == ["30d"]
    assert int(found["max_inflight_messages"][0]) >= Ingest.__init__.__kwdefaults__["batch_max"]
    assert 1024 + 100 <= int(found["max_packet_size"][0]) <= 65536
    assert "message_size_limit" not in found  # silent drops; see the comment in the file
    assert {"error", "warning", "notice", "information"} <= set(found["log_type"])
    # Debian's main file sets these; a second persistence_location or pid_file stops Mosquitto.
    assert not {"persistence_location", "pid_file", "log_dest", "include_dir"} & set(found)


def test_listener_address_and_port_are_options():
    found = options(conf_text(PASSWD, ACL, port=8884, address="10.12.0.5"))
    assert found["listener"] == ["8884 10.12.0.5"]


@pytest.mark.parametrize("port, address", [(0, None), (70000, None), (1883, "0.0.0.0\nuser x"),
                                           (1883, "a b"), (1883, "")])
def test_a_listener_that_could_break_the_file_is_refused(port, address):
    with pytest.raises(BrokerConfigError):
        check_listener(port, address)


@pytest.fixture
def conf_dir():
    # Readable by `mosquitto`, which the broker becomes (pytest's tmp_path is private).
    path = Path(tempfile.mkdtemp(prefix="hailong-brokerconf-"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


class Subscriber:
    def __init__(self, port: int, username: str | None = None, password: str | None = None,
                 client_id: str | None = None, clean: bool = True):
        self.messages: queue.Queue = queue.Queue()
        self.disconnected = threading.Event()
        connected = queue.Queue()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                  client_id=client_id or f"t-{uuid.uuid4().hex[:8]}",
                                  protocol=mqtt.MQTTv311, clean_session=clean,
                                  reconnect_on_failure=False)
        if username:
            self.client.username_pw_set(username, password)
        self.client.on_connect = lambda c, u, flags, rc, p: connected.put(rc)
        self.client.on_message = lambda c, u, m: self.messages.put(m.payload)
        self.client.on_disconnect = lambda *args: self.disconnected.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert not connected.get(timeout=5).is_failure

    def subscribe(self, topic: str) -> None:
        done = threading.Event()
        self.client.on_subscribe = lambda *args: done.set()
        self.client.subscribe(topic, qos=1)
        assert done.wait(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_the_written_file_runs_on_debians_mosquitto_as_written(seeded_db, conf_dir):
    """generate() into a folder, Debian's main file including it (paths moved, nothing else):
    Mosquitto starts without a warning and enforces the accounts."""
    store = Store(seeded_db)
    try:
        device_password = Registry(store).add("kiosk-cf-01", "hk-q1").password
        port = free_port()
        generate(store.db, conf_dir, collector_user="hailong-collector",
                 collector_password="collector-pw-0123456789", port=port,
                 address="127.0.0.1")
    finally:
        store.close()
    broker_dir = Path(tempfile.mkdtemp(prefix="hailong-mosquitto-"))
    os.chmod(broker_dir, 0o777)
    main = broker_dir / "mosquitto.conf"
    main.write_text(main_conf(broker_dir).replace(f"include_dir {broker_dir / 'conf.d'}",
                                                  f"include_dir {conf_dir}"))
    os.chmod(main, 0o644)
    log = broker_dir / "log"
    with open(log, "wb") as out:
        process = subprocess.Popen([MOSQUITTO, "-c", str(main)], stdout=out,
                                   stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: "running" in log.read_text() or process.poll() is not None,
                 what="mosquitto to start")
        text = log.read_text()
        assert process.poll() is None, text
        assert f"Loading config file {conf_dir / CONF_NAME}" in text
        assert not [line for line in text.splitlines()
                    if "Warning" in line or "Note" in line or "Error" in line], text
        collector = Subscriber(port, "hailong-collector", "collector-pw-0123456789")
        collector.close()
        device = Subscriber(port, "kiosk-cf-01", device_password)
        device.close()
        with pytest.raises(AssertionError):
            Subscriber(port)  # anonymous: refused
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(broker_dir, ignore_errors=True)
    assert (conf_dir / PASSWD_NAME).exists()


@pytest.fixture
def broker():
    broker = Mosquitto().start()
    yield broker
    broker.cleanup()


def test_the_collectors_queue_holds_far_more_than_debians_1000(broker):
    """Debian's default max_queued_messages 1000 dropped acknowledged ratings after about two
    hours of collector outage; the generated limit keeps a long outage."""
    collector = Subscriber(broker.port, client_id="queue-collector", clean=False)
    collector.subscribe("hailong/v1/devices/+/rating")
    collector.close()  # the collector is down; its session stays
    device = Subscriber(broker.port)
    sent = 5000
    infos = [device.client.publish("hailong/v1/devices/kiosk-q/rating", b"%d" % n, qos=1)
             for n in range(sent)]
    for info in infos:
        info.wait_for_publish(10)
    device.close()
    back = Subscriber(broker.port, client_id="queue-collector", clean=False)
    got = [back.messages.get(timeout=10) for _ in range(sent)]
    back.close()
    assert sorted(int(p) for p in got) == list(range(sent))
    assert "dropped" not in broker.log_text()


def test_an_oversized_payload_reaches_the_collector_and_a_huge_packet_is_cut_off(broker):
    collector = Subscriber(broker.port)
    collector.subscribe("hailong/v1/devices/+/rating")
    device = Subscriber(broker.port)
    # Beyond the protocol's 1024 bytes but within the packet limit: it reaches the collector,
    # which keeps it as `too_large` evidence.
    device.client.publish("hailong/v1/devices/kiosk-q/rating", b"x" * 4000,
                          qos=1).wait_for_publish(5)
    assert collector.messages.get(timeout=5) == b"x" * 4000
    # 64 KiB: the broker closes the connection instead of buffering it.
    device.client.publish("hailong/v1/devices/kiosk-q/rating", b"y" * 65536, qos=1)
    assert device.disconnected.wait(5)
    collector.client.publish("hailong/v1/devices/kiosk-q/rating", b"barrier", qos=1)
    assert collector.messages.get(timeout=5) == b"barrier"  # never the 64 KiB one
    device.close()
    collector.close()


# The installed command, as an operator runs it (the entry point collector.cli.main:main), rather
# than `python -m collector.cli.main`.
HAILONG = str(Path(sys.executable).parent / "hailong")


def test_the_command_writes_the_listener_it_is_given(seeded_db, conf_dir, tmp_path):
    result = subprocess.run(
        [HAILONG, "broker-config", "--db", str(seeded_db),
         "--out", str(conf_dir), "--collector-password-file", str(tmp_path / "pw"),
         "--port", "8884", "--listen-address", "10.12.0.5"],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert options((conf_dir / CONF_NAME).read_text())["listener"] == ["8884 10.12.0.5"]
    assert "systemctl restart mosquitto" in result.stdout  # a new listener needs a restart
    refused = subprocess.run(
        [HAILONG, "broker-config", "--db", str(seeded_db),
         "--out", str(conf_dir), "--collector-password-file", str(tmp_path / "pw"),
         "--listen-address", "0.0.0.0 x"], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "bad listen address" in refused.stderr
