"""Fakes of the firmware's boundaries (transport, network, display).

FakeTransport records the exact bytes the client sends and plays back scripted bytes.
FakeBroker is a tiny in-process MQTT peer for device-loop tests: it parses what the client
sends and answers CONNECT/SUBSCRIBE/PUBLISH QoS 1 unless told to stay silent.
"""

import json

MOSQUITTO = "/usr/sbin/mosquitto"


class FakeTransport:
    def __init__(self, chunks=()):
        self.sent = []
        self.inbox = list(chunks)
        self.closed = False
        self.fail_send = False

    def feed(self, data):
        self.inbox.append(bytes(data))

    def send(self, data):
        if self.closed or self.fail_send:
            raise OSError("send failed")
        self.sent.append(bytes(data))

    def recv(self, n):
        if not self.inbox:
            return b""
        data = self.inbox[0]
        if len(data) > n:
            self.inbox[0] = data[n:]
            return data[:n]
        self.inbox.pop(0)
        return data

    def readable(self):
        return bool(self.inbox)

    def close(self):
        self.closed = True

    def take(self):
        out = b"".join(self.sent)
        self.sent = []
        return out


def split_packets(data):
    """Split a byte stream into (first_byte, body) MQTT packets (test-side parser)."""
    out = []
    pos = 0
    while pos < len(data):
        first = data[pos]
        rl, mult, i = 0, 1, pos + 1
        while True:
            b = data[i]
            i += 1
            rl += (b & 0x7F) * mult
            if not b & 0x80:
                break
            mult *= 128
        out.append((first, data[i:i + rl]))
        pos = i + rl
    return out


def parse_publish(first, body):
    tlen = int.from_bytes(body[:2], "big")
    topic = body[2:2 + tlen].decode()
    p = 2 + tlen
    pid = None
    if (first >> 1) & 3:
        pid = int.from_bytes(body[p:p + 2], "big")
        p += 2
    return topic, pid, body[p:]


def publish_packet(topic, payload, qos=0, pid=1, retain=False):
    t = topic.encode()
    var = len(t).to_bytes(2, "big") + t + (pid.to_bytes(2, "big") if qos else b"")
    body = var + payload
    rl = bytearray()
    n = len(body)
    while True:
        b = n & 0x7F
        n >>= 7
        rl.append(b | (0x80 if n else 0))
        if not n:
            break
    return bytes((0x30 | (qos << 1) | int(retain),)) + bytes(rl) + body


class FakeBroker:
    """Answers the client over FakeTransports; records publishes (topic, payload, pid)."""

    def __init__(self):
        self.transports = []
        self.publishes = []
        self.subscribes = []
        self.ack_publishes = True
        self.refuse = False
        self.retained = {}
        self.attempts = 0

    def connect(self, host, port):
        self.attempts += 1
        if self.refuse:
            raise OSError("connection refused")
        t = FakeTransport()
        self.transports.append(t)
        return t

    @property
    def current(self):
        return self.transports[-1]

    def serve(self):
        """Process everything the current client sent since the last call."""
        if not self.transports:
            return
        t = self.current
        if t.closed:
            return
        for first, body in split_packets(t.take()):
            kind = first >> 4
            if kind == 1:
                t.feed(b"\x20\x02\x00\x00")  # CONNACK accepted; retained go after SUBSCRIBE
            elif kind == 3:
                topic, pid, payload = parse_publish(first, body)
                self.publishes.append((topic, payload, pid))
                if pid is not None and self.ack_publishes:
                    t.feed(b"\x40\x02" + pid.to_bytes(2, "big"))
            elif kind == 8:
                pid = body[:2]
                self.subscribes.append(body)
                t.feed(b"\x90\x04" + pid + b"\x01\x01")
                for topic, payload in self.retained.items():
                    t.feed(publish_packet(topic, payload, qos=1, pid=900, retain=True))
            elif kind == 12:
                t.feed(b"\xd0\x00")

    def ratings(self):
        return [json.loads(p) for (topic, p, pid) in self.publishes if topic.endswith("/rating")]


class FakeDisplay:
    def __init__(self):
        self.lines = []
        self.shows = 0

    def show(self, lines):
        self.lines = list(lines)
        self.shows += 1

    def text(self):
        return "\n".join(self.lines)
