"""A minimal ILI9341 / ST7789 SPI display driver: initialise, then push a whole frame.

The device draws every screen into one RGB565 framebuf in PSRAM (kiosk.draw) and sends it in
one SPI write (320×240×2 = 150 kB, about 30 ms at 40 MHz); screens change a few times a
minute, so partial updates would only add code. The pins and the SPI bus are passed in
(machine objects on the board, fakes in tests), so this module imports no `machine`.

framebuf stores RGB565 little-endian while both controllers read the high byte first; rather
than swapping 150 kB in Python on every frame, the device draws with byte-swapped colours
(`swap565`), which the ESP32 layer applies to the palette once.

Command bytes are the controllers' datasheet names: SWRESET 0x01, SLPOUT 0x11, INVON 0x21,
DISPON 0x29, CASET 0x2A, RASET/PASET 0x2B, RAMWR 0x2C, MADCTL 0x36, COLMOD 0x3A.
"""

try:
    from micropython import const
except ImportError:  # CPython host
    def const(x):
        return x

_SWRESET = const(0x01)
_SLPOUT = const(0x11)
_INVON = const(0x21)
_DISPON = const(0x29)
_CASET = const(0x2A)
_RASET = const(0x2B)
_RAMWR = const(0x2C)
_MADCTL = const(0x36)
_COLMOD = const(0x3A)
_PIXEL_16BIT = const(0x55)

# MADCTL per rotation (0–3): row/column exchange and mirroring, BGR panel order for ILI9341.
_MADCTL_ILI9341 = (0x48, 0x28, 0x88, 0xE8)
_MADCTL_ST7789 = (0x00, 0x60, 0xC0, 0xA0)
DRIVERS = ("ili9341", "st7789")


def swap565(colour):
    """The RGB565 colour with its two bytes exchanged, for a big-endian controller."""
    return ((colour & 0xFF) << 8) | (colour >> 8)


class Display:
    def __init__(self, spi, cs, dc, rst, width, height, driver="ili9341", rotation=1,
                 sleep_ms=None, backlight=None):
        if driver not in DRIVERS:
            raise ValueError("display driver must be one of " + ", ".join(DRIVERS))
        self.spi = spi
        self.cs = cs
        self.dc = dc
        self.rst = rst
        self.width = width
        self.height = height
        self.driver = driver
        self.rotation = rotation % 4
        self.sleep_ms = sleep_ms or (lambda ms: None)
        self.backlight = backlight
        self._one = bytearray(1)
        self._window = bytearray(4)

    def _command(self, cmd, data=None):
        self.cs.value(0)
        self.dc.value(0)
        self._one[0] = cmd
        self.spi.write(self._one)
        if data:
            self.dc.value(1)
            self.spi.write(data)
        self.cs.value(1)

    def init(self):
        self.cs.value(1)
        if self.rst is not None:
            self.rst.value(0)
            self.sleep_ms(10)
            self.rst.value(1)
        self.sleep_ms(120)  # datasheet: 120 ms after reset before commands
        self._command(_SWRESET)
        self.sleep_ms(150)
        self._command(_SLPOUT)
        self.sleep_ms(120)  # datasheet: 120 ms after sleep out
        self._command(_COLMOD, bytes((_PIXEL_16BIT,)))
        table = _MADCTL_ILI9341 if self.driver == "ili9341" else _MADCTL_ST7789
        self._command(_MADCTL, bytes((table[self.rotation],)))
        if self.driver == "st7789":
            self._command(_INVON)  # ST7789 panels are built inverted
        self._command(_DISPON)
        if self.backlight is not None:
            self.backlight.value(1)

    def _set_window(self, cmd, start, end):
        w = self._window
        w[0] = start >> 8
        w[1] = start & 0xFF
        w[2] = end >> 8
        w[3] = end & 0xFF
        self._command(cmd, w)

    def show(self, buffer):
        """Send a whole width×height RGB565 frame (byte-swapped colours)."""
        self._set_window(_CASET, 0, self.width - 1)
        self._set_window(_RASET, 0, self.height - 1)
        self.cs.value(0)
        self.dc.value(0)
        self._one[0] = _RAMWR
        self.spi.write(self._one)
        self.dc.value(1)
        self.spi.write(buffer)
        self.cs.value(1)
