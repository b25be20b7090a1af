"""Whose is it: the unit (and the officer) a record belongs to, for every scope check.

Every route and page that checks a target against an account's scope asks here: which unit a
unit, officer, counter, device, task or alert belongs to, and, where the past matters, which
units a device ever stood in. One module, so "belongs to" has one meaning: a device belongs to
the unit of the counter it stands at now; a task to its officer (and so to the officer's
unit); an alert to the unit its counter belonged to when it was raised — a counter moved
later leaves its alerts behind (collector/org/unit_history.py); an officer's evaluation period
to the unit stored with its review or decision (issue 12), else to the officer's unit now.

Each lookup answers an `Owner`, or None when no such record exists (a 404 is the caller's to
give, a refusal the scope's). Reads only, on any connection. An integer id past SQLite's 64
bits raises OverflowError, as any query would: the caller's input, answered 422.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

from collector.org import unit_history

@dataclass(frozen=True)
class Owner:
    """What a record belongs to. `unit_id` None: no unit (a device at no counter, a counter
    of no unit); `officer_id`: the officer of a record that is one officer's."""

    unit_id: str | None
    officer_id: str | None = None
    placed: bool = False  # an officer's period owned by its stored unit (`officer_month`)


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


def officer_month(db: sqlite_utils.Database, officer_id: str | None,
                  month: str) -> Owner | None:
    """The unit an officer's evaluation period (a month or quarter key) belongs to: the one
    stored with its review or decision (`placed`), else the officer's unit now."""
    if officer_id is None:
        return None
    row = db.execute("SELECT COALESCE(e.unit_id, o.unit_id), o.id, e.unit_id IS NOT NULL "
                     "FROM officers o LEFT JOIN evaluations e ON e.officer_id = o.id AND "
                     "e.month = ? WHERE o.id = ?", [month, officer_id]).fetchone()
    return None if row is None else Owner(row[0], row[1], bool(row[2]))


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
