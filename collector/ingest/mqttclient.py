"""The ingest's MQTT plumbing: paho's client as the collector needs it, and the writer's inbox.

Measured on a 2-core machine (bench/ingest_ceiling.py), a message cost paho more in system calls
than the collector spent validating and storing it: stock paho reads each packet with three or
four `recv` calls (its type, each byte of its length, its body) and sends each PUBACK with a
`send` of its own, after a byte on its wake-up socket. `IngestClient` changes only that:

- `_packet_read` reads what the socket holds (up to READ_SIZE) in one call and hands every
  complete packet in it to paho's own `_packet_handle`, in order; a partial packet waits for
  the rest. The buffer belongs to one socket: a new connection starts with an empty one, so no
  byte of an old connection is ever read as the new one's.
- `_handle_publish` hands a QoS 0 or 1 PUBLISH of MQTT 3.1.1 to `on_message` as a
  `WireMessage` (topic bytes, payload, packet id, QoS, retain, DUP), without paho's
  MQTTMessage and its delivery-tracking condition, its log line, or its search of filtered
  callbacks (the ingest registers none); anything else goes through paho's own handler.
- `ack_all` acknowledges many QoS 1 messages with one queued write of their PUBACKs, each the
  4 bytes paho's `ack` would send (MQTT 3.1.1, 3.4), in the same order, on the connection that
  is current (paho clears its queue of packets on reconnect; the ingest also checks the
  generation: subscriber.py).

These lean on paho 2.x internals (`_packet_read`, `_handle_publish`, `_in_packet`,
`_packet_queue`), which is why
pyproject pins paho below 3; tests/test_ingest_batch.py feeds the reader packets cut at every
byte and checks the PUBACK bytes, and the ingest's tests run it against a real Mosquitto.

`Inbox` carries parsed messages from the network thread to the writer. The writer takes a
batch at a time: it sleeps until the first message, then until the batch is full or its wait
is over; the network thread wakes it only for those two events, not for every message (a
queue.Queue woke it, and switched threads, once per message).
"""

from __future__ import annotations

import struct
import threading
import time
from collections import deque
from typing import Generic, Iterable, TypeVar

import paho.mqtt.client as mqtt
from paho.mqtt.client import MQTT_LOG_DEBUG, MQTT_LOG_ERR, PUBACK, MQTTErrorCode, time_func
from paho.mqtt.exception import MalformedPacket

READ_SIZE = 65536
_PUBACK = struct.Struct("!BBH")  # fixed header (type 4), remaining length 2, packet id
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
    """paho's client, reading in large chunks and acknowledging a batch in one write."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._rx = bytearray()
        self._rx_sock: object = None

    def _packet_read(self) -> MQTTErrorCode:
        if self._sock is not self._rx_sock:  # a new connection reads from an empty buffer
            self._rx_sock, self._rx = self._sock, bytearray()
        try:
            data = self._sock_recv(READ_SIZE)
        except BlockingIOError:
            return MQTTErrorCode.MQTT_ERR_AGAIN
        except OSError as err:  # a timeout, a reset, a closed socket
            self._easy_log(MQTT_LOG_ERR, "failed to receive on socket: %s", err)
            return MQTTErrorCode.MQTT_ERR_CONN_LOST
        if not data:
            return MQTTErrorCode.MQTT_ERR_CONN_LOST
        buffer = self._rx
        buffer += data
        with self._msgtime_mutex:
            self._last_bytes_received = time_func()
        start = 0
        try:
            while True:
                try:
                    packet = split_packet(buffer, start)
                except ValueError:
                    return MQTTErrorCode.MQTT_ERR_PROTOCOL
                if packet is None:
                    return MQTTErrorCode.MQTT_ERR_AGAIN  # all read: wait for the socket
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

    def ack_all(self, mids: Iterable[int]) -> None:
        """PUBACK each QoS 1 message of `mids` (manual_ack), in one queued write."""
        packet = b"".join(_PUBACK.pack(PUBACK, 2, mid) for mid in mids)
        if packet:
            self._packet_queue(PUBACK, packet, 0, 0)


T = TypeVar("T")


class Inbox(Generic[T]):
    """What the network thread received, for the writer to take a batch at a time."""

    def __init__(self) -> None:
        self._items: deque[T] = deque()
        self._wake = threading.Event()
        self._full = 1  # the batch the writer waits for (take's batch_max)

    def put(self, item: T) -> None:
        """Network thread: keep the message; wake the writer only when it may be waiting
        (the first message) or its batch is full."""
        items = self._items
        items.append(item)
        size = len(items)
        if size == 1 or size >= self._full:
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
        return [items.popleft() for _ in range(min(len(items), most or batch_max))]

    def drain(self) -> list[T]:
        """Everything left (the writer's last commit before it stops)."""
        items = self._items
        return [items.popleft() for _ in range(len(items))]

    def head(self) -> T | None:
        """The oldest message waiting, or None."""
        try:
            return self._items[0]
        except IndexError:
            return None
