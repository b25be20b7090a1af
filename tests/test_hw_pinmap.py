"""The counter device's pin map: the shipped map is safe, the checker catches each broken
rule, and the wiring diagram and the docs agree with the map."""

from __future__ import annotations

import copy
import json
import re
import xml.etree.ElementTree as ET

import pytest
from conftest import ROOT
from hypothesis import given, settings
from hypothesis import strategies as st
from kiosk import pins

HARDWARE = ROOT / "hardware"
MAP_TEXT = (HARDWARE / "pinmap.json").read_text(encoding="utf-8")
SVG = ET.parse(HARDWARE / "wiring.svg")
README = (HARDWARE / "README.md").read_text(encoding="utf-8")
PROTOCOL = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")


@pytest.fixture
def shipped():
    return pins.load_pinmap(MAP_TEXT)


def resolve(pinmap, path):
    """Follow a dotted path ("buttons.0.led") into the map."""
    node = pinmap
    for part in path.split("."):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def assign(pinmap, path, value):
    *head, last = path.split(".")
    parent = resolve(pinmap, ".".join(head)) if head else pinmap
    if isinstance(parent, list):
        parent[int(last)] = value
    else:
        parent[last] = value


def gpio_numbers(text):
    """Every GPIO number in prose, "26–32" ranges expanded."""
    found = set()
    for a, b in re.findall(r"(\d+)(?:\s*[–-]\s*(\d+))?", text):
        found |= set(range(int(a), int(b or a) + 1))
    return found


# A classic ESP32 (WROOM-32, no PSRAM) wired the same way, for the per-chip rules.
CLASSIC = {
    "schema": 1, "chip": "esp32", "psram": "none",
    "display": {"driver": "st7789", "width": 320, "height": 240, "rotation": 1,
                "spi": {"id": 2, "sck": 18, "mosi": 23, "miso": 19, "baudrate": 40000000},
                "cs": 5, "dc": 21, "rst": 22, "backlight": 4},
    "buttons": [
        {"level": 1, "pin": 13, "led": 25, "label": "Không hài lòng"},
        {"level": 2, "pin": 14, "led": 26, "label": "Bình thường"},
        {"level": 3, "pin": 27, "led": 32, "label": "Hài lòng"},
        {"level": 4, "pin": 16, "led": 33, "label": "Rất hài lòng"},
    ],
    "buzzer": 17, "status_led": 15, "ethernet": None,
}


# --- the shipped map ------------------------------------------------------------------


def test_shipped_pinmap_has_no_problems(shipped):
    assert pins.check_pinmap(shipped) == []


def test_classic_esp32_example_has_no_problems():
    assert pins.check_pinmap(CLASSIC) == []


def test_shipped_pinmap_declares_octal_psram_for_the_n16r8(shipped):
    # The N16R8 module's PSRAM is octal: without this field GPIO 33-37 would pass the check.
    assert shipped["chip"] == "esp32s3" and shipped["psram"] == "octal"
    assert "N16R8" in shipped["board"]


def test_fitted_button_levels_are_1_to_4_with_the_protocol_labels(shipped):
    scale4 = protocol_scale(4)
    fitted = [b for b in shipped["buttons"] if not b.get("optional")]
    assert sorted(b["level"] for b in fitted) == [1, 2, 3, 4]
    assert [b["label"] for b in sorted(fitted, key=lambda b: b["level"])] == scale4


def test_optional_button_is_the_extra_level_of_the_5_level_scale(shipped):
    scale4, scale5 = protocol_scale(4), protocol_scale(5)
    (extra,) = [b for b in shipped["buttons"] if b.get("optional")]
    # The 4 caps are the 5-level scale's levels 2-5; the fifth cap adds its level 1.
    assert scale5 == [extra["label"]] + scale4
    assert extra["level"] is None


def protocol_scale(n: int) -> list[str]:
    match = re.search(rf"^\| {n}(?: \(default\))? \| (.+?) \|$", PROTOCOL, re.M)
    assert match, f"scale {n} row in docs/protocol.md"
    return [label.strip() for label in match.group(1).split("·")]


# --- load_pinmap ----------------------------------------------------------------------


