"""The ESP32 layer type-checks against MicroPython's esp32 stubs (mypy).

The stubs are installed into .stubs by scripts/test; the board modules (machine, network,
framebuf) exist nowhere else on the host, so this is how a wrong pin method or a misspelt
constant is caught before a board is flashed.
"""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STUBS = os.path.join(ROOT, ".stubs")
CHECKED = ["firmware/kiosk/esp32.py", "firmware/main.py"]


def mypy(*paths):
    assert os.path.exists(os.path.join(STUBS, "machine.pyi")), (
        "MicroPython stubs missing: run scripts/test, or pip install --target .stubs "
        "micropython-esp32-stubs==1.27.0.post1 micropython-stdlib-stubs==1.27.0.post2")
    env = dict(os.environ, MYPYPATH=STUBS)
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", "firmware/mypy.ini",
         "--custom-typeshed-dir", STUBS, "--cache-dir", os.path.join(STUBS, ".mypy_cache"),
         *paths], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_the_esp32_layer_type_checks_against_the_board_stubs():
    result = mypy(*CHECKED)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_check_catches_a_wrong_board_call(tmp_path):
    # Guards against a configuration that silently checks nothing.
    bad = tmp_path / "bad_layer.py"
    bad.write_text("import machine\nmachine.Pin(4).valu(1)\n")
    result = mypy(str(bad))
    assert result.returncode == 1 and '"Pin" has no attribute "valu"' in result.stdout
