"""MQTT client against a fake transport that records the exact bytes (CPython and MicroPython).

The hypothesis test of arbitrary stream splits stays in tests/test_fw_mqtt.py (CPython only).
"""

from core_support import FakeTransport, publish_packet
from kiosk import mqtt

CONNACK_OK = b"\x20\x02\x00\x00"


def connected_client(**kw):
    got = []
    kw.setdefault("on_message", lambda t, p: got.append((t, p)))
    c = mqtt.MQTTClient("kiosk-1", **kw)
    t = FakeTransport()
    c.connect(t, 0)
    t.feed(CONNACK_OK)
    c.poll(0)
    assert c.state == mqtt.CONNECTED
    t.take()
    return c, t, got


def test_connect_bytes_minimal():
    c = mqtt.MQTTClient("dev", keepalive_s=60)
    t = FakeTransport()
    c.connect(t, 0)
    assert t.take() == (b"\x10\x0f" + b"\x00\x04MQTT\x04" + b"\x02\x00\x3c"
                        + b"\x00\x03dev")
    assert c.state == mqtt.CONNECTING


def test_connect_bytes_with_will_and_credentials():
    c = mqtt.MQTTClient("dev", keepalive_s=60, username="u", password="pw",
                        will_topic="w/t", will_payload=b'{"s":0}', will_qos=1,
                        will_retain=True)
    t = FakeTransport()
    c.connect(t, 0)
    body = (b"\x00\x04MQTT\x04"
            + bytes((0x80 | 0x40 | 0x20 | 0x08 | 0x04 | 0x02,)) + b"\x00\x3c"
            + b"\x00\x03dev" + b"\x00\x03w/t" + b'\x00\x07{"s":0}'
            + b"\x00\x01u" + b"\x00\x02pw")
    assert t.take() == b"\x10" + bytes((len(body),)) + body


def test_connack_refused_disconnects():
    c = mqtt.MQTTClient("dev")
    t = FakeTransport()
    c.connect(t, 0)
    t.feed(b"\x20\x02\x00\x05")
    c.poll(10)
    assert c.state == mqtt.DISCONNECTED and c.last_error == "connack:5" and t.closed


def test_connack_timeout():
    c = mqtt.MQTTClient("dev", connack_timeout_ms=1000)
    t = FakeTransport()
    c.connect(t, 0)
    c.poll(999)
    assert c.state == mqtt.CONNECTING
    c.poll(1000)
    assert c.state == mqtt.DISCONNECTED and c.last_error == "connack_timeout"


def test_publish_qos1_bytes_and_puback():
    c, t, _ = connected_client()
    pid = c.publish("a/b", b"hi", 5, qos=1)
    assert pid == 1
    assert t.take() == b"\x32\x09\x00\x03a/b\x00\x01hi"
    assert c.in_flight() == 1
    t.feed(b"\x40\x02\x00\x01")
    c.poll(6)
    assert c.take_acked() == [1]
    assert c.take_acked() == []
    assert c.in_flight() == 0


def test_publish_qos0_retained_bytes():
    c, t, _ = connected_client()
    assert c.publish("a", b"x", 0, qos=0, retain=True) == 0
    assert t.take() == b"\x31\x04\x00\x01ax"


def test_publish_when_disconnected_returns_none():
    c = mqtt.MQTTClient("dev")
    assert c.publish("a", b"x", 0, qos=1) is None


