"""The task records as read: one task with its flags and progress history, an officer's period.

Behind collector/evaluation/tasks.py (the service), the month's evidence and the team view.
Reads only.
"""

from __future__ import annotations

from typing import Any

import sqlite_utils

from collector.core.periods import parse_period

_TASK_SELECT = (
    "SELECT t.id, t.officer_id, t.title, t.assigned_by, a.name AS assigned_by_name, t.period, "
    "t.deadline, t.weight, t.progress, t.progress_note, t.completed_on, t.created_at, "
    "t.updated_at FROM tasks t LEFT JOIN officers a ON a.id = t.assigned_by ")


def _with_flags(db: sqlite_utils.Database, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each task with its flags (oldest first), `major_errors` and `delay_excused`."""
    by_id = {task["id"]: task for task in tasks}
    for task in tasks:
        task.update(flags=[], major_errors=0, delay_excused=False)
    if not by_id:
        return tasks
    marks = ", ".join("?" * len(by_id))
    for row in db.query(f"SELECT id, task_id, kind, reason, actor, at FROM task_flags "
                        f"WHERE task_id IN ({marks}) ORDER BY id", list(by_id)):
        task = by_id[row.pop("task_id")]
        task["flags"].append(row)
        if row["kind"] == "major_error":
            task["major_errors"] += 1
        else:
            task["delay_excused"] = True
    return tasks


def get_task(db: sqlite_utils.Database, task_id: int) -> dict[str, Any] | None:
    """One task with its flags and its progress history (oldest first)."""
    rows = [dict(row) for row in db.query(_TASK_SELECT + "WHERE t.id = ?", [task_id])]
    if not rows:
        return None
    task = _with_flags(db, rows)[0]
    task["updates"] = [dict(row) for row in db.query(
        "SELECT at, actor, progress, note, completed_on FROM task_updates WHERE task_id = ? "
        "ORDER BY id", [task_id])]
    return task


def officer_tasks(db: sqlite_utils.Database, officer_id: str,
                  month: str) -> list[dict[str, Any]]:
    """The officer's tasks whose deadline falls in the period `month` (a month "YYYY-MM" or a
    quarter "YYYY-Qn"), by deadline, with flags; PeriodError (a ValueError) when malformed."""
    period = parse_period(month)
    rows = [dict(row) for row in db.query(
        _TASK_SELECT + "WHERE t.officer_id = ? AND t.deadline >= ? AND t.deadline < ? "
        "ORDER BY t.deadline, t.id",
        [officer_id, period.first_day.isoformat(), period.end_day.isoformat()])]
    return _with_flags(db, rows)


_CHUNK = 500  # bound parameters per statement, below SQLite's smallest limit (999)


def officers_tasks(db: sqlite_utils.Database, officer_ids: list[str],
                   month: str) -> dict[str, list[dict[str, Any]]]:
    """`officer_tasks` of many officers at once: officer → their tasks of the period, in the
    same order and with the same flags, in two statements per 500 officers rather than two
    per officer (a unit's month, issue 13)."""
    period = parse_period(month)
    ids = sorted(set(officer_ids))
    out: dict[str, list[dict[str, Any]]] = {}
    rows: list[dict[str, Any]] = []
    for first in range(0, len(ids), _CHUNK):
        chunk = ids[first:first + _CHUNK]
        # Each row a dict straight from the cursor (db.query's savepoint and generator cost
        # as much as the row at a province's scale, issue 13).
        cursor = db.execute(
            _TASK_SELECT + f"WHERE t.officer_id IN ({', '.join('?' * len(chunk))}) "
            "AND t.deadline >= ? AND t.deadline < ? ORDER BY t.deadline, t.id",
            [*chunk, period.first_day.isoformat(), period.end_day.isoformat()])
        keys = [column[0] for column in cursor.description]
        rows.extend([dict(zip(keys, row)) for row in cursor])
    for first in range(0, len(rows), _CHUNK):
        _with_flags(db, rows[first:first + _CHUNK])
    for row in rows:
        out.setdefault(row["officer_id"], []).append(row)
    return out


def officers_task_figures(db: sqlite_utils.Database, officer_ids: list[str], month: str, *,
                          everyone: bool = False) -> dict[str, list[dict[str, Any]]]:
    """What a unit's lines read of `officers_tasks` (issue 13): each task's deadline,
    completion, weight, `major_errors` and `delay_excused` (counted from its flags as
    `_with_flags` counts them), in the same order; no title, names, notes or flags.
    `everyone`: the officers are most of everyone (sources.most_of_everyone), whose tasks of
    the period are read in one pass and kept for them."""
    period = parse_period(month)
    ids = sorted(set(officer_ids))
    wanted = set(ids)
    select = ("SELECT t.officer_id, t.deadline, t.completed_on, t.weight, "
              "(SELECT count(*) FROM task_flags f WHERE f.task_id = t.id "
              "AND f.kind = 'major_error'), EXISTS (SELECT 1 FROM task_flags f "
              "WHERE f.task_id = t.id AND f.kind IS NOT 'major_error') FROM tasks t WHERE ")
    days = [period.first_day.isoformat(), period.end_day.isoformat()]
    if everyone:
        statements = [(select + "t.deadline >= ? AND t.deadline < ? ORDER BY t.deadline, t.id",
                       days)]
    else:
        statements = [(select + f"t.officer_id IN ({', '.join('?' * len(chunk))}) "
                       "AND t.deadline >= ? AND t.deadline < ? ORDER BY t.deadline, t.id",
                       [*chunk, *days])
                      for chunk in (ids[i:i + _CHUNK] for i in range(0, len(ids), _CHUNK))]
    out: dict[str, list[dict[str, Any]]] = {}
    for sql, params in statements:
        for officer_id, deadline, completed_on, weight, errors, excused in db.execute(
                sql, params):
            if officer_id in wanted:
                out.setdefault(officer_id, []).append(
                    {"deadline": deadline, "completed_on": completed_on, "weight": weight,
                     "major_errors": errors, "delay_excused": bool(excused)})
    return out
