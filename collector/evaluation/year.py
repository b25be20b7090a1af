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
  grades as for each period's, on the grades after discipline, in one **pool** per officer:
  (the unit whose head decides them, their post group) — the deciding unit as
  permissions.officer_facts finds it from their unit now, since the year's results go with
  them (hailong keeps no officer's unit by date, so a past year is pooled where the officer
  is today, not where they were at its end); the group their current `post_group`, none the
  default group, the whole unit — with that deciding unit's own `outstanding` flag
  (rules/year_pools.py). A pool does not depend on the unit asked for: `unit_year` of an
  office without a head counts the whole group of the ward whose head decides it, and of a
  city each ward's pools apart, so an officer's grade after the quota is one fact, the same
  in `officer_year` (which computes their one pool). The top unit's head has no deciding
  unit in hailong: no pool, a note.

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

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from functools import lru_cache
from typing import Any

import sqlite_utils

from collector.core.collation import name_key
from collector.evaluation import scoring, sources
from collector.evaluation.rules import post_groups, year_pools
from collector.evaluation.rules.year_words import QuotaWords
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


def parse_year(text: str) -> int:
    """A year as a page's path gives it ("2026"): MonthlyError (422, a page saying why) for
    anything but digits of a year in range."""
    if not (text.isascii() and text.isdigit()):
        raise MonthlyError(f"Năm không hợp lệ {text!r}, cần từ {FIRST_YEAR} đến {LAST_YEAR}",
                           f"Invalid year {text!r}, expected {FIRST_YEAR} to {LAST_YEAR}")
    return check_year(int(text))


def expected_months(year: int, today: date, active_from: str | None,
                    active_to: str | None, period: str = MONTH) -> list[str]:
    """Months of `year` (quarters when `period`, the policy's, is "quarter") that have ended
    by `today` and overlap the officer's active dates."""
    return list(_expected(year, today, active_from, active_to, period))


@lru_cache(maxsize=4096)
def _expected(year: int, today: date, active_from: str | None, active_to: str | None,
              period: str) -> tuple[str, ...]:
    # Most officers share their active dates (none): a unit's year asks the same question
    # thousands of times (issue 13), and the answer is pure.
    return tuple(expected_periods(year, period, today, active_from, active_to))


def roll_up(policy: Policy, rows: list[dict[str, Any]], expected: list[str]) -> dict[str, Any]:
    """Pure: the year of one officer from their evaluation rows of that year."""
    step = Decimal(1).scaleb(-policy.decimals)
    decided = {row["month"]: row for row in rows if row.get("decided_at") is not None}
    months = sorted(set(expected) | set(decided))
    scores = [Decimal(repr(float(row["final_score"]))) for row in decided.values()
              if row.get("final_score") is not None]
    average = None
    if scores:
        # sum's start is a Decimal too: with the default int 0 the type is Decimal | int.
        average = float((sum(scores, Decimal(0)) / len(scores)).quantize(
            step, rounding=ROUND_HALF_UP))
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
            "period": policy.period,  # "month" or "quarter": what the year averages
            "apply_quota": policy.year.apply_quota}


def _officer_public(officer: dict[str, Any]) -> dict[str, Any]:
    return {**{key: officer[key] for key in ("id", "name", "title", "unit_id", "unit_name",
                                             "active_from", "active_to")},
            # the group of similar posts the year's quota is counted in (None: the whole unit);
            # .get: read the same whether or not the column exists yet
            "post_group": officer.get("post_group") or None}


@dataclass(frozen=True)
class QuotaUnit:
    """The unit whose head decides an officer: their year's pool is (this unit, their post
    group), capped with this unit's own outstanding flag."""
    id: str
    name: str
    outstanding: bool = False


def _active(officer: dict[str, Any], first: str, last: str) -> bool:
    return ((officer["active_from"] is None or officer["active_from"] <= last)
            and (officer["active_to"] is None or officer["active_to"] >= first))


class _Pools:
    """The year's pools over the unit tree, read once: a province's year costs the same few
    queries as a ward's (rules/year_pools.py walks the tree in memory)."""

    def __init__(self, db: sqlite_utils.Database, year: int):
        self.db, self.first, self.last = db, f"{year:04d}-01-01", f"{year:04d}-12-31"
        self.tree = sources.evidence_unit_tree(db)
        self.units = {u: (row["parent_id"], row["head_id"]) for u, row in self.tree.items()}

    def unit_of(self, officer: dict[str, Any]) -> QuotaUnit | None:
        unit = year_pools.deciding_unit(self.units, officer["id"], officer["unit_id"])
        if unit is None:
            return None
        return QuotaUnit(unit, self.tree[unit]["name"], bool(self.tree[unit]["outstanding"]))

    def members(self, pools: set[tuple[str, str | None]], known: dict[str, dict[str, Any]],
                known_units: set[str]) -> dict[str, tuple[dict[str, Any], QuotaUnit]]:
        """The officers active in the year in these (deciding unit, group) pools: id → (row,
        unit). `known`: rows read already, every officer of `known_units` active in the year;
        the rest is read in two queries, whatever the number of officers."""
        places, heads = year_pools.candidates(self.units, {unit for unit, _ in pools})
        found = dict(known)
        for row in sources.evidence_officers(self.db, places - known_units, self.first,
                                             self.last):
            found.setdefault(row["id"], row)
        for row in sources.evidence_officers_by_id(self.db, heads - found.keys()).values():
            if _active(row, self.first, self.last):
                found[row["id"]] = row
        out = {}
        for officer_id, row in found.items():
            unit = self.unit_of(row)
            if unit is not None and (unit.id, row.get("post_group") or None) in pools:
                out[officer_id] = (row, unit)
        return out


