"""The device's bitmap fonts: generated from DejaVu, complete for Vietnamese, drawn exactly.

Regenerates firmware/fonts from the TTFs (fonts-dejavu-core) with Pillow and compares with
the committed bytes; checks every font covers the whole Vietnamese alphabet in both cases;
draws with kiosk.font into kiosk.hostfb (the framebuf stand-in) and looks at the pixels.
"""

import io
import os
import sys

import pytest

from kiosk import font, hostfb
from kiosk.font import Font, FontError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FONTS_DIR = os.path.join(ROOT, "firmware", "fonts")
sys.path.insert(0, os.path.join(ROOT, "firmware", "tools"))

import make_font  # noqa: E402

# Written out by hand (not derived like make_font does), 67 + 67 letters.
VIETNAMESE_LOWER = ("àáảãạ ăằắẳẵặ âầấẩẫậ đ èéẻẽẹ êềếểễệ ìíỉĩị òóỏõọ ôồốổỗộ ơờớởỡợ "
                    "ùúủũụ ưừứửữự ỳýỷỹỵ").replace(" ", "")
VIETNAMESE_UPPER = ("ÀÁẢÃẠ ĂẰẮẲẴẶ ÂẦẤẨẪẬ Đ ÈÉẺẼẸ ÊỀẾỂỄỆ ÌÍỈĨỊ ÒÓỎÕỌ ÔỒỐỔỖỘ ƠỜỚỞỠỢ "
                    "ÙÚỦŨỤ ƯỪỨỬỮỰ ỲÝỶỸỴ").replace(" ", "")
PUNCTUATION = "·–—→…«»“”’‘\u00a0°"
ASCII = "".join(chr(c) for c in range(0x20, 0x7F))
SAMPLE = "Nguyễn Thị Thu Hường · Tôn Nữ Hoàng Phương Uyên — Quầy 3 … ĐỖ ẶỸ"


def load(name):
    with open(os.path.join(FONTS_DIR, name), "rb") as f:
        return f.read()


@pytest.fixture(scope="module", params=sorted(font.FILES.values()))
def each_font(request):
    return Font(load(request.param))


def canvas(w=120, h=40, bg=0xFFFF):
    buf = bytearray(w * h * 2)
    fb = hostfb.FrameBuffer(buf, w, h, hostfb.RGB565)
    fb.fill(bg)
    return fb


def ink(fb, bg=0xFFFF):
    return {(x, y) for y in range(fb.height) for x in range(fb.width) if fb.pixel(x, y) != bg}


# --- the generator -----------------------------------------------------------------------

def _require_generator():
    missing = [t for t in sorted({f[2] for f in make_font.FONTS})
               if not os.path.exists(make_font.TTF_DIR + t)]
    if missing:
        pytest.fail("DejaVu TTFs missing (%s); install them with: %s"
                    % (", ".join(missing), make_font.INSTALL_HINT))
    try:
        import PIL  # noqa: F401
    except ImportError:
        pytest.fail("Pillow is needed to regenerate the fonts: pip install pillow")


def test_alphabet_lists_are_complete():
    assert len(VIETNAMESE_LOWER) == 67 and len(set(VIETNAMESE_LOWER)) == 67
    assert VIETNAMESE_LOWER.upper() == VIETNAMESE_UPPER
    assert sorted(make_font.vietnamese_letters()) == sorted(VIETNAMESE_LOWER + VIETNAMESE_UPPER)


def test_generation_is_deterministic():
    _require_generator()
    _, _, ttf, size = make_font.FONTS[0]
    path = make_font.ttf_path(ttf)
    assert make_font.build(path, size) == make_font.build(path, size)


@pytest.mark.parametrize("bpp", [1, 4])
def test_other_depths_draw_the_same_letter(bpp):
    # The reader takes 1 and 4 bits per pixel too (MONO_HLSB, GS4_HMSB rows).
    _require_generator()
    _, _, ttf, size = make_font.FONTS[1]
    other = Font(make_font.build(make_font.ttf_path(ttf), size, bpp))
    ours = Font(load(make_font.FONTS[1][1]))
    assert other.bpp == bpp and other.codepoints() == ours.codepoints()
    a, b = canvas(), canvas()
    ours.draw(a, "Ặg", 10, 5, 0x0000, 0xFFFF)
    other.draw(b, "Ặg", 10, 5, 0x0000, 0xFFFF)
    # Pixels darker than half grey: the same letter, near enough.
    dark_a = {p for p in ink(a) if (a.pixel(*p) >> 5) & 0x3F < 32}
    dark_b = {p for p in ink(b) if (b.pixel(*p) >> 5) & 0x3F < 32}
    assert len(dark_a & dark_b) >= 0.8 * max(len(dark_a), len(dark_b))
    levels = {b.pixel(*p) for p in ink(b)}
    assert len(levels) <= (1 << bpp) - 1 and (bpp == 1) == (len(levels) == 1)


