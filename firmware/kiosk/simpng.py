"""Host-only: render a screen (kiosk.screen items) to a PNG, exactly as the device draws it.

    result = render_png(items, "card.png")                 # 320 x 240, the TFT's pixels
    data = png_bytes(*render(items))                       # bytes, e.g. for a web page

The same kiosk.draw and kiosk.font code as on the device, drawing into kiosk.hostfb (the
pure-Python framebuf), then RGB565 -> RGB888 and a PNG written with zlib (no Pillow), so the
simulator, the README and the dashboard's device page need nothing beyond the standard
library. Returns draw_screen's Result, so callers see the same problems the device reports.

The fonts are firmware/fonts/*.hlf, read whole once and kept (default_fonts()).
"""

import struct
import zlib

from kiosk import draw, font, hostfb

_FONTS = {}


def fonts_dir():
    here = __file__.replace("\\", "/")
    return here.rsplit("/", 2)[0] + "/fonts"  # firmware/kiosk/simpng.py -> firmware/fonts


def default_fonts():
    """{role: Font} from firmware/fonts, loaded on first use and cached."""
    if not _FONTS:
        _FONTS.update(font.open_fonts(fonts_dir(), whole=True))
    return _FONTS


def render(items, width=320, height=240, fonts=None, **options):
    """(RGB565 bytearray, width, height, Result) for `items`; options go to draw_screen."""
    buf = bytearray(width * height * 2)
    fb = hostfb.FrameBuffer(buf, width, height, hostfb.RGB565)
    result = draw.draw_screen(fb, width, height, items, fonts or default_fonts(), **options)
    return buf, width, height, result


def rgb_rows(buf, width, height, scale=1):
    """RGB888 rows (bytes each) of an RGB565 little-endian buffer, scaled by pixel repeat."""
    seen = {}
    rows = []
    for y in range(height):
        row = bytearray()
        for x in range(width):
            i = 2 * (x + y * width)
            c = buf[i] | (buf[i + 1] << 8)
            px = seen.get(c)
            if px is None:
                r = (c >> 11) & 0x1F
                g = (c >> 5) & 0x3F
                b = c & 0x1F
                # Expand 5/6-bit channels by repeating their top bits: 0x1F -> 0xFF exactly.
                px = bytes(((r << 3) | (r >> 2), (g << 2) | (g >> 4), (b << 3) | (b >> 2)))
                px = seen[c] = px * scale
            row += px
        rows.extend([bytes(row)] * scale)
    return rows


def png_bytes(buf, width, height, result=None, scale=1):
    """A PNG (8-bit RGB, no interlace, filter 0 on every row) of the RGB565 buffer."""
    rows = rgb_rows(buf, width, height, scale)
    raw = b"".join(b"\x00" + row for row in rows)

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    head = struct.pack(">IIBBBBB", width * scale, height * scale, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", head) +
            chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def render_png(items, path, width=320, height=240, fonts=None, scale=1, **options):
    """Draw `items` as the device would and write the PNG to `path`; the draw Result."""
    buf, width, height, result = render(items, width, height, fonts, **options)
    with open(path, "wb") as f:
        f.write(png_bytes(buf, width, height, scale=scale))
    return result


def read_png(path):
    """(width, height, RGB888 rows) of a PNG written by png_bytes (and only such PNGs)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos = 8
    idat = b""
    width = height = 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if (depth, colour, interlace) != (8, 2, 0):
                raise ValueError("only 8-bit RGB, non-interlaced PNGs")
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = 3 * width + 1
    rows = []
    for y in range(height):
        if raw[y * stride] != 0:
            raise ValueError("only filter type 0")
        rows.append(raw[y * stride + 1:(y + 1) * stride])
    return width, height, rows
