"""Annual roll-up of the monthly decisions: average score, months counted, grade (issue 5, item 6).

Decree 335/2025 (domain brief): the year's classification averages the monthly (or quarterly)
scores, and the results of an officer who moves go with them to the new unit. So:

- the year's score is the plain average of the **final scores the head decided** in the
  months of that year (rounded half-up to the policy's decimals); months without a decision
  are listed as missing, never counted as zero, and months decided without a score are listed
  apart — a suggestion or a leader's proposal is not a result;
- the grade is read from that average with the policy's bands;
- **discipline**: Decree 335 (and Decree 48/2023 before it) grades anyone disciplined in the
  period "not completed" regardless of points, and for the annual classification the period
  is the year. We therefore cap the year's grade at the policy's `discipline_grade` when any
  decided month of the year carries the discipline flag; a policy without one (hanoi-3814)
  shows the flag and moves nothing, as its monthly scoring does. The head decides the year;
  this is the evidence they start from;
- results are keyed by officer, not unit: a unit's list shows the officers who belong to it
  now, each with every month of their year, including months decided in a previous unit.

"Expected" months are those of the year that have ended by `today` and fall within the
officer's active dates; `complete` says whether every expected month is decided.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlite_utils

from collector.evaluation import sources
from collector.evaluation.month import MonthlyError, MonthlyNotFound, grade_info
from collector.org.organisation import unit_subtree
from collector.evaluation.policy import GRADE_CODES, Policy
from collector.evaluation.scoring import grade_for

FIRST_YEAR, LAST_YEAR = 2000, 2100


def check_year(year: int) -> int:
    if isinstance(year, bool) or not isinstance(year, int) or not FIRST_YEAR <= year <= LAST_YEAR:
        raise MonthlyError(f"Năm không hợp lệ {year!r}, cần từ {FIRST_YEAR} đến {LAST_YEAR}",
                           f"Invalid year {year!r}, expected {FIRST_YEAR} to {LAST_YEAR}")
    return year


def expected_months(year: int, today: date, active_from: str | None,
                    active_to: str | None) -> list[str]:
    """Months of `year` that have ended by `today` and overlap the officer's active dates."""
    months = []
    for mon in range(1, 13):
        month = f"{year:04d}-{mon:02d}"
        if (year, mon) >= (today.year, today.month):
            break  # this month and later have not ended: nothing is due yet
        if active_from is not None and active_from[:7] > month:
            continue
        if active_to is not None and active_to[:7] < month:
            continue
        months.append(month)
    return months


def roll_up(policy: Policy, rows: list[dict[str, Any]], expected: list[str]) -> dict[str, Any]:
    """Pure: the year of one officer from their evaluation rows of that year."""
    step = Decimal(1).scaleb(-policy.decimals)
    decided = {row["month"]: row for row in rows if row.get("decided_at") is not None}
    months = sorted(set(expected) | set(decided))
    scores = [Decimal(repr(float(row["final_score"]))) for row in decided.values()
              if row.get("final_score") is not None]
    average = None
    if scores:
        average = float((sum(scores) / len(scores)).quantize(step, rounding=ROUND_HALF_UP))
    disciplined = sorted(m for m, row in decided.items() if row.get("disciplined"))
    by_points = grade_for(policy, average) if average is not None else None
    grade = by_points
    if grade is not None and disciplined and policy.discipline_grade:
        grade = GRADE_CODES[max(GRADE_CODES.index(grade),
                                GRADE_CODES.index(policy.discipline_grade))]
    missing = [m for m in months if m not in decided]
    return {
        "months": [_month_cell(policy, m, decided.get(m)) for m in months],
        "months_counted": len(scores),
        "months_missing": missing,
        "months_without_score": sorted(m for m, row in decided.items()
                                       if row.get("final_score") is None),
        "average": average,
        "grade": grade_info(policy, grade),
        "grade_by_points": grade_info(policy, by_points),
        "disciplined_months": disciplined,
        "complete": not missing and bool(months),
    }


def _month_cell(policy: Policy, month: str, row: dict[str, Any] | None) -> dict[str, Any]:
    if row is None:
        return {"month": month, "decided": False, "final_score": None, "final_grade": None,
                "disciplined": False, "decided_by": None, "decided_by_name": None,
                "decided_at": None}
    return {"month": month, "decided": True, "final_score": row.get("final_score"),
            "final_grade": grade_info(policy, row.get("final_grade")),
            "disciplined": bool(row.get("disciplined")), "decided_by": row.get("decided_by"),
            "decided_by_name": row.get("decided_by_name"), "decided_at": row.get("decided_at")}


def _policy(policy: Policy) -> dict[str, Any]:
    return {"name": policy.name, "title_vi": policy.title_vi, "title_en": policy.title_en}


def _officer_public(officer: dict[str, Any]) -> dict[str, Any]:
    return {key: officer[key] for key in ("id", "name", "title", "unit_id", "unit_name",
                                          "active_from", "active_to")}


def officer_year(db: sqlite_utils.Database, officer_id: str, year: int, policy: Policy, *,
                 today: date) -> dict[str, Any]:
    """One officer's year, wherever they were in it; MonthlyNotFound."""
    check_year(year)
    officer = sources.evidence_officer(db, officer_id)
    if officer is None:
        raise MonthlyNotFound(f"Không tìm thấy cán bộ {officer_id!r}",
                              f"No officer {officer_id!r}")
    rows = sources.evidence_year_evaluations(db, [officer_id], year).get(officer_id, [])
    expected = expected_months(year, today, officer["active_from"], officer["active_to"])
    return {"officer": _officer_public(officer), "year": year, "policy": _policy(policy),
            **roll_up(policy, rows, expected)}


def unit_year(db: sqlite_utils.Database, unit_id: str, year: int, policy: Policy, *,
              today: date) -> dict[str, Any]:
    """Every officer now in the unit or below it who was active in the year, one row each."""
    check_year(year)
    unit = sources.evidence_unit(db, unit_id)
    if unit is None:
        raise MonthlyNotFound(f"Không tìm thấy đơn vị {unit_id!r}", f"No unit {unit_id!r}")
    officers = sources.evidence_officers(db, unit_subtree(db, unit_id), f"{year:04d}-01-01",
                                         f"{year:04d}-12-31")
    by_officer = sources.evidence_year_evaluations(db, [o["id"] for o in officers], year)
    rows = []
    for officer in officers:
        expected = expected_months(year, today, officer["active_from"], officer["active_to"])
        rows.append({"officer": _officer_public(officer),
                     **roll_up(policy, by_officer.get(officer["id"], []), expected)})
    grades = [row["grade"]["code"] for row in rows if row["grade"]]
    return {"unit": {**unit, "outstanding": bool(unit["outstanding"])}, "year": year,
            "policy": _policy(policy), "officers": rows,
            "grades": {code: grades.count(code) for code in GRADE_CODES},
            "officers_complete": sum(row["complete"] for row in rows)}
