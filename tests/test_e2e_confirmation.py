"""End-to-end confirmation on a real Mosquitto: the simulated kiosk (the firmware core) keeps
each rating until the real collector confirms it committed it, so a broker that loses its
store, its queue or the collector's session costs a resend, never a rating.

The broker is the one production runs (tests/mosquitto.py); "lost" is made by hand: the store
file deleted between a stop and a start, or a queue limit made stricter for one test.
"""

from __future__ import annotations

import sqlite3
import uuid

import pytest
from kiosk.sim import SimulatedKiosk
from mosquitto import Mosquitto
from waiting import wait_for

from collector.core.settings import BrokerAddress
from collector.ingest.subscriber import Ingest

DEVICE = "kiosk-hk-01"  # registered in the seeded database


def stored(db_path) -> list[str]:
    with sqlite3.connect(db_path) as conn:
        return [row[0] for row in conn.execute(
            "SELECT id FROM ratings WHERE device_id = ? ORDER BY id", (DEVICE,))]


def ids(boot: int, seqs) -> list[str]:
    return sorted(f"{DEVICE}:{boot}:{seq}" for seq in seqs)


class Collector:
    """The real ingest with a fixed client id, so its session outlives a stop and a start."""

    def __init__(self, db_path, port: int):
        self.db_path = db_path
        self.port = port
        self.client_id = f"collector-{uuid.uuid4().hex[:8]}"
        self.ingest: Ingest | None = None

    def start(self) -> "Collector":
        self.ingest = Ingest(str(self.db_path), BrokerAddress("127.0.0.1", self.port),
                             client_id=self.client_id)
        self.ingest.start()
        assert self.ingest.wait_connected(10), self.ingest.last_error
        return self

    def stop(self) -> None:
        if self.ingest is not None:
            self.ingest.stop()
            self.ingest = None


@pytest.fixture
def broker():
    broker = Mosquitto().start()
    yield broker
    broker.cleanup()


@pytest.fixture
def collector(broker, seeded_db):
    collector = Collector(seeded_db, broker.port)
    yield collector
    collector.stop()


def test_the_kiosk_keeps_a_rating_until_the_collector_has_committed_it(broker, collector,
                                                                       seeded_db):
    collector.start()
    kiosk = SimulatedKiosk(DEVICE, "127.0.0.1", broker.port, boot=21, cooldown_s=0).start()
    blocker = None
    try:
        assert kiosk.wait_until(lambda: kiosk.connected, 10)
        # The collector receives but cannot commit: the broker PUBACKs, nobody confirms.
        blocker = sqlite3.connect(seeded_db, timeout=1, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        for level in (4, 3):
            kiosk.press(level)
        assert kiosk.wait_until(lambda: kiosk.sent_acked == 2, 10)
        assert kiosk.queue_depth == 2 and kiosk.confirmed == 0
        blocker.execute("ROLLBACK")
        blocker.close()
        blocker = None
        assert kiosk.wait_until(lambda: kiosk.queue_depth == 0, 20), "confirmed once committed"
        assert kiosk.confirmed == 2
    finally:
        if blocker is not None:
            blocker.execute("ROLLBACK")
            blocker.close()
        kiosk.stop()
    assert stored(seeded_db) == ids(21, range(2))


@pytest.mark.parametrize("loss", ["store_deleted", "killed_before_saving"])
def test_a_broker_that_loses_its_whole_store_costs_only_a_resend(broker, collector, seeded_db,
                                                                 loss):
    """Ratings PUBACKed and queued for a collector that is down; the broker then comes back
    without its store (the collector's session and queue with it): stopped and its store file
    deleted, or killed before its first autosave (60 s). The kiosk resends what was never
    confirmed; each rating ends stored exactly once."""
    collector.start()
    kiosk = SimulatedKiosk(DEVICE, "127.0.0.1", broker.port, boot=22, cooldown_s=0).start()
    try:
        for level in (1, 2, 3):
            kiosk.press(level)
        assert kiosk.wait_until(lambda: kiosk.confirmed == 3, 20), "three delivered and confirmed"
        collector.stop()  # its persistent session keeps queueing in the broker
        for level in (4, 4, 2, 1, 3):
            kiosk.press(level)
        assert kiosk.wait_until(lambda: kiosk.sent_acked == 8, 10)
        assert kiosk.queue_depth == 5, "PUBACKed, not confirmed: still in the journal"
        if loss == "store_deleted":
            broker.stop()
            assert broker.store_path.exists()
            broker.store_path.unlink()  # the whole store: sessions, subscriptions, queues
        else:
            broker.kill()  # SIGKILL: nothing saved since it started
            assert not broker.store_path.exists()
        broker.start()
        collector.start()  # a new session: the old queue is gone with the store
        assert kiosk.wait_until(lambda: kiosk.queue_depth == 0, 30), "resent and confirmed"
    finally:
        kiosk.stop()
    assert stored(seeded_db) == ids(22, range(8))
    assert kiosk.device.connects >= 2


def test_a_collector_queue_that_overflows_costs_only_a_resend(seeded_db):
    """A collector down longer than its queue: the broker drops what does not fit (a limit made
    stricter for this test), the kiosk resends it when the confirmation does not come."""
    broker = Mosquitto(extra_config="max_queued_messages 2\n").start()
    collector = Collector(seeded_db, broker.port)
    kiosk = None
    try:
        collector.start()
        collector.stop()
        # Seconds, not a minute: the SimulatedKiosk takes the setting as given.
        kiosk = SimulatedKiosk(DEVICE, "127.0.0.1", broker.port, boot=23, cooldown_s=0,
                               confirm_timeout_s=1).start()
        for level in (1, 2, 3, 4, 1, 2):
            kiosk.press(level)
        assert kiosk.wait_until(lambda: kiosk.sent_acked >= 6, 10)
        wait_for(lambda: "Outgoing messages are being dropped" in broker.log_text(),
                 what="the broker to drop part of the collector's queue")
        collector.start()
        assert kiosk.wait_until(lambda: kiosk.queue_depth == 0, 60)
        assert kiosk.device.resent > 0 and kiosk.device.connects == 1
    finally:
        if kiosk is not None:
            kiosk.stop()
        collector.stop()
        broker.cleanup()
    assert stored(seeded_db) == ids(23, range(6))
