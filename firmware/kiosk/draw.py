"""Draw a screen — kiosk.screen's list of (style, text) items — into an RGB565 FrameBuffer.

    result = draw_screen(fb, 320, 240, items, fonts, button_order=None)

Layout, top to bottom: a bar with the header left and the status right; the body (name,
lines, prompt, big text, small lines) spread evenly over the room left; the button labels in
a row at the bottom, one cell above each physical button. The buttons sit in a row under
the screen; `button_order` lists the levels from left to right (default descending: the
highest level on the left, as most Vietnamese counter devices put "Rất hài lòng" first).
The k-th "button" (or "choice") item is physical button k, so it is drawn in column
button_order.index(k),
whatever the screen (the reason question uses the same buttons). Graded screens colour the
cells from red (level 1) to green (highest); "choice" items, or graded=False, draw them all
neutral (reasons are not a scale).

Nothing is clipped silently. Text wraps at spaces only (kiosk.wrap; U+00A0, the no-break
space, glues syllables that must stay together, e.g. "hài\\u00a0lòng"); a word wider than a
line is split between letters (a note, not a problem). A style that does not fit steps down:
a name tries the large font on one line, then two lines, then the bold font; lines and the
prompt step down to the small font; when the body is still too tall, the least important
blocks step down first (lines, prompt, then name, big). What still does not fit is drawn
shortened with "…" and listed in result.problems with the reason, as are characters missing
from the fonts (drawn as boxes) and unknown styles; result.notes says what stepped down.
result.boxes lists every text line drawn (style, text, x, y, w, h, item index) for tests and
tools. Text is centred, except two or more small items in a row (technician rows, error
details): a left-aligned list whose wrapped lines are indented, so each item's start shows.

Colours are RGB565 (the PALETTE block below); swap=True stores them byte-swapped, for
panels fed straight from framebuf's little-endian buffer. Pure and MicroPython compatible:
draws only through the FrameBuffer methods fill, fill_rect, rect and blit (via kiosk.font),
so kiosk.hostfb renders the same pixels on the host.
"""

try:
    from micropython import const
except ImportError:  # CPython host
    def const(x):
        return x

from kiosk.font import swap16
# wrap, wrap_balanced and wrap_bottom stay importable from here: tests and tools use them.
from kiosk.wrap import wrap, wrap_balanced, wrap_bottom


def rgb(r, g, b):
    """RGB565 from 8-bit red, green, blue."""
    return ((r & 0xF8) << 8) | ((g & 0xFC) << 3) | (b >> 3)


# --- PALETTE (RGB565) --------------------------------------------------------------------
BG = rgb(255, 255, 255)           # body background
TEXT = rgb(33, 33, 33)            # lines
MUTED = rgb(84, 84, 84)           # small lines (English subtitle, technician rows)
NAME = rgb(13, 59, 102)           # the officer's name and big text: navy
PROMPT = rgb(21, 101, 192)        # the question: blue
BAR = rgb(13, 59, 102)            # top bar
BAR_TEXT = rgb(255, 255, 255)     # header
STATUS_TEXT = rgb(255, 213, 79)   # status (offline, backlog): amber, seen at a glance
NEUTRAL = rgb(69, 90, 100)        # buttons of a non-graded question (reasons)
LIGHT_INK = rgb(255, 255, 255)    # label on a dark cell
DARK_INK = rgb(33, 33, 33)        # label on a light cell (amber, light green)
# Button cells per scale size, level 1 (least satisfied) first: red to green.
RED = rgb(198, 40, 40)
ORANGE = rgb(239, 108, 0)
AMBER = rgb(249, 168, 37)
LIGHT_GREEN = rgb(124, 179, 66)
GREEN = rgb(46, 125, 50)
LEVEL_COLOURS = {
    2: (RED, GREEN),
    3: (RED, LIGHT_GREEN, GREEN),
    4: (RED, AMBER, LIGHT_GREEN, GREEN),
    5: (RED, ORANGE, AMBER, LIGHT_GREEN, GREEN),
}

