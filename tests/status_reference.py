"""A unit's evaluation status computed officer by officer, as it was before issue 13 item 3.

The slow reference the bulk `unit_evaluation_status` (collector/evaluation/workflow/status.py)
is checked against (tests/test_month_facts_many.py) and timed beside (bench/unit_status.py):
its officers listed by the query of that time (an IN list of the units, sorted by SQLite),
each officer's reviewer and head read by `permissions.month_facts`, about ten statements each,
and the quota counted as `unit_quotas` counted it then, over the quota pool read again (only
the wording of a line, quotas.py `_padded`, is shared).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlite_utils

from collector.accounts import permissions
from collector.core.periods import parse_period
from collector.evaluation.policy import Policy
from collector.evaluation.rules import post_groups
from collector.evaluation.workflow import quotas, status
from collector.evaluation.workflow.calendar import calendar_for, progress
from collector.org.organisation import unit_chain, unit_subtree

MONTH_UNIT = "COALESCE(e.unit_id, o.unit_id)"
SELECT = (f"SELECT o.id, o.name, {MONTH_UNIT} AS unit_id, CASE WHEN e.unit_id IS NOT NULL "
          "THEN e.post_group ELSE o.post_group END AS post_group, e.deciding_unit_id, "
          "e.self_at, e.reviewed_at, e.decided_at, e.proposed_grade, e.final_grade "
          "FROM officers o LEFT JOIN evaluations e ON e.officer_id = o.id AND e.month = ?")
ACTIVE = ("(o.active_from IS NULL OR o.active_from <= ?) "
          "AND (o.active_to IS NULL OR o.active_to >= ?)")


def unit_officers(db: sqlite_utils.Database, unit_ids: set[str],
                  month: str) -> list[dict[str, Any]]:
    """The officers whose month belongs to these units, active in it, by unit then id."""
    if not unit_ids:
        return []
    period, units = parse_period(month), sorted(unit_ids)
    marks = ", ".join("?" * len(units))
    return [dict(row) for row in db.query(
        f"{SELECT} WHERE o.id IN (SELECT id FROM officers WHERE unit_id IN ({marks}) UNION "
        f"SELECT officer_id FROM evaluations WHERE month = ? AND unit_id IN ({marks})) "
        f"AND {MONTH_UNIT} IN ({marks}) AND {ACTIVE} ORDER BY {MONTH_UNIT}, o.id",
        [month, *units, month, *units, *units, period.last_day.isoformat(),
         period.first_day.isoformat()])]


def quota_pool(db: sqlite_utils.Database, unit_id: str, month: str) -> list[dict[str, Any]]:
    """The officers whose month counts in the unit's quota (records.py's docstring)."""
    units, above = unit_subtree(db, unit_id), set(unit_chain(db, unit_id))
    rows = unit_officers(db, units, month)
    period, ordered = parse_period(month), sorted(units)
    marks = ", ".join("?" * len(ordered))
    rows += [dict(row) for row in db.query(
        f"{SELECT} WHERE o.id IN (SELECT officer_id FROM evaluations WHERE month = ? AND "
        f"deciding_unit_id IN ({marks}) AND unit_id NOT IN ({marks})) AND {ACTIVE}",
        [month, month, *ordered, *ordered, period.last_day.isoformat(),
         period.first_day.isoformat()])]
    return sorted((row for row in rows if row["deciding_unit_id"] is None
                   or row["deciding_unit_id"] in units
                   or (row["unit_id"] in units and row["deciding_unit_id"] in above)),
                  key=lambda row: (row["unit_id"], row["id"]))


def unit_quotas(db: sqlite_utils.Database, policy: Policy, unit_id: str,
                month: str) -> list[quotas.UnitQuota]:
    """The unit's quota lines, one per group of similar posts, counted as they were."""
    rows = quota_pool(db, unit_id, month)
    group_of = {row["id"]: row["post_group"] for row in rows}
    grades = {row["id"]: row["final_grade"] or row["proposed_grade"] for row in rows
              if row["final_grade"] or row["proposed_grade"]}
    decided = {row["id"] for row in rows if row["final_grade"]}
    members = [(group_of.get(officer), officer) for officer in [*grades, *(
        row["id"] for row in rows if row["id"] not in grades)]]
    outstanding = db.execute("SELECT outstanding FROM units WHERE id = ?",
                             [unit_id]).fetchone()[0]
    lines = []
    for group, officers in post_groups.split(members):
        graded = [grades[o] for o in officers if o in grades]
        capped = sum(o in decided and grades[o] == policy.quota.grade for o in officers)
        lines.append(quotas._padded(policy, bool(outstanding), graded, capped,
                                    sum(o not in grades for o in officers),
                                    "chưa được xếp loại", "not graded yet", group))
    return lines


def outside(facts: permissions.OfficerFacts, state: dict[str, Any]) -> dict[str, Any]:
    """An officer without a head in hailong awaits nobody and is late for nobody."""
    if facts.head is not None:
        return {**state, "outside": None}
    return {**state, "awaiting": [], "late": dict.fromkeys(state["late"], False),
            "late_steps": [], "outside": status.OUTSIDE}


def slow_unit_status(db: sqlite_utils.Database, policy: Policy, unit_id: str, month: str,
                     today: date) -> dict[str, Any]:
    month = status.check_month(month, policy.period)
    calendar = calendar_for(db, month)
    officers = []
    stages = {"not_started": 0, "self_done": 0, "reviewed": 0, "decided": 0}
    late = {"self": 0, "review": 0, "decision": 0}
    for row in unit_officers(db, unit_subtree(db, unit_id), month):
        facts = permissions.month_facts(db, row["id"], month, today)
        state = outside(facts, progress(row["self_at"], row["reviewed_at"], row["decided_at"],
                                        calendar, today))
        who = {"self": row["id"], "review": facts.leader, "decision": facts.head}
        stages[state["stage"]] += 1
        for step in state["late_steps"]:
            late[step] += 1
        officers.append({"officer_id": row["id"], "name": row["name"],
                         "unit_id": row["unit_id"], "stage": state["stage"],
                         "awaiting": [{"step": s, "by": who[s]} for s in state["awaiting"]],
                         "late_steps": state["late_steps"], "self_skipped": state["self_skipped"],
                         "outside": state["outside"],
                         "proposed_grade": row["proposed_grade"],
                         "final_grade": row["final_grade"]})
    return {"unit_id": unit_id, "month": month, "calendar": calendar.as_dict(),
            "officers": officers, "stages": stages, "late": late,
            **status.quota_lines(unit_quotas(db, policy, unit_id, month))}
