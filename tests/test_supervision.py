"""Supervision of the ingest's threads and the reasons health gives
(collector/ingest/supervision.py).

The rules are pure (a state in, reasons out) and tested here with literal states; the live
ingest's own tests (test_ingest_poison.py) kill real threads and watch them come back.
"""

from __future__ import annotations

import threading
import uuid

import pytest
from fastapi.testclient import TestClient
from mosquitto import free_port
from waiting import wait_for

from collector.app import create_app
from collector.core.settings import Settings
from collector.ingest.supervision import (
    SESSION_LOST_DEGRADED_MS,
    UNCOMMITTED_GRACE_S,
    WRITER_STUCK_S,
    IngestState,
    Supervisor,
    health_reasons,
)

NOW = 1_800_000_000_000
WELL = IngestState(connected=True, session_lost_at=None, store_error=None,
                   oldest_waiting_s=None, writer_idle_s=0.1, stopped=[])


def state(**changes) -> IngestState:
    return IngestState(**{**WELL.__dict__, **changes})


@pytest.mark.parametrize("changes, reasons", [
    ({}, []),
    ({"connected": False}, ["broker_not_connected"]),
    ({"session_lost_at": NOW - 1}, ["broker_session_lost"]),
    ({"session_lost_at": NOW - SESSION_LOST_DEGRADED_MS + 1}, ["broker_session_lost"]),
    ({"session_lost_at": NOW - SESSION_LOST_DEGRADED_MS}, []),
    ({"store_error": "OperationalError: database is locked"}, ["writer_retrying"]),
    ({"oldest_waiting_s": UNCOMMITTED_GRACE_S}, []),
    ({"oldest_waiting_s": UNCOMMITTED_GRACE_S + 0.1}, ["messages_waiting"]),
    ({"writer_idle_s": WRITER_STUCK_S + 1}, ["writer_stuck"]),
    ({"stopped": ["writer", "network"]}, ["thread_stopped:writer", "thread_stopped:network"]),
    ({"failing": ["alerts"]}, ["alerts_failing"]),
    ({"failing": ["assignments"], "stopped": ["alerts"]},
     ["assignments_failing", "thread_stopped:alerts"]),
    ({"connected": False, "store_error": "x", "oldest_waiting_s": 600.0},
     ["broker_not_connected", "writer_retrying", "messages_waiting"]),
])
def test_health_reasons(changes, reasons):
    assert health_reasons(state(**changes), NOW) == reasons


class FakeThread:
    def __init__(self, alive=True):
        self.alive = alive
        self.started = 0

    def restart(self):
        self.started += 1
        self.alive = True


def test_the_supervisor_restarts_only_what_stopped():
    running, stopped = FakeThread(), FakeThread(alive=False)
    supervisor = Supervisor(threading.Event())
    supervisor.watch("running", lambda: running.alive, running.restart)
    supervisor.watch("stopped", lambda: stopped.alive, stopped.restart)
    assert supervisor.stopped() == ["stopped"]
    supervisor.check()
    assert (running.started, stopped.started) == (0, 1)
    assert supervisor.restarts == {"running": 0, "stopped": 1} and supervisor.stopped() == []


def test_a_failing_restart_or_probe_is_tried_again_not_fatal():
    attempts = []

    def restart():
        attempts.append(1)
        raise OSError("no broker")

    def probe():
        raise RuntimeError("cannot tell")
    supervisor = Supervisor(threading.Event())
    supervisor.watch("network", probe, restart)
    supervisor.check()
    supervisor.check()
    assert len(attempts) == 2 and supervisor.restarts["network"] == 0
    assert supervisor.stopped() == ["network"]


def test_nothing_is_restarted_while_stopping():
    stopped = FakeThread(alive=False)
    stopping = threading.Event()
    stopping.set()
    supervisor = Supervisor(stopping)
    supervisor.watch("writer", lambda: stopped.alive, stopped.restart)
    supervisor.check()
    assert stopped.started == 0


def test_health_answers_503_with_reasons_while_degraded(seeded_db):
    # A broker that is not there: the collector keeps trying, health says why.
    app = create_app(Settings(db_path=seeded_db, broker_url=f"mqtt://127.0.0.1:{free_port()}",
                              client_id=f"test-{uuid.uuid4().hex[:8]}"))
    with TestClient(app) as client:
        response = client.get("/api/v1/health")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "degraded" and "broker_not_connected" in body["reasons"]
        assert body["broker"]["configured"] and not body["broker"]["connected"]


def test_health_answers_200_ok_when_well(seeded_db, mosquitto):
    app = create_app(Settings(db_path=seeded_db, broker_url=mosquitto.url,
                              client_id=f"test-{uuid.uuid4().hex[:8]}"))
    with TestClient(app) as client:
        wait_for(lambda: client.get("/api/v1/health").status_code == 200,
                 what="health to be ok once subscribed")
        body = client.get("/api/v1/health").json()
        assert (body["status"], body["reasons"], body["session_lost_at"]) == ("ok", [], None)
        assert body["threads"]["restarts"] == {"network": 0, "writer": 0, "alerts": 0,
                                               "assignments": 0}
