"""Draw a screen — kiosk.screen's list of (style, text) items — into an RGB565 FrameBuffer.

    result = draw_screen(fb, 320, 240, items, fonts, button_order=None)

Layout, top to bottom: a bar with the header left and the status right; the body (name,
lines, prompt, big text, small lines) spread evenly over the room left; the button labels in
a row at the bottom, one cell above each physical button. The buttons sit in a row under
the screen; `button_order` lists the levels from left to right (default descending: the
highest level on the left, as most Vietnamese counter devices put "Rất hài lòng" first).
The k-th "button" (or "choice") item is physical button k, so it is drawn in column
button_order.index(k), whatever the screen (the reason question uses the same buttons).
Graded screens colour the cells from red (level 1) to green (highest); "choice" items, or
graded=False, draw them all neutral (reasons are not a scale).

This module sorts the items, draws the bar and the button row and keeps the Result; the
body's fitting and spacing is kiosk.layout, the colours kiosk.palette, the line wrapping
kiosk.wrap. Nothing is clipped silently. Text wraps at spaces only (U+00A0, the no-break
space, glues syllables that must stay together, e.g. "hài\\u00a0lòng"); a word wider than a
line is split between letters (a note, not a problem). A style that does not fit steps down
to a smaller font (kiosk.layout says how); what still does not fit is drawn shortened with
"…" and listed in result.problems with the reason, as are characters missing from the fonts
(drawn as boxes) and unknown styles; result.notes says what stepped down. result.boxes lists
every text line drawn (style, text, x, y, w, h, item index) for tests and tools.

Colours are RGB565 (kiosk.palette); swap=True stores them byte-swapped, for panels fed
straight from framebuf's little-endian buffer. Pure and MicroPython compatible: draws only
through the FrameBuffer methods fill, fill_rect, rect and blit (via kiosk.font), so
kiosk.hostfb renders the same pixels on the host. The names tests and tools use stay
importable from here (draw.RED, draw.level_colours, draw.MARGIN, draw.wrap, ...).
"""

try:
    from micropython import const
except ImportError:  # CPython host
    def const(x):
        return x

from kiosk.font import swap16
from kiosk.layout import CHOICES, MARGIN, draw_body
# Re-exported: tests and tools read the palette, the layout constants and the wrapping
# functions through kiosk.draw, as they did before these moved out.
from kiosk.layout import COLOURS, DEMOTE, INDENT, MIN_GAP  # noqa: F401
from kiosk.palette import BAR, BAR_TEXT, BG, NEUTRAL, STATUS_TEXT, ink, level_colours
from kiosk.palette import (  # noqa: F401
    AMBER, DARK_INK, GREEN, LEVEL_COLOURS, LIGHT_GREEN, LIGHT_INK, MUTED, NAME, ORANGE,
    PROMPT, RED, TEXT, rgb)
from kiosk.wrap import wrap, wrap_balanced, wrap_bottom  # noqa: F401

# --- LAYOUT (px) of the bar and the buttons row; the body's are in kiosk.layout ----------
BAR_PAD = const(3)    # above and below the bar's text
GUTTER = const(2)     # between two button cells
CELL_PAD = const(2)   # inside a button cell, above and below the label
# Button labels: (font role, most lines, px kept free left and right in the cell); one font
# for the whole row. Bold only with room to breathe; small may come within 1 px of the edge,
# which "Hài lòng" needs in a fifth of 320 px.
BUTTON_CHOICES = (("bold", 2, 4), ("small", 3, 1))


class Result:
    """What draw_screen did: problems (style, text, reason), notes, boxes, missing glyphs."""

    def __init__(self):
        self.problems = []
        self.notes = []
        self.boxes = []
        self.missing = 0

    @property
    def ok(self):
        return not self.problems

    def __repr__(self):
        return "Result(problems=%r, notes=%r)" % (self.problems, self.notes)


class _Measured:
    # A font whose measure() remembers widths for the length of one draw_screen call: the
    # layout measures the same words for every choice it tries (up to 4 fonts, ~9 passes
    # of the balanced wrap), and on the device measuring is the slow part of a redraw.

    def __init__(self, font):
        self.font = font
        self.line_height = font.line_height
        self._widths = {}

    def measure(self, text):
        w = self._widths.get(text)
        if w is None:
            w = self.font.measure(text)
            self._widths[text] = w
        return w

    def advance(self, ch):
        return self.font.advance(ch)

    def ellipsize(self, text, width, more=False):
        return self.font.ellipsize(text, width, more)

    def draw(self, fb, text, x, y, fg, bg, swap=False):
        return self.font.draw(fb, text, x, y, fg, bg, swap)


class _Painter:
    # Holds what every drawing step needs, so the helpers stay short.

    def __init__(self, fb, result, swap):
        self.fb = fb
        self.result = result
        self.swap = swap

    def col(self, c):
        return swap16(c) if self.swap else c

    def text(self, font, item, style, text, x, y, fg, bg, full):
        missing = font.draw(self.fb, text, x, y, fg, bg, self.swap)
        self.result.boxes.append((style, text, x, y, font.measure(text), font.line_height,
                                  item))
        if missing:
            self.result.missing += missing
            self.result.problems.append((style, full, str(missing) +
                                         " character(s) not in the font, drawn as boxes"))


