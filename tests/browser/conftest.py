"""Fixtures of the browser tests: one Chromium per session, a fresh context per test, a live
server on a database seeded like the demo, and one with a real Mosquitto and the ingest.

Every test here is skipped, with the reason, when Debian's Chromium is not installed
(`scripts/test` installs it; CI runs that).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from waiting import wait_for

from collector.core.settings import Settings

from .browser_support import (
    LiveServer,
    Seeded,
    Visitors,
    chromium_available,
    launch_chromium,
    seed_database,
)

NO_CHROMIUM = "Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium)"


def pytest_collection_modifyitems(config, items):
    if chromium_available():
        return
    skip = pytest.mark.skip(reason=NO_CHROMIUM)
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> Seeded:
    """A database seeded like `hailong demo` (8 devices, 40 days of history), with the Ba
    Đình accounts of the walked month and alerts over the history's ratings."""
    return seed_database(tmp_path_factory.mktemp("browser") / "hailong.db", past_alerts=True)


@pytest.fixture(scope="session")
def server(demo) -> LiveServer:
    """The API and pages over the demo database, without a broker."""
    live = LiveServer(Settings(db_path=demo.db_path, broker_url=None)).start()
    yield live
    live.stop()


@pytest.fixture(scope="session")
def login_states() -> dict:
    """Session cookies of the accounts logged in on `server` so far, by login."""
    return {}


@pytest.fixture
def visitors(browser, server, login_states):
    """`visitors.new_page("lanhdao.hk")`: a page logged in as that account (no login: an
    anonymous page), each in its own browser context, closed after the test."""
    visitors = Visitors(browser, server.url, login_states)
    yield visitors
    visitors.close()


@pytest.fixture
def page(visitors):
    """An anonymous page (no session) at the live server."""
    return visitors.new_page()


@pytest.fixture
def live_collector(mosquitto, tmp_path):
    """A live server with the ingest on a real Mosquitto, over a freshly seeded database
    (organisation, 8 devices and the demo accounts; no history, to keep it quick)."""
    seeded = seed_database(tmp_path / "hailong.db", history_days=0)
    settings = Settings(db_path=seeded.db_path, broker_url=mosquitto.url,
                        client_id=f"browser-{uuid.uuid4().hex[:8]}", assignment_poll_s=0.2)
    live = LiveServer(settings).start()
    try:
        ingest = live.app.state.ingest
        wait_for(lambda: ingest is not None and ingest.connected.is_set(),
                 what="the collector to connect to Mosquitto")
        yield live
    finally:
        live.stop()