def _rolled(db: sqlite_utils.Database, policy: Policy, officers: list[dict[str, Any]],
            year: int, today: date) -> list[dict[str, Any]]:
    """The year rows of these officers (roll_up's, each with its "officer"), in one read."""
    by_officer = sources.evidence_year_evaluations(db, [o["id"] for o in officers], year)
    return [{"officer": _officer_public(officer),
             **roll_up(policy, by_officer.get(officer["id"], []),
                       expected_months(year, today, officer["active_from"],
                                       officer["active_to"], policy.period))}
            for officer in officers]


def officer_year(db: sqlite_utils.Database, officer_id: str, year: int, policy: Policy, *,
                 today: date) -> dict[str, Any]:
    """One officer's year, wherever they were in it, with their grade after the quota of their
    pool (its line in `quota`); MonthlyNotFound."""
    check_year(year)
    officer = sources.evidence_officer(db, officer_id)
    if officer is None:
        raise MonthlyNotFound(f"Không tìm thấy cán bộ {officer_id!r}",
                              f"No officer {officer_id!r}")
    everyone = {officer_id: officer}
    pool_of: dict[str, QuotaUnit | None] = {}
    if policy.year.apply_quota:
        pools = _Pools(db, year)
        unit = pool_of[officer_id] = pools.unit_of(officer)
        if unit is not None:
            # The pool's members are those active in the year, as unit_year counts them; the
            # officer is kept in any case (their own year, even outside their active dates).
            pool = (unit.id, officer.get("post_group") or None)
            for member, (row, member_unit) in pools.members({pool}, {}, set()).items():
                everyone[member], pool_of[member] = row, member_unit
    rows, quotas = year_quota(policy, _rolled(db, policy, list(everyone.values()), year, today),
                              pool_of)
    own = next(row for row in rows if row["officer"]["id"] == officer_id)
    return {**own, "year": year, "policy": _policy(policy),
            "quota": next((line for line in quotas if own["quota_pool"] is not None
                           and (line["unit_id"], line["group"]) == _key(own["quota_pool"])),
                          None)}


def unit_year(db: sqlite_utils.Database, unit_id: str, year: int, policy: Policy, *,
              today: date) -> dict[str, Any]:
    """Every officer now in the unit or below it who was active in the year, one row each,
    each graded in their own pool; one quota line per pool they are in."""
    check_year(year)
    unit = sources.evidence_unit(db, unit_id)
    if unit is None:
        raise MonthlyNotFound(f"Không tìm thấy đơn vị {unit_id!r}", f"No unit {unit_id!r}")
    subtree = unit_subtree(db, unit_id)
    officers = sources.evidence_officers(db, subtree, f"{year:04d}-01-01", f"{year:04d}-12-31")
    everyone = {o["id"]: o for o in officers}
    pool_of: dict[str, QuotaUnit | None] = {}
    if policy.year.apply_quota:
        pools = _Pools(db, year)
        pool_of = {o["id"]: pools.unit_of(o) for o in officers}
        met = {(deciding.id, o.get("post_group") or None) for o in officers
               if (deciding := pool_of[o["id"]]) is not None}
        # Each pool whole, wherever its members are: above the unit (a ward's head in the
        # city's pool, an office's officers in their ward's) as below it.
        for member, (row, member_unit) in pools.members(met, everyone, subtree).items():
            everyone[member], pool_of[member] = row, member_unit
    rows, quotas = year_quota(policy, _rolled(db, policy, list(everyone.values()), year, today),
                              pool_of)
    by_id = {row["officer"]["id"]: row for row in rows}
    rows = [by_id[o["id"]] for o in officers]  # the unit's own, in the list's order
    met_keys = {_key(row["quota_pool"]) for row in rows if row["quota_pool"]}
    grades = [row["grade"]["code"] for row in rows if row["grade"]]
    return {"unit": {**unit, "outstanding": bool(unit["outstanding"])}, "year": year,
            "policy": _policy(policy), "officers": rows,
            "quotas": [line for line in quotas if (line["unit_id"], line["group"]) in met_keys],
            "grades": {code: grades.count(code) for code in GRADE_CODES},
            "officers_complete": sum(row["complete"] for row in rows)}


