"""Benchmark: the firmware core's heap on real MicroPython, and press -> thank-you on CPython.

Under MicroPython (1.27, the WebAssembly port; a 32-bit build like the ESP32's):
    node tests/micropython/run.mjs --script bench/micropython_heap.py [PRESSES]
builds a Device (kiosk.device) with a fake clock, the in-process fake broker (acking every
QoS 1 publish, serving the retained assignment) as the network, a recording display and the
in-memory store, then drives PRESSES (default 200) presses, each followed by 3.1 s of 100 ms
steps. It reports gc.mem_alloc() after a full collection, relative to a baseline taken before
`kiosk` was imported: the imported core (bytecode compiled from source; frozen into flash on
the device it costs less RAM), the Device right after connecting, steady state after half
and all of the presses (equal figures: nothing grows per press), and a full in-RAM queue
(capacity 2000, broker offline). It also reports what press(), the step taking a press and
an idle step allocate (garbage the collector must later reclaim). The fakes' own few objects
are inside the figures; the fake broker's log of publishes is emptied as it goes. This port
frees memory only between top-level calls, so the work is listed as HARNESS_PHASES, which the
harness calls one by one (tests/micropython/README.md).

Under CPython:
    python3 bench/micropython_heap.py [PRESSES]
reports the time from press() to the end of the step() that first shows the thank-you screen
(take the press, queue it, publish it on the fake transport, render, show), median / p95 /
max over PRESSES (default 1000) presses. The ESP32 is slower by a large factor; this figure
is the host-side cost of the code path, a regression guard, not the device's latency.
"""

import gc
import sys

MICROPYTHON = sys.implementation.name == "micropython"


def _setup_path():
    here = __file__.replace("\\", "/")
    if not MICROPYTHON:
        import os
        here = os.path.abspath(here).replace("\\", "/")
    root = here.rsplit("/", 2)[0]
    for p in (root + "/tests/core", root + "/firmware"):
        if p not in sys.path:
            sys.path.insert(0, p)


_setup_path()

from core_support import FakeBroker, dumps_compact  # noqa: E402

DEVICE = "kiosk-bench-01"
ASSIGNMENT = {"v": 1, "state": "open", "counter": "Quầy 3", "scale": 4,
              "officer": {"id": "HK-0001", "name": "Nguyễn Thị Thu Hường",
                          "title": "Chuyên viên", "unit": "UBND phường Hoàn Kiếm"}}
STEP_MS = 100
GAP_MS = 3100  # thanks_s is 3: the card is back before the next press


class ThanksDisplay:
    """Keeps the last items shown and whether they are the thank-you screen."""

    def __init__(self, thanks_text):
        self.thanks_text = thanks_text
        self.items = None
        self.thanks = False
        self.shows = 0

    def show(self, items):
        self.items = items
        self.shows += 1
        self.thanks = False
        for item in items:
            # Items are (style, text) tuples; plain str lines on older screens.
            text = item if isinstance(item, str) else item[-1]
            if self.thanks_text in text:
                self.thanks = True
                return


def build(clock_cls, device_cls, thanks_text, **config):
    cfg = {"device": DEVICE, "boot": 1, "cooldown_s": 0, "thanks_s": 3}
    cfg.update(config)
    clock = clock_cls(wall_ms=1764064800000)
    broker = FakeBroker()
    broker.retained["hailong/v1/devices/" + DEVICE + "/assignment"] = \
        dumps_compact(ASSIGNMENT).encode("utf-8")
    display = ThanksDisplay(thanks_text)
    dev = device_cls(cfg, clock, broker, display)
    return dev, clock, broker, display


