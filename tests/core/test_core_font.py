"""kiosk.font and kiosk.draw on a tiny hand-made font, the same on MicroPython and CPython.

Plain style (module-level test_* functions, plain asserts) so that tests/core/runner.py runs
it under real MicroPython, where `framebuf` is the C module; on CPython kiosk.hostfb stands
in. The pixel values asserted here were worked out by hand from the format and framebuf's
blit rules, so the same assertions passing on both proves the stand-in draws like framebuf.

The font: four glyphs, 2 bits per pixel, line height 5, baseline 4:
    " "  advance 3, no ink
    "A"  3x2 at left 0, top 1, advance 4:  rows 3 2 1 / 0 3 0
    "à"  2x3 at left 1, top 0, advance 3:  rows 1 1 / 3 3 / 2 0
    "ệ"  1x4 at left 0, top 0, advance 2:  rows 3 / 2 / 1 / 3
"""

import io

try:
    import framebuf
except ImportError:  # CPython: the pure-Python stand-in
    from kiosk import hostfb as framebuf

from kiosk import draw, font

GLYPHS = (  # codepoint, advance, left, top, rows of levels
    (0x20, 3, 0, 0, ()),
    (0x41, 4, 0, 1, ((3, 2, 1), (0, 3, 0))),
    (0xE0, 3, 1, 0, ((1, 1), (3, 3), (2, 0))),
    (0x1EC7, 2, 0, 0, ((3,), (2,), (1,), (3,))),
)
FG = 0x0000
BG = 0xFFFF
PRIOR = 0x1234  # what the frame buffer held before: transparent pixels keep it


def _u16(v):
    return bytes((v & 0xFF, v >> 8))