# --- the year's quota, per pool: (deciding unit, group of similar posts) ------------------------

WHOLE_UNIT = {"vi": "Cả đơn vị", "en": "Whole unit"}


def _key(pool: dict[str, Any]) -> tuple[str, str | None]:
    return pool["unit_id"], pool["group"]


def _pool(unit: QuotaUnit, group: str | None) -> dict[str, Any]:
    """A row's pool: its deciding unit and group, and the label its lines and notes use."""
    vi, en = post_groups.group_label(group)
    return {"unit_id": unit.id, "unit_name": unit.name, "group": group,
            "label": {"vi": f"{unit.name} — {vi}", "en": f"{unit.name} — {en}"}}


def year_quota(policy: Policy, rows: list[dict[str, Any]],
               pools: Mapping[str, QuotaUnit | None]) -> tuple[list[dict[str, Any]],
                                                               list[dict[str, Any]]]:
    """Pure: year rows (roll_up's, each with its "officer") after the quota on the top grade,
    and one summary per pool, by deciding unit's name, the default group first.

    `pools`: officer id → the unit whose head decides them (None, or absent: none in hailong).
    Each row gains `quota_pool` (its unit, group and label; None outside any pool),
    `quota_note` ({vi, en}, or None where the quota moved nothing for it; for an officer
    without a pool, that the quota is checked outside hailong) and `quota_tie`; its `grade` is
    the one after discipline and quota, `grade_by_points` the one read from the average.
    Without `[year] apply_quota` nothing moves and there is no summary.
    """
    rows = [{**row, "quota_note": None, "quota_tie": False, "quota_pool": None} for row in rows]
    if not policy.year.apply_quota:
        return rows, []
    groups: dict[tuple[QuotaUnit, str | None], list[int]] = {}
    for i, row in enumerate(rows):
        unit = pools.get(row["officer"]["id"])
        if unit is None:
            row["quota_note"] = _quota_outside(policy)
            continue
        group = row["officer"].get("post_group") or None
        row["quota_pool"] = _pool(unit, group)
        groups.setdefault((unit, group), []).append(i)
    order = sorted(groups, key=lambda key: (name_key(key[0].name), key[0].id,
                                            post_groups.group_order(key[1])))
    return rows, [_group_quota(policy, rows, unit, group, groups[unit, group])
                  for unit, group in order]


def _group_quota(policy: Policy, rows: list[dict[str, Any]], unit: QuotaUnit,
                 group: str | None, members: list[int]) -> dict[str, Any]:
    """Apply the quota to one pool's rows (in place) and describe it."""
    outstanding = unit.outstanding
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
    label = _pool(unit, group)["label"]
    words = QuotaWords(policy.quota, policy.decimals, final, label, kept)
    if below is not None and (moved or tied):  # only a grade below can take the excess
        for rank, i in enumerate(clear, start=1):
            rows[i]["quota_note"] = words.kept(rank)
        for i in moved:
            rows[i]["quota_note"] = words.moved(rows[i]["average"], below)
            rows[i]["grade"] = grade_info(policy, below)
        for i in tied:
            rows[i]["quota_note"] = words.tied(rows[i]["average"], kept - len(clear), len(tied))
            rows[i]["quota_tie"] = True
    return {"unit_id": unit.id, "unit_name": unit.name, "outstanding": outstanding,
            "group": group, "label": label, "rated": len(rated),
            "candidates": len(candidates), "share": final.share, "base": final.base,
            "cap": final.cap, "places": kept, "kept": len(clear), "tied": len(tied),
            "demoted": len(moved), "exceeded": kept < len(candidates),
            **words.summary(len(candidates), len(clear), len(moved), len(tied), below)}


def _exact_average(row: dict[str, Any]) -> Fraction:
    """The unrounded average of the decided scores of a year row (roll_up's `months`)."""
    scores = [Fraction(Decimal(repr(float(cell["final_score"])))) for cell in row["months"]
              if cell["decided"] and cell["final_score"] is not None]
    return sum(scores, Fraction(0)) / len(scores) if scores else Fraction(-1)


def _quota_outside(policy: Policy) -> dict[str, str]:
    """The note of an officer no head in hailong decides (the top unit's head): no pool."""
    top_vi, top_en = GRADE_LABELS[policy.quota.grade]
    return {"vi": "Không có thủ trưởng nào trong hailong quyết định xếp loại của cán bộ này (cấp "
                  "cao nhất của tổ chức): xếp loại năm ở đây theo điểm bình quân và kỷ luật; tỷ "
                  f"lệ xếp loại «{top_vi}» do cấp trên xét, ngoài hailong",
            "en": "No head in hailong decides this officer's grade (the top of the "
                  "organisation): the year's grade here follows the average and discipline; the "
                  f"quota on “{top_en}” is checked above, outside hailong"}
