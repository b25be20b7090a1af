"""Counter alerts of the second kind: the device at a counter offline during a roster shift.

Issue 12, item 3: an officer rated poorly must not gain by unplugging the device, so the
unit's leaders are told while it happens. The shift watch (collector/ingest/offline_watch.py)
judges each roster shift by the policy's `[offline] alert_minutes` (collector/evaluation/
rules/offline.py) and raises or updates the alert here; leaders see, acknowledge and annotate
it with the burst alerts' machinery (alert_records.py: the same table, `kind`
'device_offline').

- One alert per shift: `shift_id` names it, a unique index (schema offline_0001) holds it,
  and a shift corrected in the roster (a new row replacing the old) keeps the alert raised
  for the shift it replaced (`raised_for_shifts` follows `replaced_by`); while the alert is
  open it follows the correction: its officer, times, minutes, and counter with the counter's
  unit at the shift's start (`update_alert`).
- A shift cancelled in the roster (replaced_at set, replaced_by NULL) leaves its open alert
  open and as it was, marked "cancelled" (`shift_cancelled`, and its message says so): the
  device was offline all the same, and a leader, not the watch, decides it is nothing to
  follow up — an alert closed by no one would vanish from their list unseen. The watch
  points the alert at the cancelled row when the cancellation came after corrections it had
  not followed yet (`follow_cancellations`).
- The alert covers the shift from its start (`first_at`) to its end, or to the check while
  it runs (`last_at`), names the officer on the roster and the counter's unit at the shift's
  start (counter_units), and says how many minutes no device was online at the counter,
  `offline_minutes`, unplaced time included. `ratings` and `negative` are 0: it is about
  missing ratings, not bad ones. `rule` keeps the rule that raised it.

Writes run inside the caller's write transaction (the watch's, with its mark).
"""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from collector.core.timeline import local_datetime

KIND = "device_offline"


def raised_for_shifts(db: sqlite_utils.Database, shift_ids: list[int]
                      ) -> dict[int, tuple[int, int | None, bool]]:
    """shift id → (alert id, minutes, acknowledged) of the alert raised for that shift or for
    a shift it was corrected from (roster_shifts.replaced_by, followed back), for those of
    `shift_ids` that have one. One query, however many shifts a round judges."""
    raised: dict[int, tuple[int, int | None, bool]] = {}
    for root, alert_id, minutes, acknowledged in db.execute(
            "WITH RECURSIVE chain(root, id) AS (SELECT value, value FROM json_each(?) "
            "UNION SELECT c.root, r.id FROM roster_shifts r JOIN chain c "
            "ON r.replaced_by = c.id) "
            "SELECT c.root, a.id, a.offline_minutes, a.acknowledged_at IS NOT NULL "
            "FROM chain c JOIN alerts a ON a.shift_id = c.id AND a.kind = ? ORDER BY a.id",
            [json.dumps(list(shift_ids)), KIND]):
        raised[root] = (alert_id, minutes, bool(acknowledged))  # the latest, if ever two
    return raised


def corrected_shifts(db: sqlite_utils.Database) -> list[int]:
    """Shift rows that replaced, directly or through later corrections, the shift an OPEN
    offline alert names: the watch judges them again whenever they ended, so the alert
    follows a roster correction made after its shift was judged (its officer, its times).
    An acknowledged alert stays as the leader saw it."""
    return [row[0] for row in db.execute(
        "WITH RECURSIVE later(id) AS (SELECT r.replaced_by FROM alerts a "
        "JOIN roster_shifts r ON r.id = a.shift_id WHERE a.kind = ? "
        "AND a.acknowledged_at IS NULL AND r.replaced_by IS NOT NULL "
        "UNION SELECT r.replaced_by FROM roster_shifts r JOIN later ON r.id = later.id "
        "WHERE r.replaced_by IS NOT NULL) SELECT id FROM later", [KIND])]


def raise_alert(db: sqlite_utils.Database, *, counter_id: str, unit_id: str | None,
                officer_id: str | None, shift_id: int, first_at: int, last_at: int,
                minutes: int, rule: dict[str, Any], now: int) -> int:
    """Insert the alert of one shift; returns its id."""
    return db.execute(
        "INSERT INTO alerts (counter_id, unit_id, officer_id, kind, first_at, last_at, "
        "ratings, negative, rule, raised_at, shift_id, offline_minutes) "
        "VALUES (?, ?, ?, ?, ?, ?, 0, 0, ?, ?, ?, ?)",
        [counter_id, unit_id, officer_id, KIND, first_at, last_at,
         json.dumps(rule, sort_keys=True), now, shift_id, minutes]).lastrowid