def test_committed_fonts_are_what_the_generator_makes():
    _require_generator()
    fresh = make_font.generate_all()
    assert sorted(fresh) == sorted(font.FILES.values())
    with open(os.path.join(FONTS_DIR, "SOURCE.txt"), encoding="utf-8") as f:
        recorded = f.read()
    for name, blob in sorted(fresh.items()):
        assert blob == load(name), (
            "%s differs from a fresh generation; if the TTF or FreeType changed on purpose, "
            "run python3 firmware/tools/make_font.py and commit.\ncommitted with:\n%s\nnow:\n%s"
            % (name, recorded, make_font.source_text()))
    assert recorded == make_font.source_text()


# --- coverage and structure --------------------------------------------------------------

def test_every_font_has_the_vietnamese_alphabet_in_both_cases(each_font):
    for ch in VIETNAMESE_LOWER + VIETNAMESE_UPPER + ASCII + PUNCTUATION:
        assert each_font.has(ch), "U+%04X %s" % (ord(ch), ch)
    assert len(each_font) == 95 + 134 + len(PUNCTUATION)
    assert each_font.count_missing(SAMPLE) == 0


def test_index_is_sorted_and_records_fit_the_line(each_font):
    cps = each_font.codepoints()
    assert cps == sorted(set(cps))
    for i, cp in enumerate(cps):
        assert each_font.index(chr(cp)) == i
    blob = bytes(each_font._buf)
    for i in range(len(cps)):
        j = each_font._off0 + 3 * i
        o = each_font._data0 + (blob[j] | blob[j + 1] << 8 | blob[j + 2] << 16)
        w, h, top = blob[o], blob[o + 1], blob[o + 3]
        left = blob[o + 2] - 256 if blob[o + 2] > 127 else blob[o + 2]
        # The layout trusts line_height: no glyph reaches above or below its line box.
        assert 0 <= top and top + h <= each_font.line_height, chr(cps[i])
        # Ink may lean out of the advance by at most 2 px (kept inside the 8 px margins).
        assert left >= -2 and left + w <= blob[each_font._adv0 + i] + 2, chr(cps[i])


def test_sizes_and_line_heights():
    sizes = {role: Font(load(name)) for role, name in font.FILES.items()}
    assert [sizes[r].size for r in ("small", "normal", "bold", "large")] == [14, 17, 17, 22]
    for f in sizes.values():
        assert f.bpp == 2
        assert f.size < f.line_height <= f.size * 3 // 2  # room for stacked marks, not more
        assert 0 < f.baseline < f.line_height


def test_bad_font_data_raises_font_error():
    good = load("sans-14.hlf")
    with pytest.raises(FontError):
        Font(b"XXXX" + good[4:])
    with pytest.raises(FontError):
        Font(good[:-10])
    with pytest.raises(FontError):
        Font(io.BytesIO(good[:200]))
    bad_bpp = bytearray(good)
    bad_bpp[4] = 3
    with pytest.raises(FontError):
        Font(bytes(bad_bpp))


# --- measuring and drawing ---------------------------------------------------------------

def test_measure_is_the_sum_of_advances(each_font):
    assert each_font.measure("") == 0
    assert each_font.measure(SAMPLE) == sum(each_font.advance(c) for c in SAMPLE)
    # Tone marks take no room of their own: ờ is as wide as ơ, and as o.
    assert each_font.measure("Hường") == each_font.measure("Hương") == \
        each_font.measure("Hương".replace("ơ", "o")) > 0


@pytest.mark.parametrize("ch", list("AgjỖặỸQ|/ĐẬ"))
def test_a_drawn_letter_sets_pixels_inside_its_box_only(each_font, ch):
    fb = canvas()
    x, y = 20, 5
    assert each_font.draw(fb, ch, x, y, 0x0000, 0xFFFF) == 0
    pixels = ink(fb)
    assert pixels, "nothing drawn for " + ch
    adv = each_font.advance(ch)
    for px, py in pixels:
        assert y <= py < y + each_font.line_height
        assert x - 2 <= px < x + adv + 2


