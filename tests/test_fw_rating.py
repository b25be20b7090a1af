"""Rating state machine, screen text and the non-wrapping uptime."""


import pytest
from kiosk import rating, screen
from kiosk.clock import UptimeCounter

OFFICER = {"id": "HK-0001", "name": "Nguyễn Thị Thu Hường", "title": "Chuyên viên",
           "unit": "UBND phường Hoàn Kiếm"}


def assignment(state="open", scale=4, officer=OFFICER):
    return {"state": state, "counter": "Quầy 3", "scale": scale,
            "officer": officer if state == "open" else None}


def test_card_thanks_card_timing():
    p = rating.Panel(boot=7, cooldown_ms=5000, thanks_ms=3000)
    p.apply_assignment(assignment())
    assert p.screen(0) == rating.CARD
    rec = p.press(4, 1000, ts=1764064800000)
    assert rec == (7, 0, 4, 4, "HK-0001", 1000, 1764064800000, None)
    assert p.screen(1000) == rating.THANKS
    assert p.screen(3999) == rating.THANKS
    assert p.screen(4000) == rating.CARD


def test_ratings_before_any_assignment_have_no_officer():
    p = rating.Panel(boot=1)
    assert p.press(2, 10) == (1, 0, 2, 4, None, 10, None, None)


def test_closed_ignores_presses_and_counts_them():
    p = rating.Panel(boot=1)
    p.apply_assignment(assignment(state="closed"))
    assert p.press(3, 0) is None
    assert p.ignored_closed == 1 and p.seq == 0
    assert p.screen(0) == rating.CLOSED


def test_cooldown_records_excluded_presses():
    p = rating.Panel(boot=1, cooldown_ms=5000, thanks_ms=3000)
    a = p.press(4, 0)
    b = p.press(1, 4999)
    c = p.press(2, 5000)
    assert a[rating.R_EXCLUDED] is None
    assert b[rating.R_EXCLUDED] == "cooldown" and b[rating.R_SEQ] == 1
    assert c[rating.R_EXCLUDED] is None and c[rating.R_SEQ] == 2
    assert p.filtered == 1


@pytest.mark.parametrize("scale", [3, 5])
def test_scale_from_assignment_bounds_levels(scale):
    p = rating.Panel(boot=1, cooldown_ms=0)
    p.apply_assignment(assignment(scale=scale))
    assert p.press(scale, 0)[rating.R_SCALE] == scale
    assert p.press(scale + 1, 10) is None
    assert p.press(0, 20) is None
    assert p.ignored_invalid == 2


def test_seq_increments_per_record():
    p = rating.Panel(boot=2, cooldown_ms=0)
    assert [p.press(1, t)[rating.R_SEQ] for t in range(0, 50, 10)] == [0, 1, 2, 3, 4]


def test_message_overlay_then_back():
    p = rating.Panel(boot=1)
    p.apply_assignment(assignment())
    p.show_message("Hệ thống sẽ bảo trì lúc 17:00", 20, 1000)
    assert p.screen(20999) == rating.MESSAGE
    assert p.screen(21000) == rating.CARD


def test_screen_card_lines_in_vietnamese():
    p = rating.Panel(boot=1)
    p.apply_assignment(assignment())
    assert screen.render(p, 0) == [
        "Quầy 3", "Nguyễn Thị Thu Hường", "Chuyên viên", "UBND phường Hoàn Kiếm",
        "Xin Ông/Bà vui lòng đánh giá mức độ hài lòng",
        "1. Không hài lòng", "2. Bình thường", "3. Hài lòng", "4. Rất hài lòng"]


def test_screen_scale5_labels_and_offline_backlog():
    p = rating.Panel(boot=1)
    p.apply_assignment(assignment(scale=5))
    lines = screen.render(p, 0, online=False, backlog=12)
    assert lines[5] == "1. Rất không hài lòng"
    assert lines[-1] == "mất kết nối · chờ gửi: 12"


def test_screen_thanks_closed_message():
    p = rating.Panel(boot=1)
    p.press(4, 0)
    assert screen.render(p, 0) == ["Xin cảm ơn Ông/Bà!"]
    p.apply_assignment(assignment(state="closed"))
    assert screen.render(p, 0) == ["Quầy 3", "Quầy tạm dừng phục vụ"]
    p.show_message("Tạm nghỉ", 5, 0)
    assert screen.render(p, 0) == ["Tạm nghỉ"]


def test_uptime_does_not_wrap():
    period = 1 << 30  # MicroPython esp32 ticks_ms period
    ticks = [period - 100]

    def ticks_diff(a, b):
        return ((a - b + period // 2) % period) - period // 2

    up = UptimeCounter(lambda: ticks[0], ticks_diff)
    assert up.uptime_ms() == 0
    ticks[0] = 50  # wrapped
    assert up.uptime_ms() == 150
    for _ in range(5):
        ticks[0] = (ticks[0] + period // 4) % period
        up.uptime_ms()
    assert up.uptime_ms() == 150 + 5 * (period // 4)
