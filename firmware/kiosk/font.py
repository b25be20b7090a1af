"""Bitmap fonts for the TFT: look up, measure and draw Vietnamese text into a FrameBuffer.

The fonts are made on the host by firmware/tools/make_font.py from DejaVu TrueType files
(firmware/fonts/*.hlf). File format "HLF1", all integers little-endian:

    offset  size  field
    0       4     magic b"HLF1"
    4       1     bits per pixel: 1, 2 or 4 (antialiasing levels 2, 4, 16)
    5       1     nominal size (em) in px
    6       1     line height in px (tallest ink above the baseline + deepest below)
    7       1     baseline, px below the top of the line
    8       2     N, number of glyphs
    10      2     largest glyph record in bytes (the file mode's scratch buffer)
    12      4     length of the data section
    16      2N    codepoints, u16, strictly ascending (binary search; all in the BMP)
    16+2N   3N    offset of each glyph record in the data section, u24
    16+5N   N     advance width of each glyph in px, u8 (measure() needs nothing else)
    16+6N   ...   data section: one record per glyph, in codepoint order:
                  width u8, height u8, left i8 (from the pen), top u8 (from the line top),
                  then `height` rows, each padded to a whole byte, in MicroPython framebuf's
                  own pixel order for the format (MONO_HLSB, GS2_HMSB, GS4_HMSB), so a
                  record is blitted as it is stored.

Two ways to open a font, chosen by what is passed to Font():
- bytes / bytearray / memoryview of the whole file: glyphs are blitted straight from it
  (framebuf accepts a read-only buffer in the tuple form of blit). Zero copies; with the
  font frozen into the firmware image as a bytes object it costs no RAM at all.
- a file object (seek, readinto): only the index (6 bytes per glyph, 1.45 kB for the 242
  glyphs) and one scratch buffer of the largest record (< 200 bytes) stay in RAM; each glyph
  drawn costs one seek and one readinto. The four fonts take 8.7 kB of heap this way
  (measured with gc.mem_alloc under MicroPython 1.27), against ~52 kB loaded whole — the
  choice for the device until the fonts are frozen.

Speed: per character one direct index (ASCII) or binary search (8 steps over 242
codepoints), one record read and one blit done in C by framebuf with a 4-entry palette;
the C blits are a small part of a redraw, the Python loops the rest. Under MicroPython 1.27
(WebAssembly port, on the 2-core build host) the busiest screen (5-button card with a long
name, offline) redraws in 4-10 ms, about 0.06x the time of a 100 000-iteration `x += i`
loop on the same interpreter. An ESP32-S3 at 240 MHz should run that loop a few times
slower (an estimate, not measured here), so expect some 15-40 ms there, well under 100 ms;
to confirm on the board, time draw_screen and that loop with time.ticks_us.

Colours are RGB565 ints; antialiasing blends the foreground over the background the text
is drawn on (the caller says which), and the palette's background entry is the blit key,
so only ink is written. A character missing from the font is drawn as a visible box with
the width of a letter and counted (Font.missing, and the return value of draw) — never
skipped silently.

MicroPython compatible: framebuf on the device, kiosk.hostfb (pure Python) on the host.
"""

try:
    import framebuf
except ImportError:  # CPython host: the pure-Python stand-in with the same behaviour
    from kiosk import hostfb as framebuf

try:
    from micropython import const
except ImportError:  # CPython host
    def const(x):
        return x

MAGIC = b"HLF1"
_HEADER = const(16)
_REC = const(4)  # width, height, left, top
_FORMATS = {1: framebuf.MONO_HLSB, 2: framebuf.GS2_HMSB, 4: framebuf.GS4_HMSB}
ELLIPSIS = "\u2026"


class FontError(ValueError):
    """The font data is not a valid HLF1 font."""


def _u16(b, i):
    return b[i] | (b[i + 1] << 8)


def swap16(c):
    """The colour with its two bytes exchanged (for panels fed big-endian RGB565)."""
    return ((c & 0xFF) << 8) | (c >> 8)


def blend(fg, bg, level, top):
    """RGB565 colour `level`/`top` of the way from bg to fg, per channel."""
    r = (bg >> 11) + ((fg >> 11) - (bg >> 11)) * level // top
    g = ((bg >> 5) & 0x3F) + (((fg >> 5) & 0x3F) - ((bg >> 5) & 0x3F)) * level // top
    b = (bg & 0x1F) + ((fg & 0x1F) - (bg & 0x1F)) * level // top
    return (r << 11) | (g << 5) | b