# --- LAYOUT (px) -------------------------------------------------------------------------
MARGIN = const(8)     # left and right of the body and bar
BAR_PAD = const(3)    # above and below the bar's text
GUTTER = const(2)     # between two button cells
CELL_PAD = const(2)   # inside a button cell, above and below the label
MIN_GAP = const(2)    # between two body blocks, at least
INDENT = const(12)    # continuation lines of a list item (where one item ends shows)

# Per style, the (font role, most lines) to try in order; kiosk/font.py FILES has the roles.
CHOICES = {
    "name": (("large", 1), ("large", 2), ("bold", 1), ("bold", 2)),
    "big": (("large", 3), ("bold", 4)),
    "line": (("normal", 2), ("small", 2)),
    "prompt": (("normal", 2), ("small", 3)),
    "small": (("small", 3),),
}
COLOURS = {"name": NAME, "big": NAME, "line": TEXT, "prompt": PROMPT, "small": MUTED}
# When the body is too tall, these step down first (least important first).
DEMOTE = ("line", "prompt", "name", "big")
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


# --- drawing -----------------------------------------------------------------------------

def _ink(colour):
    # Dark label on light cells: perceived luminance of the RGB565 colour, 0..255.
    r = (colour >> 11) << 3
    g = ((colour >> 5) & 0x3F) << 2
    b = (colour & 0x1F) << 3
    return DARK_INK if (r * 299 + g * 587 + b * 114) // 1000 > 150 else LIGHT_INK


