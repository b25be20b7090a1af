"""The SQLite database: opening it, migrating it, and the one way to write to it.

One writer owns a `Store` (the ingest thread, or a CLI command); readers open their own
connections (collector/db/reader.py). The database runs in WAL mode so readers never block
the writer. The schema is collector/db/schema.py; `migrate` applies what a database lacks.

Every write runs inside `write_transaction`: BEGIN IMMEDIATE, so what a write checked still
holds at commit, and a savepoint when nested, so a caller can group writes (a service's change
with its audit entry, an import's rows) into one commit. Not `with db.conn`: sqlite-utils
commits each of its own writes when no transaction is open yet.

The writes themselves live with the domain that owns each table: organisation
(collector/org/organisation.py), devices (collector/org/registry.py), the roster
(collector/roster/), tasks (collector/evaluation/tasks.py), the ingest
(collector/ingest/recording.py) and so on; docs/architecture.md has the map.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import sqlite_utils

from collector.db.schema import MIGRATIONS

BUSY_TIMEOUT_MS = 30_000


def now_ms() -> int:
    return int(time.time() * 1000)


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
        with write_transaction(db):
            apply(db)
            db["_migrations"].insert({"name": name, "applied_at": now_ms()})
        applied.append(name)
    return applied


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
    """A write named a unit, officer, counter, device or task that does not exist."""


class DuplicateEntity(ValueError):
    """A write would create something whose id is already taken."""


def require(db: sqlite_utils.Database, table: str, key: str | int) -> None:
    """UnknownEntity unless `table` (units, officers, counters, devices, tasks) has row `key`."""
    if not db.execute(f"SELECT 1 FROM [{table}] WHERE id = ?", [key]).fetchone():
        raise UnknownEntity(f"no {table[:-1]} with id {key!r}")


class Store:
    """The writer's connection: opened in WAL mode and migrated. Not thread-safe: give it to
    one thread. Writes are the domain modules' functions, given `store.db`."""

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
