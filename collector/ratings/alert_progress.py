"""How far alert detection has got: the ratings whose windows were checked, kept in the database.

`alert_progress` (one row, collector/db/schema.py) holds the highest `ratings` rowid checked.
The ingest's alert detector (collector/ingest/alerting.py) takes the ratings past it in rowid
order and advances it in the transaction that raises their alerts, so whatever stops the
collector, a rating is checked once: either its alerts and the mark were committed together,
or neither was and the next round checks it again.

Why the rowid: rating ids are text ("device:boot:seq"); the rowid SQLite gives each new row is
one past the highest, and the writer's transactions are serialised by the write lock, so rows
committed after a round always lie past the rowids it saw. That holds because ratings are
never deleted (a deleted highest row would let its rowid be reused).

A past stored in bulk (`add_past_ratings`: the demo's history) was never pressed at a live
counter; `pass_over` moves the mark past it in the same transaction, as the upgrade that
created the table did for the ratings already stored.
"""

from __future__ import annotations

import sqlite_utils


def checked_through(db: sqlite_utils.Database) -> int:
    """The highest ratings rowid checked for alerts."""
    return db.execute("SELECT checked_through FROM alert_progress WHERE id = 1").fetchone()[0]


def last_stored(db: sqlite_utils.Database) -> int:
    """The highest ratings rowid (0 with none)."""
    return db.execute("SELECT COALESCE(MAX(rowid), 0) FROM ratings").fetchone()[0]


def unchecked(db: sqlite_utils.Database, limit: int) -> list[tuple[int, str]]:
    """Up to `limit` (rowid, id) of the ratings not yet checked, oldest first."""
    return db.execute("SELECT rowid, id FROM ratings WHERE rowid > ? ORDER BY rowid LIMIT ?",
                      [checked_through(db), limit]).fetchall()


def mark_checked(db: sqlite_utils.Database, through: int) -> None:
    """Ratings up to rowid `through` are checked; the caller holds the write transaction that
    raised their alerts. Never moves back."""
    db.execute("UPDATE alert_progress SET checked_through = max(checked_through, ?) "
               "WHERE id = 1", [through])


def pass_over(db: sqlite_utils.Database, stored_before: int) -> None:
    """Ratings stored past rowid `stored_before` in the caller's transaction are a past, not
    presses to judge: move the mark past them. Unless ratings stored before them still wait
    for their check: the mark cannot pass over those, so the past is checked with them (the
    demo seeds its history before its collector starts, when nothing waits)."""
    db.execute("UPDATE alert_progress SET checked_through = "
               "(SELECT COALESCE(MAX(rowid), 0) FROM ratings) "
               "WHERE id = 1 AND checked_through >= ?", [stored_before])


# --- the shift watch's mark (collector/ingest/offline_watch.py) ------------------------------
# Counter alerts of a device offline during a roster shift are judged on time, not on new
# ratings: `offline_through` (schema offline_0001) is the time up to which the shifts that
# ended have been judged, moved in the transaction that raises their alerts.

def offline_checked_through(db: sqlite_utils.Database) -> int:
    """Unix ms up to which ended shifts have been judged for offline time."""
    row = db.execute("SELECT offline_through FROM alert_progress WHERE id = 1").fetchone()
    return row[0] or 0


def mark_offline_checked(db: sqlite_utils.Database, through: int) -> None:
    """Shifts ended by `through` are judged; the caller holds the write transaction that
    raised their alerts. Never moves back."""
    db.execute("UPDATE alert_progress SET offline_through = max(COALESCE(offline_through, 0), "
               "?) WHERE id = 1", [through])
