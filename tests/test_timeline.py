"""Placing presses in time and local months (UTC+7)."""

from __future__ import annotations

import pytest

from collector.core.timeline import month_bounds, month_of
from collector.ingest.placement import (
    DEVICE_TS_AHEAD_TOLERANCE_MS,
    STATUS_LATE_MS,
    BootAnchor,
    boot_epoch,
    place_press,
    place_status,
)


def test_synced_clock_wins():
    anchor = BootAnchor(boot=3, uptime_ms=10_000, received_at=1_800_000_000_000)
    assert place_press(ts=1_790_000_000_000, boot=3, uptime_ms=5, anchor=anchor,
                       received_at=1_800_000_000_000) == (1_790_000_000_000, "device")


RECEIVED = 1_800_000_000_000


@pytest.mark.parametrize("ahead, expected", [
    (0, (RECEIVED, "device")),
    (DEVICE_TS_AHEAD_TOLERANCE_MS, (RECEIVED + DEVICE_TS_AHEAD_TOLERANCE_MS, "device")),
    (DEVICE_TS_AHEAD_TOLERANCE_MS + 1, (RECEIVED - 10_000 + 4_000, "uptime")),
    (40 * 86_400_000, (RECEIVED - 10_000 + 4_000, "uptime")),
])
def test_a_device_clock_ahead_of_the_collector_is_not_trusted(ahead, expected):
    epoch = BootAnchor(boot=3, uptime_ms=0, received_at=RECEIVED - 10_000)
    assert place_press(ts=RECEIVED + ahead, boot=3, uptime_ms=4_000, anchor=epoch,
                       received_at=RECEIVED) == expected


def test_a_clock_ahead_without_an_anchor_falls_back_to_arrival():
    assert place_press(ts=RECEIVED + 40 * 86_400_000, boot=3, uptime_ms=4_000, anchor=None,
                       received_at=RECEIVED) == (RECEIVED, "received")


def test_the_collectors_clock_may_be_later_than_the_arrival():
    # A rating recorded from a backlog: judged by the clock when it is recorded.
    assert place_press(ts=RECEIVED + 3_600_000, boot=3, uptime_ms=0, anchor=None,
                       received_at=RECEIVED, clock_ms=RECEIVED + 3_600_000) == \
        (RECEIVED + 3_600_000, "device")


def test_a_boots_epoch_is_the_earliest_estimate():
    assert boot_epoch(RECEIVED, 60_000, None) == RECEIVED - 60_000
    # Delivered two hours late: a later estimate, which must not move the epoch.
    assert boot_epoch(RECEIVED + 7_200_000, 120_000, RECEIVED - 60_000) == RECEIVED - 60_000
    # Less delayed than the first: the epoch moves earlier.
    assert boot_epoch(RECEIVED + 1_000, 62_000, RECEIVED - 60_000) == RECEIVED - 61_000


@pytest.mark.parametrize("received, expected", [
    (RECEIVED + 60_000, RECEIVED + 60_000),                    # on time
    (RECEIVED + 60_000 + STATUS_LATE_MS, RECEIVED + 60_000 + STATUS_LATE_MS),  # drift allowed
    (RECEIVED + 60_000 + STATUS_LATE_MS + 1, RECEIVED + 60_000),  # from a backlog
    (RECEIVED + 7_200_000, RECEIVED + 60_000),
])
def test_a_status_sits_at_its_arrival_only_while_fresh(received, expected):
    assert place_status(uptime_ms=60_000, received_at=received, epoch=RECEIVED) == expected


def test_the_first_status_of_a_boot_sits_at_its_arrival():
    assert place_status(uptime_ms=60_000, received_at=RECEIVED, epoch=None) == RECEIVED


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


@pytest.mark.parametrize("bad", ["2026-13", "2026-1", "26-11", "2026/11", "", "2026-00",
                                 "2026-11\n"])
def test_malformed_months_are_refused(bad):
    with pytest.raises(ValueError, match="month"):
        month_bounds(bad)


def test_an_uptime_longer_than_the_clock_allows_anchors_nothing():
    # received - uptime before 2020: no boot started then (an uptime of 2^53 - 1, say).
    assert boot_epoch(RECEIVED, 2**53 - 1, None) is None
    assert boot_epoch(RECEIVED, 2**53 - 1, RECEIVED - 5) == RECEIVED - 5


@pytest.mark.parametrize("uptime_ms", [2**53 - 1, 40 * 86_400_000])
def test_an_uptime_placing_a_press_in_the_future_falls_back_to_arrival(uptime_ms):
    epoch = BootAnchor(boot=3, uptime_ms=0, received_at=RECEIVED - 10_000)
    assert place_press(ts=None, boot=3, uptime_ms=uptime_ms, anchor=epoch,
                       received_at=RECEIVED) == (RECEIVED, "received")

