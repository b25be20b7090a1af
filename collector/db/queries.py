"""Read-only queries behind the API and the dashboard.

Each function takes a reader connection and returns plain dicts or the pure summaries of
`satisfaction`; no arithmetic is left for templates. Readers never write.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlite_utils

from collector.ratings.satisfaction import SatisfactionSummary, summarise
from collector.db.store import connect, now_ms
from collector.core.timeline import month_bounds
from collector.org.unit_history import device_units_ever, unit_at_sql  # noqa: F401  (the API's reads)


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


def _within(units: frozenset[str] | None, device: str, at: str) -> tuple[str, list[str]]:
    """A WHERE term keeping rows whose unit at the time (collector/org/unit_history.py) is in
    `units` (None: no limit)."""
    if units is None:
        return "", []
    marks = ", ".join("?" * len(units)) or "NULL"
    return f"{unit_at_sql(device, at)} IN ({marks})", sorted(units)


def recent_ratings(db: sqlite_utils.Database, *, device_id: str | None = None,
                   officer_id: str | None = None, limit: int = 50,
                   units: frozenset[str] | None = None) -> list[dict[str, Any]]:
    """The latest received ratings, newest first, of a device and/or an officer; `units`
    keeps those pressed while their counter belonged to one of these units."""
    where, params = [], []
    if device_id:
        where.append("device_id = ?")
        params.append(device_id)
    if officer_id:
        where.append("officer_id = ?")
        params.append(officer_id)
    term, unit_params = _within(units, "ratings.device_id", "ratings.pressed_at")
    if term:
        where.append(term)
        params += unit_params
    clause = ("WHERE " + " AND ".join(where)) if where else ""
    return [dict(row) for row in db.query(
        f"SELECT * FROM ratings {clause} ORDER BY received_at DESC, id DESC LIMIT ?",
        [*params, limit])]


def recent_rejections(db: sqlite_utils.Database, limit: int = 50, *,
                      units: frozenset[str] | None = None) -> list[dict[str, Any]]:
    """The latest rejected messages, newest first; `units` keeps those of devices that stood
    at a counter of one of these units when the message arrived."""
    term, params = _within(units, "rejected.device_id", "rejected.received_at")
    clause = f"WHERE {term} " if term else ""
    rows = []
    for row in db.query("SELECT id, received_at, topic, device_id, reason, payload FROM rejected "
                        f"{clause}ORDER BY id DESC LIMIT ?", [*params, limit]):
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


# --- organisation and roster ---------------------------------------------------------------

_ORG_COLUMNS = {
    "units": "id, name, parent_id, kind, head_id, outstanding",
    "officers": "id, name, title, unit_id, leader_id, photo, active_from, active_to",
    "counters": "id, label, unit_id",
}


def org_record(db: sqlite_utils.Database, table: str, key: str) -> dict[str, Any] | None:
    """One stored unit, officer or counter with every column the organisation edits."""
    rows = list(db.query(f"SELECT {_ORG_COLUMNS[table]} FROM [{table}] WHERE id = ?", [key]))
    if not rows:
        return None
    row = dict(rows[0])
    if table == "units":
        row["outstanding"] = bool(row["outstanding"])
    return row


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


def list_units(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Every unit with its head's name and how many officers and counters it has, by id
    (SQLite's binary order of Vietnamese names would put Đ after Z)."""
    return [{**dict(row), "outstanding": bool(row["outstanding"])} for row in db.query(
        "SELECT u.id, u.name, u.parent_id, u.kind, u.head_id, h.name AS head_name, "
        "u.outstanding, (SELECT count(*) FROM officers o WHERE o.unit_id = u.id) AS officers, "
        "(SELECT count(*) FROM counters c WHERE c.unit_id = u.id) AS counters "
        "FROM units u LEFT JOIN officers h ON h.id = u.head_id ORDER BY u.id")]


