"""The writer thread's commit step: a batch in, every message of it with a committed outcome.

Two kinds of failure, told apart by `is_database_fault`:
- a fault of the database itself (locked, busy, disk full, read-only, I/O error, a damaged
  file): no message causes it and waiting may cure it, so the write is retried and the
  messages stay unacknowledged (the broker keeps them) while `on_fault` reports why;
- anything else comes with the data (a lone surrogate SQLite cannot encode, a constraint, a
  bug a message triggers): the batch is halved until the one message is found, which is kept
  in `rejected` as `internal_error:{Exception}` and so acknowledged; the rest is stored.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from typing import Callable, Generic, TypeVar

from collector.ingest.recording import OUTCOMES, Incoming, record_batch, record_failure
from collector.db.store import Store

log = logging.getLogger("hailong.ingest")

T = TypeVar("T")
Q = TypeVar("Q")


class Stopping(Exception):
    """The collector stops while a write waits for its retry: leave the rest unacknowledged."""


def is_database_fault(error: BaseException) -> bool:
    """True for errors of the database itself, which no message causes and a retry may cure.

    OperationalError is SQLite's class for its environment (locked, busy, disk full, read-only,
    I/O error, a missing table) and a bare DatabaseError is a damaged file. IntegrityError, a
    value SQLite cannot bind, a UnicodeEncodeError or a bug come with the data instead. A
    fault that is in fact the data's holds its batch and shows as `writer_retrying`: visible,
    never a silent loss.
    """
    # MemoryError: SQLite's SQLITE_NOMEM arrives as one, and so does Python's own shortage.
    return isinstance(error, (sqlite3.OperationalError, MemoryError)) or \
        type(error) is sqlite3.DatabaseError


class Committer(Generic[Q]):
    """Commits batches of queued items (each carrying an Incoming) through one Store."""

    def __init__(self, store: Store, stopping: threading.Event,
                 incoming_of: Callable[[Q], Incoming],
                 on_fault: Callable[[str | None], None], *,
                 write_lock: threading.Lock | None = None):
        self.store = store
        self.stopping = stopping
        self.incoming_of = incoming_of
        self.on_fault = on_fault  # the database fault being retried, None once a write passes
        # Held around each write: the ingest shares it with its alert detector, so the two
        # take turns at SQLite's write lock without its busy handler, which sleeps (1, 2, 5,
        # 10 … ms) before it looks again. Other processes still meet the busy timeout.
        self.write_lock = write_lock or threading.Lock()

    def record(self, batch: list[Q]) -> tuple[dict[str, int], list[Q]]:
        """Commit `batch`: (counts by outcome and `internal_errors`, the items committed).

        All of them unless the collector stops during a retry; the rest stays unacknowledged.
        """
        outcome = dict.fromkeys((*OUTCOMES, "internal_errors"), 0)
        committed: list[Q] = []
        parts = [batch]
        while parts:
            part = parts.pop(0)
            try:
                result = self.retrying(
                    lambda: record_batch(self.store.db, (self.incoming_of(item) for item in part)))
            except Stopping:
                break
            except Exception as error:  # noqa: BLE001 - not a database fault: the data's
                if len(part) > 1:
                    half = len(part) // 2
                    parts[0:0] = [part[:half], part[half:]]
                    continue
                outcome["internal_errors"] += 1
                if not self._keep_failure(part[0], error):
                    continue
                result = {"rejected": 1}
            for name, count in result.items():
                outcome[name] += count
            committed += part
        return outcome, committed

    def _keep_failure(self, item: Q, error: Exception) -> bool:
        incoming = self.incoming_of(item)
        log.error("a message on %r broke the writer (%s: %s); kept as rejected",
                  incoming.topic, type(error).__name__, error)
        delay = 0.5
        while True:
            try:
                self.retrying(lambda: record_failure(self.store.db, incoming, error))
                return True
            except Stopping:
                return False
            except Exception as failure:  # noqa: BLE001 - held, and said, until it can be kept
                # Skipping it would leave it unacknowledged and unseen, holding one of the
                # broker's in-flight slots: the writer waits here instead, and health says so.
                log.exception("cannot keep the message on %r even as rejected", incoming.topic)
                self.on_fault(f"{type(failure).__name__}: {failure}")
                if self.stopping.wait(delay):
                    return False
                delay = min(delay * 2, 30)

    def retrying(self, write: Callable[[], T]) -> T:
        """Run a write; on a database fault report it, wait and retry (doubling to 30 s)."""
        delay = 0.5
        while True:
            try:
                with self.write_lock:
                    result = write()
            except Exception as error:
                if not is_database_fault(error):
                    raise
                self.on_fault(f"{type(error).__name__}: {error}")
                log.error("cannot commit: %s; retrying", error)
                if self.stopping.wait(delay):
                    raise Stopping() from None
                delay = min(delay * 2, 30)
                continue
            self.on_fault(None)
            return result