def test_load_pinmap_accepts_bytes(shipped):
    assert pins.load_pinmap(MAP_TEXT.encode("utf-8")) == shipped


@pytest.mark.parametrize("text, message", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "not a JSON object"),
    ('{"schema": 2}', "schema is 2"),
    ('{"schema": true}', "schema is true"),
    ('{"chip": "esp32s3"}', "schema is null"),
])
def test_load_pinmap_rejects(text, message):
    with pytest.raises(ValueError, match=message):
        pins.load_pinmap(text)


# --- broken maps ----------------------------------------------------------------------

# (case, base map, {path: new value}, a problem line expected verbatim or as a prefix)
BROKEN = [
    ("pin used twice", "s3", {"display.dc": 4},
     "GPIO 4 is used twice: display.dc and buttons.0.pin"),
    ("button LED and buzzer share a pin", "s3", {"buzzer": 41},
     "GPIO 41 is used twice: buttons.3.led and buzzer"),
    ("strapping pin 0 for a button", "s3", {"buttons.0.pin": 0},
     "buttons.0.pin: GPIO 0 is a strapping pin on esp32s3 (GPIO 0, 3, 45, 46)"),
    ("strapping pin 46 for the optional button", "s3", {"buttons.4.pin": 46},
     "buttons.4.pin: GPIO 46 is a strapping pin"),
    ("strapping pin 45 for a LED driver input", "s3", {"buttons.1.led": 45},
     "buttons.1.led: GPIO 45 is a strapping pin"),
    ("strapping pin 3 for the W5500 interrupt", "s3", {"ethernet.int": 3},
     "ethernet.int: GPIO 3 is a strapping pin"),
    ("flash pin", "s3", {"display.cs": 27},
     "display.cs: GPIO 27 is an SPI flash pin on esp32s3 (GPIO 26-32); never usable"),
    ("flash pin for a button", "s3", {"buttons.2.pin": 32},
     "buttons.2.pin: GPIO 32 is an SPI flash pin"),
    ("octal PSRAM pin", "s3", {"status_led": 35},
     "status_led: GPIO 35 is taken by the octal PSRAM on esp32s3 (GPIO 33-37)"),
    ("octal PSRAM pin 33 on the SPI bus", "s3", {"ethernet.spi.miso": 33},
     "ethernet.spi.miso: GPIO 33 is taken by the octal PSRAM"),
    ("native USB pin", "s3", {"buzzer": 19},
     "buzzer: GPIO 19 is native USB D-/D+ (the REPL) on esp32s3; keep it free"),
    ("unknown GPIO 22", "s3", {"display.dc": 22},
     "display.dc: GPIO 22 does not exist on esp32s3 (GPIO 0-21, 26-48)"),
    ("unknown GPIO 49", "s3", {"buttons.0.led": 49},
     "buttons.0.led: GPIO 49 does not exist on esp32s3"),
    ("negative GPIO", "s3", {"status_led": -1},
     "status_led: GPIO -1 does not exist"),
    ("a pin that is not a number", "s3", {"buzzer": "14"},
     'buzzer: "14" is not a GPIO number'),
    ("a boolean is not a pin", "s3", {"buzzer": True},
     "buzzer: true is not a GPIO number"),
    ("required pin left null", "s3", {"display.dc": None},
     "display.dc: must be wired (a GPIO number, not null)"),
    ("input-only pin as output on classic esp32", "esp32", {"status_led": 34},
     "status_led: GPIO 34 is input-only on esp32 (GPIO 34-39); it cannot drive an output"),
    ("input-only pin as SPI clock on classic esp32", "esp32", {"display.spi.sck": 39},
     "display.spi.sck: GPIO 39 is input-only on esp32"),
    ("input-only pin for a button on classic esp32", "esp32", {"buttons.0.pin": 36},
     "buttons.0.pin: GPIO 36 is input-only on esp32 (GPIO 34-39) and has no internal pull-up"),
    ("classic esp32 flash pin", "esp32", {"display.cs": 6},
     "display.cs: GPIO 6 is an SPI flash pin on esp32 (GPIO 6-11)"),
    ("classic esp32 UART REPL pin", "esp32", {"buzzer": 1},
     "buzzer: GPIO 1 is UART0 TX/RX (the REPL) on esp32"),
    ("classic esp32 WROVER PSRAM pin", "esp32", {"psram": "quad"},
     "buzzer: GPIO 17 is taken by the quad PSRAM on esp32 (GPIO 16, 17)"),
    ("octal PSRAM does not exist on classic esp32", "esp32", {"psram": "octal"},
     'psram: "octal" is not a PSRAM mode of esp32 (none, quad)'),
    ("inconsistent SPI bus", "s3", {"ethernet.spi.id": 1},
     "SPI bus 1: ethernet.spi.sck is GPIO 18 but display.spi.sck is GPIO 12"),
    ("shared bus with a different MISO", "s3",
     {"ethernet.spi": {"id": 1, "sck": 12, "mosi": 11, "miso": 16, "baudrate": 20000000}},
     "SPI bus 1: ethernet.spi.miso is GPIO 16 but display.spi.miso is null"),
    ("SPI clock and data on one pin", "s3", {"display.spi.mosi": 12},
     "display.spi: GPIO 12 is both sck and mosi; a bus needs distinct pins"),
    ("SPI bus id the chip lacks", "s3", {"display.spi.id": 3},
     "display.spi.id: 3 is not an SPI bus of this chip (1, 2)"),
    ("SPI clock too fast", "s3", {"display.spi.baudrate": 160000000},
     "display.spi.baudrate: 160000000 is not 1 .. 80000000 Hz"),
    ("unknown chip", "s3", {"chip": "esp8266"},
     'chip: unknown chip "esp8266" (known: esp32, esp32s3)'),
    ("psram not declared", "s3", {"psram": None},
     "psram: null is not a PSRAM mode of esp32s3 (none, octal, quad)"),
    ("misspelt field", "s3", {"display.backlite": 13},
     "display.backlite: unknown field"),
    ("wrong schema", "s3", {"schema": 2}, "schema: expected 1, got 2"),
    ("unknown display driver", "s3", {"display.driver": "ssd1306"},
     'display.driver: "ssd1306" is not one of ili9341, st7789'),
    ("label does not match its level", "s3", {"buttons.1.label": "Hài lòng"},
     'buttons.2.label: "Hài lòng" is on two buttons'),
    ("levels not contiguous", "s3", {"buttons.3.level": 5},
     "buttons.3.level: 5 is not 1 .. 4 (the kit's 4 fitted buttons)"),
    ("same level twice", "s3", {"buttons.3.level": 3},
     "buttons: level 3 is on 2 buttons"),
    ("label of another level", "s3", {"buttons.0.label": "Rất không hài lòng",
                                      "buttons.4.label": "Không hài lòng"},
     'buttons.0.label: "Rất không hài lòng", but level 1 of the 4-level scale is'
     ' "Không hài lòng"'),
    ("optional button with a level", "s3", {"buttons.4.level": 5},
     "buttons.4.level: an optional button has no level on the kit's scale"),
    ("too few fitted buttons", "s3", {"buttons.2.optional": True, "buttons.3.optional": True},
     "buttons: 2 fitted (non-optional) buttons; a scale has 3 or 4 or 5 levels"),
]


