"""The stored evaluations as read: an officer-month's workflow row and history, a unit's grades.

Behind collector/evaluation/workflow/steps.py (the self → leader → head workflow) and
status.py. The writer calls them on its own connection inside its transaction; the API on a
reader. Reads only.

Where a month belongs (issue 12): a reviewed or decided month is stored with the unit the
officer was in (`evaluations.unit_id`, set by the first review and kept by every later step:
collector/accounts/permissions.py `month_facts`), so a unit's month lists an officer when
COALESCE(e.unit_id, o.unit_id) is in its units: a move after the review leaves the old month
where it was. Its group of similar posts (the quota's group) is the one stored with the first
review and kept by every later step (a reopening and a new decision included), else the
officer's current one (collector/evaluation/sources.py `QUOTA_GROUP`, `month_group`).

Whose quota a month counts in (`quota_pool`): a month with a stored deciding unit counts in
the pool of that unit and of every unit above it now, and of the units between it and its
stored unit while they are still on that way up; any other month in the pools of its unit
(stored, else the officer's now) and the units above. Without a unit moved since, that is the
unit's subtree; with one, a month decided before the move stays where it was decided.
"""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from collector.accounts import permissions
from collector.core.periods import parse_period
from collector.evaluation.sources import MONTH_UNIT, QUOTA_GROUP, month_members
from collector.org.organisation import unit_chain, unit_subtree

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


def month_group(db: sqlite_utils.Database, officer_id: str, month: str) -> str | None:
    """The group of similar posts the officer's month counts in (QUOTA_GROUP)."""
    row = db.execute(f"SELECT {QUOTA_GROUP} FROM officers o LEFT JOIN evaluations e ON "
                     "e.officer_id = o.id AND e.month = ? WHERE o.id = ?",
                     [month, officer_id]).fetchone()
    return row[0] if row else None


def month_deciders(db: sqlite_utils.Database, officer_ids: list[str],
                   month: str) -> dict[str, tuple[str | None, str | None]]:
    """officer → (id, name) of the head who decides their period (permissions.month_facts:
    the head of its stored place once reviewed, else of their unit now); (None, None) for an
    officer decided outside hailong."""
    heads = {o: (facts.head if (facts := permissions.month_facts(db, o, month)) else None)
             for o in officer_ids}
    wanted = json.dumps(sorted({head for head in heads.values() if head}))
    names = dict(db.execute("SELECT id, name FROM officers WHERE id IN "
                            "(SELECT value FROM json_each(?))", [wanted]).fetchall())
    return {o: (head, names.get(head)) for o, head in heads.items()}


def placement(db: sqlite_utils.Database, officer_id: str, month: str, unit_id: str | None,
              deciding_unit: str | None) -> dict[str, Any]:
    """The columns that place a month (its unit, the unit whose head decides, its group of
    similar posts): what the review and the decision store, given the unit and deciding unit
    of the month's facts (`month_facts`: the stored ones once placed, so a later step keeps
    them), so that a later move or regrouping leaves the month where it was."""
    return {"unit_id": unit_id, "deciding_unit_id": deciding_unit,
            "post_group": month_group(db, officer_id, month)}


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
        f"{_UNIT_OFFICER_SELECT} WHERE {month_members(marks)} AND {_ACTIVE} "
        f"ORDER BY {MONTH_UNIT}, o.id",
        [month, *units, month, *units, *units, period.last_day.isoformat(),
         period.first_day.isoformat()])]


_UNIT_OFFICER_SELECT = (
    f"SELECT o.id, o.name, {MONTH_UNIT} AS unit_id, {QUOTA_GROUP} AS post_group, "
    "e.deciding_unit_id, e.self_at, e.reviewed_at, e.decided_at, e.proposed_grade, "
    "e.final_grade FROM officers o LEFT JOIN evaluations e ON e.officer_id = o.id "
    "AND e.month = ?")
_ACTIVE = ("(o.active_from IS NULL OR o.active_from <= ?) "
           "AND (o.active_to IS NULL OR o.active_to >= ?)")


def quota_pool(db: sqlite_utils.Database, unit_id: str, month: str) -> list[dict[str, Any]]:
    """The officers whose month counts in the quota of `unit_id` (the module's docstring:
    "Whose quota a month counts in"), active at some time in the month, as
    `evaluation_unit_officers` gives them; by unit, then officer."""
    units, above = unit_subtree(db, unit_id), set(unit_chain(db, unit_id))
    if not units:
        return []
    rows = evaluation_unit_officers(db, units, month)
    period, ordered = parse_period(month), sorted(units)
    marks = ", ".join("?" * len(ordered))
    # Months decided (or placed) under these units whose own unit has moved out of them since.
    rows += [dict(row) for row in db.query(
        f"{_UNIT_OFFICER_SELECT} WHERE o.id IN (SELECT officer_id FROM evaluations WHERE "
        f"month = ? AND deciding_unit_id IN ({marks}) AND unit_id NOT IN ({marks})) "
        f"AND {_ACTIVE}", [month, month, *ordered, *ordered, period.last_day.isoformat(),
                           period.first_day.isoformat()])]
    return sorted((row for row in rows if row["deciding_unit_id"] is None
                   or row["deciding_unit_id"] in units
                   or (row["unit_id"] in units and row["deciding_unit_id"] in above)),
                  key=lambda row: (row["unit_id"], row["id"]))
