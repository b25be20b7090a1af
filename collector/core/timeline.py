"""Pure placement of a press in time, and local-month arithmetic.

A device without a synced clock still knows its uptime; the collector knows when a status
from the same boot arrived and the uptime it carried, which anchors that boot's uptime to the
collector's clock (docs/protocol.md, "Placing a press in time").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from collector.core.errors import BilingualError
from collector.protocol.messages import TS_MIN_MS

# Vietnam keeps UTC+7 all year (no daylight saving since 1975); a fixed offset avoids a tz
# database dependency on office machines. Months and shifts are local-time concepts.
LOCAL_TZ = timezone(timedelta(hours=7), "ICT")
MONTH_PATTERN = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])\Z")  # \Z: $ lets "2026-11\n" through


# A device clock more than this ahead of the collector's when the rating arrived is wrong (a
# press cannot arrive before it happened); within it, ordinary drift between two NTP-synced
# clocks and the collector's own is forgiven. The press is then placed as if `ts` were null.
DEVICE_TS_AHEAD_TOLERANCE_MS = 10 * 60_000
# A status whose `received - uptime` is this much later than its boot's epoch was delayed
# (a broker backlog): its place in time is the epoch plus its uptime, not its arrival. Large
# enough for a crystal's drift over weeks of uptime; no larger than the silence a device is
# allowed (store.MAX_SILENCE_MS), so a misplaced status never moves an online span further.
STATUS_LATE_MS = 180_000


@dataclass(frozen=True)
class BootAnchor:
    """A status of `boot` carried `uptime_ms` and reached the collector at `received_at`; a
    boot's epoch (its start on the collector's clock) is BootAnchor(boot, 0, epoch)."""
    boot: int
    uptime_ms: int
    received_at: int


def boot_epoch(received_at: int, uptime_ms: int, earlier: int | None) -> int | None:
    """The boot's epoch after one more message of it: the earliest `received - uptime`.
    Every delay (network, broker queue, retained replay) makes the estimate later, never
    earlier, so the earliest is the closest and a late message cannot move it later. An
    estimate before TS_MIN_MS (an uptime longer than the clock allows) is no boot's start:
    it is ignored, or it would pull every press of the boot into the past for good."""
    observed = received_at - uptime_ms
    if observed < TS_MIN_MS:
        return earlier
    return observed if earlier is None else min(earlier, observed)


def place_status(*, uptime_ms: int, received_at: int, epoch: int | None) -> int:
    """Where an online status of a boot with `epoch` (before this status) sits in time: its
    arrival while it is fresh, else the epoch plus its uptime (it came from a backlog)."""
    if epoch is not None and received_at - uptime_ms - epoch > STATUS_LATE_MS:
        return epoch + uptime_ms
    return received_at


def place_press(*, ts: int | None, boot: int, uptime_ms: int, anchor: BootAnchor | None,
                received_at: int, clock_ms: int | None = None) -> tuple[int, str]:
    """Return (pressed_at unix ms, time_source) for one press.

    `device` when the device's `ts` is given and not beyond the collector's clock
    (`clock_ms`, when the rating is recorded; default `received_at`) by more than
    DEVICE_TS_AHEAD_TOLERANCE_MS; otherwise `uptime` when the boot is anchored, else
    `received`. The stored `device_ts` beside `time_source` shows a clock that was ignored.
    """
    clock_ms = received_at if clock_ms is None else clock_ms
    if ts is not None and ts <= clock_ms + DEVICE_TS_AHEAD_TOLERANCE_MS:
        return ts, "device"
    if anchor is not None and anchor.boot == boot:
        pressed_at = anchor.received_at + (uptime_ms - anchor.uptime_ms)
        # Not after the clock either: an uptime beyond the boot's life is not a time.
        if pressed_at <= clock_ms + DEVICE_TS_AHEAD_TOLERANCE_MS:
            return pressed_at, "uptime"
    return received_at, "received"


def month_bounds(month: str) -> tuple[int, int]:
    """'YYYY-MM' → [start, end) in unix ms, local time. Raises ValueError on a bad month."""
    match = MONTH_PATTERN.match(month)
    if not match:
        raise BilingualError(f"Tháng phải có dạng YYYY-MM, ví dụ 2026-11, không phải {month!r}",
                             f"month must look like 2026-11 (YYYY-MM), not {month!r}")
    year, mon = int(match.group(1)), int(match.group(2))
    start = datetime(year, mon, 1, tzinfo=LOCAL_TZ)
    end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=LOCAL_TZ)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def month_of(unix_ms: int) -> str:
    return datetime.fromtimestamp(unix_ms / 1000, LOCAL_TZ).strftime("%Y-%m")


def local_datetime(unix_ms: int) -> datetime:
    return datetime.fromtimestamp(unix_ms / 1000, LOCAL_TZ)
