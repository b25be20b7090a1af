"""The rating state machine and its screens (runs on CPython and MicroPython)."""

from kiosk import rating, screen

OFFICER = {"id": "HK-0001", "name": "Nguyễn Thị Thu Hường", "title": "Chuyên viên",
           "unit": "UBND phường Hoàn Kiếm"}
DOSSIER = "000.00.12.H26-261125-0001"


def assignment(state="open", scale=4, officer=OFFICER):
    return {"state": state, "counter": "Quầy 3", "scale": scale,
            "officer": officer if state == "open" else None}


def panel(**options):
    p = rating.Panel(boot=7, cooldown_ms=options.pop("cooldown_ms", 5000),
                     thanks_ms=options.pop("thanks_ms", 3000), **options)
    p.apply_assignment(assignment())
    return p


def texts(items, style=None):
    return [t for s, t in items if style is None or s == style]


# --- ratings and timing ------------------------------------------------------------------

def test_card_thanks_card_timing():
    p = panel()
    assert p.screen(0) == rating.CARD
    rec = p.press(4, 1000, ts=1764064800000)
    assert rec == (7, 0, 4, 4, "HK-0001", 1000, 1764064800000, None, None, None)
    assert p.screen(1000) == rating.THANKS
    assert p.screen(3999) == rating.THANKS
    assert p.screen(4000) == rating.CARD


def test_ratings_before_any_assignment_have_no_officer():
    p = rating.Panel(boot=1)
    assert p.press(2, 10) == (1, 0, 2, 4, None, 10, None, None, None, None)


def test_closed_ignores_presses_and_counts_them():
    p = panel()
    p.apply_assignment(assignment(state="closed"))
    assert p.press(3, 0) is None
    assert p.ignored == 1 and p.seq == 0
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


def test_scale_from_assignment_bounds_levels():
    for scale in (3, 5):
        p = rating.Panel(boot=1, cooldown_ms=0)
        p.apply_assignment(assignment(scale=scale))
        assert p.press(scale, 0)[rating.R_SCALE] == scale
        assert p.press(scale + 1, 10) is None
        assert p.press(0, 20) is None
        assert p.ignored == 2


def test_seq_increments_per_record():
    p = rating.Panel(boot=2, cooldown_ms=0)
    assert [p.press(1, t)[rating.R_SEQ] for t in range(0, 50, 10)] == [0, 1, 2, 3, 4]


def test_message_overlay_then_back():
    p = panel()
    p.show_message("Hệ thống sẽ bảo trì lúc 17:00", 20, 1000)
    assert p.screen(20999) == rating.MESSAGE
    assert p.screen(21000) == rating.CARD


# --- session mode ----------------------------------------------------------------------------

def test_session_mode_waits_for_a_dossier_and_rates_it_once():
    p = panel(session_mode=True, cooldown_ms=0)
    assert p.screen(0) == rating.WAITING
    early = p.press(4, 0)
    assert early[rating.R_EXCLUDED] == "no_session" and early[rating.R_DOSSIER] is None
    p.open_session(DOSSIER, 300, 100)
    assert p.screen(100) == rating.CARD
    rec = p.press(3, 200)
    assert rec[rating.R_EXCLUDED] is None and rec[rating.R_DOSSIER] == DOSSIER
    again = p.press(4, 5000)
    assert again[rating.R_EXCLUDED] == "no_session", "one dossier, one rating"
    assert p.filtered == 2


def test_session_lapses_and_is_dropped_with_the_officer_or_on_close():
    p = panel(session_mode=True)
    p.open_session(DOSSIER, 60, 0)
    assert p.screen(59999) == rating.CARD
    assert p.screen(60000) == rating.WAITING
    p.open_session(DOSSIER, None, 0)  # device default: 600 s
    assert p.screen(599999) == rating.CARD
    p.apply_assignment(assignment(officer={"id": "HK-0002", "name": "Trần Văn Đức",
                                           "title": "Chuyên viên", "unit": "UBND"}))
    assert p.dossier is None
    p.open_session(DOSSIER, 60, 0)
    p.close_session()
    assert p.screen(1) == rating.WAITING


# --- reason after a low rating ---------------------------------------------------------------

def test_low_rating_asks_a_reason_and_amends_the_held_record():
    p = panel(reason_max_level=1)
    rec = p.press(1, 1000)
    assert rec[rating.R_REASON] is None
    assert p.held == (7, 0) and p.screen(1000) == rating.REASON
    assert p.press(2, 1500) is None  # button 2 = waiting time, not a new rating
    key, amended = p.take_amendment()
    assert key == (7, 0) and amended[rating.R_REASON] == "waiting"
    assert amended[:rating.R_REASON] == rec[:rating.R_REASON]
    assert p.held is None and p.take_amendment() is None
    assert p.screen(1500) == rating.THANKS and p.seq == 1


