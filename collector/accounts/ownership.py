"""Whose is it: the unit (and the officer) a record belongs to, for every scope check.

Every route and page that checks a target against an account's scope asks here: which unit a
unit, officer, counter, device, task or alert belongs to, and, where the past matters, which
units a device ever stood in. One module, so "belongs to" has one meaning: a device belongs to
the unit of the counter it stands at now; a task to its officer (and so to the officer's
unit); an alert to the unit its counter belonged to when it was raised — a counter moved
later leaves its alerts behind (collector/org/unit_history.py); an officer's calendar month
to the units stored with the review or decision of the evaluation periods holding it — the
month, or its quarter under a quarterly policy (issue 12) — else to the officer's unit now.

Each lookup answers an `Owner`, or None when no such record exists (a 404 is the caller's to
give, a refusal the scope's). Reads only, on any connection. An integer id past SQLite's 64
bits raises OverflowError, as any query would: the caller's input, answered 422.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import sqlite_utils

from collector.core.periods import QUARTER, period_of
from collector.org import unit_history

@dataclass(frozen=True)
class Owner:
    """What a record belongs to. `unit_id` None: no unit (a device at no counter, a counter
    of no unit); `officer_id`: the officer of a record that is one officer's."""

    unit_id: str | None
    officer_id: str | None = None


def _owner(row) -> Owner | None:
    return None if row is None else Owner(*row)


def unit(db: sqlite_utils.Database, unit_id: str) -> Owner | None:
    """The unit itself, when it exists."""
    return _owner(db.execute("SELECT id FROM units WHERE id = ?", [unit_id]).fetchone())


def officer(db: sqlite_utils.Database, officer_id: str | None) -> Owner | None:
    """The officer's unit (and the officer)."""
    if officer_id is None:
        return None
    return _owner(db.execute("SELECT unit_id, id FROM officers WHERE id = ?",
                             [officer_id]).fetchone())


def officer_month_places(db: sqlite_utils.Database, officer_id: str,
                         months: Iterable[str]) -> dict[str, dict[str, str]]:
    """For each calendar month ("YYYY-MM") of `months`, the officer's evaluation periods
    holding it that have a stored place (reviewed or decided): period key → the unit stored
    with it. A month is held by itself and by its quarter: whichever the policy evaluates by
    has rows (both, after a change of policy), so no policy is needed to find them. {}: no
    placed period holds the month, which follows the officer's unit now. One query."""
    held = {month: (month, period_of(date(int(month[:4]), int(month[5:7]), 1), QUARTER).key)
            for month in months}
    keys = sorted({key for keys in held.values() for key in keys})
    stored = dict(db.execute(
        "SELECT month, unit_id FROM evaluations WHERE officer_id = ? AND unit_id IS NOT NULL "
        "AND month IN (SELECT value FROM json_each(?))", [officer_id, json.dumps(keys)]))
    return {month: {key: stored[key] for key in periods if key in stored}
            for month, periods in held.items()}


def counter(db: sqlite_utils.Database, counter_id: str | None) -> Owner | None:
    """The counter's unit now."""
    if counter_id is None:
        return None
    return _owner(db.execute("SELECT unit_id FROM counters WHERE id = ?",
                             [counter_id]).fetchone())


def device(db: sqlite_utils.Database, device_id: str | None) -> Owner | None:
    """The unit of the counter the device stands at now (None for a device at no counter)."""
    if device_id is None:
        return None
    return _owner(db.execute("SELECT c.unit_id FROM devices d LEFT JOIN counters c ON "
                             "c.id = d.counter_id WHERE d.id = ?", [device_id]).fetchone())


def task(db: sqlite_utils.Database, task_id: int) -> Owner | None:
    """The task's officer and their unit."""
    return _owner(db.execute("SELECT o.unit_id, t.officer_id FROM tasks t LEFT JOIN officers o "
                             "ON o.id = t.officer_id WHERE t.id = ?", [task_id]).fetchone())


def alert(db: sqlite_utils.Database, alert_id: int) -> Owner | None:
    """The unit the alert's counter belonged to when it was raised, and the officer then on
    duty (None when nobody was)."""
    return _owner(db.execute("SELECT unit_id, officer_id FROM alerts WHERE id = ?",
                             [alert_id]).fetchone())


def counter_units(db: sqlite_utils.Database) -> dict[str, str | None]:
    """Every counter's unit now, by counter id (to filter a listing of many)."""
    return dict(db.execute("SELECT id, unit_id FROM counters").fetchall())


def device_units_ever(db: sqlite_utils.Database, device_id: str) -> set[str]:
    """Every unit whose counters the device ever stood at, while they were that unit's: the
    units its past ratings belong to."""
    return unit_history.device_units_ever(db, device_id)
