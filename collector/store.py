"""The SQLite store: schema, named migrations and every write.

One writer owns a `Store` (the ingest thread, or a CLI command); readers open their own
connections through `queries.open_reader`. The database runs in WAL mode so readers never
block the writer. `record_batch` writes a batch of parsed messages in one transaction and
returns only after the commit: the ingest acknowledges messages to the broker after it returns,
which is what makes a crash at any moment lose nothing.

Every write runs inside `db.atomic()`, not `with db.conn`: sqlite-utils commits each of its
own writes when no transaction is open yet, so only an explicit BEGIN keeps a batch together.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from contextlib import contextmanager
from typing import Callable, Iterable, Iterator

import sqlite_utils

from .messages import Rating, Rejection, Status
from .timeline import BootAnchor, place_press

BUSY_TIMEOUT_MS = 30_000


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Incoming:
    """One message as it came off the wire, with what the pure parser made of it."""
    topic: str
    payload: bytes
    received_at: int
    parsed: Rating | Status | Rejection


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
    # Hash-chained, append-only (see collector/audit.py). AUTOINCREMENT keeps the highest id
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
    # Items of an officer's weekly/monthly work plan (collector/tasks.py). Dates are local
    # (UTC+7) ISO dates as text, so they sort and compare as dates; a task belongs to the
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


# A device goes quiet this long after an online status before it counts as offline: statuses
# come every 60 s, so two lost ones are tolerated and a third is not (evidence.online_intervals).
MAX_SILENCE_MS = 180_000


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
    at = now_ms()
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
    # People who log in to the dashboard (collector/accounts.py). `login` is lower-case;
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
    # (collector/alerts.py). One alert per burst: a burst that goes on extends `last_at` and
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
]


def connect(path: str | Path, *, readonly: bool = False,
            busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> sqlite_utils.Database:
    if readonly:
        conn = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True,
                               check_same_thread=False)
    else:
        conn = sqlite3.connect(str(path), check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    conn.execute("PRAGMA foreign_keys = ON")
    return sqlite_utils.Database(conn)


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply the named migrations this database has not seen; return the names applied."""
    if not db["_migrations"].exists():
        db["_migrations"].create({"name": str, "applied_at": int}, pk="name")
    done = {row["name"] for row in db["_migrations"].rows}
    applied = []
    for name, apply in MIGRATIONS:
        if name in done:
            continue
        with db.atomic():
            apply(db)
            db["_migrations"].insert({"name": name, "applied_at": now_ms()})
        applied.append(name)
    return applied


def attribute(db: sqlite_utils.Database, device_id: str, pressed_at: int,
              officer_shown: str | None) -> tuple[str | None, str]:
    """Who a press belongs to: (officer or None, "roster" | "device" | "none").

    The roster decides: the officer on duty at the counter the device stood at when pressed.
    Where the roster names nobody, the officer the device showed (if they exist) is kept,
    marked "device", so a leader can tell a press the roster vouches for from one it does not.
    Ingest and roster corrections (collector/roster.py) both call this one rule; a correction
    passes no shown officer, because the device showed whoever the wrong roster named.
    """
    row = db.execute(
        "SELECT r.officer_id FROM device_placements p JOIN roster_shifts r "
        "ON r.counter_id = p.counter_id WHERE p.device_id = ? "
        "AND p.starts_at <= ? AND (p.ends_at IS NULL OR p.ends_at > ?) "
        "AND r.replaced_at IS NULL AND r.starts_at <= ? AND (r.ends_at IS NULL OR r.ends_at > ?) "
        "ORDER BY r.starts_at DESC LIMIT 1",
        [device_id, pressed_at, pressed_at, pressed_at, pressed_at]).fetchone()
    if row:
        return row[0], "roster"
    if officer_shown and db.execute("SELECT 1 FROM officers WHERE id = ?",
                                    [officer_shown]).fetchone():
        return officer_shown, "device"
    return None, "none"


