"""Screen content: turns the panel state into a list of (style, text) items.

The screen model is shared by every display: the text display of the simulator joins the
texts, the ESP32's TFT draws them with kiosk.draw. Styles:
    header  top bar, left (the counter)        status  top bar, right (offline, backlog)
    name    the officer's name, most prominent line    a normal line (title, unit, details)
    prompt  the question                        button  the k-th is physical button k (level k)
    big     large centred text                  choice  like button, for answers that are not
    small   small lines (technician, errors)            a scale (reasons): drawn neutral

Vietnamese first, with full diacritics (terms from the project glossary and the scale table of
docs/protocol.md), English second in a small line where the screen has room; button labels
stay Vietnamese only, the screen is small.
When the device is offline the status says "mất kết nối" and how many ratings wait, so staff
can see at a glance that the device still records presses.

Pure: no display hardware; items are plain tuples of str.
"""

from kiosk import rating

PROMPT = "Xin Ông/Bà vui lòng đánh giá mức độ hài lòng"
THANKS = "Xin cảm ơn Ông/Bà!"
THANKS_LINE = "Ý kiến của Ông/Bà đã được ghi nhận."
CLOSED = "Quầy tạm dừng phục vụ"
OFFLINE = "mất kết nối"
BACKLOG = "chờ gửi"
NO_OFFICER = "Cán bộ tiếp nhận"
REASON_PROMPT = "Ông/Bà chưa hài lòng về điều gì?"
WAITING = "Mời Ông/Bà đánh giá sau khi nhận kết quả"
WAITING_LINE = "Màn hình sẽ mở khi hồ sơ được trả."
CONFIG_ERROR = "Lỗi cấu hình"
CONFIG_HINT = "Liên hệ kỹ thuật viên."
SERVICE_TITLE = "Thông tin kỹ thuật"
EN = {"prompt": "Please rate your satisfaction", "thanks": "Thank you!",
      "closed": "Counter closed", "reason": "What were you not satisfied with?",
      "waiting": "Please rate after you receive your result",
      "config": "Configuration error"}

# Level labels, 1 = least satisfied (docs/protocol.md, "Scales").
LABELS = {
    3: ("Không hài lòng", "Hài lòng", "Rất hài lòng"),
    4: ("Không hài lòng", "Bình thường", "Hài lòng", "Rất hài lòng"),
    5: ("Rất không hài lòng", "Không hài lòng", "Bình thường", "Hài lòng", "Rất hài lòng"),
}
# U+00A0 keeps a compound on one line when a narrow button cell wraps its label.
REASON_LABELS = {"attitude": "Thái độ phục\u00a0vụ", "waiting": "Thời\u00a0gian chờ",
                 "guidance": "Hướng dẫn chưa rõ\u00a0ràng", "other": "Khác"}
# Technician screen rows: (label, key in the info dict).
SERVICE_ROWS = (("Thiết bị", "device"), ("Phiên bản phần mềm", "fw"), ("Khởi động", "boot"),
                ("Máy chủ", "broker"), ("Kết nối", "link"), ("Wi-Fi (dBm)", "rssi"),
                ("Chờ gửi", "queue"), ("Bị loại", "filtered"), ("Bỏ qua", "ignored"),
                ("Bị mất (hàng đợi đầy)", "dropped"), ("Lỗi gần nhất", "last_error"))


def labels(scale):
    return LABELS.get(scale, LABELS[4])


def _status(online, backlog):
    if online:
        return None
    return ("status", OFFLINE + " · " + BACKLOG + ": " + str(backlog))


def render(panel, now_ms, online=True, backlog=0, info=None):
    """Items for the current screen of `panel` (kiosk.rating.Panel)."""
    which = panel.screen(now_ms)
    items = []
    if which == rating.CONFIG_ERROR:
        items.append(("big", CONFIG_ERROR))
        items.append(("small", EN["config"]))
        for problem in panel.config_problems:
            items.append(("small", problem))
        items.append(("line", CONFIG_HINT))
        return items
    if which == rating.SERVICE:
        return _service(info or {}, online)
    if panel.counter:
        items.append(("header", panel.counter))
    status = _status(online, backlog)
    if status:
        items.append(status)
    if which == rating.MESSAGE:
        items.append(("big", panel.message_text or ""))
    elif which == rating.CLOSED:
        items.append(("big", CLOSED))
        items.append(("small", EN["closed"]))
    elif which == rating.THANKS:
        items.append(("big", THANKS))
        items.append(("line", THANKS_LINE))
        items.append(("small", EN["thanks"]))
    elif which == rating.REASON:
        items.append(("prompt", REASON_PROMPT))
        items.append(("small", EN["reason"]))
        for reason in rating.reasons_for(panel.scale):
            items.append(("choice", REASON_LABELS[reason]))
    elif which == rating.WAITING:
        _officer(panel, items)
        items.append(("prompt", WAITING))
        items.append(("line", WAITING_LINE))
        items.append(("small", EN["waiting"]))
    else:
        _officer(panel, items)
        items.append(("prompt", PROMPT))
        items.append(("small", EN["prompt"]))
        for label in labels(panel.scale):
            items.append(("button", label))
    return items


def _officer(panel, items):
    o = panel.officer
    if o is None:
        items.append(("name", NO_OFFICER))
        return
    items.append(("name", o["name"]))
    items.append(("line", o["title"]))
    items.append(("line", o["unit"]))


def _service(info, online):
    items = [("header", SERVICE_TITLE)]
    values = dict(info)
    values["link"] = "trực tuyến" if online else OFFLINE
    for label, key in SERVICE_ROWS:
        value = values.get(key)
        if value is None:
            value = "—"
        items.append(("small", label + ": " + str(value)))
    return items


def text(items):
    """The items as plain lines, for text displays, logs and tests."""
    return "\n".join(t for _, t in items)
