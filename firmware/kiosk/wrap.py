"""Wrap text into lines of a pixel width, for kiosk.draw (body text and button labels).

    lines, broken = wrap(font, text, width)           # greedy: fill each line in turn
    lines, broken = wrap_balanced(font, text, width)  # as many lines, as even as possible
    lines, broken = wrap_bottom(font, text, width)    # fill from the end (button labels)

Text breaks at spaces only: U+00A0, the no-break space, glues syllables that must stay
together (e.g. "hài\\u00a0lòng"). A word wider than the line (an address, an id) is split
between characters and `broken` is True, so the caller can note it; nothing is dropped.
Always at least one line (an empty text gives [""]).

`font` needs only measure(text) and advance(ch), in px (kiosk.font.Font, or draw's
measuring cache). Pure and MicroPython compatible: no imports; lists are reversed by index,
as MicroPython slices only with step 1.
"""


def _words(font, text):
    # The words of `text` and their widths, measured once per wrap: the binary search of
    # wrap_balanced runs the greedy pass ~9 times, and measuring is the costly part.
    words = [w for w in text.split(" ") if w]
    return words, [font.measure(w) for w in words]


def _count(widths, space, width):
    # Lines the greedy pass would make, or -1 when a word is wider than `width`; no strings
    # built, for the binary search of wrap_balanced.
    n = 0
    cur = -1
    for ww in widths:
        if ww > width:
            return -1
        if cur < 0:
            cur = ww
            n += 1
        elif cur + space + ww <= width:
            cur += space + ww
        else:
            cur = ww
            n += 1
    return max(n, 1)


def _greedy(font, words, widths, width):
    lines = []
    broken = False
    space = font.measure(" ")
    cur = []
    cur_w = 0
    for j in range(len(words)):
        ww = widths[j]
        if ww > width:
            # A word wider than the line (an address, an id): split between characters.
            broken = True
            if cur:
                lines.append(" ".join(cur))
            piece = ""
            cur_w = 0
            for ch in words[j]:
                a = font.advance(ch)
                if piece and cur_w + a > width:
                    lines.append(piece)
                    piece = ""
                    cur_w = 0
                piece += ch
                cur_w += a
            cur = [piece]
        elif not cur:
            cur = [words[j]]
            cur_w = ww
        elif cur_w + space + ww <= width:
            cur.append(words[j])
            cur_w += space + ww
        else:
            lines.append(" ".join(cur))
            cur = [words[j]]
            cur_w = ww
    if cur or not lines:
        lines.append(" ".join(cur))
    return lines, broken


def _backwards(seq):
    # MicroPython slices only with step 1: no seq[::-1].
    return [seq[i] for i in range(len(seq) - 1, -1, -1)]


def wrap(font, text, width):
    """Greedy wrap at spaces: (lines, broken), broken when a word had to be split."""
    words, widths = _words(font, text)
    return _greedy(font, words, widths, width)


def wrap_balanced(font, text, width):
    """Same number of lines as wrap(), as even as possible (for centred text)."""
    words, widths = _words(font, text)
    lines, broken = _greedy(font, words, widths, width)
    if len(lines) < 2 or broken:
        return lines, broken
    n = len(lines)
    space = font.measure(" ")
    lo = (sum(widths) + space * (len(words) - 1)) // n
    hi = width
    while lo < hi:  # the narrowest width that still needs no more lines
        mid = (lo + hi) // 2
        if 0 < _count(widths, space, mid) <= n:
            hi = mid
        else:
            lo = mid + 1
    return _greedy(font, words, widths, lo)


def wrap_bottom(font, text, width):
    """Fill lines from the end: "Rất / hài lòng" rather than "Rất hài / lòng" (buttons).

    Vietnamese labels put the modifier first ("Rất", "Không", "Hướng dẫn") and the
    compound last, so breaking as late as possible keeps "hài lòng" together more often.
    """
    words, widths = _words(font, text)
    rev, broken = _greedy(font, _backwards(words), _backwards(widths), width)
    if broken:
        return _greedy(font, words, widths, width)
    lines = []
    for line in _backwards(rev):
        lines.append(" ".join(_backwards(line.split(" "))))
    return lines, False
