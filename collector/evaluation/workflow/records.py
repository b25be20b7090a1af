"""The stored evaluations as read: an officer-month's workflow row and history, a unit's grades.

Behind collector/evaluation/workflow/steps.py (the self → leader → head workflow) and
status.py. The writer calls them on its own connection inside its transaction; the API on a
reader. Reads only.

Where a month belongs (issue 12): a reviewed or decided month is stored with the unit the
officer was in (`evaluations.unit_id`, set by the review and again by the decision), so a
unit's month lists an officer when COALESCE(e.unit_id, o.unit_id) is in its units: a move
after the review leaves the old month where it was. Its group of similar posts (the quota's
group) is the stored one once decided, else the officer's current one: the group a decision
would store (collector/evaluation/sources.py `QUOTA_GROUP`).
"""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from collector.core.periods import parse_period
from collector.evaluation.sources import MONTH_UNIT, QUOTA_GROUP, month_members

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
    rows = list(db.query("SELECT id, name, unit_id, active_from, active_to, post_group "
                         "FROM officers WHERE id = ?", [officer_id]))
    return dict(rows[0]) if rows else None


def placement(db: sqlite_utils.Database, officer_id: str, unit_id: str | None,
              deciding_unit: str | None) -> dict[str, Any]:
    """The columns that place a month where the officer stands now (their unit, the unit
    whose head decides, their group of similar posts): what the review and the decision
    store, so that a later move or regrouping leaves the month where it was."""
    officer = evaluation_officer(db, officer_id) or {}
    return {"unit_id": unit_id, "deciding_unit_id": deciding_unit,
            "post_group": officer.get("post_group")}


def evaluation_unit_officers(db: sqlite_utils.Database, unit_ids: set[str],
                             month: str) -> list[dict[str, Any]]:
    """Officers whose month belongs to these units (MONTH_UNIT) active at some time in the
    month (active dates inclusive, NULL open), each with the unit the month belongs to, its
    quota group (QUOTA_GROUP) and the columns of the workflow row that say how far it got."""
    if not unit_ids:
        return []
    period = parse_period(month)  # PeriodError on a malformed month
    units = sorted(unit_ids)
    marks = ", ".join("?" * len(units))
    return [dict(row) for row in db.query(
        f"SELECT o.id, o.name, {MONTH_UNIT} AS unit_id, {QUOTA_GROUP} AS post_group, "
        "e.self_at, e.reviewed_at, e.decided_at, e.proposed_grade, e.final_grade "
        "FROM officers o LEFT JOIN evaluations e ON e.officer_id = o.id AND e.month = ? "
        f"WHERE {month_members(marks)} AND (o.active_from IS NULL OR o.active_from <= ?) "
        f"AND (o.active_to IS NULL OR o.active_to >= ?) ORDER BY {MONTH_UNIT}, o.id",
        [month, *units, month, *units, *units, period.last_day.isoformat(),
         period.first_day.isoformat()])]


def evaluation_standing(db: sqlite_utils.Database, unit_ids: set[str],
                        month: str) -> dict[str, tuple[str, str | None]]:
    """officer → (the grade standing for the month: final if decided, else proposed; its
    quota group), for the officers whose month belongs to these units and has a grade."""
    if not unit_ids:
        return {}
    units = sorted(unit_ids)
    marks = ", ".join("?" * len(units))
    return {row[0]: (row[1], row[2]) for row in db.execute(
        f"SELECT e.officer_id, COALESCE(e.final_grade, e.proposed_grade), {QUOTA_GROUP} "
        "FROM officers o JOIN evaluations e ON e.officer_id = o.id AND e.month = ? "
        f"WHERE {month_members(marks)} AND COALESCE(e.final_grade, e.proposed_grade) IS NOT NULL",
        [month, *units, month, *units, *units])}


def evaluation_grades(db: sqlite_utils.Database, unit_ids: set[str],
                      month: str) -> dict[str, str]:
    """officer → the grade standing for the month (final if decided, else proposed), for the
    officers whose month belongs to these units and has one: the quota counts these."""
    return {officer: grade for officer, (grade, _) in
            evaluation_standing(db, unit_ids, month).items()}
