"""The ingest's fast path gives every message the outcome the message-at-a-time path gave.

Issue 13 made the writer record a batch as a batch (collector/ingest/recording.py), the parser
check a well-formed rating in one pass (collector/protocol/messages.py `_valid_rating`), paho
read and acknowledge in bulk (collector/ingest/mqttclient.py) and the ack encoder keep its
length as it grows (collector/protocol/outbound.py). Each is held here against the rules of
docs/protocol.md written out by hand, and the parser and the ack encoder also against their
own code before the change (commit cb99db9, read from git) on generated and malformed input.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import socket
import struct
import subprocess
import sys
import unicodedata
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from factories import T0, incoming, rating_bytes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.ingest.mqttclient import Inbox, IngestClient, split_packet
from collector.ingest.recording import record_batch
from collector.protocol import outbound
from collector.protocol.messages import CONTROL_CHARACTER, Rejection, parse_message

ROOT = Path(__file__).resolve().parent.parent
BEFORE = "cb99db9"  # the last commit before the fast path (issue 12 done)
DEVICE = "kiosk-hk-01"


def module_before(path: str, name: str):
    """`path` as it was at BEFORE, imported under `name`; the test skips without git history."""
    try:
        source = subprocess.run(["git", "show", f"{BEFORE}:{path}"], cwd=ROOT, check=True,
                                capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip(f"no git history with commit {BEFORE}")
    spec = importlib.util.spec_from_loader(name, loader=None)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while they are made
    exec(compile(source, f"{BEFORE}:{path}", "exec"), module.__dict__)
    return module


@pytest.fixture(scope="module")
def parser_before():
    return module_before("collector/protocol/messages.py", "messages_before_fast_path")


def same(new, old) -> bool:
    return type(new).__name__ == type(old).__name__ and \
        dataclasses.astuple(new) == dataclasses.astuple(old)


# --- the parser -------------------------------------------------------------------------------

def test_control_characters_are_unicodes_category_cc():
    cc = {chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) == "Cc"}
    matched = {chr(c) for c in range(0x110000) if CONTROL_CHARACTER.match(chr(c))}
    assert matched == cc and len(cc) == 65  # U+0000–U+001F and U+007F–U+009F


def test_generated_messages_get_the_outcome_they_got_before(parser_before):
    sys.path.insert(0, str(ROOT / "tools"))
    from fuzzcases import Generator
    generator = Generator(13, ["kiosk-hk-01", "kiosk-bd-01"], ["kiosk-zz-99"])
    cases = [next(generator) for _ in range(6000)]
    assert len({case.name for case in cases}) > 100  # the generator's many kinds of fault
    for case in cases:
        new = parse_message(case.topic, case.payload)
        assert same(new, parser_before.parse_message(case.topic, case.payload)), case.name


VALID = json.loads(rating_bytes(seq=7, ts=1764064800000))
ODD_VALUES = [None, True, False, 0, -1, 1, 3, 4, 5, 6, 2**31 - 1, 2**31, 2**53, 1.0, 4.0, "",
              "x", "4", "kiosk-hk-01", "kiosk-hk-02", "kiosk-hk-01:1:7", "HK-0001", "a" * 33,
              "a\n", "\x7f", "\x85", "Nguyễn", "waiting", "attitude", "cooldown", "H26.1/x-y_z",
              "H26 1", [], {}, [1], 1577836800000, 4102444800000, 4102444800001, 1577836799999]


@settings(max_examples=400, deadline=None)
@given(changes=st.lists(st.tuples(st.sampled_from(sorted(VALID) + ["extra"]),
                                  st.one_of(st.sampled_from(ODD_VALUES), st.just(KeyError))),
                        max_size=3))
def test_a_rating_with_any_field_changed_gets_the_outcome_it_got_before(parser_before, changes):
    body = dict(VALID)
    for name, value in changes:
        if value is KeyError:
            body.pop(name, None)
        else:
            body[name] = value
    topic, payload = f"hailong/v1/devices/{DEVICE}/rating", json.dumps(body).encode()
    assert same(parse_message(topic, payload), parser_before.parse_message(topic, payload))


@pytest.mark.parametrize("payload", [
    b"\xef\xbb\xbf" + rating_bytes(),                      # a byte order mark: not JSON
    rating_bytes(officer="\\ud800").replace(b"\\\\", b"\\"),  # a lone surrogate by escape
    rating_bytes(fw="0.1\\u0000").replace(b"\\\\", b"\\"),     # a control character by escape
    rating_bytes(officer="Nguy\\u1ec5n").replace(b"\\\\", b"\\"),  # a valid escape
    rating_bytes().replace(b'"level": 4', b'"level": 4, "level": 4'),
])
def test_escapes_and_marks_get_the_outcome_they_got_before(parser_before, payload):
    topic = f"hailong/v1/devices/{DEVICE}/rating"
    assert same(parse_message(topic, payload), parser_before.parse_message(topic, payload))


def test_a_lone_surrogate_escape_is_still_invalid_unicode():
    payload = rating_bytes(officer="\\udc00").replace(b"\\\\", b"\\")
    assert parse_message(f"hailong/v1/devices/{DEVICE}/rating", payload) == \
        Rejection("invalid_unicode", DEVICE, None, None)


# --- the ack encoder --------------------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(boot=st.sampled_from([0, 7, 2**31 - 1]),
       seqs=st.lists(st.one_of(st.integers(0, 120), st.integers(2**31 - 200, 2**31 - 1)),
                     min_size=1, max_size=400))
def test_acks_are_the_bytes_they_were_before(boot, seqs):
    before = module_before("collector/protocol/outbound.py", "outbound_before_fast_path")
    assert outbound.encode_ack(boot, seqs) == before.encode_ack(boot, seqs)


# --- recording a batch ------------------------------------------------------------------------

def status_bytes(boot: int, uptime_ms: int) -> bytes:
    return json.dumps({"v": 1, "device": DEVICE, "state": "online", "fw": "0.1.0", "boot": boot,
                       "uptime_ms": uptime_ms, "mem_free": 1, "rssi": None, "queue": 0,
                       "filtered": 0, "dropped": 0}).encode()


def rows(store, sql: str, args=()) -> list[tuple]:
    return [tuple(row) for row in store.db.execute(sql, args).fetchall()]


def test_a_second_copy_in_the_same_batch_or_a_later_one_is_a_duplicate(store):
    first = incoming(rating_bytes(seq=1))
    assert record_batch(store.db, [first, incoming(rating_bytes(seq=2)), first]) == \
        {"stored": 2, "duplicate": 1, "rejected": 0, "status": 0}
    assert record_batch(store.db, [incoming(rating_bytes(seq=2)), incoming(rating_bytes(seq=3))]) \
        == {"stored": 1, "duplicate": 1, "rejected": 0, "status": 0}
    assert rows(store, "SELECT seq FROM ratings ORDER BY rowid") == [(1,), (2,), (3,)]
    assert rows(store, "SELECT name, value FROM ingest_totals ORDER BY name") == \
        [("duplicate", 2), ("stored", 3)]


def test_a_status_in_the_batch_anchors_the_boot_for_the_ratings_after_it(store):
    # Clock not synced (ts null): placed by uptime once the boot's epoch is known, from the
    # status's arrival minus its uptime; before that, at the rating's own arrival.
    r1, r2, r3 = T0 + 1_000, T0 + 2_000, T0 + 3_000
    before = incoming(rating_bytes(boot=5, seq=0, ts=None, uptime_ms=10_000), received_at=r1)
    status = incoming(status_bytes(5, 20_000), kind="status", received_at=r2)
    after = incoming(rating_bytes(boot=5, seq=1, ts=None, uptime_ms=30_000), received_at=r3)
    assert record_batch(store.db, [before, status, after])["stored"] == 2
    assert rows(store, "SELECT seq, pressed_at, time_source FROM ratings ORDER BY seq") == \
        [(0, r1, "received"), (1, r2 - 20_000 + 30_000, "uptime")]
    assert rows(store, "SELECT epoch_ms FROM boot_epochs WHERE device_id = ? AND boot = 5",
                [DEVICE]) == [(r2 - 20_000,)]


def test_last_seen_is_the_latest_arrival_and_a_late_one_never_moves_it_back(store):
    batch = [incoming(rating_bytes(seq=1), received_at=T0 + 5_000),
             incoming(rating_bytes(seq=2), received_at=T0 + 1_000)]
    record_batch(store.db, batch)
    record_batch(store.db, [incoming(rating_bytes(seq=3), received_at=T0 + 2_000)])
    assert rows(store, "SELECT last_seen FROM device_status WHERE device_id = ?",
                [DEVICE]) == [(T0 + 5_000,)]


def test_every_message_of_a_mixed_batch_has_its_outcome(store):
    batch = [incoming(rating_bytes(seq=1)), incoming(b'{"v":1,'),
             incoming(rating_bytes(device="kiosk-zz-99", seq=1), device="kiosk-zz-99"),
             incoming(status_bytes(1, 5_000), kind="status"), incoming(rating_bytes(seq=2))]
    assert record_batch(store.db, batch) == {"stored": 2, "duplicate": 0, "rejected": 2,
                                             "status": 1}
    assert rows(store, "SELECT reason FROM rejected ORDER BY id") == [("invalid_json",),
                                                                      ("unknown_device",)]
    # The seed's roster has HK-0001 at kiosk-hk-01's counter from before T0 on.
    assert rows(store, "SELECT officer_id, attribution FROM ratings") == \
        [("HK-0001", "roster")] * 2


# --- attributing a batch at once --------------------------------------------------------------

H = 3_600_000


@pytest.fixture
def eventful_roster(store):
    """kiosk-hk-01 staffed by HK-0001, then a gap, then HK-0002 (whose first shift was
    replaced by a correction), then moved to kiosk-hk-02's counter, where HK-0003 works."""
    from collector.org.registry import move_device_placement
    from collector.roster.shifts import assign
    db = store.db
    counter = db.execute("SELECT counter_id FROM devices WHERE id = ?", [DEVICE]).fetchone()[0]
    other = db.execute("SELECT counter_id FROM devices WHERE id = 'kiosk-hk-02'").fetchone()[0]
    assign(db, DEVICE, None, T0 + 1 * H)            # closed from +1 h
    assign(db, DEVICE, "HK-0002", T0 + 2 * H)       # HK-0002 from +2 h
    db.execute("UPDATE roster_shifts SET replaced_at = ? WHERE counter_id = ? AND starts_at = ?",
               [T0 + 9 * H, counter, T0 + 2 * H])   # … a correction replaced that shift
    assign(db, DEVICE, "HK-0002", T0 + 3 * H)       # … by one from +3 h
    assign(db, "kiosk-hk-02", "HK-0003", T0 + 4 * H)
    move_device_placement(db, DEVICE, other, T0 + 5 * H)  # at kiosk-hk-02's counter from +5 h
    return db


