"""kiosk.draw lays out every screen of the device on 320x240 with nothing cut or lost.

Every screen of firmware/tools/catalog.py (long real names, every style) is drawn into a
recording kiosk.hostfb frame buffer: no problem reported, no drawing call reaching outside
the screen (framebuf would clip it silently), ink in every text box, boxes apart. Then the
rules one by one: over-long text is reported, button cells follow button_order, colours
run red to green, and docs/screens shows what the code draws today.
"""

import os
import sys

import pytest

from kiosk import draw, font, hostfb, simpng

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "firmware", "tools"))

import catalog  # noqa: E402
import render_screens  # noqa: E402

W, H = 320, 240
SHOTS = render_screens.screens()
FONTS = simpng.default_fonts()
CARD = catalog.SCREENS[0][3]


class RecordingFB(hostfb.FrameBuffer):
    """Records the rectangle of every drawing call (framebuf would clip them silently)."""

    def __init__(self, w=W, h=H):
        super().__init__(bytearray(w * h * 2), w, h, hostfb.RGB565)
        self.calls = []

    def fill_rect(self, x, y, w, h, c):
        self.calls.append(("fill_rect", x, y, w, h))
        super().fill_rect(x, y, w, h, c)

    def rect(self, x, y, w, h, c, f=False):
        self.calls.append(("rect", x, y, w, h))
        super().rect(x, y, w, h, c, f)

    def blit(self, source, x, y, key=-1, palette=None):
        src = hostfb._as_framebuffer(source)
        self.calls.append(("blit", x, y, src.width, src.height))
        super().blit(source, x, y, key, palette)


def render(items, **options):
    fb = RecordingFB()
    return fb, draw.draw_screen(fb, W, H, items, FONTS, **options)


def bar_height():
    return FONTS["small"].line_height + 2 * draw.BAR_PAD


# --- every screen ------------------------------------------------------------------------

