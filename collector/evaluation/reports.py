"""Reports: the data of each page, built once and served both as JSON and as HTML.

Every dashboard page renders one of these dicts and the API returns the same dict, so a page
never shows a figure the API cannot give (house style: pages have a JSON twin).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlite_utils

from collector.db import queries
from collector.ratings.satisfaction import ANSWERS, SatisfactionSummary
from collector.core.timeline import LOCAL_TZ, month_bounds


class NotFound(LookupError):
    pass


def current_month() -> str:
    return datetime.now(LOCAL_TZ).strftime("%Y-%m")


def checked_month(month: str | None) -> str:
    """The month asked for, or this month; ValueError with a clear message when malformed."""
    if month is None:
        return current_month()
    month_bounds(month)
    return month


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
    officer = queries.get_officer(db, officer_id)
    if officer is None:
        raise NotFound(f"no officer with id {officer_id!r}")
    summary = queries.officer_month_satisfaction(db, officer_id, month)
    return {"officer": officer, "month": month, **summary_dict(summary)}


def officers_overview(db: sqlite_utils.Database, month: str | None) -> dict[str, Any]:
    month = checked_month(month)
    by_officer = queries.month_satisfaction_by_officer(db, month)
    empty = SatisfactionSummary()
    rows = []
    for officer in queries.list_officers(db):
        summary = by_officer.get(officer["id"], empty)
        rows.append({**officer, "total": summary.total, "index": summary.index,
                     "share_satisfied": summary.share_satisfied, "filtered": summary.filtered})
    return {"month": month, "officers": rows}
