"""The body of a screen: the items between the bar and the buttons, fitted and spread out.

    draw_body(paint, width, top, bottom, fonts, body)   # body: [(item index, style, text)]

Each body style ("name", "big", "line", "prompt", "small") has a list of (font role, most
lines) CHOICES, tried in order until the text fits the width: a name tries the large font on
one line, then two lines, then the bold font; lines and the prompt step down to the small
font. Blocks of one style share one step (a title and its unit in the same font). When the
body is still too tall, the least important styles step down first (DEMOTE: lines, prompt,
then name, big), and the most important get their step back where the room allows. What
still does not fit is shortened with "…" (too many lines) or cut from the bottom up (no room
left), and reported in paint.result.problems; steps down and words split between letters go
to paint.result.notes. The free height is spread over the gaps: full gaps around and between
blocks, half a gap before a small subtitle or between two lines. Text is centred, except two
or more small items in a row (technician rows, error details): a left-aligned list whose
wrapped lines are indented by INDENT, so each item's start shows.

`paint` is kiosk.draw's painter: it needs text(font, item, style, text, x, y, fg, bg, full)
and result (problems, notes); `fonts` maps roles to fonts with measure, advance, ellipsize,
draw and line_height. This module does not import kiosk.draw (draw imports it). Pure and
MicroPython compatible.
"""

try:
    from micropython import const
except ImportError:  # CPython host
    def const(x):
        return x

from kiosk.palette import BG, MUTED, NAME, PROMPT, TEXT
from kiosk.wrap import wrap, wrap_balanced

MARGIN = const(8)     # left and right of the body (and of kiosk.draw's bar)
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


def draw_body(paint, width, top, bottom, fonts, body):
    """Lay out and draw the body items [(item index, style, text)] between top and bottom."""
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
