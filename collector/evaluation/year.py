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
  now, each with every month of their year, including months decided in a previous unit;
- **the quota** (`[year] apply_quota`, issue 12): the cap on the top grade holds for the year's
  grades as for each period's, within each group of similar posts of the unit (the officer's
  `post_group`; none: the default group, the whole unit), on the grades after discipline. It
  needs the unit, so `unit_year` applies it (`year_quota`) and `officer_year` only says so.

Because each decided month's final score follows the head's grade (rules/decision.py), an
officer capped from A to B every month averages under A's floor: the average cannot bring back
a grade the head refused.

How the quota moves grades (`year_quota`): where the candidates (the top grade by average and
discipline) exceed the cap, they keep it in order of their exact average (never the rounded
one: issue 12, round once), highest first; the rest get the grade below it with a line saying
why. Those moved down are rated that grade, so where it is in the quota's base (decree-335:
20 % of those rated good) they count in it: the number kept is the largest k with
k ≤ cap(the year's grades with the others moved down) — what an inspector checking the year's
grades as they end would allow. Candidates tied at the boundary (the k-th and the next with
the same exact average) are not separated by hailong: all of them stay candidates with
`quota_tie` and a note that the head decides.

"Expected" months are those of the year that have ended by `today` and fall within the
officer's active dates; `complete` says whether every expected month is decided.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

import sqlite_utils

from collector.core.collation import name_key
from collector.evaluation import scoring, sources
from collector.evaluation.rules.decision import score_text
from collector.evaluation.month import MonthlyError, MonthlyNotFound, grade_info
from collector.org.organisation import unit_subtree
from collector.evaluation.policy import GRADE_CODES, GRADE_LABELS, Policy
from collector.evaluation.scoring import grade_for
from collector.core.periods import MONTH, expected_periods

FIRST_YEAR, LAST_YEAR = 2000, 2100


def check_year(year: int) -> int:
    if isinstance(year, bool) or not isinstance(year, int) or not FIRST_YEAR <= year <= LAST_YEAR:
        raise MonthlyError(f"Năm không hợp lệ {year!r}, cần từ {FIRST_YEAR} đến {LAST_YEAR}",
                           f"Invalid year {year!r}, expected {FIRST_YEAR} to {LAST_YEAR}")
    return year


def expected_months(year: int, today: date, active_from: str | None,
                    active_to: str | None, period: str = MONTH) -> list[str]:
    """Months of `year` (quarters when `period`, the policy's, is "quarter") that have ended
    by `today` and overlap the officer's active dates."""
    return expected_periods(year, period, today, active_from, active_to)


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
    return {"name": policy.name, "title_vi": policy.title_vi, "title_en": policy.title_en,
            "period": policy.period}  # "month" or "quarter": what the year averages


def _officer_public(officer: dict[str, Any]) -> dict[str, Any]:
    return {**{key: officer[key] for key in ("id", "name", "title", "unit_id", "unit_name",
                                             "active_from", "active_to")},
            # the group of similar posts the year's quota is counted in (None: the whole unit);
            # .get: read the same whether or not the column exists yet
            "post_group": officer.get("post_group") or None}


def officer_year(db: sqlite_utils.Database, officer_id: str, year: int, policy: Policy, *,
                 today: date) -> dict[str, Any]:
    """One officer's year, wherever they were in it; MonthlyNotFound."""
    check_year(year)
    officer = sources.evidence_officer(db, officer_id)
    if officer is None:
        raise MonthlyNotFound(f"Không tìm thấy cán bộ {officer_id!r}",
                              f"No officer {officer_id!r}")
    rows = sources.evidence_year_evaluations(db, [officer_id], year).get(officer_id, [])
    expected = expected_months(year, today, officer["active_from"], officer["active_to"],
                               policy.period)
    return {"officer": _officer_public(officer), "year": year, "policy": _policy(policy),
            **roll_up(policy, rows, expected), "quota_note": _quota_elsewhere(policy)}


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
        expected = expected_months(year, today, officer["active_from"], officer["active_to"],
                                   policy.period)
        rows.append({"officer": _officer_public(officer),
                     **roll_up(policy, by_officer.get(officer["id"], []), expected)})
    rows, quotas = year_quota(policy, rows, outstanding=bool(unit["outstanding"]))
    grades = [row["grade"]["code"] for row in rows if row["grade"]]
    return {"unit": {**unit, "outstanding": bool(unit["outstanding"])}, "year": year,
            "policy": _policy(policy), "officers": rows, "quotas": quotas,
            "grades": {code: grades.count(code) for code in GRADE_CODES},
            "officers_complete": sum(row["complete"] for row in rows)}


# --- the year's quota, per group of similar posts ------------------------------------------------

WHOLE_UNIT = {"vi": "Cả đơn vị", "en": "Whole unit"}


def year_quota(policy: Policy, rows: list[dict[str, Any]], *,
               outstanding: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Pure: the unit's year rows (roll_up's, each with its "officer") after the quota on the
    top grade, and one summary per group of similar posts (the default group first).

    Each row gains `quota_note` ({vi, en}, or None where the quota moved nothing for it) and
    `quota_tie`; its `grade` is the one after discipline and quota, `grade_by_points` the one
    read from the average. Without `[year] apply_quota` nothing moves and there is no summary.
    """
    rows = [{**row, "quota_note": None, "quota_tie": False} for row in rows]
    if not policy.year.apply_quota:
        return rows, []
    groups: dict[str | None, list[int]] = {}
    for i, row in enumerate(rows):
        groups.setdefault(row["officer"].get("post_group") or None, []).append(i)
    order = sorted(groups, key=lambda group: (group is not None, name_key(group)))
    return rows, [_group_quota(policy, rows, group, groups[group], outstanding)
                  for group in order]


def _group_quota(policy: Policy, rows: list[dict[str, Any]], group: str | None,
                 members: list[int], outstanding: bool) -> dict[str, Any]:
    """Apply the quota to one group's rows (in place) and describe it."""
    top = policy.quota.grade
    at = GRADE_CODES.index(top)
    below = GRADE_CODES[at + 1] if at + 1 < len(GRADE_CODES) else None
    rated = [i for i in members if rows[i]["grade"]]
    others = [rows[i]["grade"]["code"] for i in rated if rows[i]["grade"]["code"] != top]
    # Highest exact average first; equal averages keep the list's order (Vietnamese names).
    candidates = sorted((i for i in rated if rows[i]["grade"]["code"] == top),
                        key=lambda i: _exact_average(rows[i]), reverse=True)

    def check(kept: int) -> scoring.QuotaCheck:
        moved_down = [below] * (len(candidates) - kept) if below else []
        return scoring.check_quota(policy, others + [top] * kept + moved_down, outstanding)

    kept = len(candidates)
    while below and kept and check(kept).exceeded:
        kept -= 1  # each one moved down may join the base (decree-335: those rated good)
    final = check(kept)
    clear, tied = candidates[:kept], []
    if 0 < kept < len(candidates):
        boundary = _exact_average(rows[candidates[kept - 1]])
        if _exact_average(rows[candidates[kept]]) == boundary:
            tied = [i for i in candidates if _exact_average(rows[i]) == boundary]
            clear = [i for i in clear if i not in tied]
    moved = [i for i in candidates if i not in clear and i not in tied]
    label = WHOLE_UNIT if group is None else {"vi": group, "en": group}
    words = _QuotaWords(policy, final, label, kept)
    if below is not None and (moved or tied):  # only a grade below can take the excess
        for rank, i in enumerate(clear, start=1):
            rows[i]["quota_note"] = words.kept(rank)
        for i in moved:
            rows[i]["quota_note"] = words.moved(rows[i]["average"], below)
            rows[i]["grade"] = grade_info(policy, below)
        for i in tied:
            rows[i]["quota_note"] = words.tied(rows[i]["average"], kept - len(clear), len(tied))
            rows[i]["quota_tie"] = True
    return {"group": group, "label": label, "rated": len(rated),
            "candidates": len(candidates), "share": final.share, "base": final.base,
            "cap": final.cap, "places": kept, "kept": len(clear), "tied": len(tied),
            "demoted": len(moved), "exceeded": kept < len(candidates),
            **words.summary(len(candidates), len(clear), len(moved), len(tied), below)}


class _QuotaWords:
    """The bilingual lines of one group's year quota (numbers as glossary-vi.md writes them)."""

    def __init__(self, policy: Policy, check: scoring.QuotaCheck, label: dict[str, str],
                 places: int):
        self.policy, self.check, self.label, self.places = policy, check, label, places
        self.top = GRADE_LABELS[policy.quota.grade]
        share_vi, share_en = score_text(check.share * 100, 2)
        self.formula = (f"tối đa {share_vi} % × {check.base} = {check.cap}",
                        f"at most {share_en}% × {check.base} = {check.cap}")

    def _average(self, average: float) -> tuple[str, str]:
        return score_text(average, self.policy.decimals)

    def kept(self, rank: int) -> dict[str, str]:
        (top_vi, top_en), (g_vi, g_en) = self.top, (self.label["vi"], self.label["en"])
        return {"vi": f"Giữ loại «{top_vi}»: thứ {rank} theo điểm bình quân trong nhóm «{g_vi}», "
                      f"trong {self.places} suất",
                "en": f"Keeps “{top_en}”: number {rank} by average in group “{g_en}”, within "
                      f"{_places_en(self.places)}"}

    def moved(self, average: float, below: str) -> dict[str, str]:
        (top_vi, top_en), (low_vi, low_en) = self.top, GRADE_LABELS[below]
        a_vi, a_en = self._average(average)
        f_vi, f_en = self.formula
        return {"vi": f"Điểm bình quân {a_vi} đạt loại «{top_vi}» nhưng vượt tỷ lệ của nhóm "
                      f"«{self.label['vi']}» ({self.places} suất: {f_vi}, làm tròn xuống): "
                      f"xếp loại «{low_vi}»",
                "en": f"The average {a_en} reaches “{top_en}” but exceeds the quota of group "
                      f"“{self.label['en']}” ({_places_en(self.places)}: {f_en}, rounded "
                      f"down): graded “{low_en}”"}

    def tied(self, average: float, left: int, tied: int) -> dict[str, str]:
        a_vi, a_en = self._average(average)
        return {"vi": f"Điểm bình quân {a_vi} bằng người khác ở ranh giới tỷ lệ của nhóm "
                      f"«{self.label['vi']}» (còn {left} suất cho {tied} người): hailong không "
                      "phân định, thủ trưởng quyết định",
                "en": f"The average {a_en} equals another's at the boundary of the quota of "
                      f"group “{self.label['en']}” ({_places_en(left)} left for {tied}): "
                      "hailong does not choose, the head decides"}

    def summary(self, candidates: int, kept: int, moved: int, tied: int,
                below: str | None) -> dict[str, str]:
        top_vi, top_en = self.top
        of_grades = self.policy.quota.of_grades
        if set(of_grades) == set(GRADE_CODES):
            of_vi, of_en = "số được đánh giá", "those rated"
        else:
            names = [GRADE_LABELS[code] for code in of_grades]
            of_vi = "số được xếp loại " + ", ".join(vi for vi, _ in names)
            of_en = "those rated " + ", ".join(en.lower() for _, en in names)
            if below in of_grades and (moved or tied):
                of_vi += ", kể cả người chuyển xuống"
                of_en += ", those moved down included"
        base = self.check
        share_vi, share_en = score_text(base.share * 100, 2)
        cap_vi = f"tối đa {share_vi} % × {base.base} ({of_vi}) = {base.cap} (làm tròn xuống)"
        cap_en = f"at most {share_en}% × {base.base} ({of_en}) = {base.cap} (rounded down)"
        head_vi, head_en = f"Nhóm «{self.label['vi']}»: ", f"Group “{self.label['en']}”: "
        reach_vi = f"{candidates} người đạt loại «{top_vi}» theo điểm bình quân"
        reach_en = f"{candidates} reach “{top_en}” by their average"
        if not (moved or tied):
            return {"vi": f"{head_vi}trong tỷ lệ. {reach_vi}; {cap_vi}",
                    "en": f"{head_en}within the quota. {reach_en}; {cap_en}"}
        vi = (f"{head_vi}{reach_vi}, vượt tỷ lệ: {cap_vi}; giữ {kept} người có điểm bình quân "
              "cao nhất")
        en = (f"{head_en}{reach_en}, over the quota: {cap_en}; {kept} with the highest average "
              "keep it")
        if moved and below:
            low_vi, low_en = GRADE_LABELS[below]
            vi += f", {moved} người xếp loại «{low_vi}»"
            en += f", {moved} graded “{low_en}”"
        if tied:
            vi += (f"; {tied} người bằng điểm bình quân ở ranh giới tỷ lệ (còn {self.places - kept}"
                   " suất): thủ trưởng quyết định")
            en += (f"; {tied} tied on their average at the boundary "
                   f"({_places_en(self.places - kept)} left): the head decides")
        return {"vi": vi, "en": en}


def _places_en(n: int) -> str:
    return f"{n} place" if n == 1 else f"{n} places"


def _exact_average(row: dict[str, Any]) -> Fraction:
    """The unrounded average of the decided scores of a year row (roll_up's `months`)."""
    scores = [Fraction(Decimal(repr(float(cell["final_score"])))) for cell in row["months"]
              if cell["decided"] and cell["final_score"] is not None]
    return sum(scores, Fraction(0)) / len(scores) if scores else Fraction(-1)


def _quota_elsewhere(policy: Policy) -> dict[str, str] | None:
    """What one officer's year says of the quota: it is judged with the unit's, not alone."""
    if not policy.year.apply_quota:
        return None
    top_vi, top_en = GRADE_LABELS[policy.quota.grade]
    return {"vi": f"Tỷ lệ xếp loại «{top_vi}» của năm được xét trong đơn vị, theo nhóm vị trí "
                  "tương đồng: xem tổng hợp năm của đơn vị",
            "en": f"The year's quota on “{top_en}” is checked within the unit, by group of "
                  "similar posts: see the unit's year"}
