"""Keeping each device's retained assignment current, as the ingest's own unit of work.

Who staffs a counter changes in the duty roster and the registry, often from another process
(the CLI, the API), so a thread of its own polls every `poll_s` and publishes, retained, each
assignment that changed (collector/ingest/outbound.py). On every connect to the broker the
network thread only asks for a full round (`publish_all_soon`): the thread, not the network
loop, reads the database and publishes, so a slow read never delays a message's parsing.

A round that fails is logged and tried again (a full round stays due until one passes); health
says `assignments_failing` meanwhile. The thread is watched by collector/ingest/supervision.py
(`thread_stopped:assignments` until it is restarted).
"""

from __future__ import annotations

import logging
import threading

import paho.mqtt.client as mqtt

from collector.ingest.outbound import Assignments

log = logging.getLogger("hailong.ingest")


class AssignmentPublisher:
    """Publishes the assignments that changed every `poll_s`, and all of them on request."""

    name = "assignments"

    def __init__(self, client: mqtt.Client, store_path: str, *, connected: threading.Event,
                 stopping: threading.Event, poll_s: float = 10.0):
        self.assignments = Assignments(client, store_path)
        self.poll_s = poll_s
        self._connected = connected
        self._stopping = stopping
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._all_due = False
        self._thread: threading.Thread | None = None
        # Why the last round failed (None once one passes): health's `assignments_failing`.
        self.failing: str | None = None

    def publish_all_soon(self) -> None:
        """Ask for a round that publishes every assignment again (after a connect: the broker
        may have lost the retained copies). Returns at once; safe from any thread."""
        with self._lock:
            self._all_due = True
        self._wake.set()

    # --- lifecycle (the ingest and its supervisor) -----------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="hailong-assignments",
                                        daemon=True)
        self._thread.start()

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def join(self, timeout: float) -> None:
        self._wake.set()  # the ingest has set `stopping`: end the wait now
        if self._thread:
            self._thread.join(timeout)

    # --- the thread ------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping.is_set():
            if self._all_due or self._connected.is_set():
                self._round()
            self._wake.wait(self.poll_s)
            self._wake.clear()

    def _round(self) -> None:
        with self._lock:
            everything, self._all_due = self._all_due, False
        passed = False
        try:
            self.assignments.publish(everything)
            passed = True
        except Exception as error:  # noqa: BLE001 - the next round tries again
            log.exception("cannot publish the assignments")
            self.failing = f"{type(error).__name__}: {error}"
        finally:
            if everything and not passed:  # also when the thread ends here: still due
                with self._lock:
                    self._all_due = True
        if passed:
            self.failing = None
