"""The database schema as named migrations, in order; `store.migrate` applies those not yet run.

A migration is never edited once released: a change to the schema is a new one at the end.
Each runs in its own transaction with its `_migrations` row.
"""

from __future__ import annotations

import time
from typing import Callable

import sqlite_utils

from collector.db import schema_later


def _migration_initial(db: sqlite_utils.Database) -> None:
    db["units"].create({"id": str, "name": str, "parent_id": str}, pk="id")
    db["officers"].create({"id": str, "name": str, "title": str, "unit_id": str}, pk="id",
                          foreign_keys=[("unit_id", "units", "id")])
    db["counters"].create({"id": str, "label": str, "unit_id": str}, pk="id",
                          foreign_keys=[("unit_id", "units", "id")])
    db["devices"].create({"id": str, "counter_id": str, "scale": int, "registered_at": int,
                          "retired_at": int}, pk="id",
                         foreign_keys=[("counter_id", "counters", "id")],
                         defaults={"scale": 4}, not_null={"scale"})
    # Who staffed the device's counter over [starts_at, ends_at); officer_id NULL = closed.
    db["assignments"].create({"id": int, "device_id": str, "officer_id": str, "starts_at": int,
                              "ends_at": int}, pk="id",
                             foreign_keys=[("device_id", "devices", "id"),
                                           ("officer_id", "officers", "id")],
                             not_null={"device_id", "starts_at"})
    db["assignments"].create_index(["device_id", "starts_at"])
    db["ratings"].create({
        "id": str, "device_id": str, "boot": int, "seq": int, "level": int, "scale": int,
        "officer_shown": str, "officer_id": str, "attribution": str, "uptime_ms": int,
        "device_ts": int, "pressed_at": int, "time_source": str, "received_at": int,
        "fw": str, "reason": str, "dossier": str, "excluded": str,
    }, pk="id", not_null={"device_id", "level", "scale", "pressed_at", "received_at"})
    db["ratings"].create_index(["officer_id", "pressed_at"])
    db["ratings"].create_index(["device_id", "pressed_at"])
    db["rejected"].create({"id": int, "received_at": int, "topic": str, "device_id": str,
                           "reason": str, "payload": bytes}, pk="id",
                          not_null={"received_at", "topic", "reason", "payload"})
    db["device_status"].create({
        "device_id": str, "state": str, "fw": str, "boot": int, "uptime_ms": int,
        "mem_free": int, "rssi": int, "queue": int, "filtered": int, "dropped": int,
        "status_at": int, "online_status_at": int, "last_seen": int,
    }, pk="device_id")
    db["ingest_totals"].create({"name": str, "value": int}, pk="name")


def _migration_status_ignored(db: sqlite_utils.Database) -> None:
    db["device_status"].add_column("ignored", int)


def _migration_device_credentials(db: sqlite_utils.Database) -> None:
    # One row per device that may connect: the Mosquitto "$7$" hash, copied verbatim into the
    # broker's password file. The plain password is shown once to the technician, never kept.
    db["device_credentials"].create({"device_id": str, "password_hash": str, "issued_at": int},
                                    pk="device_id",
                                    foreign_keys=[("device_id", "devices", "id")],
                                    not_null={"password_hash", "issued_at"})


def _migration_audit_log(db: sqlite_utils.Database) -> None:
    # Hash-chained, append-only (see collector/db/audit.py). AUTOINCREMENT keeps the highest id
    # ever used in sqlite_sequence, which is how `verify` notices the last entries deleted.
    db.execute("""CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, actor TEXT NOT NULL,
        action TEXT NOT NULL, subject TEXT NOT NULL, before TEXT NOT NULL, after TEXT NOT NULL,
        prev_hash TEXT NOT NULL UNIQUE, hash TEXT NOT NULL)""")
    # Refuse edits by mistake; someone determined drops the triggers, and `verify` catches that.
    for verb in ("UPDATE", "DELETE"):
        db.execute(f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                   "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END")


