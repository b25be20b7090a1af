"""The device loop with a fake clock, fake display and an in-process fake broker."""

import json

from core_support import (FakeBroker, FakeDisplay, OsFS, TempDir, golden_bytes, golden_cases,
                          publish_packet, raises, split_packets, subscribe_topics)
from kiosk import codec, screen
from kiosk.clock import FakeClock
from kiosk.device import Device
from kiosk.journal import Journal

DEV = "kiosk-hk-01"
WALL = 1764064800000
ASSIGNMENT = {"v": 1, "state": "open", "counter": "Quầy 3", "scale": 5,
              "officer": {"id": "HK-0001", "name": "Nguyễn Thị Thu Hường",
                          "title": "Chuyên viên", "unit": "UBND phường Hoàn Kiếm"}}
DOSSIER = "000.00.12.H26-261125-0001"


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


def shown(display):
    return screen.text(display.lines)


def topics(broker):
    return [t.rsplit("/", 1)[1] for (t, p, pid) in broker.publishes]


def deliver(broker, kind, body, pid):
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    broker.current.feed(publish_packet(codec.topic(DEV, kind), payload, qos=1, pid=pid))


def test_offline_presses_are_kept_and_sent_in_order_after_connect():
    dev, clock, broker, display = make()
    broker.refuse = True
    for level in (1, 2, 3):
        dev.press(level)
        run(dev, clock, broker, 100)
    assert dev.queue_depth == 3 and not dev.connected
    assert ("status", "mất kết nối · chờ gửi: 3") in display.lines
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
    assert dev.queue_depth == 0 and dev.sent_acked == 3 and dev.confirmed == 3
    assert "mất kết nối" not in shown(display)


def test_status_then_subscribe_then_ratings_on_the_wire():
    dev, clock, broker, display = make()
    dev.press(4)
    dev.step()  # connect: CONNECT sent
    broker.serve()
    clock.advance(10)
    dev.step()  # CONNACK -> status, SUBSCRIBE, rating in this order
    kinds = [b[0] >> 4 for b in split_packets(broker.current.take())]
    assert kinds == [3, 8, 3]


def test_subscribes_to_assignment_command_session_and_ack_with_qos_1():
    dev, clock, broker, display = make()
    run(dev, clock, broker, 100)
    body = broker.subscribes[0]
    assert subscribe_topics(body) == [codec.topic(DEV, kind) for kind in
                                      ("assignment", "command", "session", "ack")]
    assert body.count(b"\x01") >= 4  # the requested QoS after each filter


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
    for _ in range(15):
        dev.press(1)
    run(dev, clock, broker, 500)
    assert len(broker.ratings()) == 10
    broker.ack_publishes = True
    for (_t, _p, pid) in broker.publishes:
        if pid is not None:
            broker.current.feed(b"\x40\x02" + bytes((pid >> 8, pid & 0xFF)))
    run(dev, clock, broker, 500)
    assert len(set(r["id"] for r in broker.ratings())) == 15
    # The ten PUBACKed by hand were never confirmed: they stay until the collector says so.
    assert dev.queue_depth == 10 and dev.awaiting_confirmation == 10 and dev.confirmed == 5


def confirm(broker, boot, seqs, pid):
    deliver(broker, "ack", {"v": 1, "boot": boot, "seq": seqs}, pid)


def test_puback_keeps_the_rating_until_the_collector_confirms_it():
    dev, clock, broker, display = make()
    broker.confirm = False
    run(dev, clock, broker, 200)
    for level in (4, 2, 3):
        dev.press(level)
    run(dev, clock, broker, 200)
    assert dev.sent_acked == 3, "the broker has them"
    assert dev.queue_depth == 3 and dev.awaiting_confirmation == 3, "the device keeps them"
    confirm(broker, 7, [0, 2], 31)
    run(dev, clock, broker, 50)
    assert dev.queue_depth == 1 and dev.confirmed == 2
    assert [r[1] for r in dev.outbox.first(5)] == [1]
    confirm(broker, 7, [0, 1], 32)  # 0 again: a repeated ack is harmless
    run(dev, clock, broker, 50)
    assert dev.queue_depth == 0 and dev.confirmed == 3 and dev.stale_confirmations == 1
    assert len(broker.ratings()) == 3, "nothing sent twice"


def test_a_confirmation_of_another_boot_or_device_removes_nothing():
    dev, clock, broker, display = make()
    broker.confirm = False
    run(dev, clock, broker, 200)
    dev.press(4)
    run(dev, clock, broker, 100)
    confirm(broker, 6, [0], 31)  # an earlier boot's seq 0 is another rating
    broker.current.feed(publish_packet(codec.topic("kiosk-hk-02", "ack"),
                                       b'{"v":1,"boot":7,"seq":[0]}', qos=1, pid=32))
    run(dev, clock, broker, 50)
    assert dev.queue_depth == 1 and dev.confirmed == 0 and dev.connected


