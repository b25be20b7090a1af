"""Charts drawn on the server as inline SVG: pure functions from numbers to markup.

Pages work with no internet (issue 6): no JavaScript, no web font, no CDN. Each function returns
`markupsafe.Markup`. Every text (titles, officer names, labels, numbers) is escaped here and
arrives translated and formatted by the caller (`Translator.number`/`.percent`/`.month`), so no
language lives in this module. Large charts carry `role="img"`, `<title>` and `<desc>`, and
return `rows` of (label, value text) for the page's visually hidden table. Sizes come from the
viewBox, so a chart scales from a phone to 1366×768. Coordinates have one fixed decimal and
non-finite inputs count as no data, so output is deterministic and never shows NaN; a missing
month is a gap, never a zero. Colours pass WCAG AA on white (3:1 for marks, 1.4.11; 4.5:1 for
text, 1.4.3) and values are also written as text, so colour never carries them alone (1.4.1).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import NamedTuple

from markupsafe import Markup, escape

INK, MUTED, GRID = "#1b2330", "#5b6675", "#d9dee5"  # site.css's palette; MUTED is 5.9:1
ACCENT = "#0b5cad"
# The five named answers of collector/ratings/satisfaction.py, red to green, each ≥ 4.5:1 on white.
LEVEL_COLOURS = {"very_dissatisfied": "#b3261e", "dissatisfied": "#c2410c",
                 "neutral": "#8a6100", "satisfied": "#4d7c0f", "very_satisfied": "#1d7a3a"}
# Heat-map steps, light to dark, with the text colour that stays ≥ 4.5:1 on each fill.
HEAT_STEPS = (("#deebf7", INK), ("#9ecae1", INK), ("#6baed6", INK),
              ("#2b6cb0", "#ffffff"), ("#08306b", "#ffffff"))
FONT = "system-ui, 'Segoe UI', Roboto, 'Noto Sans', sans-serif"


class Chart(NamedTuple):
    """A large chart: the SVG, its data as (label, value text) rows for a screen-reader table,
    and how many ratings fell outside what is drawn (heat map hours), so none vanish silently."""
    svg: Markup
    rows: list[tuple[str, str]]
    omitted: int = 0

    def __html__(self) -> str:  # `{{ chart }}` in a template inserts the SVG
        return str(self.svg)


def _plain(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def _c(value: float) -> str:
    """A coordinate: one fixed decimal, never '-0.0'."""
    text = f"{value:.1f}"
    return "0.0" if text == "-0.0" else text


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _ident(kind: str, *parts: object) -> str:
    """A stable id from the inputs: unique enough for two charts on one page, and repeatable."""
    return f"{kind}-{hashlib.sha1(repr(parts).encode()).hexdigest()[:10]}"


def _text(x: float, y: float, text: str, *, anchor: str = "start", size: int = 12,
          fill: str = INK, extra: str = "") -> str:
    return (f'<text x="{_c(x)}" y="{_c(y)}" font-size="{size}" text-anchor="{anchor}" '
            f'fill="{fill}"{extra}>{escape(text)}</text>')


def _svg(ident: str, width: int, height: int, title: str, desc: str, body: list[str],
         css: str) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {css}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-labelledby="{ident}-t" '
        f'aria-describedby="{ident}-d" font-family="{FONT}">'
        f'<title id="{ident}-t">{escape(title)}</title><desc id="{ident}-d">{escape(desc)}</desc>'
        + "".join(body) + "</svg>")


def _no_data(x: float, y: float, text: str) -> str:
    return _text(x, y, text, anchor="middle", size=14, fill=MUTED, extra=' class="no-data"')


def _path(css: str, points: list[tuple[float, float]], width: float) -> str:
    path = " ".join(f"{'L' if n else 'M'}{_c(x)},{_c(y)}" for n, (x, y) in enumerate(points))
    return (f'<path class="{css}" d="{path}" fill="none" stroke="{ACCENT}" '
            f'stroke-width="{width}" stroke-linejoin="round"/>')


def _runs(values: Sequence[float | None]) -> list[list[int]]:
    """Indices of consecutive present values: each run is one line segment, gaps between."""
    runs: list[list[int]] = []
    for index, value in enumerate(values):
        if value is None:
            continue
        if runs and runs[-1][-1] == index - 1:
            runs[-1].append(index)
        else:
            runs.append([index])
    return runs


def distribution_bars(levels: Sequence[tuple[str, int]], *, labels: Mapping[str, str],
                      title: str, desc: str, number: Callable[[float], str] = _plain,
                      percent: Callable[[float], str] | None = None,
                      no_data: str = "—") -> Chart:
    """Horizontal bars of ratings per level; `levels` are (answer code, count), least
    satisfied first, 3–5 of them; bars are labelled `number(count)` [and `percent(share)`]."""
    if not 3 <= len(levels) <= 5 or any(code not in LEVEL_COLOURS or count < 0
                                        for code, count in levels):
        raise ValueError(f"not 3 to 5 known answers with counts ≥ 0: {levels!r}")
    total = sum(count for _, count in levels)
    rows = []
    for code, count in levels:
        value = number(count)
        if percent is not None and total:
            value = f"{value} ({percent(count / total)})"
        rows.append((labels[code], value))
    width, left, span, row, height = 480, 160, 200, 34, 34 * len(levels) + 12
    ident = _ident("bars", levels, title)
    if not total:
        body = [_no_data(width / 2, height / 2, no_data)]
        return Chart(_svg(ident, width, height, title, desc, body, "chart-bars"), rows)
    top = max(count for _, count in levels)
    body = []
    for index, ((code, count), (label, value)) in enumerate(zip(levels, rows)):
        y = 6 + index * row
        length = max(span * count / top, 2.0) if count else 0.0  # one rating stays visible
        body.append(_text(left - 8, y + 21, label, anchor="end", size=13))
        body.append(f'<rect class="bar" data-level="{escape(code)}" x="{left}" y="{_c(y + 4)}" '
                    f'width="{_c(length)}" height="{row - 8}" fill="{LEVEL_COLOURS[code]}"/>')
        body.append(_text(left + length + 6, y + 21, value, size=13))
    body.append(f'<line x1="{left}" y1="4" x2="{left}" y2="{height - 4}" stroke="{MUTED}"/>')
    return Chart(_svg(ident, width, height, title, desc, body, "chart-bars"), rows)


def trend_line(points: Sequence[tuple[str, float | None]], *, title: str, desc: str,
               format_value: Callable[[float], str], format_label: Callable[[str], str],
               y_min: float = 0, y_max: float = 100,
               band: Sequence[tuple[float, float] | None] | None = None,
               median: float | None = None, median_label: str = "",
               no_data: str = "—") -> Chart:
    """A monthly trend: `points` are ('YYYY-MM', value or None); None is a gap in the line
    (and in the optional `band` of (low, high) per point), never a zero."""
    if y_max <= y_min:
        raise ValueError("y_max must be above y_min")
    if band is not None and len(band) != len(points):
        raise ValueError("band needs one (low, high) or None per point")
    format_value = lru_cache(maxsize=None)(format_value)  # Babel costs ~0.15 ms a number
    values = [_finite(value) for _, value in points]
    bands = [None if b is None or _finite(b[0]) is None or _finite(b[1]) is None
             or values[i] is None else (float(b[0]), float(b[1]))
             for i, b in enumerate(band or [None] * len(points))]
    rows = []
    for (month, _), value, b in zip(points, values, bands):
        text = no_data if value is None else format_value(value)
        if b is not None:
            text = f"{text} ({format_value(b[0])}–{format_value(b[1])})"
        rows.append((format_label(month), text))
    width, height, left, right, top, bottom = 480, 290, 48, 430, 14, 234
    ident = _ident("trend", points, band, median, title)

    def y_of(value: float) -> float:
        share = (min(max(value, y_min), y_max) - y_min) / (y_max - y_min)
        return bottom - share * (bottom - top)

    step = (right - left) / max(len(points) - 1, 1)

    def x_of(index: int) -> float:
        return left + index * step if len(points) > 1 else (left + right) / 2

    body = []
    for tick in range(5):  # gridlines and y labels at fifths of the range
        value = y_min + (y_max - y_min) * tick / 4
        body.append(f'<line x1="{left}" y1="{_c(y_of(value))}" x2="{right}" '
                    f'y2="{_c(y_of(value))}" stroke="{GRID}"/>')
        body.append(_text(left - 6, y_of(value) + 4, format_value(value), anchor="end",
                          size=12, fill=MUTED))
    labels = [label for label, _ in rows]
    widest = max((len(label) for label in labels), default=0) * 7.2  # ~0.6 em at 12 px
    every = max(1, math.ceil(widest / step)) if len(points) > 1 else 1
    for index, label in enumerate(labels):
        if index % every == 0:
            body.append(_text(x_of(index), bottom + 20, label, anchor="middle", size=12,
                              fill=MUTED))
    body.append(f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="{MUTED}"/>')
    if all(value is None for value in values):
        body.append(_no_data(width / 2, (top + bottom) / 2, no_data))
        return Chart(_svg(ident, width, height, title, desc, body, "chart-trend"), rows)
    for run in _runs([None if b is None else b[0] for b in bands]):
        outline = ([(x_of(i), y_of(bands[i][0])) for i in run]
                   + [(x_of(i), y_of(bands[i][1])) for i in reversed(run)])
        body.append('<polygon class="band" fill="#0b5cad" fill-opacity="0.18" points="'
                    + " ".join(f"{_c(x)},{_c(y)}" for x, y in outline) + '"/>')
    median = _finite(median)
    if median is not None:
        body.append(f'<line class="median" x1="{left}" y1="{_c(y_of(median))}" x2="{right}" '
                    f'y2="{_c(y_of(median))}" stroke="{MUTED}" stroke-width="1.5" '
                    f'stroke-dasharray="6 4"/>')
        key = bottom + 40  # its legend sits under the month labels, clear of points and band
        body.append(f'<line x1="{left}" y1="{key}" x2="{left + 28}" y2="{key}" '
                    f'stroke="{MUTED}" stroke-width="1.5" stroke-dasharray="6 4"/>')
        legend = f"{median_label} {format_value(median)}".strip()
        body.append(_text(left + 34, key + 4, legend, size=12, fill=MUTED))
    for run in _runs(values):
        body.append(_path("line", [(x_of(i), y_of(values[i])) for i in run], 2.5))
    for index, value in enumerate(values):
        if value is not None:  # a dot per month, so a month alone between gaps still shows
            body.append(f'<circle class="point" cx="{_c(x_of(index))}" cy="{_c(y_of(value))}" '
                        f'r="3.5" fill="{ACCENT}"><title>{escape(rows[index][0])}: '
                        f'{escape(rows[index][1])}</title></circle>')
    return Chart(_svg(ident, width, height, title, desc, body, "chart-trend"), rows)


def heatmap(cells: Mapping[tuple[int, int], tuple[float | None, int]], *, title: str, desc: str,
            weekdays: Sequence[str] | Mapping[int, str], hours: Sequence[int],
            format_value: Callable[[float], str],
            format_count: Callable[[int], str] | None = None,
            domain: tuple[float, float] | None = None,
            format_hour: Callable[[int], str] = lambda hour: f"{hour}h",
            no_data: str = "—") -> Chart:
    """Hour × weekday map; `cells` are {(weekday 0=Monday, hour): (value, count)}. Only the
    given weekdays and hours are drawn; `omitted` counts ratings in cells left out. Empty cells
    are hatched, distinct from low values; `domain` fixes the colour range (default 0–max)."""
    format_value = lru_cache(maxsize=None)(format_value)  # each cell's text is used twice
    days = dict(weekdays) if isinstance(weekdays, Mapping) else dict(enumerate(weekdays))
    hours = list(hours)
    shown = {(day, hour) for day in days for hour in hours}
    present = {key: (_finite(value), count) for key, (value, count) in cells.items()
               if count > 0 and _finite(value) is not None}
    omitted = sum(count for key, (_, count) in cells.items() if key not in shown and count > 0)
    values = [present[key][0] for key in shown if key in present]
    low, high = domain if domain is not None else (0.0, max(values, default=0.0))
    high = high if high > low else low + 1

    def step_of(value: float) -> int:
        share = (min(max(value, low), high) - low) / (high - low)
        return min(int(share * len(HEAT_STEPS)), len(HEAT_STEPS) - 1)

    def describe(value: float, count: int) -> str:
        return format_value(value) + (f" ({format_count(count)})" if format_count else "")

    # The weekday column is as wide as its longest name ("Chủ nhật", "Wednesday") at ~0.6 em.
    cell_w, cell_h, top = 44, 28, 22
    left = round(16 + 7.2 * max((len(label) for label in days.values()), default=0))
    width = left + cell_w * len(hours) + 8
    grid_bottom = top + cell_h * len(days)
    height = grid_bottom + 56
    ident = _ident("heat", sorted(cells.items()), days, hours, domain, title)
    hatch = f"{ident}-empty"
    body = [(f'<defs><pattern id="{hatch}" width="6" height="6" patternUnits="userSpaceOnUse" '
             f'patternTransform="rotate(45)"><rect width="6" height="6" fill="#f3f4f6"/>'
             f'<line x1="0" y1="0" x2="0" y2="6" stroke="#9ca3af" stroke-width="1.5"/>'
             f'</pattern></defs>')]
    for column, hour in enumerate(hours):
        body.append(_text(left + column * cell_w + cell_w / 2, top - 7, format_hour(hour),
                          anchor="middle", size=11, fill=MUTED))
    rows = []
    for line, (day, day_label) in enumerate(sorted(days.items())):
        y = top + line * cell_h
        body.append(_text(left - 8, y + cell_h / 2 + 4, day_label, anchor="end", size=12))
        for column, hour in enumerate(hours):
            x = left + column * cell_w
            label = f"{day_label} {format_hour(hour)}"
            if (day, hour) not in present:
                rows.append((label, no_data))
                body.append(f'<rect class="cell empty" x="{x}" y="{y}" width="{cell_w}" '
                            f'height="{cell_h}" fill="url(#{hatch})" stroke="#ffffff">'
                            f'<title>{escape(label)}: {escape(no_data)}</title></rect>')
                continue
            value, count = present[(day, hour)]
            fill, ink = HEAT_STEPS[step_of(value)]
            rows.append((label, describe(value, count)))
            body.append(f'<rect class="cell" x="{x}" y="{y}" width="{cell_w}" height="{cell_h}" '
                        f'fill="{fill}" stroke="#ffffff"><title>{escape(label)}: '
                        f'{escape(describe(value, count))}</title></rect>')
            body.append(_text(x + cell_w / 2, y + cell_h / 2 + 4, format_value(value),
                              anchor="middle", size=11, fill=ink))
    if not present:
        body.append(_no_data(left + cell_w * len(hours) / 2, grid_bottom + 30, no_data))
        return Chart(_svg(ident, width, height, title, desc, body, "chart-heat"), rows, omitted)
    legend_y, swatch = grid_bottom + 14, min(90, (width - left - 60) / (len(HEAT_STEPS) + 1))
    bounds = [low + (high - low) * index / len(HEAT_STEPS) for index in range(len(HEAT_STEPS) + 1)]
    legend = [(fill, f"{format_value(bounds[i])}–{format_value(bounds[i + 1])}")
              for i, (fill, _) in enumerate(HEAT_STEPS)] + [(f"url(#{hatch})", no_data)]
    for index, (fill, text) in enumerate(legend):  # bins of equal width over the domain
        x = left + index * swatch
        body.append(f'<rect class="legend" x="{_c(x)}" y="{legend_y}" width="{_c(swatch - 4)}" '
                    f'height="12" fill="{fill}" stroke="{MUTED}" stroke-width="0.5"/>')
        body.append(_text(x, legend_y + 28, text, size=10, fill=MUTED))
    return Chart(_svg(ident, width, height, title, desc, body, "chart-heat"), rows, omitted)


def _small(width: int, height: int, label: str | None, body: list[str], css: str) -> Markup:
    """Inline charts for table cells: named when given a label, else hidden from screen
    readers because the cell beside them already holds the numbers."""
    name = (f'role="img" aria-label="{escape(label)}"' if label is not None
            else 'aria-hidden="true" focusable="false"')
    return Markup(f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {css}" '
                  f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" {name}>'
                  + "".join(body) + "</svg>")


def sparkline(values: Sequence[float | None], *, y_min: float | None = None,
              y_max: float | None = None, label: str | None = None) -> Markup:
    """A small trend for a table cell (gaps for None); scaled to the values unless given a
    range; with no values at all, a short dash rather than a flat line that reads as zero."""
    clean = [_finite(value) for value in values]
    present = [value for value in clean if value is not None]
    width, height, pad = 96, 24, 3
    if not present:
        body = [f'<line class="no-data" x1="40" y1="12" x2="56" y2="12" stroke="{MUTED}"/>']
        return _small(width, height, label, body, "chart-spark")
    low = min(present) if y_min is None else y_min
    high = max(present) if y_max is None else y_max
    step, spread = (width - 2 * pad) / max(len(clean) - 1, 1), high - low

    def at(index: int) -> tuple[float, float]:  # a flat series (or a degenerate range) mid-height
        value = min(max(clean[index], low), high)
        share = (value - low) / spread if 0 < spread < math.inf else 0.5
        return pad + index * step, height - pad - share * (height - 2 * pad)

    body = [_path("line", [at(i) for i in run], 1.5) for run in _runs(clean)]
    x, y = at(max(i for i, value in enumerate(clean) if value is not None))
    body.append(f'<circle class="point" cx="{_c(x)}" cy="{_c(y)}" r="2.2" fill="{ACCENT}"/>')
    return _small(width, height, label, body, "chart-spark")


def gauge_bar(share: float | None, *, low: float | None = None, high: float | None = None,
              label: str | None = None) -> Markup:
    """A share (0–1) as a bar on a 0–100 % track, its confidence interval as an error bar."""
    width, height, pad = 120, 18, 4
    span = width - 2 * pad

    def x_of(value: float) -> str:
        return _c(pad + min(max(value, 0.0), 1.0) * span)

    body = [(f'<rect class="track" x="{pad}" y="5" width="{span}" height="8" fill="#e8edf3" '
             f'stroke="{MUTED}" stroke-width="0.5"/>')]
    share, low, high = _finite(share), _finite(low), _finite(high)
    if share is not None:
        body.append(f'<rect class="bar" x="{pad}" y="5" width="{_c(float(x_of(share)) - pad)}" '
                    f'height="8" fill="{ACCENT}"/>')
    if low is not None and high is not None:
        a, b = x_of(min(low, high)), x_of(max(low, high))
        body.append(f'<path class="interval" d="M{a},9 H{b} M{a},3 V15 M{b},3 V15" '
                    f'stroke="{INK}" stroke-width="1.5" fill="none"/>')
    return _small(width, height, label, body, "chart-gauge")