def test_stacked_marks_are_drawn_apart_from_the_letter(each_font):
    # Ỗ: circumflex and tilde above O; ặ: breve above, dot below. Each must be its own
    # connected piece of ink, not merged into the letter (the reason for antialiasing).
    for ch, pieces in (("Ỗ", 3), ("ặ", 3), ("ư", 1)):
        fb = canvas()
        each_font.draw(fb, ch, 10, 5, 0x0000, 0xFFFF)
        # Dark pixels only (level 3 of 4), to count the pieces the eye sees.
        dark = {p for p in ink(fb) if fb.pixel(*p) == 0x0000}
        assert _components(dark) >= min(pieces, 2), ch


def _components(points):
    seen, n = set(), 0
    for p in points:
        if p in seen:
            continue
        n += 1
        stack = [p]
        while stack:
            x, y = stack.pop()
            if (x, y) in seen or (x, y) not in points:
                continue
            seen.add((x, y))
            stack += [(x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)]
    return n


def test_antialiasing_uses_blended_colours(each_font):
    fb = canvas()
    each_font.draw(fb, "Ử", 10, 5, 0x0000, 0xFFFF)
    colours = {fb.pixel(*p) for p in ink(fb)}
    expected = {font.blend(0x0000, 0xFFFF, level, 3) for level in (1, 2, 3)}
    assert colours <= expected and 0x0000 in colours and len(colours) >= 2


def test_missing_character_draws_a_box_and_is_counted(each_font):
    fb = canvas()
    before = each_font.missing
    text = "A\u4e2dB"  # a CJK character the font does not have
    assert each_font.draw(fb, text, 5, 5, 0x0000, 0xFFFF) == 1
    assert each_font.missing == before + 1
    assert each_font.count_missing(text) == 1
    assert each_font.measure(text) == (each_font.advance("A") + each_font.advance("B") +
                                       each_font.replacement_advance)
    # The box is visible: ink between the A and the B.
    x0 = 5 + each_font.advance("A")
    box = {(x, y) for x, y in ink(fb) if x0 <= x < x0 + each_font.replacement_advance}
    assert len(box) >= 2 * each_font._box_h


def test_file_mode_draws_the_same_pixels_as_bytes_mode(each_font):
    blob = bytes(each_font._view)
    from_file = Font(io.BytesIO(blob))
    assert len(from_file._buf) == 6 * len(each_font)  # only the index stays in RAM
    a, b = canvas(300), canvas(300)
    each_font.draw(a, SAMPLE[:30], 2, 2, 0x001F, 0xFFFF)
    from_file.draw(b, SAMPLE[:30], 2, 2, 0x001F, 0xFFFF)
    assert a.buf == b.buf
    assert from_file.measure(SAMPLE) == each_font.measure(SAMPLE)


def test_swap_stores_byte_swapped_colours(each_font):
    a, b = canvas(bg=0xF800), canvas(bg=font.swap16(0xF800))
    each_font.draw(a, "Hường", 3, 3, 0x07E0, 0xF800)
    each_font.draw(b, "Hường", 3, 3, 0x07E0, 0xF800, swap=True)
    for y in range(a.height):
        for x in range(a.width):
            assert b.pixel(x, y) == font.swap16(a.pixel(x, y))


def test_ellipsize_cuts_words_then_letters(each_font):
    text = "Trung tâm Phục vụ hành chính công thành phố Hà Nội"
    width = each_font.measure("Trung tâm Phục vụ")
    short = each_font.ellipsize(text, width)
    assert short.endswith(font.ELLIPSIS) and each_font.measure(short) <= width
    assert text.startswith(short[:-1].rstrip())
    assert each_font.ellipsize("Hà Nội", 1000) == "Hà Nội"
    assert each_font.ellipsize("Hà Nội", 1000, more=True) == "Hà Nội" + font.ELLIPSIS
    tiny = each_font.ellipsize("Nguyễn", each_font.measure("Ng…"))
    assert tiny == "Ng…"


def test_open_fonts_in_file_mode_keeps_handles_and_small_index():
    fonts = font.open_fonts(FONTS_DIR)
    try:
        assert sorted(fonts) == ["bold", "large", "normal", "small"]
        ram = sum(len(f._buf) + len(f._scratch) for f in fonts.values())
        assert ram < 8 * 1024  # the index and one scratch record per font
    finally:
        for f in fonts.values():
            f._file.close()