MOMENTS = [T0 - 100 * 86_400_000, T0, T0 + H - 1, T0 + H, T0 + 2 * H, T0 + 3 * H - 1, T0 + 3 * H,
           T0 + 4 * H, T0 + 5 * H - 1, T0 + 5 * H, T0 + 50 * H]


# The roster is only read: one for every generated batch.
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(presses=st.lists(st.tuples(st.sampled_from([DEVICE, "kiosk-hk-02", "kiosk-zz-99"]),
                                  st.sampled_from(MOMENTS),
                                  st.sampled_from([None, "HK-0001", "HK-0003", "XX-0404"])),
                        max_size=30))
def test_a_batch_is_attributed_as_each_press_alone(eventful_roster, presses):
    from collector.roster.attribution import attribute, attribute_many
    assert attribute_many(eventful_roster, presses) == \
        [attribute(eventful_roster, *press) for press in presses]


def test_the_eventful_roster_attributes_as_written(eventful_roster):
    from collector.roster.attribution import attribute_many
    presses = [(DEVICE, T0, None), (DEVICE, T0 + H, "HK-0003"), (DEVICE, T0 + H, "XX-0404"),
               (DEVICE, T0 + 2 * H, None), (DEVICE, T0 + 3 * H, None), (DEVICE, T0 + 5 * H, None)]
    assert attribute_many(eventful_roster, presses) == [
        ("HK-0001", "roster"), ("HK-0003", "device"), (None, "none"), (None, "none"),
        ("HK-0002", "roster"), ("HK-0003", "roster")]


