"""Who is on duty where, as read: roster shifts, a counter's officer, each device's assignment.

The rule of which shift is current is `ON_DUTY` (collector/org/directory.py, the floor of every
read that names the officer on duty). Reads only; `now_ms` is the default time.
"""

from __future__ import annotations

import json

from typing import Any

import sqlite_utils

from collector.db.store import now_ms
from collector.org.directory import ON_DUTY


def current_assignments(db: sqlite_utils.Database, at: int | None = None) -> list[dict[str, Any]]:
    """What each active device should show at `at` (default now): counter label, scale and
    the officer the roster has on duty at its counter, or None (closed)."""
    at = now_ms() if at is None else at
    return [dict(row) for row in db.query(
        "SELECT d.id AS device_id, d.scale, c.label AS counter_label, r.officer_id, "
        "o.name AS officer_name, o.title AS officer_title, u.name AS unit_name "
        "FROM devices d JOIN counters c ON c.id = d.counter_id "
        f"LEFT JOIN roster_shifts r ON r.counter_id = d.counter_id AND {ON_DUTY} "
        "LEFT JOIN officers o ON o.id = r.officer_id "
        "LEFT JOIN units u ON u.id = o.unit_id "
        "WHERE d.retired_at IS NULL GROUP BY d.id ORDER BY d.id", {"at": at})]


def counter_officer(db: sqlite_utils.Database, counter_id: str) -> str | None:
    """The officer the roster has on duty at this counter now, if any."""
    row = db.execute(f"SELECT r.officer_id FROM roster_shifts r WHERE r.counter_id = :counter "
                     f"AND {ON_DUTY} ORDER BY r.starts_at DESC LIMIT 1",
                     {"counter": counter_id, "at": now_ms()}).fetchone()
    return row[0] if row else None


_SHIFT_SELECT = (
    "SELECT r.id, r.counter_id, c.label AS counter_label, c.unit_id, r.officer_id, "
    "o.name AS officer_name, r.starts_at, r.ends_at, r.note, r.created_at, r.created_by, "
    "r.replaced_at, r.replaced_by FROM roster_shifts r "
    "LEFT JOIN counters c ON c.id = r.counter_id LEFT JOIN officers o ON o.id = r.officer_id ")


def get_shift(db: sqlite_utils.Database, shift_id: int) -> dict[str, Any] | None:
    """One roster shift, current or not."""
    rows = [dict(row) for row in db.query(_SHIFT_SELECT + "WHERE r.id = ?", [shift_id])]
    return rows[0] if rows else None


def roster_shifts(db: sqlite_utils.Database, *, counter_id: str | None = None,
                  officer_id: str | None = None, start: int | None = None,
                  end: int | None = None, include_history: bool = False) -> list[dict[str, Any]]:
    """Shifts overlapping [start, end) (either bound open when None), by start time; only
    the current ones unless `include_history` (then replaced and cancelled ones too)."""
    where, params = [], []
    if not include_history:
        where.append("r.replaced_at IS NULL")
    if counter_id is not None:
        where.append("r.counter_id = ?")
        params.append(counter_id)
    if officer_id is not None:
        where.append("r.officer_id = ?")
        params.append(officer_id)
    if end is not None:
        where.append("r.starts_at < ?")
        params.append(end)
    if start is not None:
        where.append("(r.ends_at IS NULL OR r.ends_at > ?)")
        params.append(start)
    clause = ("WHERE " + " AND ".join(where) + " ") if where else ""
    return [dict(row) for row in db.query(
        _SHIFT_SELECT + clause + "ORDER BY r.starts_at, r.id", params)]


def shifts_to_watch(db: sqlite_utils.Database, since: int, until: int) -> list[dict[str, Any]]:
    """Current shifts begun before `until` that end after `since` or are open, by start: what
    the offline watch judges (collector/ingest/offline_watch.py). Two range reads on the
    index of ends (schema offline_0001) rather than one OR that scans every shift kept."""
    columns = "SELECT id, counter_id, officer_id, starts_at, ends_at FROM roster_shifts "
    rows = db.query(columns + "WHERE replaced_at IS NULL AND ends_at > :since "
                    "AND starts_at < :until UNION ALL " + columns +
                    "WHERE replaced_at IS NULL AND ends_at IS NULL AND starts_at < :until "
                    "ORDER BY starts_at, id", {"since": since, "until": until})
    return [dict(row) for row in rows]


def current_shifts(db: sqlite_utils.Database, shift_ids: list[int]) -> list[dict[str, Any]]:
    """Those of `shift_ids` that are current (not replaced), in the shape shifts_to_watch
    gives: the offline watch re-judges corrected shifts through it."""
    if not shift_ids:
        return []
    return [dict(row) for row in db.query(
        "SELECT id, counter_id, officer_id, starts_at, ends_at FROM roster_shifts "
        "WHERE replaced_at IS NULL AND id IN (SELECT value FROM json_each(?)) "
        "ORDER BY starts_at, id", [json.dumps(sorted(set(shift_ids)))])]
