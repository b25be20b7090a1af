"""Host-only stand-in for MicroPython's framebuf module, in pure Python.

So that kiosk/font.py and kiosk/draw.py run unchanged on CPython (tests, simulator, the PNGs
of docs/screens): the same constants, and a FrameBuffer with the methods they use — fill,
fill_rect, pixel, hline, vline, rect (with fill), blit (FrameBuffer or tuple source, key,
palette) — following extmod/modframebuf.c of MicroPython 1.27 pixel for pixel: the same
pixel order in each format (GS2_HMSB keeps pixel 0 in the LOW two bits; GS4_HMSB in the
high nibble; MONO_HLSB in bit 7), the same stride rounding, the same clipping, and a blit
key compared with the colour after the palette lookup. RGB565 pixels are stored
little-endian, as framebuf stores them on the ESP32.

Only what the screens need: no text(), line(), ellipse(), poly() or scroll(). Slow (a
pixel loop per blit) but fast enough for tests and a few renders per second.
"""

import array

MONO_VLSB = 0
MVLSB = 0
RGB565 = 1
GS4_HMSB = 2
MONO_HLSB = 3
MONO_HMSB = 4
GS2_HMSB = 5
GS8 = 6

_BITS = {MONO_VLSB: 1, RGB565: 16, GS4_HMSB: 4, MONO_HLSB: 1, MONO_HMSB: 1, GS2_HMSB: 2,
         GS8: 8}


def _stride(width, fmt, stride):
    s = width if stride is None else stride
    if fmt in (MONO_HLSB, MONO_HMSB):
        s = (s + 7) & ~7
    elif fmt == GS2_HMSB:
        s = (s + 3) & ~3
    elif fmt == GS4_HMSB:
        s = (s + 1) & ~1
    return s


def _needed(width, height, fmt, stride):
    # Bytes the buffer must hold (the tuple form of blit checks this, as framebuf does).
    if fmt == MONO_VLSB:
        return ((height + 7) >> 3) * stride
    return (stride * height * _BITS[fmt] + 7) >> 3


