"""The rating state machine: what the counter shows and what a press produces.

Screens, in the order one hides another:
- "config_error": the configuration is unusable; the problems are listed; no ratings.
- "message":  a show_message command drawn over everything else for N seconds.
- "service":  the technician screen, opened by a long press, closed by a press or a timeout.
- "closed":   the counter is closed (assignment state "closed"): presses are not ratings.
- "reason":   after a low rating, "what were you not satisfied with?" on the same buttons.
- "thanks":   shown for thanks_ms after an accepted press, then back to the card.
- "waiting":  session mode without an open dossier: the citizen is asked to rate later.
- "card":     the officer card (counter, name, title, unit), the prompt and the button labels.
Every screen but the card and "closed" times out back to the card.

Rules:
- The scale (3, 4 or 5 levels) comes from the assignment; the config's scale until one arrives.
- Ratings are taken from the first second after boot, before any assignment (officer null):
  the collector attributes them by its roster.
- After an accepted press, presses during the cooldown are still recorded, with
  excluded="cooldown", and counted in `filtered` (domain brief: shown as excluded, never lost).
- Session mode (domain brief: one dossier, one rating): a rating opens only when a session with
  a dossier code arrives; the accepted press carries the code and closes the session. A press
  with no open session is recorded with excluded="no_session" and counted in `filtered`.
- Asking a reason (optional, reason_max_level > 0): after an accepted press at or below
  reason_max_level the buttons offer reasons. The record is kept from the first press (it is
  already safe in the outbox) and `held` tells the sender to wait; the chosen reason amends the
  record (take_amendment), a timeout releases it without a reason.
- Presses while closed, on the technician screen or the error screen, or with a level outside
  the scale, produce no record and are counted in `ignored`.
- seq increments for every record within a boot; (boot, seq) is the record's key.

A record is a tuple, built without JSON or string formatting (encoding happens in the send
path): (boot, seq, level, scale, officer_id, uptime_ms, ts, excluded, reason, dossier).

Pure: time arrives as arguments (uptime ms, wall ms or None).
"""

try:
    from micropython import const
except ImportError:  # CPython host
    def const(x):
        return x

CARD = "card"
THANKS = "thanks"
CLOSED = "closed"
MESSAGE = "message"
REASON = "reason"
WAITING = "waiting"
SERVICE = "service"
CONFIG_ERROR = "config_error"

DEFAULT_SCALE = const(4)
SERVICE_MS = const(30000)

# Record tuple indexes.
R_BOOT = const(0)
R_SEQ = const(1)
R_LEVEL = const(2)
R_SCALE = const(3)
R_OFFICER = const(4)
R_UPTIME = const(5)
R_TS = const(6)
R_EXCLUDED = const(7)
R_REASON = const(8)
R_DOSSIER = const(9)

# Reasons offered on the buttons, button k = REASONS[k - 1] (protocol: rating.reason).
REASONS = ("attitude", "waiting", "guidance", "other")
REASONS_3 = ("attitude", "waiting", "other")  # a 3-button device has no room for guidance


def reasons_for(buttons):
    return REASONS if buttons >= 4 else REASONS_3


