"""The attribution rule: whose rating a press is, and deciding it again after a roster change.

`attribute` is the one rule. The ingest calls it for every rating it stores
(collector/ingest/recording.py), with the officer the device showed; the roster service calls
`reattribute` after every change of the past (collector/roster/shifts.py), which applies the
same rule to the ratings the change can reach, without the officer shown: the device showed
whoever the mistaken roster named. This module is the only one that changes a stored rating's
`officer_id` and `attribution`; the ingest inserts them.
"""

from __future__ import annotations

import json
from collections import Counter

import sqlite_utils

from collector.protocol.messages import TS_MAX_MS

NOBODY = "—"    # the officer side of a move to or from no officer, in the audit entry

Window = tuple[str, int, "int | None"]  # counter, start, end (None: open)


def attribute(db: sqlite_utils.Database, device_id: str, pressed_at: int,
              officer_shown: str | None) -> tuple[str | None, str]:
    """Who a press belongs to: (officer or None, "roster" | "device" | "none").

    The roster decides: the officer on duty at the counter the device stood at when pressed.
    Where the roster names nobody, the officer the device showed (if they exist) is kept,
    marked "device", so a leader can tell a press the roster vouches for from one it does not.
    """
    row = db.execute(ON_DUTY.format(device="?", at="?"),
                     [device_id, pressed_at, pressed_at, pressed_at, pressed_at]).fetchone()
    if row:
        return row[0], "roster"
    if officer_shown and db.execute("SELECT 1 FROM officers WHERE id = ?",
                                    [officer_shown]).fetchone():
        return officer_shown, "device"
    return None, "none"


# The rule's query: the officer on duty at the counter where device {device} stood at time
# {at} (both SQL expressions). One text for `attribute` and `attribute_many`.
ON_DUTY = ("SELECT r.officer_id FROM device_placements p JOIN roster_shifts r "
           "ON r.counter_id = p.counter_id WHERE p.device_id = {device} "
           "AND p.starts_at <= {at} AND (p.ends_at IS NULL OR p.ends_at > {at}) "
           "AND r.replaced_at IS NULL AND r.starts_at <= {at} "
           "AND (r.ends_at IS NULL OR r.ends_at > {at}) ORDER BY r.starts_at DESC LIMIT 1")


def attribute_many(db: sqlite_utils.Database, presses: list[tuple[str, int, str | None]]
                   ) -> list[tuple[str | None, str]]:
    """`attribute` for each of `presses` (device, pressed_at, officer shown), in order, in one
    statement: the ingest attributes a batch without a query per rating."""
    if not presses:
        return []
    rows = db.execute(
        "WITH presses(i, device_id, at, shown) AS (SELECT key, json_extract(value, '$[0]'), "
        "json_extract(value, '$[1]'), json_extract(value, '$[2]') FROM json_each(?)) "
        f"SELECT ({ON_DUTY.format(device='presses.device_id', at='presses.at')}), "
        "EXISTS (SELECT 1 FROM officers WHERE id = presses.shown) FROM presses ORDER BY i",
        [json.dumps(presses)]).fetchall()
    # officer_id is NOT NULL in roster_shifts: NULL is "nobody on duty".
    return [(officer, "roster") if officer is not None
            else (shown, "device") if shown and known else (None, "none")
            for (officer, known), (_, _, shown) in zip(rows, presses)]


def reattribute(db: sqlite_utils.Database, windows: list[Window], *,
                device_id: str | None = None) -> dict[str, int]:
    """Decide again, by `attribute` on the roster alone (no officer shown), every rating
    pressed within a window on a device placed at the window's counter at that time (only
    `device_id`'s when given: a device moved, the counter's roster did not change, so the
    other boards' ratings stay as they are), and update those that change. The caller holds
    the write transaction (a roster change, a device's move).
    Returns the moves per "from→to" officer pair (ratings whose officer stays the same are
    not counted)."""
    candidates: dict[str, tuple] = {}
    for counter_id, start, end in windows:
        for row in db.execute(
                "SELECT r.id, r.device_id, r.pressed_at, r.officer_id, "
                "r.attribution FROM device_placements p JOIN ratings r "
                "ON r.device_id = p.device_id AND r.pressed_at >= p.starts_at "
                "AND (p.ends_at IS NULL OR r.pressed_at < p.ends_at) "
                "WHERE p.counter_id = ? AND r.pressed_at >= ? AND r.pressed_at < ? "
                "AND (? IS NULL OR p.device_id = ?)",
                [counter_id, start, TS_MAX_MS if end is None else end, device_id,
                 device_id]).fetchall():
            candidates[row[0]] = tuple(row[1:])
    moves: Counter[str] = Counter()
    for rating_id, (device_id, pressed_at, officer, how) in candidates.items():
        new_officer, new_how = attribute(db, device_id, pressed_at, None)
        if (new_officer, new_how) == (officer, how):
            continue
        db.execute("UPDATE ratings SET officer_id = ?, attribution = ? WHERE id = ?",
                   [new_officer, new_how, rating_id])
        if new_officer != officer:
            moves[f"{officer or NOBODY}→{new_officer or NOBODY}"] += 1
    return dict(sorted(moves.items()))


def moved_officers(moves: dict[str, int]) -> set[str]:
    """Every officer a `reattribute` result takes ratings from or gives them to."""
    return {name for pair in moves for name in pair.split("→") if name != NOBODY}
