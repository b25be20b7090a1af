"""The demo's simulated citizens: how one answers, and the thread that presses the kiosks.

`choose_level` is also how the seeded past (collector/demo/history/) draws its ratings, so the
history and the live demo show officers with the same kind of tendency.
"""

from __future__ import annotations

import random
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kiosk.sim import SimulatedKiosk


def choose_level(rng: random.Random, tendency: float, scale: int = 4) -> int:
    """A simulated citizen's answer: `tendency` in [0, 1] pulls answers up the scale."""
    weights = [(1 - tendency) ** 2 + 0.05] + [0.3] * (scale - 2) + [tendency ** 2 + 0.05]
    for middle in range(1, scale - 1):
        weights[middle] = 0.15 + tendency * 0.4 * middle / (scale - 2)
    return rng.choices(range(1, scale + 1), weights=weights)[0]


class Citizens(threading.Thread):
    """Presses buttons on the simulated kiosks until stopped."""

    def __init__(self, kiosks: list[SimulatedKiosk], interval_s: float, seed: int | None):
        super().__init__(name="hailong-citizens", daemon=True)
        self.kiosks = kiosks
        self.interval_s = interval_s
        self.rng = random.Random(seed)
        self.tendency = {k.device_id: self.rng.uniform(0.45, 0.95) for k in kiosks}
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(self.rng.expovariate(1 / self.interval_s)):
            kiosk = self.rng.choice(self.kiosks)
            level = choose_level(self.rng, self.tendency[kiosk.device_id])
            kiosk.press(level)
            if kiosk.device.panel.reason_max_level >= level:
                # The device now asks what went wrong; most citizens answer.
                if not self.stopping.wait(0.8) and self.rng.random() < 0.8:
                    kiosk.press(self.rng.randint(1, 4))
            elif self.rng.random() < 0.08:  # an impatient second press, filtered by cooldown
                kiosk.press(level)
