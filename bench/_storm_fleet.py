"""The simulated devices of bench/backlog_storm.py: one child process drives hundreds of them.

Each device is a lightweight protocol-level client, not the firmware's whole loop: a paho
client (the MQTT) carrying the firmware's own flush logic and bytes —
- its journal is the firmware's `Outbox` (RAM store) holding its queued ratings, and its
  `Sender` decides what goes and when, as on the device: the oldest 20 at most unconfirmed,
  10 at most awaiting their PUBACK, a rating leaving the queue only on the collector's `ack`,
  a resend when that has not come `confirm_timeout_s` (60 s) after the PUBACK;
- the bytes are the firmware's encoder's (kiosk/codec.py), the device's own boot and seqs;
- on every connect, as docs/protocol.md says: clean session, last will, its status, then its
  four topics at QoS 1 (the `ack` among them), then its queue; a status every 60 s; no PUBACK
  within 10 s closes the link, and a lost link is tried again after 1 s, doubling to 60 s.

Why paho and one selector loop per process, not a thread per device nor hand-written MQTT:
paho is the library the collector and the tests use and supports an external event loop
(`on_socket_open` … `loop_read`/`loop_write`/`loop_misc`), so hundreds of clients share one
epoll loop and one thread; 3,000 threads would spend the two cores on switching, and
hand-written packets (bench/broker_connections.py) would be a second MQTT implementation to
trust. Several such processes (backlog_storm --processes) use both cores.

Run by backlog_storm.py: `python bench/_storm_fleet.py SPEC.json`; prints `ready`, waits for a
line on stdin, connects every device at once, runs until every device's queue is confirmed
(or the deadline), then prints one JSON line.
"""

from __future__ import annotations

import json
import resource
import selectors
import sys
import time
from pathlib import Path

import paho.mqtt.client as mqtt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "firmware"))

from kiosk import codec, outbox, sender  # noqa: E402 - the firmware's own code, as on a device

PUBACK_TIMEOUT_S = 10.0  # docs/protocol.md, "Device connection"
STATUS_EVERY_S = 60.0
BACKOFF_MIN_S, BACKOFF_MAX_S = 1.0, 60.0
TICK_S = 0.5  # deadlines (resends, statuses, keep-alive, reconnects) are looked at this often