@pytest.mark.parametrize("case, base, changes, expected", BROKEN, ids=[c[0] for c in BROKEN])
def test_broken_map_reports_the_rule(case, base, changes, expected, shipped):
    pinmap = copy.deepcopy(shipped if base == "s3" else CLASSIC)
    for path, value in changes.items():
        assign(pinmap, path, value)
    problems = pins.check_pinmap(pinmap)
    assert any(p.startswith(expected) for p in problems), problems


@pytest.mark.parametrize("case, changes", [
    # A shared bus is allowed when every device names the same pins and CS differs.
    ("W5500 shares the display bus", {
        "display.spi.miso": 16,
        "ethernet.spi": {"id": 1, "sck": 12, "mosi": 11, "miso": 16, "baudrate": 20000000}}),
    # Plain outputs may sit on a strapping pin: nothing pulls them at reset.
    ("buzzer on a strapping pin", {"buzzer": 46}),
    # Quad PSRAM shares the flash pins, so GPIO 33-37 are free.
    ("quad PSRAM frees GPIO 35", {"psram": "quad", "status_led": 35}),
    ("no Ethernet module", {"ethernet": None}),
    ("display without reset and backlight control",
     {"display.rst": None, "display.backlight": None}),
    ("unlit buttons", {"buttons.0.led": None, "buttons.4.led": None}),
])
def test_allowed_variants_have_no_problems(case, changes, shipped):
    pinmap = copy.deepcopy(shipped)
    for path, value in changes.items():
        assign(pinmap, path, value)
    assert pins.check_pinmap(pinmap) == []


