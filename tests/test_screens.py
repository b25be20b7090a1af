"""collector.fleet.screens draws a device's screen from an assignment row with the firmware's code.

The strongest check: the row that the collector would publish for the screens of
docs/screens (drawn by firmware/tools/render_screens.py from kiosk.rating panels) gives the
same pixels, so the fleet page shows what the device shows. Then: the picture has the TFT's
size, another officer changes the name's pixels and nothing else, the cache is keyed by what
is drawn.
"""

from __future__ import annotations

import io
import json
import sys

import pytest
from PIL import Image

from collector.fleet import screens
from kiosk import screen, simpng

from conftest import ROOT

sys.path.insert(0, str(ROOT / "firmware" / "tools"))
import catalog  # noqa: E402

DOCS = ROOT / "docs" / "screens"


def row(name="Nguyễn Thị Thu Hường", title="Chuyên viên", unit=catalog.WARD_UNIT,
        counter="Quầy 3", scale=4, officer_id="HK-0001"):
    """A row of roster.duty.current_assignments; officer_id None: the counter is closed."""
    return {"device_id": "kiosk-hk-03", "scale": scale, "counter_label": counter,
            "officer_id": officer_id, "officer_name": name if officer_id else None,
            "officer_title": title if officer_id else None,
            "unit_name": unit if officer_id else None}


def pixels(png: bytes) -> tuple[tuple[int, int], bytes]:
    image = Image.open(io.BytesIO(png))
    return image.size, image.convert("RGB").tobytes()


def committed(slug: str) -> tuple[tuple[int, int], bytes]:
    width, height, rows = simpng.read_png(str(DOCS / f"{slug}.png"))
    return (width, height), b"".join(rows)


def test_the_picture_has_the_tfts_size_in_hardware_pinmap():
    display = json.loads((ROOT / "hardware" / "pinmap.json").read_text())["display"]
    assert (screens.WIDTH, screens.HEIGHT) == (display["width"], display["height"])
    assert pixels(screens.device_screen_png(row()))[0] == (320, 240)
    assert pixels(screens.device_screen_png(row(), scale=2))[0] == (640, 480)


@pytest.mark.parametrize("slug, assignment, session_mode", [
    ("card-4", row(), False),
    ("card-3", row(title="Chuyên viên chính", unit=catalog.LONG_UNIT, scale=3), False),
    ("closed", row(officer_id=None), False),
    ("waiting", row(name="Tôn Nữ Hoàng Phương Uyên", counter="Quầy 5"), True),
])
def test_a_published_assignment_draws_the_firmwares_own_screen(slug, assignment,
                                                               session_mode):
    # docs/screens/*.png are the firmware's renders at 2x (tests/test_fw_draw.py keeps them
    # current); the same assignment, through the published payload, gives the same pixels.
    png = screens.device_screen_png(assignment, scale=2, session_mode=session_mode)
    assert pixels(png) == committed(slug)


def test_another_officer_changes_the_name_and_nothing_below_it():
    a = screens.device_screen_png(row(name="Nguyễn Thị Thu Hường"))
    b = screens.device_screen_png(row(name="Trần Văn Đức", officer_id="HK-0002"))
    (w, h), pa = pixels(a)
    _, pb = pixels(b)
    items = screen.render(catalog.panel(), 0)
    boxes = simpng.render(items)[3].boxes
    name = [box for box in boxes if box[0] == "name"]
    assert len(name) == 1
    _, _, x, y, bw, bh, _ = name[0]

    def region(data, top, bottom, left=0, right=w):
        return b"".join(data[3 * (yy * w + left):3 * (yy * w + right)]
                        for yy in range(top, bottom))

    assert region(pa, y, y + bh, x, x + bw) != region(pb, y, y + bh, x, x + bw)
    # The prompt and the buttons sit where they did: only the name changed.
    prompt = min(box[3] for box in boxes if box[0] == "prompt")
    assert region(pa, prompt, h) == region(pb, prompt, h)


def test_a_closed_counter_is_not_an_officer_card():
    text = screens.device_screen_text(row(officer_id=None))
    assert screen.CLOSED in text and screen.PROMPT not in text
    card = screens.device_screen_text(row())
    assert "Nguyễn Thị Thu Hường" in card and screen.PROMPT in card


def test_no_assignment_shows_the_card_of_a_freshly_booted_device():
    text = screens.device_screen_text(None)
    assert screen.NO_OFFICER in text and screen.PROMPT in text
    assert pixels(screens.device_screen_png(None))[0] == (320, 240)


def test_pictures_are_cached_by_what_is_drawn():
    screens.cache_clear()
    first = screens.device_screen_png(row())
    again = screens.device_screen_png(dict(row(), device_id="kiosk-bd-09"))  # same payload
    assert again == first
    info = screens.cache_info()
    assert (info.hits, info.misses) == (1, 1)
    screens.device_screen_png(row(), scale=2)
    screens.device_screen_png(row(), session_mode=True)
    screens.device_screen_png(row(name="Trần Văn Đức"))
    assert screens.cache_info().misses == 4


@pytest.mark.parametrize("scale", [0, screens.MAX_SCALE + 1])
def test_a_scale_out_of_range_is_refused(scale):
    with pytest.raises(ValueError):
        screens.device_screen_png(row(), scale=scale)


def test_a_row_the_protocol_cannot_carry_is_refused():
    with pytest.raises(ValueError):
        screens.device_screen_png(row(name=""))
