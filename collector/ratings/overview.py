"""Satisfaction by officer for a month: one officer's, or every officer's at a glance.

The data of the satisfaction pages, built once and served both as JSON and as HTML, so a page
never shows a figure the API cannot give (house style: pages have a JSON twin). The month
itself is checked by `collector.core.timeline.checked_month`.
"""

from __future__ import annotations

from typing import Any

import sqlite_utils

from collector.core.timeline import checked_month, month_bounds
from collector.org.directory import get_officer, list_officers
from collector.ratings.satisfaction import ANSWERS, SatisfactionSummary, summarise


class NotFound(LookupError):
    pass


def officer_month_satisfaction(db: sqlite_utils.Database, officer_id: str,
                               month: str) -> SatisfactionSummary:
    start, end = month_bounds(month)
    presses = db.execute(
        "SELECT scale, level, excluded, reason FROM ratings WHERE officer_id = ? "
        "AND pressed_at >= ? AND pressed_at < ?", [officer_id, start, end]).fetchall()
    return summarise([tuple(row) for row in presses])


def month_satisfaction_by_officer(db: sqlite_utils.Database,
                                  month: str) -> dict[str, SatisfactionSummary]:
    start, end = month_bounds(month)
    grouped: dict[str, list[tuple[int, int, str | None]]] = {}
    for officer_id, scale, level, excluded in db.execute(
            "SELECT officer_id, scale, level, excluded FROM ratings WHERE officer_id IS NOT NULL "
            "AND pressed_at >= ? AND pressed_at < ?", [start, end]).fetchall():
        grouped.setdefault(officer_id, []).append((scale, level, excluded))
    return {officer_id: summarise(presses) for officer_id, presses in grouped.items()}


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


def officers_overview(db: sqlite_utils.Database, month: str | None) -> dict[str, Any]:
    month = checked_month(month)
    by_officer = month_satisfaction_by_officer(db, month)
    empty = SatisfactionSummary()
    rows = []
    for officer in list_officers(db):
        summary = by_officer.get(officer["id"], empty)
        rows.append({**officer, "total": summary.total, "index": summary.index,
                     "share_satisfied": summary.share_satisfied, "filtered": summary.filtered})
    return {"month": month, "officers": rows}
