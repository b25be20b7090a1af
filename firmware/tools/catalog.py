"""Every screen the counter device shows, built by the device's own code with long real names.

Host-only. Each entry drives a kiosk.rating.Panel into a state and asks kiosk.screen.render
for its items, so the pictures in docs/screens and the drawing tests (tests/test_fw_draw.py)
always show what the firmware shows, never a copy of its strings. Used by render_screens.py
(the PNGs and docs/screens.md).

SCREENS: tuples (slug, caption in Vietnamese, caption in English, items, draw options).
"""

from kiosk import rating, screen

LONG_UNIT = "Trung tâm Phục vụ hành chính công thành phố Hà Nội"
WARD_UNIT = "Bộ phận Một cửa phường Hoàn Kiếm"
SERVICE_INFO = {"device": "kiosk-hk-01", "fw": "0.2.0", "boot": 17,
                "broker": "10.12.0.5:1883", "rssi": -67, "queue": 3, "filtered": 12,
                "ignored": 0, "dropped": 0, "last_error": None}


def officer(name, title, unit, officer_id="HK-0001"):
    return {"id": officer_id, "name": name, "title": title, "unit": unit}


def panel(name="Nguyễn Thị Thu Hường", title="Chuyên viên", unit=WARD_UNIT, scale=4,
          counter="Quầy 3", **options):
    p = rating.Panel(17, **options)
    p.apply_assignment({"state": "open", "counter": counter, "scale": scale,
                        "officer": officer(name, title, unit)})
    return p


def card(name, title, unit, scale, counter="Quầy 3", online=True, backlog=0):
    return screen.render(panel(name, title, unit, scale, counter), 0, online, backlog)


def _thanks():
    p = panel()
    p.press(4, 0)
    return screen.render(p, 0)


def _reason():
    p = panel(reason_max_level=1)
    p.press(1, 0)
    return screen.render(p, 0)


def _waiting():
    p = panel("Tôn Nữ Hoàng Phương Uyên", counter="Quầy 5", session_mode=True)
    return screen.render(p, 0)


def _closed():
    p = panel()
    p.apply_assignment({"state": "closed", "counter": "Quầy 3", "scale": 4, "officer": None})
    return screen.render(p, 0)


def _message():
    p = panel()
    p.show_message("Hệ thống tạm ngừng để bảo trì, mời Ông/Bà quay lại sau 15 phút", 60, 0)
    return screen.render(p, 0)


def _service():
    p = panel()
    p.long_press(1, 0)
    return screen.render(p, 0, online=False, backlog=3, info=SERVICE_INFO)


def _config_error():
    p = panel()
    p.show_config_error([
        "buttons.0.pin: GPIO 0 is a strapping pin of esp32s3; a button there can change "
        "the boot mode",
        "'cooldown_s' must be a number from 0 to 3600"])
    return screen.render(p, 0)


SCREENS = [
    ("card-4", "Thẻ cán bộ, thang 4 mức", "Officer card, 4-level scale",
     card("Nguyễn Thị Thu Hường", "Chuyên viên", WARD_UNIT, 4), {}),
    ("card-5-offline", "Thẻ cán bộ, thang 5 mức, đang mất kết nối (3 lượt chờ gửi)",
     "Officer card, 5-level scale, offline with 3 ratings waiting",
     card("Tôn Nữ Hoàng Phương Uyên", "Phó Giám đốc", LONG_UNIT, 5, "Quầy 12", False, 3),
     {}),
    ("card-3", "Thẻ cán bộ, thang 3 mức", "Officer card, 3-level scale",
     card("Nguyễn Thị Thu Hường", "Chuyên viên chính", LONG_UNIT, 3), {}),
    ("thanks", "Cảm ơn sau khi đánh giá", "Thank-you after a rating", _thanks(), {}),
    ("reason", "Hỏi lý do sau một đánh giá thấp (nút không phân mức)",
     "Reason question after a low rating (neutral buttons)", _reason(), {}),
    ("waiting", "Chờ trả hồ sơ (chế độ phiên)", "Waiting for the dossier (session mode)",
     _waiting(), {}),
    ("closed", "Quầy tạm dừng phục vụ", "Counter closed", _closed(), {}),
    ("message", "Thông báo từ đơn vị", "A message from the unit", _message(), {}),
    ("service", "Màn hình kỹ thuật viên (giữ nút 3 giây)",
     "Technician screen (hold a button for 3 s)", _service(), {}),
    ("config-error", "Lỗi cấu hình", "Configuration error", _config_error(), {}),
]
