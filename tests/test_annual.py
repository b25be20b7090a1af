"""The annual roll-up: average of the decided monthly scores, months missing, grade, moves."""

from __future__ import annotations

from datetime import date

import pytest

from collector.evaluation import year as annual
from collector.evaluation.month import MonthlyError, MonthlyNotFound
from collector.evaluation.policy import load_preset
import test_monthly
from test_monthly import at, evaluate
from collector.org.organisation import upsert_officer, upsert_unit

writable = test_monthly.writable  # the shared fixture

HANOI = load_preset("hanoi-3814")
DECREE = load_preset("decree-335")


def decided(month, score, grade="HTTNV", disciplined=0):
    return {"month": month, "final_score": score, "final_grade": grade,
            "disciplined": disciplined, "decided_by": "HK-H", "decided_by_name": "Ngô Văn Hùng",
            "decided_at": 1}


def test_average_of_decided_months_with_missing_ones():
    rows = [decided("2026-01", 80), decided("2026-02", 85.55), decided("2026-04", 90, "HTXSNV"),
            {**decided("2026-05", 99), "decided_at": None}]  # reviewed, not decided: not a result
    expected = [f"2026-{m:02d}" for m in range(1, 7)]  # January to June have ended
    year = annual.roll_up(HANOI, rows, expected)
    # (80 + 85.55 + 90) / 3 = 255.55 / 3 = 85.1833… → 85.18 → B (70 to under 90).
    assert year["average"] == 85.18 and year["months_counted"] == 3
    assert year["months_missing"] == ["2026-03", "2026-05", "2026-06"]
    assert (year["grade"]["code"], year["grade"]["letter"]) == ("HTTNV", "B")
    assert not year["complete"]
    cells = {cell["month"]: cell for cell in year["months"]}
    assert cells["2026-04"]["final_grade"]["letter"] == "A" and not cells["2026-03"]["decided"]


def test_average_rounds_half_up_in_decimal():
    # (90 + 89.99 + 90) / 3 = 89.99666… → 90.00 → excellent; (0.125 + 0.125)/2 = 0.125 → 0.13.
    assert annual.roll_up(HANOI, [decided("2026-01", 90), decided("2026-02", 89.99),
                                  decided("2026-03", 90)], [])["grade"]["code"] == "HTXSNV"
    assert annual.roll_up(HANOI, [decided("2026-01", 0.125), decided("2026-02", 0.125)],
                          [])["average"] == 0.13


def test_a_disciplined_month_caps_the_year_where_the_policy_says_so():
    rows = [decided("2026-01", 95, "HTXSNV"), decided("2026-02", 92, "KHTNV", disciplined=1)]
    capped = annual.roll_up(DECREE, rows, ["2026-01", "2026-02"])
    # Average 93.5 reads excellent, but decree-335 grades anyone disciplined in the period
    # (here: the year) "not completed" regardless of points.
    assert capped["average"] == 93.5 and capped["grade_by_points"]["code"] == "HTXSNV"
    assert capped["grade"]["code"] == "KHTNV" and capped["disciplined_months"] == ["2026-02"]
    assert capped["complete"]
    shown = annual.roll_up(HANOI, rows, [])  # hanoi-3814 names no forced grade
    assert shown["grade"]["code"] == "HTXSNV" and shown["disciplined_months"] == ["2026-02"]


def test_no_decision_yet_and_a_decision_without_a_score():
    empty = annual.roll_up(HANOI, [], ["2026-01"])
    assert (empty["average"], empty["grade"], empty["months_missing"]) == (None, None,
                                                                           ["2026-01"])
    no_score = annual.roll_up(HANOI, [decided("2026-01", None)], ["2026-01"])
    assert no_score["months_without_score"] == ["2026-01"] and no_score["average"] is None
    assert no_score["months_missing"] == []


@pytest.mark.parametrize("year, today, active_from, active_to, expected", [
    (2026, date(2026, 4, 10), None, None, ["2026-01", "2026-02", "2026-03"]),
    (2026, date(2026, 4, 10), "2026-02-15", None, ["2026-02", "2026-03"]),
    (2025, date(2026, 4, 10), None, "2025-02-01", ["2025-01", "2025-02"]),
    (2025, date(2026, 1, 1), None, None, [f"2025-{m:02d}" for m in range(1, 13)]),
    (2027, date(2026, 4, 10), None, None, []),
])
def test_expected_months(year, today, active_from, active_to, expected):
    assert annual.expected_months(year, today, active_from, active_to) == expected


def test_results_go_with_an_officer_who_moves(writable):
    # HK-A: January and February decided in hk-1c, then moved to the ward of Ba Đình.
    evaluate(writable, "HK-A", "2026-01", final_grade="HTXSNV", final_score=92,
             decided_by="HK-H", decided_at=at(5, 9, month=2))
    evaluate(writable, "HK-A", "2026-02", final_grade="HTTNV", final_score=84,
             decided_by="HK-H", decided_at=at(5, 9, month=3))
    upsert_unit(writable.db, "bd", "UBND phường Ba Đình", None)
    upsert_officer(writable.db, "HK-A", "Nguyễn Thị Thu Hường", "Chuyên viên", "bd")
    evaluate(writable, "HK-A", "2026-03", final_grade="HTTNV", final_score=80,
             decided_by="HK-H", decided_at=at(6, 9, month=4))
    today = date(2026, 4, 10)

    year = annual.officer_year(writable.db, "HK-A", 2026, HANOI, today=today)
    # (92 + 84 + 80) / 3 = 85.33 → B; every month of her year, wherever decided.
    assert (year["average"], year["months_counted"], year["grade"]["letter"]) == (85.33, 3, "B")
    assert year["complete"] and year["officer"]["unit_id"] == "bd"

    new_unit = annual.unit_year(writable.db, "bd", 2026, HANOI, today=today)
    assert [row["officer"]["id"] for row in new_unit["officers"]] == ["HK-A"]
    assert new_unit["officers"][0]["months_counted"] == 3
    assert new_unit["grades"]["HTTNV"] == 1 and new_unit["officers_complete"] == 1
    old_unit = annual.unit_year(writable.db, "hk-1c", 2026, HANOI, today=today)
    assert "HK-A" not in [row["officer"]["id"] for row in old_unit["officers"]]
    # HK-E left on 28 February: still in the year of hk-1c, with two months expected.
    e = next(row for row in old_unit["officers"] if row["officer"]["id"] == "HK-E")
    assert e["months_missing"] == ["2026-01", "2026-02"]


def test_errors(writable):
    with pytest.raises(MonthlyNotFound, match="No officer"):
        annual.officer_year(writable.db, "XX", 2026, HANOI, today=date(2026, 4, 1))
    with pytest.raises(MonthlyNotFound, match="No unit"):
        annual.unit_year(writable.db, "xx", 2026, HANOI, today=date(2026, 4, 1))
    with pytest.raises(MonthlyError, match="Năm không hợp lệ"):
        annual.officer_year(writable.db, "HK-A", 1999, HANOI, today=date(2026, 4, 1))
