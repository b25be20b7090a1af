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
from functools import partial
from typing import Any, NamedTuple

import sqlite_utils

from collector.accounts import permissions
from collector.core.periods import parse_period
from collector.evaluation.sources import MONTH_UNIT, QUOTA_GROUP
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
    facts = permissions.month_facts_many(db, officer_ids, month)
    heads = {o: facts[o].head if o in facts else None for o in officer_ids}
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


class UnitOfficer(NamedTuple):
    """An officer's period as a unit's reports read it (`evaluation_unit_officers`); its
    first six fields are its `permissions.Place`: the officer now and the stored place."""
    id: str
    unit_now: str | None
    leader_id: str | None
    placed_unit: str | None
    deciding_unit_id: str | None  # stored with the review or decision
    reviewed_by: str | None
    name: str
    unit_id: str  # the unit the period belongs to (MONTH_UNIT)
    post_group: str | None  # the group its quota counts in (QUOTA_GROUP)
    self_at: int | None
    reviewed_at: int | None
    decided_at: int | None
    proposed_grade: str | None
    final_grade: str | None


def evaluation_unit_officers(db: sqlite_utils.Database, unit_ids: set[str],
                             month: str) -> list[UnitOfficer]:
    """Officers whose month belongs to these units (MONTH_UNIT) active at some time in the
    month (active dates inclusive, NULL open); by unit, then officer."""
    if not unit_ids:
        return []
    # Two disjoint halves instead of one `MONTH_UNIT IN (...)`: the officers now in the units
    # whose month is not stored elsewhere (by officers_unit), and the months stored here of
    # officers now elsewhere (by evaluations_month_unit); the units travel as one JSON array,
    # not an IN list a province's units would take near SQLite's limit of bound variables.
    return _officers(db, (
        f"WITH here(id) AS (SELECT value FROM json_each(:units)) {_UNIT_OFFICER_SELECT} "
        "WHERE o.unit_id IN here AND (e.unit_id IS NULL OR e.unit_id IN here) "
        f"AND {_ACTIVE} UNION ALL SELECT {_UNIT_OFFICER_COLUMNS} FROM evaluations e "
        "JOIN officers o ON o.id = e.officer_id WHERE e.month = :month AND e.unit_id IN here "
        f"AND (o.unit_id IS NULL OR o.unit_id NOT IN here) AND {_ACTIVE} ORDER BY unit_id, id"),
        unit_ids, month)


def _officers(db: sqlite_utils.Database, sql: str, unit_ids: set[str],
              month: str) -> list[UnitOfficer]:
    # Named tuples made in C (tuple.__new__, not the class's Python __new__), not dicts: a
    # province's root reads 150,000 rows (issue 13), and a dict per row costs several times.
    period = parse_period(month)
    return list(map(_UNIT_OFFICER, db.execute(sql, {
        "units": json.dumps(sorted(unit_ids)), "month": month,
        "last": period.last_day.isoformat(), "first": period.first_day.isoformat()})))


def places(rows: list[UnitOfficer]) -> list[permissions.Place]:
    """The places of `evaluation_unit_officers`'s rows, for permissions.facts_of_places."""
    return [_PLACE(row[:6]) for row in rows]


_UNIT_OFFICER = partial(tuple.__new__, UnitOfficer)
_PLACE = partial(tuple.__new__, permissions.Place)
_UNIT_OFFICER_COLUMNS = (  # in UnitOfficer's order
    "o.id, o.unit_id AS unit_now, o.leader_id, e.unit_id AS placed_unit, "
    f"e.deciding_unit_id, e.reviewed_by, o.name, {MONTH_UNIT} AS unit_id, "
    f"{QUOTA_GROUP} AS post_group, e.self_at, e.reviewed_at, e.decided_at, e.proposed_grade, "
    "e.final_grade")
_UNIT_OFFICER_SELECT = (f"SELECT {_UNIT_OFFICER_COLUMNS} FROM officers o LEFT JOIN "
                        "evaluations e ON e.officer_id = o.id AND e.month = :month")
_ACTIVE = ("(o.active_from IS NULL OR o.active_from <= :last) "
           "AND (o.active_to IS NULL OR o.active_to >= :first)")


def quota_pool(db: sqlite_utils.Database, unit_id: str, month: str, *,
               units: set[str] | None = None,
               members: list[UnitOfficer] | None = None) -> list[UnitOfficer]:
    """The officers whose month counts in the quota of `unit_id` (the module's docstring:
    "Whose quota a month counts in"), active at some time in the month, as
    `evaluation_unit_officers` gives them; by unit, then officer. `units` (the unit's
    subtree) and `members` (`evaluation_unit_officers` over it): when the caller has read
    them already, as a unit's status has."""
    units = unit_subtree(db, unit_id) if units is None else units
    above = set(unit_chain(db, unit_id))
    if not units:
        return []
    rows = evaluation_unit_officers(db, units, month) if members is None else members
    # Months decided (or placed) under these units whose own unit has moved out of them since.
    moved = _officers(db, (
        f"WITH here(id) AS (SELECT value FROM json_each(:units)) {_UNIT_OFFICER_SELECT} "
        "WHERE o.id IN (SELECT officer_id FROM evaluations WHERE month = :month AND "
        f"deciding_unit_id IN here AND unit_id NOT IN here) AND {_ACTIVE}"), units, month)
    pool = [row for row in (rows + moved if moved else rows)
            if row.deciding_unit_id is None or row.deciding_unit_id in units
            or (row.unit_id in units and row.deciding_unit_id in above)]
    # `rows` come by unit, then officer (evaluation_unit_officers): only `moved` unsorts them.
    return sorted(pool, key=lambda row: (row.unit_id, row.id)) if moved else pool