def run_for(dev, clock, broker, ms):
    for _ in range(ms // STEP_MS):
        dev.step()
        broker.serve()
        broker.publishes.clear()  # the fake's log, not the core's memory
        clock.advance(STEP_MS)


def connect(dev, clock, broker):
    run_for(dev, clock, broker, 1000)
    assert dev.connected, dev.last_error


class HeapBench:
    """The MicroPython measurement as phases (see tests/micropython/run.mjs: this port only
    collects garbage between two top-level calls, so each phase ends with gc.collect(), which
    marks a collection pending, and the next phase reads gc.mem_alloc() first). Inside a
    phase nothing is freed, so a difference of gc.mem_alloc() there is what was allocated."""

    def __init__(self, presses):
        self.presses = presses
        # Every key exists from the start, so storing a figure never grows the dict between
        # two measurements.
        self.m = {}
        for key in ("base", "imported", "built", "half", "steady", "empty", "full",
                    "capacity", "idle_step", "press", "press_step"):
            self.m[key] = 0
        self.dev = self.clock = self.broker = None

    def phases(self):
        return [self.start, self.imports, self.connected, self.first_half, self.second_half,
                self.dropped, self.full_queue, self.report]

    def start(self):
        gc.collect()

    def imports(self):
        self.m["base"] = gc.mem_alloc()
        from kiosk import device, rating, screen  # noqa: F401  (the whole core, as main.py)
        gc.collect()

    def _build(self, **config):
        from kiosk import screen
        from kiosk.clock import FakeClock
        from kiosk.device import Device
        self.dev, self.clock, self.broker, _ = build(FakeClock, Device, screen.THANKS, **config)

    def connected(self):
        self.m["imported"] = gc.mem_alloc()
        self._build()
        connect(self.dev, self.clock, self.broker)
        run_for(self.dev, self.clock, self.broker, GAP_MS)
        gc.collect()

    def first_half(self):
        self.m["built"] = gc.mem_alloc()
        dev, clock = self.dev, self.clock
        # Allocation rates (nothing is freed inside a phase).
        a0 = gc.mem_alloc()
        for _ in range(100):
            dev.step()
            clock.advance(10)
        a1 = gc.mem_alloc()
        dev.press(4)
        a2 = gc.mem_alloc()
        dev.step()
        a3 = gc.mem_alloc()
        self.m["idle_step"] = (a1 - a0) // 100
        self.m["press"] = a2 - a1
        self.m["press_step"] = a3 - a2
        self.broker.serve()
        run_for(dev, clock, self.broker, GAP_MS)
        self._presses(self.presses // 2 - 1)
        gc.collect()

    def _presses(self, n):
        for i in range(n):
            self.dev.press(i % 4 + 1)
            run_for(self.dev, self.clock, self.broker, GAP_MS)

    def second_half(self):
        self.m["half"] = gc.mem_alloc()
        self._presses(self.presses - self.presses // 2)
        dev = self.dev
        assert dev.sent_acked == self.presses and dev.queue_depth == 0, (dev.sent_acked,
                                                                         dev.queue_depth)
        gc.collect()

    def dropped(self):
        self.m["steady"] = gc.mem_alloc()
        self.dev = self.clock = self.broker = None
        gc.collect()

    def full_queue(self):
        # The broker is down and every press waits in the RAM queue until it is full.
        self.m["empty"] = gc.mem_alloc()
        self._build()
        self.broker.refuse = True
        capacity = self.dev.outbox.capacity
        for i in range(capacity):
            self.dev.press(i % 4 + 1)
            self.dev.step()
            self.clock.advance(STEP_MS)
        assert self.dev.queue_depth == capacity and self.dev.dropped == 0
        self.m["capacity"] = capacity
        gc.collect()

    def report(self):
        m = self.m
        m["full"] = gc.mem_alloc()
        base = m["base"]

        def kb(n):
            return "%.1f KiB" % (n / 1024)

        print("MicroPython %s (%s), gc.mem_alloc() after a full collection"
              % (".".join(str(x) for x in sys.implementation.version[:3]), sys.platform))
        print("baseline (runtime, test fakes)        %d B" % base)
        import kiosk
        loaded = "from .mpy" if kiosk.__file__.endswith(".mpy") else "compiled from source"
        label = "core imported (" + loaded + ")"
        print(label + " " * max(1, 38 - len(label)) + "+" + kb(m["imported"] - base))
        print("Device built, connected, card shown   +%s" % kb(m["built"] - base))
        print("steady state after %4d presses       +%s" % (self.presses // 2,
                                                           kb(m["half"] - base)))
        print("steady state after %4d presses       +%s" % (self.presses,
                                                           kb(m["steady"] - base)))
        print("growth over the last %d presses      %+d B" % (self.presses - self.presses // 2,
                                                           m["steady"] - m["half"]))
        print("Device dropped (modules stay)         +%s" % kb(m["empty"] - base))
        print("full RAM queue, %d records          +%s above the modules (%d B a record)"
              % (m["capacity"], kb(m["full"] - m["empty"]),
                 (m["full"] - m["empty"]) // m["capacity"]))
        print("allocated by press() (button path)    %d B" % m["press"])
        print("allocated by the step taking a press  %d B (queue, encode, publish, render)"
              % m["press_step"])
        print("allocated by an idle step             %d B" % m["idle_step"])


def latency(presses):
    import time

    from kiosk import screen
    from kiosk.clock import FakeClock
    from kiosk.device import Device
    dev, clock, broker, display = build(FakeClock, Device, screen.THANKS)
    connect(dev, clock, broker)
    run_for(dev, clock, broker, GAP_MS)
    times = []
    for i in range(presses):
        assert not display.thanks
        t0 = time.perf_counter_ns()
        dev.press(i % 4 + 1)
        steps = 0
        while not display.thanks:
            dev.step()
            steps += 1
            assert steps < 5, "the thank-you screen did not come"
        times.append(time.perf_counter_ns() - t0)
        broker.serve()
        run_for(dev, clock, broker, GAP_MS)
    assert dev.sent_acked == presses, dev.sent_acked
    times.sort()
    us = [t / 1000 for t in times]
    print("CPython %s, press() -> step() showing the thank-you screen, %d presses"
          % (sys.version.split()[0], presses))
    print("median %.1f us   p95 %.1f us   max %.1f us"
          % (us[len(us) // 2], us[int(len(us) * 0.95)], us[-1]))


if MICROPYTHON:
    # Run by tests/micropython/run.mjs, which calls these from the top level one by one.
    HARNESS_PHASES = HeapBench(int(sys.argv[1]) if len(sys.argv) > 1 else 200).phases()
else:
    latency(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