def test_input_only_pin_is_fine_for_an_spi_input_on_classic_esp32():
    pinmap = copy.deepcopy(CLASSIC)
    pinmap["display"]["spi"]["miso"] = 39
    assert pins.check_pinmap(pinmap) == []


def test_every_problem_names_its_field_or_gpio(shipped):
    pinmap = copy.deepcopy(shipped)
    pinmap["buzzer"] = 27
    pinmap["buttons"][0]["pin"] = 0
    pinmap["display"]["dc"] = 5
    problems = pins.check_pinmap(pinmap)
    assert len(problems) == 3
    assert all(re.search(r"GPIO \d+", p) for p in problems)


def json_values():
    return st.recursive(
        st.none() | st.booleans() | st.integers(-5, 60) | st.text(max_size=5),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                    max_size=3),
        max_leaves=6)


def all_paths(node, prefix=""):
    items = (node.items() if isinstance(node, dict)
             else enumerate(node) if isinstance(node, list) else ())
    for key, child in items:
        path = f"{prefix}{key}"
        yield path
        yield from all_paths(child, path + ".")


SHIPPED_PATHS = list(all_paths(json.loads(MAP_TEXT)))


@settings(max_examples=300, deadline=None)
@given(path=st.sampled_from(SHIPPED_PATHS), value=json_values())
def test_check_pinmap_reports_and_never_raises(path, value):
    # The boot screen lists problems; a crash in the checker would leave the device dark.
    pinmap = json.loads(MAP_TEXT)
    assign(pinmap, path, value)
    problems = pins.check_pinmap(pinmap)
    assert isinstance(problems, list) and all(isinstance(p, str) for p in problems)


@pytest.mark.parametrize("value", [None, [], "pins", 7, {"schema": 1}])
def test_check_pinmap_on_a_non_map(value):
    assert pins.check_pinmap(value)


# --- button_pins ----------------------------------------------------------------------


def test_button_pins_default_is_the_kits_own_scale(shipped):
    fitted = [b for b in shipped["buttons"] if not b.get("optional")]
    assert pins.button_pins(shipped) == sorted((b["level"], b["pin"], b["led"]) for b in fitted)
    assert [level for level, _, _ in pins.button_pins(shipped)] == [1, 2, 3, 4]


def test_button_pins_sorted_by_level_whatever_the_map_order(shipped):
    pinmap = copy.deepcopy(shipped)
    pinmap["buttons"].reverse()
    assert pins.button_pins(pinmap) == pins.button_pins(shipped)


def test_button_pins_on_the_3_level_scale_leaves_binh_thuong_out(shipped):
    by_label = {b["label"]: (b["pin"], b["led"]) for b in shipped["buttons"]}
    assert pins.button_pins(shipped, 3) == [
        (1, *by_label["Không hài lòng"]), (2, *by_label["Hài lòng"]),
        (3, *by_label["Rất hài lòng"])]


def test_button_pins_on_the_5_level_scale_adds_the_optional_button_first(shipped):
    four = pins.button_pins(shipped, 4)
    five = pins.button_pins(shipped, 5)
    extra = [b for b in shipped["buttons"] if b.get("optional")][0]
    assert five == [(1, extra["pin"], extra["led"])] + [(lv + 1, p, led) for lv, p, led in four]


# --- the wiring diagram ---------------------------------------------------------------

GPIO_MENTION = re.compile(r"GPIO\s*(\d+)")


def svg_texts():
    return [el for el in SVG.iter() if el.tag.endswith("}text") or el.tag == "text"]


def labelled():
    return [el for el in SVG.iter() if "data-signal" in el.attrib]


