"""The device main loop: buttons -> panel -> outbox -> MQTT, and assignment/commands back.

Device(config, clock, net, display, store=None, load_config=None, mem_free=None)
- press(level, uptime_ms=None): the button path. It only stores (level, uptime) in a
  preallocated ring (no JSON, no allocation beyond the ints); step() does the rest. A full ring
  counts `press_overflow`. Callers on other threads must serialise press() among themselves.
- step(): one non-blocking turn of the loop: take presses into the panel and the outbox, drive
  the MQTT client (reconnect with backoff, status, subscriptions, ratings oldest first with at
  most max_in_flight waiting for PUBACK), redraw the display when its text changed.

Ratings are taken offline from the first second; they wait in the outbox (on the device, the
flash journal) until the collector confirms it committed them (protocol: ack), not merely
until the broker's PUBACK; kiosk.sender decides what to send and when a rating may go.
On every connect: status (retained, QoS 1), then SUBSCRIBE to our assignment, command, session
and ack, then the queue from the oldest record; everything unconfirmed goes again, with the
same ids. A missing PUBACK for 10 s makes the client drop the link (kiosk.mqtt), and we
reconnect. A sent rating not confirmed within confirm_timeout_s of its PUBACK goes again.

Boundaries passed in:
- clock: uptime_ms() (monotonic, not wrapping) and wall_ms() (unix ms or None);
- net: connect(host, port) -> transport (kiosk.mqtt), raising OSError; optional rssi();
  connect blocks at most its own timeout, which the hardware layer keeps short — presses
  are still recorded meanwhile because press() only writes the ring;
- display: show(lines);
- store: an outbox store (kiosk.outbox), in RAM by default;
- load_config: callable returning a fresh config dict (command reload_config);
- mem_free: callable returning free heap bytes (status), 0 when not given.

Config keys (dict): device, host, port, username, password, boot, cooldown_s, thanks_s,
queue_capacity, scale, keepalive_s, ack_timeout_s, status_interval_s, max_in_flight,
max_unconfirmed, confirm_timeout_s, backoff_min_s, backoff_max_s, session_mode,
reason_max_level, reason_timeout_s, session_timeout_s.

Counters: sent_acked, confirmed, resent, stale_confirmations (kiosk.sender), invalid[kind]
for each message kind from the collector that could not be decoded.

Long presses (the technician screen) travel through the same ring as presses, as a negative
level, so the interrupt path stays one write of two ints.
"""

try:
    from micropython import const
except ImportError:  # CPython host
    def const(x):
        return x

from kiosk import codec, mqtt, outbox, rating, screen, sender
from kiosk import config as config_file

_RING = const(32)  # presses buffered between two steps; a step runs every ~10 ms
# Protocol limits for `ts`: 2020-01-01 .. 2100-01-01 (unix ms). An ESP32 RTC that was never
# synced starts in 2000; such a time is worse than none, so it is sent as null.
TS_MIN = 1577836800000
TS_MAX = 4102444800000

# Link tuning a technician never needs to touch; the configuration file's keys and their
# defaults live in kiosk.config.
DEFAULTS = dict(config_file.DEFAULTS)
DEFAULTS.update({
    "host": "127.0.0.1",
    "boot": 0,
    "keepalive_s": 60,  # protocol: keep-alive 60 s
    "ack_timeout_s": 10,  # protocol: no PUBACK within 10 s -> reconnect
    "status_interval_s": 60,  # protocol: status every 60 s
    "max_in_flight": 10,
    "max_unconfirmed": 20,  # oldest records in flight or awaiting confirmation, at most
    "backoff_min_s": 1,
    "backoff_max_s": 60,
})


def _cfg(config, key):
    v = config.get(key)
    return DEFAULTS.get(key) if v is None else v


def _reason(e):
    return e.args[0] if e.args else "?"


