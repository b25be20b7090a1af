"""Pin map of the counter device: load hardware/pinmap.json and check it against the chip.

The pin map (hardware/pinmap.json, copied to the device as /pinmap.json) is the one source
of truth for which GPIO drives what; its schema is documented in hardware/README.md. The
ESP32 layer calls load_pinmap() and check_pinmap() at boot and, when the checker finds
problems, shows them on a configuration-error screen instead of driving a wrong pin (a
flash or PSRAM pin driven by mistake crashes the chip; a button on a strapping pin bricks
the boot whenever a citizen leans on it at power-up).

Rules are a table per chip (CHIPS), so the same checker covers the ESP32-S3 kit and a
classic ESP32 board. Every problem is one English line naming the field, the GPIO and the
rule broken, for the screen and for the technician's REPL.

Buttons are matched to levels by their printed label: the four caps of the standard kit
carry the 4-level scale labels; the optional fifth cap is "Rất không hài lòng", the extra
level of the 5-level scale, so the same caps serve scales 3, 4 and 5 (button_pins).

Pure and MicroPython compatible: json only; no machine, no f-strings; check_pinmap never
raises on any JSON value, it reports.
"""

import json

try:
    from micropython import const
except ImportError:  # CPython host
    def const(x):
        return x

from kiosk.chips import CHIPS
from kiosk.screen import LABELS

SCHEMA = const(1)
MAX_SPI_BAUDRATE = const(80000000)  # the S3's SPI clock ceiling; the classic ESP32 is the same
DISPLAY_DRIVERS = ("ili9341", "st7789")

# Pin kinds, for the rules that depend on what is wired to a pin.
OUT = "out"        # driven by the chip (SPI clock/data out, CS, DC, reset, backlight, buzzer)
IN = "in"          # driven by a module (SPI MISO, W5500 interrupt)
BUTTON = "button"  # switch to GND, read with the chip's internal pull-up (pressed = 0)
LED = "led"        # input of the ULN2003A LED driver: an output with a pull-down load
_KIND_NAMES = {IN: "module output", BUTTON: "button", LED: "LED driver input", OUT: "output"}


TOP_KEYS = ("schema", "board", "chip", "psram", "display", "buttons", "buzzer", "status_led",
            "ethernet", "notes")
DISPLAY_KEYS = ("driver", "width", "height", "rotation", "spi", "cs", "dc", "rst", "backlight")
SPI_KEYS = ("id", "sck", "mosi", "miso", "baudrate")
BUTTON_KEYS = ("level", "pin", "led", "label", "optional")
ETHERNET_KEYS = ("driver", "spi", "cs", "int", "rst")
ETHERNET_DRIVERS = ("w5500",)


def load_pinmap(text):
    """Parse the pin map file's text (str or bytes); ValueError if not JSON or wrong schema."""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8")
    try:
        pinmap = json.loads(text)
    except ValueError as e:
        raise ValueError("Pin map is not valid JSON: " + str(e))
    if not isinstance(pinmap, dict):
        raise ValueError("Pin map is not a JSON object")
    schema = pinmap.get("schema")
    if not _is_int(schema) or schema != SCHEMA:
        raise ValueError("Pin map schema is %s; this firmware reads schema %d"
                         % (_show(schema), SCHEMA))
    return pinmap


def check_pinmap(pinmap):
    """Every problem with `pinmap` as a list of English lines; [] when it is safe to use."""
    problems = []
    if not isinstance(pinmap, dict):
        return ["pin map: not a JSON object"]
    if pinmap.get("schema") != SCHEMA or not _is_int(pinmap.get("schema")):
        problems.append("schema: expected %d, got %s" % (SCHEMA, _show(pinmap.get("schema"))))
    _unknown_keys(pinmap, TOP_KEYS, "", problems)
    chip_name = pinmap.get("chip")
    chip = CHIPS.get(chip_name) if isinstance(chip_name, str) else None
    if chip is None:
        problems.append("chip: unknown chip %s (known: %s)"
                        % (_show(chip_name), ", ".join(sorted(CHIPS))))
        return problems  # every pin rule depends on the chip
    # Required, not defaulted: a map that forgot "octal" would let GPIO 33-37 through.
    psram = pinmap.get("psram")
    if not isinstance(psram, str) or psram not in chip["psram"]:
        problems.append("psram: %s is not a PSRAM mode of %s (%s)"
                        % (_show(psram), chip_name, ", ".join(sorted(chip["psram"]))))
        psram = "none"
    for key in ("board", "notes"):
        if key in pinmap and not isinstance(pinmap[key], str):
            problems.append("%s: must be a string" % key)

    uses = []   # (path, gpio, kind)
    buses = []  # (path, spi dict), for the shared-bus rules
    _collect(pinmap, uses, buses, problems)
    for path, gpio, kind in uses:
        _check_pin(chip_name, chip, psram, path, gpio, kind, problems)
    _check_buses(chip, buses, problems)
    _check_duplicates(uses, buses, problems)
    _check_buttons(pinmap.get("buttons"), problems)
    return problems


