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




# What month_view.py `month_status` reads from an evaluations row {r}: the step it reached.
_STEP = ("CASE WHEN {r}.decided_at IS NOT NULL THEN 'decided' WHEN {r}.reviewed_at IS NOT NULL "
         "THEN 'reviewed' WHEN {r}.self_at IS NOT NULL THEN 'self' ELSE 'pending' END")
# The (scale, level) pairs a press can have (collector/protocol/messages.py SCALES: 3 to 5
# levels): `rating_levels` has a column of counted presses for each, named here, then one of
# the filtered presses.
RATING_LEVELS = {(scale, level): f"c{scale}_{level}" for scale in (3, 4, 5)
                 for level in range(1, scale + 1)}
_LEVEL_COLUMNS = [*RATING_LEVELS.values(), "filtered"]


def _member_key(e: str, unit: str) -> list[str]:
    """The member_steps key of evaluations row `e` of an officer whose current unit is
    `unit`: period, the period's unit, the officer's unit, step."""
    return [f"{e}.month", f"COALESCE({e}.unit_id, {unit}, '')", f"COALESCE({unit}, '')",
            _STEP.format(r=e)]


def _level_values(r: str) -> list[str]:
    """`rating_levels`' counts of one `rating_months` row {r}: its n in the column of its
    level when counted, in `filtered` when not."""
    return [f"({r}.excluded = '' AND {r}.scale = {scale} AND {r}.level = {level}) * {r}.n"
            for scale, level in RATING_LEVELS] + [f"({r}.excluded != '') * {r}.n"]


def _member_steps(db: sqlite_utils.Database) -> None:
    db.execute("""CREATE TABLE member_steps (
        month TEXT NOT NULL, unit_id TEXT NOT NULL, officer_unit_id TEXT NOT NULL,
        step TEXT NOT NULL, n INTEGER NOT NULL,
        PRIMARY KEY (month, unit_id, officer_unit_id, step)) WITHOUT ROWID""")
    db.execute(f"INSERT INTO member_steps SELECT {', '.join(_member_key('e', 'o.unit_id'))}, "
               "count(*) FROM evaluations e JOIN officers o ON o.id = e.officer_id "
               "GROUP BY 1, 2, 3, 4")

    def one(r: str, change: str) -> str:
        # One evaluations row added (+1) or taken (-1), if its officer is on record.
        key = _member_key(r, f"(SELECT unit_id FROM officers WHERE id = {r}.officer_id)")
        exists = f"EXISTS (SELECT 1 FROM officers WHERE id = {r}.officer_id)"
        if change == "+1":
            return (f"INSERT INTO member_steps SELECT {', '.join(key)}, 1 WHERE {exists} "
                    "ON CONFLICT DO UPDATE SET n = n + 1; ")
        where = f"(month, unit_id, officer_unit_id, step) = ({', '.join(key)})"
        return (f"UPDATE member_steps SET n = n - 1 WHERE {exists} AND {where}; "
                f"DELETE FROM member_steps WHERE {where} AND n <= 0; ")

    db.execute(f"CREATE TRIGGER member_steps_added AFTER INSERT ON evaluations BEGIN "
               f"{one('NEW', '+1')}END")
    db.execute(f"CREATE TRIGGER member_steps_removed AFTER DELETE ON evaluations BEGIN "
               f"{one('OLD', '-1')}END")
    db.execute("CREATE TRIGGER member_steps_changed AFTER UPDATE OF officer_id, month, unit_id, "
               f"self_at, reviewed_at, decided_at ON evaluations BEGIN {one('OLD', '-1')}"
               f"{one('NEW', '+1')}END")

    def rows(who: str) -> str:
        # Every evaluations row of the officer `who`, counted by key.
        key = _member_key("e", f"{who}.unit_id")
        names = ("month", "unit_id", "officer_unit_id", "step")
        return (f"SELECT {', '.join(f'{k} AS {n}' for k, n in zip(key, names))}, count(*) AS c "
                f"FROM evaluations e WHERE e.officer_id = {who}.id GROUP BY 1, 2, 3, 4")

    # An officer who moves takes their periods not placed by a review along (their unit is
    # the current one), and every row's `officer_unit_id` follows.
    out = (f"UPDATE member_steps SET n = n - x.c FROM ({rows('OLD')}) AS x "
           "WHERE member_steps.month = x.month AND member_steps.unit_id = x.unit_id "
           "AND member_steps.officer_unit_id = x.officer_unit_id AND member_steps.step = x.step; "
           "DELETE FROM member_steps WHERE n <= 0 AND month IN "
           "(SELECT month FROM evaluations WHERE officer_id = OLD.id); ")
    into = (f"INSERT INTO member_steps SELECT month, unit_id, officer_unit_id, step, c "
            f"FROM ({rows('NEW')}) WHERE true ON CONFLICT DO UPDATE SET n = n + excluded.n; ")
    db.execute("CREATE TRIGGER member_steps_officer_moved AFTER UPDATE OF id, unit_id ON officers "
               f"WHEN OLD.id IS NOT NEW.id OR OLD.unit_id IS NOT NEW.unit_id BEGIN {out}{into}END")
    db.execute(f"CREATE TRIGGER member_steps_officer_added AFTER INSERT ON officers BEGIN "
               f"{into}END")
    db.execute(f"CREATE TRIGGER member_steps_officer_removed AFTER DELETE ON officers BEGIN "
               f"{out}END")
    # Officers on record per current unit: those of them with no row of a period are its
    # pending members (counting them from `officers` reads its whole unit index).
    db.execute("CREATE TABLE unit_officers (unit_id TEXT PRIMARY KEY, n INTEGER NOT NULL) "
               "WITHOUT ROWID")
    db.execute("INSERT INTO unit_officers SELECT unit_id, count(*) FROM officers "
               "WHERE unit_id IS NOT NULL GROUP BY unit_id")
    come = ("INSERT INTO unit_officers SELECT NEW.unit_id, 1 WHERE NEW.unit_id IS NOT NULL "
            "ON CONFLICT DO UPDATE SET n = n + 1; ")
    go = ("UPDATE unit_officers SET n = n - 1 WHERE unit_id = OLD.unit_id; "
          "DELETE FROM unit_officers WHERE unit_id = OLD.unit_id AND n <= 0; ")
    db.execute(f"CREATE TRIGGER unit_officers_added AFTER INSERT ON officers BEGIN {come}END")
    db.execute(f"CREATE TRIGGER unit_officers_removed AFTER DELETE ON officers BEGIN {go}END")
    db.execute("CREATE TRIGGER unit_officers_moved AFTER UPDATE OF unit_id ON officers "
               f"WHEN OLD.unit_id IS NOT NEW.unit_id BEGIN {go}{come}END")


