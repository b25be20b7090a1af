"""Generate the device's bitmap fonts (firmware/fonts/*.hlf) from DejaVu TrueType files.

Host-only (needs Pillow); the device never runs this. Usage, from the repository root:

    python3 firmware/tools/make_font.py            # rewrite firmware/fonts/*.hlf + SOURCE.txt
    python3 firmware/tools/make_font.py --check    # exit 1 when a committed file differs

The TTFs come from Debian's `fonts-dejavu-core` (`apt-get install -y fonts-dejavu-core`):
DejaVu Sans and DejaVu Sans Bold cover every precomposed Vietnamese letter, are hinted for
small pixel sizes and carry the permissive Bitstream Vera licence (fonts/LICENSE-DejaVu.txt).

Output format: see the docstring of firmware/kiosk/font.py ("HLF1"), the only reader.
Deterministic: the same TTF and the same FreeType (bundled in the Pillow wheel) give the same
bytes; glyphs are rendered one by one with Pillow's BASIC layout (no raqm, no kerning, no
system configuration involved) and written in codepoint order. SOURCE.txt records the TTF
checksums and the Pillow/FreeType versions so a mismatch can be explained, not guessed.

Antialiasing is 2 bits per pixel (4 levels): stacked Vietnamese marks (ệ, ỗ, ặ, Ẫ) stay
legible at 14-17 px where 1-bit rendering merges the dot below or the hook above into the
letter, at half the size of 4 bits per pixel; on a 320x240 TFT four levels already remove
the staircase look. --bpp 1 or 4 exists to compare (the reader accepts all three).

Written for CPython but in the plain style of the firmware (no f-strings; paths built with
"/" instead of os) so the firmware-wide checks of tests/test_fw_mpy.py hold for it too.
"""

import hashlib
import struct
import sys
import unicodedata

MAGIC = b"HLF1"
TTF_DIR = "/usr/share/fonts/truetype/dejavu/"
INSTALL_HINT = "apt-get install -y fonts-dejavu-core"

# role -> (file name, TTF, pixel size): the roles kiosk/layout.py and kiosk/draw.py ask for.
FONTS = (
    ("small", "sans-14.hlf", "DejaVuSans.ttf", 14),
    ("normal", "sans-17.hlf", "DejaVuSans.ttf", 17),
    ("bold", "sans-bold-17.hlf", "DejaVuSans-Bold.ttf", 17),
    ("large", "sans-bold-22.hlf", "DejaVuSans-Bold.ttf", 22),
)

