"""Satisfaction over time and over the week: monthly series and the hour × weekday map.

The officer page shows twelve months of one officer's satisfaction with the 95 % interval of
the share satisfied, and when in the week ratings come and how they go; the unit overview
shows each officer's last six months as a sparkline and the unit's month against the one
before. Each is ONE grouped query over `ratings` (by officer, local month or local weekday
and hour, scale, level, whether filtered), not one query per month: a year of a busy
counter is a few hundred rows instead of thousands of presses.

Figures mean what they mean in the monthly evaluation (collector/evaluation/month.py, evidence.py):
presses the device filtered are counted apart and never in the figures; the index places
each press on 0–100 within its own scale; the share satisfied has a Wilson interval; below
the policy's `min_ratings` a month is marked insufficient. The index is summed exactly (in
fractions) before rounding to one decimal. Months and hours are local time (UTC+7,
collector/core/timeline.py); a month with no rating is present in a series with total 0 and
index None: a gap, never a zero.

Reads only: pure functions build the figures from grouped rows; the two queries are at the
end.
"""

from __future__ import annotations

from typing import Any, Iterable

import sqlite_utils

from collector.ratings import month_counts
from collector.ratings.evidence import satisfaction_evidence
from collector.ratings.satisfaction import SatisfactionSummary, summarise_counted
from collector.core.timeline import LOCAL_TZ, month_bounds

MAX_MONTHS = 36
# SQLite's strftime works in UTC; shifting by the fixed offset gives local months and hours.
OFFSET_S = int(LOCAL_TZ.utcoffset(None).total_seconds())

Kind = tuple  # (scale, level, excluded reason | None, count)


# --- pure -------------------------------------------------------------------------------

def month_range(last: str, months: int) -> list[str]:
    """The `months` months ending with `last`, oldest first: ('2026-03', 3) → 01, 02, 03."""
    month_bounds(last)  # ValueError on a malformed month
    if not 1 <= months <= MAX_MONTHS:
        raise ValueError(f"months must be 1 to {MAX_MONTHS}, not {months}")
    year, mon = int(last[:4]), int(last[5:])
    out = []
    for back in range(months - 1, -1, -1):
        index = year * 12 + mon - 1 - back
        out.append(f"{index // 12:04d}-{index % 12 + 1:02d}")
    return out


def summary_of(kinds: Iterable[Kind]) -> SatisfactionSummary:
    """What satisfaction.summarise gives for these presses, from grouped counts (the
    citizens' reasons are not kept in a trend's groups)."""
    return summarise_counted((scale, level, excluded, None, count)
                             for scale, level, excluded, count in kinds)


def month_point(month: str, kinds: Iterable[Kind], min_ratings: int) -> dict[str, Any]:
    """One month of a series: counts per level, total, index, share satisfied with its
    95 % interval, whether it is sufficient evidence, and the filtered presses."""
    sat = satisfaction_evidence(summary_of(kinds), min_ratings)
    return {"month": month, "total": sat["total"], "counts": sat["counts"],
            "index": sat["index"], "satisfied": sat["satisfied"],
            "share_satisfied": sat["share_satisfied"], "share_interval": sat["share_interval"],
            "sufficient": sat["sufficient"], "filtered": sat["filtered"]["total"]}


def series(months: list[str], by_month: dict[str, list[Kind]],
           min_ratings: int) -> list[dict[str, Any]]:
    return [month_point(month, by_month.get(month, []), min_ratings) for month in months]


def change(summaries: list[SatisfactionSummary]) -> dict[str, Any]:
    """The last month against the one before: index points and share satisfied, each None
    when either month has no rating. From the unrounded figures, rounded once at the end (a
    difference of rounded indexes can be off by 0.1)."""
    out: dict[str, Any] = {"index": None, "share_satisfied": None}
    if len(summaries) < 2:
        return out
    before, now = summaries[-2], summaries[-1]
    for key, field_, digits in (("index", "exact_index", 1),
                                ("share_satisfied", "exact_share", 4)):
        a, b = getattr(before, field_), getattr(now, field_)
        out[key] = None if a is None or b is None else round(b - a, digits)
    return out


