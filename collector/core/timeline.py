"""Local time and month arithmetic: the collector's clock read as Vietnam's calendar.

Months and shifts are local-time concepts; everything the collector stores is unix ms. The
placement of a press in time (device clock, uptime, arrival) is the ingest's rule and lives in
collector/ingest/placement.py.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from collector.core.errors import BilingualError

# Vietnam keeps UTC+7 all year (no daylight saving since 1975); a fixed offset avoids a tz
# database dependency on office machines. Months and shifts are local-time concepts.
LOCAL_TZ = timezone(timedelta(hours=7), "ICT")
MONTH_PATTERN = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])\Z")  # \Z: $ lets "2026-11\n" through


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


def current_month() -> str:
    return datetime.now(LOCAL_TZ).strftime("%Y-%m")


def checked_month(month: str | None) -> str:
    """The month asked for, or this month; ValueError with a clear message when malformed."""
    if month is None:
        return current_month()
    month_bounds(month)
    return month