def test_remaining_length_over_127():
    c, t, _ = connected_client()
    payload = b"p" * 200
    c.publish("t", payload, 0, qos=1)
    data = t.take()
    rl = 2 + 1 + 2 + 200  # topic length + topic + packet id + payload = 205
    assert data[:3] == b"\x32" + bytes((rl % 128 | 0x80, rl // 128))
    assert data[3:] == b"\x00\x01t\x00\x01" + payload


def test_varint():
    cases = [(0, b"\x00"), (127, b"\x7f"), (128, b"\x80\x01"), (16383, b"\xff\x7f"),
             (16384, b"\x80\x80\x01"), (268435455, b"\xff\xff\xff\x7f")]
    for n, enc in cases:
        assert mqtt.encode_varint(n) == enc, n


def test_incoming_large_publish_split_across_reads():
    c, t, got = connected_client()
    pkt = publish_packet("x/y", "Nguyễn".encode() * 40, qos=0)
    assert len(pkt) > 130
    for i in range(0, len(pkt), 7):
        t.feed(pkt[i:i + 7])
        c.poll(1)  # at most 8 reads per poll: the packet completes over several polls
    assert got == [("x/y", "Nguyễn".encode() * 40)]


def test_several_packets_in_one_read():
    c, t, got = connected_client()
    c.publish("a", b"1", 0, qos=1)
    c.publish("a", b"2", 0, qos=1)
    t.take()
    t.feed(b"\x40\x02\x00\x01" + b"\x40\x02\x00\x02" + publish_packet("m", b"z", qos=0))
    c.poll(1)
    assert c.take_acked() == [1, 2]
    assert got == [("m", b"z")]


def test_incoming_qos1_publish_gets_puback():
    c, t, got = connected_client()
    t.feed(publish_packet("cmd", b"{}", qos=1, pid=0x1234))
    c.poll(1)
    assert got == [("cmd", b"{}")]
    assert t.take() == b"\x40\x02\x12\x34"


def test_subscribe_bytes_and_suback():
    c, t, _ = connected_client()
    pid = c.subscribe([("a/b", 1), ("c", 1)], 0)
    assert t.take() == b"\x82\x0c\x00\x01\x00\x03a/b\x01\x00\x01c\x01"
    assert c.in_flight() == 1
    t.feed(b"\x90\x04\x00\x01\x01\x01")
    c.poll(1)
    assert c.in_flight() == 0 and c.suback_codes == b"\x01\x01"
    assert c.take_acked() == []  # SUBACK is not a rating ack
    assert pid == 1


def test_keepalive_pingreq_after_idle_and_pingresp():
    c, t, _ = connected_client(keepalive_s=60)
    c.poll(59999)
    assert t.take() == b""
    c.poll(60000)
    assert t.take() == b"\xc0\x00"
    t.feed(b"\xd0\x00")
    c.poll(60010)
    assert c.state == mqtt.CONNECTED
    c.poll(119999)
    assert t.take() == b""
    c.poll(120010)
    assert t.take() == b"\xc0\x00"


def test_dead_connection_without_pingresp():
    c, t, _ = connected_client(keepalive_s=60, ping_timeout_ms=10000)
    c.poll(60000)
    assert t.take() == b"\xc0\x00"
    c.poll(69999)
    assert c.state == mqtt.CONNECTED
    c.poll(70000)
    assert c.state == mqtt.DISCONNECTED and c.last_error == "ping_timeout" and t.closed


def test_missing_puback_drops_link():
    c, t, _ = connected_client(ack_timeout_ms=10000)
    c.publish("a", b"x", 1000, qos=1)
    c.poll(10999)
    assert c.state == mqtt.CONNECTED
    c.poll(11000)
    assert c.state == mqtt.DISCONNECTED and c.last_error == "ack_timeout"


def test_peer_close_and_send_error_become_state():
    c, t, _ = connected_client()
    t.inbox.append(b"")  # recv returns b"": peer closed
    c.poll(1)
    assert c.state == mqtt.DISCONNECTED and c.last_error == "closed_by_peer"
    c, t, _ = connected_client()
    t.fail_send = True
    assert c.publish("a", b"x", 1, qos=1) is None
    assert c.state == mqtt.DISCONNECTED and c.last_error.startswith("send:")


def test_malformed_remaining_length_drops():
    c, t, _ = connected_client()
    t.feed(b"\x30\xff\xff\xff\xff\x01")
    c.poll(1)
    assert c.state == mqtt.DISCONNECTED and c.last_error == "malformed_length"


def test_oversized_packet_drops_instead_of_growing():
    c, t, _ = connected_client(rx_size=64)
    t.feed(publish_packet("t", b"x" * 100))
    c.poll(1)
    assert c.state == mqtt.DISCONNECTED and c.last_error == "packet_too_large"


def test_packet_ids_skip_pending_and_wrap():
    c, t, _ = connected_client()
    c._next_pid = 65534
    assert c.publish("a", b"", 0, qos=1) == 65535
    assert c.publish("a", b"", 0, qos=1) == 1


def test_disconnect_sends_disconnect_abort_does_not():
    c, t, _ = connected_client()
    c.disconnect()
    assert t.take() == b"\xe0\x00" and t.closed and c.state == mqtt.DISCONNECTED
    c, t, _ = connected_client()
    c.abort()
    assert t.take() == b"" and t.closed


def test_two_largest_acks_on_the_longest_topic_arrive_whole_in_the_default_buffer():
    # A 1024-byte payload (the protocol's limit, acks included) on a 32-character device id.
    c, t, got = connected_client()
    topic = "hailong/v1/devices/" + "k" * 32 + "/ack"
    payload = b'{"v":1,"boot":1,"seq":[1],"pad":"' + b"x" * 989 + b'"}'
    assert len(payload) == 1024
    packet = publish_packet(topic, payload, qos=1, pid=3)
    t.feed(packet + publish_packet(topic, payload, qos=1, pid=4))
    c.poll(0)
    c.poll(0)
    assert c.state == mqtt.CONNECTED
    assert got == [(topic, payload), (topic, payload)]