class Panel:
    def __init__(self, boot, cooldown_ms=5000, thanks_ms=3000, scale=DEFAULT_SCALE,
                 session_mode=False, reason_max_level=0, reason_timeout_ms=10000,
                 session_timeout_ms=600000):
        self.boot = boot
        self.cooldown_ms = cooldown_ms
        self.thanks_ms = thanks_ms
        self.scale = scale
        self.session_mode = session_mode
        self.reason_max_level = reason_max_level
        self.reason_timeout_ms = reason_timeout_ms
        self.session_timeout_ms = session_timeout_ms
        self.seq = 0
        # Bumped by every change a screen shows that does not change which screen it is
        # (officer, counter, scale, message text, problems), so displays redraw only then.
        self.version = 0
        self.filtered = 0
        self.ignored = 0
        self.open = True
        self.counter = ""
        self.officer = None  # dict id/name/title/unit, or None
        self.config_problems = None  # list of str when the configuration is unusable
        self.message_text = None
        self.dossier = None  # open session's dossier code
        self.held = None  # key of the record waiting for its reason
        self._held_rec = None
        self._amendment = None
        self._cooldown_until = None
        self._thanks_until = None
        self._message_until = None
        self._reason_until = None
        self._service_until = None
        self._session_until = None

    # --- what the collector and the configuration say --------------------------------------

    def apply_assignment(self, a):
        """Apply a decoded assignment (kiosk.codec.decode_assignment)."""
        self.version += 1
        self.open = a["state"] == "open"
        self.counter = a["counter"]
        self.scale = a["scale"]
        if a["officer"] != self.officer:
            # A new officer at the counter: a dossier opened for the previous one is not theirs.
            self.dossier = None
        self.officer = a["officer"]
        if not self.open:
            # A closed counter shows its own screen at once, not a stale thank-you; a rating
            # waiting for its reason goes as it is.
            self._thanks_until = None
            self.dossier = None
            if self.held is not None:
                self._release(0, thank=False)

    def open_session(self, dossier, seconds, now_ms):
        """A dossier is ready for rating (session mode); replaces any open one."""
        self.dossier = dossier
        ttl = seconds * 1000 if seconds else self.session_timeout_ms
        self._session_until = now_ms + ttl

    def close_session(self):
        self.dossier = None

    def show_message(self, text, seconds, now_ms):
        self.version += 1
        self.message_text = text
        self._message_until = now_ms + seconds * 1000

    def show_config_error(self, problems):
        self.version += 1
        self.config_problems = list(problems)

    def long_press(self, level, now_ms):
        """Open the technician screen (the hardware layer reports a hold, not a rating)."""
        self._service_until = now_ms + SERVICE_MS

    # --- presses -----------------------------------------------------------------------------

    def press(self, level, now_ms, ts=None):
        """Handle a press at uptime now_ms (ts: wall ms or None). Returns a new record or None."""
        which = self.screen(now_ms)
        if which in (CLOSED, CONFIG_ERROR) or level < 1 or level > self.scale:
            self.ignored += 1
            return None
        if which == SERVICE:
            self._service_until = None  # any button closes the technician screen
            self.ignored += 1
            return None
        if which == REASON:
            self._choose_reason(level, now_ms)
            return None
        excluded = None
        dossier = None
        if self._cooldown_until is not None and now_ms < self._cooldown_until:
            excluded = "cooldown"
        elif self.session_mode and self._session_dossier(now_ms) is None:
            excluded = "no_session"
        if excluded is not None:
            self.filtered += 1
        else:
            # The cooldown runs from the accepted press only; filtered presses do not extend
            # it, so a citizen who keeps pressing is heard again after cooldown_ms.
            self._cooldown_until = now_ms + self.cooldown_ms
            # A press answers the card; an overlaid message would hide the thank-you.
            self._message_until = None
            self.message_text = None
            if self.session_mode:
                dossier = self.dossier
                self.dossier = None  # one dossier, one rating
        officer = self.officer["id"] if self.officer is not None else None
        rec = (self.boot, self.seq, level, self.scale, officer, now_ms, ts, excluded, None,
               dossier)
        self.seq += 1
        if excluded is None:
            if level <= self.reason_max_level:
                self.held = (rec[R_BOOT], rec[R_SEQ])
                self._held_rec = rec
                self._reason_until = now_ms + self.reason_timeout_ms
            else:
                self._thanks_until = now_ms + self.thanks_ms
        return rec

    def _choose_reason(self, button, now_ms):
        reasons = reasons_for(self.scale)
        if button > len(reasons):
            self.ignored += 1
            return
        rec = self._held_rec
        amended = rec[:R_REASON] + (reasons[button - 1],) + rec[R_REASON + 1:]
        self._amendment = (self.held, amended)
        self._release(now_ms)

    def _release(self, now_ms, thank=True):
        self.held = None
        self._held_rec = None
        self._reason_until = None
        if thank:
            self._thanks_until = now_ms + self.thanks_ms

    def take_amendment(self):
        """(key, amended record) once a reason was chosen, else None; given out once."""
        amendment = self._amendment
        self._amendment = None
        return amendment

    def _session_dossier(self, now_ms):
        if self.dossier is not None and now_ms >= self._session_until:
            self.dossier = None  # the citizen left without rating; the session lapses
        return self.dossier

    # --- what to show ------------------------------------------------------------------------

    def _expire(self, now_ms):
        """Clear lapsed timers, whatever screen is on top, so a held record is never stuck."""
        if self._message_until is not None and now_ms >= self._message_until:
            self._message_until = None
            self.message_text = None
        if self._service_until is not None and now_ms >= self._service_until:
            self._service_until = None
        if self._reason_until is not None and now_ms >= self._reason_until:
            self._release(now_ms, thank=False)  # no answer: the rating goes without a reason
        if self._thanks_until is not None and now_ms >= self._thanks_until:
            self._thanks_until = None

    def screen(self, now_ms):
        """The screen to show at uptime now_ms."""
        self._expire(now_ms)
        if self.config_problems:
            return CONFIG_ERROR
        if self._message_until is not None:
            return MESSAGE
        if self._service_until is not None:
            return SERVICE
        if not self.open:
            return CLOSED
        if self._reason_until is not None:
            return REASON
        if self._thanks_until is not None:
            return THANKS
        if self.session_mode and self._session_dossier(now_ms) is None:
            return WAITING
        return CARD
