"""What `hailong flash` writes to a board's /config.json: the registry plus the site profile.

The registry knows the device (id, scale, whether it is retired) and can verify its MQTT
password but never show it, so a board already holding a password that verifies keeps it — a
re-flash then changes nothing and uploads nothing — and a blank board, or one whose password
no longer verifies, gets a fresh one (the broker files must then be regenerated:
`hailong broker-config --reload`, which the technician is told).

The site profile, `provisioning.json` beside the database, holds what every board of one
site shares: Wi-Fi, the broker's address and the device options (firmware/kiosk/config.py), e.g.
    {"wifi": {"ssid": "UBND-HK", "password": "…"}, "host": "10.12.0.5", "port": 1883,
     "cooldown_s": 5, "session_mode": false}
A board's own Wi-Fi and broker settings are kept when the profile does not name them.
"""

from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path
from typing import Any

from collector.org.registry import Registry
from collector.db.store import Store

PROFILE_NAME = "provisioning.json"
# Keys a profile may set: the device options of firmware/kiosk/config.py, minus identity.
PROFILE_KEYS = ("wifi", "host", "port", "ntp", "cooldown_s", "thanks_s", "session_mode",
                "reason_max_level", "reason_timeout_s", "session_timeout_s", "queue_capacity",
                "long_press_ms")


def load_profile(path: Path) -> dict[str, Any]:
    """The site profile, or {} when there is none; ValueError naming the problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise ValueError(f"cannot read {path}: {error}") from None
    try:
        profile = json.loads(text)
    except ValueError as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from None
    if not isinstance(profile, dict):
        raise ValueError(f"{path} must hold a JSON object")
    unknown = sorted(set(profile) - set(PROFILE_KEYS))
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {', '.join(unknown)}; "
                         f"allowed: {', '.join(PROFILE_KEYS)}")
    return profile


def registry_device_config(db_path: Path, device_id: str,
                           current: dict[str, Any] | None) -> dict[str, Any]:
    """The /config.json for `device_id`; LookupError or ValueError with a readable message."""
    if not db_path.exists():
        raise LookupError(f"no registry database at {db_path}; add the device first with "
                          f"hailong devices add")
    profile = load_profile(db_path.parent / PROFILE_NAME)
    current = current if isinstance(current, dict) else {}
    store = Store(db_path)
    try:
        registry = Registry(store, actor=f"flash:{getpass.getuser()}")
        device = registry.show(device_id)  # RegistryError (a ValueError) when unknown
        if device.get("retired_at"):
            raise ValueError(f"{device_id} is retired; its id cannot be used again")
        password = current.get("password")
        if (current.get("device") != device_id or not isinstance(password, str)
                or not registry.check_password(device_id, password)):
            password = registry.rotate_credentials(device_id).password
            print(f"{device_id}: mật khẩu MQTT mới / new MQTT password issued; run "
                  f"`hailong broker-config --reload` so the broker accepts it",
                  file=sys.stderr)
    finally:
        store.close()
    config = {key: current[key] for key in PROFILE_KEYS if key in current}
    config.update(profile)
    config.update({"device": device_id, "username": device_id, "password": password,
                   "scale": device["scale"]})
    if "host" not in config:
        raise ValueError(f"no broker address for {device_id}: set \"host\" in "
                         f"{db_path.parent / PROFILE_NAME}")
    return config
