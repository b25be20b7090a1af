"""The ingest on a real Mosquitto: a database that cannot commit holds messages unacknowledged."""

from __future__ import annotations

import sqlite3
import uuid

import paho.mqtt.client as mqtt
import pytest
from factories import rating_bytes
from waiting import wait_for

from collector.core.settings import BrokerAddress
from collector.ingest.subscriber import Ingest


def test_a_locked_database_delays_but_loses_nothing(mosquitto, seeded_db):
    ingest = Ingest(str(seeded_db), BrokerAddress("127.0.0.1", mosquitto.port),
                    client_id=f"test-{uuid.uuid4().hex[:8]}", busy_timeout_ms=100)
    ingest.start()
    blocker = sqlite3.connect(seeded_db, isolation_level=None)
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    try:
        assert ingest.wait_connected(10)
        blocker.execute("BEGIN IMMEDIATE")
        publisher.connect("127.0.0.1", mosquitto.port)
        publisher.loop_start()
        publisher.publish("hailong/v1/devices/kiosk-hk-01/rating", rating_bytes(seq=42),
                          qos=1).wait_for_publish(5)
        wait_for(lambda: ingest.store_error, what="the store error to be reported")
        assert "locked" in ingest.store_error
        assert ingest.totals["stored"] == 0
        blocker.execute("ROLLBACK")
        wait_for(lambda: ingest.totals["stored"] == 1, what="the retried commit")
        assert ingest.store_error is None
    finally:
        blocker.close()
        publisher.disconnect()
        publisher.loop_stop()
        ingest.stop()
    with sqlite3.connect(seeded_db) as conn:
        assert conn.execute("SELECT id FROM ratings").fetchall() == [("kiosk-hk-01:1:42",)]


def test_broker_addresses_parse_with_credentials():
    assert BrokerAddress.parse("mqtt://col:s3cret@10.0.0.5:1884") == \
        BrokerAddress("10.0.0.5", 1884, "col", "s3cret")
    assert BrokerAddress.parse("localhost") == BrokerAddress("localhost", 1883)


@pytest.mark.parametrize("bad", ["http://x:1", "mqtt://", "mqtt://:1883"])
def test_bad_broker_addresses_are_refused_clearly(bad):
    with pytest.raises(ValueError, match="mqtt://HOST:PORT"):
        BrokerAddress.parse(bad)
