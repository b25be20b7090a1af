"""The organisation as read: units, officers and counters, the unit tree, one record to edit.

Each function takes a reader connection (or the writer's, inside its transaction) and returns
plain dicts; no arithmetic is left for templates. Reads only.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, Iterable

import sqlite_utils

from collector.core.collation import name_key, person_key
from collector.db.store import now_ms

# Which roster shift is current at :at (corrections applied). It lives here, at the floor of
# every read that names the officer on duty: counters and devices below (org), assignments and
# shifts above (collector/roster/duty.py), the fleet's timelines (collector/fleet/status.py).
ON_DUTY = ("r.replaced_at IS NULL AND r.starts_at <= :at "
           "AND (r.ends_at IS NULL OR r.ends_at > :at)")


# Sort keys remembered by name: a province's list of 150,000 officers is sorted on every
# front page, and a name's key never changes (ICU's, a pure function of the text; issue 13).
unit_name_key = lru_cache(maxsize=1 << 14)(name_key)
person_name_key = lru_cache(maxsize=1 << 18)(person_key)


def officer_order(row: dict[str, Any]) -> tuple[bytes, tuple[bytes, bytes], str]:
    """The order of officers in every list of them: unit name, then person (given name first),
    in Vietnamese order, then id; `row` has `unit_name`, `name` and `id`."""
    return unit_name_key(row["unit_name"]), person_name_key(row["name"]), row["id"]


def list_officers(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Every officer with their unit, by unit name then person, in Vietnamese order (sorted
    here: SQLite's ORDER BY compares code points and puts "Đ" after "Z")."""
    rows = [dict(row) for row in db.query(
        "SELECT o.id, o.name, o.title, o.unit_id, u.name AS unit_name FROM officers o "
        "LEFT JOIN units u ON u.id = o.unit_id")]
    return sorted(rows, key=officer_order)


def get_officer(db: sqlite_utils.Database, officer_id: str) -> dict[str, Any] | None:
    rows = list(db.query(
        "SELECT o.id, o.name, o.title, o.unit_id, u.name AS unit_name FROM officers o "
        "LEFT JOIN units u ON u.id = o.unit_id WHERE o.id = ?", [officer_id]))
    return rows[0] if rows else None


def get_unit(db: sqlite_utils.Database, unit_id: str) -> dict[str, Any] | None:
    rows = list(db.query("SELECT id, name, parent_id FROM units WHERE id = ?", [unit_id]))
    return rows[0] if rows else None


def get_counter(db: sqlite_utils.Database, counter_id: str) -> dict[str, Any] | None:
    rows = list(db.query("SELECT id, label, unit_id FROM counters WHERE id = ?", [counter_id]))
    return rows[0] if rows else None


_ORG_COLUMNS = {
    "units": "id, name, parent_id, kind, head_id, outstanding",
    "officers": "id, name, title, unit_id, leader_id, photo, active_from, active_to, "
                "post_group",
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


def list_units(db: sqlite_utils.Database, *, counts: bool = True) -> list[dict[str, Any]]:
    """Every unit with its head's name and how many officers and counters it has (without
    `counts`: not counted, for a selector of a province's thousands of units), by name in
    Vietnamese order (then id)."""
    counted = ("(SELECT count(*) FROM officers o WHERE o.unit_id = u.id) AS officers, "
               "(SELECT count(*) FROM counters c WHERE c.unit_id = u.id) AS counters "
               if counts else "NULL AS officers, NULL AS counters ")
    rows = [{**dict(row), "outstanding": bool(row["outstanding"])} for row in db.query(
        "SELECT u.id, u.name, u.parent_id, u.kind, u.head_id, h.name AS head_name, "
        f"u.outstanding, {counted}FROM units u LEFT JOIN officers h ON h.id = u.head_id")]
    return sorted(rows, key=lambda r: (unit_name_key(r["name"]), r["id"]))


def unit_tree(db: sqlite_utils.Database, *, counts: bool = True) -> list[dict[str, Any]]:
    """The units as a forest: each unit of `list_units` with `children`, roots first. A unit
    whose parent is missing (or that sits in a loop) is shown as a root, never dropped."""
    units = {unit["id"]: {**unit, "children": []} for unit in list_units(db, counts=counts)}
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
    """The officers whose unit is `unit_id`, by person in Vietnamese order (then id)."""
    rows = [dict(row) for row in db.query(
        "SELECT id, name, title, leader_id, active_from, active_to FROM officers "
        "WHERE unit_id = ?", [unit_id])]
    return sorted(rows, key=lambda r: (person_key(r["name"]), r["id"]))


def officers_within(db: sqlite_utils.Database, units: Iterable[str],
                    officers: Iterable[str] = ()) -> list[dict[str, Any]]:
    """`list_officers` within a scope: the officers of these units and these officers
    whatever their unit, in the same order; read by index (officers_unit), not by a scan of
    every officer (issue 13)."""
    rows = [dict(row) for row in db.query(
        "SELECT o.id, o.name, o.title, o.unit_id, u.name AS unit_name FROM officers o "
        "LEFT JOIN units u ON u.id = o.unit_id "
        "WHERE o.unit_id IN (SELECT value FROM json_each(?)) "
        "OR o.id IN (SELECT value FROM json_each(?))",
        [json.dumps(sorted(set(units))), json.dumps(sorted(set(officers)))])]
    return sorted(rows, key=officer_order)


def officer_names(db: sqlite_utils.Database, officer_ids: Iterable[str]) -> dict[str, str]:
    """id → name of these officers (ids that name no officer are left out): a page names the
    few people it shows without reading the whole province's list."""
    return {row[0]: row[1] for row in db.execute(
        "SELECT id, name FROM officers WHERE id IN (SELECT value FROM json_each(?))",
        [json.dumps(sorted(set(officer_ids)))])}
