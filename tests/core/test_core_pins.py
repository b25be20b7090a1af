"""The shipped pin map, read and checked as the device does it at boot (CPython and MicroPython).

The full rule table is tested with many broken maps on CPython (tests/test_hw_pinmap.py);
here the device's own path: load, check, map buttons to levels for each scale.
"""

import json

from core_support import raises, repo_path
from kiosk import pins


def shipped():
    with open(repo_path("hardware/pinmap.json"), "rb") as f:
        return pins.load_pinmap(f.read())


def test_the_shipped_map_has_no_problems():
    assert pins.check_pinmap(shipped()) == []


def test_buttons_follow_the_scale():
    pinmap = shipped()
    four = pins.button_pins(pinmap)
    assert [level for level, pin, led in four] == [1, 2, 3, 4]
    assert [level for level, pin, led in pins.button_pins(pinmap, 3)] == [1, 2, 3]
    five = pins.button_pins(pinmap, 5)
    assert [level for level, pin, led in five] == [1, 2, 3, 4, 5]
    assert five[0][1] == 15, "the optional cap is the fifth scale's lowest level"


def test_broken_maps_are_reported_not_raised():
    for change, words in (
            (lambda m: m["display"].__setitem__("dc", 4), "4"),
            (lambda m: m["buttons"][0].__setitem__("pin", 0), "strapping"),
            (lambda m: m.__setitem__("status_led", 35), "PSRAM"),
            (lambda m: m.__setitem__("chip", "esp8266"), "unknown chip")):
        pinmap = shipped()
        change(pinmap)
        problems = pins.check_pinmap(pinmap)
        assert problems and any(words in p for p in problems), problems
    assert pins.check_pinmap(None) and pins.check_pinmap([])


def test_unreadable_maps_raise_a_clear_value_error():
    for text in ("{x", "[1]", json.dumps({"schema": 2})):
        error = raises(ValueError, pins.load_pinmap, text)
        assert "Pin map" in str(error)