def _rating_levels(db: sqlite_utils.Database) -> None:
    db.execute("CREATE TABLE rating_levels (month TEXT NOT NULL, officer_id TEXT NOT NULL, "
               + ", ".join(f"{c} INTEGER NOT NULL" for c in _LEVEL_COLUMNS)
               + ", PRIMARY KEY (month, officer_id)) WITHOUT ROWID")
    db.execute(f"INSERT INTO rating_levels SELECT r.month, r.officer_id, "
               f"{', '.join(f'sum({v})' for v in _level_values('r'))} FROM rating_months r "
               "GROUP BY 1, 2")
    add = (f"INSERT INTO rating_levels (month, officer_id, {', '.join(_LEVEL_COLUMNS)}) VALUES "
           f"(NEW.month, NEW.officer_id, {', '.join(_level_values('NEW'))}) "
           "ON CONFLICT DO UPDATE SET "
           + ", ".join(f"{c} = {c} + excluded.{c}" for c in _LEVEL_COLUMNS) + "; ")
    take = ("UPDATE rating_levels SET "
            + ", ".join(f"{c} = {c} - {v}" for c, v in zip(_LEVEL_COLUMNS, _level_values("OLD")))
            + " WHERE month = OLD.month AND officer_id = OLD.officer_id; ")
    db.execute(f"CREATE TRIGGER rating_levels_added AFTER INSERT ON rating_months BEGIN {add}END")
    db.execute("CREATE TRIGGER rating_levels_changed AFTER UPDATE ON rating_months BEGIN "
               f"{take}{add}END")
    db.execute(f"CREATE TRIGGER rating_levels_removed AFTER DELETE ON rating_months BEGIN "
               f"{take}END")


def migration_unit_summary(db: sqlite_utils.Database) -> None:
    # A large unit's landing (collector/evaluation/summary/) sums its period in SQL: for the
    # root of a province, 154,000 officers and 140,000 month counts, which read row by row
    # cost 300 ms of SQLite alone. Two tables kept by triggers, like `rating_months` itself,
    # hold the same figures already added up; the landing reads a few thousand rows.
    #
    # `member_steps`: each period's evaluations rows counted by the unit the period belongs
    # to (stored with its review or decision, else the officer's current unit:
    # collector/evaluation/sources.py MONTH_UNIT), the officer's current unit and the step
    # reached ('' for no unit). A row whose officer is not on record is not counted.
    # `unit_officers`: officers on record per current unit; those with no row of a period are
    # its pending members. Active dates are read from `officers` itself.
    _member_steps(db)
    # Whose active dates leave them out of a period: few, found by index.
    db.execute("CREATE INDEX officers_active_from ON officers(active_from) "
               "WHERE active_from IS NOT NULL")
    db.execute("CREATE INDEX officers_active_to ON officers(active_to) WHERE active_to IS NOT NULL")
    # The period's row of the officers placed one by one (those with ratings), from the index
    # alone: in the table the unit and steps sit after the frozen snapshot, an overflow page
    # away.
    db.execute("CREATE INDEX evaluations_month_steps ON evaluations(month, officer_id, "
               "unit_id, decided_at, reviewed_at, self_at)")
    # `rating_levels`: each officer-month of `rating_months` in one row, its counted presses
    # per (scale, level) and its filtered ones, a tenth of the rows (the citizens' reasons and
    # the attribution are not kept). Kept from `rating_months` by triggers (the fold's upserts
    # and the re-attribution's updates both land there), so it holds exactly what is folded;
    # the tail is read from `ratings` as collector/ratings/month_counts.py reads it.
    _rating_levels(db)


def migration_online_spans_cover(db: sqlite_utils.Database) -> None:
    # The month close reads every counter device's online time for the month: with the span's
    # times in the index it never visits the table (56 → 24 ms at a tenth of a province).
    db.execute("CREATE INDEX device_online_spans_cover ON device_online_spans(device_id, "
               "starts_at, ended_at, last_seen_at)")
