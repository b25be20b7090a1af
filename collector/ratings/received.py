"""What the collector received: the ingest's totals, the latest ratings, the rejected messages,
and when it was receiving at all.

`units` limits (an account's scope) keep the rows of the unit their device stood in at the
time (collector/org/unit_history.py), never the unit it stands in now. Reads only.
"""

from __future__ import annotations

from typing import Any

import sqlite_utils

from collector.org.unit_history import unit_at_sql
from collector.ratings.evidence import receiving_intervals


def totals(db: sqlite_utils.Database) -> dict[str, int]:
    counts = {"stored": 0, "duplicate": 0, "rejected": 0}
    counts.update({row[0]: row[1] for row in
                   db.execute("SELECT name, value FROM ingest_totals").fetchall()})
    return counts


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


def receiving_times(db: sqlite_utils.Database, start: int, end: int,
                    now_ms: int) -> list[tuple] | None:
    """When the collector itself was receiving within [start, end), as
    evidence.receiving_intervals gives it (None: no record kept yet, all received). Table
    ingest_receiving, written by the ingest (collector/ingest/recording.py)."""
    first = db.execute("SELECT min(started_at) FROM ingest_receiving").fetchone()[0]
    if first is None:
        return None
    rows = db.execute("SELECT started_at, last_alive_at, ended_at FROM ingest_receiving "
                      "WHERE started_at < ? AND COALESCE(ended_at, max(last_alive_at, ?)) > ? "
                      "ORDER BY started_at", [end, now_ms, start]).fetchall()
    return receiving_intervals(rows, first, now_ms)