def level_colours(n):
    """Cell colours for n levels, level 1 first (red to green)."""
    if n in LEVEL_COLOURS:
        return LEVEL_COLOURS[n]
    out = []
    for k in range(n):  # other sizes: blend red to green
        t = k * 255 // max(1, n - 1)
        out.append(rgb(198 + (46 - 198) * t // 255, 40 + (125 - 40) * t // 255,
                       40 + (50 - 40) * t // 255))
    return tuple(out)


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
    _body(paint, width, top, bottom, fonts, body)
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
            paint.text(font, i, "button", line, x, y, _ink(bg), bg, text)
            y += lh
    return top


def _choose(fonts, style, text, width, start):
    # The first choice from `start` on whose wrapping fits: (k, font, lines, fits, broken).
    choices = CHOICES[style]
    last = None
    for k in range(start, len(choices)):
        role, most = choices[k]
        font = fonts[role]
        if style == "small":
            lines, broken = wrap(font, text, width)
        else:
            lines, broken = wrap_balanced(font, text, width)
        last = [k, font, lines, len(lines) <= most, broken]
        if last[3] and not broken:
            return last
    # Nothing fits cleanly: the last choice, with a split word (noted) or too many lines
    # (shortened and reported by the caller).
    return last


def _body(paint, width, top, bottom, fonts, body):
    room_w = width - 2 * MARGIN
    avail = bottom - top
    blocks = [[i, style, text] for i, style, text in body]
    # One step per style, shared by its blocks (title and unit in the same font).
    level = {}
    for b in blocks:
        level[b[1]] = 0
    tried = {}  # (block, first choice) -> _choose(): the steps below revisit levels

    def choose(style):
        # Every block of `style` at the style's step or, when it does not fit, further;
        # the style follows the block that went furthest.
        while True:
            k = level[style]
            for j in range(len(blocks)):
                b = blocks[j]
                if b[1] == style:
                    key = (j, level[style])
                    if key not in tried:
                        tried[key] = _choose(fonts, style, b[2], _room(blocks, j, room_w),
                                             level[style])
                    b[3:] = tried[key]
                    k = max(k, b[3])
            if k == level[style]:
                return
            level[style] = k

    for style in level:
        choose(style)
    first = dict(level)
    # Too tall: step the least important styles down, one step at a time...
    while _height(blocks) > avail:
        for style in DEMOTE:
            if style in level and level[style] + 1 < len(CHOICES[style]):
                level[style] += 1
                choose(style)
                break
        else:
            break
    # ...then give the most important ones their step back where the room allows.
    for d in range(len(DEMOTE) - 1, -1, -1):
        style = DEMOTE[d]
        while style in level and level[style] > first[style]:
            kept = level[style]
            level[style] -= 1
            choose(style)
            if _height(blocks) > avail or level[style] >= kept:
                level[style] = kept
                choose(style)
                break
    for j in range(len(blocks)):
        b = blocks[j]
        if b[3] > 0:
            role, most = CHOICES[b[1]][b[3]]
            paint.result.notes.append((b[1], b[2], "stepped down to the %s font, up to %d "
                                       "line(s)" % (role, most)))
        if b[7]:
            paint.result.notes.append((b[1], b[2], "a word split between letters"))
        if not b[6]:
            most = CHOICES[b[1]][b[3]][1]
            paint.result.problems.append((b[1], b[2], "needs %d lines, %d shown; shortened"
                                          % (len(b[5]), most)))
            b[5] = b[5][:most]
            b[5][-1] = b[4].ellipsize(b[5][-1], _room(blocks, j, room_w), True)
    # Still too tall: cut lines from the bottom up, and say so once per item.
    cut = {}  # item index -> [style, text, lines cut, still drawn]
    while _height(blocks) > avail and blocks:
        b = blocks[-1]
        entry = cut.setdefault(b[0], [b[1], b[2], 0, True])
        entry[2] += 1
        if len(b[5]) > 1:
            b[5] = b[5][:-1]
            b[5][-1] = b[4].ellipsize(b[5][-1], _room(blocks, len(blocks) - 1, room_w), True)
        else:
            blocks.pop()
            entry[3] = False
    for i in sorted(cut):
        style, text, n, drawn = cut[i]
        paint.result.problems.append((style, text, "no room left on the screen; " + (
            "%d line(s) cut" % n if drawn else "not drawn")))
    _place(paint, width, top, avail - _height(blocks), blocks)


def _weights(blocks):
    # Shares of the free height: the top margin, the gap before each later block, the
    # bottom margin. Full gaps around and between blocks, half a gap before a small subtitle
    # or between two lines, none inside a list of small lines.
    weights = [2]
    for j in range(1, len(blocks)):
        prev = blocks[j - 1][1]
        cur = blocks[j][1]
        if cur == "small" and prev == "small":
            weights.append(0)
        elif cur == "small" or (cur == "line" and prev == "line"):
            weights.append(1)
        else:
            weights.append(2)
    weights.append(2)
    return weights


def _height(blocks):
    # Lines, plus MIN_GAP between blocks that are not rows of one list.
    h = 0
    weights = _weights(blocks)
    for j in range(len(blocks)):
        h += len(blocks[j][5]) * blocks[j][4].line_height
        if j and weights[j]:
            h += MIN_GAP
    return h


def _place(paint, width, top, free, blocks):
    weights = _weights(blocks)
    total = sum(weights)
    y = top
    spent = 0
    acc = 0
    for j in range(len(blocks)):
        acc += weights[j]
        gap = free * acc // total - spent
        spent += gap
        y += gap + (MIN_GAP if j and weights[j] else 0)
        i, style, text, k, font, lines = blocks[j][:6]
        left = _in_list(blocks, j)
        fg = COLOURS[style]
        for n in range(len(lines)):
            w = font.measure(lines[n])
            if left:
                x = MARGIN + (INDENT if n else 0)
            else:
                x = (width - w) // 2
            paint.text(font, i, style, lines[n], x, y, fg, BG, text)
            y += font.line_height


def _room(blocks, j, room_w):
    # Line width for block j: list items leave room for the indent of their later lines.
    return room_w - INDENT if _in_list(blocks, j) else room_w


def _in_list(blocks, j):
    # Two or more small blocks in a row form a list (technician rows, error details): left
    # aligned. A single small block is a subtitle (the English line): centred.
    if blocks[j][1] != "small":
        return False
    before = j > 0 and blocks[j - 1][1] == "small"
    after = j + 1 < len(blocks) and blocks[j + 1][1] == "small"
    return before or after
