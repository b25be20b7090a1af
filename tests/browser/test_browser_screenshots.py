"""Screenshots of the main pages at 1366×768 (issue 6, item 5), taken on every run.

`tools/screenshots.py` writes the committed ones (docs/screenshots/, whole pages where they
fit its size budget); this test runs the same `shoot` into a temporary folder, first screens
only (whole pages cost seconds each), so each page is seen to open for the role that uses it
and to render at 1366 px, without a test run rewriting files in the repository.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def load_tool():
    spec = importlib.util.spec_from_file_location("screenshots_tool",
                                                  ROOT / "tools" / "screenshots.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_screenshots_of_the_main_pages(visitors, demo, tmp_path):
    tool = load_tool()
    taken = tool.shoot(visitors, tmp_path, demo.walk_month, full_page=False)
    assert sorted(taken) == sorted(shot.name for shot in tool.SHOTS)
    for name, (status, path, width) in taken.items():
        assert status == 200, (name, status)
        assert width <= 1366, f"{name} is {width} px wide: it scrolls sideways at 1366×768"
        data = path.read_bytes()
        assert data.startswith(PNG_MAGIC), name
        assert 5_000 < len(data) <= tool.MAX_BYTES, (name, len(data))
        size = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert size == (1366, 768), (name, size)
