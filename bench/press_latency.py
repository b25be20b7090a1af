"""Benchmark: from a button press on a simulated kiosk to the committed row, on Mosquitto.

Starts Mosquitto on a free 127.0.0.1 port, the collector's ingest in this process and one
simulated kiosk (the real firmware core, cooldown off). Presses PRESSES buttons INTERVAL_MS
apart and watches the database; reports the latency percentiles of press → row visible to
readers. Run: .venv/bin/python bench/press_latency.py [PRESSES] [INTERVAL_MS]
"""

from __future__ import annotations

import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from mosquitto import Mosquitto  # noqa: E402

from collector.core.settings import BrokerAddress  # noqa: E402
from collector.ingest.subscriber import Ingest  # noqa: E402
from collector.demo.seed import seed_demo  # noqa: E402
from collector.db.store import Store  # noqa: E402
from kiosk.sim import SimulatedKiosk  # noqa: E402


def main() -> None:
    presses = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    interval_ms = float(sys.argv[2]) if len(sys.argv) > 2 else 20
    broker = Mosquitto().start()
    db_path = Path(tempfile.mkdtemp(prefix="hailong-bench-")) / "bench.db"
    store = Store(db_path)
    seed_demo(store, 1)
    store.close()
    ingest = Ingest(str(db_path), BrokerAddress("127.0.0.1", broker.port), client_id="bench")
    kiosk = SimulatedKiosk("kiosk-hk-01", "127.0.0.1", broker.port, boot=1, cooldown_s=0,
                           thanks_s=0)
    seen: dict[str, float] = {}
    done = threading.Event()

    def watch() -> None:
        reader = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        while not done.is_set():
            for (rating_id,) in reader.execute("SELECT id FROM ratings"):
                seen.setdefault(rating_id, time.perf_counter())
            time.sleep(0.001)

    try:
        ingest.start()
        assert ingest.wait_connected(10)
        kiosk.start()
        assert kiosk.wait_until(lambda: kiosk.connected, 10)
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        pressed_at = []
        for _ in range(presses):
            pressed_at.append(time.perf_counter())
            kiosk.press(4)
            time.sleep(interval_ms / 1000)
        deadline = time.monotonic() + 30
        while len(seen) < presses and time.monotonic() < deadline:
            time.sleep(0.01)
        done.set()
        watcher.join()
        latencies = sorted((seen[f"kiosk-hk-01:1:{seq}"] - pressed_at[seq]) * 1000
                           for seq in range(presses) if f"kiosk-hk-01:1:{seq}" in seen)
        quantiles = statistics.quantiles(latencies, n=100)
        print(f"presses: {presses}, {interval_ms:g} ms apart; stored {len(latencies)}")
        print(f"press → committed row: median {statistics.median(latencies):.1f} ms, "
              f"p95 {quantiles[94]:.1f} ms, max {latencies[-1]:.1f} ms")
    finally:
        kiosk.stop()
        ingest.stop()
        broker.cleanup()


if __name__ == "__main__":
    main()
