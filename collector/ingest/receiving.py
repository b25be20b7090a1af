"""The writer's record of when the collector is receiving, and whether that record holds.

Duty time the collector was not receiving reads "unknown" (collector/ratings/received.py) and
the shift watch blames nobody for it, so a record that silently stopped would turn offline
time into unknown time and stop the offline alerts while health said ok. The writer's
bookkeeping (collector/ingest/recording.py `note_session`, `note_receiving`) therefore goes
through a `ReceivingRecord`, which remembers whether its last write failed: `failing` is
health's `receiving_record_failing` (collector/ingest/subscriber.py `state`), set by a failed
mark or a failed "subscribed" and cleared by the next write that succeeds.

A "subscribed" that was not recorded opened no span, and a mark on no span records nothing
while succeeding: so the next beat records the subscription first, at its own time (marks
come only while connected, so the connection has lasted since; a "disconnected" drops it, a
new subscription replaces it). Failures are logged, never raised: bookkeeping must not stop
the writer. Used on the writer's thread only.
"""

from __future__ import annotations

import logging
import time
from typing import Callable

import sqlite_utils

from collector.ingest import recording
from collector.ingest.committer import Stopping

log = logging.getLogger("hailong.ingest")


class ReceivingRecord:
    """One collector's (client id's) receiving spans as the writer keeps them."""

    def __init__(self, client_id: str, *, beat_s: float = recording.RECEIVING_BEAT_S):
        self.client_id = client_id
        self.beat_s = beat_s  # how often a mark is written while connected
        self.failing = False  # the last write failed: health says so until one succeeds
        self._unopened: int | None = None  # a subscription (ms) whose span is not recorded
        self._beat: float | None = None  # time.monotonic() of the last mark tried

    def note_event(self, db: sqlite_utils.Database, event: str, at: int,
                   retrying: Callable[[Callable[[], None]], None] | None = None) -> None:
        """Record a broker session event (recording.note_session), through `retrying` (the
        committer's: a busy database is waited for) when given."""
        def write() -> None:
            recording.note_session(db, self.client_id, event, at)
        if event == "disconnected":  # the subscription waiting to be recorded has ended
            self._unopened = None
        try:
            retrying(write) if retrying else write()
        except Stopping:
            raise
        except Exception:  # noqa: BLE001 - bookkeeping must not stop the writer
            log.exception("cannot record the broker session event %s", event)
            if event == "subscribed":  # no span to mark: the next beat records it
                self._unopened, self.failing = at, True
            return
        if event == "subscribed":
            self._unopened, self.failing = None, False

    def mark(self, db: sqlite_utils.Database, connected: bool, at: int) -> None:
        """Mark the open span alive at `at` (unix ms), every `beat_s` while connected."""
        beat = time.monotonic()
        if not connected or (self._beat is not None and beat - self._beat < self.beat_s):
            return
        self._beat = beat
        try:
            if self._unopened is not None:
                recording.note_session(db, self.client_id, "subscribed", self._unopened)
                self._unopened = None
            recording.note_receiving(db, self.client_id, at)
            self.failing = False
        except Exception:  # noqa: BLE001 - a missed mark makes only time unknown, not offline
            self.failing = True
            log.exception("cannot mark the collector receiving")
