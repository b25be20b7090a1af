"""MQTT ingest: paho-mqtt subscriber, one writer thread, acknowledgement after commit.

Why this shape:
- The session is persistent (fixed client id, clean session off) and subscriptions are QoS 1,
  so the broker keeps what arrives while the collector is down and resends what it delivered
  but never saw acknowledged.
- paho runs with `manual_ack`: the network thread only parses and queues; the writer thread
  commits a batch (up to `batch_max` it waits for, up to BACKLOG_BATCH_MAX once messages have
  queued up), then acknowledges each message of it, all PUBACKs in one write (paho as the
  ingest needs it, and the inbox between the threads: mqttclient.py). Killed at any moment, the
  collector has either committed a message (and the redelivery is a duplicate it skips by id)
  or not acknowledged it (and the broker delivers it again).
- After the PUBACKs the writer publishes the end-to-end confirmation ("ack", one message per
  device and boot): a device keeps a rating until then, so a broker that loses its store, its
  queue or the collector's session costs a resend, not a rating (docs/protocol.md).
- A PUBACK is only sent on the connection that delivered the message: after a reconnect the
  broker redelivers unacknowledged messages under packet ids it may reuse, so a late PUBACK for
  an id of the old connection could acknowledge a different, uncommitted message.
- The broker may be several nodes of one cluster: a failed or lost connection, or refused
  subscriptions, move the ingest to the next node (collector/ingest/failover.py); health says
  which node it is on.
- The writer does that one job. It then wakes the alert detector
  (collector/ingest/alerting.py), which checks what was committed on its own thread, keeping
  its progress in the database so that a kill between the two loses no check; the retained
  assignments are kept current by another (collector/ingest/assignments.py). Neither can hold
  a message unacknowledged or stop the writer.

Nothing one message holds can stop a thread: the network callbacks catch everything (a parse
that raises becomes a rejection); the writer tells database faults (retried, messages held
unacknowledged) from failures caused by the data, which it isolates by splitting the batch
and keeps as `internal_error:{Exception}` in `rejected`. A thread that stops all the same is
restarted by collector/ingest/supervision.py, which also says why health is `degraded`.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
from dataclasses import dataclass

import paho.mqtt.client as mqtt

from collector.core.settings import BrokerAddress
from collector.ingest import recording
from collector.ingest.alerting import AlertDetector
from collector.ingest.assignments import AssignmentPublisher
from collector.ingest.recording import Incoming
from collector.protocol.messages import MAX_PAYLOAD_BYTES, Rejection, device_topic, parse_message
from collector.ingest.committer import Committer, Stopping
from collector.ingest.failover import RECONNECT_MAX_S, RECONNECT_MIN_S, Failover, guarded
from collector.ingest.mqttclient import Inbox, IngestClient
from collector.ingest.outbound import publish_confirmations
from collector.ingest.receiving import ReceivingRecord
from collector.ratings.alert_rule import DEFAULT_ALERT_RULE, AlertRule
from collector.evaluation.rules.offline import DEFAULT_OFFLINE_RULE, OfflineRule
from collector.db.reader import open_reader
from collector.db.store import BUSY_TIMEOUT_MS, Store, now_ms
from collector.ingest.supervision import IngestState, Supervisor, health_reasons

log = logging.getLogger("hailong.ingest")

SUBSCRIPTIONS = [("hailong/v1/devices/+/rating", 1), ("hailong/v1/devices/+/status", 1)]
BACKLOG_BATCH_MAX = 1000  # messages per commit once they queue up (bench/ingest_ceiling.py)


@dataclass
class _Queued:
    incoming: Incoming
    mid: int
    qos: int
    generation: int
    queued_at: float  # time.monotonic(): how long it has waited uncommitted


def incoming_from_wire(topic: str, payload: bytes, received_at: int, retained: bool,
                       redelivered: bool = False) -> Incoming:
    """Parse a message and keep at most MAX_PAYLOAD_BYTES of it, with its length and digest."""
    parsed = parse_message(topic, payload)
    if len(payload) <= MAX_PAYLOAD_BYTES:
        return Incoming(topic, payload, received_at, parsed, retained,
                        redelivered=redelivered)
    return Incoming(topic, payload[:MAX_PAYLOAD_BYTES], received_at, parsed, retained,
                    size=len(payload), sha256=hashlib.sha256(payload).hexdigest(),
                    redelivered=redelivered)


class Ingest:
    """Subscribes, stores and acknowledges; runs alert detection and the assignments beside."""

    def __init__(self, store_path: str, broker: BrokerAddress, *,
                 client_id: str = "hailong-collector", batch_max: int = 200,
                 batch_wait_s: float = 0.02, busy_timeout_ms: int = BUSY_TIMEOUT_MS,
                 assignment_poll_s: float = 10.0, supervise_s: float = 1.0,
                 alert_rule: AlertRule = DEFAULT_ALERT_RULE,
                 offline_rule: OfflineRule = DEFAULT_OFFLINE_RULE):
        self.store_path = store_path
        self.broker = broker
        self.failover = Failover(broker)
        self.client_id = client_id
        self.batch_max = batch_max
        self.batch_wait_s = batch_wait_s
        # What one commit takes at most once a backlog has queued up: the writer waits for no
        # more than `batch_max` (the broker's first window), but Mosquitto sends further
        # messages as soon as some are acknowledged, and larger commits cost less per rating.
        self.backlog_batch_max = max(batch_max, BACKLOG_BATCH_MAX)
        self.busy_timeout_ms = busy_timeout_ms
        self.connected = threading.Event()
        self.last_error: str | None = None
        self.store_error: str | None = None
        self.totals = {"received": 0, "stored": 0, "duplicate": 0, "rejected": 0, "status": 0,
                       "batches": 0, "internal_errors": 0, "acks": 0}
        self._inbox: Inbox[_Queued] = Inbox()
        self._stopping = threading.Event()
        self._generation = 0
        self._generation_lock = threading.Lock()
        # Broker session bookkeeping (supervision.py, broker_session_lost): whether this client
        # id ever subscribed (read from the database at start), and events for the writer.
        self._subscribed_before = False
        self.session_lost_at: int | None = None
        self._session_events: queue.Queue[tuple[str, int]] = queue.Queue()
        # Writer progress: the oldest message taken but not yet committed, and the last time
        # the writer came round its loop.
        self._in_hand_since: float | None = None
        self._writer_beat = time.monotonic()
        # When it is receiving, as the writer records it; health says when that fails.
        self.receiving = ReceivingRecord(client_id)
        self._writer: threading.Thread | None = None
        self.supervisor = Supervisor(self._stopping, supervise_s)
        self._client = self._make_client()
        # The two units of work beside the writer, each on a thread of its own.
        self._write_lock = threading.Lock()  # the writer's and the detector's (committer.py)
        self.alerts = AlertDetector(store_path, alert_rule, busy_timeout_ms=busy_timeout_ms,
                                    offline=offline_rule, write_lock=self._write_lock)
        self.assignments = AssignmentPublisher(self._client, store_path,
                                               connected=self.connected,
                                               stopping=self._stopping,
                                               poll_s=assignment_poll_s)

    def _make_client(self) -> mqtt.Client:
        # The inbox bounds what the network thread reads ahead of the writer (mqttclient.py).
        client = IngestClient(mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id,
                             clean_session=False, protocol=mqtt.MQTTv311, manual_ack=True,
                             inbox=self._inbox)
        if self.broker.username:
            client.username_pw_set(self.broker.username, self.broker.password)
        client.reconnect_delay_set(min_delay=RECONNECT_MIN_S, max_delay=RECONNECT_MAX_S)
        client.on_connect = guarded(self._on_connect)
        client.on_connect_fail = guarded(self._on_connect_fail)
        client.on_disconnect = guarded(self._on_disconnect)
        client.on_message = guarded(self._on_message)
        client.on_subscribe = guarded(self._on_subscribe)
        return client

    @property
    def assignment_poll_s(self) -> float:
        return self.assignments.poll_s

    @assignment_poll_s.setter
    def assignment_poll_s(self, seconds: float) -> None:
        self.assignments.poll_s = seconds

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        # Migrate before any thread runs: readers (assignments on connect, the API) need tables.
        Store(self.store_path).close()
        reader = open_reader(self.store_path)
        try:
            known = recording.ingest_session(reader, self.client_id)
        finally:
            reader.conn.close()
        self._subscribed_before = known is not None
        self.session_lost_at = known["last_lost_at"] if known else None
        self.alerts.start()
        self._start_writer()
        self.assignments.start()
        self._start_network()
        self.supervisor.watch("network", self._network_alive, self._restart_network)
        self.supervisor.watch("writer", lambda: _alive(self._writer), self._restart_writer)
        self.supervisor.watch(self.alerts.name, self.alerts.alive, self.alerts.start)
        self.supervisor.watch(self.assignments.name, self.assignments.alive,
                              self.assignments.start)
        self.supervisor.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        self.supervisor.join(timeout)
        if self._writer:
            self._writer.join(timeout)
        # After the writer: it hands over what it committed last, which is checked too.
        self.alerts.finish(timeout)
        self.assignments.join(timeout)
        self._client.disconnect()
        self._client.loop_stop()

    def wait_connected(self, timeout: float) -> bool:
        return self.connected.wait(timeout)

    def _start_writer(self) -> None:
        self._writer_beat = time.monotonic()
        self._writer = threading.Thread(target=self._write_loop, name="hailong-writer",
                                        daemon=True)
        self._writer.start()

    def _restart_writer(self) -> None:
        # What the dead writer held is neither committed for sure nor acknowledged: a fresh
        # connection makes the broker deliver every unacknowledged message again.
        self._in_hand_since = None
        self._start_writer()
        self._client.disconnect()  # the network loop ends; the supervisor starts it again

    def _start_network(self) -> None:
        # connect_async + loop_start: a broker that is down at start is retried, not fatal.
        self.failover.connect(self._client)
        self._client.loop_start()

    def _network_alive(self) -> bool:
        # paho keeps its loop thread in `_thread` (None once it has ended) and offers no
        # public probe; loop_start refuses to start a second one while it is set.
        thread = getattr(self._client, "_thread", None)
        return thread is not None and thread.is_alive()

    def _restart_network(self) -> None:
        self.connected.clear()
        self._client.loop_stop()
        self._start_network()

    # --- health -------------------------------------------------------------------------

    def state(self) -> IngestState:
        now = time.monotonic()
        oldest = self._inbox.head()
        head = oldest.queued_at if oldest is not None else None
        waiting = [t for t in (head, self._in_hand_since) if t is not None]
        return IngestState(connected=self.connected.is_set(),
                           session_lost_at=self.session_lost_at, store_error=self.store_error,
                           subscription_refused=self.failover.refused,
                           broker_address=self.broker_address,
                           oldest_waiting_s=now - min(waiting) if waiting else None,
                           writer_idle_s=now - self._writer_beat,
                           stopped=self.supervisor.stopped(),
                           failing=[unit.name for unit in (self.alerts, self.assignments)
                                    if unit.failing is not None]
                           + (["offline_watch"] if self.alerts.watch_failing else [])
                           + (["receiving_record"] if self.receiving.failing else []))

    @property
    def broker_address(self) -> str | None:
        """The node the ingest is connected and subscribed to (no credentials), or None."""
        return str(self.failover.current) if self.connected.is_set() else None

    def health_reasons(self) -> list[str]:
        """Why the ingest is degraded; empty when it is well (collector/ingest/supervision.py)."""
        return health_reasons(self.state(), now_ms())

    # --- paho callbacks (network thread; each wrapped by failover.guarded) ---------------

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        node = self.failover.current
        if reason_code.is_failure:  # paho then drops the connection: on_disconnect moves on
            self.last_error = f"connect refused: {reason_code}"
            log.error("broker %s refused the connection: %s", node, reason_code)
            return
        with self._generation_lock:
            self._generation += 1
        self.last_error = None
        if not flags.session_present and self._subscribed_before:
            self.session_lost_at = now_ms()
            self._session_events.put(("lost", self.session_lost_at))
            log.error("broker %s has no session for %s although it subscribed before: what "
                      "the broker held for the collector is lost", node, self.client_id)
        client.subscribe(SUBSCRIPTIONS)
        log.info("connected to %s (session present: %s)", node, flags.session_present)
        # The broker may have lost the retained assignments: all of them again, on the
        # publisher's thread (this one must go on reading messages).
        self.assignments.publish_all_soon()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        # "Connected" means subscribed: before the SUBACK a first-time session would miss
        # what devices publish, so health and tests wait for this, not for the CONNACK.
        # Refused, it would stay connected and deaf: dropped and tried again (failover.py).
        failed = [code for code in reason_codes if code.is_failure]
        if failed:
            self.last_error = self.failover.refuse(client, failed)
            return
        self.failover.grant(client)
        log.info("subscribed on %s", self.failover.current)
        self._subscribed_before = True
        self._session_events.put(("subscribed", now_ms()))
        self.connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        self._session_events.put(("disconnected", now_ms()))  # receiving ends (recording.py)
        if self._stopping.is_set():
            return
        self.last_error = self.failover.lost(client, reason_code) or self.last_error

    def _on_connect_fail(self, client, userdata) -> None:
        self.last_error = self.failover.unreachable(client)

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        received_at = now_ms()
        try:
            incoming = incoming_from_wire(message.topic, bytes(message.payload), received_at,
                                          bool(message.retain), bool(message.dup))
        except Exception as error:  # noqa: BLE001 - every message gets an outcome
            log.exception("cannot parse a message on %r", getattr(message, "_topic", b""))
            incoming = self._unparsable(message, received_at, error)
        self.totals["received"] += 1
        log.debug("received %s mid=%s", incoming.topic, message.mid)
        self._inbox.put(_Queued(incoming, message.mid, message.qos, self._generation,
                                time.monotonic()))

    @staticmethod
    def _unparsable(message: mqtt.MQTTMessage, received_at: int,
                    error: Exception) -> Incoming:
        raw_topic = getattr(message, "_topic", b"")  # bytes: `.topic` itself may not decode
        topic = bytes(raw_topic).decode("utf-8", "backslashreplace")
        payload = bytes(message.payload)
        return Incoming(topic, payload[:MAX_PAYLOAD_BYTES], received_at,
                        Rejection(f"internal_error:{type(error).__name__}"),
                        bool(message.retain), size=len(payload),
                        sha256=hashlib.sha256(payload).hexdigest())

    # --- writer thread ------------------------------------------------------------------

    def _next_batch(self) -> list[_Queued]:
        return self._inbox.take(self.batch_max, self.batch_wait_s,
                                most=self.backlog_batch_max)

    def _write_loop(self) -> None:
        store = Store(self.store_path, busy_timeout_ms=self.busy_timeout_ms)
        committer: Committer[_Queued] = Committer(store, self._stopping,
                                                  lambda item: item.incoming,
                                                  self._database_fault,
                                                  write_lock=self._write_lock)
        try:
            while not self._stopping.is_set():
                self._writer_beat = time.monotonic()
                # Read before the events: "subscribed" is queued before `connected` is set,
                # so a mark never reaches a span this connection did not open.
                connected = self.connected.is_set()
                self._note_session_events(committer)
                self._note_receiving(committer, connected)
                self._commit(committer, self._next_batch())
            # Commit what already arrived; anything later is left unacknowledged for the
            # broker to deliver again on the next start.
            self._commit(committer, self._inbox.drain())
            self._note_stopped(committer)
        except Stopping:
            pass
        except Exception:
            log.exception("the writer failed; the supervisor restarts it")
            raise
        finally:
            store.close()

    def _database_fault(self, fault: str | None) -> None:
        # Locked, full or read-only disk: the broker keeps the messages; health says why
        # (writer_retrying) until a write succeeds. A retrying writer is not a stuck one.
        self.store_error = fault
        self._writer_beat = time.monotonic()

    def _note_session_events(self, committer: Committer) -> None:
        while True:
            try:
                event, at = self._session_events.get_nowait()
            except queue.Empty:
                return
            # A failure is logged and, for "subscribed", said by health (receiving.py).
            self.receiving.note_event(committer.store.db, event, at, committer.retrying)

    def _note_receiving(self, committer: Committer, connected: bool) -> None:
        """Mark the receiving span alive every RECEIVING_BEAT_S while connected."""
        self.receiving.mark(committer.store.db, connected, now_ms())

    def _note_stopped(self, committer: Committer) -> None:
        """The writer stops: what arrives from now on is not committed, so not received."""
        try:
            recording.note_session(committer.store.db, self.client_id, "disconnected",
                                   now_ms())
        except Exception:  # noqa: BLE001 - the span then ends at its last mark
            log.exception("cannot record that the collector stops receiving")

    def _commit(self, committer: Committer, batch: list[_Queued]) -> None:
        """Commit a batch, then acknowledge and confirm what was committed; never ack first.
        Then the alert detector is woken; it finds what to check in the database itself."""
        if not batch:
            return
        self._in_hand_since = min(item.queued_at for item in batch)
        outcome, committed = committer.record(batch)
        for name, count in outcome.items():
            self.totals[name] += count
        self.totals["batches"] += 1
        incoming = [item.incoming for item in committed]
        self._acknowledge(committed)
        self._in_hand_since = None
        self._confirm(incoming)
        try:
            self.alerts.submit(incoming)
        except Exception:  # noqa: BLE001 - the batch is committed and acknowledged
            log.exception("cannot wake the alert detector for %d message(s)", len(incoming))
        if outcome["rejected"]:
            log.warning("rejected %d message(s); see the rejected table", outcome["rejected"])

    def _acknowledge(self, batch: list[_Queued]) -> None:
        # One write for the batch's PUBACKs (mqttclient.py), on this connection only.
        with self._generation_lock:
            current = [item for item in batch if item.qos and item.generation == self._generation]
            self._client.ack_all(item.mid for item in current if item.qos == 1)
            for item in current:
                if item.qos != 1:
                    self._client.ack(item.mid, item.qos)

    def _confirm(self, committed: list[Incoming]) -> None:
        """Publish the end-to-end confirmation ("ack") of every rating committed."""
        if not self.connected.is_set():
            return  # a lost confirmation costs a resend, which is stored once (by id)
        try:
            self.totals["acks"] += publish_confirmations(self._client, committed)
        except Exception:  # noqa: BLE001 - a confirmation not sent costs only a resend
            log.exception("cannot publish the confirmations")

    # --- outbound -----------------------------------------------------------------------

    def publish_to_device(self, device_id: str, kind: str, payload: bytes) -> None:
        """Send a command or session to one device (QoS 1, not retained: both are momentary)."""
        if not self.connected.is_set():
            raise ConnectionError(f"not connected to the broker {self.broker}")
        self._client.publish(device_topic(device_id, kind), payload, qos=1, retain=False)


def _alive(thread: threading.Thread | None) -> bool:
    return thread is not None and thread.is_alive()

