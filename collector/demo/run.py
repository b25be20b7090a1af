"""`hailong demo`: broker, collector, dashboard and simulated kiosks in one process tree.

Everything runs on embedded defaults (amqtt on loopback, a SQLite file). The kiosks are the
real firmware core (`kiosk`) on its simulation hardware layer; simulated citizens press their
buttons with a per-officer tendency, and now and then twice in a row so the cooldown filter
shows up on the officer pages.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from kiosk.sim import SimulatedKiosk

from collector.app import create_app
from collector.demo.broker import EmbeddedBroker
from collector.demo.citizens import Citizens
from collector.demo.history import seed_history
from collector.accounts.users import ROLE_LABELS
from collector.demo.accounts import DEMO_PASSWORD, seed_accounts
from collector.demo.seed import seed_demo
from collector.core.settings import Settings
from collector.db.store import Store

log = logging.getLogger("hailong.demo")


@dataclass(frozen=True)
class DemoOptions:
    db_path: Path
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    mqtt_port: int = 1883
    devices: int = 4
    run_for: float | None = None
    press_interval_s: float = 2.0
    seed: int | None = None
    policy: str = "hanoi-3814"
    history_days: int = 60


def run_demo(options: DemoOptions, *, ready: threading.Event | None = None,
             stop: threading.Event | None = None) -> int:
    stop = stop or threading.Event()
    # First of all: a Ctrl-C during start-up must still end in a clean shutdown.
    _install_stop_signals(stop)
    options.db_path.parent.mkdir(parents=True, exist_ok=True)
    store = Store(options.db_path)
    try:
        device_ids = seed_demo(store, options.devices)
        seed_history(store, device_ids, options.history_days, policy=options.policy,
                     seed=options.seed)
        accounts = seed_accounts(store)
    finally:
        store.close()

    broker = EmbeddedBroker("127.0.0.1", options.mqtt_port)
    broker.start()
    app = create_app(Settings(db_path=options.db_path, broker_url=broker.url,
                              client_id="hailong-demo-collector", policy=options.policy))
    server = uvicorn.Server(uvicorn.Config(app, host=options.http_host, port=options.http_port,
                                           log_level="warning", lifespan="on",
                                           # The login throttle counts the connecting
                                           # address; the demo has no proxy to believe.
                                           proxy_headers=False))
    web = threading.Thread(target=server.run, name="hailong-http", daemon=True)
    kiosks: list[SimulatedKiosk] = []
    citizens: Citizens | None = None
    try:
        web.start()
        _wait_for(lambda: server.started or not web.is_alive(), 15, "the web server to start")
        if not server.started:
            raise RuntimeError(f"the web server could not start on "
                               f"{options.http_host}:{options.http_port} (port in use?)")
        if not app.state.ingest.wait_connected(10):
            raise RuntimeError("the collector could not connect to the embedded broker")
        for device_id in device_ids:
            if stop.is_set():
                break
            # Each kiosk keeps its journal and boot counter beside the database, as a board
            # keeps them in flash: a new run is a new boot, so rating ids never repeat.
            flash = options.db_path.parent / "kiosks" / device_id
            # Every other kiosk asks a reason after the lowest level, to show both set-ups.
            kiosk = SimulatedKiosk(device_id, "127.0.0.1", options.mqtt_port,
                                   state_dir=str(flash),
                                   reason_max_level=1 if len(kiosks) % 2 == 0 else 0)
            kiosk.start()
            # One at a time: amqtt 0.12 can fail a connect that races another's subscribe
            # ("dictionary changed size during iteration"); the kiosk would retry, but noisily.
            kiosk.wait_until(lambda k=kiosk: k.connected, 5)
            kiosks.append(kiosk)
        citizens = Citizens(kiosks, options.press_interval_s, options.seed)
        citizens.start()
        url = f"http://{options.http_host}:{options.http_port}/"
        print(f"hailong demo đang chạy / is running: {url}", flush=True)
        print(f"  broker {broker.url} · {len(kiosks)} kiosks · database {options.db_path}",
              flush=True)
        print(f"  Tài khoản / accounts (mật khẩu / password: {DEMO_PASSWORD}):", flush=True)
        for login, role, name in accounts:
            print(f"    {login:<12} {ROLE_LABELS[role][0]} / {role} · {name}", flush=True)
        print("  Ctrl-C để dừng / to stop", flush=True)
        if ready:
            ready.set()
        stop.wait(options.run_for)
    finally:
        if citizens:
            citizens.stopping.set()
            citizens.join(5)
        for kiosk in kiosks:
            kiosk.stop()
        server.should_exit = True
        web.join(10)
        broker.stop()
    print("hailong demo đã dừng / stopped", flush=True)
    return 0


def _install_stop_signals(stop: threading.Event) -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)
