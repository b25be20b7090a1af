"""Screen text: turns the panel state into lines for a text display.

Vietnamese first, with full diacritics (terms from the project glossary and the scale table
of docs/protocol.md). The display layer decides fonts and wrapping; here only the content.
When the device is offline the last line says "mất kết nối" and how many ratings wait in the
queue, so staff can see at a glance that the device still records presses.

Pure: no display hardware; lines are plain str.
"""

from kiosk import rating

PROMPT = "Xin Ông/Bà vui lòng đánh giá mức độ hài lòng"
THANKS = "Xin cảm ơn Ông/Bà!"
CLOSED = "Quầy tạm dừng phục vụ"
OFFLINE = "mất kết nối"
BACKLOG = "chờ gửi"
NO_OFFICER = "Cán bộ"

# Level labels, 1 = least satisfied (docs/protocol.md, "Scales").
LABELS = {
    3: ("Không hài lòng", "Hài lòng", "Rất hài lòng"),
    4: ("Không hài lòng", "Bình thường", "Hài lòng", "Rất hài lòng"),
    5: ("Rất không hài lòng", "Không hài lòng", "Bình thường", "Hài lòng", "Rất hài lòng"),
}


def labels(scale):
    return LABELS.get(scale, LABELS[4])


def render(panel, now_ms, online=True, backlog=0):
    """Lines for the current screen of `panel` (kiosk.rating.Panel)."""
    which = panel.screen(now_ms)
    lines = []
    if which == rating.MESSAGE:
        lines.append(panel.message_text or "")
    elif which == rating.CLOSED:
        if panel.counter:
            lines.append(panel.counter)
        lines.append(CLOSED)
    elif which == rating.THANKS:
        lines.append(THANKS)
    else:
        if panel.counter:
            lines.append(panel.counter)
        o = panel.officer
        if o is None:
            lines.append(NO_OFFICER)
        else:
            lines.append(o["name"])
            lines.append(o["title"])
            lines.append(o["unit"])
        lines.append(PROMPT)
        n = 1
        for label in labels(panel.scale):
            lines.append(str(n) + ". " + label)
            n += 1
    if not online:
        lines.append(OFFLINE + " · " + BACKLOG + ": " + str(backlog))
    return lines