def _migration_tasks(db: sqlite_utils.Database) -> None:
    # Items of an officer's weekly/monthly work plan (collector/evaluation/tasks.py). Dates are
    # local (UTC+7) ISO dates as text, so they sort and compare as dates; a task belongs to the
    # month of its deadline, the date the officer committed to.
    db.execute("""CREATE TABLE tasks (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        officer_id TEXT NOT NULL REFERENCES officers(id),
        title TEXT NOT NULL,
        assigned_by TEXT NOT NULL REFERENCES officers(id),
        period TEXT NOT NULL CHECK (period IN ('week', 'month')),
        deadline TEXT NOT NULL,
        weight REAL NOT NULL DEFAULT 1 CHECK (weight > 0),
        progress INTEGER NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
        progress_note TEXT,
        completed_on TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL)""")
    db.execute("CREATE INDEX tasks_officer_deadline ON tasks(officer_id, deadline)")
    # Every progress update is kept: the leader looks back over the whole month.
    db.execute("""CREATE TABLE task_updates (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        task_id INTEGER NOT NULL REFERENCES tasks(id),
        at INTEGER NOT NULL, actor TEXT NOT NULL,
        progress INTEGER NOT NULL, note TEXT, completed_on TEXT)""")
    db.execute("CREATE INDEX task_updates_task ON task_updates(task_id)")
    # A leader's findings, each with its reason: a major quality error, or a delay excused
    # as having an objective cause (Decree 335: 25 % off per error / unexcused delay).
    db.execute("""CREATE TABLE task_flags (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        task_id INTEGER NOT NULL REFERENCES tasks(id),
        kind TEXT NOT NULL CHECK (kind IN ('major_error', 'delay_excused')),
        reason TEXT NOT NULL, actor TEXT NOT NULL, at INTEGER NOT NULL)""")
    db.execute("CREATE INDEX task_flags_task ON task_flags(task_id)")