def test_unanswered_reason_times_out_and_releases_the_record():
    p = panel(reason_max_level=2, reason_timeout_ms=10000)
    p.press(2, 0)
    assert p.screen(9999) == rating.REASON
    assert p.screen(10000) == rating.CARD
    assert p.held is None and p.take_amendment() is None


def test_higher_levels_do_not_ask_and_closing_releases_a_held_record():
    p = panel(reason_max_level=1)
    p.press(2, 0)
    assert p.held is None and p.screen(0) == rating.THANKS
    p = panel(reason_max_level=1)
    p.press(1, 0)
    p.apply_assignment(assignment(state="closed"))
    assert p.held is None


def test_three_button_device_offers_three_reasons():
    p = rating.Panel(boot=1, reason_max_level=1)
    p.apply_assignment(assignment(scale=3))
    p.press(1, 0)
    labels = [t.replace("\u00a0", " ") for t in texts(screen.render(p, 0), "choice")]
    assert labels == ["Thái độ phục vụ", "Thời gian chờ", "Khác"]
    p.press(3, 10)
    assert p.take_amendment()[1][rating.R_REASON] == "other"


# --- technician and error screens -----------------------------------------------------------

def test_long_press_opens_the_technician_screen_which_a_press_closes():
    p = panel()
    p.long_press(1, 0)
    assert p.screen(0) == rating.SERVICE
    assert p.press(4, 100) is None and p.ignored == 1 and p.seq == 0
    assert p.screen(100) == rating.CARD
    p.long_press(1, 0)
    assert p.screen(rating.SERVICE_MS) == rating.CARD


def test_configuration_error_blocks_ratings_and_lists_problems():
    p = panel()
    p.show_config_error(["pin 0: a strapping pin cannot be a button"])
    assert p.press(4, 0) is None and p.ignored == 1
    items = screen.render(p, 0)
    assert items[0] == ("big", "Lỗi cấu hình")
    assert ("small", "pin 0: a strapping pin cannot be a button") in items


# --- screen content --------------------------------------------------------------------------

def test_screen_card_items_in_vietnamese():
    p = panel()
    assert screen.render(p, 0) == [
        ("header", "Quầy 3"), ("name", "Nguyễn Thị Thu Hường"), ("line", "Chuyên viên"),
        ("line", "UBND phường Hoàn Kiếm"),
        ("prompt", "Xin Ông/Bà vui lòng đánh giá mức độ hài lòng"),
        ("small", "Please rate your satisfaction"),
        ("button", "Không hài lòng"), ("button", "Bình thường"), ("button", "Hài lòng"),
        ("button", "Rất hài lòng")]


def test_screen_scale5_labels_and_offline_backlog():
    p = panel()
    p.apply_assignment(assignment(scale=5))
    items = screen.render(p, 0, online=False, backlog=12)
    assert texts(items, "button")[0] == "Rất không hài lòng"
    assert ("status", "mất kết nối · chờ gửi: 12") in items


def test_screen_thanks_closed_message_waiting():
    p = panel()
    p.press(4, 0)
    assert texts(screen.render(p, 0), "big") == ["Xin cảm ơn Ông/Bà!"]
    p.apply_assignment(assignment(state="closed"))
    assert texts(screen.render(p, 0)) == ["Quầy 3", "Quầy tạm dừng phục vụ", "Counter closed"]
    p.show_message("Tạm nghỉ", 5, 0)
    assert texts(screen.render(p, 0), "big") == ["Tạm nghỉ"]
    w = panel(session_mode=True)
    assert "Mời Ông/Bà đánh giá sau khi nhận kết quả" in texts(screen.render(w, 0), "prompt")


def test_technician_screen_lists_device_facts():
    p = panel()
    p.long_press(1, 0)
    info = {"device": "kiosk-hk-01", "fw": "0.2.0", "boot": 7, "broker": "10.0.0.5:1883",
            "rssi": -61, "queue": 3, "filtered": 1, "ignored": 0, "dropped": 0,
            "last_error": None}
    lines = texts(screen.render(p, 0, online=False, backlog=3, info=info), "small")
    assert "Thiết bị: kiosk-hk-01" in lines and "Phiên bản phần mềm: 0.2.0" in lines
    assert "Kết nối: mất kết nối" in lines and "Chờ gửi: 3" in lines
    assert "Lỗi gần nhất: —" in lines
