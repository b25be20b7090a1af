"""The ingest's MQTT plumbing: paho's client as the collector needs it, and the writer's inbox.

Measured on a 2-core machine (bench/ingest_ceiling.py), a message cost paho more in system calls
than the collector spent validating and storing it: stock paho reads each packet with three or
four `recv` calls (its type, each byte of its length, its body) and sends each PUBACK with a
`send` of its own, after a byte on its wake-up socket. `IngestClient` changes that, sets no
limit on its own messages in flight (OUTBOUND_INFLIGHT), and holds its reading while the
writer's inbox is full (below):

- `_packet_read` reads what the socket holds (up to READ_SIZE) in one call and hands every
  complete packet in it to paho's own `_packet_handle`, in order; a partial packet waits for
  the rest. The buffer belongs to one socket: a new connection starts with an empty one, so no
  byte of an old connection is ever read as the new one's.
- `_handle_publish` hands a QoS 0 or 1 PUBLISH of MQTT 3.1.1 to `on_message` as a
  `WireMessage` (topic bytes, payload, packet id, QoS, retain, DUP), without paho's
  MQTTMessage and its delivery-tracking condition, its log line, or its search of filtered
  callbacks (the ingest registers none); anything else goes through paho's own handler.
- `_handle_pubackcomp` takes the broker's PUBACK of an MQTT 3.1.1 publish (the collector's
  confirmations) without paho's decoding of a reason code and properties it cannot carry.
- `ack_all` acknowledges many QoS 1 messages with one queued write of their PUBACKs, each the
  4 bytes paho's `ack` would send (MQTT 3.1.1, 3.4), in the same order, on the connection that
  is current (paho clears its queue of packets on reconnect; the ingest also checks the
  generation: subscriber.py).

These lean on paho 2.x internals (`_packet_read`, `_handle_publish`, `_handle_pubackcomp`,
`_in_packet`, `_packet_queue`, `_loop`, `_ping_t`, `_sockpairR`/`_sockpairW`), which is why
pyproject pins paho below 3; tests/test_ingest_batch.py feeds the reader packets cut at every
byte and checks the PUBACK bytes, tests/test_ingest_inbox_bound.py and
tests/test_ingest_outbound_window.py pin the hold and the collector's own publishes, and the
ingest's tests run it against a real Mosquitto.

`Inbox` carries parsed messages from the network thread to the writer. The writer takes a
batch at a time: it sleeps until the first message, then until the batch is full or its wait
is over; the network thread wakes it only for those two events, not for every message (a
queue.Queue woke it, and switched threads, once per message).

The inbox is bounded (bench/backlog_storm.py): Mosquitto 2.0.11 stops keeping to its in-flight
window for the collector once acknowledgements flow, so in a backlog storm the network thread
would queue whatever the broker sends and the collector's memory would grow with the storm
(about 1 KB a message). An `IngestClient` given the inbox reads no further packet once it holds
`high` messages, and reads again once the writer has taken it below `low`:
- the bytes already read stay in the client's buffer, the rest in the socket: TCP holds the
  broker back, and the broker keeps what it could not send. Nothing unread is acknowledged
  (the writer acknowledges after its commit), so nothing is lost and nothing is early;
- while it holds, the loop waits on paho's wake-up socket only (and on its own socket for
  writing): the writer's PUBACKs and the confirmations still go out, a hold never spins, and
  the writer wakes it when the inbox has room (`on_room`);
- keep-alive goes on: paho sends PINGREQ on time, but the PINGRESP waits unread behind the
  held messages, and paho would close a connection whose PINGRESP is a keep-alive late. While
  holding, the client forgets the outstanding PINGREQ (the broker's silence proves nothing
  when we are the ones not reading), so paho sends another each keep-alive and the broker,
  which hears them, keeps the connection. A dead link shows when reading resumes.
"""

from __future__ import annotations

import select
import struct
import threading
import time
from collections import deque
from typing import Callable, Generic, Iterable, TypeVar

import paho.mqtt.client as mqtt
from paho.mqtt.client import (MQTT_LOG_DEBUG, MQTT_LOG_ERR, PUBACK, MQTTErrorCode, sockpair_data,
                               time_func)
from paho.mqtt.exception import MalformedPacket
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