def test_svg_labels_match_the_pinmap(shipped):
    assert labelled(), "the diagram labels its pins with data-signal"
    for el in labelled():
        signal, gpio = el.get("data-signal"), el.get("data-gpio")
        wanted = resolve(shipped, signal)
        assert gpio == ("" if wanted is None else str(wanted)), signal
        mentioned = {int(n) for n in GPIO_MENTION.findall("".join(el.itertext()))}
        assert mentioned <= ({wanted} if wanted is not None else set()), (signal, mentioned)


def test_svg_shows_every_wired_signal(shipped):
    shown = {el.get("data-signal") for el in labelled()}
    assert {path for path, _, _ in pins.signals(shipped)} <= shown


def test_every_gpio_number_in_the_svg_is_checked(shipped):
    used = {gpio for _, gpio, _ in pins.signals(shipped)}
    for el in svg_texts():
        text = "".join(el.itertext())
        if not GPIO_MENTION.search(text):
            continue
        if "data-signal" in el.attrib:
            continue  # checked against the map above
        assert "data-unused" in el.attrib, f"GPIO mention without data-signal: {text!r}"
        unused = {int(n) for n in el.get("data-unused").split()}
        assert gpio_numbers(text.split("GPIO", 1)[1]) == unused, text
        assert not unused & used, f"the map uses pins the diagram calls unused: {unused & used}"


# --- the docs -------------------------------------------------------------------------


@pytest.mark.parametrize("name", (
    [f"`{k}`" for k in pins.TOP_KEYS]
    + [f"`display.{k}`" for k in pins.DISPLAY_KEYS]
    + [f"`spi.{k}`" for k in pins.SPI_KEYS]
    + [f"`buttons[].{k}`" for k in pins.BUTTON_KEYS]
    + [f"`ethernet.{k}`" for k in pins.ETHERNET_KEYS]))
def test_every_pinmap_field_is_documented(name):
    assert name in README


def test_readme_assignment_table_lists_exactly_the_mapped_pins(shipped):
    start = README.index("### Shipped assignment")
    section = README[start:README.index("\n### ", start + 1)]
    listed = set()
    for line in section.splitlines():
        if line.startswith("| ") and not line.startswith("| GPIO"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            listed |= gpio_numbers(cells[0]) | gpio_numbers(cells[2])
    assert listed == {gpio for _, gpio, _ in pins.signals(shipped)}
    free = section[section.index("Left free on purpose"):section.index("With the fifth")]
    assert gpio_numbers(free) >= {0, 3, 45, 46, 19, 20, 35, 36, 37}
    assert not gpio_numbers(free) & listed


BOM = (HARDWARE / "bom.md").read_text(encoding="utf-8")


def bom_tables():
    """[(item rows, total row)] per table of bom.md; cells split on "|"."""
    tables, rows = [], []
    for line in BOM.splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0].isdigit():
            rows.append(cells)
        elif cells[1].startswith("**Total"):
            tables.append((rows, cells))
            rows = []
    return tables


def usd_cents(text):
    return round(float(text.strip("*")) * 100)


def vnd(text):
    return int(text.strip("*").replace(".", ""))


def test_bom_lines_and_totals_add_up():
    tables = bom_tables()
    assert len(tables) == 2  # core kit, options
    grand = [0, 0]
    for rows, total in tables:
        assert rows
        for cells in rows:
            qty = int(cells[3].split()[0])
            assert usd_cents(cells[4]) * qty == usd_cents(cells[6]), cells[1]
            assert vnd(cells[5]) * qty == vnd(cells[7]), cells[1]
        assert sum(usd_cents(c[6]) for c in rows) == usd_cents(total[6]), total[1]
        assert sum(vnd(c[7]) for c in rows) == vnd(total[7]), total[1]
        grand[0] += usd_cents(total[6])
        grand[1] += vnd(total[7])
    match = re.search(r"fully optioned device: ([\d.]+) USD, ([\d.]+) VND", BOM)
    assert match and [usd_cents(match[1]), vnd(match[2])] == grand


def test_bom_names_the_parts_the_pinmap_assumes(shipped):
    assert "ESP32-S3-DevKitC-1-N16R8" in BOM and shipped["psram"] == "octal"
    assert shipped["display"]["driver"].upper() in BOM
    assert shipped["ethernet"]["driver"].upper() in BOM
    assert "ULN2003A" in BOM
