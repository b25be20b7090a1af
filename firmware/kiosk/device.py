"""The device main loop: buttons -> panel -> outbox -> MQTT, and assignment/commands back.

Device(config, clock, net, display, store=None, load_config=None, mem_free=None)
- press(level, uptime_ms=None): the button path. It only stores (level, uptime) in a
  preallocated ring (no JSON, no allocation beyond the ints); step() does the rest. A full ring
  counts `press_overflow`. Callers on other threads must serialise press() among themselves.
- step(): one non-blocking turn of the loop: take presses into the panel and the outbox, drive
  the MQTT client (reconnect with backoff, status, subscriptions, ratings oldest first with at
  most max_in_flight waiting for PUBACK), redraw the display when its text changed.

Ratings are taken offline from the first second; they wait in the outbox (on the device, the
flash journal) until the COLLECTOR confirms it committed them (protocol: ack), not merely
until the broker's PUBACK: a broker that loses its store, its queue or the collector's session
then costs a resend, never a rating. A rating moves through three states, the last two kept in
RAM only (after a reboot everything in the journal is unsent):
  unsent -> in flight (PUBLISH sent, waiting for PUBACK: `_in_flight`, packet id -> key)
         -> sent (PUBACKed, waiting for the confirmation: `_sent`, key -> resend deadline)
         -> confirmed: removed from the outbox.
On every connect: status (retained, QoS 1), then SUBSCRIBE to our assignment, command, session
and ack, then the queue from the oldest record; everything unconfirmed counts as unsent again,
so it goes again with the same ids. A missing PUBACK for 10 s makes the client drop the link
(kiosk.mqtt), and we reconnect. A sent rating whose confirmation did not come within
confirm_timeout_s of its PUBACK goes again on the same link.

Bounds (RAM and the broker's queue): only the oldest `max_unconfirmed` records of the outbox
(20) are ever in flight or sent, so `_sent` stays that small. While the collector confirms
nothing at all (down, or far behind), the timeout doubles after each round of resends, up to
16 times (16 min by default), and falls back to confirm_timeout_s at the next confirmation:
a collector down for days adds at most 20 copies per device every 16 minutes to the broker's
queue instead of a copy of every rating every minute. The collector stores each id once.

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

Counters: sent_acked (PUBACKs of ratings), confirmed (ratings the collector confirmed and
the outbox let go), resent (ratings sent again after their confirmation timed out),
stale_confirmations (confirmed seqs no longer queued: a repeated ack), invalid["ack"].

Long presses (the technician screen) travel through the same ring as presses, as a negative
level, so the interrupt path stays one write of two ints.
"""

try:
    from micropython import const
except ImportError:  # CPython host
    def const(x):
        return x

from kiosk import codec, mqtt, outbox, rating, screen
from kiosk import config as config_file

