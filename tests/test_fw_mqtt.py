"""MQTT client: arbitrary splits of the incoming stream (hypothesis, CPython only).

The byte-exact client tests run on CPython and MicroPython from tests/core/test_core_mqtt.py.
"""

from core_support import FakeTransport, publish_packet
from hypothesis import given, settings
from hypothesis import strategies as st
from kiosk import mqtt


def connected_client():
    got = []
    c = mqtt.MQTTClient("kiosk-1", on_message=lambda t, p: got.append((t, p)))
    t = FakeTransport()
    c.connect(t, 0)
    t.feed(b"\x20\x02\x00\x00")
    c.poll(0)
    assert c.state == mqtt.CONNECTED
    t.take()
    return c, t, got


@settings(max_examples=60, deadline=None)
@given(payloads=st.lists(st.binary(max_size=300), min_size=1, max_size=5),
       cuts=st.lists(st.integers(1, 40), min_size=1, max_size=30))
def test_any_split_of_the_stream_gives_the_same_messages(payloads, cuts):
    c, t, got = connected_client()
    stream = b"".join(publish_packet("t/%d" % i, p, qos=0) for i, p in enumerate(payloads))
    pos = 0
    i = 0
    while pos < len(stream):
        n = cuts[i % len(cuts)]
        t.feed(stream[pos:pos + n])
        pos += n
        i += 1
        c.poll(1)
    for _ in range(len(stream)):
        if not t.inbox:
            break
        c.poll(1)
    assert got == [("t/%d" % i, p) for i, p in enumerate(payloads)]
    assert c.state == mqtt.CONNECTED
