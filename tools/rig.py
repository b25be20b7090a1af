"""The real processes of a proof run: a database, Mosquitto, `hailong serve`, and reads.

Shared by tools/faults.py and tools/fuzz_ingest.py (and their short versions in the suite).
Nothing here fakes the system under test:
- the database is prepared through the library the CLI uses (seed, registry, accounts):
  devices get broker credentials exactly as `hailong devices add` issues them;
- the broker's password file and ACL come from `hailong broker-config` (the command, run as
  a process), and Mosquitto is started as the tests start it (tests/mosquitto.py), so a run
  meets the configuration the suite and production meet;
- the collector is `hailong serve` in its own process, so it can be SIGKILLed;
- counts are read from SQLite directly, read-only, beside the running collector.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from mosquitto import Mosquitto, free_port  # noqa: E402

from fleet import DeviceSpec  # noqa: E402

COLLECTOR_USER = "hailong-collector"
ADMIN_LOGIN = "proof-admin"


def wait_until(condition: Callable[[], Any], timeout: float, what: str,
               interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


# --- database ----------------------------------------------------------------------------

@dataclass
class Prepared:
    db: Path
    devices: list[DeviceSpec]
    token: str


def prepare_db(db: Path, devices: int, prefix: str = "fk", demo_devices: int = 2) -> Prepared:
    """Seed the demo organisation (with its first `demo_devices` kiosks), register `devices`
    more (each with its own counter, officer on duty and broker password) and an
    administrator's API token."""
    from collector.accounts.users import AccountService
    from collector.org.registry import Registry
    from collector.demo.seed import seed_demo
    from collector.db.store import Store
    from collector.org.organisation import upsert_officer
    from collector.roster.shifts import assign

    store = Store(db)
    try:
        seed_demo(store, demo_devices)
        registry = Registry(store, actor="proof")
        specs = []
        for i in range(devices):
            unit = ("hk-1c", "bd-1c")[i % 2]
            device = f"{prefix}-{i:03d}"
            officer = f"FK-{i:04d}"
            upsert_officer(store.db, officer, f"Cán bộ thử {i}", "Chuyên viên", unit)
            issued = registry.add(device, f"{prefix}-q{i:03d}", counter_label=f"Quầy {i}",
                                  unit_id=unit)
            assign(store.db, device, officer)
            specs.append(DeviceSpec(device, issued.username, issued.password))
        service = AccountService(store, actor="proof")
        service.add(ADMIN_LOGIN, name="Proof runner", role="administrator",
                    password="proof-password-long-enough")
        token = service.issue_token(ADMIN_LOGIN, "proof")
    finally:
        store.close()
    return Prepared(db, specs, token)


def read_db(db: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    conn.execute("PRAGMA busy_timeout = 30000")
    return conn


def query(db: Path, sql: str, args: tuple = ()) -> list[tuple]:
    conn = read_db(db)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def ingest_totals(db: Path) -> dict[str, int]:
    return dict(query(db, "SELECT name, value FROM ingest_totals"))


# --- broker ------------------------------------------------------------------------------

class Broker:
    """Mosquitto with the files `hailong broker-config` wrote for the registry."""

    def __init__(self, db: Path, workdir: Path, extra_config: str = ""):
        # The broker drops to the `mosquitto` user: its files go in a folder of their own that
        # user can reach (a work folder under pytest's tmp_path is not).
        self.files = Path(tempfile.mkdtemp(prefix="hailong-broker-files-"))
        os.chmod(self.files, 0o755)
        out = self.files
        result = subprocess.run(
            [sys.executable, "-m", "collector.cli.main", "broker-config", "--db", str(db),
             "--out", str(out)], capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"hailong broker-config failed: {result.stderr}")
        self.collector_password_file = db.with_name("collector.password")
        self.mosquitto = Mosquitto(password_file=out / "hailong.passwd",
                                   acl_file=out / "hailong.acl", extra_config=extra_config)
        self.port = self.mosquitto.port
        self.kills = 0
        self.restarts = 0
        self.store_losses = 0

    def collector_url(self) -> str:
        return f"mqtt://{COLLECTOR_USER}@127.0.0.1:{self.port}"

    @property
    def store_file(self) -> Path:
        return self.mosquitto.dir / "mosquitto.db"

    def start(self) -> "Broker":
        self.mosquitto.start()
        return self

    def restart(self, how: str, down_s: float = 0.0) -> None:
        """"term": a clean stop (Mosquitto saves its store); "kill": SIGKILL (it keeps what
        the last autosave wrote); "kill-lose-store": SIGKILL and the store file gone, as if
        it was killed before it ever saved — sessions, queues and retained messages lost."""
        process = self.mosquitto.process
        if how == "term":
            self.mosquitto.stop()
        else:
            process.send_signal(signal.SIGKILL)
            process.wait(10)
            self.mosquitto.process = None
            self.kills += 1
            if how == "kill-lose-store":
                self.store_file.unlink(missing_ok=True)
                self.store_losses += 1
        time.sleep(down_s)
        self.mosquitto.start()
        self.restarts += 1

    def log_text(self) -> str:
        return self.mosquitto.log_text()

    def dropped_warnings(self) -> int:
        """How often the broker logged that it dropped messages queued for the collector."""
        return self.log_text().count(
            f"Outgoing messages are being dropped for client {COLLECTOR_USER}.")

    def cleanup(self) -> None:
        self.mosquitto.cleanup()
        shutil.rmtree(self.files, ignore_errors=True)


# --- collector ---------------------------------------------------------------------------

class Collector:
    """`hailong serve` as its own process, with a fixed client id (its broker session)."""

    def __init__(self, prepared: Prepared, broker: Broker, workdir: Path):
        self.prepared = prepared
        self.broker = broker
        self.http_port = free_port()
        self.log_path = workdir / "collector.log"
        self.process: subprocess.Popen | None = None
        self.kills = 0
        self.starts = 0

    def command(self) -> list[str]:
        return [sys.executable, "-m", "collector.cli.main", "serve",
                "--broker", self.broker.collector_url(),
                "--broker-password-file", str(self.broker.collector_password_file),
                "--db", str(self.prepared.db), "--http", f"127.0.0.1:{self.http_port}",
                "--client-id", COLLECTOR_USER]

    def start(self, wait: bool = True, timeout: float = 60) -> "Collector":
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.command(), stdout=log,
                                            stderr=subprocess.STDOUT,
                                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.starts += 1
        if wait:
            wait_until(self.connected, timeout, "the collector to connect")
        return self

    def health(self) -> tuple[int, dict[str, Any]] | None:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.http_port}/api/v1/health",
            headers={"Authorization": f"Bearer {self.prepared.token}"})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:  # 503 degraded still carries the JSON
            try:
                return error.code, json.loads(error.read())
            except ValueError:
                return error.code, {}
        except (OSError, ValueError):
            return None

    def connected(self) -> bool:
        answer = self.health()
        return bool(answer and answer[1].get("broker", {}).get("connected"))

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        process, self.process = self.process, None
        assert process is not None, "the collector is not running"
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        self.kills += 1

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")