def _migration_organisation(db: sqlite_utils.Database) -> None:
    # Units form a tree (city → department or ward → office) through parent_id; `head_id` is
    # the officer who decides the unit's grades and answers for them; `outstanding` lifts the
    # hanoi-3814 quota from 30 % to 40 %.
    db.execute("ALTER TABLE units ADD COLUMN kind TEXT")
    db.execute("ALTER TABLE units ADD COLUMN head_id TEXT REFERENCES officers(id)")
    db.execute("ALTER TABLE units ADD COLUMN outstanding INTEGER NOT NULL DEFAULT 0")
    # Officers: the id is their code; `leader_id` leads and assigns their work directly;
    # active dates are local ISO dates (inclusive), NULL = open.
    db.execute("ALTER TABLE officers ADD COLUMN leader_id TEXT REFERENCES officers(id)")
    db.execute("ALTER TABLE officers ADD COLUMN photo TEXT")
    db.execute("ALTER TABLE officers ADD COLUMN active_from TEXT")
    db.execute("ALTER TABLE officers ADD COLUMN active_to TEXT")
    # Which counter a device served when: ratings are attributed through the counter the
    # device stood at when pressed, even after it moves.
    db.execute("""CREATE TABLE device_placements (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        device_id TEXT NOT NULL REFERENCES devices(id),
        counter_id TEXT NOT NULL REFERENCES counters(id),
        starts_at INTEGER NOT NULL, ends_at INTEGER,
        CHECK (ends_at IS NULL OR ends_at >= starts_at))""")
    db.execute("CREATE INDEX device_placements_device ON device_placements(device_id, starts_at)")
    db.execute("CREATE INDEX device_placements_counter ON device_placements(counter_id, starts_at)")
    # The duty roster: who staffs which counter over [starts_at, ends_at) (NULL = until further
    # notice). A correction never overwrites: the old row gets replaced_at/replaced_by and a new
    # row carries the change, so the roster's history stays readable beside the audit log.
    db.execute("""CREATE TABLE roster_shifts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        counter_id TEXT NOT NULL REFERENCES counters(id),
        officer_id TEXT NOT NULL REFERENCES officers(id),
        starts_at INTEGER NOT NULL, ends_at INTEGER,
        note TEXT,
        created_at INTEGER NOT NULL, created_by TEXT NOT NULL,
        replaced_at INTEGER, replaced_by INTEGER REFERENCES roster_shifts(id),
        CHECK (ends_at IS NULL OR ends_at > starts_at))""")
    db.execute("CREATE INDEX roster_shifts_counter ON roster_shifts(counter_id, starts_at) "
               "WHERE replaced_at IS NULL")
    db.execute("CREATE INDEX roster_shifts_officer ON roster_shifts(officer_id, starts_at) "
               "WHERE replaced_at IS NULL")
    # Carry the per-device assignments of 0001 over: placements from registration, shifts at
    # the device's counter; closed stretches (officer NULL) are simply gaps in the roster.
    at = int(time.time() * 1000)
    db.execute("INSERT INTO device_placements (device_id, counter_id, starts_at, ends_at) "
               "SELECT id, counter_id, COALESCE(registered_at, 0), retired_at FROM devices")
    db.execute("INSERT INTO roster_shifts (counter_id, officer_id, starts_at, ends_at, "
               "created_at, created_by) SELECT d.counter_id, a.officer_id, a.starts_at, "
               "a.ends_at, ?, 'migration' FROM assignments a JOIN devices d "
               "ON d.id = a.device_id WHERE a.officer_id IS NOT NULL "
               "AND (a.ends_at IS NULL OR a.ends_at > a.starts_at) ORDER BY a.id", [at])
    db.execute("DROP TABLE assignments")
    # When each device was online, one row per stretch (not per status: 3,000 devices × a
    # status a minute would be 130 M rows a month). Offline while ended_at is set or the
    # device has been silent for MAX_SILENCE_MS since last_seen_at.
    db.execute("""CREATE TABLE device_online_spans (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        device_id TEXT NOT NULL REFERENCES devices(id),
        starts_at INTEGER NOT NULL, last_seen_at INTEGER NOT NULL, ended_at INTEGER)""")
    db.execute("CREATE INDEX device_online_spans_device ON device_online_spans(device_id, "
               "starts_at)")


def _migration_evaluations(db: sqlite_utils.Database) -> None:
    # One row per officer-month of the workflow self → leader review → head decision.
    # Scores are JSON objects {criterion code: points}. The decision locks the row; a reopening
    # clears decided_* and is kept, with its reason, in evaluation_events and the audit log.
    # `snapshot` freezes the evidence and suggestion the head saw when deciding.
    db.execute("""CREATE TABLE evaluations (
        officer_id TEXT NOT NULL REFERENCES officers(id),
        month TEXT NOT NULL,
        self_scores TEXT, self_comment TEXT, self_at INTEGER,
        review_scores TEXT, review_comment TEXT, proposed_grade TEXT,
        reviewed_by TEXT REFERENCES officers(id), reviewed_at INTEGER,
        disciplined INTEGER NOT NULL DEFAULT 0, discipline_note TEXT,
        final_grade TEXT, final_score REAL, decision_note TEXT,
        decided_by TEXT REFERENCES officers(id), decided_at INTEGER,
        snapshot TEXT,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (officer_id, month))""")
    db.execute("CREATE INDEX evaluations_month ON evaluations(month)")
    db.execute("""CREATE TABLE evaluation_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        officer_id TEXT NOT NULL REFERENCES officers(id),
        month TEXT NOT NULL,
        step TEXT NOT NULL CHECK (step IN ('self', 'review', 'decision', 'reopen')),
        actor TEXT NOT NULL, at INTEGER NOT NULL, data TEXT NOT NULL)""")
    db.execute("CREATE INDEX evaluation_events_officer ON evaluation_events(officer_id, month)")
    # Due dates of each step for one month (local ISO dates); a month without a row uses the
    # deployment's defaults (days of the following month).
    db.execute("""CREATE TABLE workflow_calendar (
        month TEXT PRIMARY KEY,
        self_due TEXT NOT NULL, review_due TEXT NOT NULL, decision_due TEXT NOT NULL,
        set_by TEXT NOT NULL, set_at INTEGER NOT NULL)""")


