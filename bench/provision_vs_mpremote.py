"""Benchmark: `hailong flash` versus `mpremote fs cp` of the same files, on the same link.

The link is the fake board of the tests (tests/serialdevice.py: MicroPython 1.27's
WebAssembly port behind a Node bridge on a pseudo-terminal), throttled to a UART's byte rate
(115200 baud, 8N1: 11,520 bytes/s each way by default). Four runs, each a fresh process
timed from start to exit, as a technician would run them:

1. `hailong flash` onto an empty board: the whole firmware (kiosk/*.mpy, fonts, main.py,
   pinmap.json, config.json);
2. the same again, nothing changed;
3. `mpremote connect PORT fs cp -r kiosk fonts main.py config.json pinmap.json :` of the
   same files (the same .mpy bytes) onto another empty board;
4. the same mpremote command again (mpremote skips files whose SHA-256 matches).

Targets (issue 4): full provisioning <= 0.4 x mpremote's time, unchanged <= 0.5 x.
Our runs include what mpremote does not do: a soft reset before (clean heap) and after (the
firmware starts), and the hash check of every file after writing. mpy-cross's output comes
from its cache (the first run on a machine compiles once, about 0.5 s more).

Run: python3 bench/provision_vs_mpremote.py [--baud 115200]
Needs socat, Node.js, `npm ci --prefix tests/micropython` and mpremote (pip).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "firmware"), str(ROOT / "tests")]

DEVICE = "kiosk-hk-01"
CONFIG = {"device": DEVICE, "host": "mqtt.ubnd-hoankiem.gov.vn", "port": 1883,
          "username": DEVICE, "password": "Zq3-mật-khẩu-riêng-của-thiết-bị",
          "wifi": {"ssid": "UBND-HK-MotCua", "password": "wifi-password-2025"}}


def child(argv: list[str]) -> int:
    """`hailong flash` as the lead wires it, with a fixed registry answer."""
    from collector.cli.common import UsageError
    from collector.cli.flash import add_flash_command
    parser = argparse.ArgumentParser(prog="hailong")
    add_flash_command(parser.add_subparsers(dest="command", required=True),
                      lambda db, device, current: dict(CONFIG))
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except UsageError as error:
        print(f"hailong flash: {error}", file=sys.stderr)
        return 2


def timed(cmd: list[str], cwd: Path | None = None) -> float:
    started = time.monotonic()
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} ... failed:\n{result.stdout}\n{result.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baud", type=int, default=115200)
    opts = parser.parse_args()

    from collector.fleet.flashing.bundle import MpyCross, build_bundle
    from collector.fleet.flashing.sync import DeviceState, batches, make_plan
    from serialdevice import SerialDevice

    files = build_bundle(CONFIG, DEVICE, compiler=MpyCross())  # warms the cache too
    total = sum(len(f.data) for f in files)
    empty = DeviceState("1.27.0", 774, True, None, "esp32", {}, [])
    wire = sum(len(s.code) for b in batches(make_plan(files, empty), compress=True) for s in b)
    work = Path(tempfile.mkdtemp(prefix="hailong-bench-"))
    stage = work / "stage"
    for f in files:
        path = stage / f.path.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f.data)
    ours = [sys.executable, __file__, "--child", "flash", "PORT", "--device", DEVICE,
            "--db", str(work / "unused.db")]
    theirs = [sys.executable, "-m", "mpremote", "connect", "PORT", "fs", "cp", "-r", "kiosk",
              "fonts", "main.py", "config.json", "pinmap.json", ":"]
    results = {}
    try:
        for name, cmd, cwd in (("hailong flash", ours, None), ("mpremote fs cp", theirs, stage)):
            flash = work / name.replace(" ", "-")
            with SerialDevice(flash, baud=opts.baud) as dev:
                run = [dev.port if a == "PORT" else a for a in cmd]
                results[name] = (timed(run, cwd), timed(run, cwd))
            got = {str(p.relative_to(flash)): p.read_bytes() for p in flash.rglob("*")
                   if p.is_file()}
            want = {f.path.lstrip("/"): f.data for f in files}
            if got != want:
                raise SystemExit(f"{name}: the board's files differ from the bundle")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    line_rate = opts.baud / 10
    print(f"link: {opts.baud} baud 8N1 ({line_rate:.0f} B/s each way), fake board "
          "(MicroPython 1.27 WebAssembly, tests/serialdevice.py)")
    print(f"files: {len(files)}, {total} bytes; hailong sends {wire} bytes of code for them "
          f"(deflate + base64; {total / line_rate:.1f} s of line time uncompressed)")
    print(f"{'':16}{'full':>9}{'unchanged':>11}")
    for name, (full, same) in results.items():
        print(f"{name:16}{full:8.2f}s{same:10.2f}s")
    (ours_full, ours_same), (mp_full, mp_same) = results.values()
    print(f"{'ratio':16}{ours_full / mp_full:8.2f}x{ours_same / mp_same:10.2f}x"
          "   (targets: <= 0.40x full, <= 0.50x unchanged)")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        sys.exit(child(sys.argv[2:]))
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
