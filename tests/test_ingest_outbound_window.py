"""The collector's own QoS 1 messages (confirmations, assignments) are not paced by paho.

In a backlog storm (bench/backlog_storm.py) the collector publishes about one confirmation per
rating. paho's default window of 20 messages in flight let 20 through per round trip, and a
busy collector's round trip includes reading the storm ahead of the broker's PUBACK: the
confirmations fell minutes behind and the devices resent what they had not seen confirmed.
The broker's PUBACK of each is taken without paho's per-packet decoding.
"""

from __future__ import annotations

import socket

import paho.mqtt.client as mqtt
import pytest

from collector.ingest.mqttclient import IngestClient


@pytest.fixture
def wired():
    """An IngestClient on one end of a socket pair, as paho leaves it after the CONNACK."""
    mine, broker = socket.socketpair()
    mine.setblocking(False)
    broker.settimeout(5)
    client = IngestClient(mqtt.CallbackAPIVersion.VERSION2, client_id="t", manual_ack=True)
    client._sock = mine
    yield client, broker
    mine.close()
    broker.close()


def received_publishes(broker: socket.socket, expected: int) -> int:
    stream = b""
    while stream.count(b"\x32\x0c\x00\x08hailong/") < expected:
        stream += broker.recv(65536)
    return stream.count(b"\x32\x0c\x00\x08hailong/")


def test_every_confirmation_goes_out_at_once_not_twenty_per_round_trip(wired):
    client, broker = wired
    infos = [client.publish("hailong/", b"", qos=1) for _ in range(100)]  # 14-byte packets
    client.loop_write()
    assert received_publishes(broker, 100) == 100
    assert all(info.rc == mqtt.MQTT_ERR_SUCCESS for info in infos)


def test_a_puback_completes_its_publish_and_a_malformed_one_is_refused(wired):
    client, broker = wired
    published = []
    client.on_publish = lambda c, userdata, mid, reason, properties: published.append(
        (mid, reason.is_failure))
    first, second = (client.publish("hailong/", b"", qos=1) for _ in range(2))
    client.loop_write()
    broker.sendall(bytes([0x40, 2]) + first.mid.to_bytes(2, "big")
                   + bytes([0x40, 2, 0xFF, 0xFF]))  # and a PUBACK of an id never sent
    assert client._packet_read() == mqtt.MQTTErrorCode.MQTT_ERR_AGAIN
    assert first.is_published() and not second.is_published()
    assert published == [(first.mid, False)]
    broker.sendall(bytes([0x40, 3]) + second.mid.to_bytes(2, "big") + b"\x00")  # 3 bytes
    assert client._packet_read() == mqtt.MQTTErrorCode.MQTT_ERR_PROTOCOL
    assert not second.is_published()
