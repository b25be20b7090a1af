"""Benchmark: press → thank-you screen on the simulated kiosk, journal on disk included.

Runs the real device core on its simulation layer (kiosk.sim) with the power-safe journal in
a temporary folder, offline (no broker: the press path must not depend on one). For each
press it measures the time until the screen shows the thank-you, i.e. after the record was
appended and flushed to the journal. Target (issue 3): ≤ 50 ms.
Run: .venv/bin/python bench/thanks_latency.py [PRESSES]
"""

from __future__ import annotations

import socket
import statistics
import sys
import tempfile
import time

from kiosk.screen import THANKS
from kiosk.sim import SimulatedKiosk


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens once the probe closes


def main() -> None:
    presses = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    kiosk = SimulatedKiosk("kiosk-hk-01", "127.0.0.1", closed_port(), cooldown_s=0,
                           thanks_s=0.05, state_dir=tempfile.mkdtemp(prefix="hailong-flash-"))
    kiosk.start()
    latencies = []
    try:
        for _ in range(presses):
            assert kiosk.wait_until(lambda: THANKS not in kiosk.screen_text(), 5)
            started = time.perf_counter()
            kiosk.press(4)
            while THANKS not in kiosk.screen_text():
                time.sleep(0.0002)
            latencies.append((time.perf_counter() - started) * 1000)
    finally:
        kiosk.kill()
    latencies.sort()
    p95 = statistics.quantiles(latencies, n=100)[94]
    print(f"presses: {presses}, journal on disk, offline")
    print(f"press → thank-you: median {statistics.median(latencies):.1f} ms, "
          f"p95 {p95:.1f} ms, max {latencies[-1]:.1f} ms (loop step: 10 ms)")


if __name__ == "__main__":
    main()