_RING = const(32)  # presses buffered between two steps; a step runs every ~10 ms
_CONFIRM_BACKOFF_MAX = const(4)  # the confirmation timeout doubles at most 4 times (16x)
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
        self._in_flight = {}  # packet id -> record key (None once confirmed), awaiting PUBACK
        self._sent = {}  # record key -> uptime ms at which it goes again without confirmation
        self._confirm_backoff = 0  # doublings of confirm_timeout_s since the last confirmation
        self._pump_at = 0  # next uptime the queue may have something to send; None: on an event
        self._pump_held = None  # the record held for its reason when the queue was last looked at
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
        self.sent_acked = 0
        self.confirmed = 0
        self.resent = 0
        self.stale_confirmations = 0
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
        return len(self._sent)

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
                    self._pump_at = now
                amendment = self.panel.take_amendment()
                if amendment is not None:
                    self.outbox.replace(amendment[1])
                    self._pump_at = now
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
            if pid not in self._in_flight:
                continue
            key = self._in_flight.pop(pid)
            self.sent_acked += 1
            self._pump_at = now  # room in flight
            if key is not None:  # None: confirmed while this copy was in flight
                self._sent[key] = now + self._confirm_ms()
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
            self._pump(now)

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
        # Everything unconfirmed is sent again on the next session: a broker that lost its
        # store (the usual reason for a dropped link) may have lost what it PUBACKed.
        self._in_flight = {}
        self._sent = {}
        self.last_error = self.client.last_error
        self._schedule_retry(now)

    def _start_session(self, now):
        self._session = True
        self.connects += 1
        self._backoff_ms = _cfg(self.config, "backoff_min_s") * 1000
        self._in_flight = {}
        self._sent = {}
        self._pump_at = now
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

    def _confirm_ms(self):
        return int(_cfg(self.config, "confirm_timeout_s") * 1000) << self._confirm_backoff

    def _pump(self, now):
        """Send what is unsent or overdue among the oldest records, within the bounds.

        Looks at the queue only when something changed (a record, a PUBACK, a confirmation,
        the held record, a new session) or a deadline came: not every 10 ms step, which would
        copy the window each time.
        """
        held = self.panel.held
        due = self._pump_at
        if (due is None or now < due) and held == self._pump_held:
            return
        self._pump_held = held
        self._pump_at = None
        limit = _cfg(self.config, "max_in_flight")
        if len(self._in_flight) >= limit or not len(self.outbox):
            return  # a PUBACK or a new record brings us back
        flying = list(self._in_flight.values())  # at most max_in_flight keys
        overdue = False
        # The record waiting for its reason is held back; those behind it may go.
        for rec in self.outbox.first(_cfg(self.config, "max_unconfirmed")):
            key = (rec[0], rec[1])
            if key in flying or key == held:
                continue
            deadline = self._sent.get(key)
            if deadline is not None and now < deadline:
                if self._pump_at is None or deadline < self._pump_at:
                    self._pump_at = deadline
                continue
            if len(self._in_flight) >= limit:
                break  # the next PUBACK brings us back
            pid = self.client.publish(self._t_rating, self._encode(rec), now, qos=1)
            if pid is None:
                return  # link dropped; the next step reconnects
            self._in_flight[pid] = key
            if deadline is not None:
                # No confirmation in time: the broker may have lost it, or the collector is
                # down or behind. Sent again, same id; the collector stores it once.
                del self._sent[key]
                self.resent += 1
                overdue = True
        if overdue and self._confirm_backoff < _CONFIRM_BACKOFF_MAX:
            self._confirm_backoff += 1
        if len(self._sent) > 2 * _cfg(self.config, "max_unconfirmed"):
            self._forget_gone()

    def _forget_gone(self):
        """Drop `_sent` keys no longer in the window (e.g. dropped by a full outbox)."""
        keep = {}
        for rec in self.outbox.first(_cfg(self.config, "max_unconfirmed")):
            key = (rec[0], rec[1])
            if key in self._sent:
                keep[key] = self._sent[key]
        self._sent = keep

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
                self._confirm(ack["boot"], ack["seq"])
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

    def _confirm(self, boot, seqs):
        """The collector committed these ratings: they leave the outbox (the journal)."""
        for seq in seqs:
            key = (boot, seq)
            if self.outbox.remove(key):
                self.confirmed += 1
            else:
                self.stale_confirmations += 1  # a repeated ack, or a rating already confirmed
            self._sent.pop(key, None)
            for pid in list(self._in_flight):
                if self._in_flight[pid] == key:
                    self._in_flight[pid] = None  # its PUBACK must not put it back in _sent
        # The collector is there: timeouts back to confirm_timeout_s, and whatever was waiting
        # on a longer one is due by then.
        if self._confirm_backoff:
            self._confirm_backoff = 0
            latest = self._now + self._confirm_ms()
            for key in list(self._sent):
                if self._sent[key] > latest:
                    self._sent[key] = latest
        self._pump_at = self._now

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
        link_keys = ("host", "port", "username", "password", "keepalive_s", "ack_timeout_s")
        for k in link_keys:
            if old.get(k) != merged.get(k):
                # Broker settings changed: a new client, connected on the next step.
                self.client.disconnect()
                self.client = self._make_client()
                self._link = False
                self._session = False
                self._in_flight = {}
                self._sent = {}
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
