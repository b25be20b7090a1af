"""The SQLite store: connection, migration (the schema is collector/db/schema.py) and writes.

One writer owns a `Store` (the ingest thread, or a CLI command); readers open their own
connections through `queries.open_reader`. The database runs in WAL mode so readers never
block the writer. `record_batch` writes a batch of parsed messages in one transaction and
returns only after the commit: the ingest acknowledges messages to the broker after it returns,
which is what makes a crash at any moment lose nothing.

Every write runs inside `db.atomic()`, not `with db.conn`: sqlite-utils commits each of its
own writes when no transaction is open yet, so only an explicit BEGIN keeps a batch together.
Ingest, registry and organisation writes live here; services with rules of their own (roster,
tasks, workflow, alerts, accounts) write their tables in their own module, each in one
`write_transaction` with its audit entry.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from contextlib import contextmanager
from typing import Iterable, Iterator

import sqlite_utils

from collector.protocol.messages import Rating, Rejection, Status
from collector.db.schema import MIGRATIONS

BUSY_TIMEOUT_MS = 30_000


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Incoming:
    """One message as it came off the wire, with what the pure parser made of it.

    `retained`: the broker replayed a retained message at subscribe (MQTT 3.1.1, 3.3.1.3),
    not something just published. `size` and `sha256` describe the payload as published when
    `payload` holds only a bounded prefix of it (None: `payload` is all of it). `redelivered`:
    the broker's DUP flag, set when it sends a message again that it may have sent before.
    """
    topic: str
    payload: bytes
    received_at: int
    parsed: Rating | Status | Rejection
    retained: bool = False
    size: int | None = None
    sha256: str | None = None
    redelivered: bool = False


# A device goes quiet this long after an online status before it counts as offline: statuses
# come every 60 s, so two lost ones are tolerated and a third is not (evidence.online_intervals).
MAX_SILENCE_MS = 180_000


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
    Ingest and roster corrections (collector/roster/shifts.py) both call this one rule; a correction
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


def is_active_device(db: sqlite_utils.Database, device_id: str) -> bool:
    """Registered and not retired: the devices whose messages count (ingest, registry)."""
    return db.execute("SELECT 1 FROM devices WHERE id = ? AND retired_at IS NULL",
                      [device_id]).fetchone() is not None


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
            if not is_active_device(self.db, device_id):
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
        service, collector/roster/shifts.py, does that for corrections of the past).
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

    # --- task records (validated by collector/evaluation/tasks.py) ----------------------------------

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

    # --- ingest (the rules live in collector/ingest/recording.py) ------------------------------

    def record_batch(self, batch: Iterable[Incoming]) -> dict[str, int]:
        """Store a batch in one transaction; return counts of stored/duplicate/rejected/status."""
        from collector.ingest.recording import record_batch
        return record_batch(self.db, batch)

    def record_failure(self, item: Incoming, error: BaseException) -> None:
        """Keep a message whose recording raised `error` in `rejected` (internal_error:Name)."""
        from collector.ingest.recording import record_failure
        record_failure(self.db, item, error)
