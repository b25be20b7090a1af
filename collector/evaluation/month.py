"""The merge: an officer's month and a unit's month, computed from stored data (issue 5, item 4).

Nothing here is typed in by a person: satisfaction comes from the ratings the roster attributes
to the officer, coverage from the roster and the devices' online spans, task results from the
task records, and the suggestion from `scoring.suggest` under the deployment's policy. What
people decided (self-evaluation, the leader's review, the head's decision) is read from the
workflow's `evaluations` row and shown beside the evidence, never mixed into it.

Fairness rules of the domain brief, kept here:
- below the policy's minimum number of ratings the satisfaction part reads "chưa đủ dữ liệu
  đánh giá" and does not move the score (scoring enforces it; the evidence says so);
- a counter whose device was offline has missing data, not bad data: coverage shows duty hours
  online and offline and is never scored; duty time the collector itself was not receiving
  is neither (`unknown_hours`, left out of the share);
- filtered presses are shown apart, with their reasons.

A month already decided also carries `decided_snapshot`, the evidence the head saw when
deciding, and `evidence_changes`, the lines where today's evidence reads differently
(collector/evaluation/snapshot_changes.py: a roster correction may have moved ratings since).
Reads only; the caller passes the clock (`now_ms`) and the local date (`today`).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date
from typing import Any, Callable, Iterable

import sqlite_utils

from collector.ratings import evidence
from collector.evaluation import sources
from collector.evaluation import task_records
from collector.evaluation import scoring, tasks
from collector.evaluation.snapshot_changes import changes
from collector.evaluation.unit_rows import row as unit_rows
from collector.core.errors import BilingualError
from collector.org.organisation import unit_subtree
from collector.evaluation.policy import Policy
from collector.evaluation.rules import post_groups
from collector.evaluation.rules.offline import month_offline
from collector.ratings.satisfaction import SatisfactionSummary, summarise_counted
from collector.ratings.evidence import MAX_SILENCE_MS, placed_online
from collector.core.periods import MONTH, PeriodError, check_period, parse_period

from collector.evaluation.month_view import (  # noqa: F401  (grade_info: re-exported)
    STATUSES,
    criteria_table,
    grade_info,
    month_status,
    suggestion_for,
    task_percentages,
    unit_evidence,
    unit_score_part,
    workflow_view,
)


class MonthlyError(BilingualError):
    """A request for a month's evaluation that cannot be answered; `vi` and `en` say why."""


class MonthlyNotFound(MonthlyError):
    """The officer or unit asked for does not exist."""


def check_month(month: str, period: str = MONTH) -> tuple[str, str]:
    """First and last local day of the evaluation period `month` as ISO dates: a month, or a
    quarter "YYYY-Qn" when `period` (the policy's) is "quarter"; MonthlyError when malformed
    or of the other kind (periods.check_period says which the policy evaluates by)."""
    try:
        checked = check_period(month, period)
    except PeriodError as error:
        raise MonthlyError(error.vi, error.en) from None
    return checked.first_day.isoformat(), checked.last_day.isoformat()


# --- assembly over the database -------------------------------------------------------------

_OFF_DUTY = evidence.Coverage(duty_ms=0, online_ms=0, unknown_ms=0)  # frozen: shared


