"""Benchmark: ratings per second from MQTT publish to SQLite commit, on a real Mosquitto.

Starts Mosquitto on a free 127.0.0.1 port, the collector's ingest in this process, and
PUBLISHERS paho clients that publish RATINGS ratings in all (QoS 1) for registered devices.
Reports the time from the first publish to the moment the last rating is committed, and the
rate. Run: .venv/bin/python bench/ingest_throughput.py [RATINGS] [PUBLISHERS]
"""

from __future__ import annotations

import json
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from mosquitto import Mosquitto  # noqa: E402

from collector.core.settings import BrokerAddress  # noqa: E402
from collector.ingest.subscriber import Ingest  # noqa: E402
from collector.demo.seed import COUNTERS, seed_demo  # noqa: E402
from collector.db.store import Store  # noqa: E402


def rating(device: str, seq: int) -> bytes:
    return json.dumps({"v": 1, "id": f"{device}:1:{seq}", "device": device, "boot": 1,
                       "seq": seq, "level": 1 + seq % 4, "scale": 4, "officer": None,
                       "uptime_ms": seq, "ts": int(time.time() * 1000), "fw": "bench",
                       "reason": None, "dossier": None, "excluded": None}).encode()


def publish_all(port: int, device: str, count: int) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-{device}")
    client.max_inflight_messages_set(100)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    infos = [client.publish(f"hailong/v1/devices/{device}/rating", rating(device, seq), qos=1)
             for seq in range(count)]
    for info in infos:
        info.wait_for_publish(60)
    client.disconnect()
    client.loop_stop()


def main() -> None:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    publishers = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    publishers = min(publishers, len(COUNTERS))
    broker = Mosquitto().start()
    workdir = Path(tempfile.mkdtemp(prefix="hailong-bench-"))
    db_path = workdir / "bench.db"
    store = Store(db_path)
    devices = seed_demo(store, len(COUNTERS))[:publishers]
    store.close()
    ingest = Ingest(str(db_path), BrokerAddress("127.0.0.1", broker.port), client_id="bench")
    try:
        ingest.start()
        assert ingest.wait_connected(10)
        per_device = total // publishers
        started = time.perf_counter()
        threads = [threading.Thread(target=publish_all, args=(broker.port, d, per_device))
                   for d in devices]
        for thread in threads:
            thread.start()
        expected = per_device * publishers
        while ingest.totals["stored"] < expected:
            time.sleep(0.01)
        elapsed = time.perf_counter() - started
        for thread in threads:
            thread.join()
        with sqlite3.connect(db_path) as conn:
            stored = conn.execute("SELECT count(*) FROM ratings").fetchone()[0]
        print(f"ratings: {expected} from {publishers} publishers, stored {stored}")
        print(f"publish → commit: {elapsed:.2f} s, {expected / elapsed:,.0f} ratings/s, "
              f"{ingest.totals['batches']} commits "
              f"(mean batch {expected / ingest.totals['batches']:.1f})")
    finally:
        ingest.stop()
        broker.cleanup()


if __name__ == "__main__":
    main()
