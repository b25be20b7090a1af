"""The device's configuration file (/config.json): parse, fill defaults, list every problem.

Written by the technicians' provisioning (issue 4) and read at boot and on `reload_config`.
A bad file must not brick a device bolted to a counter: `load_config` never raises, it returns
the usable configuration and a list of problems, each a short English sentence naming the key,
which the device shows on its configuration-error screen and prints on the REPL.

Keys (JSON object):
    device         required; the device id (protocol: ^[a-z0-9][a-z0-9-]{1,31}$)
    wifi           {"ssid": str, "password": str} or null on Ethernet
    host, port     the MQTT broker (port 1883 by default)
    username, password   the device's own MQTT credentials (null: anonymous)
    ntp            NTP server name or null to skip time sync (default "pool.ntp.org")
    cooldown_s, thanks_s, scale, session_mode, reason_max_level, reason_timeout_s,
    session_timeout_s, queue_capacity, long_press_ms
    confirm_timeout_s   seconds after a rating's PUBACK without the collector's confirmation
                   (protocol: ack) before the device sends it again (default 60)
Unknown keys are reported, not ignored: a typo such as "cooldown" for "cooldown_s" would
otherwise silently leave the default in force.

Pure: takes the file's text, returns data.
"""

import json

from kiosk import codec

DEFAULTS = {
    "wifi": None,
    "host": None,
    "port": 1883,
    "username": None,
    "password": None,
    "ntp": "pool.ntp.org",
    "cooldown_s": 5,
    "thanks_s": 3,
    "scale": 4,
    "session_mode": False,
    "reason_max_level": 0,
    "reason_timeout_s": 10,
    "session_timeout_s": 600,
    "queue_capacity": 2000,
    "long_press_ms": 3000,
    "confirm_timeout_s": 60,
}

# key: (kind, low, high); kind "int" or "num" (int or float) for numbers.
_NUMBERS = {
    "port": ("int", 1, 65535),
    "cooldown_s": ("num", 0, 3600),
    "thanks_s": ("num", 1, 60),
    "scale": ("int", 3, 5),
    "reason_max_level": ("int", 0, 2),
    "reason_timeout_s": ("num", 3, 120),
    "session_timeout_s": ("num", 10, 86400),
    "queue_capacity": ("int", 10, 20000),
    "long_press_ms": ("int", 1000, 10000),
    # Below 10 s a collector committing a large backlog would be sent copies it is about to
    # confirm; above an hour a rating lost by the broker waits too long for its resend.
    "confirm_timeout_s": ("num", 10, 3600),
}
_TEXTS = {"host": 253, "username": 64, "password": 128, "ntp": 253}


def _number(value, kind):
    if type(value) is bool:  # JSON true is not a number here either
        return False
    if kind == "int":
        return type(value) is int
    return type(value) in (int, float)


def load_config(text):
    """Return (config, problems). The config always has every key; problems may be empty."""
    problems = []
    config = dict(DEFAULTS)
    try:
        obj = json.loads(text)
    except ValueError:
        return config, ["config.json is not valid JSON"]
    if not isinstance(obj, dict):
        return config, ["config.json must hold a JSON object"]
    for key in obj:
        if key != "device" and key not in DEFAULTS:
            problems.append("unknown key '" + key + "'")
    device = obj.get("device")
    if not isinstance(device, str) or not codec.valid_device_id(device):
        problems.append("'device' must be a device id like kiosk-hk-01")
    else:
        config["device"] = device
    for key in _NUMBERS:
        if key in obj:
            kind, low, high = _NUMBERS[key]
            value = obj[key]
            if not _number(value, kind) or value < low or value > high:
                problems.append("'" + key + "' must be a number from " + str(low) + " to " +
                                str(high))
            else:
                config[key] = value
    for key in _TEXTS:
        if key in obj:
            value = obj[key]
            if value is not None and (not isinstance(value, str) or not value
                                      or len(value) > _TEXTS[key]):
                problems.append("'" + key + "' must be text of 1 to " + str(_TEXTS[key]) +
                                " characters or null")
            else:
                config[key] = value
    if "session_mode" in obj:
        if type(obj["session_mode"]) is not bool:
            problems.append("'session_mode' must be true or false")
        else:
            config["session_mode"] = obj["session_mode"]
    if "wifi" in obj:
        _wifi(obj["wifi"], config, problems)
    if "host" not in obj or obj["host"] is None:
        problems.append("'host' (the MQTT broker) is missing")
    return config, problems


def _wifi(value, config, problems):
    if value is None:
        return
    if (not isinstance(value, dict) or not isinstance(value.get("ssid"), str)
            or not 1 <= len(value["ssid"]) <= 32
            or not isinstance(value.get("password", ""), str)):
        problems.append("'wifi' must be {\"ssid\": 1-32 characters, \"password\": text} or null")
        return
    config["wifi"] = {"ssid": value["ssid"], "password": value.get("password", "")}
