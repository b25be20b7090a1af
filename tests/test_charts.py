"""Server-drawn SVG charts: structure, gaps, escaping, empty data, bounds and contrast."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2 import Environment

from collector.ratings.satisfaction import SCALE_ANSWERS
from dashboard.views.charts import (
    ACCENT,
    HEAT_STEPS,
    INK,
    LEVEL_COLOURS,
    MUTED,
    distribution_bars,
    gauge_bar,
    heatmap,
    sparkline,
    trend_line,
)
from dashboard.i18n import translator

NS = "{http://www.w3.org/2000/svg}"
VI = translator("vi")
LABELS = {"very_dissatisfied": "Rất không hài lòng", "dissatisfied": "Không hài lòng",
          "neutral": "Bình thường", "satisfied": "Hài lòng", "very_satisfied": "Rất hài lòng"}
WEEKDAYS = ["Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ nhật"]
EVIL = "<script>alert('x')</script> & Nguyễn"


def parse(svg) -> ET.Element:
    root = ET.fromstring(str(svg))
    assert root.tag == f"{NS}svg"
    return root


def find(root: ET.Element, tag: str, css: str | None = None) -> list[ET.Element]:
    return [node for node in root.iter(f"{NS}{tag}")
            if css is None or css in node.get("class", "").split()]


def trend(values, **options):
    points = [(f"2026-{month:02d}", value) for month, value in enumerate(values, 1)]
    defaults = {"title": "Chỉ số", "desc": "12 tháng", "format_value": lambda v: VI.number(v, 1),
                "format_label": VI.month}
    return trend_line(points, **{**defaults, **options})


def heat(cells, **options):
    defaults = {"title": "Giờ", "desc": "Theo giờ", "weekdays": WEEKDAYS, "hours": range(7, 18),
                "format_value": VI.number}
    return heatmap(cells, **{**defaults, **options})


def bars(counts, **options):
    codes = list(SCALE_ANSWERS[len(counts)])
    defaults = {"labels": LABELS, "title": "Phân bố", "desc": "Theo mức", "number": VI.number}
    return distribution_bars(list(zip(codes, counts)), **{**defaults, **options})


def path_points(d: str) -> list[tuple[float | None, float | None]]:
    """The points of an M/L/H/V path; H and V leave the other coordinate None."""
    points = []
    for command, args in re.findall(r"([MLHV])([^MLHV]*)", d):
        numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", args)]
        if command in "ML":
            points += list(zip(numbers[::2], numbers[1::2]))
        else:
            points += [(n, None) if command == "H" else (None, n) for n in numbers]
    return points


def extents(root: ET.Element) -> list[tuple[float | None, float | None]]:
    """Every drawn point, text estimated at 0.6 em a character from its anchor."""
    points = []
    for node in root.iter():
        tag, get = node.tag.removeprefix(NS), lambda k, node=node: float(node.get(k))
        if tag == "rect" and node.get("x") is not None:
            points += [(get("x"), get("y")), (get("x") + get("width"), get("y") + get("height"))]
        elif tag == "line" and node.get("x1") is not None:
            points += [(get("x1"), get("y1")), (get("x2"), get("y2"))]
        elif tag == "circle":
            points += [(get("cx") - get("r"), get("cy") - get("r")),
                       (get("cx") + get("r"), get("cy") + get("r"))]
        elif tag == "path":
            points += path_points(node.get("d"))
        elif tag == "polygon":
            points += [tuple(map(float, pair.split(","))) for pair in node.get("points").split()]
        elif tag == "text":
            width = 0.6 * get("font-size") * len(node.text or "")
            start = {"start": 0, "middle": -width / 2, "end": -width}[node.get("text-anchor")]
            points += [(get("x") + start, get("y") - get("font-size")),
                       (get("x") + start + width, get("y"))]
    return points


def assert_inside_viewbox(svg) -> None:
    root = parse(svg)
    for node in root.iter():
        for value in node.attrib.values():
            assert not re.search(r"nan|inf", value, re.IGNORECASE), value
    left, top, width, height = map(float, root.get("viewBox").split())
    for x, y in extents(root):
        assert x is None or left <= x <= left + width, (x, width)
        assert y is None or top <= y <= top + height, (y, height)


def contrast(a: str, b: str) -> float:
    def luminance(colour: str) -> float:
        channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


# --- distribution ---------------------------------------------------------------------------

@pytest.mark.parametrize("counts", [[1, 2, 3], [0, 4, 1, 9], [3, 5, 10, 40, 1200]])
def test_one_bar_per_level_in_order_with_its_colour(counts):
    chart = bars(counts)
    rects = find(parse(chart.svg), "rect", "bar")
    codes = list(SCALE_ANSWERS[len(counts)])
    assert [rect.get("data-level") for rect in rects] == codes
    assert [rect.get("fill") for rect in rects] == [LEVEL_COLOURS[code] for code in codes]
    widths = [float(rect.get("width")) for rect in rects]
    assert widths.index(max(widths)) == counts.index(max(counts))
    assert widths[counts.index(0)] == 0 if 0 in counts else min(widths) > 0
    assert min(width for width, count in zip(widths, counts) if count) >= 2  # 1 of 1000 shows
    assert [label for label, _ in chart.rows] == [LABELS[code] for code in codes]


def test_bar_values_use_the_callers_formatters():
    chart = bars([1234, 0, 766], percent=VI.percent)
    assert chart.rows[0] == ("Không hài lòng", "1.234 (61,7 %)")
    texts = [node.text for node in find(parse(chart.svg), "text")]
    assert "1.234 (61,7 %)" in texts and "0 (0,0 %)" in texts


def test_no_ratings_draw_no_bars_and_say_so():
    chart = bars([0, 0, 0, 0, 0], no_data="Chưa có dữ liệu")
    root = parse(chart.svg)
    assert find(root, "rect", "bar") == []
    assert [node.text for node in find(root, "text", "no-data")] == ["Chưa có dữ liệu"]
    assert [value for _, value in chart.rows] == ["0"] * 5


@pytest.mark.parametrize("levels", [[("satisfied", 1), ("very_satisfied", 2)],
                                    [("satisfied", 1), ("happy", 2), ("neutral", 0)],
                                    [("satisfied", -1), ("neutral", 2), ("dissatisfied", 0)]])
def test_bad_levels_are_refused(levels):
    with pytest.raises(ValueError):
        distribution_bars(levels, labels=LABELS, title="t", desc="d")


def test_level_colours_cover_the_named_answers_and_pass_aa_on_white():
    from collector.ratings.satisfaction import ANSWERS
    assert list(LEVEL_COLOURS) == [code for code, _, _ in ANSWERS]
    for colour in [*LEVEL_COLOURS.values(), ACCENT, MUTED, INK]:
        assert contrast(colour, "#ffffff") >= 4.5, colour


# --- trend ----------------------------------------------------------------------------------

def test_missing_months_are_gaps_not_zeros():
    values = [70, 71, None, None, 75, 76, 77, None, 79, 80, 81, 82]
    root = parse(trend(values).svg)
    lines = find(root, "path", "line")
    assert [len(path_points(line.get("d"))) for line in lines] == [2, 3, 4]
    assert len(find(root, "circle", "point")) == 9
    bottom = max(float(line.get("y1")) for line in find(root, "line"))
    assert all(y < bottom for line in lines for _, y in path_points(line.get("d")))


def test_band_is_shaded_per_run_and_median_dashed():
    values = [70, None, 72, 73, None, None, None, None, None, None, 80, 81]
    band = [(60, 80), None, (62, 82), (63, 83)] + [None] * 6 + [(70, 90), (float("nan"), 91)]
    chart = trend(values, band=band, median=75, median_label="Trung vị")
    root = parse(chart.svg)
    # A band needs its own value and both bounds: months 1, 3–4 and 11 (12 has a NaN bound).
    assert [len(poly.get("points").split()) for poly in find(root, "polygon", "band")] == [2, 4, 2]
    median = find(root, "line", "median")[0]
    assert median.get("stroke-dasharray") and median.get("y1") == median.get("y2")
    assert any(node.text == "Trung vị 75,0" for node in find(root, "text"))
    assert chart.rows[0] == ("01/2026", "70,0 (60,0–80,0)")
    assert chart.rows[1] == ("02/2026", "—") and chart.rows[11] == ("12/2026", "81,0")


def test_a_year_without_ratings_says_no_data_and_draws_no_line():
    chart = trend([None] * 12, no_data="Chưa có dữ liệu")
    root = parse(chart.svg)
    assert find(root, "path", "line") == [] and find(root, "circle") == []
    assert [node.text for node in find(root, "text", "no-data")] == ["Chưa có dữ liệu"]
    assert_inside_viewbox(chart.svg)


def test_long_month_labels_are_thinned_not_overlapped():
    root = parse(trend([50] * 12, format_label=lambda m: f"Tháng {VI.month(m)}").svg)
    months = [node.text for node in find(root, "text") if node.text.startswith("Tháng")]
    assert 3 <= len(months) < 12 and months[0] == "Tháng 01/2026"


values_with_holes = st.lists(st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True,
                                                            width=32)), min_size=0, max_size=12)


@settings(max_examples=60, deadline=None)
@given(values_with_holes)
def test_trend_stays_in_its_viewbox_whatever_the_values(values):
    band = [None if v is None else (v - 5, v + 5) for v in values]
    chart = trend(values, band=band, median=values[0] if values else None,
                  format_value=lambda v: f"{v:.1f}")  # Babel refuses 1e27; the chart need not
    assert_inside_viewbox(chart.svg)


# --- heat map -------------------------------------------------------------------------------

def test_heatmap_draws_the_hours_given_and_marks_empty_cells_apart():
    cells = {(day, hour): (hour, day + 1) for day in range(6) for hour in range(7, 18)}
    cells[(0, 7)] = (0.0, 3)  # a real zero: a value, not an empty cell
    cells[(6, 20)] = (9, 5)  # outside the hours shown: counted, not lost
    chart = heat(cells, format_count=lambda n: VI.ngettext("%(num)d rating", "%(num)d ratings", n))
    root = parse(chart.svg)
    rects = find(root, "rect", "cell")
    assert len(rects) == 7 * 11
    empty = find(root, "rect", "empty")
    assert len([r for r in empty if "cell" in r.get("class")]) == 11  # Sunday 7h–17h
    hatch = root.find(f"{NS}defs/{NS}pattern").get("id")
    assert {r.get("fill") for r in empty} == {f"url(#{hatch})"}
    zero = rects[0]
    assert zero.get("fill") == HEAT_STEPS[0][0] and "empty" not in zero.get("class")
    assert chart.omitted == 5
    assert chart.rows[0] == ("Thứ Hai 7h", "0 (3 lượt đánh giá)")
    assert chart.rows[-1] == ("Chủ nhật 17h", "—")
    assert len(find(root, "rect", "legend")) == len(HEAT_STEPS) + 1


def test_heatmap_colour_follows_the_fixed_domain_and_text_stays_readable():
    cells = {(0, 8): (5.0, 2), (0, 9): (55.0, 2), (0, 10): (99.0, 2), (0, 11): (150.0, 1)}
    root = parse(heat(cells, weekdays={0: "T2"}, hours=[8, 9, 10, 11], domain=(0, 100)).svg)
    fills = [rect.get("fill") for rect in find(root, "rect", "cell")]
    assert fills == [HEAT_STEPS[0][0], HEAT_STEPS[2][0], HEAT_STEPS[4][0], HEAT_STEPS[4][0]]
    for fill, ink in HEAT_STEPS:
        assert contrast(fill, ink) >= 4.5, fill


def test_heatmap_without_ratings_hatches_everything_and_says_no_data():
    chart = heat({}, no_data="Chưa có dữ liệu")
    root = parse(chart.svg)
    assert len(find(root, "rect", "empty")) == 77 and find(root, "rect", "legend") == []
    assert [node.text for node in find(root, "text", "no-data")] == ["Chưa có dữ liệu"]
    assert_inside_viewbox(chart.svg)


# --- inline charts ----------------------------------------------------------------------------

def test_sparkline_has_gaps_and_hides_from_screen_readers_unless_named():
    root = parse(sparkline([1, 2, None, 4, float("inf"), 3, 5]))
    assert [len(path_points(p.get("d"))) for p in find(root, "path", "line")] == [2, 1, 2]
    assert root.get("aria-hidden") == "true"
    named = parse(sparkline([1, 2], label=EVIL))
    assert named.get("role") == "img" and named.get("aria-label") == EVIL
    assert find(parse(sparkline([None, None])), "line", "no-data")


def test_gauge_bar_shows_the_share_and_its_interval():
    root = parse(gauge_bar(0.5, low=0.4, high=0.7))
    track, bar = find(root, "rect", "track")[0], find(root, "rect", "bar")[0]
    assert float(bar.get("width")) == pytest.approx(float(track.get("width")) / 2)
    xs = [x for x, _ in path_points(find(root, "path", "interval")[0].get("d")) if x is not None]
    left = float(track.get("x"))
    assert min(xs) == pytest.approx(left + 0.4 * 112) and max(xs) == pytest.approx(left + 0.7 * 112)
    assert find(parse(gauge_bar(None)), "rect", "bar") == []


@settings(max_examples=60, deadline=None)
@given(values_with_holes, st.floats(), st.floats(), st.floats())
def test_inline_charts_stay_in_their_viewbox(values, share, low, high):
    assert_inside_viewbox(sparkline(values))
    assert_inside_viewbox(gauge_bar(share, low=low, high=high))


# --- every chart ------------------------------------------------------------------------------

def all_charts(text: str) -> list:
    labels = {code: text for code in LABELS}
    return [
        distribution_bars([("dissatisfied", 1), ("satisfied", 2), ("very_satisfied", 3)],
                          labels=labels, title=text, desc=text, number=lambda n: text),
        trend([50, None, 60], title=text, desc=text, format_label=lambda m: text,
              median=55, median_label=text),
        heat({(0, 8): (3, 3)}, title=text, desc=text, weekdays=[text] * 7, no_data=text),
    ]


def test_every_text_is_escaped():
    for chart in all_charts(EVIL):
        root = parse(chart.svg)  # would not parse if '<' or '&' leaked through
        assert find(root, "script") == [] and "<script>" not in str(chart.svg)
        assert root.find(f"{NS}title").text == EVIL
        assert EVIL in [node.text for node in root.iter()]
        assert EVIL in chart.rows[0][0] or EVIL in chart.rows[0][1]


def test_charts_are_named_described_and_deterministic():
    for chart, again in zip(all_charts("Nguyễn Thị Hà"), all_charts("Nguyễn Thị Hà")):
        assert str(chart.svg) == str(again.svg)
        root = parse(chart.svg)
        assert root.get("role") == "img" and root.get("viewBox").startswith("0 0 ")
        assert root.get("width") is None  # sized by the page's CSS and the viewBox
        title, desc = root.find(f"{NS}title"), root.find(f"{NS}desc")
        assert root.get("aria-labelledby") == title.get("id")
        assert root.get("aria-describedby") == desc.get("id")
        assert_inside_viewbox(chart.svg)
    ids = {parse(chart.svg).get("aria-labelledby") for chart in all_charts("a") + all_charts("b")}
    assert len(ids) == 6  # two charts on one page never share an id


def test_a_chart_goes_into_an_autoescaping_template_as_svg():
    chart = bars([1, 2, 3])
    page = Environment(autoescape=True).from_string("<div>{{ chart }}</div>").render(chart=chart)
    assert page == f"<div>{chart.svg}</div>"
    assert len(chart.rows) == 3
