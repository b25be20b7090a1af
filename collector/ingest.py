"""MQTT ingest: paho-mqtt subscriber, one writer thread, acknowledgement after commit.

Why this shape:
- The session is persistent (fixed client id, clean session off) and subscriptions are QoS 1,
  so the broker keeps what arrives while the collector is down and resends what it delivered
  but never saw acknowledged.
- paho runs with `manual_ack`: the network thread only parses and queues; the writer thread
  commits a small batch, then acknowledges each message of it. Killed at any moment, the
  collector has either committed a message (and the redelivery is a duplicate it skips by id)
  or not acknowledged it (and the broker delivers it again).
- A PUBACK is only sent on the connection that delivered the message: after a reconnect the
  broker redelivers unacknowledged messages under packet ids it may reuse, so a late PUBACK for
  an id of the old connection could acknowledge a different, uncommitted message.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt

from . import alerts
from .messages import Rating, Rejection, device_topic, encode_ack, encode_assignment, parse_message
from .policy import DEFAULT_ALERT_RULE, AlertRule
from .queries import current_assignments, open_reader
from .store import BUSY_TIMEOUT_MS, Incoming, Store, now_ms

log = logging.getLogger("hailong.ingest")

SUBSCRIPTIONS = [("hailong/v1/devices/+/rating", 1), ("hailong/v1/devices/+/status", 1)]


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> "BrokerAddress":
        parts = urlsplit(url if "://" in url else f"mqtt://{url}")
        if parts.scheme != "mqtt" or not parts.hostname:
            raise ValueError(f"broker must look like mqtt://HOST:PORT, not {url!r}")
        return cls(parts.hostname, parts.port or 1883, parts.username, parts.password)

    def __str__(self) -> str:
        return f"mqtt://{self.host}:{self.port}"


@dataclass
class _Queued:
    incoming: Incoming
    mid: int
    qos: int
    generation: int


def assignment_payload(row: dict) -> bytes:
    """The assignment message for one row of queries.current_assignments."""
    officer = None
    if row["officer_id"]:
        officer = {"id": row["officer_id"], "name": row["officer_name"],
                   "title": row["officer_title"], "unit": row["unit_name"]}
    return encode_assignment(counter=row["counter_label"], scale=row["scale"], officer=officer)


def confirmations(committed) -> dict[tuple[str, int], list[int]]:
    """{(device, boot): [seq, ...]} of the ratings among `committed` Incoming items that the
    collector can name: stored or duplicate ratings, and rejected ones whose topic device is
    valid and whose payload holds integer boot and seq."""
    confirmed: dict[tuple[str, int], list[int]] = {}
    for item in committed:
        parsed = item.parsed
        if isinstance(parsed, Rating):
            confirmed.setdefault((parsed.device, parsed.boot), []).append(parsed.seq)
        elif isinstance(parsed, Rejection) and parsed.device is not None \
                and parsed.boot is not None and parsed.seq is not None:
            confirmed.setdefault((parsed.device, parsed.boot), []).append(parsed.seq)
    return confirmed


class Ingest:
    """Subscribes, stores and acknowledges; publishes each device's retained assignment."""

    def __init__(self, store_path: str, broker: BrokerAddress, *,
                 client_id: str = "hailong-collector", batch_max: int = 200,
                 batch_wait_s: float = 0.02, busy_timeout_ms: int = BUSY_TIMEOUT_MS,
                 assignment_poll_s: float = 10.0,
                 alert_rule: AlertRule = DEFAULT_ALERT_RULE):
        self.store_path = store_path
        self.alert_rule = alert_rule
        self.broker = broker
        self.client_id = client_id
        self.batch_max = batch_max
        self.batch_wait_s = batch_wait_s
        self.busy_timeout_ms = busy_timeout_ms
        self.assignment_poll_s = assignment_poll_s
        # Last assignment payload published per device: the roster and the registry may change
        # from another process (the CLI), so the collector polls and sends only what changed.
        self._assignments: dict[str, bytes] = {}
        self._assignments_lock = threading.Lock()
        self._poller: threading.Thread | None = None
        self.connected = threading.Event()
        self.last_error: str | None = None
        self.store_error: str | None = None
        self.totals = {"received": 0, "stored": 0, "duplicate": 0, "rejected": 0, "status": 0,
                       "batches": 0}
        self._inbox: queue.Queue[_Queued] = queue.Queue()
        self._stopping = threading.Event()
        self._generation = 0
        self._generation_lock = threading.Lock()
        self._writer: threading.Thread | None = None
        self._client = self._make_client()

    def _make_client(self) -> mqtt.Client:
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id,
                             clean_session=False, protocol=mqtt.MQTTv311, manual_ack=True)
        if self.broker.username:
            client.username_pw_set(self.broker.username, self.broker.password)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        return client

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        # Migrate before any thread runs: readers (assignments on connect, the API) need tables.
        Store(self.store_path).close()
        self._writer = threading.Thread(target=self._write_loop, name="hailong-writer",
                                        daemon=True)
        self._writer.start()
        self._poller = threading.Thread(target=self._poll_assignments,
                                        name="hailong-assignments", daemon=True)
        self._poller.start()
        # connect_async + loop_start: a broker that is down at start is retried, not fatal.
        self._client.connect_async(self.broker.host, self.broker.port, keepalive=30)
        self._client.loop_start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self._writer:
            self._writer.join(timeout)
        if self._poller:
            self._poller.join(timeout)
        self._client.disconnect()
        self._client.loop_stop()

    def wait_connected(self, timeout: float) -> bool:
        return self.connected.wait(timeout)

    # --- paho callbacks (network thread) -------------------------------------------------

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.last_error = f"connect refused: {reason_code}"
            log.error("broker %s refused the connection: %s", self.broker, reason_code)
            return
        with self._generation_lock:
            self._generation += 1
        self.last_error = None
        client.subscribe(SUBSCRIPTIONS)
        log.info("connected to %s (session present: %s)", self.broker, flags.session_present)
        self.publish_assignments(everything=True)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        # "Connected" means subscribed: before the SUBACK a first-time session would miss
        # what devices publish, so health and tests wait for this, not for the CONNACK.
        failed = [code for code in reason_codes if code.is_failure]
        if failed:
            self.last_error = f"subscription refused: {failed[0]}"
            log.error("broker %s refused our subscriptions: %s", self.broker, failed)
            return
        self.connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        if not self._stopping.is_set():
            self.last_error = f"disconnected: {reason_code}"
            log.warning("lost broker %s: %s; paho reconnects", self.broker, reason_code)

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        received_at = now_ms()
        payload = bytes(message.payload)
        parsed = parse_message(message.topic, payload)
        self.totals["received"] += 1
        log.debug("received %s mid=%s", message.topic, message.mid)
        self._inbox.put(_Queued(Incoming(message.topic, payload, received_at, parsed),
                                message.mid, message.qos, self._generation))

    # --- writer thread ------------------------------------------------------------------

    def _next_batch(self) -> list[_Queued]:
        try:
            first = self._inbox.get(timeout=0.2)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + self.batch_wait_s
        while len(batch) < self.batch_max:
            remaining = deadline - time.monotonic()
            try:
                batch.append(self._inbox.get(timeout=max(remaining, 0)) if remaining > 0
                             else self._inbox.get_nowait())
            except queue.Empty:
                break
        return batch

    def _write_loop(self) -> None:
        store = Store(self.store_path, busy_timeout_ms=self.busy_timeout_ms)
        try:
            while not self._stopping.is_set():
                self._commit(store, self._next_batch())
            # Commit what already arrived; anything later is left unacknowledged for the
            # broker to deliver again on the next start.
            leftover = []
            while True:
                try:
                    leftover.append(self._inbox.get_nowait())
                except queue.Empty:
                    break
            self._commit(store, leftover)
        finally:
            store.close()

    def _commit(self, store: Store, batch: list[_Queued]) -> None:
        """Commit a batch, then acknowledge it; on a database error retry, never ack first."""
        if not batch:
            return
        delay = 0.5
        while True:
            try:
                outcome = store.record_batch(item.incoming for item in batch)
                break
            except sqlite3.Error as error:
                # Locked, full or read-only disk: the messages stay unacknowledged, so the
                # broker keeps them; the health check says why until the write succeeds.
                self.store_error = f"{type(error).__name__}: {error}"
                log.error("cannot commit %d message(s): %s; retrying", len(batch), error)
                if self._stopping.wait(delay):
                    return
                delay = min(delay * 2, 30)
        self.store_error = None
        for name, count in outcome.items():
            self.totals[name] += count
        self.totals["batches"] += 1
        # Before the acknowledgement: after a crash here the broker redelivers the batch, and
        # the check is safe to run twice (it never raises; it logs).
        alerts.check_after_batch(store.db, [item.incoming for item in batch], self.alert_rule,
                                 now_ms())
        self._acknowledge(batch)
        self._confirm(batch)
        if outcome["rejected"]:
            log.warning("rejected %d message(s); see the rejected table", outcome["rejected"])

    def _acknowledge(self, batch: list[_Queued]) -> None:
        with self._generation_lock:
            for item in batch:
                if item.qos and item.generation == self._generation:
                    self._client.ack(item.mid, item.qos)

    def _confirm(self, batch: list[_Queued]) -> None:
        """Publish the end-to-end confirmation ("ack", docs/protocol.md) of every rating the
        batch committed an outcome for; the device deletes it from its journal only then."""
        if not self.connected.is_set():
            return  # a lost confirmation costs a resend, which is stored once (by id)
        for (device, boot), seqs in confirmations(item.incoming for item in batch).items():
            for payload in encode_ack(boot, seqs):
                self._client.publish(device_topic(device, "ack"), payload, qos=1, retain=False)

    # --- outbound -----------------------------------------------------------------------

    def publish_assignments(self, everything: bool = False) -> int:
        """Publish, retained, each active device's assignment that changed since the last time
        (all of them when `everything`); clear the retained one of a device no longer active.
        Returns how many messages went out."""
        reader = open_reader(self.store_path)
        try:
            rows = current_assignments(reader)
        finally:
            reader.conn.close()
        sent = 0
        with self._assignments_lock:
            if everything:
                self._assignments.clear()
            current = {row["device_id"]: assignment_payload(row) for row in rows}
            for device_id, payload in current.items():
                if self._assignments.get(device_id) != payload:
                    self._client.publish(device_topic(device_id, "assignment"), payload, qos=1,
                                         retain=True)
                    self._assignments[device_id] = payload
                    sent += 1
            for device_id in [d for d in self._assignments if d not in current]:
                # An empty retained message deletes the broker's copy (MQTT 3.1.1, 3.3.1.3).
                self._client.publish(device_topic(device_id, "assignment"), b"", qos=1,
                                     retain=True)
                del self._assignments[device_id]
                sent += 1
        return sent

    def _poll_assignments(self) -> None:
        while not self._stopping.wait(self.assignment_poll_s):
            if self.connected.is_set():
                try:
                    self.publish_assignments()
                except sqlite3.Error as error:
                    log.error("cannot read the roster: %s", error)

    def publish_to_device(self, device_id: str, kind: str, payload: bytes) -> None:
        """Send a command or session to one device (QoS 1, not retained: both are momentary)."""
        if not self.connected.is_set():
            raise ConnectionError(f"not connected to the broker {self.broker}")
        self._client.publish(device_topic(device_id, kind), payload, qos=1, retain=False)