def raise_nofile() -> int:
    """Soft limit of open files up to the hard one: a socket per device."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def now_ms() -> int:
    return int(time.monotonic() * 1000)


class Loop:
    """One epoll loop for many paho clients (paho's external-loop callbacks)."""

    def __init__(self) -> None:
        self.selector = selectors.DefaultSelector()

    def attach(self, client: mqtt.Client) -> None:
        client.on_socket_open = self._open
        client.on_socket_close = self._close
        client.on_socket_register_write = self._want_write
        client.on_socket_unregister_write = self._written

    def _open(self, client, userdata, sock) -> None:
        self.selector.register(sock, selectors.EVENT_READ, client)

    def _close(self, client, userdata, sock) -> None:
        try:
            self.selector.unregister(sock)
        except (KeyError, ValueError):
            pass

    def _want_write(self, client, userdata, sock) -> None:
        try:
            self.selector.modify(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, client)
        except (KeyError, ValueError):
            pass

    def _written(self, client, userdata, sock) -> None:
        try:
            self.selector.modify(sock, selectors.EVENT_READ, client)
        except (KeyError, ValueError):
            pass

    def run_once(self, timeout: float) -> None:
        for key, mask in self.selector.select(timeout):
            client = key.data
            if mask & selectors.EVENT_READ:
                client.loop_read()
            if mask & selectors.EVENT_WRITE:
                client.loop_write()


class Device:
    """One counter device reconnecting with its journal full."""

    def __init__(self, spec: dict, run: dict, loop: Loop) -> None:
        self.name = name = spec["device"]
        self.boot = run["boot"]
        per_device, interval = run["per_device"], run["press_interval_ms"]
        self.outbox = outbox.Outbox(capacity=max(outbox.DEFAULT_CAPACITY, per_device))
        for seq in range(per_device):  # kiosk.rating's record tuple, as the journal holds it
            level = 1 + seq % 4
            self.outbox.add((self.boot, seq, level, 4, spec["officer"], 60_000 + seq * interval,
                             run["ts_base"] + seq * interval, None,
                             "waiting" if level == 1 else None, None))
        self.uptime_at_boot = now_ms() - 60_000 - per_device * interval
        self.sender = sender.Sender(self.outbox, max_in_flight=10, window=20,
                                    confirm_ms=int(run["confirm_timeout_s"] * 1000))
        self.topics = {kind: codec.topic(name, kind)
                       for kind in ("rating", "status", "assignment", "command", "session", "ack")}
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=name,
                             clean_session=True, protocol=mqtt.MQTTv311)
        client.username_pw_set(spec["username"], spec["password"])
        client.will_set(self.topics["status"], codec.offline_will(name), qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        loop.attach(client)
        self.client = client
        self.keepalive = run["keepalive_s"]
        self.published: dict[int, float] = {}  # packet id -> when, awaiting its PUBACK
        self.session = False
        self.reconnect_at: float | None = None
        self.backoff = BACKOFF_MIN_S
        self.next_status = 0.0
        self.done_at: float | None = None
        self.closing = False  # the run is over: the link is closed on purpose
        self.counts = {"connects": 0, "lost": 0, "refused": 0, "puback_timeouts": 0,
                       "ratings_sent": 0, "acks_received": 0}

    # --- the link ----------------------------------------------------------------------

    def connect(self, port: int) -> None:
        try:
            self.client.connect("127.0.0.1", port, keepalive=self.keepalive)
        except OSError:
            self.counts["refused"] += 1
            self._retry_later()

    def _retry_later(self) -> None:
        self.reconnect_at = time.monotonic() + self.backoff
        self.backoff = min(self.backoff * 2, BACKOFF_MAX_S)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.counts["refused"] += 1
            return  # paho closes; on_disconnect schedules the next attempt
        self.session = True
        self.counts["connects"] += 1
        self.backoff = BACKOFF_MIN_S
        now = now_ms()
        self.sender.reset(now)
        # Protocol order: status, then the subscriptions (the ack's among them), then the queue.
        self._status(time.monotonic())
        client.subscribe([(self.topics[kind], 1)
                          for kind in ("assignment", "command", "session", "ack")])
        self.sender.pump(now, None, self._send)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if self.session and not self.closing:
            self.counts["lost"] += 1
        self.session = False
        self.published.clear()
        self.sender.drop()  # whatever was unconfirmed goes again on the next session
        if self.done_at is None:
            self._retry_later()

    def _status(self, now: float) -> None:
        uptime = now_ms() - self.uptime_at_boot
        self.client.publish(self.topics["status"],
                            codec.encode_status(self.name, self.boot, uptime, 90_000, -60,
                                                len(self.outbox), 0, 0), qos=1, retain=True)
        self.next_status = now + STATUS_EVERY_S

    # --- the journal's flush ------------------------------------------------------------

    def _send(self, rec: tuple) -> int | None:
        payload = codec.encode_rating(self.name, rec[0], rec[1], rec[2], rec[3], rec[4],
                                      rec[5], rec[6], rec[7], rec[8], rec[9])
        info = self.client.publish(self.topics["rating"], payload, qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            return None
        self.published[info.mid] = time.monotonic()
        self.counts["ratings_sent"] += 1
        return info.mid

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        if self.published.pop(mid, None) is not None:
            now = now_ms()
            self.sender.puback(mid, now)
            self.sender.pump(now, None, self._send)

    def _on_message(self, client, userdata, message) -> None:
        if message.topic != self.topics["ack"]:
            return  # the retained assignment: this device shows nothing
        try:
            ack = codec.decode_ack(message.payload)
        except ValueError:
            return
        self.counts["acks_received"] += 1
        now = now_ms()
        self.sender.confirm(ack["boot"], ack["seq"], now)
        if not len(self.outbox) and self.done_at is None:
            self.done_at = time.monotonic()
        self.sender.pump(now, None, self._send)

    def tick(self, port: int, now: float) -> None:
        """Deadlines: the reconnect, keep-alive, a late PUBACK, the status, resends."""
        if self.client.socket() is not None:
            self.client.loop_misc()  # keep-alive, and a CONNACK that never comes
        if not self.session:
            if self.reconnect_at is not None and now >= self.reconnect_at \
                    and self.client.socket() is None:
                self.reconnect_at = None
                self.connect(port)
            return
        if self.published and now - min(self.published.values()) > PUBACK_TIMEOUT_S:
            self.counts["puback_timeouts"] += 1
            self.client.disconnect()  # the firmware closes the link and starts over
            return
        if now >= self.next_status:
            self._status(now)
        self.sender.pump(now_ms(), None, self._send)

    def report(self) -> dict:
        return {"device": self.name, "confirmed": self.sender.confirmed,
                "stale_confirmations": self.sender.stale_confirmations,
                "resent": self.sender.resent, "queued": len(self.outbox), **self.counts}


def run(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    raise_nofile()
    loop = Loop()
    devices = [Device(device, spec, loop) for device in spec["devices"]]
    port = spec["port"]
    print("ready", flush=True)
    sys.stdin.readline()  # the orchestrator's go: every process connects at the same moment
    cpu = time.process_time()
    first_connect = time.monotonic()
    for device in devices:
        device.connect(port)
    connected_at = None
    deadline = first_connect + spec["timeout_s"]
    next_tick = 0.0
    while time.monotonic() < deadline:
        loop.run_once(TICK_S / 5)
        now = time.monotonic()
        if connected_at is None and all(d.counts["connects"] for d in devices):
            connected_at = now
        if now >= next_tick:
            next_tick = now + TICK_S
            for device in devices:
                device.tick(port, now)
            if all(d.done_at is not None for d in devices):
                break
    cpu = time.process_time() - cpu
    for device in devices:
        device.closing = True
        if device.session:
            device.client.disconnect()
            device.client.loop_write()
    done = [d.done_at for d in devices if d.done_at is not None]
    print(json.dumps({"first_connect": first_connect, "all_connected": connected_at,
                      "all_confirmed": max(done) if len(done) == len(devices) else None,
                      "cpu": cpu, "devices": [d.report() for d in devices]}), flush=True)


if __name__ == "__main__":
    run(sys.argv[1])
