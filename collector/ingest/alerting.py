"""Alert detection as the ingest's own unit of work: committed ratings in, counter alerts out.

The writer (collector/ingest/subscriber.py) commits, acknowledges and confirms; then it wakes
the detector (`submit`), which returns at once. The detector's thread checks, on a connection
of its own, the ratings stored past its mark in the database (collector/ratings/
alert_progress.py) with collector/ratings/alerts.py (`check_after_batch`: the windows ending at
each new press, in press-time order), so neither a slow nor a failing check holds a rating
unacknowledged or stops the writer.

- Crash-safe: what is left to check is read from the database, not handed over in memory.
  The alerts a round raises and the mark past its ratings commit in one transaction, so a
  collector killed at any moment — after the writer's commit, before or during the check —
  checks at its next start exactly the ratings whose check did not commit, and raises nothing
  twice. A round runs at start, on every wake-up and every `poll_s`, so a lost wake-up delays
  a check and loses none.
- Rounds take at most MAX_CHECK ratings per transaction, in the order they were stored. A
  wake-up waits GATHER_S for more commits first, so a busy ingest is checked in few rounds.
- A check that raises is logged and its ratings are passed over (their windows go unchecked,
  as when the check ran in the writer); health says `alerts_failing` until a later check
  passes. A database fault (locked, disk full) instead leaves the mark where it was: those
  ratings are checked again at the next round, with `alerts_failing` meanwhile.
- The thread is watched by collector/ingest/supervision.py: stopped, it is restarted
  (`thread_stopped:alerts` meanwhile), and the new one starts with a round.
- At stop the ingest lets the writer finish first, then the detector runs a last round over
  everything committed before it ends (`finish`).
- Beside the ratings, the same thread watches the roster shifts for a counter's device
  offline beyond the policy's `[offline] alert_minutes` (collector/ingest/offline_watch.py,
  issue 12): at start, every `offline_every_s` and in the last round; time-driven, with its
  own mark in `alert_progress`. A database fault there is logged and retried next time. Its
  failure is its own (`watch_failing`, health's `offline_watch_failing`), cleared only by a
  round of the watch that passes: a burst check that passes says nothing about the watch.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from typing import Iterable

from collector.ratings import alert_progress, alerts
from collector.ratings.alert_rule import AlertRule
from collector.db.store import BUSY_TIMEOUT_MS, connect, now_ms, write_transaction
from collector.ingest.recording import Incoming
from collector.protocol.messages import Rating
from collector.ingest import offline_watch
from collector.evaluation.rules.offline import DEFAULT_OFFLINE_RULE, OfflineRule

log = logging.getLogger("hailong.alerts")

# Ratings checked in one transaction at most, when checks have queued up behind a busy
# database or a stopped collector: the writer's commits wait for the write lock meanwhile, so
# it must stay short.
MAX_CHECK = 2_000
# A round without a wake-up: what a lost wake-up, a failed round or another process's
# commits left unchecked is checked within this.
POLL_S = 5.0
# How long a wake-up waits for more commits before its round: at a few thousand ratings a
# second one round then checks hundreds instead of one batch (bench/ingest_ceiling.py).
GATHER_S = 0.25


class AlertDetector:
    """Checks committed ratings for counter alerts, on its own thread."""

    name = "alerts"

    def __init__(self, store_path: str, rule: AlertRule, *,
                 busy_timeout_ms: int = BUSY_TIMEOUT_MS, poll_s: float = POLL_S,
                 offline: OfflineRule | None = DEFAULT_OFFLINE_RULE,
                 offline_every_s: float = offline_watch.OFFLINE_EVERY_S,
                 write_lock: threading.Lock | None = None):
        self.store_path = store_path
        # The ingest's writer holds the same lock around its commits (committer.py): the two
        # threads take turns at the write lock instead of sleeping in SQLite's busy handler.
        self.write_lock = write_lock or threading.Lock()
        self.rule = rule
        self.offline = offline  # None: no shift watch
        self.offline_every_s = offline_every_s
        self._watched: float | None = None  # monotonic time of the last shift watch
        self.busy_timeout_ms = busy_timeout_ms
        self.poll_s = poll_s
        self.gather_s = min(GATHER_S, poll_s)
        self._wake = threading.Event()
        self._finishing = threading.Event()
        self._thread: threading.Thread | None = None
        # Why the last check failed (None once one passes): health's `alerts_failing`.
        self.failing: str | None = None
        # Why the last round of the shift watch failed (None once one passes): health's
        # `offline_watch_failing`.
        self.watch_failing: str | None = None
        self.checked = 0

    def submit(self, committed: Iterable[Incoming]) -> None:
        """The writer committed a batch (its thread; returns at once): wake the detector if the
        batch holds a rating. Which ratings to check the detector reads from the database."""
        # The first rating decides: no list of every id of a batch of a thousand.
        if any(isinstance(item, str) or isinstance(getattr(item, "parsed", None), Rating)
               for item in committed):
            self._wake.set()

    # --- lifecycle (the ingest and its supervisor) -----------------------------------------

    def start(self) -> None:
        self._wake.set()  # a round at start: what a stopped or killed detector left
        self._thread = threading.Thread(target=self._run, name="hailong-alerts", daemon=True)
        self._thread.start()

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def finish(self, timeout: float) -> None:
        """Check what is committed, then end (call once the writer has stopped committing)."""
        self._finishing.set()
        self._wake.set()
        if self._thread is not None and not self.alive():
            self.start()  # stopped and not yet restarted: what it left is checked all the same
        if self._thread:
            self._thread.join(timeout)

    # --- the thread ------------------------------------------------------------------------

    def _run(self) -> None:
        db = connect(self.store_path, busy_timeout_ms=self.busy_timeout_ms)
        try:
            while True:
                self._wake.wait(self.poll_s)
                # Let the commits of a busy moment gather for one round: a round costs
                # queries per counter touched whatever it checks (and a turn at the write lock
                # the writer waits for); at the ingest's stop, no waiting.
                self._finishing.wait(self.gather_s)
                self._wake.clear()  # before the round: a commit during it wakes another
                last = self._finishing.is_set()
                self._round(db)
                self._watch_shifts(db, force=last)
                if last:
                    return
        except Exception:
            log.exception("the alert detector failed; the supervisor restarts it")
            raise
        finally:
            db.conn.close()

    def _round(self, db) -> None:
        """Check the ratings past the mark, MAX_CHECK at a time, until none is left or the
        database fails (then the next round tries again)."""
        while self._pending(db) and self._check_next(db) == MAX_CHECK:
            pass

    def _watch_shifts(self, db, *, force: bool) -> None:
        """A round of the shift watch, when one is due (or `force`: the last round)."""
        started = time.monotonic()
        if self.offline is None or (not force and self._watched is not None
                                    and started - self._watched < self.offline_every_s):
            return
        self._watched = started
        try:
            with self.write_lock:
                offline_watch.check_offline_shifts(db, self.offline, now_ms())
        except sqlite3.Error as error:
            log.error("cannot watch the shifts for offline devices; the next round tries "
                      "again: %s", error)
            self.watch_failing = f"{type(error).__name__}: {error}"
        except Exception as error:  # noqa: BLE001 - the watch must not end the detector
            log.exception("cannot watch the shifts for offline devices")
            self.watch_failing = f"{type(error).__name__}: {error}"
        else:
            self.watch_failing = None

    def _pending(self, db) -> bool:
        # Read without the write lock: most rounds (the timer's) find nothing to do.
        try:
            return alert_progress.last_stored(db) > alert_progress.checked_through(db)
        except sqlite3.Error as error:
            self._failed(error, "cannot read how far alert detection has got")
            return False

    def _check_next(self, db) -> int:
        """Check the next ratings past the mark and move the mark past them, in one write
        transaction; return how many (0 when the database failed: nothing moved)."""
        failure: Exception | None = None
        try:
            with self.write_lock, write_transaction(db):
                batch = alert_progress.unchecked(db, MAX_CHECK)
                if not batch:
                    return 0
                try:
                    alerts.check_after_batch(db, [rating_id for _, rating_id in batch],
                                             self.rule, now_ms())
                except sqlite3.Error:
                    raise  # a database fault: nothing moves, the next round tries again
                except Exception as error:  # noqa: BLE001 - one check must not end the detector
                    # What the check wrote was undone (its own savepoint); the ratings are
                    # passed over: a check that fails on these data would fail every time.
                    log.exception("cannot check %d rating(s) for alerts", len(batch))
                    failure = error
                alert_progress.mark_checked(db, batch[-1][0])
        except sqlite3.Error as error:
            self._failed(error, "cannot check ratings for alerts; the next round tries again")
            return 0
        if failure is not None:
            self.failing = f"{type(failure).__name__}: {failure}"
        else:
            self.failing = None
            self.checked += len(batch)
        return len(batch)

    def _failed(self, error: sqlite3.Error, what: str) -> None:
        log.error("%s: %s", what, error)
        self.failing = f"{type(error).__name__}: {error}"
