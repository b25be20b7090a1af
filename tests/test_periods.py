"""Evaluation periods (collector/core/periods.py): a month "YYYY-MM" or a quarter "YYYY-Qn".

Decree 335/2025 evaluates by month or by quarter; the policy's `period` says which. Pure: every
expected value below is written from the calendar, not from the code.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from collector.core.errors import BilingualError
from collector.core.periods import (
    MONTH,
    QUARTER,
    PeriodError,
    check_period,
    expected_periods,
    label,
    latest_month,
    parse_period,
    period_bounds,
    period_of,
    periods_of_year,
)
from collector.core.timeline import LOCAL_TZ, month_bounds


def local_ms(year: int, month: int, day: int) -> int:
    return int(datetime(year, month, day, tzinfo=LOCAL_TZ).timestamp() * 1000)


@pytest.mark.parametrize("key, kind, first, last, months", [
    ("2026-03", MONTH, date(2026, 3, 1), date(2026, 3, 31), ("2026-03",)),
    ("2024-02", MONTH, date(2024, 2, 1), date(2024, 2, 29), ("2024-02",)),  # leap year
    ("2026-12", MONTH, date(2026, 12, 1), date(2026, 12, 31), ("2026-12",)),
    ("2026-Q1", QUARTER, date(2026, 1, 1), date(2026, 3, 31), ("2026-01", "2026-02", "2026-03")),
    ("2026-Q2", QUARTER, date(2026, 4, 1), date(2026, 6, 30), ("2026-04", "2026-05", "2026-06")),
    ("2026-Q3", QUARTER, date(2026, 7, 1), date(2026, 9, 30), ("2026-07", "2026-08", "2026-09")),
    ("2026-Q4", QUARTER, date(2026, 10, 1), date(2026, 12, 31),
     ("2026-10", "2026-11", "2026-12")),
])
def test_a_period_knows_its_days_and_months(key, kind, first, last, months):
    period = parse_period(key)
    assert (period.key, period.kind) == (key, kind)
    assert (period.first_day, period.last_day) == (first, last)
    assert period.months() == months
    assert period.contains(first) and period.contains(last)
    assert not period.contains(date.fromordinal(first.toordinal() - 1))
    assert not period.contains(date.fromordinal(last.toordinal() + 1))


def test_bounds_are_local_midnights_half_open():
    # [1 January 00:00 UTC+7, 1 April 00:00 UTC+7): the quarter's three months end to end.
    assert period_bounds("2026-Q1") == (local_ms(2026, 1, 1), local_ms(2026, 4, 1))
    assert period_bounds("2026-Q4") == (local_ms(2026, 10, 1), local_ms(2027, 1, 1))
    assert period_bounds("2026-Q1")[0] == month_bounds("2026-01")[0]
    assert period_bounds("2026-Q1")[1] == month_bounds("2026-03")[1]
    # A month's bounds are timeline.month_bounds' own.
    assert period_bounds("2026-03") == month_bounds("2026-03")


@pytest.mark.parametrize("day, kind, key", [
    (date(2026, 1, 1), QUARTER, "2026-Q1"),
    (date(2026, 3, 31), QUARTER, "2026-Q1"),
    (date(2026, 4, 1), QUARTER, "2026-Q2"),
    (date(2026, 8, 15), QUARTER, "2026-Q3"),
    (date(2026, 12, 31), QUARTER, "2026-Q4"),
    (date(2026, 3, 31), MONTH, "2026-03"),
    (date(2026, 12, 1), MONTH, "2026-12"),
])
def test_the_period_containing_a_day(day, kind, key):
    assert period_of(day, kind).key == key


@pytest.mark.parametrize("key, before, after", [
    ("2026-Q1", "2025-Q4", "2026-Q2"),
    ("2026-Q4", "2026-Q3", "2027-Q1"),
    ("2026-01", "2025-12", "2026-02"),
    ("2026-12", "2026-11", "2027-01"),
])
def test_previous_and_following(key, before, after):
    period = parse_period(key)
    assert period.previous().key == before and period.following().key == after
    assert parse_period(before).following() == period == parse_period(after).previous()


@pytest.mark.parametrize("key, vi, en", [
    ("2026-Q1", "Quý I/2026", "Q1 2026"),
    ("2026-Q2", "Quý II/2026", "Q2 2026"),
    ("2026-Q3", "Quý III/2026", "Q3 2026"),
    ("2026-Q4", "Quý IV/2026", "Q4 2026"),
    ("2026-03", "Tháng 03/2026", "March 2026"),
    ("2026-11", "Tháng 11/2026", "November 2026"),
])
def test_labels_in_both_languages(key, vi, en):
    assert label(key, "vi") == parse_period(key).label("vi") == vi
    assert label(key, "en") == parse_period(key).label("en") == en


def test_the_periods_of_a_year():
    assert [p.key for p in periods_of_year(2026, QUARTER)] == [
        "2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"]
    assert [p.key for p in periods_of_year(2026, MONTH)] == [
        f"2026-{m:02d}" for m in range(1, 13)]


@pytest.mark.parametrize("kind, today, active_from, active_to, expected", [
    # On 10 July 2026 the first two quarters have ended; the third has not.
    (QUARTER, date(2026, 7, 10), None, None, ["2026-Q1", "2026-Q2"]),
    # The quarter ends on its last day: it is due the day after.
    (QUARTER, date(2026, 3, 31), None, None, []),
    (QUARTER, date(2026, 4, 1), None, None, ["2026-Q1"]),
    (QUARTER, date(2027, 1, 5), None, None, ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"]),
    # Joined on 15 May: Q2 overlaps, Q1 does not. Left on 1 April: Q2 still overlaps.
    (QUARTER, date(2027, 1, 5), "2026-05-15", None, ["2026-Q2", "2026-Q3", "2026-Q4"]),
    (QUARTER, date(2027, 1, 5), None, "2026-04-01", ["2026-Q1", "2026-Q2"]),
    (QUARTER, date(2027, 1, 5), None, "2026-03-31", ["2026-Q1"]),
    (MONTH, date(2026, 4, 10), None, None, ["2026-01", "2026-02", "2026-03"]),
    (MONTH, date(2026, 4, 10), "2026-02-28", None, ["2026-02", "2026-03"]),
    (MONTH, date(2026, 4, 10), None, "2026-01-31", ["2026-01"]),
    (MONTH, date(2025, 12, 31), None, None, []),
])
def test_expected_periods(kind, today, active_from, active_to, expected):
    assert expected_periods(2026, kind, today, active_from, active_to) == expected


@pytest.mark.parametrize("key", ["2026-3", "2026-13", "2026-00", "2026-Q0", "2026-Q5",
                                 "2026-q1", "2026-Q1\n", "26-Q1", "0000-01", "", None, 202603])
def test_malformed_keys_are_refused_in_both_languages(key):
    with pytest.raises(PeriodError) as refused:
        parse_period(key)
    assert isinstance(refused.value, BilingualError)
    assert "YYYY-MM" in refused.value.vi and "YYYY-Qn" in refused.value.en


def test_a_quarterly_policy_refuses_a_month_and_names_its_quarter():
    with pytest.raises(PeriodError) as refused:
        check_period("2026-03", QUARTER)
    assert refused.value.vi.startswith("Chính sách đánh giá theo quý")
    assert "2026-Q1" in refused.value.vi and "'2026-03'" in refused.value.vi
    assert refused.value.en.startswith("The policy evaluates by quarter")
    assert "2026-Q1" in refused.value.en


def test_a_monthly_policy_refuses_a_quarter_and_names_its_months():
    with pytest.raises(PeriodError) as refused:
        check_period("2026-Q1", MONTH)
    assert refused.value.vi.startswith("Chính sách đánh giá theo tháng")
    assert "2026-01" in refused.value.vi and "2026-03" in refused.value.vi
    assert refused.value.en.startswith("The policy evaluates by month")


@pytest.mark.parametrize("key, kind, words", [
    ("2026-13", MONTH, ("Tháng không hợp lệ", "Invalid month")),
    ("2026-Q5", QUARTER, ("Quý không hợp lệ", "Invalid quarter")),
])
def test_a_malformed_key_of_the_policy_kind_says_what_is_expected(key, kind, words):
    with pytest.raises(PeriodError) as refused:
        check_period(key, kind)
    assert refused.value.vi.startswith(words[0]) and refused.value.en.startswith(words[1])


def test_check_period_returns_the_period():
    assert check_period("2026-Q2", QUARTER) == parse_period("2026-Q2")
    assert check_period("2026-04", MONTH).first_day == date(2026, 4, 1)


def test_an_unknown_kind_is_a_programming_error():
    with pytest.raises(ValueError):
        check_period("2026-Q1", "week")


@pytest.mark.parametrize("key, today, month", [
    ("2026-03", date(2026, 1, 1), "2026-03"),
    ("2026-Q1", date(2026, 4, 10), "2026-03"),   # over: its last month
    ("2026-Q1", date(2026, 2, 14), "2026-02"),   # running: this month
    ("2026-Q2", date(2026, 2, 14), "2026-04"),   # not begun: its first month
])
def test_the_month_a_monthly_view_shows_for_a_period(key, today, month):
    assert latest_month(key, today) == month