def _migration_accounts(db: sqlite_utils.Database) -> None:
    # People who log in to the dashboard (collector/accounts/users.py). `login` is lower-case;
    # `officer_id` links an officer, leader or head to their organisation record, from which
    # their scope follows; technicians and administrators may have a unit scope or none (all).
    db.execute("""CREATE TABLE users (
        login TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('officer', 'leader', 'head', 'technician',
                                           'administrator')),
        officer_id TEXT REFERENCES officers(id),
        unit_id TEXT REFERENCES units(id),
        password_hash TEXT NOT NULL,
        created_at INTEGER NOT NULL, password_changed_at INTEGER NOT NULL,
        disabled_at INTEGER)""")
    db.execute("CREATE UNIQUE INDEX users_officer ON users(officer_id) "
               "WHERE officer_id IS NOT NULL AND disabled_at IS NULL")
    # Tokens for scripts: only the SHA-256 of the token is kept.
    db.execute("""CREATE TABLE api_tokens (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        login TEXT NOT NULL REFERENCES users(login),
        token_sha256 TEXT NOT NULL UNIQUE, label TEXT NOT NULL,
        created_at INTEGER NOT NULL, revoked_at INTEGER)""")


def _migration_alerts(db: sqlite_utils.Database) -> None:
    # A counter whose negative share crossed the policy's threshold within a window
    # (collector/ratings/alerts.py). One alert per burst: a burst that goes on extends `last_at` and
    # the counts instead of raising another. Acknowledged by a leader, with notes.
    db.execute("""CREATE TABLE alerts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        counter_id TEXT NOT NULL REFERENCES counters(id),
        officer_id TEXT REFERENCES officers(id),
        kind TEXT NOT NULL,
        first_at INTEGER NOT NULL, last_at INTEGER NOT NULL,
        ratings INTEGER NOT NULL, negative INTEGER NOT NULL,
        rule TEXT NOT NULL,
        raised_at INTEGER NOT NULL,
        acknowledged_by TEXT, acknowledged_at INTEGER)""")
    db.execute("CREATE INDEX alerts_counter ON alerts(counter_id, last_at)")
    db.execute("CREATE INDEX alerts_open ON alerts(acknowledged_at, raised_at)")
    db.execute("""CREATE TABLE alert_notes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        alert_id INTEGER NOT NULL REFERENCES alerts(id),
        actor TEXT NOT NULL, at INTEGER NOT NULL, text TEXT NOT NULL)""")
    # An officer's written response to a month's evaluation (ý kiến phản hồi của cán bộ):
    # appended, never edited; leaders see it beside the month.
    db.execute("""CREATE TABLE evaluation_responses (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        officer_id TEXT NOT NULL REFERENCES officers(id),
        month TEXT NOT NULL,
        actor TEXT NOT NULL, at INTEGER NOT NULL, text TEXT NOT NULL)""")
    db.execute("CREATE INDEX evaluation_responses_officer ON evaluation_responses(officer_id, "
               "month)")


def _migration_sessions(db: sqlite_utils.Database) -> None:
    # Login sessions recorded on the server (collector/accounts/users.py), so that logging out,
    # a new password or a disabled account ends them: the signed cookie only names one of these
    # rows. Only the SHA-256 of the session id is kept, as for API tokens.
    db.execute("""CREATE TABLE login_sessions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        sid_sha256 TEXT NOT NULL UNIQUE,
        login TEXT NOT NULL REFERENCES users(login),
        created_at INTEGER NOT NULL, last_seen_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL, revoked_at INTEGER)""")
    db.execute("CREATE INDEX login_sessions_login ON login_sessions(login, revoked_at)")