def heat_cells(rows: Iterable[tuple[int, int, int, int, int]]) -> list[dict[str, Any]]:
    """(weekday 0=Monday, hour, scale, level, count) rows of counted presses → one cell per
    (weekday, hour) with count, index and share satisfied, in week order."""
    grouped: dict[tuple[int, int], list[Kind]] = {}
    for weekday, hour, scale, level, count in rows:
        grouped.setdefault((weekday, hour), []).append((scale, level, None, count))
    cells = []
    for (weekday, hour), kinds in sorted(grouped.items()):
        summary = summary_of(kinds)
        cells.append({"weekday": weekday, "hour": hour, "count": summary.total,
                      "index": summary.index, "share_satisfied": summary.share_satisfied})
    return cells


# --- over the database ------------------------------------------------------------------

def officer_trend(db: sqlite_utils.Database, officer_id: str, month: str, months: int = 12, *,
                  min_ratings: int) -> dict[str, Any]:
    """The officer's `months` months up to `month`, oldest first."""
    span = month_range(month, months)
    grouped = _monthly_kinds(db, [officer_id], span).get(officer_id, {})
    return {"officer_id": officer_id, "month": month, "months": months,
            "min_ratings": min_ratings, "timezone": "UTC+7",
            "series": series(span, grouped, min_ratings)}


def officers_trends(db: sqlite_utils.Database, officer_ids: Iterable[str], month: str,
                    months: int = 6, *, min_ratings: int,
                    series_for: Iterable[str] | None = None) -> dict[str, Any]:
    """Each officer's series (for the sparklines; of `series_for` only when given: the
    officers a page shows) and the series of all of them together (the unit's month against
    the one before), in one query."""
    ids = sorted(set(officer_ids))
    span = month_range(month, months)
    grouped = _monthly_kinds(db, ids, span)
    together: dict[str, list[Kind]] = {}
    for by_month in grouped.values():
        for key, kinds in by_month.items():
            together.setdefault(key, []).extend(kinds)
    total = series(span, together, min_ratings)
    return {"month": month, "months": months, "min_ratings": min_ratings, "timezone": "UTC+7",
            "officers": {officer: series(span, grouped.get(officer, {}), min_ratings)
                         for officer in (ids if series_for is None
                                         else sorted(set(series_for) & set(ids)))},
            "total": total,
            "change": change([summary_of(together.get(key, [])) for key in span[-2:]])}


def hour_weekday(db: sqlite_utils.Database, officer_id: str, month: str) -> dict[str, Any]:
    """Counted presses of the officer's month by local weekday (0 = Monday) and hour."""
    start, end = month_bounds(month)
    # Integer arithmetic on local seconds: the epoch began on a Thursday (weekday 3).
    rows = db.execute(
        "SELECT ((pressed_at / 1000 + ?) / 86400 + 3) % 7, (pressed_at / 1000 + ?) / 3600 % 24, "
        "scale, level, count(*) FROM ratings WHERE officer_id = ? AND pressed_at >= ? "
        "AND pressed_at < ? AND excluded IS NULL GROUP BY 1, 2, 3, 4",
        [OFFSET_S, OFFSET_S, officer_id, start, end]).fetchall()
    cells = heat_cells(rows)
    return {"officer_id": officer_id, "month": month, "timezone": "UTC+7",
            "total": sum(cell["count"] for cell in cells), "cells": cells}


def _monthly_kinds(db: sqlite_utils.Database, officer_ids: list[str],
                   span: list[str]) -> dict[str, dict[str, list[Kind]]]:
    """officer → local month → [(scale, level, excluded, count)] over the months of `span`,
    from the month counts (collector/ratings/month_counts.py)."""
    rows = month_counts.counts(db, officer_ids, span)
    by_month: dict[str, list[tuple]] = {}
    for row in rows:
        by_month.setdefault(row[1], []).append(row)
    out: dict[str, dict[str, list[Kind]]] = {}
    for month, month_rows in by_month.items():
        for officer, kinds in month_counts.by_officer(month_rows, 3).items():
            out.setdefault(officer, {})[month] = kinds
    return out
