"""A subscription the broker refuses leaves the collector neither connected nor deaf: it says
so in health, drops the connection and subscribes again, with a growing backoff, until the
broker grants it (collector/ingest/failover.py; the firmware does the same,
tests/test_fw_suback_refused.py).

The refusal is a real one, made deterministic: a NATS Server node (as production's cluster
runs it, tests/nats_cluster.py, one node here) whose file gives the collector's user no right
to subscribe to the ratings, so it answers SUBACK 0x80 as it does when a recovering node cannot
create the subscription's JetStream consumer; then the file as `hailong broker-config --target
nats` writes it, and a reload. Not Mosquitto: its acl_file (2.0.11) grants every subscription
and filters on delivery (`topic deny` included), so it never refuses one.
"""

from __future__ import annotations

import sqlite3

import pytest
from kiosk.sim import SimulatedKiosk
from nats_cluster import NatsCluster
from waiting import wait_for

from collector.core.settings import BrokerAddress
from collector.db.store import Store
from collector.ingest.subscriber import Ingest
from collector.org.registry import Registry

COLLECTOR = "hailong-collector"
COLLECTOR_PASSWORD = "collector-secret-0123456789"
DEVICE = "kiosk-sr-01"
GRANT = 'subscribe: {allow: ["hailong.v1.devices.*.rating", '


@pytest.fixture
def registry(seeded_db):
    store = Store(seeded_db)
    registry = Registry(store)
    registry.password = registry.add(DEVICE, "hk-q1").password
    yield registry
    store.close()


def test_a_refused_subscription_is_reported_and_retried_until_granted(registry, seeded_db):
    node = NatsCluster(registry.db, collector_user=COLLECTOR,
                       collector_password=COLLECTOR_PASSWORD, size=1)
    text = node.conf(0).read_text()
    assert text.count(GRANT) == 1, "the collector's subscribe permission moved"
    node.conf(0).write_text(text.replace(GRANT, 'subscribe: {allow: ['))
    ingest = Ingest(str(seeded_db), BrokerAddress("127.0.0.1", node.mqtt_port(0), COLLECTOR,
                                                  COLLECTOR_PASSWORD), client_id=COLLECTOR)
    kiosk = None
    try:
        node.start()
        ingest.start()
        # Refused twice: the connection was dropped and the subscription asked for again.
        wait_for(lambda: ingest.failover.refusals >= 2, timeout=30,
                 what="the subscription refused on two connections")
        reasons = ingest.health_reasons()
        assert reasons == ["broker_not_connected", "broker_subscription_refused"], reasons
        assert ingest.broker_address is None
        assert ingest.last_error.startswith("subscription refused"), ingest.last_error
        node.regenerate(registry.db)  # the permissions as broker-config writes them
        node.reload()
        assert ingest.wait_connected(60), ingest.last_error
        assert ingest.health_reasons() == [] and ingest.failover.refused is None
        assert ingest.broker_address == node.url(0)
        kiosk = SimulatedKiosk(DEVICE, "127.0.0.1", node.mqtt_port(0), username=DEVICE,
                               password=registry.password, boot=5, cooldown_s=0).start()
        kiosk.press(4)
        assert kiosk.wait_until(lambda: kiosk.confirmed == 1 and kiosk.queue_depth == 0, 30)
    finally:
        if kiosk is not None:
            kiosk.stop()
        ingest.stop()
        node.cleanup()
    with sqlite3.connect(seeded_db) as conn:
        assert conn.execute("SELECT id FROM ratings WHERE device_id = ?",
                            [DEVICE]).fetchall() == [(f"{DEVICE}:5:0",)]