class _Month:
    """Everything a set of officers' month needs, read in a few bulk queries."""

    def __init__(self, db: sqlite_utils.Database, officer_ids: list[str], month: str,
                 policy: Policy, now_ms: int, today: date, *, lines_only: bool = False,
                 evaluations: dict[str, dict[str, Any]] | None = None):
        self.db, self.month, self.policy, self.now_ms, self.today = db, month, policy, now_ms, today
        # A unit's month shows lines only (`line`): the workflow rows and tasks are read with
        # just what the lines show (issue 13); `officer` needs them whole.
        self.lines_only = lines_only
        self.period = parse_period(month)
        self.presses = sources.evidence_presses(db, officer_ids, month)
        self._duty: tuple[dict, dict, dict] | None = None  # shifts, counters, online: `duty`
        self._coverages: evidence.Coverages | None = None  # coverage() over them: `duty`
        # The collector's own downtime: unknown, neither online nor offline (issue 12).
        self.receiving = sources.evidence_receiving(db, month, now_ms)
        # Decree 335's unit score: whom each officer led in the period (those they reviewed,
        # else those they lead now: sources.evidence_led), and their grades.
        self.led = (sources.evidence_led(db, officer_ids, *check_month(month, policy.period),
                                         month=month) if policy.unit_score else {})
        led_ids = {o["id"] for rows in self.led.values() for o in rows}
        # The workflow rows: given (read with the officers: sources.evidence_month_lines) or
        # read here, with those of the people the officers lead.
        read = sources.evidence_evaluations_brief if lines_only else sources.evidence_evaluations
        if evaluations is None:
            evaluations = read(db, set(officer_ids) | led_ids, month)
        elif led_ids - set(officer_ids):
            evaluations = {**evaluations, **read(db, led_ids - set(officer_ids), month)}
        self.evaluations = evaluations
        self._sat: dict[str, dict] = {}
        self._coverage: dict[str, evidence.Coverage] = {}
        self._tasks: dict[str, list[dict]] | None = None
        self.officer_ids = officer_ids
        # Whose tasks, shifts and devices are read (None: everyone's): a unit's page or an
        # officer's month compares every member's ratings but details only a few (issue 13).
        self.detail_ids: set[str] | None = None
        self.summaries: dict[str, SatisfactionSummary] = {}  # with the unrounded index
        self.lines = unit_rows.Lines(policy, self.period, today)

    def _detailed(self) -> list[str]:
        return self.officer_ids if self.detail_ids is None else sorted(self.detail_ids)

    def duty(self) -> tuple[dict, dict, dict]:
        """The roster shifts of the officers detailed, their counters and those counters'
        online time, read once, when first needed."""
        if self._duty is None:
            shifts = sources.evidence_shifts(self.db, self._detailed(), self.month)
            counters = {shift[0] for rows in shifts.values() for shift in rows}
            online = placed_online(sources.evidence_online_spans(
                self.db, counters, self.month, MAX_SILENCE_MS), self.now_ms)
            self._duty = (shifts, sources.evidence_counters(self.db, counters), online)
            self._coverages = evidence.Coverages(online, self.month, self.now_ms, self.receiving)
        return self._duty

    @property
    def shifts(self) -> dict[str, list[tuple]]:
        return self.duty()[0]

    @property
    def counters(self) -> dict[str, dict[str, Any]]:
        return self.duty()[1]

    @property
    def online(self) -> dict[str, list[tuple]]:
        return self.duty()[2]

    def summary(self, officer_id: str) -> SatisfactionSummary:
        """The officer's counted presses summarised (with the unrounded index), once."""
        summary = self.summaries.get(officer_id)
        if summary is None:
            # The query counted identical presses: summarised per group, not per press.
            summary = self.summaries[officer_id] = summarise_counted(
                (scale, level, excluded, reason, count)
                for scale, level, excluded, reason, _, count in self.presses.get(officer_id, ()))
        return summary

    def satisfaction(self, officer_id: str) -> dict[str, Any]:
        """satisfaction_evidence plus attribution counts (no coverage, no comparison)."""
        if officer_id in self._sat:
            return self._sat[officer_id]
        kinds = self.presses.get(officer_id, [])
        summary = self.summary(officer_id)
        sat = evidence.satisfaction_evidence(summary, self.policy.satisfaction.min_ratings)
        attribution: dict[str, int] = {}
        for scale, level, excluded, reason, source, count in kinds:
            if not excluded:  # counted presses only: who vouches for them
                attribution[source] = attribution.get(source, 0) + count
        sat["attribution"] = attribution
        self._sat[officer_id] = sat
        return sat

    def known(self, officer_id: str) -> evidence.Coverage:
        """The officer's coverage, unrounded, computed once (the row and the offline rule
        both read it)."""
        if officer_id not in self._coverage:
            shifts = self.shifts.get(officer_id)
            # No shift in the period (most officers never sit at a counter): nothing on
            # duty, nothing online or unknown, which is what coverage() computes from [].
            self._coverage[officer_id] = self._coverages.of(shifts) if shifts else _OFF_DUTY
        return self._coverage[officer_id]

    def coverage(self, officer_id: str, *, by_counter: bool) -> dict[str, Any]:
        shifts = self.shifts.get(officer_id, [])
        whole = self.known(officer_id).as_dict()
        if not by_counter:
            return whole
        whole["by_counter"] = []
        for counter in sorted({shift[0] for shift in shifts}):
            part = self._coverages.of([s for s in shifts if s[0] == counter]).as_dict()
            info = self.counters.get(counter, {})
            whole["by_counter"].append({"counter_id": counter, "label": info.get("label"),
                                        "unit_name": info.get("unit_name"), **part})
        return whole

    def tasks(self, officer_id: str) -> tuple[scoring.TaskEvidence, list[dict]]:
        if self._tasks is None:  # every officer's at once: two statements, not two each
            self._tasks = task_records.officers_tasks(self.db, self._detailed(), self.month)
        rows = self._tasks.get(officer_id, [])
        return tasks.task_evidence(rows, self.period, today=self.today), rows

    def line(self, officer: dict[str, Any], comparison: dict[str, Any]) -> dict[str, Any]:
        """The officer's line of the unit's month (unit_rows/row.py): the figures of
        `officer(…, full=False)` that the line shows, computed alone."""
        officer_id = officer["id"]
        if self._tasks is None:  # every officer's at once, not a statement each
            detailed = self._detailed()
            self._tasks = task_records.officers_task_figures(
                self.db, detailed, self.month,
                everyone=sources.most_of_everyone(self.db, set(detailed))
            ) if self.lines_only else task_records.officers_tasks(self.db, detailed, self.month)
        return self.lines.line(
            officer, self.summary(officer_id), comparison, self.known(officer_id),
            self._tasks.get(officer_id, []), self.evaluations.get(officer_id),
            unit_evidence(self.policy, self.led.get(officer_id), self.evaluations))

    def officer(self, officer: dict[str, Any], comparison: dict[str, Any], *,
                full: bool) -> dict[str, Any]:
        assert not self.lines_only, "an officer's month needs the workflow rows whole"
        officer_id = officer["id"]
        sat = dict(self.satisfaction(officer_id), comparison=comparison,
                   coverage=self.coverage(officer_id, by_counter=full))
        # Few ratings because the officer's own counter was offline (issue 12): said so,
        # judged on the unrounded coverage of the time the collector received.
        policy = self.policy
        known = self.known(officer_id)
        sat.update(month_offline(policy.offline, policy.satisfaction,
                                 policy.criterion(policy.satisfaction.criterion),
                                 policy.decimals, sat, known.share, known.unknown_ms))
        task_ev, task_rows = self.tasks(officer_id)
        task_part = {"summary": tasks.evidence_dict(task_ev),
                     "percentages": task_percentages(self.policy, task_ev)}
        row = self.evaluations.get(officer_id)
        events = (sources.evidence_evaluation_events(self.db, officer_id, self.month)
                  if full else None)
        workflow = workflow_view(self.policy, row, events)
        unit = unit_evidence(self.policy, self.led.get(officer_id), self.evaluations)
        result = {"satisfaction": sat, "tasks": task_part,
                  "unit_score": unit_score_part(self.policy, unit), "workflow": workflow,
                  **suggestion_for(self.policy, sat, task_ev, row,
                                   self.summaries[officer_id].exact_index, unit=unit)}
        result["criteria"] = criteria_table(self.policy, workflow, result["suggestion"])
        snapshot = row.get("snapshot") if row and workflow["locked"] else None
        decided = None if snapshot is None else json.loads(snapshot)
        if full:
            task_part["items"] = [tasks.describe(task, self.today, self.policy.period)
                                  for task in task_rows]
            result["decided_snapshot"] = decided
        # The unit's rows carry the changes too, so a head sees them without opening each
        # month: a field only the full view holds is skipped, never reported as changed.
        result["evidence_changes"] = changes(decided, result)
        return result