def _migration_scope_history(db: sqlite_utils.Database) -> None:
    # Evidence is scoped by the unit it belonged to when it was recorded (issue 10), not by
    # where its counter or device is today. Devices already have their history
    # (device_placements); counters get theirs here: which unit a counter belonged to over
    # [starts_at, ends_at). Kept by triggers, so every path that writes `counters` (the
    # organisation service, the import, the seed) records a change of unit without knowing
    # it. The trigger's clock is SQLite's wall clock: the moment the change is committed.
    db.execute("""CREATE TABLE counter_units (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        counter_id TEXT NOT NULL REFERENCES counters(id),
        unit_id TEXT NOT NULL REFERENCES units(id),
        starts_at INTEGER NOT NULL, ends_at INTEGER,
        CHECK (ends_at IS NULL OR ends_at >= starts_at))""")
    db.execute("CREATE INDEX counter_units_counter ON counter_units(counter_id, starts_at)")
    # What a counter belongs to before any recorded change is its unit at creation: from 0,
    # so a press placed at the counter always finds a unit.
    db.execute("INSERT INTO counter_units (counter_id, unit_id, starts_at) "
               "SELECT id, unit_id, 0 FROM counters WHERE unit_id IS NOT NULL")
    now = "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"
    db.execute("CREATE TRIGGER counters_unit_created AFTER INSERT ON counters "
               "WHEN NEW.unit_id IS NOT NULL BEGIN "
               "INSERT INTO counter_units (counter_id, unit_id, starts_at) "
               "VALUES (NEW.id, NEW.unit_id, 0); END")
    db.execute("CREATE TRIGGER counters_unit_moved AFTER UPDATE OF unit_id ON counters "
               "WHEN OLD.unit_id IS NOT NEW.unit_id BEGIN "
               f"UPDATE counter_units SET ends_at = max(starts_at, {now}) "
               "WHERE counter_id = NEW.id AND ends_at IS NULL; "
               "INSERT INTO counter_units (counter_id, unit_id, starts_at) "
               f"SELECT NEW.id, NEW.unit_id, {now} WHERE NEW.unit_id IS NOT NULL; END")
    # An alert keeps the unit its counter belonged to when the burst happened.
    db.execute("ALTER TABLE alerts ADD COLUMN unit_id TEXT REFERENCES units(id)")
    db.execute("UPDATE alerts SET unit_id = (SELECT unit_id FROM counters c "
               "WHERE c.id = alerts.counter_id)")
    db.execute("CREATE INDEX alerts_unit ON alerts(unit_id, last_at)")
    # Reads that scanned the whole ratings table: the overview (a month by press time, every
    # officer), recent ratings (by arrival) and the rejected messages of a device; a unit's
    # officers (scope, the monthly evidence).
    db.execute("CREATE INDEX ratings_pressed ON ratings(pressed_at)")
    db.execute("CREATE INDEX ratings_received ON ratings(received_at, id)")
    db.execute("CREATE INDEX rejected_device ON rejected(device_id, received_at)")
    db.execute("CREATE INDEX officers_unit ON officers(unit_id)")


