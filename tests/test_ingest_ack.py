"""The collector's end-to-end confirmation ("ack", docs/protocol.md) on a real Mosquitto."""

from __future__ import annotations

import json
import queue
import uuid

import paho.mqtt.client as mqtt
import pytest
from factories import rating_bytes
from waiting import wait_for

from collector.core.settings import BrokerAddress
from collector.ingest.subscriber import Ingest

DEVICE = "kiosk-hk-01"


class Device:
    """A stand-in device: publishes on its rating topic, collects what arrives on its ack."""

    def __init__(self, port: int, device: str = DEVICE):
        self.device = device
        self.acks: queue.Queue[dict] = queue.Queue()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self.client.on_message = lambda c, u, m: self.acks.put(json.loads(m.payload))
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        wait_for(self.client.is_connected, what="the device's CONNACK")
        self.client.subscribe(f"hailong/v1/devices/{device}/ack", qos=1)

    def publish(self, payload: bytes, kind: str = "rating") -> None:
        self.client.publish(f"hailong/v1/devices/{self.device}/{kind}", payload,
                            qos=1).wait_for_publish(5)

    def confirmed(self, boot: int, count: int) -> list[int]:
        """The seqs confirmed for `boot`, in arrival order, once `count` arrived."""
        seqs: list[int] = []
        while len(seqs) < count:
            ack = self.acks.get(timeout=10)
            assert set(ack) == {"v", "boot", "seq"} and ack["v"] == 1
            assert ack["seq"] == sorted(set(ack["seq"]))
            if ack["boot"] == boot:
                seqs += ack["seq"]
        return seqs

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def running(mosquitto, seeded_db):
    ingest = Ingest(str(seeded_db), BrokerAddress("127.0.0.1", mosquitto.port),
                    client_id=f"test-{uuid.uuid4().hex[:8]}")
    ingest.start()
    assert ingest.wait_connected(10)
    device = Device(mosquitto.port)
    wait_for(lambda: device.client.is_connected(), what="the device to connect")
    yield ingest, device
    device.close()
    ingest.stop()


def test_stored_ratings_are_confirmed_by_seq(running):
    ingest, device = running
    for seq in (3, 4, 5):
        device.publish(rating_bytes(boot=7, seq=seq))
    assert sorted(device.confirmed(7, 3)) == [3, 4, 5]
    assert ingest.totals["stored"] == 3


def test_a_duplicate_is_confirmed_again(running):
    ingest, device = running
    device.publish(rating_bytes(boot=7, seq=1))
    assert device.confirmed(7, 1) == [1]
    device.publish(rating_bytes(boot=7, seq=1))
    assert device.confirmed(7, 1) == [1]
    assert ingest.totals["duplicate"] == 1


def test_a_rejected_rating_with_a_readable_id_is_confirmed(running):
    ingest, device = running
    device.publish(rating_bytes(boot=9, seq=2, level=9))  # out_of_range:level
    device.publish(b'{"v":1,"boot":9,"seq":3}')  # missing fields, but named
    device.publish(b'{"v":1,"boot":9}')  # cannot be named: never confirmed
    device.publish(rating_bytes(boot=9, seq=4))
    assert sorted(device.confirmed(9, 3)) == [2, 3, 4]
    wait_for(lambda: ingest.totals["rejected"] == 3, what="the three rejections")
    assert device.acks.empty()


def test_statuses_are_not_confirmed(running):
    ingest, device = running
    device.publish(json.dumps({"v": 1, "device": DEVICE, "state": "offline"}).encode(),
                   kind="status")
    device.publish(rating_bytes(boot=2, seq=0))
    assert device.confirmed(2, 1) == [0]
    assert ingest.totals["status"] == 1 and device.acks.empty()
