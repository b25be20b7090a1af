"""`hailong flash` against a real MicroPython 1.27 on a pseudo-terminal (tests/serialdevice.py).

The fake board runs unthrottled here (speed is the benchmark's business:
bench/provision_vs_mpremote.py); its flash is a host folder, so each test reads what the
device holds directly, and once through mpremote.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from collector.fleet.flashing import bundle
from collector.fleet.flashing.bundle import FIRMWARE, MpyCross, build_bundle
from collector.fleet.flashing.errors import (
    DeviceFull,
    DeviceTimeout,
    FlashError,
    NotARepl,
    PortError,
    PortLost,
    VersionMismatch,
)
from collector.fleet.flashing.provision import FlashOptions, provision
from collector.fleet.flashing.serialport import open_port
from serialdevice import SerialDevice

DEVICE = "kiosk-hk-01"
CONFIG = {"device": DEVICE, "host": "mqtt.example.vn", "port": 1883, "username": DEVICE,
          "password": "mật-khẩu-riêng", "wifi": {"ssid": "UBND-HK", "password": "wifi"}}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("mpy-cache")


@pytest.fixture
def mini(tmp_path):
    """A small firmware tree (two modules, one font, main.py): quick to send many times."""
    root = tmp_path / "firmware"
    (root / "kiosk").mkdir(parents=True)
    (root / "fonts").mkdir()
    for name in ("__init__.py", "codec.py"):
        shutil.copy(FIRMWARE / "kiosk" / name, root / "kiosk" / name)
    shutil.copy(FIRMWARE / "fonts" / "sans-14.hlf", root / "fonts")
    shutil.copy(FIRMWARE / "main.py", root / "main.py")
    return root


def options(dev: SerialDevice, cache: Path, **kwargs) -> FlashOptions:
    return FlashOptions(**{"port": dev.port, "device_id": DEVICE, "cache_dir": cache,
                           "timeout": 2.0, **kwargs})


def on_flash(flash: Path) -> dict[str, bytes]:
    return {"/" + str(p.relative_to(flash)): p.read_bytes()
            for p in sorted(flash.rglob("*")) if p.is_file()}


def expected(cache: Path, firmware: Path = FIRMWARE, source: bool = False) -> dict[str, bytes]:
    files = build_bundle(CONFIG, DEVICE, compiler=None if source else MpyCross(cache),
                         firmware=firmware)
    return {f.path: f.data for f in files}


def test_full_flash_then_a_rerun_sends_nothing(tmp_path, cache, capsys):
    flash = tmp_path / "flash"
    with SerialDevice(flash, baud=0) as dev:
        first = provision(options(dev, cache), CONFIG)
        assert on_flash(flash) == expected(cache)  # every file, byte for byte
        assert len(first.plan.upload) == len(expected(cache))
        assert first.state.version == "1.27.0" and first.wire_bytes > 0
        second = provision(options(dev, cache), CONFIG)
    assert second.plan.empty and second.wire_bytes == 0
    assert len(second.plan.unchanged) == len(expected(cache))
    out = capsys.readouterr().out
    assert f"uploaded 0 file(s), {len(expected(cache))} unchanged; every hash verified" in out


@pytest.mark.skipif(shutil.which("mpremote") is None and
                    subprocess.run([sys.executable, "-c", "import mpremote"]).returncode != 0,
                    reason="mpremote (test extra) is not installed")
def test_mpremote_reads_back_identical_files(tmp_path, cache, mini):
    flash, back = tmp_path / "flash", tmp_path / "back"
    back.mkdir()
    with SerialDevice(flash, baud=0) as dev:
        provision(options(dev, cache, firmware=mini), CONFIG)
        result = subprocess.run(
            [sys.executable, "-m", "mpremote", "connect", dev.port, "fs", "cp", "-r",
             ":kiosk", ":fonts", ":main.py", ":config.json", ":pinmap.json", f"{back}/"],
            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert on_flash(back) == expected(cache, mini)


def test_dry_run_lists_the_changes_and_writes_nothing(tmp_path, cache, mini, capsys):
    flash = tmp_path / "flash"
    (flash / "kiosk").mkdir(parents=True)
    (flash / "kiosk" / "gone.mpy").write_bytes(b"old module")
    with SerialDevice(flash, baud=0) as dev:
        result = provision(options(dev, cache, firmware=mini, dry_run=True), CONFIG)
    out = capsys.readouterr().out
    assert "new      /kiosk/codec.mpy" in out and "remove   /kiosk/gone.mpy" in out
    assert "dry run: nothing written" in out
    assert len(result.plan.upload) == 6
    assert on_flash(flash) == {"/kiosk/gone.mpy": b"old module"}


def test_switching_to_sources_and_back_leaves_no_shadowing_file(tmp_path, cache, mini):
    flash = tmp_path / "flash"
    with SerialDevice(flash, baud=0) as dev:
        provision(options(dev, cache, firmware=mini), CONFIG)
        provision(options(dev, cache, firmware=mini, source=True), CONFIG)
        assert on_flash(flash) == expected(cache, mini, source=True)
        result = provision(options(dev, cache, firmware=mini), CONFIG)
    # MicroPython imports kiosk/codec.py before kiosk/codec.mpy: the .py must go.
    assert set(result.plan.remove) == {"/kiosk/__init__.py", "/kiosk/codec.py"}
    assert on_flash(flash) == expected(cache, mini)


def test_the_registry_sees_the_device_config_and_its_refusal_is_one_line(tmp_path, cache, mini):
    from collector.cli.common import UsageError
    from collector.cli.flash import cmd_flash
    flash = tmp_path / "flash"
    seen = []

    def registry(db, device, current):
        seen.append((db, device, current))
        if device != DEVICE:
            raise LookupError(f"no device {device} in the registry")
        return dict(CONFIG)

    with SerialDevice(flash, baud=0) as dev:
        args = argparse.Namespace(port=dev.port, device=DEVICE, db=tmp_path / "r.db",
                                  baud=115200, source=True, dry_run=False, broker=None,
                                  micropython=None, erase=False, online_timeout=1.0)
        provision(options(dev, cache, firmware=mini),
                  lambda current: registry(tmp_path / "r.db", DEVICE, current))
        before = on_flash(flash)
        args.device = "kiosk-zz-99"
        with pytest.raises(UsageError, match="^no device kiosk-zz-99 in the registry$"):
            cmd_flash(args, registry)  # asked once the board answered; nothing written
        second = provision(options(dev, cache, firmware=mini),
                           lambda current: registry(tmp_path / "r.db", DEVICE, current))
    assert seen[0][2] is None  # a blank board
    assert seen[-1][2] == CONFIG  # what the device holds, read back in the survey
    assert on_flash(flash) == before and second.plan.empty


class UnplugAt:
    """Progress that pulls the cable once `path` is `fraction` sent."""

    def __init__(self, dev: SerialDevice, path: str, fraction: float):
        self.dev, self.path, self.fraction = dev, path, fraction
        self.totals: dict[str, int] = {}

    def begin(self, totals):
        self.totals = totals

    def update(self, path, done):
        if path == self.path and done >= self.fraction * self.totals[path] and self.dev.running:
            self.dev.unplug()

    def end(self):
        pass


def test_unplugged_mid_main_py_keeps_the_old_one_and_a_rerun_resumes(tmp_path, cache, mini):
    flash = tmp_path / "flash"
    old_main = (mini / "main.py").read_bytes()
    with SerialDevice(flash, baud=0) as dev:
        provision(options(dev, cache, firmware=mini), CONFIG)
    # A new main.py big enough to span several exec calls (incompressible bytes).
    new_main = b"# " + hashlib.sha512(b"seed").hexdigest().encode() * 900 + b"\n"
    (mini / "main.py").write_bytes(new_main)
    dev = SerialDevice(flash, baud=0).start()
    try:
        with pytest.raises(PortLost, match="run the same command again to resume"):
            provision(options(dev, cache, firmware=mini), CONFIG,
                      progress=UnplugAt(dev, "/main.py", 0.5))
    finally:
        dev.stop()
    assert (flash / "main.py").read_bytes() == old_main  # never half-written
    with SerialDevice(flash, baud=0) as dev:
        result = provision(options(dev, cache, firmware=mini), CONFIG)
    assert [f.path for f, _ in result.plan.upload] == ["/main.py"]  # the rest was done
    assert on_flash(flash) == expected(cache, mini)  # and no main.py.part is left


def test_a_device_that_stops_answering_mid_transfer_is_named_and_resumable(tmp_path, cache):
    flash = tmp_path / "flash"
    with SerialDevice(flash, baud=0, stall_after=40_000) as dev:
        with pytest.raises(DeviceTimeout, match="^the device stopped answering: .* while "
                                                "uploading; run the same command again"):
            provision(options(dev, cache, timeout=0.5), CONFIG)
    done_before = on_flash(flash)
    assert 0 < len(done_before) < len(expected(cache))
    with SerialDevice(flash, baud=0) as dev:
        result = provision(options(dev, cache), CONFIG)
    assert len(result.plan.unchanged) >= len(done_before) - 1  # whole files were kept
    assert on_flash(flash) == expected(cache)


@pytest.mark.parametrize("mode", [False, "legacy"])
def test_a_device_without_raw_paste_is_flashed_with_chunked_writes(tmp_path, cache, mini, mode):
    flash = tmp_path / "flash"
    with SerialDevice(flash, baud=0, raw_paste=mode) as dev:
        provision(options(dev, cache, firmware=mini), CONFIG)
    assert on_flash(flash) == expected(cache, mini)


def test_a_busy_port_is_named(tmp_path, cache, mini):
    with SerialDevice(tmp_path / "flash", baud=0) as dev:
        holder = open_port(dev.port)
        try:
            with pytest.raises(PortError, match="^port busy: .* is open in another program"):
                provision(options(dev, cache, firmware=mini), CONFIG)
        finally:
            holder.close()


def test_a_process_echoing_what_it_hears_is_not_a_repl(tmp_path, cache, mini, monkeypatch):
    monkeypatch.setattr("collector.fleet.flashing.provision.ENTER_TIMEOUT_S", 0.5)
    link = tmp_path / "ttyECHO"
    socat = subprocess.Popen(["socat", "pty,raw,echo=0,link=" + str(link), "EXEC:cat"],
                             stderr=subprocess.DEVNULL)
    try:
        from waiting import wait_for
        wait_for(link.exists, 5, "socat's pseudo-terminal")
        opts = FlashOptions(port=str(link), device_id=DEVICE, cache_dir=cache, firmware=mini)
        with pytest.raises(NotARepl, match=r"^not a MicroPython REPL: no raw-REPL prompt "
                                           r"within 0.5 s \(it sent \d+ bytes"):
            provision(opts, CONFIG)
    finally:
        socat.terminate()
        socat.wait(5)


def test_an_mpy_cross_the_device_cannot_load_is_a_version_mismatch(tmp_path, cache, mini,
                                                                 monkeypatch):
    monkeypatch.setattr(bundle.MpyCross, "version", ("1.99.0", 7, 0))
    monkeypatch.setattr(bundle.MpyCross, "compile", lambda self, source, name: b"M\x07")
    flash = tmp_path / "flash"
    with SerialDevice(flash, baud=0) as dev:
        with pytest.raises(VersionMismatch, match=r"^version mismatch: the device runs "
                                                  r"MicroPython 1\.27\.0, which loads \.mpy v6, "
                                                  r"but mpy-cross 1\.99\.0 emits \.mpy v7\.0"):
            provision(options(dev, cache, firmware=mini), CONFIG)
        # --source needs no mpy-cross at all
        provision(options(dev, cache, firmware=mini, source=True), CONFIG)
    assert on_flash(flash) == expected(cache, mini, source=True)


def test_a_full_filesystem_is_refused_before_writing(tmp_path, cache):
    flash = tmp_path / "flash"
    with SerialDevice(flash, baud=0, fs_limit=32 * 1024) as dev:
        with pytest.raises(DeviceFull, match=r"^filesystem full: the new files need .* kB more "
                                             r"and the device has .* kB free"):
            provision(options(dev, cache), CONFIG)
    assert on_flash(flash) == {}


def test_running_out_of_space_mid_write_keeps_the_old_file(tmp_path, cache, mini):
    flash = tmp_path / "flash"
    font = mini / "fonts" / "sans-14.hlf"
    # Room for every file, not for a second copy of the font while it is replaced.
    total = sum(len(d) for d in expected(cache, mini).values())
    limit = total + font.stat().st_size // 2
    with SerialDevice(flash, baud=0, fs_limit=limit) as dev:
        provision(options(dev, cache, firmware=mini), CONFIG)
        old_font = font.read_bytes()
        font.write_bytes(old_font[:100] + bytes(255 - b for b in old_font[100:]))  # same size
        with pytest.raises(DeviceFull, match="^filesystem full: the device ran out of space "
                                             "writing /fonts/sans-14.hlf"):
            provision(options(dev, cache, firmware=mini), CONFIG)
    assert (flash / "fonts" / "sans-14.hlf").read_bytes() == old_font
    assert not any(p.name.endswith(".part") for p in flash.rglob("*"))


def test_a_port_that_disappears_is_no_such_port(tmp_path, cache, mini):
    dev = SerialDevice(tmp_path / "flash", baud=0).start()
    port = dev.port
    dev.stop()
    assert not os.path.exists(port)
    opts = FlashOptions(port=port, device_id=DEVICE, cache_dir=cache, firmware=mini)
    with pytest.raises(PortError, match=f"^no such port: {port}"):
        provision(opts, CONFIG)


# --- waiting until the device is online (real Mosquitto; the fake board has no network) ----

class StatusPublisher:
    """Stands in for the device's network side: publishes its online status, retained, every
    100 ms (as a device does on each reconnect) until stopped."""

    def __init__(self, port: int):
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="device-side")
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        status = {"v": 1, "device": DEVICE, "state": "online", "fw": "0.2.0", "boot": 8}
        while not self.stop.wait(0.1):
            self.client.publish(f"hailong/v1/devices/{DEVICE}/status", json.dumps(status),
                                qos=1, retain=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(5)
        self.client.disconnect()
        self.client.loop_stop()


def test_the_device_going_online_is_reported(tmp_path, cache, mini, mosquitto, capsys):
    with SerialDevice(tmp_path / "flash", baud=0) as dev, StatusPublisher(mosquitto.port):
        result = provision(options(dev, cache, firmware=mini, broker=mosquitto.url,
                                   online_timeout=10), CONFIG)
    assert result.online["boot"] == 8
    assert f"{DEVICE} is online (fw 0.2.0, boot 8)" in capsys.readouterr().out


def test_a_device_that_never_goes_online_is_one_line(tmp_path, cache, mini, mosquitto):
    with SerialDevice(tmp_path / "flash", baud=0) as dev:
        with pytest.raises(FlashError, match=f"^files written, but {DEVICE} did not report "
                                             "online within 0.3 s: check its Wi-Fi"):
            provision(options(dev, cache, firmware=mini, broker=mosquitto.url,
                              online_timeout=0.3), CONFIG)


def test_an_unreachable_broker_is_said_and_the_flash_still_completes(tmp_path, cache, mini,
                                                                     capsys):
    from mosquitto import free_port
    flash = tmp_path / "flash"
    with SerialDevice(flash, baud=0) as dev:
        result = provision(options(dev, cache, firmware=mini,
                                   broker=f"mqtt://127.0.0.1:{free_port()}"), CONFIG)
    assert result.online is None
    assert "not waiting for the device to go online: broker" in capsys.readouterr().out
    assert on_flash(flash) == expected(cache, mini)
