"""Button edges → presses and long presses, with debounce (pure; the ESP32 layer feeds it).

The interrupt handler only appends (button index, pin value, ticks) to EdgeRing, a preallocated
ring: no allocation, no logic. The main loop drains the ring into ButtonTracker, which debounces
and decides:
- a press is reported on release when the button was held less than long_ms, with the uptime
  of the moment it went down (the citizen's moment, used for the rating's time);
- a hold of long_ms or more reports one long press at the threshold (technician screen) and
  no press on release, so a technician opening the screen never leaves a rating behind.
Buttons are active-low (pressed reads 0; hardware/pinmap.json). Debounce: an edge closer than
debounce_ms to the last accepted edge of the same button is contact bounce and is dropped.
Edges that arrive while the ring is full are counted in `overflow`, never silently lost.
"""

try:
    from micropython import const
except ImportError:  # CPython host
    def const(x):
        return x

RING_SIZE = const(64)
DEBOUNCE_MS = const(30)
LONG_MS = const(3000)


class EdgeRing:
    """Single-producer (the IRQ) single-consumer (the loop) ring of button edges."""

    def __init__(self, size=RING_SIZE):
        self.size = size
        self.index = [0] * size
        self.value = [0] * size
        self.ticks = [0] * size
        self.head = 0
        self.tail = 0
        self.overflow = 0

    def push(self, index, value, ticks):
        """Called from the interrupt handler: three stores and an index bump."""
        nxt = (self.head + 1) % self.size
        if nxt == self.tail:
            self.overflow += 1
            return
        self.index[self.head] = index
        self.value[self.head] = value
        self.ticks[self.head] = ticks
        self.head = nxt

    def drain(self, sink):
        """Hand every queued edge to sink(index, value, ticks), oldest first."""
        while self.tail != self.head:
            i = self.tail
            sink(self.index[i], self.value[i], self.ticks[i])
            self.tail = (i + 1) % self.size


class ButtonTracker:
    """Debounced state of n active-low buttons; emits presses and long presses."""

    def __init__(self, count, on_press, on_long_press, debounce_ms=DEBOUNCE_MS,
                 long_ms=LONG_MS):
        self.count = count
        self.on_press = on_press  # on_press(index, down_ms)
        self.on_long_press = on_long_press  # on_long_press(index, at_ms)
        self.debounce_ms = debounce_ms
        self.long_ms = long_ms
        self._down_at = [None] * count  # uptime when the button went down, None when up
        self._long_sent = [False] * count
        self._last_edge = [None] * count
        self.bounces = 0

    def edge(self, index, value, at_ms):
        """A pin edge at uptime at_ms: value 0 = pressed (active-low), 1 = released."""
        if not 0 <= index < self.count:
            return
        last = self._last_edge[index]
        if last is not None and at_ms - last < self.debounce_ms:
            self.bounces += 1
            return
        pressed = value == 0
        if pressed == (self._down_at[index] is not None):
            return  # no change of state (a lost edge or a repeat)
        self._last_edge[index] = at_ms
        if pressed:
            self._down_at[index] = at_ms
            self._long_sent[index] = False
            return
        down = self._down_at[index]
        self._down_at[index] = None
        if not self._long_sent[index]:
            self.on_press(index, down)

    def tick(self, now_ms):
        """Report holds that just reached long_ms; call every loop turn."""
        for index in range(self.count):
            down = self._down_at[index]
            if down is not None and not self._long_sent[index] and now_ms - down >= self.long_ms:
                self._long_sent[index] = True
                self.on_long_press(index, now_ms)