def signals(pinmap):
    """[(path, gpio, kind)] for every pin the map wires, in map order; `path` is dotted
    ("display.spi.sck", "buttons.0.led"). Pins left null are not listed."""
    uses = []
    _collect(pinmap, uses, [], [])
    return uses


def button_pins(pinmap, scale=None):
    """[(level, pin, led_pin)] sorted by level, for the buttons whose label is on `scale`.

    scale None means the kit's own scale (the number of fitted, non-optional buttons). A
    button whose label is not on the scale (for example "Bình thường" on the 3-level scale)
    is left out: the firmware keeps its light off and ignores it. led_pin may be None.
    """
    buttons = pinmap["buttons"]
    if scale is None:
        scale = 0
        for b in buttons:
            if not b.get("optional", False):
                scale += 1
    labels = LABELS[scale]
    out = []
    for b in buttons:
        label = b.get("label")
        if label in labels:
            out.append((labels.index(label) + 1, b["pin"], b.get("led")))
    out.sort(key=lambda t: t[0])
    return out


# --- structure ------------------------------------------------------------------------


def _show(value):
    """A value as the technician wrote it in the JSON file: "text", null, true, 12.

    Not repr(): MicroPython's repr escapes Vietnamese letters, and the screen should show a
    label as printed on the cap.
    """
    if isinstance(value, str):
        return '"' + value + '"'
    try:
        return json.dumps(value)
    except (TypeError, ValueError):  # not JSON-able: only a caller's own object gets here
        return str(value)


def _is_int(value):
    # JSON true/false arrive as bool, which Python counts as int; a pin is never a bool.
    return isinstance(value, int) and not isinstance(value, bool)


def _unknown_keys(obj, allowed, prefix, problems):
    # A misspelt key ("backlite") would otherwise read as a missing, silently unwired pin.
    for key in sorted(obj):
        if key not in allowed:
            problems.append("%s%s: unknown field" % (prefix, key))


def _pin(obj, key, path, kind, uses, problems, nullable=False):
    if key not in obj:
        problems.append("%s: missing (use null if not wired)" % path if nullable
                        else "%s: missing" % path)
        return
    value = obj[key]
    if value is None:
        if not nullable:
            problems.append("%s: must be wired (a GPIO number, not null)" % path)
        return
    if not _is_int(value):
        problems.append("%s: %s is not a GPIO number" % (path, _show(value)))
        return
    uses.append((path, value, kind))


def _object(parent, key, path, problems):
    obj = parent.get(key)
    if not isinstance(obj, dict):
        problems.append("%s: missing or not an object" % path)
        return None
    return obj


def _spi(parent, path, uses, buses, problems):
    spi = _object(parent, "spi", path + ".spi", problems)
    if spi is None:
        return
    _unknown_keys(spi, SPI_KEYS, path + ".spi.", problems)
    _pin(spi, "sck", path + ".spi.sck", OUT, uses, problems)
    _pin(spi, "mosi", path + ".spi.mosi", OUT, uses, problems)
    _pin(spi, "miso", path + ".spi.miso", IN, uses, problems, nullable=True)
    baud = spi.get("baudrate")
    if not _is_int(baud) or not 0 < baud <= MAX_SPI_BAUDRATE:
        problems.append("%s.spi.baudrate: %s is not 1 .. %d Hz"
                        % (path, _show(baud), MAX_SPI_BAUDRATE))
    buses.append((path, spi))


