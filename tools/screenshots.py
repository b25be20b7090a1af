"""Screenshots of the dashboard's main pages for docs/screenshots/ (shown in the README).

    python3 tools/screenshots.py [OUT_DIR]     # default: docs/screenshots

Seeds a temporary database as `hailong demo` does (organisation, 8 devices, 40 days of
history, one account per role), plus alerts raised over the history's ratings and device
statuses as running kiosks send them, so /alerts and /fleet have something to show. Serves it
on a free 127.0.0.1 port and drives Debian's Chromium (/usr/bin/chromium, never a downloaded
browser) at 1366×768, logged in as the role that uses each page. A page is captured whole
unless that PNG would exceed MAX_BYTES; then only the first screen is kept, so the repository
stays small. tests/browser/test_browser_screenshots.py runs `shoot` into a temporary folder on
every test run, so a page that stops rendering is noticed there, without the test run
rewriting the committed files.
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from browser.browser_support import Visitors

ROOT = Path(__file__).resolve().parent.parent

MAX_BYTES = 400_000


@dataclass(frozen=True)
class Shot:
    name: str  # file name without .png
    login: str | None  # None: not logged in
    path: str  # may hold {month} (the previous month, whose evaluations are decided)


SHOTS = [
    Shot("login", None, "/login"),
    Shot("overview", "chutich.hk", "/"),
    Shot("officer", "chutich.hk", "/officers/HK-0002?month={month}"),
    Shot("me", "canbo.hk1", "/me"),
    Shot("team", "lanhdao.hk", "/team"),
    Shot("fleet", "kythuat", "/fleet"),
    Shot("alerts", "lanhdao.hk", "/alerts"),
]


def shoot(visitors: Visitors, out_dir: Path, month: str, shots: list[Shot] = SHOTS, *,
          full_page: bool = True) -> dict[str, tuple[int, Path, int]]:
    """Capture each shot into `out_dir/<name>.png` (`full_page`: the whole page when it fits
    MAX_BYTES, else the first screen; otherwise the first screen only); return
    {name: (HTTP status, path, the page's width in CSS pixels)}."""
    out_dir.mkdir(parents=True, exist_ok=True)
    taken: dict[str, tuple[int, Path, int]] = {}
    try:
        for shot in shots:
            page = visitors.new_page(shot.login)
            response = page.goto(shot.path.format(month=month))
            target = out_dir / f"{shot.name}.png"
            if full_page:  # lazy images below the first screen load only when asked to
                page.evaluate("for (const img of document.images) img.loading = 'eager'")
                page.wait_for_function(
                    "Array.from(document.images).every(img => img.complete)")
            png = page.screenshot(full_page=full_page, type="png")
            if full_page and len(png) > MAX_BYTES:
                png = page.screenshot(full_page=False, type="png")
            target.write_bytes(png)
            width = page.evaluate("document.documentElement.scrollWidth")
            taken[shot.name] = (response.status, target, width)
            page.context.close()
    finally:
        visitors.close()
    return taken


def main(argv: list[str]) -> int:
    # The project from a checkout without installing it, and the browser tests' support.
    sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
    from browser.browser_support import LiveServer, Visitors, launch_chromium, seed_database
    from playwright.sync_api import sync_playwright

    from collector.core.settings import Settings

    out_dir = Path(argv[0]) if argv else ROOT / "docs" / "screenshots"
    with tempfile.TemporaryDirectory(prefix="hailong-shots-") as tmp:
        seeded = seed_database(Path(tmp) / "hailong.db", past_alerts=True, statuses=True)
        server = LiveServer(Settings(db_path=seeded.db_path, broker_url=None)).start()
        try:
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                try:
                    taken = shoot(Visitors(browser, server.url), out_dir, seeded.walk_month)
                finally:
                    browser.close()
        finally:
            server.stop()
    failed = False
    for name, (status, path, width) in taken.items():
        print(f"{status}  {path.stat().st_size / 1000:7.1f} kB  {width} px wide  {path}")
        failed |= status != 200
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