class FrameBuffer:
    def __init__(self, buffer, width, height, format, stride=None):
        if format not in _BITS:
            raise ValueError("invalid format")
        self.buf = buffer
        self.width = width
        self.height = height
        self.format = format
        self.stride = _stride(width, format, stride)
        if len(memoryview(buffer).cast("B")) < _needed(width, height, format, self.stride):
            raise ValueError("buffer too small")
        if format == RGB565 and isinstance(buffer, bytearray):
            self._words = memoryview(buffer).cast("H")  # host is little-endian, as ESP32
        else:
            self._words = None

    # --- pixel access per format (extmod/modframebuf.c) ------------------------------------

    def _get(self, x, y):
        b = self.buf
        f = self.format
        if f == RGB565:
            i = 2 * (x + y * self.stride)
            return b[i] | (b[i + 1] << 8)
        if f == GS2_HMSB:
            return (b[(x + y * self.stride) >> 2] >> ((x & 3) << 1)) & 3
        if f == GS4_HMSB:
            v = b[(x + y * self.stride) >> 1]
            return v & 0x0F if x % 2 else v >> 4
        if f in (MONO_HLSB, MONO_HMSB):
            off = x & 7 if f == MONO_HMSB else 7 - (x & 7)
            return (b[(x + y * self.stride) >> 3] >> off) & 1
        if f == GS8:
            return b[x + y * self.stride]
        return (b[(y >> 3) * self.stride + x] >> (y & 7)) & 1  # MONO_VLSB

    def _set(self, x, y, c):
        b = self.buf
        f = self.format
        if f == RGB565:
            i = 2 * (x + y * self.stride)
            b[i] = c & 0xFF
            b[i + 1] = (c >> 8) & 0xFF
        elif f == GS2_HMSB:
            i = (x + y * self.stride) >> 2
            s = (x & 3) << 1
            b[i] = (b[i] & ~(3 << s) & 0xFF) | ((c & 3) << s)
        elif f == GS4_HMSB:
            i = (x + y * self.stride) >> 1
            if x % 2:
                b[i] = (b[i] & 0xF0) | (c & 0x0F)
            else:
                b[i] = ((c << 4) & 0xF0) | (b[i] & 0x0F)
        elif f in (MONO_HLSB, MONO_HMSB):
            i = (x + y * self.stride) >> 3
            off = x & 7 if f == MONO_HMSB else 7 - (x & 7)
            b[i] = (b[i] & ~(1 << off) & 0xFF) | ((c != 0) << off)
        elif f == GS8:
            b[x + y * self.stride] = c & 0xFF
        else:
            i = (y >> 3) * self.stride + x
            off = y & 7
            b[i] = (b[i] & ~(1 << off) & 0xFF) | ((c != 0) << off)

    # --- drawing ---------------------------------------------------------------------------

    def _fill_rect(self, x, y, w, h, c):
        if h < 1 or w < 1 or x + w <= 0 or y + h <= 0 or y >= self.height or x >= self.width:
            return
        xend = min(self.width, x + w)
        yend = min(self.height, y + h)
        x = max(x, 0)
        y = max(y, 0)
        if self._words is not None:
            c &= 0xFFFF
            row = [c] * (xend - x)
            for yy in range(y, yend):
                start = x + yy * self.stride
                self._words[start:start + len(row)] = _words_of(row)
            return
        for yy in range(y, yend):
            for xx in range(x, xend):
                self._set(xx, yy, c)

    def fill(self, c):
        self._fill_rect(0, 0, self.width, self.height, c)

    def fill_rect(self, x, y, w, h, c):
        self._fill_rect(x, y, w, h, c)

    def pixel(self, x, y, c=None):
        if 0 <= x < self.width and 0 <= y < self.height:
            if c is None:
                return self._get(x, y)
            self._set(x, y, c)
        return None

    def hline(self, x, y, w, c):
        self._fill_rect(x, y, w, 1, c)

    def vline(self, x, y, h, c):
        self._fill_rect(x, y, 1, h, c)

    def rect(self, x, y, w, h, c, f=False):
        if f:
            self._fill_rect(x, y, w, h, c)
            return
        self._fill_rect(x, y, w, 1, c)
        self._fill_rect(x, y + h - 1, w, 1, c)
        self._fill_rect(x, y, 1, h, c)
        self._fill_rect(x + w - 1, y, 1, h, c)

    def blit(self, source, x, y, key=-1, palette=None):
        src = _as_framebuffer(source)
        pal = None if palette is None else _as_framebuffer(palette)
        if x >= self.width or y >= self.height or -x >= src.width or -y >= src.height:
            return
        x0 = max(0, x)
        y0 = max(0, y)
        x1 = max(0, -x)
        y1 = max(0, -y)
        x0end = min(self.width, x + src.width)
        y0end = min(self.height, y + src.height)
        lut = None
        if pal is not None:
            lut = [pal._get(i, 0) for i in range(pal.width)]
        get = src._get
        put = self._set
        for yy in range(y0, y0end):
            sx = x1
            for xx in range(x0, x0end):
                c = get(sx, y1)
                if lut is not None:
                    # framebuf reads the palette at x = colour; beyond its width it reads
                    # memory past the row (undefined); our palettes always cover the source.
                    c = lut[c]
                if c != key:
                    put(xx, yy, c)
                sx += 1
            y1 += 1


def _words_of(row):
    return array.array("H", row)


def _as_framebuffer(obj):
    # framebuf (1.20+) accepts (buffer, width, height, format[, stride]) wherever it takes a
    # source or palette FrameBuffer; a read-only buffer is fine there.
    if isinstance(obj, FrameBuffer):
        return obj
    if isinstance(obj, tuple) and 4 <= len(obj) <= 5:
        return FrameBuffer(obj[0], obj[1], obj[2], obj[3], obj[4] if len(obj) == 5 else None)
    raise TypeError("expected a FrameBuffer or a (buffer, width, height, format) tuple")
