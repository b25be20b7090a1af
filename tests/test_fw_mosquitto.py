"""The simulated kiosk against a real Mosquitto, observed with paho-mqtt."""

import json
import queue
import time

import paho.mqtt.client as paho
import pytest
from kiosk.sim import SimulatedKiosk

DEV = "kiosk-it-01"
ASSIGNMENT = {"v": 1, "state": "open", "counter": "Quầy 3", "scale": 4,
              "officer": {"id": "HK-0001", "name": "Nguyễn Thị Thu Hường",
                          "title": "Chuyên viên", "unit": "UBND phường Hoàn Kiếm"}}


@pytest.fixture
def fw_broker(mosquitto):
    return mosquitto


class Observer:
    """paho-mqtt subscriber collecting (topic, payload, retain) in a queue."""

    def __init__(self, port, topic, client_id):
        self.q = queue.Queue()
        self.c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id)
        self.c.on_message = lambda c, u, m: self.q.put((m.topic, m.payload, m.retain))
        subscribed = queue.Queue()
        self.c.on_subscribe = lambda c, u, mid, rc, p: subscribed.put(mid)
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        self.c.subscribe(topic, qos=1)
        subscribed.get(timeout=5)

    def expect(self, topic, predicate=lambda obj: True, timeout=5.0):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no matching message on " + topic)
            try:
                t, payload, retain = self.q.get(timeout=left)
            except queue.Empty:
                continue
            if t == topic:
                obj = json.loads(payload)
                if predicate(obj):
                    return obj, retain

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


def test_kiosk_rates_through_real_broker_and_leaves_a_will(fw_broker):
    obs = Observer(fw_broker.port, "hailong/v1/devices/+/#", "fw-test-observer")
    kiosk = SimulatedKiosk(DEV, "127.0.0.1", fw_broker.port, cooldown_s=0, boot=3)
    try:
        obs.c.publish("hailong/v1/devices/%s/assignment" % DEV,
                      json.dumps(ASSIGNMENT, ensure_ascii=False).encode(), qos=1,
                      retain=True).wait_for_publish(5)
        kiosk.start()
        status, _ = obs.expect("hailong/v1/devices/%s/status" % DEV)
        assert status["state"] == "online" and status["boot"] == 3
        assert kiosk.wait_until(lambda: "Nguyễn Thị Thu Hường" in kiosk.screen_text())
        assert kiosk.connected
        kiosk.press(4)
        r, _ = obs.expect("hailong/v1/devices/%s/rating" % DEV)
        assert r["id"] == DEV + ":3:0"
        assert (r["device"], r["level"], r["scale"], r["officer"]) == (DEV, 4, 4, "HK-0001")
        assert r["excluded"] is None and isinstance(r["ts"], int)
        # The broker's PUBACK alone does not let the rating go: the collector's ack does.
        assert kiosk.wait_until(lambda: kiosk.sent_acked == 1)
        assert kiosk.queue_depth == 1 and kiosk.device.awaiting_confirmation == 1
        obs.c.publish("hailong/v1/devices/%s/ack" % DEV, b'{"v":1,"boot":3,"seq":[0]}',
                      qos=1).wait_for_publish(5)
        assert kiosk.wait_until(lambda: kiosk.queue_depth == 0 and kiosk.confirmed == 1)
        assert "Xin cảm ơn Ông/Bà!" in kiosk.screen_text()
        kiosk.kill()
        will, _ = obs.expect("hailong/v1/devices/%s/status" % DEV,
                             lambda o: o["state"] == "offline")
        assert will == {"v": 1, "device": DEV, "state": "offline"}
        # The will is retained: a later subscriber sees the device offline.
        late = Observer(fw_broker.port, "hailong/v1/devices/%s/status" % DEV, "fw-test-late")
        try:
            obj, retain = late.expect("hailong/v1/devices/%s/status" % DEV)
            assert retain and obj["state"] == "offline"
        finally:
            late.close()
        assert kiosk.device.invalid_assignments == 0 and not kiosk.errors
    finally:
        kiosk.stop()
        obs.close()


def test_clean_stop_sends_no_will(fw_broker):
    obs = Observer(fw_broker.port, "hailong/v1/devices/+/status", "fw-test-observer2")
    kiosk = SimulatedKiosk("kiosk-it-02", "127.0.0.1", fw_broker.port)
    try:
        kiosk.start()
        obs.expect("hailong/v1/devices/kiosk-it-02/status", lambda o: o["state"] == "online")
        kiosk.stop()
        with pytest.raises(AssertionError):
            obs.expect("hailong/v1/devices/kiosk-it-02/status",
                       lambda o: o["state"] == "offline", timeout=0.5)
    finally:
        kiosk.stop()
        obs.close()
