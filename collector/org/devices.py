"""The device registry as read: devices, their status and credentials, the broker's accounts.

Never selects a password hash, except `broker_accounts` (for the broker's password file) and
`device_password_hash` (for verification only). Reads only.
"""

from __future__ import annotations

from typing import Any

import sqlite_utils

from collector.db.store import now_ms
from collector.org.directory import ON_DUTY

_REGISTRY_SELECT = (
    "SELECT d.id, d.counter_id, c.label AS counter_label, c.unit_id, u.name AS unit_name, "
    "d.scale, d.registered_at, d.retired_at, k.issued_at AS credentials_issued_at, "
    "s.state, s.fw, s.last_seen, (SELECT p.starts_at FROM device_placements p "
    "WHERE p.device_id = d.id AND p.ends_at IS NULL) AS placed_from FROM devices d "
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


def list_devices(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    return [dict(row) for row in db.query(
        "SELECT d.id, d.counter_id, c.label AS counter_label, d.scale, d.retired_at, "
        "s.state, s.fw, s.boot, s.uptime_ms, s.mem_free, s.rssi, s.queue, s.filtered, "
        "s.dropped, s.ignored, s.status_at, s.last_seen FROM devices d "
        "LEFT JOIN counters c ON c.id = d.counter_id "
        "LEFT JOIN device_status s ON s.device_id = d.id ORDER BY d.id")]


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
