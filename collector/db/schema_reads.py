"""Migrations for reads at a province's scale (issue 13) that no longer fit collector/db/schema.py.

schema.py reached the 450 lines a module may have; these are appended to its MIGRATIONS, in
order, like every other migration, and never edited once released.
"""

from __future__ import annotations

import sqlite_utils

# A press's local month (UTC+7, collector/core/timeline.py): local midnight is a whole second,
# so the seconds' floor decides the month as `pressed_at >= month start` does.
LOCAL_MONTH = "strftime('%Y-%m', {t} / 1000 + 25200, 'unixepoch')"
# The key of a group: the month's counts are kept per kind of press, NULL stored as '' (a
# primary key treats NULLs as distinct); reads turn '' back into NULL.
_KIND = ("{r}.scale, {r}.level, COALESCE({r}.excluded, ''), COALESCE({r}.reason, ''), "
         "COALESCE({r}.attribution, '')")


def migration_rating_months(db: sqlite_utils.Database) -> None:
    # Each officer's presses per local month, counted by kind (scale, level, filter reason,
    # citizen's reason, attribution): what a month's, a quarter's or a trend's figures are
    # computed from, a dozen rows per officer-month instead of hundreds of presses
    # (collector/ratings/month_counts.py reads and folds them). `rating_months_state.through`:
    # the highest `ratings` rowid folded in; rows above it (the tail) are read from `ratings`
    # itself, so the counts are right whether or not the writer folded its last batch.
    db.execute("""CREATE TABLE rating_months (
        officer_id TEXT NOT NULL, month TEXT NOT NULL, scale INTEGER NOT NULL,
        level INTEGER NOT NULL, excluded TEXT NOT NULL, reason TEXT NOT NULL,
        attribution TEXT NOT NULL, n INTEGER NOT NULL,
        PRIMARY KEY (officer_id, month, scale, level, excluded, reason, attribution))
        WITHOUT ROWID""")
    # The front page of a whole province reads one month of every officer.
    db.execute("CREATE INDEX rating_months_month ON rating_months(month)")
    db.execute("""CREATE TABLE rating_months_state (
        id INTEGER PRIMARY KEY CHECK (id = 1), through INTEGER NOT NULL)""")
    db.execute("INSERT INTO rating_months_state (id, through) SELECT 1, COALESCE(MAX(rowid), 0) "
               "FROM ratings")
    db.execute(f"INSERT INTO rating_months SELECT r.officer_id, "
               f"{LOCAL_MONTH.format(t='r.pressed_at')}, {_KIND.format(r='r')}, count(*) "
               "FROM ratings r WHERE r.officer_id IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6, 7")
    # Every request of a leader or a head computes their scope (collector/accounts/scope.py):
    # whom they lead (`leader_id`) and which units they head. Without these indexes each is a
    # scan of the province's officers or units.
    db.execute("CREATE INDEX officers_leader ON officers(leader_id)")
    db.execute("CREATE INDEX units_head ON units(head_id)")
    db.execute("CREATE INDEX units_parent ON units(parent_id)")
    # The open alerts on every landing page count each alert's notes.
    db.execute("CREATE INDEX alert_notes_alert ON alert_notes(alert_id)")
    # A stored rating changed or removed after it was folded in (a roster correction or a
    # device's move re-attributes it, collector/roster/attribution.py): its count moves with
    # it in the same transaction, whoever writes, so no writer has to remember. Rows of the
    # tail are read as they are and need nothing.
    folded = "(SELECT through FROM rating_months_state WHERE id = 1)"
    key = (f"officer_id = OLD.officer_id AND month = {LOCAL_MONTH.format(t='OLD.pressed_at')} "
           "AND scale = OLD.scale AND level = OLD.level "
           "AND excluded = COALESCE(OLD.excluded, '') AND reason = COALESCE(OLD.reason, '') "
           "AND attribution = COALESCE(OLD.attribution, '')")
    take = (f"UPDATE rating_months SET n = n - 1 WHERE {key}; "
            f"DELETE FROM rating_months WHERE n <= 0 AND {key}; ")
    db.execute("CREATE TRIGGER rating_months_update AFTER UPDATE OF officer_id, attribution, "
               "excluded, reason, level, scale, pressed_at ON ratings "
               f"WHEN OLD.rowid <= {folded} BEGIN {take}"
               "INSERT INTO rating_months SELECT NEW.officer_id, "
               f"{LOCAL_MONTH.format(t='NEW.pressed_at')}, {_KIND.format(r='NEW')}, 1 "
               "WHERE NEW.officer_id IS NOT NULL ON CONFLICT DO UPDATE SET n = n + 1; END")
    db.execute("CREATE TRIGGER rating_months_delete AFTER DELETE ON ratings "
               f"WHEN OLD.rowid <= {folded} AND OLD.officer_id IS NOT NULL BEGIN {take}END")
