"""What the browser tests and tools/screenshots.py share: a database seeded like the demo,
a live server on 127.0.0.1, Debian's Chromium launched through Playwright, and logging in.

The browser is always /usr/bin/chromium (Debian's package), never one Playwright downloads:
`scripts/test` sets PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 and nothing here calls
`playwright install`. The server is uvicorn in a thread (lifespan on, so the ingest runs when
the settings name a broker), on a free port, stopped by `stop()`.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import uvicorn

from collector.ratings import alerts
from collector.accounts.users import AccountService
from collector.app import create_app
from collector.demo.accounts import DEMO_PASSWORD, seed_accounts
from collector.demo.history import seed_history
from collector.protocol.messages import Rejection, parse_message
from collector.evaluation.policy import load_configured
from collector.demo.seed import seed_demo
from collector.core.settings import Settings
from collector.db.store import Store, now_ms
from collector.evaluation.tasks import TaskService, local_today
from collector.core.timeline import LOCAL_TZ
from collector.ingest.recording import Incoming, record_batch

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1366, "height": 768}
PASSWORD = DEMO_PASSWORD

# The month walked end to end is Ba Đình's: the demo history leaves it half-way, and BD-0004
# (whose counter the seed closes) has no evaluation row at all for the previous month. The
# demo has no Ba Đình leader or officer account, so the seed adds these two.
WALK_OFFICER, WALK_LEADER = "BD-0004", "BD-0101"
# The walked officer's plan for the walked month: (title, day of the month of its deadline).
# Registered on the month's first morning, as a plan is (`seed_database`): a completion may
# not be dated before its task was registered (issue 10), so the walk completes them.
WALK_TASKS = [("Rà soát hồ sơ tồn đọng của Bộ phận Một cửa", 10),
              ("Cập nhật sổ theo dõi hồ sơ trả kết quả", 20)]
EXTRA_ACCOUNTS = [
    ("lanhdao.bd", "Trịnh Thu Trang", "leader", WALK_LEADER),
    ("canbo.bd4", "Bùi Thị Lệ Thủy", "officer", WALK_OFFICER),
]


def chromium_available() -> bool:
    return CHROMIUM.exists()


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def previous_month(today: date | None = None) -> str:
    first = (today or local_today()).replace(day=1)
    return (first - timedelta(days=1)).strftime("%Y-%m")


@dataclass(frozen=True)
class Seeded:
    db_path: Path
    device_ids: list[str]
    walk_month: str  # the previous month, local time
    alerts: int = 0  # alerts raised over the history's ratings (see `seed_database`)
    logins: list[str] = field(default_factory=list)


def seed_database(db_path: Path, *, devices: int = 8, history_days: int = 40,
                  past_alerts: bool = False, statuses: bool = False) -> Seeded:
    """A database seeded as `hailong demo` seeds it (organisation, `devices` counters,
    `history_days` of history with seed 1, one account per role), plus the Ba Đình accounts
    of the walked month. With `past_alerts`, the alert rule also runs over the history's
    ratings (the demo's history writes ratings directly, so none are raised by itself): the
    alert pages then have something to show. With `statuses`, the devices report as running
    kiosks do (`report_statuses`), for the fleet page."""
    store = Store(db_path)
    try:
        device_ids = seed_demo(store, devices)
        if history_days:
            seed_history(store, device_ids, days=history_days, seed=1)
        logins = [login for login, _, _ in seed_accounts(store)]
        service = AccountService(store, actor="test")
        for login, name, role, officer in EXTRA_ACCOUNTS:
            service.add(login, name=name, role=role, password=PASSWORD, officer_id=officer)
            logins.append(login)
        raised = set()
        if past_alerts:  # one rating at a time, when it came, as the ingest would have
            rule = load_configured("hanoi-3814").alerts
            for rating_id, received_at in list(store.db.execute(
                    "SELECT id, received_at FROM ratings ORDER BY received_at, id")):
                raised.update(alerts.check_after_batch(store.db, [rating_id], rule,
                                                       received_at))
        if statuses:
            report_statuses(store, device_ids, now_ms())
        register_walk_plan(store, previous_month())
    finally:
        store.close()
    return Seeded(db_path, device_ids, previous_month(), len(raised), logins)


def register_walk_plan(store: Store, month: str) -> None:
    """The walked officer registers WALK_TASKS on the first morning of `month`, through the
    task service acting as them (the pages' and the API's path), with the clock of that day."""
    first = date.fromisoformat(f"{month}-01")
    morning = int(datetime(first.year, first.month, 1, 8, 0, tzinfo=LOCAL_TZ).timestamp()
                  * 1000)
    service = TaskService(store, actor=f"officer:{WALK_OFFICER}", by=WALK_OFFICER,
                          clock=lambda: morning, today=lambda: first)
    for title, day in WALK_TASKS:
        service.create(WALK_OFFICER, title=title, period="month",
                       deadline=f"{month}-{day:02d}", weight=1)


def report_statuses(store: Store, device_ids: list[str], at: int) -> None:
    """Status messages as the demo's running kiosks would have sent them by `at`, through the
    ingest's own write path: most devices online, one with ratings waiting in its queue and a
    weak signal, one that dropped off two hours earlier (its last will)."""
    def status(device: str, received_at: int = at, **fields) -> Incoming:
        topic = f"hailong/v1/devices/{device}/status"
        payload = json.dumps({"v": 1, "device": device, **fields}).encode()
        parsed = parse_message(topic, payload)
        if isinstance(parsed, Rejection):
            raise ValueError(f"not a valid status: {parsed}")
        return Incoming(topic, payload, received_at, parsed)

    batch = []
    for n, device in enumerate(device_ids):
        online = {"state": "online", "fw": "0.2.0", "boot": 3 + n, "uptime_ms": 5_400_000,
                  "mem_free": 81_000 - 700 * n, "rssi": -58 - 2 * n, "queue": 0,
                  "filtered": n % 3, "dropped": 0, "ignored": 0}
        if n == 2:
            batch += [status(device, **online, received_at=at - 2 * 3_600_000),
                      status(device, state="offline", received_at=at - 2 * 3_600_000 + 1_000)]
        else:
            batch.append(status(device, **{**online, **({"queue": 5, "rssi": -84}
                                                        if n == 3 else {})}))
    record_batch(store.db, batch)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LiveServer:
    """`collector.app.create_app(settings)` served by uvicorn in a thread on 127.0.0.1."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = create_app(settings)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port,
                                lifespan="on", log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="live-server",
                                       daemon=True)

    def start(self, timeout: float = 15.0) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("the live server stopped while starting (port taken?)")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the live server did not start within {timeout} s")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