@contextmanager
def write_transaction(db: sqlite_utils.Database) -> Iterator[None]:
    """One transaction holding the write lock from its first statement; nested: a savepoint.

    A deferred BEGIN would check things under a shared lock (an id free, no overlapping shift,
    the last audit hash) and could then fail to upgrade, or act on a stale read, when another
    writer got in between; BEGIN IMMEDIATE makes what was checked still hold at commit.
    """
    if db.conn.in_transaction:
        with db.atomic():
            yield
        return
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        with db.atomic():
            yield
        db.conn.execute("COMMIT")
    except BaseException:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise


class UnknownEntity(ValueError):
    """A write named a unit, officer, counter or device that does not exist."""


class DuplicateEntity(ValueError):
    """A write would create something whose id is already taken."""


class Store:
    """Write access to the database. Not thread-safe: give it to one thread."""

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS):
        self.path = Path(path)
        self.db = connect(self.path, busy_timeout_ms=busy_timeout_ms)
        self.db.enable_wal()
        # NORMAL is durable in WAL mode against process crashes (the case the ingest promises);
        # a power cut may lose the last commit, which the broker then redelivers.
        self.db.conn.execute("PRAGMA synchronous = NORMAL")
        migrate(self.db)

    def close(self) -> None:
        self.db.conn.close()

    # --- organisation -------------------------------------------------------------------

    def upsert_unit(self, unit_id: str, name: str, parent_id: str | None = None, *,
                    kind: str | None = None, head_id: str | None = None,
                    outstanding: bool = False) -> None:
        if parent_id is not None:
            self._require("units", parent_id)
        if head_id is not None:
            self._require("officers", head_id)
        with self.db.atomic():
            self.db["units"].upsert({"id": unit_id, "name": name, "parent_id": parent_id,
                                     "kind": kind, "head_id": head_id,
                                     "outstanding": int(bool(outstanding))}, pk="id")

    def upsert_officer(self, officer_id: str, name: str, title: str, unit_id: str, *,
                       leader_id: str | None = None, photo: str | None = None,
                       active_from: str | None = None, active_to: str | None = None) -> None:
        self._require("units", unit_id)
        if leader_id is not None and leader_id != officer_id:
            self._require("officers", leader_id)
        with self.db.atomic():
            self.db["officers"].upsert({"id": officer_id, "name": name, "title": title,
                                        "unit_id": unit_id, "leader_id": leader_id,
                                        "photo": photo, "active_from": active_from,
                                        "active_to": active_to}, pk="id")

    def upsert_counter(self, counter_id: str, label: str, unit_id: str) -> None:
        self._require("units", unit_id)
        with self.db.atomic():
            self.db["counters"].upsert({"id": counter_id, "label": label, "unit_id": unit_id},
                                       pk="id")

    def register_device(self, device_id: str, counter_id: str, scale: int = 4, *,
                        at: int | None = None) -> None:
        """Register a device at a counter, or move it; its first registration time is kept."""
        self._require("counters", counter_id)
        at = now_ms() if at is None else at
        with self.db.atomic():
            self.db["devices"].insert({"id": device_id, "counter_id": counter_id,
                                       "scale": scale, "registered_at": at},
                                      pk="id", ignore=True)
            self.db["devices"].update(device_id, {"counter_id": counter_id, "scale": scale,
                                                  "retired_at": None})
            self._place(device_id, counter_id, at)

    def _place(self, device_id: str, counter_id: str, at: int) -> None:
        """Record that the device serves `counter_id` from `at`, unless it already does."""
        current = self.db.execute("SELECT counter_id FROM device_placements WHERE device_id = ? "
                                  "AND ends_at IS NULL", [device_id]).fetchone()
        if current and current[0] == counter_id:
            return
        self.db.execute("UPDATE device_placements SET ends_at = max(starts_at, ?) "
                        "WHERE device_id = ? AND ends_at IS NULL", [at, device_id])
        self.db.execute("INSERT INTO device_placements (device_id, counter_id, starts_at) "
                        "VALUES (?, ?, ?)", [device_id, counter_id, at])

    # --- device registry ----------------------------------------------------------------

    def add_device(self, device_id: str, counter_id: str, scale: int, password_hash: str, *,
                   at: int | None = None) -> None:
        """Register a new device with its first credentials, in one transaction.

        An id ever registered is refused, retired or not: rating ids are `{device}:{boot}:{seq}`
        and a new board starts counting boots again, so a reused id would make its first
        ratings look like redeliveries of the old board's and be dropped as duplicates.
        The counter's roster is the counter's: it is not touched, and the new device follows
        it (its ratings go to whoever the roster has on duty at the counter).
        """
        self._require("counters", counter_id)
        at = now_ms() if at is None else at
        with self.db.atomic():
            if self.db.execute("SELECT 1 FROM devices WHERE id = ?", [device_id]).fetchone():
                raise DuplicateEntity(f"device {device_id!r} is already registered")
            self.db["devices"].insert({"id": device_id, "counter_id": counter_id,
                                       "scale": scale, "registered_at": at})
            self.db["device_credentials"].insert({"device_id": device_id,
                                                  "password_hash": password_hash,
                                                  "issued_at": at})
            self._place(device_id, counter_id, at)

    def set_device_password(self, device_id: str, password_hash: str, *,
                            at: int | None = None) -> None:
        """Replace an active device's credentials; the previous hash is gone for good."""
        at = now_ms() if at is None else at
        with self.db.atomic():
            if not self._is_active_device(device_id):
                raise UnknownEntity(f"no active device with id {device_id!r}")
            self.db["device_credentials"].upsert({"device_id": device_id,
                                                  "password_hash": password_hash,
                                                  "issued_at": at}, pk="device_id")

    def retire_device(self, device_id: str, *, at: int | None = None) -> None:
        """Take a device out of service: its ratings stay, its credentials and placement end.

        The counter's roster is the counter's, not the device's: it stays for a replacement.
        """
        at = now_ms() if at is None else at
        with self.db.atomic():
            retired = self.db.execute("UPDATE devices SET retired_at = ? WHERE id = ? "
                                      "AND retired_at IS NULL", [at, device_id])
            if retired.rowcount != 1:
                raise UnknownEntity(f"no active device with id {device_id!r}")
            self.db.execute("DELETE FROM device_credentials WHERE device_id = ?", [device_id])
            self.db.execute("UPDATE device_placements SET ends_at = max(starts_at, ?) "
                            "WHERE device_id = ? AND ends_at IS NULL", [at, device_id])

    def open_assignment(self, device_id: str) -> dict | None:
        """The roster shift on duty now at the device's counter, or None (closed)."""
        at = now_ms()
        rows = list(self.db.query(
            "SELECT r.officer_id, r.starts_at FROM roster_shifts r JOIN devices d "
            "ON d.counter_id = r.counter_id WHERE d.id = ? AND r.replaced_at IS NULL "
            "AND r.starts_at <= ? AND (r.ends_at IS NULL OR r.ends_at > ?) "
            "ORDER BY r.starts_at DESC LIMIT 1", [device_id, at, at]))
        return rows[0] if rows else None

    def assign(self, device_id: str, officer_id: str | None, at: int | None = None, *,
               actor: str = "system") -> None:
        """Staff the device's counter with `officer_id` from `at` until further notice.

        The shift open at `at` ends there; None leaves the counter closed. A shortcut over the
        roster for seeding and the simulator: it does not re-attribute ratings (the roster
        service, collector/roster.py, does that for corrections of the past).
        """
        self._require("devices", device_id)
        if officer_id is not None:
            self._require("officers", officer_id)
        at = now_ms() if at is None else at
        with self.db.atomic():
            counter_id = self.db.execute("SELECT counter_id FROM devices WHERE id = ?",
                                         [device_id]).fetchone()[0]
            self._staff(counter_id, officer_id, at, actor=actor)

    def _staff(self, counter_id: str, officer_id: str | None, at: int, *, actor: str) -> None:
        self.db.execute("UPDATE roster_shifts SET ends_at = ? WHERE counter_id = ? "
                        "AND replaced_at IS NULL AND starts_at < ? "
                        "AND (ends_at IS NULL OR ends_at > ?)", [at, counter_id, at, at])
        if officer_id is not None:
            self.db.execute("INSERT INTO roster_shifts (counter_id, officer_id, starts_at, "
                            "created_at, created_by) VALUES (?, ?, ?, ?, ?)",
                            [counter_id, officer_id, at, now_ms(), actor])

    # --- task records (validated by collector/tasks.py) ----------------------------------

    def add_task(self, *, officer_id: str, title: str, assigned_by: str, period: str,
                 deadline: str, weight: float, at: int) -> int:
        """Store a new task; return its id."""
        self._require("officers", officer_id)
        self._require("officers", assigned_by)
        with self.db.atomic():
            cursor = self.db.execute(
                "INSERT INTO tasks (officer_id, title, assigned_by, period, deadline, weight, "
                "progress, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?)",
                [officer_id, title, assigned_by, period, deadline, weight, at, at])
            return cursor.lastrowid

    def update_task(self, task_id: int, *, progress: int, note: str | None,
                    completed_on: str | None, actor: str, at: int) -> None:
        """Set a task's progress, note and completion date; keep the update in its history."""
        with self.db.atomic():
            updated = self.db.execute(
                "UPDATE tasks SET progress = ?, progress_note = ?, completed_on = ?, "
                "updated_at = ? WHERE id = ?", [progress, note, completed_on, at, task_id])
            if updated.rowcount != 1:
                raise UnknownEntity(f"no task with id {task_id!r}")
            self.db.execute("INSERT INTO task_updates (task_id, at, actor, progress, note, "
                            "completed_on) VALUES (?, ?, ?, ?, ?, ?)",
                            [task_id, at, actor, progress, note, completed_on])

    def add_task_flag(self, task_id: int, kind: str, reason: str, *, actor: str,
                      at: int) -> int:
        """Record a major quality error or an excused delay on a task; return the flag's id."""
        with self.db.atomic():
            if not self.db.execute("SELECT 1 FROM tasks WHERE id = ?", [task_id]).fetchone():
                raise UnknownEntity(f"no task with id {task_id!r}")
            cursor = self.db.execute(
                "INSERT INTO task_flags (task_id, kind, reason, actor, at) VALUES (?, ?, ?, ?, ?)",
                [task_id, kind, reason, actor, at])
            self.db.execute("UPDATE tasks SET updated_at = ? WHERE id = ?", [at, task_id])
            return cursor.lastrowid

    def _require(self, table: str, key: str) -> None:
        if not self.db.execute(f"SELECT 1 FROM [{table}] WHERE id = ?", [key]).fetchone():
            raise UnknownEntity(f"no {table[:-1]} with id {key!r}")

    # --- ingest -------------------------------------------------------------------------

    def record_batch(self, batch: Iterable[Incoming]) -> dict[str, int]:
        """Store a batch in one transaction; return counts of stored/duplicate/rejected/status."""
        outcome = {"stored": 0, "duplicate": 0, "rejected": 0, "status": 0}
        with self.db.atomic():
            for item in batch:
                outcome[self._record_one(item)] += 1
            for name in ("stored", "duplicate", "rejected"):
                if outcome[name]:
                    self.db.execute(
                        "INSERT INTO ingest_totals(name, value) VALUES (?, ?) "
                        "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
                        [name, outcome[name]])
        return outcome

    def _record_one(self, item: Incoming) -> str:
        parsed = item.parsed
        if isinstance(parsed, Rejection):
            return self._reject(item, parsed.reason, parsed.device)
        if not self._is_active_device(parsed.device):
            return self._reject(item, "unknown_device", parsed.device)
        self.db.execute("INSERT INTO device_status(device_id, last_seen) VALUES (?, ?) "
                        "ON CONFLICT(device_id) DO UPDATE SET last_seen = excluded.last_seen",
                        [parsed.device, item.received_at])
        if isinstance(parsed, Status):
            self._record_status(parsed, item.received_at)
            return "status"
        return self._record_rating(parsed, item.received_at)

    def _reject(self, item: Incoming, reason: str, device: str | None) -> str:
        self.db["rejected"].insert({"received_at": item.received_at, "topic": item.topic,
                                    "device_id": device, "reason": reason,
                                    "payload": item.payload})
        return "rejected"

    def _is_active_device(self, device_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM devices WHERE id = ? AND retired_at IS NULL",
                               [device_id]).fetchone() is not None

    def _record_status(self, status: Status, received_at: int) -> None:
        self._record_online_span(status.device, status.state == "online", received_at)
        row = {k: v for k, v in asdict(status).items() if k != "device"}
        row["status_at"] = received_at
        if status.state == "online":
            row["online_status_at"] = received_at
        else:
            # The last will carries only the state; keep the last known figures beside it.
            row = {"state": "offline", "status_at": received_at}
        sets = ", ".join(f"{key} = :{key}" for key in row)
        self.db.execute(f"UPDATE device_status SET {sets} WHERE device_id = :device_id",
                        {**row, "device_id": status.device})

    def _record_online_span(self, device_id: str, online: bool, at: int) -> None:
        """Extend, close or open the device's online stretch (see MAX_SILENCE_MS)."""
        span = self.db.execute("SELECT id, last_seen_at FROM device_online_spans "
                               "WHERE device_id = ? AND ended_at IS NULL", [device_id]).fetchone()
        if span is not None:
            span_id, last_seen = span
            silent_end = last_seen + MAX_SILENCE_MS
            if online and at <= silent_end:
                self.db.execute("UPDATE device_online_spans SET last_seen_at = max(last_seen_at, ?) "
                                "WHERE id = ?", [at, span_id])
                return
            # A will ends the stretch when it came; silence ends it at the allowance.
            self.db.execute("UPDATE device_online_spans SET ended_at = max(last_seen_at, ?) "
                            "WHERE id = ?", [min(at, silent_end), span_id])
        if online:
            self.db.execute("INSERT INTO device_online_spans (device_id, starts_at, last_seen_at) "
                            "VALUES (?, ?, ?)", [device_id, at, at])

    def _anchor(self, device_id: str) -> BootAnchor | None:
        row = self.db.execute("SELECT boot, uptime_ms, online_status_at FROM device_status "
                              "WHERE device_id = ? AND online_status_at IS NOT NULL",
                              [device_id]).fetchone()
        return BootAnchor(*row) if row else None

    def _attribute(self, device_id: str, pressed_at: int,
                   officer_shown: str | None) -> tuple[str | None, str]:
        return attribute(self.db, device_id, pressed_at, officer_shown)

    def _record_rating(self, rating: Rating, received_at: int) -> str:
        if self.db.execute("SELECT 1 FROM ratings WHERE id = ?", [rating.id]).fetchone():
            return "duplicate"
        pressed_at, time_source = place_press(ts=rating.ts, boot=rating.boot,
                                              uptime_ms=rating.uptime_ms,
                                              anchor=self._anchor(rating.device),
                                              received_at=received_at)
        officer_id, attribution = self._attribute(rating.device, pressed_at, rating.officer)
        self.db["ratings"].insert({
            "id": rating.id, "device_id": rating.device, "boot": rating.boot, "seq": rating.seq,
            "level": rating.level, "scale": rating.scale, "officer_shown": rating.officer,
            "officer_id": officer_id, "attribution": attribution,
            "uptime_ms": rating.uptime_ms, "device_ts": rating.ts, "pressed_at": pressed_at,
            "time_source": time_source, "received_at": received_at, "fw": rating.fw,
            "reason": rating.reason, "dossier": rating.dossier, "excluded": rating.excluded,
        })
        return "stored"
