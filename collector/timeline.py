"""Pure placement of a press in time, and local-month arithmetic.

A device without a synced clock still knows its uptime; the collector knows when a status
from the same boot arrived and the uptime it carried, which anchors that boot's uptime to the
collector's clock (docs/protocol.md, "Placing a press in time").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from .errors import BilingualError

# Vietnam keeps UTC+7 all year (no daylight saving since 1975); a fixed offset avoids a tz
# database dependency on office machines. Months and shifts are local-time concepts.
LOCAL_TZ = timezone(timedelta(hours=7), "ICT")
MONTH_PATTERN = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class BootAnchor:
    boot: int
    uptime_ms: int
    received_at: int


def place_press(*, ts: int | None, boot: int, uptime_ms: int, anchor: BootAnchor | None,
                received_at: int) -> tuple[int, str]:
    """Return (pressed_at unix ms, time_source) for one press."""
    if ts is not None:
        return ts, "device"
    if anchor is not None and anchor.boot == boot:
        return anchor.received_at + (uptime_ms - anchor.uptime_ms), "uptime"
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