READ_SIZE = 65536
# The inbox's high-water mark, in messages (about 1 KB each, parsed): ten of the writer's
# backlog batches (subscriber.BACKLOG_BATCH_MAX, 1,000). Reading resumes below half of it,
# while five are left, so the writer never waits for the network thread to refill it.
INBOX_HIGH = 10_000
# While holding, the loop looks at its keep-alive at least this often (paho's own loop: 1 s).
HOLD_WAIT_S = 0.25
# The collector's own QoS 1 messages (confirmations, assignments) on their way at once: paho's
# 0, no limit. Its default of 20 let through 20 per round trip, and the round trip of a busy
# collector includes reading the storm ahead of the broker's PUBACK: in a backlog storm (about
# one confirmation per rating) the confirmations fell minutes behind, the devices resent what
# they had not seen confirmed (after 60 s) and the storm grew by half (bench/backlog_storm.py).
# Not a larger limit either: under any limit paho looks through every message in flight on
# each PUBACK (`_update_inflight`), which a 10,000 limit made cost more than the storing.
# MQTT 3.1.1 sets no limit on a client's messages in flight to the broker; only its 65,535
# packet ids do, and paho refuses a publish whose id is still in flight (a confirmation not
# sent costs the device a resend, stored once and confirmed again).
OUTBOUND_INFLIGHT = 0
_PUBACK = struct.Struct("!BBH")  # fixed header (type 4), remaining length 2, packet id
# What paho's PUBACK decoding gives every MQTT 3.1.1 PUBACK, built once (`_handle_pubackcomp`).
_PUBACK_OK = ReasonCode(PacketTypes.PUBACK)
_PUBACK_PROPERTIES = Properties(PacketTypes.PUBACK)
_UINT16 = struct.Struct("!H")


class WireMessage:
    """A PUBLISH as the ingest reads it: the attributes of paho's MQTTMessage it uses."""

    __slots__ = ("_topic", "payload", "mid", "qos", "retain", "dup")

    def __init__(self, topic: bytes, payload: bytes, mid: int, qos: int, retain: bool,
                 dup: bool) -> None:
        self._topic, self.payload, self.mid = topic, payload, mid
        self.qos, self.retain, self.dup = qos, retain, dup

    @property
    def topic(self) -> str:
        return self._topic.decode("utf-8")  # UnicodeDecodeError, as paho's MQTTMessage


def _fresh_in_packet() -> dict:
    # paho's own starting state of `_in_packet` (client.py, `reconnect` and `_packet_read`).
    return {"command": 0, "have_remaining": 0, "remaining_count": [], "remaining_mult": 1,
            "remaining_length": 0, "packet": bytearray(b""), "to_process": 0, "pos": 0}


def split_packet(buffer: bytearray | bytes, start: int) -> tuple[int, int, int] | None:
    """(command, body start, body end) of the complete MQTT packet at `start`, or None while
    it is incomplete. ValueError for a remaining length longer than MQTT's four bytes."""
    end = len(buffer)
    index, length, shift = start + 1, 0, 0
    while True:
        if index >= end:
            return None
        byte = buffer[index]
        length += (byte & 127) << shift
        index += 1
        if not byte & 128:
            break
        shift += 7
        if shift > 21:
            raise ValueError("remaining length longer than four bytes")
    if index + length > end:
        return None
    return buffer[start], index, index + length


