"""The screen's colours, RGB565: the palette, the red-to-green button scale, label ink.

    rgb(r, g, b) -> RGB565          level_colours(n) -> cell colours, level 1 first
    ink(colour) -> DARK_INK or LIGHT_INK, whichever reads on a cell of that colour

Values are native RGB565; kiosk.draw byte-swaps them at drawing time when the panel needs
it, so nothing here depends on the display. Used by kiosk.draw (bar, buttons) and
kiosk.layout (body text). Pure and MicroPython compatible: no imports.
"""


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


def ink(colour):
    """The label colour for a cell of `colour`: DARK_INK on light cells, else LIGHT_INK."""
    # Perceived luminance of the RGB565 colour, 0..255 (ITU-R BT.601 weights).
    r = (colour >> 11) << 3
    g = ((colour >> 5) & 0x3F) << 2
    b = (colour & 0x1F) << 3
    return DARK_INK if (r * 299 + g * 587 + b * 114) // 1000 > 150 else LIGHT_INK
