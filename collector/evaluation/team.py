"""A leader's team for a month: the people they lead, each with task results and evaluation stage.

The leader's workspace (dashboard /team) and its JSON twin (GET /api/v1/team) show this. The
team of officer L is:

- everyone whose direct leader is L (`organisation.led_by`: `leader_id`, or the responsible
  head when there is none);
- for a head, also everyone in the subtrees of the units L heads who has no leader of record,
  even when a unit below has a head of its own: the head over them assigns and judges their
  work too (`permissions.may_plan_task`/`may_judge_task` allow a head over X), and nobody
  else is following it.

Only officers active at some time in the month are listed (someone who left gets no new work).
Each member carries the month's task counts as the evaluation counts them
(`tasks.task_evidence`), their tasks with status, the workflow stage and lateness
(workflow/calendar.py `progress`), and what L may do (`may`: plan, judge, review), computed by
the same permission functions the API enforces. Reads only; `today` is passed in.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlite_utils

from collector.evaluation import month as monthly, tasks
from collector.accounts import permissions
from collector.org import directory
from collector.evaluation import sources
from collector.evaluation import task_records
from collector.org.organisation import led_by, unled_below
from collector.evaluation.workflow.calendar import calendar_for, progress


def team_members(db: sqlite_utils.Database, leader_id: str) -> list[str]:
    """Officer ids of L's team (see the module docstring), sorted, L excluded."""
    members = set(led_by(db, leader_id)) | unled_below(db, leader_id)
    members.discard(leader_id)
    return sorted(members)


def _active(officer: dict[str, Any], first: str, last: str) -> bool:
    return ((officer["active_from"] is None or officer["active_from"] <= last)
            and (officer["active_to"] is None or officer["active_to"] >= first))


def member_month(db: sqlite_utils.Database, officer: dict[str, Any], leader_id: str,
                 month: str, calendar, evaluation: dict[str, Any] | None,
                 today: date, period: str = "month") -> dict[str, Any]:
    """One member's line: who, task counts and tasks, stage, what the leader may do."""
    officer_id = officer["id"]
    rows = task_records.officer_tasks(db, officer_id, month)
    evidence = tasks.task_evidence(rows, month, today=today)
    row = evaluation or {}
    state = progress(row.get("self_at"), row.get("reviewed_at"), row.get("decided_at"),
                     calendar, today)
    facts = permissions.officer_facts(db, officer_id)
    return {
        "officer_id": officer_id, "name": officer["name"], "title": officer["title"],
        "unit_id": officer["unit_id"], "unit_name": officer["unit_name"],
        "leader_id": facts.leader, "direct": facts.leader == leader_id,
        "tasks": tasks.evidence_dict(evidence),
        "items": [tasks.describe(task, today, period) for task in rows],
        "stage": state["stage"], "awaiting": state["awaiting"],
        "late_steps": state["late_steps"],
        "may": {"plan": bool(permissions.may_plan_task(facts, leader_id)),
                "judge": bool(permissions.may_judge_task(facts, leader_id)),
                # the month's reviewer: of its stored place once reviewed (issue 12)
                "review": bool(permissions.may_review(
                    permissions.month_facts(db, officer_id, month, today) or facts, leader_id))},
    }


def team_month(db: sqlite_utils.Database, leader_id: str, month: str,
               today: date, period: str = "month") -> dict[str, Any]:
    """L's team for the month (a quarter "YYYY-Qn" when `period`, the policy's, is
    "quarter"), by unit then name; MonthlyError on a malformed month, MonthlyNotFound for an
    unknown L."""
    first, last = monthly.check_month(month, period)
    if directory.get_officer(db, leader_id) is None:
        raise monthly.MonthlyNotFound(f"Không tìm thấy cán bộ {leader_id!r}",
                                      f"No officer {leader_id!r}")
    ids = team_members(db, leader_id)
    officers = [o for o in sources.evidence_officers_by_id(db, ids).values()
                if _active(o, first, last)]
    officers.sort(key=directory.officer_order)
    calendar = calendar_for(db, month)
    evaluations = sources.evidence_evaluations(db, [o["id"] for o in officers], month)
    members = [member_month(db, officer, leader_id, month, calendar,
                            evaluations.get(officer["id"]), today, period)
               for officer in officers]
    return {"leader_id": leader_id, "month": month, "calendar": calendar.as_dict(),
            "members": members}