class Font:
    """One font at one size, opened from bytes or from a file object (see module docstring)."""

    def __init__(self, source):
        self.missing = 0  # characters drawn as a replacement box since the font was opened
        if hasattr(source, "readinto"):
            self._file = source
            source.seek(0)
            self._parse_header(source.read(_HEADER))
            # Index only: codepoints, offsets, advances, read once.
            self._buf = bytearray(6 * self._n)
            if source.readinto(self._buf) != len(self._buf):
                raise FontError("font file truncated in the index")
            self._cp0 = 0
            self._scratch = bytearray(self._largest)
            self._view = memoryview(self._scratch)
        else:
            self._file = None
            # Index reads go to the object itself: indexing bytes is cheaper than indexing
            # a memoryview on MicroPython; the memoryview only slices glyph bitmaps.
            self._buf = source
            self._view = memoryview(source)
            self._parse_header(self._view[:_HEADER])
            self._cp0 = _HEADER
            if len(self._view) < _HEADER + 6 * self._n + self._datalen:
                raise FontError("font data truncated")
        n = self._n
        self._off0 = self._cp0 + 2 * n
        self._adv0 = self._cp0 + 5 * n
        self._data0 = _HEADER + 6 * n  # data section, from the start of the file
        # Direct index for ASCII when the font starts with all of U+0020..U+007E (ours do).
        self._ascii = n >= 95 and _u16(self._buf, self._cp0) == 32 and \
            _u16(self._buf, self._cp0 + 2 * 94) == 126
        self._levels = 1 << self.bpp
        self._pal = bytearray(2 * self._levels)
        self._palfb = framebuf.FrameBuffer(self._pal, self._levels, 1, framebuf.RGB565)
        self._palkey = None
        # The replacement box: as wide as a capital, from the cap height to the baseline.
        self._box_w = max(3, self.size * 11 // 20)
        self._box_h = max(3, self.size * 7 // 10)
        self.replacement_advance = self._box_w + 2

    def _parse_header(self, head):
        if len(head) < _HEADER or bytes(head[:4]) != MAGIC:
            raise FontError("not an HLF1 font")
        self.bpp = head[4]
        if self.bpp not in _FORMATS:
            raise FontError("unsupported bits per pixel: " + str(self.bpp))
        self._fmt = _FORMATS[self.bpp]
        self.size = head[5]
        self.line_height = head[6]
        self.baseline = head[7]
        self._n = _u16(head, 8)
        self._largest = _u16(head, 10)
        self._datalen = _u16(head, 12) | (_u16(head, 14) << 16)

    def __len__(self):
        return self._n

    def codepoints(self):
        """Every codepoint the font has, ascending (for coverage checks)."""
        return [_u16(self._buf, self._cp0 + 2 * i) for i in range(self._n)]

    def _find(self, cp):
        # Binary search of the sorted codepoints; -1 when absent.
        buf = self._buf
        base = self._cp0
        lo = 0
        hi = self._n - 1
        while lo <= hi:
            mid = (lo + hi) >> 1
            j = base + 2 * mid
            v = buf[j] | (buf[j + 1] << 8)
            if v < cp:
                lo = mid + 1
            elif v > cp:
                hi = mid - 1
            else:
                return mid
        return -1

    def index(self, ch):
        """Glyph number of the character `ch`, or -1 when the font lacks it."""
        cp = ord(ch)
        if self._ascii and 32 <= cp < 127:
            return cp - 32
        return self._find(cp)

    def has(self, ch):
        return self.index(ch) >= 0

    def advance(self, ch):
        i = self.index(ch)
        if i < 0:
            return self.replacement_advance
        return self._buf[self._adv0 + i]

    def measure(self, text):
        """Width of `text` in px (a missing character counts as its replacement box)."""
        # The ASCII test is inlined: measuring is the hot path of wrapping.
        w = 0
        buf = self._buf
        adv0 = self._adv0
        ascii = self._ascii
        for ch in text:
            cp = ord(ch)
            if ascii and 32 <= cp < 127:
                w += buf[adv0 + cp - 32]
                continue
            i = self._find(cp)
            w += self.replacement_advance if i < 0 else buf[adv0 + i]
        return w

    def count_missing(self, text):
        """How many characters of `text` the font lacks (without counting them as drawn)."""
        n = 0
        for ch in text:
            if self.index(ch) < 0:
                n += 1
        return n

    def _palette(self, fg, bg, swap):
        key = (fg, bg, swap)
        if key != self._palkey:
            top = self._levels - 1
            for level in range(self._levels):
                c = blend(fg, bg, level, top)
                self._palfb.pixel(level, 0, swap16(c) if swap else c)
            self._palkey = key
        return self._palfb

    def draw(self, fb, text, x, y, fg, bg, swap=False):
        """Draw `text` with its line top at y, pen starting at x; return missing characters.

        fb: a framebuf.FrameBuffer in RGB565 (or kiosk.hostfb.FrameBuffer); fg, bg: RGB565
        of the ink and of what is under the text (for antialiasing); swap: store colours
        byte-swapped. The caller places the text; nothing here clips or wraps.
        """
        pal = self._palette(fg, bg, swap)
        key = swap16(bg) if swap else bg
        ink = swap16(fg) if swap else fg
        fmt = self._fmt
        bpp = self.bpp
        buf = self._buf
        view = self._view
        adv0 = self._adv0
        off0 = self._off0
        f = self._file
        missing = 0
        for ch in text:
            cp = ord(ch)
            if self._ascii and 32 <= cp < 127:
                i = cp - 32
            else:
                i = self._find(cp)
                if i < 0:
                    # Visible and counted: a hollow box where the letter should be.
                    fb.rect(x + 1, y + self.baseline - self._box_h, self._box_w, self._box_h,
                            ink)
                    x += self.replacement_advance
                    missing += 1
                    continue
            j = off0 + 3 * i
            off = buf[j] | (buf[j + 1] << 8) | (buf[j + 2] << 16)
            if f is None:
                rec = buf
                o = self._data0 + off
            else:
                # One seek and one read per glyph: the record runs to the next one's start.
                if i + 1 < self._n:
                    end = buf[j + 3] | (buf[j + 4] << 8) | (buf[j + 5] << 16)
                else:
                    end = self._datalen
                f.seek(self._data0 + off)
                if f.readinto(view[:end - off]) != end - off:
                    raise FontError("font file truncated in the glyph data")
                rec = self._scratch
                o = 0
            w = rec[o]
            if w:
                h = rec[o + 1]
                left = rec[o + 2]
                if left > 127:
                    left -= 256
                o += _REC
                bits = view[o:o + ((w * bpp + 7) >> 3) * h]
                fb.blit((bits, w, h, fmt), x + left, y + rec[o - 1], key, pal)
            x += buf[adv0 + i]
        self.missing += missing
        return missing

    def ellipsize(self, text, width, more=False):
        """`text` shortened with "…" to fit `width`: whole words first, else characters.

        more=True: the text goes on after this line (lines were cut), so the result ends
        with "…" even when `text` itself fits.
        """
        if not more and self.measure(text) <= width:
            return text
        room = width - self.measure(ELLIPSIS)
        if self.measure(text) <= room:
            return text + ELLIPSIS
        words = text.split(" ")
        while len(words) > 1:
            words.pop()
            cut = " ".join(words).rstrip()
            if self.measure(cut) <= room:
                return cut + ELLIPSIS
        cut = words[0]
        while cut and self.measure(cut) > room:
            cut = cut[:-1]
        return cut + ELLIPSIS


# Default font files (firmware/fonts, copied to /fonts on the device) for the roles that
# kiosk/layout.py and kiosk/draw.py ask for; make_font.FONTS generates exactly these.
FILES = {"small": "sans-14.hlf", "normal": "sans-17.hlf", "bold": "sans-bold-17.hlf",
         "large": "sans-bold-22.hlf"}


def open_fonts(folder, opener=open, whole=False):
    """{role: Font} for FILES under `folder`; whole=True reads each file into RAM at once.

    File mode keeps the files open for the life of the fonts (one handle per font).
    """
    fonts = {}
    for role in FILES:
        f = opener(folder + "/" + FILES[role], "rb")
        if whole:
            try:
                fonts[role] = Font(f.read())
            finally:
                f.close()
        else:
            fonts[role] = Font(f)
    return fonts
