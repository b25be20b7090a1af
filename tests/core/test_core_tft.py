"""The display driver's bytes on the SPI bus, recorded by fake pins and a fake bus."""

from core_support import raises
from kiosk.tft import Display, swap565


class Recorder:
    """Fake SPI bus and pins sharing one log: ('dc', v), ('cs', v), ('spi', bytes)."""

    def __init__(self):
        self.log = []

    def pin(self, name):
        recorder = self

        class Pin:
            def value(self, v):
                recorder.log.append((name, v))
        return Pin()

    def write(self, data):
        self.log.append(("spi", bytes(data)))


def make(driver="ili9341", rotation=1):
    bus = Recorder()
    display = Display(bus, bus.pin("cs"), bus.pin("dc"), bus.pin("rst"), 320, 240,
                      driver=driver, rotation=rotation, backlight=bus.pin("bl"))
    return display, bus


def commands(bus):
    """(command, data) pairs: a byte written with dc=0, then what follows with dc=1."""
    out = []
    dc = None
    for kind, value in bus.log:
        if kind == "dc":
            dc = value
        elif kind == "spi":
            if dc == 0:
                out.append([value[0], b""])
            else:
                out[-1][1] += value
    return [(c, d) for c, d in out]


def test_init_sequence_ili9341_landscape():
    display, bus = make()
    display.init()
    assert commands(bus) == [(0x01, b""), (0x11, b""), (0x3A, b"\x55"), (0x36, b"\x28"),
                             (0x29, b"")]
    assert bus.log[-1] == ("bl", 1)


def test_st7789_inverts_and_uses_its_own_madctl():
    display, bus = make(driver="st7789", rotation=1)
    display.init()
    assert (0x36, b"\x60") in commands(bus) and (0x21, b"") in commands(bus)


def test_show_sets_the_full_window_then_writes_the_frame():
    display, bus = make()
    frame = bytes(range(256)) * 600
    display.show(frame)
    assert commands(bus) == [(0x2A, b"\x00\x00\x01\x3f"), (0x2B, b"\x00\x00\x00\xef"),
                             (0x2C, frame)]
    assert bus.log[-1] == ("cs", 1)


def test_unknown_driver_and_byte_swap():
    raises(ValueError, Display, None, None, None, None, 1, 1, "ssd1306")
    assert swap565(0xF800) == 0x00F8 and swap565(0x1234) == 0x3412