class IngestClient(mqtt.Client):
    """paho's client, reading in large chunks and acknowledging a batch in one write; given
    the writer's `inbox`, it holds reading while the inbox is at its high-water mark."""

    def __init__(self, *args, inbox: "Inbox | None" = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.max_inflight_messages_set(OUTBOUND_INFLIGHT)
        self._rx = bytearray()
        self._rx_sock: object = None
        self._rx_ready = False  # a complete packet was left in `_rx` by a hold
        self._inbox = inbox
        if inbox is not None:
            inbox.on_room(self._wake_loop)

    def _holding(self) -> bool:
        inbox = self._inbox
        return inbox is not None and inbox.holding()

    def _wake_loop(self) -> None:
        """Writer thread: the inbox has room; wake the network loop as paho's publish does."""
        pair = self._sockpairW
        if pair is not None:
            try:
                pair.send(sockpair_data)
            except OSError:  # full (it is awake already) or closed (the loop has ended)
                pass

    def _loop(self, timeout: float = 1.0) -> MQTTErrorCode:
        if self._sock is None or self._inbox is None:
            return super()._loop(timeout)
        if self._holding():
            return self._loop_holding(timeout)
        if self._rx_ready:  # what a hold left in the buffer comes before the socket's bytes
            self._rx_ready = False
            if self._sock is self._rx_sock:
                rc = self._handle_buffer()
                if rc > 0:
                    return self._loop_rc_handle(rc)
                if self._rx_ready:
                    return MQTTErrorCode.MQTT_ERR_SUCCESS  # held again: the next round waits
        return super()._loop(timeout)

    def _loop_holding(self, timeout: float) -> MQTTErrorCode:
        """One round of paho's loop without reading: wait for the wake-up socket (a packet
        queued by another thread, or room in the inbox) or, with packets to send, for room in
        the socket; send; then keep-alive (see the module docstring)."""
        sock, pair = self._sock, self._sockpairR
        wlist = [sock] if self.want_write() else []
        try:
            ready = select.select([pair] if pair is not None else [], wlist, [],
                                  min(timeout, HOLD_WAIT_S))
        except (OSError, TypeError, ValueError):  # closed meanwhile: paho's own loop says so
            return super()._loop(0.0)
        if pair is not None and ready[0]:
            try:
                pair.recv(10000)
            except BlockingIOError:
                pass
        if self.want_write():
            rc = self.loop_write()
            if rc or self._sock is None:
                return rc
        self._ping_t = 0  # its PINGRESP is unread behind the held messages, not missing
        return self.loop_misc()

    def _packet_read(self) -> MQTTErrorCode:
        if self._sock is not self._rx_sock:  # a new connection reads from an empty buffer
            self._rx_sock, self._rx, self._rx_ready = self._sock, bytearray(), False
        if self._holding():
            return MQTTErrorCode.MQTT_ERR_AGAIN
        try:
            data = self._sock_recv(READ_SIZE)
        except BlockingIOError:
            return MQTTErrorCode.MQTT_ERR_AGAIN
        except OSError as err:  # a timeout, a reset, a closed socket
            self._easy_log(MQTT_LOG_ERR, "failed to receive on socket: %s", err)
            return MQTTErrorCode.MQTT_ERR_CONN_LOST
        if not data:
            return MQTTErrorCode.MQTT_ERR_CONN_LOST
        self._rx += data
        with self._msgtime_mutex:
            self._last_bytes_received = time_func()
        return self._handle_buffer()

    def _handle_buffer(self) -> MQTTErrorCode:
        """Hand every complete packet of the buffer to paho's `_packet_handle`, in order,
        until the buffer holds only part of one or the inbox is at its mark."""
        buffer = self._rx
        start = 0
        try:
            while True:
                try:
                    packet = split_packet(buffer, start)
                except ValueError:
                    return MQTTErrorCode.MQTT_ERR_PROTOCOL
                if packet is None:
                    return MQTTErrorCode.MQTT_ERR_AGAIN  # all read: wait for the socket
                if self._holding():
                    self._rx_ready = True  # kept for when the writer has made room
                    return MQTTErrorCode.MQTT_ERR_AGAIN
                command, body, start = packet
                self._in_packet = {"command": command, "have_remaining": 1,
                                   "remaining_count": [], "remaining_mult": 1,
                                   "remaining_length": start - body,
                                   "packet": buffer[body:start], "to_process": 0, "pos": 0}
                try:
                    rc = self._packet_handle()
                except MalformedPacket as exc:
                    self._easy_log(MQTT_LOG_DEBUG, "Received malformed packet: %s", exc)
                    rc = MQTTErrorCode.MQTT_ERR_PROTOCOL
                self._in_packet = _fresh_in_packet()
                if rc:
                    return rc  # the loop drops the connection, and this buffer with it
                if self._sock is not self._rx_sock:
                    return MQTTErrorCode.MQTT_ERR_AGAIN  # closed meanwhile: the rest is void
        finally:
            del buffer[:start]

    def _handle_publish(self) -> MQTTErrorCode:
        command, packet = self._in_packet["command"], self._in_packet["packet"]
        qos = (command & 0x06) >> 1
        if qos == 2 or self._protocol != mqtt.MQTTv311:
            return super()._handle_publish()
        # MQTT 3.1.1, 3.3.2: topic length and topic, the packet id (QoS 1), the payload.
        size = len(packet)
        topic_end = 2 + (_UINT16.unpack_from(packet)[0] if size >= 2 else size)
        start = topic_end + (2 if qos else 0)
        if topic_end == 2 or start > size:
            raise MalformedPacket("PUBLISH too short for its topic and packet id")
        mid = _UINT16.unpack_from(packet, topic_end)[0] if qos else 0
        view = memoryview(packet)
        message = WireMessage(bytes(view[2:topic_end]), bytes(view[start:]), mid, qos,
                              bool(command & 0x01), bool(command & 0x08))
        on_message = self.on_message
        if on_message is not None:
            with self._in_callback_mutex:
                try:
                    on_message(self, self._userdata, message)
                except Exception as err:  # as paho's own dispatch does
                    self._easy_log(MQTT_LOG_ERR, "Caught exception in on_message: %s", err)
                    if not self.suppress_exceptions:
                        raise
        # QoS 1 under manual_ack: the ingest acknowledges after its commit (ack_all).
        return MQTTErrorCode.MQTT_ERR_SUCCESS if self._manual_ack or not qos \
            else self._send_puback(mid)

    def _handle_pubackcomp(self, cmd) -> MQTTErrorCode:
        # A PUBACK of MQTT 3.1.1 is the packet id alone; paho's decoding built a reason code
        # and an empty Properties for each, and in a storm the broker sends one for about
        # every rating the collector confirms (more than the confirmation's publish cost).
        if cmd != "PUBACK" or self._protocol != mqtt.MQTTv311:
            return super()._handle_pubackcomp(cmd)
        packet = self._in_packet["packet"]
        if len(packet) != 2:
            raise MalformedPacket("wrong size of packet")  # as paho's decode_puback
        mid = _UINT16.unpack(packet)[0]
        with self._out_message_mutex:
            if mid in self._out_messages:
                return self._do_on_publish(mid, _PUBACK_OK, _PUBACK_PROPERTIES)
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def ack_all(self, mids: Iterable[int]) -> None:
        """PUBACK each QoS 1 message of `mids` (manual_ack), in one queued write."""
        packet = b"".join(_PUBACK.pack(PUBACK, 2, mid) for mid in mids)
        if packet:
            self._packet_queue(PUBACK, packet, 0, 0)


T = TypeVar("T")


class Inbox(Generic[T]):
    """What the network thread received, for the writer to take a batch at a time; bounded
    by `high` messages when the network thread is an IngestClient given it (see above)."""

    def __init__(self, high: int = INBOX_HIGH, low: int | None = None) -> None:
        self.high = high
        self.low = high // 2 if low is None else low
        if not 0 < self.low <= self.high:
            raise ValueError("the inbox's marks need 0 < low <= high")
        self._items: deque[T] = deque()
        self._wake = threading.Event()
        self._full = 1  # the batch the writer waits for (take's batch_max)
        # Counters (tests, bench): the most messages held at once, and how often the network
        # thread had to stop reading.
        self.peak = 0
        self.holds = 0
        self._holding = False
        self._hold_lock = threading.Lock()  # the two threads' hold and release
        self._on_room: Callable[[], None] | None = None

    def __len__(self) -> int:
        return len(self._items)

    def on_room(self, callback: Callable[[], None]) -> None:
        """Call `callback` (writer thread) when the writer takes a holding inbox below `low`."""
        self._on_room = callback

    def holding(self) -> bool:
        """Network thread, before each packet: must it stop reading? From `high` messages
        until the writer has taken the inbox below `low`."""
        if self._holding:
            if len(self._items) >= self.low:
                return True
            self._release()  # the writer's wake-up may be on its way; no matter
            return False
        if len(self._items) < self.high:
            return False
        with self._hold_lock:
            # Again under the lock: the writer may have taken a batch since.
            if len(self._items) >= self.high:
                self._holding = True
                self.holds += 1
        return self._holding

    def _release(self) -> bool:
        with self._hold_lock:
            if self._holding and len(self._items) < self.low:
                self._holding = False
                return True
        return False

    def _taken(self) -> None:
        # Writer thread, after it took: room again wakes the network thread, once per hold.
        if self._holding and len(self._items) < self.low and self._release():
            callback = self._on_room
            if callback is not None:
                callback()

    def put(self, item: T) -> None:
        """Network thread: keep the message; wake the writer only when it may be waiting
        (the first message) or its batch is full."""
        items = self._items
        items.append(item)
        size = len(items)
        if size > self.peak:
            self.peak = size
        # Not again while it is set: during a backlog the writer is busy, and Event.set takes
        # a lock and notifies for nothing (once per message, measured under yappi).
        if (size == 1 or size >= self._full) and not self._wake.is_set():
            self._wake.set()

    def take(self, batch_max: int, wait_s: float, idle_s: float = 0.2,
             most: int | None = None) -> list[T]:
        """Writer: waits up to `idle_s` for a first message, then up to `wait_s` for
        `batch_max`; takes up to `most` (default `batch_max`) of what is there. [] when
        nothing came (the writer's loop goes round)."""
        self._full = batch_max
        items = self._items
        if not items:
            self._wake.clear()
            if not items:  # a put between the check and the clear has set it again
                self._wake.wait(idle_s)
            if not items:
                return []
        deadline = time.monotonic() + wait_s
        while len(items) < batch_max:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._wake.clear()
            if len(items) >= batch_max:
                break
            self._wake.wait(remaining)
        batch = [items.popleft() for _ in range(min(len(items), most or batch_max))]
        self._taken()
        return batch

    def drain(self) -> list[T]:
        """Everything left (the writer's last commit before it stops)."""
        items = self._items
        batch = [items.popleft() for _ in range(len(items))]
        self._taken()
        return batch

    def head(self) -> T | None:
        """The oldest message waiting, or None."""
        try:
            return self._items[0]
        except IndexError:
            return None
