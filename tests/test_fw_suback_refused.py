"""A subscription the broker refuses makes the device reconnect (firmware MQTT client).

A clustered broker may refuse a subscription it cannot set up at that moment (NATS Server
answers SUBACK 0x80 when it cannot create the subscription's JetStream consumer while a node
is recovering; tools/nats_failover.py met it). Without its `ack` subscription a device would
never hear a confirmation again on that connection and keep its ratings unsent for good; so
it drops the connection and subscribes again on the next one.
"""

from core_support import FakeTransport
from kiosk import mqtt


def connected_client():
    client = mqtt.MQTTClient("kiosk-1")
    transport = FakeTransport()
    client.connect(transport, 0)
    transport.feed(b"\x20\x02\x00\x00")
    client.poll(0)
    assert client.state == mqtt.CONNECTED
    transport.take()
    return client, transport


def test_a_refused_subscription_closes_the_connection():
    client, transport = connected_client()
    client.subscribe([("a", 1), ("b", 1), ("c", 1), ("d", 1)], 0)
    transport.feed(b"\x90\x06\x00\x01\x01\x01\x80\x01")  # the third refused
    client.poll(1)
    assert client.state == mqtt.DISCONNECTED
    assert client.last_error == "suback_refused"


def test_granted_subscriptions_keep_the_connection():
    client, transport = connected_client()
    client.subscribe([("a", 1), ("b", 0)], 0)
    transport.feed(b"\x90\x04\x00\x01\x01\x00")  # QoS 1 and QoS 0 granted
    client.poll(1)
    assert client.state == mqtt.CONNECTED and client.suback_codes == b"\x01\x00"