def _collect(pinmap, uses, buses, problems):
    if not isinstance(pinmap, dict):
        return
    display = _object(pinmap, "display", "display", problems)
    if display is not None:
        _unknown_keys(display, DISPLAY_KEYS, "display.", problems)
        if display.get("driver") not in DISPLAY_DRIVERS:
            problems.append("display.driver: %s is not one of %s"
                            % (_show(display.get("driver")), ", ".join(DISPLAY_DRIVERS)))
        for key in ("width", "height"):
            if not _is_int(display.get(key)) or display.get(key) <= 0:
                problems.append("display.%s: must be a positive integer" % key)
        if display.get("rotation") not in (0, 1, 2, 3) or isinstance(display.get("rotation"),
                                                                      bool):
            problems.append("display.rotation: must be 0, 1, 2 or 3")
        _spi(display, "display", uses, buses, problems)
        _pin(display, "cs", "display.cs", OUT, uses, problems)
        _pin(display, "dc", "display.dc", OUT, uses, problems)
        _pin(display, "rst", "display.rst", OUT, uses, problems, nullable=True)
        _pin(display, "backlight", "display.backlight", OUT, uses, problems, nullable=True)

    buttons = pinmap.get("buttons")
    if not isinstance(buttons, list) or not buttons:
        problems.append("buttons: missing or not a list of buttons")
    else:
        for i, b in enumerate(buttons):
            path = "buttons." + str(i)
            if not isinstance(b, dict):
                problems.append("%s: not an object" % path)
                continue
            _unknown_keys(b, BUTTON_KEYS, path + ".", problems)
            _pin(b, "pin", path + ".pin", BUTTON, uses, problems)
            _pin(b, "led", path + ".led", LED, uses, problems, nullable=True)

    _pin(pinmap, "buzzer", "buzzer", OUT, uses, problems)
    _pin(pinmap, "status_led", "status_led", OUT, uses, problems)

    eth = pinmap.get("ethernet")
    if eth is not None:  # optional module: absent or null when not fitted
        if not isinstance(eth, dict):
            problems.append("ethernet: not an object (null when not fitted)")
        else:
            _unknown_keys(eth, ETHERNET_KEYS, "ethernet.", problems)
            if eth.get("driver") not in ETHERNET_DRIVERS:
                problems.append("ethernet.driver: %s is not one of %s"
                                % (_show(eth.get("driver")), ", ".join(ETHERNET_DRIVERS)))
            _spi(eth, "ethernet", uses, buses, problems)
            _pin(eth, "cs", "ethernet.cs", OUT, uses, problems)
            _pin(eth, "int", "ethernet.int", IN, uses, problems, nullable=True)
            _pin(eth, "rst", "ethernet.rst", OUT, uses, problems, nullable=True)


# --- pin rules ------------------------------------------------------------------------


def _ranges(pins):
    """(0, 1, 2, 5, 6) -> "0-2, 5, 6": short enough for a line on the error screen."""
    parts = []
    pins = sorted(pins)
    i = 0
    while i < len(pins):
        j = i
        while j + 1 < len(pins) and pins[j + 1] == pins[j] + 1:
            j += 1
        if j - i >= 2:
            parts.append("%d-%d" % (pins[i], pins[j]))
        else:  # a run of two reads better as "45, 46"
            j = i
            parts.append(str(pins[i]))
        i = j + 1
    return ", ".join(parts)


def _check_pin(chip_name, chip, psram, path, gpio, kind, problems):
    where = "%s: GPIO %d" % (path, gpio)
    if gpio not in chip["gpio"]:
        problems.append("%s does not exist on %s (GPIO %s)"
                        % (where, chip_name, _ranges(chip["gpio"])))
        return
    if gpio in chip["flash"]:
        problems.append("%s is an SPI flash pin on %s (GPIO %s); never usable"
                        % (where, chip_name, _ranges(chip["flash"])))
        return
    if gpio in chip["psram"][psram]:
        problems.append("%s is taken by the %s PSRAM on %s (GPIO %s)"
                        % (where, psram, chip_name, _ranges(chip["psram"][psram])))
        return
    if gpio in chip["console"]:
        problems.append("%s is %s on %s; keep it free"
                        % (where, chip["console_name"], chip_name))
    if gpio in chip["strapping"] and kind != OUT:
        # Sampled at reset: a button held down, the LED driver's pull-down or a module's
        # output would pick the boot mode.
        problems.append("%s is a strapping pin on %s (GPIO %s); a %s there can change the"
                        " boot mode" % (where, chip_name, _ranges(chip["strapping"]),
                                        _KIND_NAMES[kind]))
    if gpio in chip["input_only"]:
        if kind == OUT or kind == LED:
            problems.append("%s is input-only on %s (GPIO %s); it cannot drive an output"
                            % (where, chip_name, _ranges(chip["input_only"])))
        elif kind == BUTTON:
            problems.append("%s is input-only on %s (GPIO %s) and has no internal pull-up;"
                            " a button needs one" % (where, chip_name,
                                                     _ranges(chip["input_only"])))