def _policy_dict(policy: Policy) -> dict[str, Any]:
    return {"name": policy.name, "title_vi": policy.title_vi, "title_en": policy.title_en,
            "min_ratings": policy.satisfaction.min_ratings, "period": policy.period}


def _active(officer: dict[str, Any], first: str, last: str) -> bool:
    return ((officer["active_from"] is None or officer["active_from"] <= last)
            and (officer["active_to"] is None or officer["active_to"] >= first))


def _comparisons(data: _Month, members: list[str]) -> dict[str, dict]:
    """Each member's place among the members (one unit's officers) by satisfaction index."""
    return evidence.unit_comparisons({officer_id: data.summary(officer_id)
                                      for officer_id in members},
                                     data.policy.satisfaction.min_ratings)


def officer_month(db: sqlite_utils.Database, officer_id: str, month: str, policy: Policy, *,
                  now_ms: int, today: date) -> dict[str, Any]:
    """The evidence, workflow and suggestion of one officer-month (or quarter, under a
    quarterly policy: `month` is then "YYYY-Qn"); MonthlyNotFound."""
    first, last = check_month(month, policy.period)
    officer = sources.evidence_officer(db, officer_id)
    if officer is None:
        raise MonthlyNotFound(f"Không tìm thấy cán bộ {officer_id!r}",
                              f"No officer {officer_id!r}")
    # The unit comparison is among the officers of the officer's own unit active that month:
    # the unit the month is stored under once reviewed (issue 12), else their current one.
    stored = sources.evidence_evaluations(db, [officer_id], month).get(officer_id) or {}
    home = stored.get("unit_id") or officer["unit_id"]
    members = [o["id"] for o in sources.evidence_officers(db, [home], first, last, month=month)]
    members = sorted(set(members) | {officer_id})
    data = _Month(db, members, month, policy, now_ms, today)
    data.detail_ids = {officer_id}  # the members' ratings only, for the comparison
    comparison = _comparisons(data, members)[officer_id]
    return {"officer": {**officer, "active_in_month": _active(officer, first, last)},
            "month": month, "policy": _policy_dict(policy), "generated_at": now_ms,
            **data.officer(officer, comparison, full=True)}


