"""The stored evaluations as read: an officer-month's workflow row and history, a unit's grades.

Behind collector/evaluation/workflow/steps.py (the self → leader → head workflow) and
status.py. The writer calls them on its own connection inside its transaction; the API on a
reader. Reads only.
"""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from collector.core.timeline import month_bounds

_EVALUATION_JSON = ("self_scores", "review_scores", "snapshot")


def evaluation_row(db: sqlite_utils.Database, officer_id: str,
                   month: str) -> dict[str, Any] | None:
    """The workflow row of one officer-month, JSON columns decoded; None if never started."""
    rows = list(db.query("SELECT * FROM evaluations WHERE officer_id = ? AND month = ?",
                         [officer_id, month]))
    if not rows:
        return None
    row = dict(rows[0])
    for column in _EVALUATION_JSON:
        if row[column] is not None:
            row[column] = json.loads(row[column])
    row["disciplined"] = bool(row["disciplined"])
    return row


def evaluation_history(db: sqlite_utils.Database, officer_id: str,
                       month: str) -> list[dict[str, Any]]:
    """Every step taken on the officer-month, oldest first, data decoded."""
    return [{**dict(row), "data": json.loads(row["data"])} for row in db.query(
        "SELECT id, step, actor, at, data FROM evaluation_events "
        "WHERE officer_id = ? AND month = ? ORDER BY id", [officer_id, month])]


def evaluation_officer(db: sqlite_utils.Database, officer_id: str) -> dict[str, Any] | None:
    rows = list(db.query("SELECT id, name, unit_id, active_from, active_to FROM officers "
                         "WHERE id = ?", [officer_id]))
    return dict(rows[0]) if rows else None


def evaluation_unit_officers(db: sqlite_utils.Database, unit_ids: set[str],
                             month: str) -> list[dict[str, Any]]:
    """Officers of these units active at some time in the month (active dates inclusive, NULL
    open), each with the columns of their month's workflow row that say how far it got."""
    if not unit_ids:
        return []
    month_bounds(month)  # ValueError on a malformed month
    year, mon = int(month[:4]), int(month[5:])
    first = f"{month}-01"
    after = f"{year + (mon == 12):04d}-{mon % 12 + 1:02d}-01"
    marks = ", ".join("?" * len(unit_ids))
    return [dict(row) for row in db.query(
        "SELECT o.id, o.name, o.unit_id, e.self_at, e.reviewed_at, e.decided_at, "
        "e.proposed_grade, e.final_grade FROM officers o LEFT JOIN evaluations e "
        "ON e.officer_id = o.id AND e.month = ? "
        f"WHERE o.unit_id IN ({marks}) AND (o.active_from IS NULL OR o.active_from < ?) "
        "AND (o.active_to IS NULL OR o.active_to >= ?) ORDER BY o.unit_id, o.id",
        [month, *sorted(unit_ids), after, first])]


def evaluation_grades(db: sqlite_utils.Database, unit_ids: set[str],
                      month: str) -> dict[str, str]:
    """officer → the grade standing for the month (final if decided, else proposed), for the
    officers of these units who have one: the quota counts these."""
    if not unit_ids:
        return {}
    marks = ", ".join("?" * len(unit_ids))
    return {row[0]: row[1] for row in db.execute(
        "SELECT e.officer_id, COALESCE(e.final_grade, e.proposed_grade) FROM evaluations e "
        f"JOIN officers o ON o.id = e.officer_id WHERE o.unit_id IN ({marks}) "
        "AND e.month = ? AND COALESCE(e.final_grade, e.proposed_grade) IS NOT NULL",
        [*sorted(unit_ids), month])}
