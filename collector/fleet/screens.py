"""What a counter device's screen shows, drawn by the firmware's own code, as a PNG.

    png = device_screen_png(row, scale=2)          # row: roster.duty.current_assignments shape
    text = device_screen_text(row)                 # the same screen as lines (alt text, logs)

The picture is never a copy of the device's strings or layout. The assignment row becomes the
exact bytes the collector publishes (`protocol.outbound.assignment_payload`), the device's
decoder reads them (`kiosk.codec.decode_assignment`), a `kiosk.rating.Panel` applies them as
the device's main loop does, `kiosk.screen.render` turns the panel into items and
`kiosk.simpng` draws them with `kiosk.draw` and the device's fonts into the pure-Python
framebuf. So a change to the firmware's screens shows here without a change in the collector.

What the picture is: the device's resting screen for that assignment — the officer card (rating
prompt and buttons), "Quầy tạm dừng phục vụ" when the counter is closed, the session-mode
"waiting" screen at a session-mode site, or, with no assignment at all (`row=None`), the card a
freshly booted device shows before its first assignment. The collector does not know the
seconds-long screens a press or a command opens (thank-you, reason question, message, technician
screen), so those are never drawn. The picture is exactly the TFT's pixels (WIDTH x HEIGHT, each
pixel a scale x scale block) and is drawn as connected: whether the device is online, and since
when the picture holds, travels beside it (collector.fleet.status, the HTTP headers of
collector/api/fleet.py) and the page marks an offline device outside the picture. The device's
own offline bar ("mất kết nối · chờ gửi: N") is not drawn because the collector cannot know N,
nor whether a silent device is powered at all.

Costs (CPU time on the build machine): under 0.1 ms for the screen model, about 20 ms to lay
out and draw, about 50 ms to encode the PNG (simpng converts pixel by pixel and compresses at
level 9), 0.2 s more on the first call (the fonts load). So pictures are kept in an LRU of
CACHE_SIZE entries keyed by the payload bytes, the scale and the session mode (a hit costs
about 20 µs); a device's picture changes only when its assignment does. Drawing is
serialised by a lock: kiosk.font keeps one palette buffer per font, which two threads drawing
at once would share.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

from kiosk import codec, rating, screen, simpng

from collector.protocol.outbound import assignment_payload

# The TFT of hardware/pinmap.json ("display": width, height); tests/test_screens.py checks
# that they still agree.
WIDTH = 320
HEIGHT = 240
MAX_SCALE = 4  # 1280 x 960: enough for a large monitor, bounded work per request
CACHE_SIZE = 256

_draw_lock = threading.Lock()


def _panel(payload: bytes | None, session_mode: bool) -> rating.Panel:
    # The device's own Panel, fed the published bytes through the device's own decoder
    # (Device._on_message does the same on the board). boot=0: no record is ever made here.
    panel = rating.Panel(0, session_mode=session_mode)
    if payload is not None:
        panel.apply_assignment(codec.decode_assignment(payload))
    return panel


def _items(payload: bytes | None, session_mode: bool) -> list[tuple[str, str]]:
    # now_ms=0 on a fresh panel: no timer is running, so this is the resting screen.
    return screen.render(_panel(payload, session_mode), 0)


def payload_of(row: dict[str, Any] | None) -> bytes | None:
    """The assignment bytes the collector publishes for `row` (None: no assignment)."""
    return None if row is None else assignment_payload(row)


@lru_cache(maxsize=CACHE_SIZE)
def _png(payload: bytes | None, scale: int, session_mode: bool) -> bytes:
    items = _items(payload, session_mode)
    with _draw_lock:
        buf, width, height, _ = simpng.render(items, WIDTH, HEIGHT)
        return simpng.png_bytes(buf, width, height, scale=scale)


def device_screen_png(row: dict[str, Any] | None, *, scale: int = 1,
                      session_mode: bool = False) -> bytes:
    """PNG of the device's screen for an assignment row (None: before any assignment).

    `row` has the keys of `roster.duty.current_assignments` (scale, counter_label, officer_id,
    officer_name, officer_title, unit_name). ValueError for a scale outside 1..MAX_SCALE or a
    row the protocol cannot carry (the collector could not publish it either).
    """
    if not 1 <= scale <= MAX_SCALE:
        raise ValueError(f"scale must be 1 to {MAX_SCALE}")
    return _png(payload_of(row), scale, bool(session_mode))


def device_screen_text(row: dict[str, Any] | None, *, session_mode: bool = False) -> str:
    """The same screen as text lines (the simulator's display): alt text for the picture."""
    return screen.text(_items(payload_of(row), bool(session_mode)))


def cache_info():
    """functools' hits/misses/currsize of the picture cache (for tests and diagnostics)."""
    return _png.cache_info()


def cache_clear() -> None:
    _png.cache_clear()