def unit_month(db: sqlite_utils.Database, unit_id: str, month: str, policy: Policy, *,
               now_ms: int, today: date,
               detail: Callable[[list[dict[str, Any]]], Iterable[str]] | None = None
               ) -> dict[str, Any]:
    """One row per officer of the unit and the units below it active in the month, with the
    quota check and the workflow's progress.

    `quota` counts the grade standing for each officer (the head's if decided, else the
    leader's proposal), as the workflow does when the head decides; `quota_final` counts the
    decisions alone. Under a quarterly policy `month` is a quarter ("YYYY-Qn"). `quotas` has
    one such line per group of similar posts present (the default group, "Cả đơn vị", first);
    `quota` and `quota_final` are the group over its cap by the most, else the default group.
    An officer is in the month of the unit it was reviewed or decided in (issue 12).
    Each row carries `evidence_changes` (snapshot_changes.py, as on the officer's month) and
    `insufficient_reason`; `evidence_changed` counts the rows whose evidence changed.

    `detail` (a page of a large unit, issue 13): given every row in brief (`brief_row`: the
    satisfaction, status and grades every figure above is counted from), the ids whose full
    row is wanted; the others stay brief, but a decided month is always full (its evidence
    changes are counted). The unit's figures are the same either way.
    """
    first, last = check_month(month, policy.period)
    unit = sources.evidence_unit(db, unit_id)
    if unit is None:
        raise MonthlyNotFound(f"Không tìm thấy đơn vị {unit_id!r}", f"No unit {unit_id!r}")
    # Whose month is the unit's: where it was reviewed or decided, else the current unit.
    officers, evaluations = sources.evidence_month_lines(db, unit_subtree(db, unit_id), first,
                                                         last, month)
    data = _Month(db, [o["id"] for o in officers], month, policy, now_ms, today,
                  lines_only=True, evaluations=evaluations)
    by_unit: dict[str, list[str]] = {}
    names: dict[str, str | None] = {}
    for officer in officers:
        by_unit.setdefault(officer["unit_id"], []).append(officer["id"])
        names[officer["unit_id"]] = officer["unit_name"]
    comparisons: dict[str, dict] = {}
    for members in by_unit.values():
        comparisons.update(_comparisons(data, members))
    if detail is None:
        rows = [data.line(officer, comparisons[officer["id"]]) for officer in officers]
    else:
        rows = [brief_row(data, officer, comparisons[officer["id"]]) for officer in officers]
        wanted = set(detail(rows)) | {row["officer_id"] for row in rows
                                      if row["status"] == "decided"}
        data.detail_ids = wanted
        rows = [data.line(officer, comparisons[officer["id"]]) if officer["id"] in wanted
                else row for officer, row in zip(officers, rows)]
    outstanding = bool(unit["outstanding"])

    def quota(group_rows: list[dict[str, Any]], *, final_only: bool = False) -> dict[str, Any]:
        # The grade standing for each officer: the head's if decided, else the leader's
        # proposal — what the workflow counts (workflow/status.py `unit_quotas`); the lines
        # say "decided" for the head's grades and "proposed" for the leaders' (issue 12).
        final = [row["final_grade"]["code"] for row in group_rows if row["final_grade"]]
        standing = [(row["final_grade"] or row["proposed_grade"])["code"] for row in group_rows
                    if row["final_grade"] or row["proposed_grade"]]
        return asdict(scoring.check_quota(policy, final if final_only else standing,
                                          outstanding, decided=final.count(policy.quota.grade)))

    # One line per group of similar posts (Decree 335/2025); `quota` leads with the group
    # over its cap by the most, else the default group (rules/post_groups.py `headline`).
    grouped = [(officer["post_group"], row) for officer, row in zip(officers, rows)]
    quotas = post_groups.lines(grouped, quota)
    finals = post_groups.lines(grouped, lambda group_rows: quota(group_rows, final_only=True))
    progress = {status: 0 for status in STATUSES}
    for row in rows:
        progress[row["status"]] += 1
    return {
        "unit": {**unit, "outstanding": outstanding}, "month": month,
        "policy": _policy_dict(policy), "generated_at": now_ms,
        # The yardstick of each unit below: the same median for all its members.
        "sub_units": [{"unit_id": uid, "unit_name": names[uid], "officers": len(members),
                       "median": comparisons[members[0]]["median"],
                       "compared": comparisons[members[0]]["compared"]}
                      for uid, members in by_unit.items()],
        "officers": rows,
        "quota": post_groups.top(quotas), "quotas": quotas,
        "quota_final": post_groups.top(finals),
        "progress": {"officers": len(rows), **progress},
        # Decided months whose evidence now reads differently (issue 12).
        "evidence_changed": sum(bool(row["evidence_changes"]) for row in rows),
    }


