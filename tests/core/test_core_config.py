"""The configuration file: defaults, every problem named, never an exception."""

import json

from kiosk.config import DEFAULTS, load_config

GOOD = {"device": "kiosk-hk-01", "host": "10.0.0.5", "wifi": {"ssid": "UBND-HK", "password": "x"},
        "username": "kiosk-hk-01", "password": "s3cret", "cooldown_s": 8, "session_mode": True}


def test_a_good_file_fills_defaults():
    config, problems = load_config(json.dumps(GOOD))
    assert problems == []
    assert config["device"] == "kiosk-hk-01" and config["cooldown_s"] == 8
    assert config["session_mode"] is True and config["port"] == DEFAULTS["port"]
    assert config["wifi"] == {"ssid": "UBND-HK", "password": "x"}
    assert config["confirm_timeout_s"] == 60


def test_each_mistake_is_named():
    cases = [
        ({"device": "Kiosk_1"}, "'device'"),
        ({"cooldown": 8}, "unknown key 'cooldown'"),
        ({"cooldown_s": -1}, "'cooldown_s' must be a number from 0 to 3600"),
        ({"scale": 6}, "'scale'"),
        ({"port": True}, "'port'"),
        ({"session_mode": "yes"}, "'session_mode' must be true or false"),
        ({"wifi": {"password": "x"}}, "'wifi'"),
        ({"host": ""}, "'host' must be text"),
        ({"confirm_timeout_s": 5}, "'confirm_timeout_s' must be a number from 10 to 3600"),
    ]
    for change, expected in cases:
        body = dict(GOOD)
        body.update(change)
        config, problems = load_config(json.dumps(body))
        assert len(problems) == 1 and expected in problems[0], (change, problems)


def test_unreadable_files_give_a_problem_not_an_exception():
    assert load_config("{not json")[1] == ["config.json is not valid JSON"]
    assert load_config("[1]")[1] == ["config.json must hold a JSON object"]
    config, problems = load_config("{}")
    assert "'host' (the MQTT broker) is missing" in problems
    assert "device" not in config