@pytest.mark.parametrize("shot", SHOTS, ids=[s[0] for s in SHOTS])
def test_every_screen_draws_whole_inside_the_screen(shot):
    slug, _, _, items, options = shot
    fb, result = render(items, **options)
    assert result.problems == [], slug
    assert result.missing == 0
    for call, x, y, w, h in fb.calls:
        assert 0 <= x and 0 <= y and x + w <= W and y + h <= H, (slug, call, x, y, w, h)
    # Every item is on screen, in full: the texts of its boxes put back together.
    for i, (style, text) in enumerate(items):
        shown = " ".join(b[1] for b in result.boxes if b[6] == i)
        assert shown.split() == text.split(), (slug, style, text, shown)
    boxes = result.boxes
    for style, line, x, y, w, h, _ in boxes:
        assert 0 <= x and x + w <= W and 0 <= y and y + h <= H, (slug, line)
        # Ink in the box: some pixel differs from the colour under the text.
        under = fb.pixel(x + w // 2, y)  # the top row of a line box is background
        assert any(fb.pixel(px, py) != under
                   for py in range(y, y + h) for px in range(x, x + w)), (slug, line)
    for a in range(len(boxes)):
        for b in range(a + 1, len(boxes)):
            assert not _overlap(boxes[a], boxes[b]), (slug, boxes[a][1], boxes[b][1])


def _overlap(a, b):
    ax, ay, aw, ah = a[2:6]
    bx, by, bw, bh = b[2:6]
    return ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah


@pytest.mark.parametrize("shot", SHOTS, ids=[s[0] for s in SHOTS])
def test_areas_keep_their_place(shot):
    slug, _, _, items, options = shot
    _, result = render(items, **options)
    bar = bar_height() if any(s in ("header", "status") for s, _ in items) else 0
    buttons = [b for b in result.boxes if b[0] == "button"]
    row_top = min([b[3] for b in buttons], default=H)
    for style, line, x, y, w, h, _ in result.boxes:
        if style in ("header", "status"):
            assert y + h <= bar
        elif style != "button":
            assert bar <= y and y + h <= row_top, (slug, style, line)
    header = [b for b in result.boxes if b[0] == "header"]
    status = [b for b in result.boxes if b[0] == "status"]
    if header and status:
        assert header[0][2] + header[0][4] < status[0][2]  # left of the status
        assert status[0][2] + status[0][4] == W - draw.MARGIN  # right-aligned


def test_long_names_step_down_and_still_fit():
    shot = next(s for s in SHOTS if s[0] == "card-5-offline")
    _, result = render(shot[3])
    assert result.problems == []
    assert ("name", "Tôn Nữ Hoàng Phương Uyên",
            "stepped down to the bold font, up to 1 line(s)") in result.notes
    # Alone on the screen the same name keeps the large font, on two lines.
    _, alone = render([("name", "Tôn Nữ Hoàng Phương Uyên"), ("line", "Chuyên viên")])
    names = [b for b in alone.boxes if b[0] == "name"]
    assert [b[1] for b in names] == ["Tôn Nữ Hoàng", "Phương Uyên"]
    assert names[0][5] == FONTS["large"].line_height


# --- never clipped silently --------------------------------------------------------------

def test_an_overlong_name_is_reported_and_shortened_with_an_ellipsis():
    name = "Nguyễn " * 30 + "Hường"
    _, result = render([("header", "Quầy 3"), ("name", name)] + CARD[2:])
    assert ("name", name) in [p[:2] for p in result.problems]
    reason = next(p[2] for p in result.problems if p[0] == "name")
    assert "shortened" in reason
    names = [b for b in result.boxes if b[0] == "name"]
    assert names and names[-1][1].endswith(font.ELLIPSIS)


def test_too_many_lines_are_reported_not_dropped_silently():
    items = [("small", "Dòng số %d: mất kết nối, chờ gửi" % n) for n in range(20)]
    _, result = render(items)
    lost = [p for p in result.problems if "no room left" in p[2]]
    assert lost, result.problems
    drawn = {b[6] for b in result.boxes}
    assert all(items[i] not in [(p[0], p[1]) for p in lost] for i in drawn)
    assert len(drawn) + len(lost) == len(items)


def test_a_cut_item_is_reported_once_and_ends_with_an_ellipsis():
    long = "Lỗi gần nhất: " + "không kết nối được máy chủ, thử lại sau " * 2
    items = [("small", "Dòng %d" % n) for n in range(10)] + [("small", long)]
    _, result = render(items)
    assert [p[:2] for p in result.problems] == [("small", long)]
    assert "line(s) cut" in result.problems[0][2]
    last = [b for b in result.boxes if b[6] == len(items) - 1]
    assert 1 <= len(last) < 3 and last[-1][1].endswith(font.ELLIPSIS)


def test_too_wide_top_bar_is_reported():
    status = "mất kết nối · chờ gửi: 123456 · " + "x" * 40
    _, result = render([("header", "Quầy 3"), ("status", status)])
    assert [p[:2] for p in result.problems] == [("status", status)]
    box = next(b for b in result.boxes if b[0] == "status")
    assert box[1].endswith(font.ELLIPSIS) and box[2] >= draw.MARGIN


def test_missing_glyphs_unknown_styles_and_second_header_are_reported():
    items = [("header", "Quầy 3"), ("header", "Quầy 4"), ("banner", "?"),
             ("line", "Tên: 王小明")]
    _, result = render(items)
    reasons = {(p[0], p[1]): p[2] for p in result.problems}
    assert "more than one header" in reasons[("header", "Quầy 4")]
    assert "unknown style" in reasons[("banner", "?")]
    assert "3 character(s) not in the font" in reasons[("line", "Tên: 王小明")]
    assert result.missing == 3


def test_a_word_wider_than_the_screen_is_split_and_noted():
    url = "mqtt://" + "a" * 40 + ".example.vn:1883"
    _, result = render([("small", "Máy chủ: " + url)])
    assert result.problems == []
    assert ("small", "Máy chủ: " + url, "a word split between letters") in result.notes
    assert "".join(b[1] for b in result.boxes).replace(" ", "") == ("Máy chủ: " + url).replace(
        " ", "")


# --- buttons -----------------------------------------------------------------------------

def _button_columns(result, n):
    # Column of each physical button k (1..n), from the centre of its label.
    cols = {}
    for style, line, x, y, w, h, i in result.boxes:
        if style == "button":
            k = [j for j, it in enumerate(CARD_N[n]) if it[0] == "button"].index(i) + 1
            cols.setdefault(k, set()).add((x + w // 2) * n // W)
    return cols


CARD_N = {n: catalog.card("Nguyễn Thị Thu Hường", "Chuyên viên", "Bộ phận Một cửa", n)
          for n in (3, 4, 5)}


@pytest.mark.parametrize("n", [3, 4, 5])
@pytest.mark.parametrize("order", ["default", "ascending", "shuffled"])
def test_button_labels_line_up_with_button_order(n, order):
    button_order = {"default": None, "ascending": list(range(1, n + 1)),
                    "shuffled": [2, n, 1] + list(range(3, n))}[order]
    fb, result = render(CARD_N[n], button_order=button_order)
    assert result.problems == []
    expected = button_order or list(range(n, 0, -1))
    cols = _button_columns(result, n)
    assert sorted(cols) == list(range(1, n + 1))
    for k in range(1, n + 1):
        assert cols[k] == {expected.index(k)}, (k, cols)
        # The cell above button k has level k's colour: red (1) to green (n).
        col = expected.index(k)
        x = col * W // n + W // (2 * n)
        assert fb.pixel(x, H - 1) == draw.level_colours(n)[k - 1]
    assert draw.level_colours(n)[0] == draw.RED and draw.level_colours(n)[-1] == draw.GREEN


def test_default_order_puts_the_highest_level_on_the_left():
    _, result = render(CARD_N[4])
    first = min((b for b in result.boxes if b[0] == "button"), key=lambda b: b[2] + b[4] // 2)
    assert CARD_N[4][first[6]] == ("button", "Rất hài lòng")  # level 4, leftmost cell


def test_button_order_must_list_each_level_once():
    for bad in ([1, 2, 3], [1, 1, 2, 3], [0, 1, 2, 3], [1, 2, 3, 5]):
        with pytest.raises(ValueError):
            render(CARD_N[4], button_order=bad)


def test_ungraded_buttons_are_neutral():
    shot = next(s for s in SHOTS if s[0] == "reason")
    fb, result = render(shot[3], **shot[4])
    for col in range(4):
        assert fb.pixel(col * 80 + 40, H - 1) == draw.NEUTRAL


def test_level_colours_for_other_sizes_run_red_to_green():
    for n in (2, 6, 7):
        colours = draw.level_colours(n)
        assert len(colours) == n and colours[0] == draw.RED
        assert colours[-1] == draw.rgb(46, 125, 50)


# --- wrapping ----------------------------------------------------------------------------

def test_wrap_splits_at_spaces_only_and_keeps_no_break_spaces():
    f = FONTS["normal"]
    text = "Xin Ông/Bà vui lòng đánh\u00a0giá mức\u00a0độ hài\u00a0lòng"
    for fn in (draw.wrap, draw.wrap_balanced, draw.wrap_bottom):
        for width in (120, 180, 250):
            lines, broken = fn(f, text, width)
            assert not broken
            assert " ".join(lines).split(" ") == text.split(" ")
            assert all(f.measure(line) <= width for line in lines)
            assert not any(line.endswith("đánh") or line.endswith("mức") for line in lines)


def test_balanced_wrap_keeps_the_line_count_and_evens_the_lines():
    f = FONTS["normal"]
    text = "Trung tâm Phục vụ hành chính công thành phố Hà Nội"
    greedy, _ = draw.wrap(f, text, 304)
    balanced, _ = draw.wrap_balanced(f, text, 304)
    assert len(greedy) == len(balanced) == 2
    assert max(f.measure(x) for x in balanced) < max(f.measure(x) for x in greedy)


def test_bottom_wrap_keeps_the_compound_together():
    f = FONTS["small"]
    width = f.measure("hài lòng")  # wider than "Rất hài"
    assert draw.wrap_bottom(f, "Rất hài lòng", width)[0] == ["Rất", "hài lòng"]
    assert draw.wrap(f, "Rất hài lòng", width)[0] == ["Rất hài", "lòng"]


# --- colours and output ------------------------------------------------------------------

def test_swap_renders_every_pixel_byte_swapped():
    a, _ = render(CARD)
    b, _ = render(CARD, swap=True)
    for y in range(0, H, 3):
        for x in range(W):
            assert b.pixel(x, y) == font.swap16(a.pixel(x, y))


def test_png_has_the_screen_pixels(tmp_path):
    path = tmp_path / "card.png"
    result = simpng.render_png(CARD, str(path))
    assert result.ok
    width, height, rows = simpng.read_png(str(path))
    assert (width, height) == (W, H)
    r, g, b = rows[1][0:3]  # top bar
    assert draw.rgb(r, g, b) == draw.BAR
    assert rows[H // 2][3 * 2:3 * 3] == b"\xff\xff\xff"  # body margin is white


def test_docs_screens_match_what_the_code_draws():
    root = render_screens.root_dir()
    hint = "; run python3 firmware/tools/render_screens.py"
    for slug, _, _, items, options in SHOTS:
        path = os.path.join(root, "docs", "screens", slug + ".png")
        assert os.path.exists(path), slug + " missing" + hint
        buf, w, h, _ = simpng.render(items, **options)
        rows = simpng.rgb_rows(buf, w, h, render_screens.SCALE)
        assert simpng.read_png(path)[2] == rows, slug + " is stale" + hint
    with open(os.path.join(root, "docs", "screens.md"), encoding="utf-8") as f:
        assert f.read() == render_screens.markdown(SHOTS), "docs/screens.md is stale" + hint
