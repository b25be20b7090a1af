"""What `hailong flash` writes as a board's /config.json: registry + site profile.

Unit tests on a temporary registry, then the whole command line against the MicroPython test
board: a blank board gets a password that the registry verifies, a re-flash keeps it and
sends nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from collector.org.credentials import generate_password
from collector.fleet.provisioning import PROFILE_NAME, registry_device_config
from collector.org.registry import Registry
from collector.db.store import Store
from serialdevice import SerialDevice

DEVICE = "kiosk-hk-05"
PROFILE = {"wifi": {"ssid": "UBND-HK", "password": "wifi-pass"}, "host": "10.12.0.5",
           "port": 1883, "cooldown_s": 8}


@pytest.fixture
def registry_db(tmp_path):
    db = tmp_path / "hailong.db"
    store = Store(db)
    Registry(store, new_password=generate_password).add(
        DEVICE, "hk-q5", counter_label="Quầy 5", unit_id="hk-1c",
        unit_name="Bộ phận Một cửa phường Hoàn Kiếm", scale=5)
    store.close()
    (tmp_path / PROFILE_NAME).write_text(json.dumps(PROFILE), encoding="utf-8")
    return db


def verifies(db, password) -> bool:
    store = Store(db)
    try:
        return Registry(store).check_password(DEVICE, password)
    finally:
        store.close()


def test_a_blank_board_gets_the_profile_and_a_fresh_password(registry_db, capsys):
    config = registry_device_config(registry_db, DEVICE, None)
    assert {key: config[key] for key in ("device", "username", "scale", "host", "cooldown_s")} \
        == {"device": DEVICE, "username": DEVICE, "scale": 5, "host": "10.12.0.5",
            "cooldown_s": 8}
    assert verifies(registry_db, config["password"])
    assert "broker-config --reload" in capsys.readouterr().err


def test_a_board_whose_password_verifies_keeps_it(registry_db, capsys):
    first = registry_device_config(registry_db, DEVICE, None)
    capsys.readouterr()
    again = registry_device_config(registry_db, DEVICE, first)
    assert again == first and capsys.readouterr().err == ""
    stale = dict(first, password="not-the-password")
    rotated = registry_device_config(registry_db, DEVICE, stale)
    assert rotated["password"] != first["password"] and not verifies(registry_db,
                                                                      first["password"])


def test_a_board_keeps_its_own_wifi_when_the_profile_names_none(registry_db, tmp_path):
    (tmp_path / PROFILE_NAME).write_text(json.dumps({"host": "10.12.0.5"}), encoding="utf-8")
    current = {"device": DEVICE, "wifi": {"ssid": "Quầy-riêng", "password": "x"}}
    assert registry_device_config(registry_db, DEVICE, current)["wifi"]["ssid"] == "Quầy-riêng"


@pytest.mark.parametrize("profile, message", [
    ("{not json", "not valid JSON"),
    (json.dumps({"hots": "x"}), "unknown key(s) hots"),
    (json.dumps({"port": 1883}), 'set "host"'),
])
def test_profile_mistakes_are_named(registry_db, tmp_path, profile, message):
    (tmp_path / PROFILE_NAME).write_text(profile, encoding="utf-8")
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        registry_device_config(registry_db, DEVICE, None)


def test_unknown_retired_or_missing_registry_is_refused(registry_db, tmp_path):
    with pytest.raises(ValueError, match="no device"):
        registry_device_config(registry_db, "kiosk-zz-99", None)
    store = Store(registry_db)
    Registry(store).retire(DEVICE)
    store.close()
    with pytest.raises(ValueError, match="retired"):
        registry_device_config(registry_db, DEVICE, None)
    with pytest.raises(LookupError, match="hailong devices add"):
        registry_device_config(tmp_path / "none.db", DEVICE, None)


def test_hailong_flash_provisions_from_the_registry_and_a_rerun_sends_nothing(registry_db,
                                                                              tmp_path):
    flash = tmp_path / "flash"
    flash.mkdir()
    with SerialDevice(str(flash), baud=0) as board:
        command = [sys.executable, "-m", "collector.cli.main", "flash", board.port, "--device",
                   DEVICE, "--db", str(registry_db), "--source"]
        first = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert first.returncode == 0, first.stdout + first.stderr
        config = json.loads((flash / "config.json").read_text(encoding="utf-8"))
        assert config["device"] == DEVICE and verifies(registry_db, config["password"])
        assert (flash / "pinmap.json").exists() and (flash / "main.py").exists()
        again = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    assert json.loads((flash / "config.json").read_text(encoding="utf-8")) == config
    assert "new MQTT password" not in again.stderr
    assert "uploaded 0 file(s)" in again.stdout + again.stderr
