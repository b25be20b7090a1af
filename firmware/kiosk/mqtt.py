"""A small, non-blocking MQTT 3.1.1 client driven by poll(now_ms).

Why our own and not micropython-lib or mqtt_as:
- umqtt.simple blocks in wait_msg() while waiting for a PUBACK and has no PUBACK tracking
  that a caller can tie to a persistent queue;
- umqtt.robust retries by reconnecting in a blocking loop, which would freeze the screen and
  the buttons for as long as the network is down;
- mqtt_as is large, owns Wi-Fi and asyncio, and keeps its outgoing queue in RAM, which is lost
  on a power cycle.
We need PUBACK tracking tied to our own outbox/journal (the device tells a rating the broker
has from one still in flight; it leaves the queue only on the collector's confirmation, see
kiosk.device), a timeout on every network call, and a codec/client that is testable on the
host with a fake transport that records the exact bytes.

Design:
- The transport is passed in: send(data) sends all or raises OSError; recv(n) returns bytes
  (b"" when the peer closed); readable() -> bool without blocking; close(). The transport
  owns the socket timeouts; this module never blocks except inside a bounded send.
- poll(now_ms) reads what is available, parses complete packets from a preallocated receive
  buffer (remaining-length varint), dispatches them, and runs the timers: CONNACK timeout,
  PUBACK/SUBACK timeout (protocol: no PUBACK within 10 s -> close and reconnect), keep-alive
  PINGREQ when idle, and a dead-connection timeout when no PINGRESP comes back.
- Every transport error, protocol error or timeout becomes state DISCONNECTED with a reason in
  last_error; nothing leaks to the main loop. Reconnecting is the caller's job (with backoff).
- Acknowledged packet ids are collected; the caller takes them with take_acked() and marks
  the matching records as held by the broker.
- Inbound PUBLISH packets must fit the receive buffer (2048 bytes by default): a protocol
  payload of 1024 bytes on the longest device topic is about 1.1 KB with its header, so one
  whole message always fits beside the start of the next. A larger packet drops the link
  (`packet_too_large`) rather than growing the heap.
- QoS 2 is not supported: we never publish or subscribe with it.

MicroPython compatible: no typing, no time, no socket (the transport hides them).
"""

try:
    from micropython import const
except ImportError:  # CPython host
    def const(x):
        return x

DISCONNECTED = const(0)
CONNECTING = const(1)
CONNECTED = const(2)

# Control packet types (first byte, high nibble), MQTT 3.1.1 section 2.2.1.
_CONNECT = const(0x10)
_CONNACK = const(2)
_PUBLISH = const(3)
_PUBACK = const(4)
_SUBSCRIBE = const(0x82)  # type 8 with the reserved flags 0b0010 (section 3.8.1)
_SUBACK = const(9)
_PINGRESP = const(13)

_PINGREQ_PKT = b"\xc0\x00"
_DISCONNECT_PKT = b"\xe0\x00"

_MAX_READS_PER_POLL = const(8)  # bounds the time one poll spends reading


def encode_varint(n):
    """MQTT remaining length (section 2.2.3): 7 bits per byte, high bit = more follows."""
    if n < 0 or n > 268435455:
        raise ValueError("remaining length out of range")
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _str(s):
    # MQTT UTF-8 string: two-byte big-endian length, then the bytes.
    if isinstance(s, str):
        s = s.encode("utf-8")
    return bytes((len(s) >> 8, len(s) & 0xFF)) + s