class Device:
    def __init__(self, config, clock, net, display, store=None, load_config=None,
                 mem_free=None):
        self.config = config
        self.device_id = config["device"]
        if not codec.valid_device_id(self.device_id):
            # Fail at start-up: the collector would reject every message as bad_device_id.
            raise ValueError("bad device id: " + repr(self.device_id))
        self.clock = clock
        self.net = net
        self.display = display
        self.load_config = load_config
        self.mem_free = mem_free
        self.boot = _cfg(config, "boot")
        self.panel = rating.Panel(
            self.boot, int(_cfg(config, "cooldown_s") * 1000),
            int(_cfg(config, "thanks_s") * 1000), _cfg(config, "scale"),
            session_mode=bool(_cfg(config, "session_mode")),
            reason_max_level=_cfg(config, "reason_max_level"),
            reason_timeout_ms=int(_cfg(config, "reason_timeout_s") * 1000),
            session_timeout_ms=int(_cfg(config, "session_timeout_s") * 1000))
        self.outbox = outbox.Outbox(store, _cfg(config, "queue_capacity"))
        self._t_rating = codec.topic(self.device_id, "rating")
        self._t_status = codec.topic(self.device_id, "status")
        self._t_assign = codec.topic(self.device_id, "assignment")
        self._t_command = codec.topic(self.device_id, "command")
        self._t_session = codec.topic(self.device_id, "session")
        self._t_ack = codec.topic(self.device_id, "ack")
        self.client = self._make_client()
        self.sender = sender.Sender(self.outbox)
        self._apply_send_limits(config)
        self._link = False  # a connection attempt or session exists
        self._session = False  # CONNACK received and the session set up
        self._next_attempt = 0
        self._backoff_ms = _cfg(config, "backoff_min_s") * 1000
        self._next_status = 0
        self._now = 0
        self._lines = None
        self._shown_screen = None
        self._shown_online = None
        self._shown_backlog = None
        self._shown_version = None
        # Counters (status, diagnostics). Nothing is dropped without a count.
        self.invalid = {"assignment": 0, "command": 0, "session": 0, "ack": 0}
        self.config_errors = 0
        self.press_overflow = 0
        self.connects = 0
        self.last_rejection = None
        self.last_error = None
        # Press ring, allocated once: the button path writes _head, step() reads _tail.
        self._ring_level = [0] * _RING
        self._ring_time = [0] * _RING
        self._head = 0
        self._tail = 0

    def _make_client(self):
        c = self.config
        return mqtt.MQTTClient(
            self.device_id, keepalive_s=_cfg(c, "keepalive_s"),
            username=c.get("username"), password=c.get("password"),
            will_topic=self._t_status, will_payload=codec.offline_will(self.device_id),
            will_qos=1, will_retain=True,
            ack_timeout_ms=int(_cfg(c, "ack_timeout_s") * 1000),
            connack_timeout_ms=int(_cfg(c, "ack_timeout_s") * 1000),
            ping_timeout_ms=int(_cfg(c, "ack_timeout_s") * 1000),
            on_message=self._on_message)

    # --- state seen from outside ---------------------------------------------------------

    @property
    def connected(self):
        return self._session and self.client.state == mqtt.CONNECTED

    @property
    def queue_depth(self):
        return len(self.outbox)

    @property
    def filtered(self):
        return self.panel.filtered

    @property
    def dropped(self):
        return self.outbox.dropped

    @property
    def invalid_assignments(self):
        return self.invalid["assignment"]

    @property
    def invalid_commands(self):
        return self.invalid["command"]

    @property
    def invalid_sessions(self):
        return self.invalid["session"]

    @property
    def invalid_acks(self):
        return self.invalid["ack"]

    @property
    def awaiting_confirmation(self):
        """Ratings PUBACKed by the broker, not yet confirmed by the collector (this link)."""
        return self.sender.awaiting

    @property
    def sent_acked(self):
        return self.sender.sent_acked

    @property
    def confirmed(self):
        return self.sender.confirmed

    @property
    def resent(self):
        return self.sender.resent

    @property
    def stale_confirmations(self):
        return self.sender.stale_confirmations

    def _apply_send_limits(self, config):
        self.sender.max_in_flight = _cfg(config, "max_in_flight")
        self.sender.window = _cfg(config, "max_unconfirmed")
        self.sender.confirm_ms = int(_cfg(config, "confirm_timeout_s") * 1000)

    @property
    def ignored(self):
        return self.panel.ignored

    def info(self):
        """What the technician screen shows (kiosk.screen.SERVICE_ROWS)."""
        return {"device": self.device_id, "fw": codec.FW_VERSION, "boot": self.boot,
                "broker": str(_cfg(self.config, "host")) + ":" + str(_cfg(self.config, "port")),
                "rssi": self.net.rssi() if hasattr(self.net, "rssi") else None,
                "queue": len(self.outbox), "filtered": self.panel.filtered,
                "ignored": self.panel.ignored, "dropped": self.outbox.dropped,
                "last_error": self.last_error}

    # --- button path ---------------------------------------------------------------------

    def press(self, level, uptime_ms=None):
        """Record a press; returns False when the ring was full (counted)."""
        if uptime_ms is None:
            uptime_ms = self.clock.uptime_ms()
        nxt = (self._head + 1) % _RING
        if nxt == self._tail:
            self.press_overflow += 1
            return False
        self._ring_level[self._head] = level
        self._ring_time[self._head] = uptime_ms
        self._head = nxt  # published last, so the reader never sees a half-written slot
        return True

    def long_press(self, level, uptime_ms=None):
        """Record a long press (technician screen); same ring, negative level."""
        return self.press(-level, uptime_ms)

    def _take_presses(self, now):
        if self._tail == self._head:
            return
        wall = self.clock.wall_ms()
        if wall is not None and (wall < TS_MIN or wall >= TS_MAX):
            wall = None
        while self._tail != self._head:
            i = self._tail
            t = self._ring_time[i]
            level = self._ring_level[i]
            if level < 0:
                self.panel.long_press(-level, t)
            else:
                ts = None if wall is None else wall - (now - t)
                # The outbox write (flash, on the device) happens here, before the screen
                # refresh of this step shows the thank-you.
                rec = self.panel.press(level, t, ts)
                if rec is not None:
                    self.outbox.add(rec)
                    self.sender.touch(now)
                amendment = self.panel.take_amendment()
                if amendment is not None:
                    self.outbox.replace(amendment[1])
                    self.sender.touch(now)
            self._tail = (i + 1) % _RING

    # --- loop ----------------------------------------------------------------------------

    def step(self):
        now = self.clock.uptime_ms()
        self._now = now
        self._take_presses(now)
        self._network(now)
        self._refresh(now)

    def _network(self, now):
        c = self.client
        if c.state != mqtt.DISCONNECTED:
            c.poll(now)
        # PUBACKs first, even when the link just dropped (then _lost forgets them anyway). A
        # PUBACK only says the broker has the rating: it stays queued until the collector's
        # confirmation, which may come on this link or, after a resend, on a later one.
        for pid in c.take_acked():
            self.sender.puback(pid, now)
        if c.state == mqtt.DISCONNECTED:
            if self._link:
                self._lost(now)
            if now >= self._next_attempt:
                self._try_connect(now)
            return
        if c.state == mqtt.CONNECTED:
            if not self._session:
                self._start_session(now)
            if now >= self._next_status:
                self._publish_status(now)
            self.sender.pump(now, self.panel.held, self._send)

    def _try_connect(self, now):
        try:
            t = self.net.connect(_cfg(self.config, "host"), _cfg(self.config, "port"))
        except OSError as e:
            self.last_error = "connect:" + str(e)
            self._schedule_retry(now)
            return
        self._link = True
        self.client.connect(t, now)

    def _schedule_retry(self, now):
        self._next_attempt = now + self._backoff_ms
        # Exponential backoff so a dead broker does not get hammered by a whole fleet.
        self._backoff_ms = min(self._backoff_ms * 2, _cfg(self.config, "backoff_max_s") * 1000)

    def _lost(self, now):
        self._link = False
        self._session = False
        self.sender.drop()
        self.last_error = self.client.last_error
        self._schedule_retry(now)

    def _start_session(self, now):
        self._session = True
        self.connects += 1
        self._backoff_ms = _cfg(self.config, "backoff_min_s") * 1000
        self.sender.reset(now)
        # Protocol order: status first, then subscribe, then the queue (so the ack topic is
        # subscribed before the first rating can be confirmed).
        self._publish_status(now)
        self.client.subscribe([(self._t_assign, 1), (self._t_command, 1), (self._t_session, 1),
                               (self._t_ack, 1)], now)

    def _publish_status(self, now):
        rssi = None
        if hasattr(self.net, "rssi"):
            rssi = self.net.rssi()
        payload = codec.encode_status(
            self.device_id, self.boot, now, self.mem_free() if self.mem_free else 0, rssi,
            len(self.outbox), self.panel.filtered, self.outbox.dropped, self.panel.ignored)
        self.client.publish(self._t_status, payload, now, qos=1, retain=True)
        self._next_status = now + _cfg(self.config, "status_interval_s") * 1000

    def _send(self, rec):
        return self.client.publish(self._t_rating, self._encode(rec), self._now, qos=1)

    def _encode(self, rec):
        # Records replayed from an older journal have no reason/dossier fields.
        reason = rec[rating.R_REASON] if len(rec) > rating.R_REASON else None
        dossier = rec[rating.R_DOSSIER] if len(rec) > rating.R_DOSSIER else None
        return codec.encode_rating(
            self.device_id, rec[rating.R_BOOT], rec[rating.R_SEQ], rec[rating.R_LEVEL],
            rec[rating.R_SCALE], rec[rating.R_OFFICER], rec[rating.R_UPTIME],
            rec[rating.R_TS], rec[rating.R_EXCLUDED], reason, dossier)

    def _refresh(self, now):
        # Render only when something the screen shows may have changed: building the items
        # every 10 ms step was most of the loop's garbage (bench/micropython_heap.py).
        which = self.panel.screen(now)
        online = self.connected
        backlog = 0 if online else len(self.outbox)
        if (which == self._shown_screen and online == self._shown_online
                and backlog == self._shown_backlog and self.panel.version == self._shown_version
                and which != rating.SERVICE):
            return
        self._shown_screen = which
        self._shown_online = online
        self._shown_backlog = backlog
        self._shown_version = self.panel.version
        items = screen.render(self.panel, now, online, len(self.outbox),
                              self.info() if which == rating.SERVICE else None)
        if items != self._lines:
            self._lines = items
            self.display.show(items)

    # --- messages from the collector -----------------------------------------------------

    def _decoded(self, kind, decode, payload):
        """The decoded message, or None: counted and ignored, what is shown stays as it was."""
        try:
            return decode(payload)
        except ValueError as e:
            self.invalid[kind] += 1
            self.last_rejection = kind + ":" + _reason(e)
            return None

    def _on_message(self, topic, payload):
        if topic == self._t_ack:
            ack = self._decoded("ack", codec.decode_ack, payload)
            if ack is not None:
                self.sender.confirm(ack["boot"], ack["seq"], self._now)
        elif topic == self._t_assign:
            a = self._decoded("assignment", codec.decode_assignment, payload)
            if a is not None:
                self.panel.apply_assignment(a)
        elif topic == self._t_command:
            cmd = self._decoded("command", codec.decode_command, payload)
            if cmd is None:
                return
            if cmd["cmd"] == "show_message":
                self.panel.show_message(cmd["text"], cmd["seconds"], self._now)
            elif cmd["cmd"] == "reload_config":
                self.reload_config()
        elif topic == self._t_session:
            session = self._decoded("session", codec.decode_session, payload)
            if session is None:
                return
            if session["action"] == "open":
                self.panel.open_session(session["dossier"], session["seconds"], self._now)
            else:
                self.panel.close_session()

    def reload_config(self):
        """Re-read the configuration and apply it; the queue is kept as it is."""
        if self.load_config is None:
            return False
        try:
            new = self.load_config()
        except (OSError, ValueError) as e:
            self.config_errors += 1
            self.last_error = "config:" + str(e)
            return False
        old = self.config
        merged = dict(old)
        merged.update(new)
        # Identity and boot counter belong to this boot; a config file cannot change them.
        merged["device"] = old["device"]
        merged["boot"] = old["boot"]
        self.config = merged
        self.panel.cooldown_ms = int(_cfg(merged, "cooldown_s") * 1000)
        self.panel.thanks_ms = int(_cfg(merged, "thanks_s") * 1000)
        self.panel.session_mode = bool(_cfg(merged, "session_mode"))
        self.panel.reason_max_level = _cfg(merged, "reason_max_level")
        self.panel.reason_timeout_ms = int(_cfg(merged, "reason_timeout_s") * 1000)
        self.panel.session_timeout_ms = int(_cfg(merged, "session_timeout_s") * 1000)
        self.outbox.capacity = _cfg(merged, "queue_capacity")
        self._apply_send_limits(merged)
        link_keys = ("host", "port", "username", "password", "keepalive_s", "ack_timeout_s")
        for k in link_keys:
            if old.get(k) != merged.get(k):
                # Broker settings changed: a new client, connected on the next step.
                self.client.disconnect()
                self.client = self._make_client()
                self._link = False
                self._session = False
                self.sender.drop()
                self._next_attempt = self._now
                break
        return True

    # --- shutdown ------------------------------------------------------------------------

    def disconnect(self):
        """Clean shutdown: DISCONNECT, so the broker does not publish the last will."""
        self.client.disconnect()
        self._link = False
        self._session = False

    def abort(self):
        """Drop the link without DISCONNECT (as a power cut would): the will is published."""
        self.client.abort()
        self._link = False
        self._session = False
