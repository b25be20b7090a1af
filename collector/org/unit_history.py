"""The unit evidence belonged to when it was recorded (issue 10).

A rating belongs to the unit of the counter its device stood at when it was pressed, a
rejected message to the unit of the device's counter when it arrived, an alert to its counter's
unit when the burst began: moving a device to another counter, or a counter to another unit,
does not hand its past to the new unit. Device history: device_placements; counter history:
counter_units (kept by triggers, schema scope_0001). Both are half-open [starts_at, ends_at).
Reads only.
"""

from __future__ import annotations

import sqlite_utils


def unit_at_sql(device: str, at: str) -> str:
    """A scalar subquery: the unit of the counter device `device` stood at, at time `at`
    (both SQL expressions, e.g. "r.device_id", "r.pressed_at"); NULL when unplaced."""
    return ("(SELECT cu.unit_id FROM device_placements p JOIN counter_units cu "
            f"ON cu.counter_id = p.counter_id AND cu.starts_at <= {at} "
            f"AND (cu.ends_at IS NULL OR cu.ends_at > {at}) WHERE p.device_id = {device} "
            f"AND p.starts_at <= {at} AND (p.ends_at IS NULL OR p.ends_at > {at}) "
            "ORDER BY p.starts_at DESC LIMIT 1)")


def counter_unit_at(db: sqlite_utils.Database, counter_id: str, at: int) -> str | None:
    """The unit the counter belonged to at `at`; its unit now if its history says nothing."""
    row = db.execute("SELECT unit_id FROM counter_units WHERE counter_id = ? AND starts_at <= ? "
                     "AND (ends_at IS NULL OR ends_at > ?) ORDER BY starts_at DESC LIMIT 1",
                     [counter_id, at, at]).fetchone()
    if row is None:
        row = db.execute("SELECT unit_id FROM counters WHERE id = ?", [counter_id]).fetchone()
    return row[0] if row else None


def device_units_ever(db: sqlite_utils.Database, device_id: str) -> set[str]:
    """Every unit whose counters the device ever stood at (while they were that unit's)."""
    return {row[0] for row in db.execute(
        "SELECT DISTINCT cu.unit_id FROM device_placements p JOIN counter_units cu "
        "ON cu.counter_id = p.counter_id AND cu.starts_at < COALESCE(p.ends_at, 9e18) "
        "AND (cu.ends_at IS NULL OR cu.ends_at > p.starts_at) WHERE p.device_id = ?",
        [device_id])}
