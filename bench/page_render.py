"""Benchmark: server-side render time of the dashboard's pages on the demo's data.

The database is the demo's (collector.demo.seed + 60 days of collector.demo.history + the demo
accounts). Each page is requested through the real app (FastAPI TestClient, in process, so
the figure is the server's work: routing, login check, queries, template; no network), as
the account that would use it, WARM times first and then RUNS timed requests; the median and
the 95th percentile are printed per page. A page that answers anything but 200 is reported
with its status instead (e.g. not built yet).

Run: python3 bench/page_render.py [RUNS]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "firmware"))
sys.path.insert(0, str(ROOT / "tests"))

from fastapi.testclient import TestClient  # noqa: E402

from collector.app import create_app  # noqa: E402
from collector.demo.accounts import DEMO_PASSWORD, seed_accounts  # noqa: E402
from collector.demo.history import seed_history  # noqa: E402
from collector.core.timeline import current_month  # noqa: E402
from collector.demo.seed import MAX_DEVICES, seed_demo  # noqa: E402
from collector.core.settings import Settings  # noqa: E402
from collector.db.store import Store  # noqa: E402
from collector.core.timeline import month_bounds  # noqa: E402

WARM = 3


def previous(month: str) -> str:
    year, mon = (int(part) for part in month.split("-"))
    return f"{year - (mon == 1)}-{(mon - 2) % 12 + 1:02d}"


def main(runs: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "demo.db"
        store = Store(db)
        started = time.perf_counter()
        devices = seed_demo(store, MAX_DEVICES)
        seed_history(store, devices, 60, seed=1)
        seed_accounts(store)
        store.close()
        print(f"demo data seeded in {time.perf_counter() - started:.1f} s")
        month_bounds(current_month())
        last = previous(current_month())
        pages = [
            ("chutich.hk", f"/?month={last}"),
            ("chutich.hk", f"/officers/HK-0001?month={last}"),
            ("chutich.hk", f"/officers/HK-0001/months/{last}/form"),
            ("lanhdao.hk", "/team"),
            ("canbo.hk1", "/me"),
            ("kythuat", "/fleet"),
            ("lanhdao.hk", "/alerts?state=all"),
            ("chutich.hk", f"/api/v1/units/hk/months/{last}"),
        ]
        app = create_app(Settings(db_path=db, broker_url=None))
        clients: dict[str, TestClient] = {}
        with TestClient(app) as anonymous:
            for login in {login for login, _ in pages}:
                client = TestClient(app)
                client.post("/login", data={"login": login, "password": DEMO_PASSWORD},
                            follow_redirects=False)
                clients[login] = client
            print(f"{'page':52} {'median':>8} {'p95':>8}")
            for login, path in pages:
                client = clients[login]
                status = client.get(path).status_code
                if status != 200:
                    print(f"{path:52} status {status}")
                    continue
                for _ in range(WARM):
                    client.get(path)
                times = []
                for _ in range(runs):
                    start = time.perf_counter()
                    client.get(path)
                    times.append((time.perf_counter() - start) * 1000)
                times.sort()
                p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
                print(f"{path:52} {statistics.median(times):6.1f}ms {p95:6.1f}ms")
            anonymous.get("/api/v1/health")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