# The six tones (none, huyền, sắc, hỏi, ngã, nặng) on the twelve vowel letters.
VOWELS = "aăâeêioôơuưy"
TONES = ("", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323")
# Punctuation the screens use beyond ASCII; U+00A0 (no-break space) glues words for wrapping.
EXTRA = "\u00a0\u00ab\u00b0\u00b7\u00bb\u2013\u2014\u2018\u2019\u201c\u201d\u2026\u2192"


def vietnamese_letters():
    """The 67 precomposed lowercase Vietnamese letters that are not ASCII, then uppercase."""
    lower = ["đ"]
    for v in VOWELS:
        for t in TONES:
            ch = unicodedata.normalize("NFC", v + t)
            if len(ch) != 1:
                raise ValueError("no precomposed form for " + repr(v + t))
            if ord(ch) > 0x7F:
                lower.append(ch)
    if len(lower) != 67:
        raise ValueError("expected 67 Vietnamese letters, got %d" % len(lower))
    return lower + [c.upper() for c in lower]


def charset():
    cps = set(range(0x20, 0x7F))
    for ch in vietnamese_letters() + list(EXTRA):
        cps.add(ord(ch))
    return sorted(cps)


def root_dir():
    path = __file__.replace("\\", "/")
    if not path.startswith("/") and ":" not in path:
        path = "./" + path
    return path.rsplit("/", 3)[0]  # .../firmware/tools/make_font.py -> repository root


def _pack_row(levels, bpp):
    # Bit order of MicroPython's framebuf formats (extmod/modframebuf.c), so a glyph row can
    # be blitted as it is: MONO_HLSB pixel 0 in bit 7; GS2_HMSB pixel 0 in bits 1..0 (yes,
    # low bits first despite the name); GS4_HMSB pixel 0 in the high nibble. Rows start on
    # a byte boundary, as framebuf rounds the stride of these formats up to whole bytes.
    per = 8 // bpp
    out = bytearray((len(levels) + per - 1) // per)
    for x, v in enumerate(levels):
        if bpp == 1:
            out[x >> 3] |= v << (7 - (x & 7))
        elif bpp == 2:
            out[x >> 2] |= v << ((x & 3) * 2)
        else:
            out[x >> 1] |= v << (4 if x % 2 == 0 else 0)
    return bytes(out)


def _render(font, ch):
    """(advance, left, top, width, height, 8-bit pixels) of one glyph; top from the baseline."""
    from PIL import Image, ImageDraw
    advance = int(round(font.getlength(ch)))
    left, top, right, bottom = font.getbbox(ch, anchor="ls")
    width, height = right - left, bottom - top
    if width <= 0 or height <= 0:
        return advance, 0, 0, 0, 0, b""
    img = Image.new("L", (width, height), 0)
    ImageDraw.Draw(img).text((-left, -top), ch, fill=255, font=font, anchor="ls")
    box = img.getbbox()  # the ink may be smaller than the layout box
    if box is None:
        return advance, 0, 0, 0, 0, b""
    img = img.crop(box)
    return (advance, left + box[0], top + box[1], img.width, img.height, img.tobytes())


def build(ttf_path, size, bpp=2):
    """The .hlf bytes for one TTF at one pixel size."""
    from PIL import ImageFont
    if bpp not in (1, 2, 4):
        raise ValueError("bpp must be 1, 2 or 4")
    font = ImageFont.truetype(ttf_path, size, layout_engine=ImageFont.Layout.BASIC)
    cps = charset()
    glyphs = [_render(font, chr(cp)) for cp in cps]
    ascent = max([-g[2] for g in glyphs if g[4]])
    descent = max([g[2] + g[4] for g in glyphs if g[4]])
    maxv = (1 << bpp) - 1
    offsets, data, largest = [], bytearray(), 0
    for cp, (advance, left, top, w, h, pixels) in zip(cps, glyphs):
        if advance > 255 or w > 255 or h > 255 or not -128 <= left < 128:
            raise ValueError("glyph U+%04X too large for the format" % cp)
        rec = bytearray(struct.pack("<BBbb", w, h, left, top + ascent))
        for y in range(h):
            row = pixels[y * w:(y + 1) * w]
            rec += _pack_row([(v * maxv + 127) // 255 for v in row], bpp)
        offsets.append(len(data))
        largest = max(largest, len(rec))
        data += rec
    if len(data) >= 1 << 24:
        raise ValueError("data section too large for 24-bit offsets")
    out = bytearray(MAGIC)
    out += struct.pack("<BBBBHHI", bpp, size, ascent + descent, ascent, len(cps), largest,
                       len(data))
    for cp in cps:
        out += struct.pack("<H", cp)
    for off in offsets:
        out += struct.pack("<I", off)[:3]
    out += bytes(g[0] for g in glyphs)
    out += data
    return bytes(out)


def ttf_path(name):
    path = TTF_DIR + name
    try:
        with open(path, "rb"):
            pass
    except OSError:
        raise SystemExit("missing " + path + "; install it with: " + INSTALL_HINT)
    return path


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def source_text():
    """SOURCE.txt: what the committed fonts were generated from (key = value lines)."""
    import PIL
    from PIL import features
    lines = ["# Generated by firmware/tools/make_font.py; do not edit.",
             "pillow = " + PIL.__version__,
             "freetype = " + str(features.version("freetype2"))]
    for ttf in sorted(set(f[2] for f in FONTS)):
        lines.append(ttf + " = sha256:" + sha256_file(ttf_path(ttf)))
    for role, name, ttf, size in FONTS:
        lines.append(name + " = " + role + ", " + ttf + " " + str(size) + " px")
    return "\n".join(lines) + "\n"


def generate_all(bpp=2):
    """{file name: bytes} for every font of FONTS."""
    return dict((name, build(ttf_path(ttf), size, bpp)) for _, name, ttf, size in FONTS)


def main(argv):
    check = "--check" in argv
    bpp = 2
    if "--bpp" in argv:
        bpp = int(argv[argv.index("--bpp") + 1])
    folder = root_dir() + "/firmware/fonts/"
    differ = []
    for name, blob in sorted(generate_all(bpp).items()):
        if check:
            try:
                with open(folder + name, "rb") as f:
                    same = f.read() == blob
            except OSError:
                same = False
            if not same:
                differ.append(name)
            continue
        with open(folder + name, "wb") as f:
            f.write(blob)
        print("%s: %d bytes" % (name, len(blob)))
    if check:
        if differ:
            print("differ from the committed files: " + ", ".join(differ))
            return 1
        print("fonts up to date")
        return 0
    with open(folder + "SOURCE.txt", "w") as f:
        f.write(source_text())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
