"""Monotonic, non-wrapping uptime built from a wrapping tick counter.

MicroPython's time.ticks_ms() wraps (every ~12.4 days on 30-bit ports, arithmetic via
ticks_diff). The protocol's `uptime_ms` must be monotonic and never wrap, so the hardware
layer feeds its tick functions into UptimeCounter, which accumulates ticks_diff. It must be
read at least once per half wrap period (the main loop reads it every step).

Pure: the tick source is injected, so the wrap is testable on the host.

A clock object, as the core expects it, has two methods:
    uptime_ms() -> int        milliseconds since boot, monotonic, never wraps
    wall_ms()   -> int|None   unix milliseconds, or None while the clock is not synced
"""


class UptimeCounter:
    def __init__(self, ticks_ms, ticks_diff):
        self._ticks_ms = ticks_ms
        self._ticks_diff = ticks_diff
        self._last = ticks_ms()
        self._total = 0

    def uptime_ms(self):
        now = self._ticks_ms()
        d = self._ticks_diff(now, self._last)
        if d > 0:
            # A negative diff can only come from misuse (read too rarely); never go back.
            self._total += d
        self._last = now
        return self._total


class FakeClock:
    """Manually advanced clock for tests and host tools (pure, no time module)."""

    def __init__(self, uptime_ms=0, wall_ms=None):
        self.now = uptime_ms
        self.wall_offset = None if wall_ms is None else wall_ms - uptime_ms

    def advance(self, ms):
        self.now += ms

    def uptime_ms(self):
        return self.now

    def wall_ms(self):
        if self.wall_offset is None:
            return None
        return self.now + self.wall_offset
