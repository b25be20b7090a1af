"""Placing presses in time and local months (UTC+7)."""

from __future__ import annotations

import pytest

from collector.timeline import BootAnchor, month_bounds, month_of, place_press


def test_synced_clock_wins():
    anchor = BootAnchor(boot=3, uptime_ms=10_000, received_at=1_800_000_000_000)
    assert place_press(ts=1_790_000_000_000, boot=3, uptime_ms=5, anchor=anchor,
                       received_at=1) == (1_790_000_000_000, "device")


def test_unsynced_press_is_placed_by_a_status_of_the_same_boot():
    anchor = BootAnchor(boot=3, uptime_ms=10_000, received_at=1_800_000_000_000)
    assert place_press(ts=None, boot=3, uptime_ms=4_000, anchor=anchor,
                       received_at=1_800_000_099_000) == (1_799_999_994_000, "uptime")


def test_unsynced_press_from_another_boot_falls_back_to_arrival():
    anchor = BootAnchor(boot=4, uptime_ms=10_000, received_at=1_800_000_000_000)
    assert place_press(ts=None, boot=3, uptime_ms=4_000, anchor=anchor,
                       received_at=1_800_000_099_000) == (1_800_000_099_000, "received")
    assert place_press(ts=None, boot=3, uptime_ms=4_000, anchor=None,
                       received_at=7) == (7, "received")


def test_months_are_local_time():
    start, end = month_bounds("2026-11")
    assert month_of(start) == "2026-11" and month_of(start - 1) == "2026-10"
    assert month_of(end) == "2026-12" and month_of(end - 1) == "2026-11"
    # 2026-11-01 00:00 in Hanoi is 2026-10-31 17:00 UTC.
    assert start == 1_793_466_000_000
    assert month_bounds("2026-12")[1] == month_bounds("2027-01")[0]


@pytest.mark.parametrize("bad", ["2026-13", "2026-1", "26-11", "2026/11", "", "2026-00"])
def test_malformed_months_are_refused(bad):
    with pytest.raises(ValueError, match="month"):
        month_bounds(bad)