def update_alert(db: sqlite_utils.Database, alert_id: int, *, shift_id: int,
                 counter_id: str, unit_id: str | None, officer_id: str | None, first_at: int,
                 last_at: int, minutes: int) -> None:
    """An open alert follows its shift: the minutes so far (or in all, once it ended), its
    end, and after a roster correction the shift row now current, its counter and that
    counter's unit at the shift's start (the leaders who see it), its officer and start."""
    db.execute("UPDATE alerts SET shift_id = ?, counter_id = ?, unit_id = ?, officer_id = ?, "
               "first_at = ?, last_at = ?, offline_minutes = ? WHERE id = ?",
               [shift_id, counter_id, unit_id, officer_id, first_at, last_at, minutes,
                alert_id])


def follow_cancellations(db: sqlite_utils.Database) -> list[int]:
    """Point each open alert whose shift, followed through its corrections, ends in a
    cancelled row (replaced_at set, replaced_by NULL) at that row, so that it reads
    "cancelled"; nothing else of it changes. Only alerts naming a corrected row are walked:
    the watch keeps the others on the current row. Returns the alerts changed."""
    rows = db.execute(
        "WITH RECURSIVE chain(alert_id, id) AS (SELECT a.id, r.replaced_by FROM alerts a "
        "JOIN roster_shifts r ON r.id = a.shift_id WHERE a.kind = ? "
        "AND a.acknowledged_at IS NULL AND r.replaced_by IS NOT NULL "
        "UNION SELECT c.alert_id, r.replaced_by FROM chain c JOIN roster_shifts r "
        "ON r.id = c.id WHERE r.replaced_by IS NOT NULL) "
        "SELECT c.alert_id, c.id FROM chain c JOIN roster_shifts r ON r.id = c.id "
        "WHERE r.replaced_at IS NOT NULL AND r.replaced_by IS NULL", [KIND]).fetchall()
    for alert_id, shift_id in rows:
        db.execute("UPDATE alerts SET shift_id = ? WHERE id = ?", [shift_id, alert_id])
    return [alert_id for alert_id, _ in rows]


# --- as read (collector/ratings/alert_records.py) --------------------------------------------

def _times(first_at: int, last_at: int) -> tuple[str, str]:
    start, end = local_datetime(first_at), local_datetime(last_at)
    if start.date() == end.date():
        return (f"{start:%H:%M}–{end:%H:%M} ngày {start:%d/%m/%Y}",
                f"{start:%H:%M}–{end:%H:%M}, {start:%Y-%m-%d}")
    return (f"{start:%H:%M} ngày {start:%d/%m/%Y} – {end:%H:%M} ngày {end:%d/%m/%Y}",
            f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M}")


def message(row: dict[str, Any]) -> dict[str, str]:
    """What the alert says, in Vietnamese and English."""
    # A label usually names the counter already ("Quầy 1"): quoted as it is, never after
    # the word "quầy" again; a bare code is introduced by it.
    label = row.get("counter_label")
    at_vi = f"«{label}»" if label else f"quầy {row['counter_id']}"
    at_en = f"“{label}”" if label else f"counter {row['counter_id']}"
    officer = row.get("officer_name") or row.get("officer_id")
    minutes = row.get("offline_minutes") or 0
    vi_time, en_time = _times(row["first_at"], row["last_at"])
    cancelled = (("; ca trực này sau đó đã bị hủy trong lịch trực",
                  "; this shift was later cancelled in the roster")
                 if row.get("shift_cancelled") else ("", ""))
    if officer:
        return {"vi": f"Thiết bị tại {at_vi} mất kết nối {minutes} phút trong ca làm "
                      f"việc của {officer} ({vi_time}){cancelled[0]}",
                "en": f"The device at {at_en} was offline for {minutes} minutes "
                      f"during {officer}'s shift ({en_time}){cancelled[1]}"}
    return {"vi": f"Thiết bị tại {at_vi} mất kết nối {minutes} phút trong ca làm việc "
                  f"({vi_time}){cancelled[0]}",
            "en": f"The device at {at_en} was offline for {minutes} minutes during "
                  f"the shift ({en_time}){cancelled[1]}"}


def item(row: dict[str, Any]) -> dict[str, Any]:
    """A stored offline alert as the API lists it: the burst alerts' fields (no share, never
    late: it is raised on time by the shift watch), whether its shift was cancelled since
    (`shift_cancelled`, alert_records' query) and its message."""
    row["shift_cancelled"] = bool(row.get("shift_cancelled"))
    return {**row, "rule": json.loads(row.pop("rule")),
            "state": "open" if row["acknowledged_at"] is None else "acknowledged",
            "negative_share": None, "delay_ms": row["raised_at"] - row["last_at"],
            "late": False, "message": message(row)}