def test_unconfirmed_ratings_are_resent_after_reconnect_with_same_ids():
    dev, clock, broker, display = make()
    broker.confirm = False
    run(dev, clock, broker, 200)
    dev.press(4)
    dev.press(2)
    run(dev, clock, broker, 200)
    assert dev.awaiting_confirmation == 2
    broker.current.inbox = [b""]  # the broker closes the link (and it lost its store)
    run(dev, clock, broker, 3000)
    assert dev.connected and len(broker.transports) == 2
    ids = [r["id"] for r in broker.ratings()]
    assert ids == ["kiosk-hk-01:7:0", "kiosk-hk-01:7:1"] * 2
    assert dev.queue_depth == 2, "still unconfirmed"
    broker.confirm = True
    confirm(broker, 7, [0, 1], 40)
    run(dev, clock, broker, 50)
    assert dev.queue_depth == 0


def test_a_rating_unconfirmed_after_confirm_timeout_goes_again_with_backoff():
    dev, clock, broker, display = make(confirm_timeout_s=60)
    broker.confirm = False
    run(dev, clock, broker, 200)
    dev.press(4)
    run(dev, clock, broker, 200)
    assert len(broker.ratings()) == 1
    run(dev, clock, broker, 59000, dt=100)
    assert len(broker.ratings()) == 1, "not before 60 s after its PUBACK"
    run(dev, clock, broker, 1500, dt=100)
    assert len(broker.ratings()) == 2 and dev.resent == 1
    # Still nothing confirmed: the collector is down or behind, so the next wait is longer.
    run(dev, clock, broker, 118000, dt=100)
    assert len(broker.ratings()) == 2
    run(dev, clock, broker, 3000, dt=100)
    assert len(broker.ratings()) == 3 and dev.resent == 2
    assert dev.connected, "the link itself was fine all along"
    # A confirmation (of anything) says the collector is back: timeouts return to 60 s.
    dev.press(3)
    run(dev, clock, broker, 200)
    confirm(broker, 7, [1], 41)
    run(dev, clock, broker, 100)
    assert dev.queue_depth == 1
    run(dev, clock, broker, 61000, dt=100)
    assert [r["seq"] for r in broker.ratings()] == [0, 0, 0, 1, 0]
    confirm(broker, 7, [0], 42)
    run(dev, clock, broker, 100)
    assert dev.queue_depth == 0 and dev.confirmed == 2


def test_a_silent_collector_is_probed_with_the_oldest_rating_only():
    dev, clock, broker, display = make(confirm_timeout_s=10)
    broker.confirm = False
    run(dev, clock, broker, 200)
    for level in (1, 2, 3):
        dev.press(level)
    run(dev, clock, broker, 10500, dt=100)
    # First timeout: the broker may have lost them all, every one goes again.
    assert [r["seq"] for r in broker.ratings()] == [0, 1, 2, 0, 1, 2]
    run(dev, clock, broker, 20500, dt=100)
    # Still silent: the collector is down or behind; one copy probes it.
    assert [r["seq"] for r in broker.ratings()][6:] == [0]
    run(dev, clock, broker, 40500, dt=100)
    assert len(broker.ratings()) == 8, "one copy a round, the round twice as long"
    run(dev, clock, broker, 80500, dt=100)
    assert len(broker.ratings()) == 9
    confirm(broker, 7, [0], 31)  # it answers: the others are due within 10 s
    run(dev, clock, broker, 10500, dt=100)
    assert sorted(r["seq"] for r in broker.ratings()[9:]) == [1, 2]
    assert dev.queue_depth == 2


def test_the_confirmation_backoff_stops_at_16_times():
    dev, clock, broker, display = make(confirm_timeout_s=10)
    broker.confirm = False
    run(dev, clock, broker, 200)
    dev.press(4)
    run(dev, clock, broker, (10 + 20 + 40 + 80 + 160 + 160 + 160) * 1000 + 500, dt=500)
    assert dev.resent == 6 and len(broker.ratings()) == 7


def test_only_the_oldest_max_unconfirmed_ratings_are_out_at_once():
    dev, clock, broker, display = make(max_unconfirmed=4, max_in_flight=2)
    broker.confirm = False
    run(dev, clock, broker, 200)
    for _ in range(6):
        dev.press(1)
    run(dev, clock, broker, 500)
    assert [r["seq"] for r in broker.ratings()] == [0, 1, 2, 3]
    assert dev.awaiting_confirmation == 4 and dev.queue_depth == 6
    confirm(broker, 7, [1, 2], 31)
    run(dev, clock, broker, 100)
    assert [r["seq"] for r in broker.ratings()] == [0, 1, 2, 3, 4, 5]
    assert dev.queue_depth == 4


