"""The rating state machine: what the counter shows and what a press produces.

Screens:
- "card":    the officer card (counter, name, title, unit), the prompt and the button labels;
- "thanks":  shown for thanks_ms after an accepted press, then back to the card;
- "closed":  the counter is closed (assignment state "closed"): presses are not ratings;
- "message": a show_message command drawn over the current screen for N seconds.

Rules:
- The scale (3, 4 or 5 levels) comes from the assignment; 4 until one arrives.
- Ratings are taken from the first second after boot, before any assignment (officer null):
  the collector attributes them by its roster.
- After an accepted press, presses during the cooldown (default 5 s) are still recorded, with
  excluded="cooldown", and counted in `filtered`: the protocol wants them stored and shown,
  never silently lost.
- Presses while closed, or with a level outside the scale, produce no record and are counted
  in `ignored_closed` / `ignored_invalid`.
- seq increments for every record within a boot; (boot, seq) is the record's key.

A record is a tuple, built without JSON or string formatting (encoding happens in the send
path): (boot, seq, level, scale, officer_id, uptime_ms, ts, excluded).

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

DEFAULT_SCALE = const(4)

# Record tuple indexes.
R_BOOT = const(0)
R_SEQ = const(1)
R_LEVEL = const(2)
R_SCALE = const(3)
R_OFFICER = const(4)
R_UPTIME = const(5)
R_TS = const(6)
R_EXCLUDED = const(7)


class Panel:
    def __init__(self, boot, cooldown_ms=5000, thanks_ms=3000, scale=DEFAULT_SCALE):
        self.boot = boot
        self.cooldown_ms = cooldown_ms
        self.thanks_ms = thanks_ms
        self.scale = scale
        self.seq = 0
        self.filtered = 0
        self.ignored_closed = 0
        self.ignored_invalid = 0
        self.open = True
        self.counter = ""
        self.officer = None  # dict id/name/title/unit, or None
        self._cooldown_until = None
        self._thanks_until = None
        self.message_text = None
        self._message_until = None

    def apply_assignment(self, a):
        """Apply a decoded assignment (kiosk.codec.decode_assignment)."""
        self.open = a["state"] == "open"
        self.counter = a["counter"]
        self.scale = a["scale"]
        self.officer = a["officer"]
        if not self.open:
            # A closed counter shows its own screen at once, not a stale thank-you.
            self._thanks_until = None

    def show_message(self, text, seconds, now_ms):
        self.message_text = text
        self._message_until = now_ms + seconds * 1000

    def press(self, level, now_ms, ts=None):
        """Handle a press at uptime now_ms (ts: wall ms or None). Returns a record or None."""
        if not self.open:
            self.ignored_closed += 1
            return None
        if level < 1 or level > self.scale:
            self.ignored_invalid += 1
            return None
        excluded = None
        if self._cooldown_until is not None and now_ms < self._cooldown_until:
            excluded = "cooldown"
            self.filtered += 1
        else:
            # The cooldown runs from the accepted press only; filtered presses do not extend
            # it, so a citizen who keeps pressing is heard again after cooldown_ms.
            self._cooldown_until = now_ms + self.cooldown_ms
            self._thanks_until = now_ms + self.thanks_ms
            # A press answers the card; an overlaid message would hide the thank-you.
            self._message_until = None
            self.message_text = None
        officer = self.officer["id"] if self.officer is not None else None
        rec = (self.boot, self.seq, level, self.scale, officer, now_ms, ts, excluded)
        self.seq += 1
        return rec

    def screen(self, now_ms):
        """The screen to show at uptime now_ms."""
        if self._message_until is not None:
            if now_ms < self._message_until:
                return MESSAGE
            self._message_until = None
            self.message_text = None
        if not self.open:
            return CLOSED
        if self._thanks_until is not None:
            if now_ms < self._thanks_until:
                return THANKS
            self._thanks_until = None
        return CARD
