"""Keeping the ingest's threads alive, and saying when the ingest is not well.

The ingest runs four units of work, each on its own thread: the network loop (paho), the
writer (commit, acknowledge, confirm: collector/ingest/subscriber.py), the alert detector
(collector/ingest/alerting.py) and the assignment publisher (collector/ingest/assignments.py).
One that stops unexpectedly is restarted by a small supervisor thread, with a log line and a
count. No exception raised by one message can stop a thread (each catches and isolates those);
this is the last line for the rest: a bug, a `SystemExit` raised in a library, a thread ended
by accident.

`health_reasons` turns the ingest's state into the reasons `/api/v1/health` reports as
`degraded` (HTTP 503). Each reason is a fixed code a monitor can match:

- `broker_not_connected`: not connected and subscribed to the broker.
- `broker_subscription_refused`: the broker refused the collector's subscriptions (SUBACK 0x80:
  an ACL, or a cluster node whose JetStream is not ready); the collector drops that connection
  and tries the next node with a growing backoff (collector/ingest/failover.py) until they are
  granted. `subscription_refused` in the state says with what reason code.
- `broker_session_lost`: the broker answered a connect with `session present: false` although
  this client id had subscribed before (recorded in the database, table `ingest_sessions`), so
  whatever the broker held for the collector is gone. Devices with the confirmation ("ack")
  resend what was not confirmed; older firmware's ratings may be lost. Reported for
  SESSION_LOST_DEGRADED_MS after the loss (long enough for any monitor polling every few
  minutes to raise it, also across a restart of the collector, which reads the time back);
  the loss stays in the database (`lost_count`, `last_lost_at`) and in health's `broker`.
- `writer_retrying`: the database refuses a commit (locked, full, read-only, I/O error); the
  messages stay unacknowledged and the writer retries (`store_error` says why).
- `messages_waiting`: a message has waited uncommitted longer than UNCOMMITTED_GRACE_S.
- `writer_stuck`: the writer thread has not come round its loop for WRITER_STUCK_S (it waits
  at most a fraction of a second for messages, and SQLite's busy timeout is 30 s).
- `alerts_failing`: the last alert check raised (its windows went unchecked); cleared by the
  next check that passes. Ratings are stored and acknowledged all the same.
- `assignments_failing`: the last round of assignment publishing raised; retried every poll.
- `offline_watch_failing`: the last round of the shift watch (devices offline during roster
  shifts, collector/ingest/offline_watch.py) raised; cleared only by a round of it that
  passes, not by the burst checks beside it. Retried every 30 s.
- `receiving_record_failing`: the last record of when the collector is receiving (a mark of
  its span, or the span opened on subscribing; collector/ingest/receiving.py) failed; cleared
  by the next one that succeeds. While it lasts, duty time reads unknown and the shift watch
  blames nobody.
- `thread_stopped:{name}`: a supervised thread (`network`, `writer`, `alerts`, `assignments`)
  is not running (until it is restarted).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Callable

log = logging.getLogger("hailong.supervision")

UNCOMMITTED_GRACE_S = 10.0
WRITER_STUCK_S = 60.0
SESSION_LOST_DEGRADED_MS = 15 * 60_000


@dataclass
class _Watched:
    name: str
    alive: Callable[[], bool]
    restart: Callable[[], None]


@dataclass
class Supervisor:
    """Checks every `interval_s` that each watched thread is alive; restarts those that are not."""
    stopping: threading.Event
    interval_s: float = 1.0
    restarts: dict[str, int] = field(default_factory=dict)
    _watched: list[_Watched] = field(default_factory=list)
    _thread: threading.Thread | None = None

    def watch(self, name: str, alive: Callable[[], bool], restart: Callable[[], None]) -> None:
        self._watched.append(_Watched(name, alive, restart))
        self.restarts.setdefault(name, 0)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="hailong-supervisor",
                                        daemon=True)
        self._thread.start()

    def join(self, timeout: float) -> None:
        if self._thread:
            self._thread.join(timeout)

    def stopped(self) -> list[str]:
        """Names of watched threads not running now."""
        return [w.name for w in self._watched if not self._is_alive(w)]

    def check(self) -> None:
        """One round: restart what has stopped (the supervisor's loop calls this)."""
        for watched in self._watched:
            if self.stopping.is_set() or self._is_alive(watched):
                continue
            log.error("the %s thread has stopped; restarting it", watched.name)
            try:
                watched.restart()
                self.restarts[watched.name] += 1
            except Exception:  # noqa: BLE001 - a failed restart is retried next round
                log.exception("cannot restart the %s thread; trying again", watched.name)

    def _run(self) -> None:
        while not self.stopping.wait(self.interval_s):
            self.check()

    @staticmethod
    def _is_alive(watched: _Watched) -> bool:
        try:
            return bool(watched.alive())
        except Exception:  # noqa: BLE001 - a probe that fails says "not alive"
            log.exception("cannot tell whether the %s thread runs", watched.name)
            return False


@dataclass(frozen=True)
class IngestState:
    """What health needs to know of the ingest, read at one moment."""
    connected: bool
    session_lost_at: int | None
    store_error: str | None
    oldest_waiting_s: float | None
    writer_idle_s: float
    stopped: list[str]
    failing: list[str] = field(default_factory=list)  # units whose last round raised
    # The reason code of the last refused subscription, until one is granted.
    subscription_refused: str | None = None
    # The node connected and subscribed to ("mqtt://HOST:PORT", no credentials), or None.
    broker_address: str | None = None


def health_reasons(state: IngestState, now_ms: int) -> list[str]:
    """The reasons the ingest is degraded; empty when it is well (see the module docstring)."""
    reasons = []
    if not state.connected:
        reasons.append("broker_not_connected")
    if state.subscription_refused is not None:
        reasons.append("broker_subscription_refused")
    if state.session_lost_at is not None and \
            now_ms - state.session_lost_at < SESSION_LOST_DEGRADED_MS:
        reasons.append("broker_session_lost")
    if state.store_error is not None:
        reasons.append("writer_retrying")
    if state.oldest_waiting_s is not None and state.oldest_waiting_s > UNCOMMITTED_GRACE_S:
        reasons.append("messages_waiting")
    if state.writer_idle_s > WRITER_STUCK_S:
        reasons.append("writer_stuck")
    reasons += [f"{name}_failing" for name in state.failing]
    reasons += [f"thread_stopped:{name}" for name in state.stopped]
    return reasons
