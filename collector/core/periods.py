"""Evaluation periods: a month "YYYY-MM" or a quarter "YYYY-Qn" (n 1–4), in local time.

Decree 335/2025/NĐ-CP evaluates each civil servant by month or by quarter; the deployment's
policy (`Policy.period`) chooses which, and every evaluation row, event and due-date row is
keyed by the period's key in its `month` column (no schema change: a quarter's key never
collides with a month's). This module is the one place that reads a key: its first and last
local days, its [start, end) bounds in unix ms (UTC+7, as collector/core/timeline.py), the
months it spans, its neighbours, the period containing a day, the periods of a year and
those an officer's year expects, and its label ("Quý I/2026" / "Q1 2026", "Tháng 03/2026" /
"March 2026": quarters in Roman numerals, as Vietnamese documents number them).

`check_period(key, kind)` is what a service calls with its policy's `period`: it refuses a
malformed key, and a key of the other kind with a message saying how the policy evaluates
(a month under a quarterly policy names the quarter that contains it). Errors are
`PeriodError`s (BilingualError); callers re-raise them as their own domain's error.
Pure: no clock, no database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from collector.core.errors import BilingualError
from collector.core.timeline import LOCAL_TZ

MONTH, QUARTER = "month", "quarter"
KINDS = (MONTH, QUARTER)
# \Z, not $: "$" lets a trailing newline through ("2026-Q1\n").
_MONTH_KEY = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])\Z")
QUARTER_PATTERN = _QUARTER_KEY = re.compile(r"^(\d{4})-Q([1-4])\Z")
_ROMAN = ("I", "II", "III", "IV")
_MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August",
                "September", "October", "November", "December")


class PeriodError(BilingualError):
    """A period key that cannot be used: malformed, or of the kind the policy does not use."""


@dataclass(frozen=True)
class Period:
    """One evaluation period: `number` is the month (1–12) or the quarter (1–4)."""

    kind: str
    year: int
    number: int

    @property
    def key(self) -> str:
        if self.kind == QUARTER:
            return f"{self.year:04d}-Q{self.number}"
        return f"{self.year:04d}-{self.number:02d}"

    @property
    def _first_month(self) -> int:
        return 3 * self.number - 2 if self.kind == QUARTER else self.number

    @property
    def _last_month(self) -> int:
        return 3 * self.number if self.kind == QUARTER else self.number

    @property
    def first_day(self) -> date:
        return date(self.year, self._first_month, 1)

    @property
    def end_day(self) -> date:
        """The first day after the period: the day its review opens."""
        last = self._last_month
        return date(self.year + (last == 12), last % 12 + 1, 1)

    @property
    def last_day(self) -> date:
        return self.end_day - timedelta(days=1)

    @property
    def last_month_first_day(self) -> date:
        """The first day of the period's last month (the month itself for a month)."""
        return date(self.year, self._last_month, 1)

    def months(self) -> tuple[str, ...]:
        """The 'YYYY-MM' months the period spans, in order."""
        return tuple(f"{self.year:04d}-{m:02d}"
                     for m in range(self._first_month, self._last_month + 1))

    def bounds(self) -> tuple[int, int]:
        """[start, end) in unix ms: local midnight of the first day and of the day after."""
        return _local_ms(self.first_day), _local_ms(self.end_day)

    def contains(self, day: date) -> bool:
        return self.first_day <= day <= self.last_day

    def previous(self) -> Period:
        count = 4 if self.kind == QUARTER else 12
        if self.number == 1:
            return Period(self.kind, self.year - 1, count)
        return Period(self.kind, self.year, self.number - 1)

    def following(self) -> Period:
        count = 4 if self.kind == QUARTER else 12
        if self.number == count:
            return Period(self.kind, self.year + 1, 1)
        return Period(self.kind, self.year, self.number + 1)

    def label(self, language: str) -> str:
        """'Quý I/2026' / 'Q1 2026', 'Tháng 03/2026' / 'March 2026'."""
        if self.kind == QUARTER:
            if language == "vi":
                return f"Quý {_ROMAN[self.number - 1]}/{self.year}"
            return f"Q{self.number} {self.year}"
        if language == "vi":
            return f"Tháng {self.number:02d}/{self.year}"
        return f"{_MONTH_NAMES[self.number - 1]} {self.year}"

    def overlaps(self, active_from: str | None, active_to: str | None) -> bool:
        """Whether inclusive ISO active dates (None: open) meet the period."""
        return ((active_from is None or active_from <= self.last_day.isoformat())
                and (active_to is None or active_to >= self.first_day.isoformat()))


def _local_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=LOCAL_TZ).timestamp() * 1000)