def _migration_ingest_evidence(db: sqlite_utils.Database) -> None:
    # A rejected payload above the size limit keeps only its first 1024 bytes: its full length
    # and SHA-256 say what it was without letting one publish fill the disk
    # (collector/ingest/subscriber.py).
    db.execute("ALTER TABLE rejected ADD COLUMN payload_size INTEGER")
    db.execute("ALTER TABLE rejected ADD COLUMN payload_sha256 TEXT")
    # The earliest `received - uptime` seen for each boot of each device: the boot's start on
    # the collector's clock, which places `ts: null` presses. Delays only make the estimate
    # later, so the earliest is the best and a late message cannot move it later.
    db.execute("""CREATE TABLE boot_epochs (
        device_id TEXT NOT NULL, boot INTEGER NOT NULL, epoch_ms INTEGER NOT NULL,
        PRIMARY KEY (device_id, boot))""")
    db.execute("INSERT INTO boot_epochs (device_id, boot, epoch_ms) SELECT device_id, boot, "
               "online_status_at - uptime_ms FROM device_status WHERE boot IS NOT NULL "
               "AND uptime_ms IS NOT NULL AND online_status_at IS NOT NULL")
    # That the collector has subscribed with a client id: a later CONNACK without a session
    # for it means the broker lost the session (and what it queued), which health reports.
    db.execute("""CREATE TABLE ingest_sessions (
        client_id TEXT PRIMARY KEY, first_subscribed_at INTEGER NOT NULL,
        last_subscribed_at INTEGER NOT NULL, lost_count INTEGER NOT NULL DEFAULT 0,
        last_lost_at INTEGER)""")


def _migration_alert_progress(db: sqlite_utils.Database) -> None:
    # How far alert detection has got (collector/ratings/alert_progress.py): the highest
    # `ratings` rowid whose windows were checked, advanced in the transaction that raises their
    # alerts, so a collector killed between its commit and the check checks them at its next
    # start, and never twice. A database upgraded with ratings starts past them: their time
    # to raise an alert has gone, and an upgrade must not raise the history again.
    db.execute("""CREATE TABLE alert_progress (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        checked_through INTEGER NOT NULL)""")
    db.execute("INSERT INTO alert_progress (id, checked_through) "
               "SELECT 1, COALESCE(MAX(rowid), 0) FROM ratings")


def _deciding_unit(units: dict[str, tuple[str | None, str | None]], officer_id: str,
                   unit_id: str | None) -> str | None:
    """The unit whose head decides the officer: the nearest unit up from theirs whose head
    is not the officer (collector/accounts/permissions.py `officer_facts(...).deciding_unit`,
    restated here because a migration imports nothing above the database). `units`: id →
    (parent, head); a walk stops at a repeat or a unit not stored."""
    seen: set[str] = set()
    while unit_id is not None and unit_id in units and unit_id not in seen:
        seen.add(unit_id)
        parent, head = units[unit_id]
        if head is not None and head != officer_id:
            return unit_id
        unit_id = parent
    return None


def _migration_evaluation_units(db: sqlite_utils.Database) -> None:
    # A reviewed or decided month belongs to the unit the officer was in then (issue 12): the
    # unit (`unit_id`: its reports list them), the unit whose head decides (`deciding_unit_id`:
    # the quota's unit) and the group of similar posts the quota is counted in (`post_group`,
    # Decree 335/2025: "nhóm vị trí việc làm tương đồng"), so an officer's later move rewrites
    # no old unit's report or quota. Written by the review and again by the decision
    # (collector/evaluation/workflow/steps.py); NULL on a month never reviewed, which follows
    # the officer (COALESCE(e.unit_id, o.unit_id)). An officer's current group is
    # `officers.post_group`; NULL is the default group: the head's whole unit.
    db.execute("ALTER TABLE evaluations ADD COLUMN unit_id TEXT REFERENCES units(id)")
    db.execute("ALTER TABLE evaluations ADD COLUMN deciding_unit_id TEXT REFERENCES units(id)")
    db.execute("ALTER TABLE evaluations ADD COLUMN post_group TEXT")
    db.execute("ALTER TABLE officers ADD COLUMN post_group TEXT")
    # Months reviewed or decided before this migration take the officer's unit as it stands
    # now: the best record left of where they were (the audit log names no unit). Their group
    # stays NULL, the default group: no officer had another before this migration.
    units = {row[0]: (row[1], row[2])
             for row in db.execute("SELECT id, parent_id, head_id FROM units")}
    placed = [(unit_id, _deciding_unit(units, officer_id, unit_id), officer_id)
              for officer_id, unit_id in db.execute(
                  "SELECT o.id, o.unit_id FROM officers o WHERE EXISTS (SELECT 1 FROM "
                  "evaluations e WHERE e.officer_id = o.id AND (e.reviewed_at IS NOT NULL "
                  "OR e.decided_at IS NOT NULL))").fetchall()]
    db.conn.executemany("UPDATE evaluations SET unit_id = ?, deciding_unit_id = ? "
                        "WHERE officer_id = ? AND (reviewed_at IS NOT NULL "
                        "OR decided_at IS NOT NULL)", placed)
    # A unit's month finds the evaluations stored under its units by index, beside its
    # current officers (officers_unit).
    db.execute("CREATE INDEX evaluations_month_unit ON evaluations(month, unit_id)")

