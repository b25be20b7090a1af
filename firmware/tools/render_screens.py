"""Render every screen of tools/catalog.py to docs/screens/*.png and write docs/screens.md.

Host-only. Usage, from the repository root:

    python3 firmware/tools/render_screens.py

Uses the device's own drawing code (kiosk.draw, kiosk.font) on the pure-Python framebuf
(kiosk.hostfb) through kiosk.simpng, at 2x (each TFT pixel a 2x2 block, so the diacritics
can be inspected; the pixels are the device's). Exits 1 and prints the problems when any
screen reports one: the documentation never shows a screen the device would cut.
tests/test_fw_draw.py checks that the committed PNGs match what the code draws now.
"""

import sys

SCALE = 2
WIDTH = 320
HEIGHT = 240


def root_dir():
    path = __file__.replace("\\", "/")
    if not path.startswith("/") and ":" not in path:
        path = "./" + path
    return path.rsplit("/", 3)[0]


def _setup_path():
    root = root_dir()
    for p in (root + "/firmware", root + "/firmware/tools"):
        if p not in sys.path:
            sys.path.insert(0, p)


def screens():
    """Every screen of the catalogue: (slug, vi, en, items, options)."""
    _setup_path()
    import catalog
    return list(catalog.SCREENS)


MD_HEAD = """# Màn hình thiết bị — Device screens

Ảnh chụp đúng từng điểm ảnh của màn hình TFT 320×240 (phóng to 2 lần), do chính mã vẽ của
thiết bị (`firmware/kiosk/draw.py`, `font.py`) tạo ra trên máy tính.

Pixel-exact renders of the 320×240 TFT (shown at 2×), drawn on the host by the device's own
drawing code (`firmware/kiosk/draw.py`, `font.py`) into a pure-Python framebuf
(`kiosk/hostfb.py`); the same code on MicroPython's framebuf gives the same pixels.

Các nút bấm nằm dưới màn hình; mỗi ô màu nằm ngay trên nút tương ứng, mức cao nhất ở bên
trái (đỏ: không hài lòng, xanh: rất hài lòng). The buttons sit in a row under the screen; each
coloured cell stands above its button, highest level on the left by default (`button_order`),
red for the least satisfied level to green for the most.

When a text does not fit, the layout steps down before it gives up: a long name goes to two
lines or to the bold 17 px font, lines and the prompt to the small font; the notes under an
image say what it did. A text that still does not fit is shortened with "…" and reported;
none of these screens has one.

Regenerate / tạo lại: `python3 firmware/tools/render_screens.py` (tests/test_fw_draw.py fails
when these images or this page no longer match the code). Fonts: DejaVu Sans and DejaVu Sans
Bold (Bitstream Vera licence), `firmware/fonts/`, made by `firmware/tools/make_font.py`.

"""


def markdown(shots):
    """docs/screens.md for `shots`, with the layout notes draw_screen gives for each."""
    from kiosk import simpng
    parts = [MD_HEAD]
    for slug, vi, en, items, options in shots:
        parts.append("## %s\n\n*%s*\n\n![%s](screens/%s.png)\n\n" % (vi, en, en, slug))
        notes = simpng.render(items, WIDTH, HEIGHT, **options)[3].notes
        for style, text, what in notes:
            parts.append("- %s «%s»: %s\n" % (style, text, what))
        if notes:
            parts.append("\n")
    return "".join(parts).rstrip("\n") + "\n"


def main():
    _setup_path()
    from kiosk import simpng
    root = root_dir()
    shots = screens()
    bad = 0
    for slug, vi, en, items, options in shots:
        path = root + "/docs/screens/" + slug + ".png"
        result = simpng.render_png(items, path, WIDTH, HEIGHT, scale=SCALE, **options)
        for problem in result.problems:
            print("%s: PROBLEM %r" % (slug, problem))
            bad += 1
        for note in result.notes:
            print("%s: note %r" % (slug, note))
        print("%s: %s" % (slug, path))
    with open(root + "/docs/screens.md", "w", encoding="utf-8") as f:
        f.write(markdown(shots))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