class MQTTClient:
    def __init__(self, client_id, keepalive_s=60, username=None, password=None,
                 will_topic=None, will_payload=None, will_qos=1, will_retain=True,
                 ack_timeout_ms=10000, connack_timeout_ms=10000, ping_timeout_ms=10000,
                 on_message=None, rx_size=2048):
        self.client_id = client_id
        self.keepalive_ms = keepalive_s * 1000
        self.username = username
        self.password = password
        self.will_topic = will_topic
        self.will_payload = will_payload
        self.will_qos = will_qos
        self.will_retain = will_retain
        self.ack_timeout_ms = ack_timeout_ms
        self.connack_timeout_ms = connack_timeout_ms
        self.ping_timeout_ms = ping_timeout_ms
        self.on_message = on_message
        # Allocated once: the largest packet we accept is bounded by this buffer (payloads
        # are at most 1024 bytes by protocol, acks included; the rest is topic and header).
        self._rx = bytearray(rx_size)
        self._rx_len = 0
        self._t = None
        self.state = DISCONNECTED
        self.last_error = None
        self._pending = {}  # packet id -> send time (ms) of PUBLISH QoS1 / SUBSCRIBE
        self._acked = []
        self._next_pid = 0
        self._now = 0
        self._last_sent = 0
        self._since = 0  # CONNECT send time
        self._ping_sent = None
        self.suback_codes = None
        self.received = 0

    # --- connection ----------------------------------------------------------------------

    def connect(self, transport, now_ms):
        """Start a session on an open transport: send CONNECT, wait for CONNACK in poll()."""
        if self._t is not None:
            self._close_transport()
        self._t = transport
        self._rx_len = 0
        self._pending = {}
        self._ping_sent = None
        self._now = now_ms
        self._since = now_ms
        self.last_error = None
        self.state = CONNECTING
        self._send(self.connect_packet())

    def connect_packet(self):
        flags = 0x02  # clean session: assignment is retained, commands are idempotent
        payload = _str(self.client_id)
        if self.will_topic is not None:
            flags |= 0x04 | (self.will_qos << 3)
            if self.will_retain:
                flags |= 0x20
            payload += _str(self.will_topic) + _str(self.will_payload or b"")
        if self.username is not None:
            flags |= 0x80
            payload += _str(self.username)
            if self.password is not None:
                # A password without a user name is not allowed (section 3.1.2.9).
                flags |= 0x40
                payload += _str(self.password)
        ka = self.keepalive_ms // 1000
        var = b"\x00\x04MQTT\x04" + bytes((flags, ka >> 8, ka & 0xFF))
        body = var + payload
        return bytes((_CONNECT,)) + encode_varint(len(body)) + body

    def disconnect(self):
        """Clean close: DISCONNECT tells the broker not to publish the last will."""
        if self._t is not None and self.state != DISCONNECTED:
            try:
                self._t.send(_DISCONNECT_PKT)
            except OSError:
                pass  # closing anyway; the broker then fires the will, which is correct
        self._drop("disconnect")

    def abort(self):
        """Drop the connection without DISCONNECT (the broker fires the last will)."""
        self._drop("abort")

    def _close_transport(self):
        t = self._t
        self._t = None
        if t is not None:
            try:
                t.close()
            except OSError:
                pass  # the socket is being discarded; nothing left to recover

    def _drop(self, reason):
        self._close_transport()
        if self.state != DISCONNECTED:
            self.last_error = reason
        self.state = DISCONNECTED
        self._pending = {}
        self._ping_sent = None
        self._rx_len = 0

    def _send(self, data):
        if self._t is None:
            return False
        try:
            self._t.send(data)
        except OSError as e:
            self._drop("send:" + str(e))
            return False
        self._last_sent = self._now
        return True

    # --- outgoing ------------------------------------------------------------------------

    def _alloc_pid(self):
        # 1..65535, skipping ids still waiting for their ack (section 2.3.1).
        for _ in range(65535):
            self._next_pid = self._next_pid % 65535 + 1
            if self._next_pid not in self._pending:
                return self._next_pid
        raise ValueError("no free packet id")

    def publish(self, topic, payload, now_ms, qos=0, retain=False):
        """Send PUBLISH. Returns the packet id (QoS 1), 0 (QoS 0) or None when not sent."""
        if self.state != CONNECTED:
            return None
        self._now = now_ms
        pid = 0
        var = _str(topic)
        if qos:
            pid = self._alloc_pid()
            var += bytes((pid >> 8, pid & 0xFF))
        first = 0x30 | (qos << 1) | (1 if retain else 0)
        pkt = bytes((first,)) + encode_varint(len(var) + len(payload)) + var + payload
        if qos:
            self._pending[pid] = now_ms
        if not self._send(pkt):
            return None
        return pid

    def subscribe(self, topics, now_ms):
        """SUBSCRIBE to [(topic, qos), ...] in one packet; returns the packet id or None."""
        if self.state != CONNECTED:
            return None
        self._now = now_ms
        pid = self._alloc_pid()
        body = bytes((pid >> 8, pid & 0xFF))
        for t, q in topics:
            body += _str(t) + bytes((q,))
        self._pending[pid] = now_ms
        if not self._send(bytes((_SUBSCRIBE,)) + encode_varint(len(body)) + body):
            return None
        return pid

    def take_acked(self):
        """Packet ids of PUBLISH QoS 1 acknowledged since the last call."""
        acked = self._acked
        self._acked = []
        return acked

    def in_flight(self):
        return len(self._pending)

    # --- incoming and timers -------------------------------------------------------------

    def poll(self, now_ms):
        """Read and dispatch what has arrived, then run the timers. Never raises OSError."""
        self._now = now_ms
        if self.state == DISCONNECTED:
            return
        reads = 0
        while self._t is not None and reads < _MAX_READS_PER_POLL:
            try:
                if not self._t.readable():
                    break
                free = len(self._rx) - self._rx_len
                if free <= 0:
                    self._drop("packet_too_large")
                    return
                data = self._t.recv(free)
            except OSError as e:
                self._drop("recv:" + str(e))
                return
            if not data:
                self._drop("closed_by_peer")
                return
            n = len(data)
            self._rx[self._rx_len:self._rx_len + n] = data
            self._rx_len += n
            reads += 1
            self._parse()
        if self.state != DISCONNECTED:
            self._timers(now_ms)

    def _timers(self, now):
        if self.state == CONNECTING:
            if now - self._since >= self.connack_timeout_ms:
                self._drop("connack_timeout")
            return
        for pid in self._pending:
            if now - self._pending[pid] >= self.ack_timeout_ms:
                self._drop("ack_timeout")
                return
        if self._ping_sent is not None:
            if now - self._ping_sent >= self.ping_timeout_ms:
                self._drop("ping_timeout")
            return
        if self.keepalive_ms and now - self._last_sent >= self.keepalive_ms:
            # Idle for a keep-alive period: the broker would drop us at 1.5x (section 3.1.2.10).
            if self._send(_PINGREQ_PKT):
                self._ping_sent = now

    def _parse(self):
        buf = self._rx
        pos = 0
        end = self._rx_len
        while self.state != DISCONNECTED and end - pos >= 2:
            # Remaining length: up to four varint bytes after the first header byte.
            rl = 0
            mult = 1
            i = pos + 1
            complete = False
            while i < end:
                b = buf[i]
                rl += (b & 0x7F) * mult
                i += 1
                if not b & 0x80:
                    complete = True
                    break
                mult *= 128
                if i - pos > 4:
                    self._drop("malformed_length")
                    return
            if not complete:
                break
            if i - pos + rl > len(buf):
                self._drop("packet_too_large")
                return
            if i + rl > end:
                break
            self._dispatch(buf[pos], bytes(buf[i:i + rl]))
            pos = i + rl
        if self.state == DISCONNECTED:
            return
        if pos:
            # Move the unparsed tail to the front of the (reused) buffer.
            rest = end - pos
            buf[0:rest] = buf[pos:end]
            self._rx_len = rest

    def _dispatch(self, first, body):
        kind = first >> 4
        if kind == _CONNACK:
            if self.state != CONNECTING or len(body) < 2:
                self._drop("protocol:connack")
            elif body[1] != 0:
                self._drop("connack:" + str(body[1]))
            else:
                self.state = CONNECTED
        elif kind == _PUBLISH:
            self._on_publish(first, body)
        elif kind == _PUBACK:
            if len(body) >= 2:
                pid = (body[0] << 8) | body[1]
                if pid in self._pending:
                    del self._pending[pid]
                    self._acked.append(pid)
        elif kind == _SUBACK:
            if len(body) >= 2:
                pid = (body[0] << 8) | body[1]
                if pid in self._pending:
                    del self._pending[pid]
                self.suback_codes = body[2:]
                for code in body[2:]:
                    if code & 0x80:
                        # A refused subscription (a clustered broker that could not set it
                        # up) would leave the device without its confirmations for good:
                        # reconnect and subscribe again.
                        self._drop("suback_refused")
                        return
        elif kind == _PINGRESP:
            self._ping_sent = None
        # Other packet types are not sent to a 3.1.1 client that uses QoS <= 1; ignore them.

    def _on_publish(self, first, body):
        qos = (first >> 1) & 3
        if qos > 1 or len(body) < 2:
            self._drop("protocol:publish")
            return
        tlen = (body[0] << 8) | body[1]
        p = 2 + tlen
        try:
            topic = body[2:p].decode("utf-8")
        except UnicodeError:
            self._drop("protocol:topic")
            return
        pid = 0
        if qos:
            if len(body) < p + 2:
                self._drop("protocol:publish")
                return
            pid = (body[p] << 8) | body[p + 1]
            p += 2
        self.received += 1
        if self.on_message is not None:
            self.on_message(topic, body[p:])
        if qos:
            # Acknowledge after the handler ran: the message has been applied.
            self._send(bytes((0x40, 0x02, pid >> 8, pid & 0xFF)))