def _migration_offline_evidence(db: sqlite_utils.Database) -> None:
    # Issue 12, item 3: evidence that cannot be gamed by switching the device off.
    # Counter alerts of a second kind (`kind` 'device_offline', beside 'negative_share'): the
    # device at a counter offline or unplugged beyond the policy's minutes within one roster
    # shift (collector/ratings/offline_alerts.py). It names the shift and the minutes; at most
    # one per shift, which the unique index guarantees whatever the detector does.
    db.execute("ALTER TABLE alerts ADD COLUMN shift_id INTEGER REFERENCES roster_shifts(id)")
    db.execute("ALTER TABLE alerts ADD COLUMN offline_minutes INTEGER")
    db.execute("CREATE UNIQUE INDEX alerts_offline_shift ON alerts(shift_id) "
               "WHERE kind = 'device_offline'")
    # The watch reads, every round, the shifts ending after its mark or still open, and
    # follows a corrected shift back to the one it replaced (its alert stays the same).
    db.execute("CREATE INDEX roster_shifts_ends ON roster_shifts(ends_at) "
               "WHERE replaced_at IS NULL")
    db.execute("CREATE INDEX roster_shifts_replaced_by ON roster_shifts(replaced_by) "
               "WHERE replaced_by IS NOT NULL")
    # How far the shift watch has got (collector/ratings/alert_progress.py): shifts ended by
    # then are judged. Moved in the transaction that raises their alerts, like the ratings'
    # mark; it starts now, so an upgrade does not raise the past's shifts.
    db.execute("ALTER TABLE alert_progress ADD COLUMN offline_through INTEGER")
    db.execute("UPDATE alert_progress SET offline_through = ?", [int(time.time() * 1000)])
    # The leader's written reason for scoring the satisfaction criterion above what the
    # available ratings show, when few ratings come from a counter that was offline.
    db.execute("ALTER TABLE evaluations ADD COLUMN attitude_reason TEXT")


MIGRATIONS: list[tuple[str, Callable[[sqlite_utils.Database], None]]] = [
    ("0001_initial", _migration_initial),
    ("0002_status_ignored", _migration_status_ignored),
    ("0003_device_credentials", _migration_device_credentials),
    ("0004_audit_log", _migration_audit_log),
    ("0005_tasks", _migration_tasks),
    ("0006_organisation", _migration_organisation),
    ("0007_evaluations", _migration_evaluations),
    ("0008_accounts", _migration_accounts),
    ("0009_alerts_responses", _migration_alerts),
    ("sessions_0001_login_sessions", _migration_sessions),
    ("scope_0001_history_and_indexes", _migration_scope_history),
    ("ingest_0001_digests_epochs_sessions", _migration_ingest_evidence),
    ("alerts_0001_detection_progress", _migration_alert_progress),
    ("evaluations_0001_units_and_post_groups", _migration_evaluation_units),
    ("offline_0001_shift_alerts_attitude_reason", _migration_offline_evidence),
    *schema_later.MIGRATIONS,  # those that no longer fit in this module, in order
]