def _record(left, top, rows):
    w = len(rows[0]) if rows else 0
    out = bytearray((w, len(rows), left & 0xFF, top))
    for row in rows:
        packed = bytearray((w * 2 + 7) // 8)
        for x in range(w):
            packed[x >> 2] |= row[x] << ((x & 3) * 2)  # GS2_HMSB: pixel 0 in the low bits
        out += packed
    return bytes(out)


def make_font():
    records = [_record(g[2], g[3], g[4]) for g in GLYPHS]
    data = b"".join(records)
    out = bytearray(b"HLF1")
    out += bytes((2, 5, 5, 4))  # bpp, size, line height, baseline
    out += _u16(len(GLYPHS)) + _u16(max([len(r) for r in records]))
    out += _u16(len(data)) + _u16(0)
    for g in GLYPHS:
        out += _u16(g[0])
    off = 0
    for r in records:
        out += bytes((off & 0xFF, (off >> 8) & 0xFF, off >> 16))
        off += len(r)
    out += bytes([g[1] for g in GLYPHS])
    return bytes(out + data)


FONT_BYTES = make_font()


def canvas(w=16, h=8):
    fb = framebuf.FrameBuffer(bytearray(w * h * 2), w, h, framebuf.RGB565)
    fb.fill(PRIOR)
    return fb


def pixels(fb, w=16, h=8):
    return [fb.pixel(x, y) for y in range(h) for x in range(w)]


def level(n):
    return font.blend(FG, BG, n, 3)


def test_lookup_finds_each_glyph_by_binary_search():
    f = font.Font(FONT_BYTES)
    assert len(f) == 4 and f.codepoints() == [0x20, 0x41, 0xE0, 0x1EC7]
    assert [f.index(c) for c in " Aàệ"] == [0, 1, 2, 3]
    assert f.index("B") == -1 and f.index("ê") == -1 and f.index("\u4e2d") == -1
    assert f.has("ệ") and not f.has("e")
    assert (f.size, f.line_height, f.baseline, f.bpp) == (5, 5, 4, 2)


def test_measure_sums_advances_and_counts_a_missing_character_as_its_box():
    f = font.Font(FONT_BYTES)
    assert f.measure("") == 0
    assert f.measure("Aà ệ") == 4 + 3 + 3 + 2
    assert f.replacement_advance == 5  # box 3 wide (the minimum) + 2
    assert f.measure("AB") == 4 + 5
    assert f.count_missing("ABC à") == 2


def test_draw_blits_the_exact_antialiased_pixels():
    f = font.Font(FONT_BYTES)
    fb = canvas()
    assert f.draw(fb, "Aà", 1, 2, FG, BG) == 0
    # "A" at pen x=1: left 0, top 1 -> rows at y=3 and y=4.
    assert [fb.pixel(x, 3) for x in (1, 2, 3)] == [level(3), level(2), level(1)]
    assert [fb.pixel(x, 4) for x in (1, 2, 3)] == [PRIOR, level(3), PRIOR]  # level 0: keyed
    # "à" at pen x=5: left 1 -> x=6,7; top 0 -> y=2..4.
    assert [fb.pixel(x, y) for y in (2, 3, 4) for x in (6, 7)] == [
        level(1), level(1), level(3), level(3), level(2), PRIOR]
    # Nothing else was touched.
    touched = [(x, y) for y in range(8) for x in range(16) if fb.pixel(x, y) != PRIOR]
    assert len(touched) == 3 + 1 + 5


def test_draw_clips_at_the_edges_like_framebuf():
    f = font.Font(FONT_BYTES)
    fb = canvas(4, 4)
    f.draw(fb, "ệ", 3, -1, FG, BG)  # rows 1..3 of ệ land on y=0..2, x=3
    assert [fb.pixel(3, y) for y in range(4)] == [level(2), level(1), level(3), PRIOR]


def test_missing_character_draws_a_box_and_is_counted():
    f = font.Font(FONT_BYTES)
    fb = canvas()
    assert f.draw(fb, "BA", 0, 0, FG, BG) == 1
    assert f.missing == 1
    # The box: 3 wide from x=1, 3 high (size 5 * 0.7) ending at the baseline (y=4).
    assert [fb.pixel(x, 1) for x in (1, 2, 3)] == [FG, FG, FG]
    assert fb.pixel(1, 3) == FG and fb.pixel(2, 2) == PRIOR
    assert fb.pixel(5, 1) == level(3) and fb.pixel(6, 2) == level(3)  # then "A" at x=5
    f.draw(fb, "\u4e2d\u4e2d", 0, 0, FG, BG)
    assert f.missing == 3


def test_file_mode_reads_glyphs_on_demand_and_draws_the_same():
    in_ram = font.Font(FONT_BYTES)
    on_file = font.Font(io.BytesIO(FONT_BYTES))
    assert len(on_file._buf) == 6 * 4  # only the index is kept
    a = canvas()
    b = canvas()
    in_ram.draw(a, "Aà ệA", 0, 1, 0xF800, BG)
    on_file.draw(b, "Aà ệA", 0, 1, 0xF800, BG)
    assert pixels(a) == pixels(b)
    assert on_file.measure("Aà ệ") == in_ram.measure("Aà ệ")


def test_truncated_or_foreign_data_is_refused():
    for bad in (b"", b"GIF89a" + FONT_BYTES[6:], FONT_BYTES[:-1]):
        try:
            font.Font(bad)
        except font.FontError:
            continue
        raise AssertionError("accepted bad font data")


def test_wrap_splits_at_spaces_greedy_balanced_and_bottom_heavy():
    f = font.Font(FONT_BYTES)
    # Widths: "A" 4, "Aà" 7, "ệ" 2, space 3.
    text = "Aà A A ệ"
    assert draw.wrap(f, text, 14) == (["Aà A", "A ệ"], False)
    assert draw.wrap(f, text, 100) == (["Aà A A ệ"], False)
    lines, broken = draw.wrap_balanced(f, "A A A A", 19)  # greedy: "A A A" / "A"
    assert lines == ["A A", "A A"] and not broken
    assert draw.wrap_bottom(f, "A A A", 11) == (["A", "A A"], False)
    assert draw.wrap(f, "A A A", 11) == (["A A", "A"], False)
    # A word wider than the line is split between letters, and says so.
    assert draw.wrap(f, "AAAA", 9) == (["AA", "AA"], True)
    # The no-break space is part of a word (this font lacks it: measured as its box, 5).
    assert draw.wrap(f, "A\u00a0A A", 13)[0] == ["A\u00a0A", "A"]
    assert draw.wrap(f, "A A A", 13)[0] == ["A A", "A"]


def _fonts():
    f = font.Font(FONT_BYTES)
    return {"small": f, "normal": f, "bold": f, "large": f}


def test_draw_screen_lays_out_and_reports_nothing_when_it_fits():
    fb = canvas(60, 40)
    items = [("header", "A"), ("status", "à"), ("name", "Aà"), ("line", "A ệ A"),
             ("button", "A"), ("button", "à"), ("button", "ệ")]
    result = draw.draw_screen(fb, 60, 40, items, _fonts())
    assert result.ok and result.problems == [] and result.missing == 0
    styles = [b[0] for b in result.boxes]
    assert styles.count("button") == 3 and "name" in styles and "header" in styles
    for style, text, x, y, w, h, i in result.boxes:
        assert 0 <= x and x + w <= 60 and 0 <= y and y + h <= 40
    # Default order: highest level (button 3, "ệ") on the left, level 1 on the right.
    centres = {}
    for b in result.boxes:
        if b[0] == "button":
            centres[items[b[6]][1]] = b[2] + b[4] // 2
    assert centres["ệ"] < centres["à"] < centres["A"]
    assert fb.pixel(0, 39) == draw.GREEN and fb.pixel(59, 39) == draw.RED


def test_draw_screen_reports_what_does_not_fit():
    fb = canvas(30, 20)
    items = [("line", "A A A A A A A A A A A A"), ("line", "Aà Aà Aà Aà Aà Aà"),
             ("small", "ệ ệ ệ ệ ệ ệ ệ ệ ệ ệ ệ ệ ệ")]
    result = draw.draw_screen(fb, 30, 20, items, _fonts())
    assert not result.ok
    texts = [p[1] for p in result.problems]
    assert items[0][1] in texts or items[2][1] in texts
    try:
        draw.draw_screen(fb, 30, 20, [("button", "A"), ("button", "à")], _fonts(),
                         button_order=[1, 1])
    except ValueError:
        return
    raise AssertionError("accepted a button_order with a level twice")