def test_a_confirmation_while_its_copy_is_in_flight_leaves_nothing_behind():
    dev, clock, broker, display = make()
    broker.confirm = False
    broker.ack_publishes = False
    run(dev, clock, broker, 200)
    dev.press(4)
    run(dev, clock, broker, 100)
    (_t, _p, pid), = [p for p in broker.publishes if p[0].endswith("/rating")]
    confirm(broker, 7, [0], 31)  # the collector got it before the broker's PUBACK reached us
    run(dev, clock, broker, 50)
    broker.current.feed(b"\x40\x02" + bytes((pid >> 8, pid & 0xFF)))
    run(dev, clock, broker, 50)
    assert dev.queue_depth == 0 and dev.awaiting_confirmation == 0 and dev.sent_acked == 1
    run(dev, clock, broker, 70000, dt=500)
    assert len(broker.ratings()) == 1, "never resent"


def test_bad_acks_are_counted_and_ignored():
    bad = [c for c in golden_cases("ack") if not c["expect"]["ok"]]
    assert len(bad) >= 10
    dev, clock, broker, display = make()
    broker.confirm = False
    run(dev, clock, broker, 200)
    dev.press(4)
    run(dev, clock, broker, 100)
    pid = 50
    for case in bad:
        pid += 1
        deliver(broker, "ack", golden_bytes(case), pid)
        run(dev, clock, broker, 20)
        assert dev.last_rejection == "ack:" + case["expect"]["reason"], case["name"]
    assert dev.invalid_acks == len(bad) and dev.queue_depth == 1 and dev.connected
    dev.press(2)  # and it goes on taking ratings
    run(dev, clock, broker, 100)
    assert dev.queue_depth == 2 and len(broker.ratings()) == 2


def test_largest_ack_is_received_whole():
    dev, clock, broker, display = make(boot=2147483647)
    broker.confirm = False
    run(dev, clock, broker, 200)
    longest = [c for c in golden_cases("ack") if c["name"] == "ack_ok_longest"][0]
    deliver(broker, "ack", golden_bytes(longest), 77)
    deliver(broker, "ack", golden_bytes(longest), 78)  # two in one read
    run(dev, clock, broker, 50)
    assert dev.stale_confirmations == 180 and dev.invalid_acks == 0 and dev.connected


def test_retained_assignment_is_shown_and_used_in_ratings():
    dev, clock, broker, display = make()
    broker.retained[codec.topic(DEV, "assignment")] = json.dumps(ASSIGNMENT).encode()
    run(dev, clock, broker, 200)
    assert "Nguyễn Thị Thu Hường" in shown(display)
    assert ("button", "Rất hài lòng") in display.lines
    dev.press(5)
    run(dev, clock, broker, 100)
    r = broker.ratings()[-1]
    assert (r["officer"], r["scale"], r["level"]) == ("HK-0001", 5, 5)
    assert ("big", "Xin cảm ơn Ông/Bà!") in display.lines
    run(dev, clock, broker, 3000)
    assert "Nguyễn Thị Thu Hường" in shown(display)


def test_invalid_assignment_command_and_session_are_counted_and_ignored():
    dev, clock, broker, display = make()
    run(dev, clock, broker, 200)
    before = list(display.lines)
    deliver(broker, "assignment", b"{not json", 5)
    deliver(broker, "command", {"v": 1, "cmd": "format_flash"}, 6)
    deliver(broker, "session", {"v": 1, "action": "open", "dossier": "HS 01; x"}, 7)
    run(dev, clock, broker, 50)
    assert (dev.invalid_assignments, dev.invalid_commands, dev.invalid_sessions) == (1, 1, 1)
    assert dev.last_rejection == "session:out_of_range:dossier"
    assert display.lines == before and dev.connected


def test_show_message_command_overlays_then_returns():
    dev, clock, broker, display = make()
    run(dev, clock, broker, 200)
    deliver(broker, "command", {"v": 1, "cmd": "show_message",
                                "text": "Hệ thống sẽ bảo trì lúc 17:00", "seconds": 2}, 7)
    run(dev, clock, broker, 100)
    assert ("big", "Hệ thống sẽ bảo trì lúc 17:00") in display.lines
    run(dev, clock, broker, 2000)
    assert "Xin Ông/Bà vui lòng đánh giá mức độ hài lòng" in shown(display)