def brief_row(data: _Month, officer: dict[str, Any],
              comparison: dict[str, Any]) -> dict[str, Any]:
    """The officer's line (`_Month.line`) without the evidence that costs (coverage, tasks,
    the suggestion: None) for an officer whose month is not decided: the same satisfaction,
    status and grades, from the same pieces (`brief`: True)."""
    policy, lines = data.policy, data.lines
    row = data.evaluations.get(officer["id"]) or {}
    reviewed, decided = row.get("reviewed_at") is not None, row.get("decided_at") is not None
    summary = data.summary(officer["id"])
    return {
        "officer_id": officer["id"], "name": officer["name"], "title": officer["title"],
        "unit_id": officer["unit_id"], "unit_name": officer["unit_name"],
        "satisfaction": unit_rows.satisfaction(summary, comparison,
                                               policy.satisfaction.min_ratings,
                                               unit_rows.interval_of(summary)),
        "coverage": None, "tasks": None, "suggestion_basis": None, "suggested_score": None,
        "suggested_grade": None, "evidence_points": None, "self_total": None,
        "leader_total": None,
        "proposed_grade": lines.grade(row.get("proposed_grade")) if reviewed else None,
        "disciplined": bool(row.get("disciplined")),
        "final_grade": lines.grade(row.get("final_grade")) if decided else None,
        "final_score": row.get("final_score") if decided else None,
        "decided_by": None, "decided_by_name": None, "decided_at": None,
        "status": month_status(row), "insufficient_reason": None, "evidence_changes": [],
        "brief": True,
    }