def _match(key: Any) -> Period | None:
    if not isinstance(key, str):
        return None
    for kind, pattern in ((MONTH, _MONTH_KEY), (QUARTER, _QUARTER_KEY)):
        found = pattern.match(key)
        if found and int(found.group(1)) >= 1:
            return Period(kind, int(found.group(1)), int(found.group(2)))
    return None


def _malformed(key: Any, kind: str | None) -> PeriodError:
    if kind == MONTH:
        return PeriodError(f"Tháng không hợp lệ {key!r}, cần dạng YYYY-MM (ví dụ 2026-03)",
                           f"Invalid month {key!r}, expected YYYY-MM (e.g. 2026-03)")
    if kind == QUARTER:
        return PeriodError(f"Quý không hợp lệ {key!r}, cần dạng YYYY-Qn, n từ 1 đến 4 "
                           "(ví dụ 2026-Q1)",
                           f"Invalid quarter {key!r}, expected YYYY-Qn with n from 1 to 4 "
                           "(e.g. 2026-Q1)")
    return PeriodError(f"Kỳ đánh giá không hợp lệ {key!r}, cần dạng YYYY-MM (tháng, ví dụ "
                       "2026-03) hoặc YYYY-Qn (quý, ví dụ 2026-Q1)",
                       f"Invalid period {key!r}, expected YYYY-MM (a month, e.g. 2026-03) "
                       "or YYYY-Qn (a quarter, e.g. 2026-Q1)")


def parse_period(key: Any) -> Period:
    """A month or a quarter key → its Period; PeriodError when it is neither."""
    period = _match(key)
    if period is None:
        raise _malformed(key, None)
    return period


def check_period(key: Any, kind: str) -> Period:
    """`key` as a period of `kind` (the policy's `period`); PeriodError when malformed or of
    the other kind, saying how the policy evaluates. ValueError for an unknown `kind`."""
    if kind not in KINDS:
        raise ValueError(f"period kind must be one of {KINDS}, not {kind!r}")
    period = _match(key)
    if period is None:
        raise _malformed(key, kind)
    if period.kind == kind:
        return period
    if kind == QUARTER:
        quarter = period_of(period.first_day, QUARTER).key
        raise PeriodError(
            f"Chính sách đánh giá theo quý: cần kỳ dạng YYYY-Qn (ví dụ {quarter}, quý có "
            f"tháng {period.number:02d}/{period.year}), không phải tháng {key!r}",
            f"The policy evaluates by quarter: give a quarter as YYYY-Qn (e.g. {quarter}, "
            f"the quarter of {period.label('en')}), not the month {key!r}")
    months = period.months()
    raise PeriodError(
        f"Chính sách đánh giá theo tháng: cần tháng dạng YYYY-MM (ví dụ {months[0]} … "
        f"{months[-1]}), không phải quý {key!r}",
        f"The policy evaluates by month: give a month as YYYY-MM (e.g. {months[0]} to "
        f"{months[-1]}), not the quarter {key!r}")


def period_bounds(key: Any) -> tuple[int, int]:
    """[start, end) in unix ms of a month or a quarter key; PeriodError when malformed."""
    return parse_period(key).bounds()


def period_of(day: date, kind: str) -> Period:
    """The month or quarter (`kind`) containing the local date `day`."""
    if kind == QUARTER:
        return Period(QUARTER, day.year, (day.month - 1) // 3 + 1)
    if kind == MONTH:
        return Period(MONTH, day.year, day.month)
    raise ValueError(f"period kind must be one of {KINDS}, not {kind!r}")


def label(key: Any, language: str) -> str:
    return parse_period(key).label(language)


def periods_of_year(year: int, kind: str) -> list[Period]:
    count = {QUARTER: 4, MONTH: 12}[kind]
    return [Period(kind, year, number) for number in range(1, count + 1)]


def expected_periods(year: int, kind: str, today: date, active_from: str | None,
                     active_to: str | None) -> list[str]:
    """Keys of the periods of `year` that have ended by `today` (a period is due the day
    after its last day) and overlap the officer's inclusive active dates (None: open)."""
    return [period.key for period in periods_of_year(year, kind)
            if period.end_day <= today and period.overlaps(active_from, active_to)]


def latest_month(key: Any, today: date) -> str:
    """The month a monthly view (ratings' trends and charts) shows for a period: a month
    itself; a quarter's last month, or today's month while the quarter runs (its first month
    before it begins)."""
    period = parse_period(key)
    months = period.months()
    if period.end_day <= today:
        return months[-1]
    if today < period.first_day:
        return months[0]
    return period_of(today, MONTH).key