# --- paho, read and acknowledged in bulk ------------------------------------------------------

def publish_packet(mid: int, topic: bytes, payload: bytes) -> bytes:
    body = struct.pack("!H", len(topic)) + topic + struct.pack("!H", mid) + payload
    length, remaining = b"", len(body)
    while True:
        remaining, digit = divmod(remaining, 128)
        length += bytes([digit | (128 if remaining else 0)])
        if not remaining:
            return bytes([0x32]) + length + body


def test_split_packet_waits_for_every_byte_of_a_packet():
    packet = publish_packet(9, b"t", b"x" * 200)  # a two-byte remaining length
    assert split_packet(packet, 0) == (0x32, 3, len(packet))
    assert all(split_packet(packet[:cut], 0) is None for cut in range(1, len(packet)))
    with pytest.raises(ValueError):
        split_packet(b"\x32\xff\xff\xff\xff\x01", 0)  # five bytes of length


@pytest.mark.parametrize("cut", [1, 7, 300, 100_000])
def test_every_message_is_delivered_once_in_order_however_the_bytes_arrive(cut):
    mine, broker = socket.socketpair()
    mine.setblocking(False)
    client = IngestClient(mqtt.CallbackAPIVersion.VERSION2, client_id="t", manual_ack=True)
    client._sock = mine  # a connected client, as paho leaves it after the CONNACK
    got: list[tuple[int, bytes]] = []
    client.on_message = lambda c, userdata, message: got.append((message.mid, message.payload))
    payloads = [b"p%d" % i * (1 + i % 90) for i in range(60)]
    stream = b"".join(publish_packet(i + 1, b"hailong/v1/devices/d1/rating", p)
                      for i, p in enumerate(payloads))
    try:
        for start in range(0, len(stream), cut):
            broker.sendall(stream[start:start + cut])
            while client._packet_read() == mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS:
                pass
        assert got == [(i + 1, p) for i, p in enumerate(payloads)]
        client.ack_all([1, 2, 300, 65535])
        client.loop_write()
        assert broker.recv(100) == bytes.fromhex("40020001" "40020002" "4002012c" "4002ffff")
    finally:
        mine.close()
        broker.close()


