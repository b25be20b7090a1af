"""A unit's month in figures, per direct sub-unit: what a large unit's landing page shows.

The whole unit and each sub-unit below it (its subtree), plus the officers placed directly in
the unit itself: officers in the period, their workflow steps (pending, self, reviewed,
decided: month_view.py `month_status`), their ratings counted and filtered with the pooled
satisfaction index, and open alerts. The same figures `unit_month`'s rows add up to — the same
members (an officer's period belongs where it was reviewed or decided, else to their current
unit; only officers active in it), the same ratings — from SQL aggregates
(collector/evaluation/summary/reads.py), never a row per officer: a province's root is
154,000 officers.

`latest` is the unit's satisfaction card as the overview shows it (the JSON twin
GET /api/v1/units/{unit}/trend): the period's latest month so far (a quarter's month under
way) and the change from the month before, over the period's members.
Reads only; the caller passes the local date (`today`) and the clock (`now_ms`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlite_utils

from collector.core.periods import latest_month, parse_period
from collector.evaluation import sources
from collector.evaluation.month import MonthlyNotFound, check_month
from collector.evaluation.month_view import STATUSES
from collector.evaluation.policy import Policy
from collector.evaluation.summary import reads
from collector.org.directory import unit_name_key
from collector.ratings import trends
from collector.ratings.evidence import satisfaction_evidence

# Past this share of the tree's units, the officers with ratings are placed rather than the
# subtree's officers by index (reads.py `rating_kinds`: both give the same figures).
SCAN_SHARE = 0.25


@dataclass(frozen=True)
class MonthMembers:
    """Who is in a unit's period, counted: the subtree, each unit's branch (the direct
    sub-unit it lies under, or the unit itself) and members per unit and workflow step."""
    unit: dict[str, Any]
    period: str
    first: str
    last: str
    names: dict[str, str]  # unit → name, for the unit and its subtree
    branch: dict[str, str]  # unit of the subtree → the direct sub-unit above it, or the unit
    steps: dict[str, dict[str, int]]  # unit → step → members
    scan: bool

    @property
    def officers(self) -> int:
        return sum(sum(steps.values()) for steps in self.steps.values())


def _branches(unit_id: str, tree: list[tuple[str, str | None, str]]) -> dict[str, str]:
    """Each unit of the subtree → the direct sub-unit of `unit_id` it lies under (the unit
    itself for itself), walking down from the unit once (a cycle in the data ends there)."""
    children: dict[str, list[str]] = {}
    for unit, parent, _ in tree:
        if parent is not None and unit != unit_id:
            children.setdefault(parent, []).append(unit)
    branch = {unit_id: unit_id}
    stack = [(child, child) for child in children.get(unit_id, [])]
    while stack:
        unit, top = stack.pop()
        if unit in branch:
            continue
        branch[unit] = top
        stack.extend((child, top) for child in children.get(unit, []))
    return branch


def month_members(db: sqlite_utils.Database, unit_id: str, period: str,
                  policy: Policy) -> MonthMembers:
    """The unit's period counted by unit and step (a few statements, whatever its size);
    MonthlyNotFound for an unknown unit, MonthlyError for a malformed period."""
    first, last = check_month(period, policy.period)
    unit = sources.evidence_unit(db, unit_id)
    if unit is None:
        raise MonthlyNotFound(f"Không tìm thấy đơn vị {unit_id!r}", f"No unit {unit_id!r}")
    tree = reads.subtree(db, unit_id)
    scan = len(tree) > SCAN_SHARE * reads.unit_count(db)
    branch = _branches(unit_id, tree)
    steps = reads.member_steps(db, branch, period, first, last)
    return MonthMembers(unit={**unit, "outstanding": bool(unit["outstanding"])},
                        period=period, first=first, last=last,
                        names={u: name for u, _, name in tree}, branch=branch, steps=steps,
                        scan=scan)


def _satisfaction(kinds: list[tuple], min_ratings: int) -> dict[str, Any]:
    sat = satisfaction_evidence(trends.summary_of(kinds), min_ratings)
    return {"ratings": sat["total"], "index": sat["index"],
            "share_satisfied": sat["share_satisfied"], "share_interval": sat["share_interval"],
            "sufficient": sat["sufficient"], "filtered": sat["filtered"]["total"],
            "counts": sat["counts"]}


def _figures(steps: dict[str, int], kinds: list[tuple], alerts: int,
             min_ratings: int) -> dict[str, Any]:
    progress = {step: steps.get(step, 0) for step in STATUSES}
    return {"officers": sum(progress.values()), "progress": progress,
            "satisfaction": _satisfaction(kinds, min_ratings), "alerts_open": alerts}


def unit_summary(db: sqlite_utils.Database, unit_id: str, period: str, policy: Policy, *,
                 today: date, now_ms: int, members: MonthMembers | None = None
                 ) -> dict[str, Any]:
    """The unit's period and each direct sub-unit's (`sub_units`, by Vietnamese name; a
    `direct` row first for the officers placed in the unit itself, when there are any).
    `members`: month_members' answer, when the caller has it already."""
    members = members or month_members(db, unit_id, period, policy)
    min_ratings = policy.satisfaction.min_ratings
    months = parse_period(period).months()
    latest = latest_month(period, today)
    before = parse_period(latest).previous().key
    kinds = reads.rating_kinds(db, members.branch, period, members.first, members.last,
                               {*months, latest, before}, scan=members.scan)
    alerts = reads.open_alerts(db, members.branch)
    # Everything per branch: the direct sub-unit, or the unit for its own officers.
    steps: dict[str, dict[str, int]] = {}
    pooled: dict[str, list[tuple]] = {}
    raised: dict[str, int] = {}
    by_month: dict[str, list[tuple]] = {}
    for unit, counts in members.steps.items():
        mine = steps.setdefault(members.branch[unit], {})
        for step, n in counts.items():
            mine[step] = mine.get(step, 0) + n
    for (unit, month), rows in kinds.items():
        by_month.setdefault(month, []).extend(rows)
        if month in months:
            pooled.setdefault(members.branch[unit], []).extend(rows)
    for unit, n in alerts.items():
        raised[members.branch[unit]] = raised.get(members.branch[unit], 0) + n
    whole_steps: dict[str, int] = {}
    for counts in steps.values():
        for step, n in counts.items():
            whole_steps[step] = whole_steps.get(step, 0) + n
    own = members.unit["id"]
    subs = sorted((u for u, b in members.branch.items() if u == b and u != own),
                  key=lambda u: (unit_name_key(members.names[u]), u))
    rows = [{"unit_id": u, "unit_name": members.names[u], "direct": False,
             **_figures(steps.get(u, {}), pooled.get(u, []), raised.get(u, 0), min_ratings)}
            for u in subs]
    direct = _figures(steps.get(own, {}), pooled.get(own, []), raised.get(own, 0), min_ratings)
    if direct["officers"] or direct["satisfaction"]["ratings"] or direct["alerts_open"]:
        rows.insert(0, {"unit_id": own, "unit_name": members.names[own], "direct": True,
                        **direct})
    series = [trends.month_point(month, by_month.get(month, []), min_ratings)
              for month in (before, latest)]
    return {
        "unit": members.unit, "month": period,
        "policy": {"name": policy.name, "title_vi": policy.title_vi,
                   "title_en": policy.title_en, "min_ratings": min_ratings,
                   "period": policy.period},
        "generated_at": now_ms,
        **_figures(whole_steps, [k for rows_ in pooled.values() for k in rows_],
                   sum(raised.values()), min_ratings),
        "latest": {"month": latest, "series": series, "change": trends.change(
            [trends.summary_of(by_month.get(month, [])) for month in (before, latest)])},
        "sub_units": rows,
    }
