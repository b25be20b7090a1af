"""Device loop with a fake clock, fake display and an in-process fake broker."""

import json

import pytest
from fw_fakes import FakeBroker, FakeDisplay, publish_packet
from kiosk import codec
from kiosk.clock import FakeClock
from kiosk.device import Device

DEV = "kiosk-hk-01"
WALL = 1764064800000
ASSIGNMENT = {"v": 1, "state": "open", "counter": "Quầy 3", "scale": 5,
              "officer": {"id": "HK-0001", "name": "Nguyễn Thị Thu Hường",
                          "title": "Chuyên viên", "unit": "UBND phường Hoàn Kiếm"}}


def make(**cfg):
    config = {"device": DEV, "boot": 7, "cooldown_s": 0, "thanks_s": 3}
    config.update(cfg)
    clock = FakeClock(wall_ms=WALL)
    broker = FakeBroker()
    display = FakeDisplay()
    dev = Device(config, clock, broker, display)
    return dev, clock, broker, display


def run(dev, clock, broker, ms, dt=10):
    for _ in range(ms // dt):
        dev.step()
        broker.serve()
        clock.advance(dt)


def topics(broker):
    return [t.rsplit("/", 1)[1] for (t, p, pid) in broker.publishes]


def test_offline_presses_are_kept_and_sent_in_order_after_connect():
    dev, clock, broker, display = make()
    broker.refuse = True
    for level in (1, 2, 3):
        dev.press(level)
        run(dev, clock, broker, 100)
    assert dev.queue_depth == 3 and not dev.connected
    assert display.lines[-1] == "mất kết nối · chờ gửi: 3"
    broker.refuse = False
    run(dev, clock, broker, 3000)
    assert dev.connected
    assert topics(broker) == ["status", "rating", "rating", "rating"]
    assert broker.subscribes, "subscribed before the ratings"
    ratings = broker.ratings()
    assert [r["id"] for r in ratings] == ["kiosk-hk-01:7:0", "kiosk-hk-01:7:1",
                                          "kiosk-hk-01:7:2"]
    assert [r["level"] for r in ratings] == [1, 2, 3]
    # ts is the wall time of the press, not of the send
    assert [r["ts"] - r["uptime_ms"] for r in ratings] == [WALL] * 3
    assert dev.queue_depth == 0 and dev.sent_acked == 3
    assert "mất kết nối" not in display.text()


def test_status_then_subscribe_then_ratings_on_the_wire():
    dev, clock, broker, display = make()
    dev.press(4)
    dev.step()  # connect: CONNECT sent
    broker.serve()
    clock.advance(10)
    dev.step()  # CONNACK -> status, SUBSCRIBE, rating in this order
    kinds = [b[0] >> 4 for b in __import__("fw_fakes").split_packets(broker.current.take())]
    assert kinds == [3, 8, 3]


def test_unacked_ratings_are_resent_after_reconnect_with_same_ids():
    dev, clock, broker, display = make()
    run(dev, clock, broker, 200)
    assert dev.connected
    broker.ack_publishes = False
    dev.press(4)
    dev.press(2)
    run(dev, clock, broker, 200)
    first = [r["id"] for r in broker.ratings()]
    assert first == ["kiosk-hk-01:7:0", "kiosk-hk-01:7:1"]
    assert dev.queue_depth == 2
    run(dev, clock, broker, 10000)  # no PUBACK within 10 s: drop and reconnect
    assert dev.last_error == "ack_timeout" and broker.transports[0].closed
    assert not dev.connected and dev.queue_depth == 2
    broker.ack_publishes = True
    run(dev, clock, broker, 3000)
    assert dev.connected and len(broker.transports) == 2
    again = [r["id"] for r in broker.ratings()][len(first):]
    assert again[:2] == first
    assert dev.queue_depth == 0


def test_at_most_max_in_flight_ratings_wait_for_puback():
    dev, clock, broker, display = make(max_in_flight=10)
    broker.ack_publishes = False
    for _i in range(15):
        dev.press(1)
    run(dev, clock, broker, 500)
    assert len(broker.ratings()) == 10
    broker.ack_publishes = True
    for (_t, _p, pid) in broker.publishes:
        if pid is not None:
            broker.current.feed(b"\x40\x02" + pid.to_bytes(2, "big"))
    run(dev, clock, broker, 500)
    assert len({r["id"] for r in broker.ratings()}) == 15
    assert dev.queue_depth == 0


def test_retained_assignment_is_shown_and_used_in_ratings():
    dev, clock, broker, display = make()
    broker.retained[codec.topic(DEV, "assignment")] = json.dumps(ASSIGNMENT).encode()
    run(dev, clock, broker, 200)
    assert "Nguyễn Thị Thu Hường" in display.text()
    assert "5. Rất hài lòng" in display.text()
    dev.press(5)
    run(dev, clock, broker, 100)
    r = broker.ratings()[-1]
    assert (r["officer"], r["scale"], r["level"]) == ("HK-0001", 5, 5)
    assert display.lines == ["Xin cảm ơn Ông/Bà!"]
    run(dev, clock, broker, 3000)
    assert "Nguyễn Thị Thu Hường" in display.text()


def test_invalid_assignment_and_command_are_counted_and_ignored():
    dev, clock, broker, display = make()
    run(dev, clock, broker, 200)
    before = list(display.lines)
    t = broker.current
    t.feed(publish_packet(codec.topic(DEV, "assignment"), b"{not json", qos=1, pid=5))
    t.feed(publish_packet(codec.topic(DEV, "command"), b'{"v":1,"cmd":"format_flash"}',
                          qos=1, pid=6))
    run(dev, clock, broker, 50)
    assert dev.invalid_assignments == 1 and dev.invalid_commands == 1
    assert dev.last_rejection == "command:out_of_range:cmd"
    assert display.lines == before and dev.connected


def test_show_message_command_overlays_then_returns():
    dev, clock, broker, display = make()
    run(dev, clock, broker, 200)
    cmd = {"v": 1, "cmd": "show_message", "text": "Hệ thống sẽ bảo trì lúc 17:00",
           "seconds": 2}
    broker.current.feed(publish_packet(codec.topic(DEV, "command"),
                                       json.dumps(cmd).encode(), qos=1, pid=7))
    run(dev, clock, broker, 100)
    assert display.lines == ["Hệ thống sẽ bảo trì lúc 17:00"]
    run(dev, clock, broker, 2000)
    assert "Xin Ông/Bà vui lòng đánh giá mức độ hài lòng" in display.lines


def test_reload_config_applies_cooldown_and_keeps_queue():
    new = {"cooldown_s": 60}
    dev, clock, broker, display = make()
    dev.load_config = lambda: dict(new)
    broker.refuse = True
    dev.press(3)
    run(dev, clock, broker, 100)
    assert dev.reload_config() is True
    assert dev.panel.cooldown_ms == 60000 and dev.queue_depth == 1
    dev.press(3)
    dev.press(3)
    run(dev, clock, broker, 100)
    assert dev.filtered == 1 and dev.queue_depth == 3


def test_status_every_60_s_with_counters():
    dev, clock, broker, display = make(cooldown_s=5)
    run(dev, clock, broker, 200)
    dev.press(4)
    dev.press(4)  # filtered by the cooldown
    run(dev, clock, broker, 60000, dt=100)
    statuses = [json.loads(p) for (t, p, pid) in broker.publishes if t.endswith("/status")]
    assert len(statuses) == 2
    assert statuses[1]["filtered"] == 1 and statuses[1]["queue"] == 0
    assert statuses[1]["state"] == "online" and statuses[1]["boot"] == 7


def test_reconnect_backoff_doubles_and_caps():
    dev, clock, broker, display = make(backoff_min_s=1, backoff_max_s=4)
    broker.refuse = True
    run(dev, clock, broker, 1000 + 2000 + 4000 + 4000 + 5, dt=5)
    # attempts at 0, 1 s, 3 s, 7 s, 11 s
    assert broker.attempts == 5
    dev.press(2)  # buttons keep working while offline
    run(dev, clock, broker, 20)
    assert dev.queue_depth == 1


def test_press_ring_overflow_is_counted():
    dev, clock, broker, display = make()
    accepted = sum(dev.press(1) for _ in range(40))
    assert accepted == 31 and dev.press_overflow == 9


def test_unsynced_or_implausible_wall_clock_gives_null_ts():
    dev, clock, broker, display = make()
    clock.wall_offset = None
    dev.press(1)
    clock.wall_offset = 946684800000  # RTC never synced: year 2000
    dev.press(2)
    run(dev, clock, broker, 300)
    assert [r["ts"] for r in broker.ratings()] == [None, None]


def test_bad_device_id_fails_at_start():
    with pytest.raises(ValueError):
        Device({"device": "Kiosk_1"}, FakeClock(), FakeBroker(), FakeDisplay())