class Visitors:
    """Pages in fresh browser contexts on one server, logged in as someone or not.

    An account logs in through the form the first time; later pages start with the session
    cookie that login gave (`states`, shareable between tests of one server), since each
    login costs an argon2 run. Tests of the login form itself use an anonymous page.
    """

    def __init__(self, browser, base_url: str, states: dict | None = None):
        self.browser, self.base_url = browser, base_url
        self.states = {} if states is None else states
        self.contexts: list = []

    def new_page(self, login: str | None = None):
        state = self.states.get(login) if login else None
        context = self.browser.new_context(viewport=VIEWPORT, base_url=self.base_url,
                                           locale="vi-VN", storage_state=state)
        context.set_default_timeout(10_000)
        self.contexts.append(context)
        page = context.new_page()
        if login and state is None:
            log_in(page, self.base_url, login)
            if page.url.startswith(f"{self.base_url}/login"):
                raise RuntimeError(f"could not log in as {login!r}")
            self.states[login] = context.storage_state()
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()
        self.contexts.clear()


def log_in(page, base_url: str, login: str, password: str = PASSWORD,
           next_path: str | None = None):
    """Fill the login form as a person would and wait for the page it leads to."""
    target = "/login" + (f"?next={quote(next_path, safe='/')}" if next_path else "")
    page.goto(base_url + target)
    page.fill('input[name="login"]', login)
    page.fill('input[name="password"]', password)
    with page.expect_navigation():
        page.click('form[action="/login"] button[type="submit"]')
    return page