def test_reload_config_applies_cooldown_and_keeps_queue():
    new = {"cooldown_s": 60, "reason_max_level": 1}
    dev, clock, broker, display = make()
    dev.load_config = lambda: dict(new)
    broker.refuse = True
    dev.press(3)
    run(dev, clock, broker, 100)
    assert dev.reload_config() is True
    assert dev.panel.cooldown_ms == 60000 and dev.queue_depth == 1
    assert dev.panel.reason_max_level == 1
    dev.press(3)
    dev.press(3)
    run(dev, clock, broker, 100)
    assert dev.filtered == 1 and dev.queue_depth == 3


def test_status_every_60_s_with_counters():
    dev, clock, broker, display = make(cooldown_s=5)
    run(dev, clock, broker, 200)
    dev.press(4)
    dev.press(4)  # filtered by the cooldown
    dev.press(9)  # off the scale: ignored
    run(dev, clock, broker, 60000, dt=100)
    statuses = [json.loads(p) for (t, p, pid) in broker.publishes if t.endswith("/status")]
    assert len(statuses) == 2
    assert statuses[1]["filtered"] == 1 and statuses[1]["queue"] == 0
    assert statuses[1]["ignored"] == 1
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
    accepted = sum(1 for _ in range(40) if dev.press(1))
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
    raises(ValueError, Device, {"device": "Kiosk_1"}, FakeClock(), FakeBroker(), FakeDisplay())


def test_session_from_the_broker_opens_one_rating_with_the_dossier():
    dev, clock, broker, display = make(session_mode=True)
    broker.retained[codec.topic(DEV, "assignment")] = json.dumps(ASSIGNMENT).encode()
    run(dev, clock, broker, 200)
    assert "Mời Ông/Bà đánh giá sau khi nhận kết quả" in shown(display)
    dev.press(5)  # before the dossier: sent as excluded
    run(dev, clock, broker, 100)
    deliver(broker, "session", {"v": 1, "action": "open", "dossier": DOSSIER,
                                "seconds": 300}, 11)
    run(dev, clock, broker, 100)
    assert "Xin Ông/Bà vui lòng đánh giá mức độ hài lòng" in shown(display)
    dev.press(4)
    run(dev, clock, broker, 100)
    early, rated = broker.ratings()
    assert (early["excluded"], early["dossier"]) == ("no_session", None)
    assert (rated["excluded"], rated["dossier"], rated["level"]) == (None, DOSSIER, 4)


def test_reason_holds_the_rating_back_until_chosen_then_sends_it_once():
    dev, clock, broker, display = make(reason_max_level=1)
    run(dev, clock, broker, 200)
    dev.press(1)
    run(dev, clock, broker, 2000)
    assert "Ông/Bà chưa hài lòng về điều gì?" in shown(display)
    assert broker.ratings() == [], "the low rating waits for its reason"
    assert dev.queue_depth == 1, "but it is already queued (and, on the device, journaled)"
    dev.press(3)  # button 3 = guidance
    run(dev, clock, broker, 200)
    assert "Xin cảm ơn Ông/Bà!" in shown(display)
    ratings = broker.ratings()
    assert [(r["seq"], r["reason"]) for r in ratings] == [(0, "guidance")]
    assert dev.queue_depth == 0 and dev.panel.seq == 1


def test_long_press_shows_the_technician_screen_without_a_rating():
    dev, clock, broker, display = make()
    run(dev, clock, broker, 200)
    dev.long_press(1)
    run(dev, clock, broker, 50)
    text = shown(display)
    assert "Thiết bị: kiosk-hk-01" in text and "Phiên bản phần mềm: " + codec.FW_VERSION in text
    assert "Máy chủ: 127.0.0.1:1883" in text
    assert dev.queue_depth == 0 and dev.panel.seq == 0


def test_a_pubacked_rating_survives_a_reboot_in_the_journal_until_confirmed():
    with TempDir() as d:
        path = d.file("outbox.jnl")
        journal = Journal(OsFS(), path)
        clock = FakeClock(wall_ms=WALL)
        broker = FakeBroker()
        broker.confirm = False
        dev = Device({"device": DEV, "boot": 7, "cooldown_s": 0}, clock, broker, FakeDisplay(),
                     store=journal)
        run(dev, clock, broker, 200)
        dev.press(4)
        dev.press(1)
        run(dev, clock, broker, 200)
        assert dev.sent_acked == 2
        journal.close()  # power cut after the PUBACKs, before any confirmation
        journal = Journal(OsFS(), path)
        assert len(journal) == 2
        broker = FakeBroker()
        dev = Device({"device": DEV, "boot": 8, "cooldown_s": 0}, clock, broker, FakeDisplay(),
                     store=journal)
        run(dev, clock, broker, 300)
        assert [r["id"] for r in broker.ratings()] == ["kiosk-hk-01:7:0", "kiosk-hk-01:7:1"]
        assert broker.confirmations == [(7, 0), (7, 1)] and dev.queue_depth == 0
        journal.close()
        assert len(Journal(OsFS(), path)) == 0
