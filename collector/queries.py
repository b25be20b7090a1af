"""Read-only queries behind the API and the dashboard.

Each function takes a reader connection and returns plain dicts or the pure summaries of
`satisfaction`; no arithmetic is left for templates. Readers never write.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlite_utils

from .satisfaction import SatisfactionSummary, summarise
from .store import connect, now_ms
from .timeline import month_bounds


def open_reader(path: str | Path) -> sqlite_utils.Database:
    return connect(path, readonly=True)


def totals(db: sqlite_utils.Database) -> dict[str, int]:
    counts = {"stored": 0, "duplicate": 0, "rejected": 0}
    counts.update({row[0]: row[1] for row in
                   db.execute("SELECT name, value FROM ingest_totals").fetchall()})
    return counts


def list_officers(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    return [dict(row) for row in db.query(
        "SELECT o.id, o.name, o.title, o.unit_id, u.name AS unit_name FROM officers o "
        "LEFT JOIN units u ON u.id = o.unit_id ORDER BY u.name, o.name")]


def get_officer(db: sqlite_utils.Database, officer_id: str) -> dict[str, Any] | None:
    rows = list(db.query(
        "SELECT o.id, o.name, o.title, o.unit_id, u.name AS unit_name FROM officers o "
        "LEFT JOIN units u ON u.id = o.unit_id WHERE o.id = ?", [officer_id]))
    return rows[0] if rows else None


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


def recent_ratings(db: sqlite_utils.Database, *, device_id: str | None = None,
                   officer_id: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    where, params = [], []
    if device_id:
        where.append("device_id = ?")
        params.append(device_id)
    if officer_id:
        where.append("officer_id = ?")
        params.append(officer_id)
    clause = ("WHERE " + " AND ".join(where)) if where else ""
    return [dict(row) for row in db.query(
        f"SELECT * FROM ratings {clause} ORDER BY received_at DESC, id DESC LIMIT ?",
        [*params, limit])]


def recent_rejections(db: sqlite_utils.Database, limit: int = 50) -> list[dict[str, Any]]:
    rows = []
    for row in db.query("SELECT id, received_at, topic, device_id, reason, payload FROM rejected "
                        "ORDER BY id DESC LIMIT ?", [limit]):
        row = dict(row)
        # Raw bytes are kept exactly; the API shows them as text where they decode, else hex.
        payload: bytes = row.pop("payload")
        try:
            row["payload_text"] = payload.decode("utf-8")
        except UnicodeDecodeError:
            row["payload_hex"] = payload.hex()
        rows.append(row)
    return rows


def list_devices(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    return [dict(row) for row in db.query(
        "SELECT d.id, d.counter_id, c.label AS counter_label, d.scale, d.retired_at, "
        "s.state, s.fw, s.boot, s.uptime_ms, s.mem_free, s.rssi, s.queue, s.filtered, "
        "s.dropped, s.ignored, s.status_at, s.last_seen FROM devices d "
        "LEFT JOIN counters c ON c.id = d.counter_id "
        "LEFT JOIN device_status s ON s.device_id = d.id ORDER BY d.id")]


ON_DUTY = ("r.replaced_at IS NULL AND r.starts_at <= :at "
           "AND (r.ends_at IS NULL OR r.ends_at > :at)")


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


# --- device registry (never selects a password hash, except `broker_accounts`) -------------

_REGISTRY_SELECT = (
    "SELECT d.id, d.counter_id, c.label AS counter_label, c.unit_id, u.name AS unit_name, "
    "d.scale, d.registered_at, d.retired_at, k.issued_at AS credentials_issued_at, "
    "s.state, s.fw, s.last_seen FROM devices d "
    "LEFT JOIN counters c ON c.id = d.counter_id "
    "LEFT JOIN units u ON u.id = c.unit_id "
    "LEFT JOIN device_credentials k ON k.device_id = d.id "
    "LEFT JOIN device_status s ON s.device_id = d.id ")


def registry_devices(db: sqlite_utils.Database, *,
                     include_retired: bool = False) -> list[dict[str, Any]]:
    where = "" if include_retired else "WHERE d.retired_at IS NULL "
    return [dict(row) for row in db.query(_REGISTRY_SELECT + where + "ORDER BY d.id")]


def registry_device(db: sqlite_utils.Database, device_id: str) -> dict[str, Any] | None:
    """One device as the registry knows it, with its current officer and ratings stored."""
    rows = list(db.query(_REGISTRY_SELECT + "WHERE d.id = ?", [device_id]))
    if not rows:
        return None
    device = dict(rows[0])
    officer = db.execute(
        "SELECT r.officer_id, o.name FROM roster_shifts r JOIN officers o "
        f"ON o.id = r.officer_id WHERE r.counter_id = :counter AND {ON_DUTY}",
        {"counter": device["counter_id"], "at": now_ms()}).fetchone()
    device["officer_id"], device["officer_name"] = officer if officer else (None, None)
    device["ratings_stored"] = db.execute("SELECT count(*) FROM ratings WHERE device_id = ?",
                                          [device_id]).fetchone()[0]
    return device


def get_unit(db: sqlite_utils.Database, unit_id: str) -> dict[str, Any] | None:
    rows = list(db.query("SELECT id, name, parent_id FROM units WHERE id = ?", [unit_id]))
    return rows[0] if rows else None


def get_counter(db: sqlite_utils.Database, counter_id: str) -> dict[str, Any] | None:
    rows = list(db.query("SELECT id, label, unit_id FROM counters WHERE id = ?", [counter_id]))
    return rows[0] if rows else None


def counter_officer(db: sqlite_utils.Database, counter_id: str) -> str | None:
    """The officer the roster has on duty at this counter now, if any."""
    row = db.execute(f"SELECT r.officer_id FROM roster_shifts r WHERE r.counter_id = :counter "
                     f"AND {ON_DUTY} ORDER BY r.starts_at DESC LIMIT 1",
                     {"counter": counter_id, "at": now_ms()}).fetchone()
    return row[0] if row else None


def broker_accounts(db: sqlite_utils.Database) -> list[tuple[str, str]]:
    """(device id, password hash) of every active device that has credentials, by id."""
    return [tuple(row) for row in db.execute(
        "SELECT d.id, k.password_hash FROM devices d "
        "JOIN device_credentials k ON k.device_id = d.id "
        "WHERE d.retired_at IS NULL ORDER BY d.id").fetchall()]


def devices_without_credentials(db: sqlite_utils.Database) -> list[str]:
    """Active devices the broker will not admit (registered before the registry, e.g. demo)."""
    return [row[0] for row in db.execute(
        "SELECT d.id FROM devices d LEFT JOIN device_credentials k ON k.device_id = d.id "
        "WHERE d.retired_at IS NULL AND k.device_id IS NULL ORDER BY d.id").fetchall()]


def device_password_hash(db: sqlite_utils.Database, device_id: str) -> str | None:
    """The stored hash of an active device, for verification only (never for display)."""
    row = db.execute("SELECT k.password_hash FROM device_credentials k JOIN devices d "
                     "ON d.id = k.device_id WHERE k.device_id = ? AND d.retired_at IS NULL",
                     [device_id]).fetchone()
    return row[0] if row else None


# --- task records ---------------------------------------------------------------------------

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
    """The officer's tasks whose deadline falls in `month` (YYYY-MM), by deadline, with flags."""
    month_bounds(month)  # ValueError on a malformed month
    year, mon = int(month[:4]), int(month[5:])
    first = f"{month}-01"
    after = f"{year + (mon == 12):04d}-{mon % 12 + 1:02d}-01"
    rows = [dict(row) for row in db.query(
        _TASK_SELECT + "WHERE t.officer_id = ? AND t.deadline >= ? AND t.deadline < ? "
        "ORDER BY t.deadline, t.id", [officer_id, first, after])]
    return _with_flags(db, rows)