def _check_buses(chip, buses, problems):
    first = {}  # bus id -> (path, spi) of the first device naming it
    for path, spi in buses:
        bus = spi.get("id")
        if not _is_int(bus) or bus not in chip["spi_ids"]:
            problems.append("%s.spi.id: %s is not an SPI bus of this chip (%s)"
                            % (path, _show(bus), ", ".join([str(i) for i in chip["spi_ids"]])))
            continue
        seen = {}
        for key in ("sck", "mosi", "miso"):
            gpio = spi.get(key)
            if _is_int(gpio):
                if gpio in seen:
                    problems.append("%s.spi: GPIO %d is both %s and %s; a bus needs distinct"
                                    " pins" % (path, gpio, seen[gpio], key))
                seen[gpio] = key
        if bus not in first:
            first[bus] = (path, spi)
            continue
        other_path, other = first[bus]
        for key in ("sck", "mosi", "miso"):
            if spi.get(key) != other.get(key):
                problems.append("SPI bus %d: %s.spi.%s is %s but %s.spi.%s is %s; every"
                                " device on a bus names the same pins"
                                % (bus, path, key, _gpio_text(spi.get(key)), other_path, key,
                                   _gpio_text(other.get(key))))


def _gpio_text(value):
    return "GPIO %d" % value if _is_int(value) else _show(value)


def _check_duplicates(uses, buses, problems):
    # A shared bus's sck/mosi/miso appear once per device: count them for its first device
    # only (_check_buses reports devices that disagree). Lists, not sets: an id may be any
    # JSON value, hashable or not.
    ids, skip = [], []
    for path, spi in buses:
        if spi.get("id") in ids:
            skip.append(path + ".spi.")
        else:
            ids.append(spi.get("id"))
    owner = {}
    for path, gpio, kind in uses:
        if path[:path.rfind(".") + 1] in skip:
            continue
        if gpio in owner:
            problems.append("GPIO %d is used twice: %s and %s; one pin, one job"
                            % (gpio, owner[gpio], path))
        else:
            owner[gpio] = path


# --- buttons --------------------------------------------------------------------------


def _check_buttons(buttons, problems):
    if not isinstance(buttons, list):
        return
    fitted = []
    optional = []
    labels_seen = []
    for i, b in enumerate(buttons):
        if not isinstance(b, dict):
            continue
        path = "buttons." + str(i)
        opt = b.get("optional", False)
        if not isinstance(opt, bool):
            problems.append("%s.optional: must be true or false" % path)
            continue
        label = b.get("label")
        if not isinstance(label, str):
            problems.append("%s.label: missing or not a string" % path)
        elif label in labels_seen:
            problems.append("%s.label: %s is on two buttons" % (path, _show(label)))
        else:
            labels_seen.append(label)
        (optional if opt else fitted).append((path, b))
    scale = len(fitted)
    if scale not in LABELS:
        problems.append("buttons: %d fitted (non-optional) buttons; a scale has %s levels"
                        % (scale, " or ".join([str(s) for s in sorted(LABELS)])))
        return
    labels = LABELS[scale]
    levels = []
    for path, b in fitted:
        level = b.get("level")
        if not _is_int(level) or not 1 <= level <= scale:
            problems.append("%s.level: %s is not 1 .. %d (the kit's %d fitted buttons)"
                            % (path, _show(level), scale, scale))
            continue
        levels.append(level)
        if b.get("label") != labels[level - 1]:
            problems.append("%s.label: %s, but level %d of the %d-level scale is %s"
                            % (path, _show(b.get("label")), level, scale,
                               _show(labels[level - 1])))
    for level in range(1, scale + 1):
        if levels.count(level) > 1:
            problems.append("buttons: level %d is on %d buttons" % (level, levels.count(level)))
    widest = LABELS[max(LABELS)]
    for path, b in optional:
        if b.get("level") is not None:
            problems.append("%s.level: an optional button has no level on the kit's scale"
                            " (null); its label places it on larger scales" % path)
        if b.get("label") not in widest:
            problems.append("%s.label: %s is on no scale" % (path, _show(b.get("label"))))