def draw_screen(fb, width, height, items, fonts, button_order=None, graded=True, swap=False):
    """Draw `items` on `fb` (width x height, RGB565) with `fonts` {role: Font}; a Result.

    Raises ValueError when button_order is not an ordering of the levels 1..n.
    """
    result = Result()
    paint = _Painter(fb, result, swap)
    fonts = dict([(role, _Measured(fonts[role])) for role in fonts])
    header = None
    status = None
    body = []
    buttons = []
    for i in range(len(items)):
        style, text = items[i]
        if style == "header" or style == "status":
            if (header if style == "header" else status) is not None:
                result.problems.append((style, text, "more than one " + style + "; not drawn"))
            elif style == "header":
                header = (i, text)
            else:
                status = (i, text)
        elif style == "button" or style == "choice":
            buttons.append((i, text))
            if style == "choice":
                graded = False  # answers that are not a scale (reasons): neutral cells
        elif style in CHOICES:
            body.append((i, style, text))
        else:
            result.problems.append((style, text, "unknown style; not drawn"))
    order = _order(len(buttons), button_order)
    fb.fill(paint.col(BG))
    top = 0
    if header is not None or status is not None:
        top = _bar(paint, width, fonts["small"], header, status)
    bottom = height
    if buttons:
        bottom = _buttons(paint, width, height, fonts, buttons, order, graded)
    draw_body(paint, width, top, bottom, fonts, body)
    return result


def _order(n, button_order):
    if button_order is None:
        return list(range(n, 0, -1))
    order = list(button_order)
    if sorted(order) != list(range(1, n + 1)):
        raise ValueError("button_order must list the levels 1..%d once each" % n)
    return order


def _bar(paint, width, font, header, status):
    h = font.line_height + 2 * BAR_PAD
    paint.fb.fill_rect(0, 0, width, h, paint.col(BAR))
    room = width - 2 * MARGIN
    right = width - MARGIN
    if status is not None:
        i, text = status
        shown = _fit_line(paint, font, "status", text, room)
        w = font.measure(shown)
        right = width - MARGIN - w
        paint.text(font, i, "status", shown, right, BAR_PAD, STATUS_TEXT, BAR, text)
        right -= 2 * MARGIN  # keep the two texts apart
    if header is not None:
        i, text = header
        shown = _fit_line(paint, font, "header", text, right - MARGIN)
        paint.text(font, i, "header", shown, MARGIN, BAR_PAD, BAR_TEXT, BAR, text)
    return h


def _fit_line(paint, font, style, text, room):
    # One line in `room` px; shortened with "…" and reported when it does not fit.
    if font.measure(text) <= room:
        return text
    shown = font.ellipsize(text, max(0, room))
    paint.result.problems.append((style, text, "too wide for the top bar; shortened"))
    return shown


def _cells(width, n, order):
    # (left, right) of the cell of each physical button k = 1..n: equal columns in the
    # order of button_order; outer cells reach the screen edge, inner ones keep half a
    # gutter on each side.
    cells = []
    for k in range(1, n + 1):
        col = order.index(k)
        left = col * width // n + (GUTTER // 2 if col > 0 else 0)
        right = (col + 1) * width // n - (GUTTER // 2 if col < n - 1 else 0)
        cells.append((left, right))
    return cells


def _buttons(paint, width, height, fonts, buttons, order, graded):
    n = len(buttons)
    cells = _cells(width, n, order)
    font = None
    for role, most, pad in BUTTON_CHOICES:  # the largest font that fits every label
        font = fonts[role]
        wrapped = []
        for k in range(n):
            left, right = cells[k]
            wrapped.append(wrap_bottom(font, buttons[k][1], right - left - 2 * pad))
        if all([len(lines) <= most and not broken for lines, broken in wrapped]):
            break
    rows = min(most, max([len(lines) for lines, _ in wrapped]))
    lh = font.line_height
    cell_h = rows * lh + 2 * CELL_PAD
    top = height - cell_h
    colours = level_colours(n) if graded else (NEUTRAL,) * n
    for k in range(n):  # physical button k + 1, level k + 1
        i, text = buttons[k]
        left, right = cells[k]
        room = right - left - 2 * pad
        bg = colours[k]
        paint.fb.fill_rect(left, top, right - left, cell_h, paint.col(bg))
        lines, broken = wrapped[k]
        if broken:
            paint.result.notes.append(("button", text, "a word split between letters"))
        if len(lines) > rows:
            lines = lines[:rows]
            lines[-1] = font.ellipsize(lines[-1], room, True)
            paint.result.problems.append(("button", text, "label needs more than %d lines; "
                                          "shortened" % rows))
        y = top + CELL_PAD + (rows - len(lines)) * lh // 2
        for line in lines:
            w = font.measure(line)
            x = left + (right - left - w) // 2
            paint.text(font, i, "button", line, x, y, ink(bg), bg, text)
            y += lh
    return top

