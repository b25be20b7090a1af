"""Satisfaction by officer for a month: one officer's, or every officer's at a glance.

The data of the satisfaction pages, built once and served both as JSON and as HTML, so a page
never shows a figure the API cannot give (house style: pages have a JSON twin). The month
itself is checked by `collector.core.timeline.checked_month`.
"""

from __future__ import annotations

from typing import Any, Iterable

import sqlite_utils

from collector.core.timeline import checked_month, month_bounds
from collector.ratings import month_counts
from collector.org.directory import get_officer, list_officers, officers_within
from collector.ratings.satisfaction import (
    ANSWERS,
    SatisfactionSummary,
    summarise,
    summarise_counted,
)


class NotFound(LookupError):
    pass


def officer_month_satisfaction(db: sqlite_utils.Database, officer_id: str,
                               month: str) -> SatisfactionSummary:
    start, end = month_bounds(month)
    presses = db.execute(
        "SELECT scale, level, excluded, reason FROM ratings WHERE officer_id = ? "
        "AND pressed_at >= ? AND pressed_at < ?", [officer_id, start, end]).fetchall()
    return summarise([tuple(row) for row in presses])


def month_satisfaction_by_officer(db: sqlite_utils.Database, month: str,
                                  officer_ids: list[str] | None = None
                                  ) -> dict[str, SatisfactionSummary]:
    """Each officer's summary of the month (of `officer_ids` only, when given), from the
    month counts (collector/ratings/month_counts.py), not one row per press (issue 13)."""
    month_bounds(month)  # ValueError on a malformed month
    grouped = month_counts.by_officer(month_counts.counts(db, officer_ids, [month]), 3)
    return {officer_id: summarise_counted((scale, level, excluded, None, count)
                                          for scale, level, excluded, count in kinds)
            for officer_id, kinds in grouped.items()}


def summary_dict(summary: SatisfactionSummary) -> dict[str, Any]:
    return {
        "levels": [{"code": code, "label_vi": vi, "label_en": en,
                    "count": summary.counts[code],
                    "share": round(summary.counts[code] / summary.total, 4)
                    if summary.total else None}
                   for code, vi, en in ANSWERS],
        "counts": dict(summary.counts),
        "total": summary.total,
        "index": summary.index,
        "share_satisfied": summary.share_satisfied,
        "filtered": summary.filtered,
        "filtered_by_reason": dict(summary.filtered_by_reason),
        "reasons": dict(summary.reasons),
    }


def officer_satisfaction(db: sqlite_utils.Database, officer_id: str,
                         month: str | None) -> dict[str, Any]:
    month = checked_month(month)
    officer = get_officer(db, officer_id)
    if officer is None:
        raise NotFound(f"no officer with id {officer_id!r}")
    summary = officer_month_satisfaction(db, officer_id, month)
    return {"officer": officer, "month": month, **summary_dict(summary)}


def officers_overview(db: sqlite_utils.Database, month: str | None, *,
                      units: Iterable[str] | None = None,
                      officers: Iterable[str] = ()) -> dict[str, Any]:
    """Every officer's month at a glance, by unit then person. Within a scope: `units` (None:
    every unit) and `officers` seen whatever their unit. The scope is applied first, so a
    head of 500 officers reads their 500, not the province's (issue 13)."""
    month = checked_month(month)
    listed = list_officers(db) if units is None else officers_within(db, units, officers)
    by_officer = month_satisfaction_by_officer(
        db, month, None if units is None else [officer["id"] for officer in listed])
    empty = SatisfactionSummary()
    rows = []
    for officer in listed:
        summary = by_officer.get(officer["id"], empty)
        rows.append({**officer, "total": summary.total, "index": summary.index,
                     "share_satisfied": summary.share_satisfied, "filtered": summary.filtered})
    return {"month": month, "officers": rows}