def test_flags_qos_0_and_a_truncated_publish_are_read_as_paho_reads_them():
    mine, broker = socket.socketpair()
    mine.setblocking(False)
    client = IngestClient(mqtt.CallbackAPIVersion.VERSION2, client_id="t", manual_ack=True)
    client._sock = mine
    got = []
    client.on_message = lambda c, userdata, m: got.append((m.topic, m.payload, m.mid, m.qos,
                                                           m.retain, m.dup))
    retained_dup = bytearray(publish_packet(5, b"a/b", b"x"))
    retained_dup[0] |= 0x08 | 0x01  # DUP and RETAIN
    qos0 = b"\x30\x06\x00\x03a/cy"  # QoS 0: no packet id
    try:
        broker.sendall(bytes(retained_dup) + qos0)
        assert client._packet_read() == mqtt.MQTTErrorCode.MQTT_ERR_AGAIN
        assert got == [("a/b", b"x", 5, 1, True, True), ("a/c", b"y", 0, 0, False, False)]
        broker.sendall(b"\x32\x03\x00\x05a")  # a topic longer than the packet
        assert client._packet_read() == mqtt.MQTTErrorCode.MQTT_ERR_PROTOCOL
    finally:
        mine.close()
        broker.close()


def test_the_inbox_gives_batches_in_order_and_nothing_when_idle():
    inbox: Inbox[int] = Inbox()
    assert inbox.take(3, 0.0, idle_s=0.0) == []
    for item in range(7):
        inbox.put(item)
    assert inbox.head() == 0
    assert inbox.take(3, 0.0) == [0, 1, 2]
    assert inbox.take(3, 0.0) == [3, 4, 5]
    assert inbox.drain() == [6] and inbox.head() is None
    for item in range(7):
        inbox.put(item)
    # A backlog: more than the batch waited for is taken at once, up to `most`.
    assert inbox.take(3, 0.0, most=5) == [0, 1, 2, 3, 4]