def unit_tree(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """The units as a forest: each unit of `list_units` with `children`, roots first. A unit
    whose parent is missing (or that sits in a loop) is shown as a root, never dropped."""
    units = {unit["id"]: {**unit, "children": []} for unit in list_units(db)}
    roots = []
    for unit in units.values():
        parent = units.get(unit["parent_id"])
        if parent is None or _in_loop(units, unit["id"]):
            roots.append(unit)
        else:
            parent["children"].append(unit)
    return roots


def _in_loop(units: dict[str, dict[str, Any]], unit_id: str) -> bool:
    seen, current = set(), units[unit_id]["parent_id"]
    while current in units and current not in seen:
        if current == unit_id:
            return True
        seen.add(current)
        current = units[current]["parent_id"]
    return False


def list_counters(db: sqlite_utils.Database, at: int | None = None) -> list[dict[str, Any]]:
    """Every counter with its unit, the active devices placed there and the officer on duty
    at `at` (default now)."""
    at = now_ms() if at is None else at
    counters = [dict(row) for row in db.query(
        "SELECT c.id, c.label, c.unit_id, u.name AS unit_name, r.id AS shift_id, "
        "r.officer_id, o.name AS officer_name FROM counters c "
        "LEFT JOIN units u ON u.id = c.unit_id "
        f"LEFT JOIN roster_shifts r ON r.counter_id = c.id AND {ON_DUTY} "
        "LEFT JOIN officers o ON o.id = r.officer_id GROUP BY c.id ORDER BY c.unit_id, c.id",
        {"at": at})]
    devices: dict[str, list[str]] = {}
    for device_id, counter_id in db.execute(
            "SELECT id, counter_id FROM devices WHERE retired_at IS NULL ORDER BY id"):
        devices.setdefault(counter_id, []).append(device_id)
    for counter in counters:
        counter["devices"] = devices.get(counter["id"], [])
    return counters


def unit_officers(db: sqlite_utils.Database, unit_id: str) -> list[dict[str, Any]]:
    """The officers whose unit is `unit_id`, by id."""
    return [dict(row) for row in db.query(
        "SELECT id, name, title, leader_id, active_from, active_to FROM officers "
        "WHERE unit_id = ? ORDER BY id", [unit_id])]


# --- monthly evidence -----------------------------------------------------------------------
# Bulk reads behind collector/evaluation/month.py and collector/evaluation/year.py: one query per kind of
# evidence for a whole set of officers, so a unit's month costs a handful of queries rather
# than a handful per officer. Id sets go in chunks (SQLite caps a statement's parameters).
# Names start with `evidence_` so they cannot clash with other sections of this module.

from collections.abc import Iterable, Iterator  # noqa: E402  (section-local import)

_EVIDENCE_CHUNK = 500


def _evidence_chunks(ids: Iterable[str]) -> Iterator[tuple[list[str], str]]:
    """(chunk, "?, ?, …") pairs over the sorted distinct ids."""
    ordered = sorted(set(ids))
    for i in range(0, len(ordered), _EVIDENCE_CHUNK):
        chunk = ordered[i:i + _EVIDENCE_CHUNK]
        yield chunk, ", ".join("?" * len(chunk))


def evidence_officer(db: sqlite_utils.Database, officer_id: str) -> dict[str, Any] | None:
    """An officer with their unit, direct leader and active dates."""
    rows = evidence_officers_by_id(db, [officer_id])
    return rows.get(officer_id)


_EVIDENCE_OFFICER_SELECT = (
    "SELECT o.id, o.name, o.title, o.unit_id, u.name AS unit_name, o.leader_id, "
    "l.name AS leader_name, o.active_from, o.active_to FROM officers o "
    "LEFT JOIN units u ON u.id = o.unit_id LEFT JOIN officers l ON l.id = o.leader_id ")


def evidence_officers_by_id(db: sqlite_utils.Database,
                            officer_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    out = {}
    for chunk, marks in _evidence_chunks(officer_ids):
        for row in db.query(_EVIDENCE_OFFICER_SELECT + f"WHERE o.id IN ({marks})", chunk):
            out[row["id"]] = row
    return out


def evidence_officers(db: sqlite_utils.Database, unit_ids: Iterable[str], first_day: str,
                      last_day: str) -> list[dict[str, Any]]:
    """Officers of these units active at some time between two local ISO dates (inclusive;
    NULL active dates are open), by unit name then officer name."""
    rows: list[dict[str, Any]] = []
    for chunk, marks in _evidence_chunks(unit_ids):
        rows.extend(db.query(
            _EVIDENCE_OFFICER_SELECT + f"WHERE o.unit_id IN ({marks}) "
            "AND (o.active_from IS NULL OR o.active_from <= ?) "
            "AND (o.active_to IS NULL OR o.active_to >= ?)", [*chunk, last_day, first_day]))
    return sorted(rows, key=lambda r: (r["unit_name"] or "", r["name"], r["id"]))


def evidence_unit(db: sqlite_utils.Database, unit_id: str) -> dict[str, Any] | None:
    """A unit with its kind, head (id and name) and whether it is recognised outstanding."""
    rows = list(db.query(
        "SELECT u.id, u.name, u.parent_id, u.kind, u.head_id, h.name AS head_name, "
        "u.outstanding FROM units u LEFT JOIN officers h ON h.id = u.head_id WHERE u.id = ?",
        [unit_id]))
    return rows[0] if rows else None


def evidence_root_units(db: sqlite_utils.Database) -> list[str]:
    """Units at the top of the tree: no parent, or a parent that is not stored."""
    return [row[0] for row in db.execute(
        "SELECT u.id FROM units u LEFT JOIN units p ON p.id = u.parent_id "
        "WHERE p.id IS NULL ORDER BY u.id")]


def evidence_counters(db: sqlite_utils.Database,
                      counter_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    out = {}
    for chunk, marks in _evidence_chunks(counter_ids):
        for row in db.query("SELECT c.id, c.label, c.unit_id, u.name AS unit_name FROM counters c "
                            f"LEFT JOIN units u ON u.id = c.unit_id WHERE c.id IN ({marks})",
                            chunk):
            out[row["id"]] = row
    return out


def evidence_presses(db: sqlite_utils.Database, officer_ids: Iterable[str],
                     month: str) -> dict[str, list[tuple]]:
    """Presses attributed to each officer in the local month, filtered ones included, counted
    by kind: officer → [(scale, level, excluded, reason, attribution, count)]. Grouping in
    SQL keeps a busy month to a few dozen rows per officer instead of one per press."""
    start, end = month_bounds(month)
    out: dict[str, list[tuple]] = {}
    for chunk, marks in _evidence_chunks(officer_ids):
        for row in db.execute(
                "SELECT officer_id, scale, level, excluded, reason, attribution, count(*) "
                f"FROM ratings WHERE officer_id IN ({marks}) AND pressed_at >= ? "
                "AND pressed_at < ? GROUP BY officer_id, scale, level, excluded, reason, "
                "attribution", [*chunk, start, end]):
            out.setdefault(row[0], []).append(tuple(row[1:]))
    return out


def evidence_shifts(db: sqlite_utils.Database, officer_ids: Iterable[str],
                    month: str) -> dict[str, list[tuple[str, int, int | None]]]:
    """Each officer's current roster shifts (corrections applied) overlapping the month:
    officer → [(counter, starts_at, ends_at | None)], in time order."""
    start, end = month_bounds(month)
    out: dict[str, list[tuple[str, int, int | None]]] = {}
    for chunk, marks in _evidence_chunks(officer_ids):
        for officer_id, counter, starts_at, ends_at in db.execute(
                "SELECT officer_id, counter_id, starts_at, ends_at FROM roster_shifts "
                f"WHERE officer_id IN ({marks}) AND replaced_at IS NULL "
                "AND starts_at < ? AND (ends_at IS NULL OR ends_at > ?) "
                "ORDER BY starts_at, id", [*chunk, end, start]):
            out.setdefault(officer_id, []).append((counter, starts_at, ends_at))
    return out


def evidence_online_spans(db: sqlite_utils.Database, counter_ids: Iterable[str], month: str,
                          max_silence_ms: int) -> list[dict[str, Any]]:
    """Online spans of the devices placed at these counters that may overlap both the
    placement and the month: one row per (placement, span) pair, with both.

    An open span (ended_at NULL) can last at most until last_seen_at + max_silence_ms; whether
    it is still open "now" is for the caller, who knows the clock.
    """
    start, end = month_bounds(month)
    rows: list[dict[str, Any]] = []
    for chunk, marks in _evidence_chunks(counter_ids):
        rows.extend(db.query(
            "SELECT p.counter_id, p.device_id, p.starts_at AS placed_at, p.ends_at AS removed_at, "
            "s.starts_at, s.last_seen_at, s.ended_at FROM device_placements p "
            "JOIN device_online_spans s ON s.device_id = p.device_id "
            f"WHERE p.counter_id IN ({marks}) "
            "AND p.starts_at < ? AND (p.ends_at IS NULL OR p.ends_at > ?) "
            "AND s.starts_at < ? AND COALESCE(s.ended_at, s.last_seen_at + ?) > ? "
            "ORDER BY p.counter_id, s.starts_at",
            [*chunk, end, start, end, max_silence_ms, start]))
    return rows


_EVIDENCE_EVALUATION_SELECT = (
    "SELECT e.*, r.name AS reviewed_by_name, d.name AS decided_by_name FROM evaluations e "
    "LEFT JOIN officers r ON r.id = e.reviewed_by LEFT JOIN officers d ON d.id = e.decided_by ")


def evidence_evaluations(db: sqlite_utils.Database, officer_ids: Iterable[str],
                         month: str) -> dict[str, dict[str, Any]]:
    """The workflow row of each officer for the month (JSON columns left as text)."""
    out = {}
    for chunk, marks in _evidence_chunks(officer_ids):
        for row in db.query(_EVIDENCE_EVALUATION_SELECT +
                            f"WHERE e.officer_id IN ({marks}) AND e.month = ?", [*chunk, month]):
            out[row["officer_id"]] = row
    return out


def evidence_evaluation_events(db: sqlite_utils.Database, officer_id: str,
                               month: str) -> list[dict[str, Any]]:
    """The officer-month's workflow history, oldest first, with the actor's name."""
    return [dict(row) for row in db.query(
        "SELECT ev.id, ev.step, ev.actor, o.name AS actor_name, ev.at, ev.data "
        "FROM evaluation_events ev LEFT JOIN officers o ON o.id = ev.actor "
        "WHERE ev.officer_id = ? AND ev.month = ? ORDER BY ev.id", [officer_id, month])]


def evidence_year_evaluations(db: sqlite_utils.Database, officer_ids: Iterable[str],
                              year: int) -> dict[str, list[dict[str, Any]]]:
    """Each officer's workflow rows of a calendar year, by month: officer → rows."""
    out: dict[str, list[dict[str, Any]]] = {}
    for chunk, marks in _evidence_chunks(officer_ids):
        for row in db.query(
                "SELECT e.officer_id, e.month, e.final_grade, e.final_score, e.disciplined, "
                "e.decided_by, d.name AS decided_by_name, e.decided_at FROM evaluations e "
                "LEFT JOIN officers d ON d.id = e.decided_by "
                f"WHERE e.officer_id IN ({marks}) AND e.month >= ? AND e.month <= ? "
                "ORDER BY e.month", [*chunk, f"{year:04d}-01", f"{year:04d}-12"]):
            out.setdefault(row["officer_id"], []).append(row)
    return out


# --- evaluations ----------------------------------------------------------------------------
# Reads behind collector/evaluation/workflow/steps.py (the self → leader → head workflow). The writer calls
# them on its own connection inside its transaction; the API on a reader. Names start with
# `evaluation_` so they cannot clash with other sections of this module.

import json as _evaluation_json  # noqa: E402  (section-local import)

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
            row[column] = _evaluation_json.loads(row[column])
    row["disciplined"] = bool(row["disciplined"])
    return row


def evaluation_history(db: sqlite_utils.Database, officer_id: str,
                       month: str) -> list[dict[str, Any]]:
    """Every step taken on the officer-month, oldest first, data decoded."""
    return [{**dict(row), "data": _evaluation_json.loads(row["data"])} for row in db.query(
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
