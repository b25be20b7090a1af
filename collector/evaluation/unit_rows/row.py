"""One officer's line of a unit's month, from the evidence read in bulk (issue 13).

A unit's month (collector/evaluation/month.py `unit_month`) shows each officer in a line:
the satisfaction in brief, coverage, task counts and percentages, the suggested score and
grade, the evidence's own points, the workflow's scores and grades, and what reads differently
from a decided month's snapshot. The officer's own month (`officer_month`) shows the same
figures with everything behind them: explanation lines in two languages, the criteria table,
the workflow's history. Building that whole view for every officer and keeping a tenth of it
made a province's month close cost 0.3 ms of Python per officer; this module computes the line
alone, from the same pieces and the same functions (`scoring.suggest` without its lines,
`tasks.task_evidence`, `month_view`'s grades and percentages, `snapshot_changes.changes`), so
the two cannot drift apart in arithmetic. tests/test_unit_rows.py holds every line equal to the
one read off the officer's whole month, on a generated province changed the ways evidence
changes.

What repeats from officer to officer is computed once per unit's month (`Lines`): all of it
pure functions of the values in the key, so a repeat is the very same figure. Most officers
never sit at a counter (no rating, no duty), share a handful of stored score texts, and their
tasks differ only in titles, which no figure reads.

Pure: no database.
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

from collector.core.periods import Period
from collector.evaluation import scoring, tasks
from collector.evaluation.month_view import grade_info, leader_scores, task_percentages
from collector.evaluation.policy import GRADE_CODES, Policy
from collector.evaluation.snapshot_changes import changes
from collector.ratings.evidence import Coverage, wilson_interval
from collector.ratings.satisfaction import SATISFIED_ANSWERS, SatisfactionSummary

_ISO_DAY = re.compile(r"\d{4}-\d\d-\d\d").fullmatch


class Lines:
    """The lines of one unit's month: one policy, one period judged as of `today`."""

    def __init__(self, policy: Policy, period: Period, today: date):
        self.policy, self.period, self.today = policy, period, today
        self._grades: dict[str, dict[str, Any]] = {}
        for code in GRADE_CODES:
            info = grade_info(policy, code)
            self._grades[code] = info
            if info["letter"]:  # a letter is read as its grade, as grade_info reads it
                self._grades[info["letter"]] = info
        self._zeros = {c.code: 0.0 for c in policy.criteria if c.source == "leader"}
        self._stored: dict[str | None, tuple] = {None: (None, None, None)}
        self._tasks: dict[tuple, tuple] = {}
        self._days = (period.first_day.isoformat(), period.last_day.isoformat(),
                      period.end_day.isoformat(), today.isoformat())
        self._scored: dict[tuple, tuple] = {}
        self._coverage: dict[int, tuple[Coverage, dict[str, Any]]] = {}

    def grade(self, value: str | None) -> dict[str, Any] | None:
        """grade_info(policy, value); each answer a fresh dict, as grade_info's are."""
        if not value:
            return None
        known = self._grades.get(value)
        if known is None:  # unknown: grade_info's own answer (None)
            return grade_info(self.policy, value)
        return dict(known)

    def stored(self, text: str | None) -> tuple:
        """A stored scores column: (decoded, its total as the workflow view shows it, the
        leader's scores month_view.leader_scores reads in it, or None)."""
        found = self._stored.get(text)
        if found is None:
            scores = json.loads(text)
            total = None if not scores else round(
                sum(v for v in scores.values() if isinstance(v, (int, float))),
                self.policy.decimals)
            found = self._stored[text] = (scores, total, leader_scores(self.policy, scores)[0])
        return found

    def task_figures(self, rows: list[dict[str, Any]]) -> tuple:
        """(a key that determines them, TaskEvidence without titles, counts, percentages) of
        an officer's task rows."""
        # What task_evidence reads of each task of the period: its status (as tasks._status
        # judges it, on ISO dates compared as text: the writers store date.isoformat()),
        # weight and flags. Tasks that differ only in dates and titles share the figures.
        first, last, end, today = self._days
        key = []
        for task in rows:
            deadline, completed = task["deadline"], task.get("completed_on")
            if not _ISO_DAY(deadline) or (completed is not None and not _ISO_DAY(completed)):
                key = None  # not as the writers store it: judged by task_evidence alone
                break
            if not first <= deadline <= last:
                continue
            if completed is not None and completed < end:
                status = "on_time" if completed <= deadline else "late"
            else:
                status = "overdue" if deadline < min(end, today) else "open"
            key.append((status, task["weight"], task.get("major_errors", 0),
                        bool(task.get("delay_excused"))))
        key = tuple(key) if key is not None else ("as stored", id(rows))
        found = self._tasks.get(key)
        if found is None:
            task_ev = tasks.task_evidence(rows, self.period, today=self.today, titles=False)
            found = self._tasks[key] = (key, task_ev, tasks.evidence_dict(task_ev),
                                        task_percentages(self.policy, task_ev))
        return found

    def coverage(self, known: Coverage) -> dict[str, Any]:
        # By identity: a month's officers off duty share one Coverage (month.py _OFF_DUTY),
        # and each other is computed once and kept (with it, so its id stays its own).
        found = self._coverage.get(id(known))
        if found is None:
            found = self._coverage[id(known)] = (known, known.as_dict())
        return dict(found[1])

    def line(self, officer: dict[str, Any], summary: SatisfactionSummary,
             comparison: dict[str, Any], known: Coverage, task_rows: list[dict[str, Any]],
             row: dict[str, Any] | None, unit: scoring.UnitEvidence | None) -> dict[str, Any]:
        """The officer's line: what month.py's full officer-month shows of it (`row`: the
        workflow's evaluations row; `unit`: month_view.unit_evidence)."""
        policy = self.policy
        get = (row or {}).get
        total, min_ratings = summary.total, policy.satisfaction.min_ratings
        sufficient = total >= min_ratings
        if total:
            satisfied = sum(summary.counts.get(code, 0) for code in SATISFIED_ANSWERS)
            interval = wilson_interval(satisfied, total)
        else:  # no counted press: nothing satisfied, nothing to estimate
            satisfied, interval = 0, None
        self_text, review_text = get("self_scores"), get("review_scores")
        self_scores, self_total, _ = self.stored(self_text)
        review_scores, review_total, _ = self.stored(review_text)
        # The suggestion's basis: the leader's review, else the self-evaluation
        # (month_view.suggestion_for); scores None when missing or unusable.
        basis, text = (("review", review_text) if review_scores
                       else ("self", self_text) if self_scores else ("none", None))
        scores = self.stored(text)[2]
        disciplined = bool(get("disciplined"))
        task_key, task_ev, task_counts, percentages = self.task_figures(task_rows)
        key = (total, summary.exact_index, satisfied, task_key, text, disciplined, unit)
        scored = self._scored.get(key)
        if scored is None:
            # Round once: the engine gets the unrounded index and share (suggestion_for).
            sat_ev = scoring.SatisfactionEvidence(
                total=total,
                index=summary.index if summary.exact_index is None else summary.exact_index,
                share_satisfied=satisfied / total if total else summary.share_satisfied,
                interval=interval, sufficient=sufficient)
            # Scored once, without its lines: the evidence's own points are the task
            # criterion's and the citizens' part, whatever the leader scored (zero_scored).
            result = scoring.suggest(policy, sat_ev, task_ev,
                                     self._zeros if scores is None else scores, disciplined,
                                     unit, explain=False)
            scored = self._scored[key] = (result.score, result.grade, scoring.round_points(
                policy, result.exact[policy.tasks.criterion] + result.citizen))
        score, grade, evidence_total = scored
        suggested = None if scores is None else self.grade(grade)
        # rules/offline.month_offline: few ratings because the officer's own counter was
        # offline.
        share = None if sufficient else known.share
        reason = (None if share is None or share >= policy.offline.coverage_below
                  else "offline")
        coverage = self.coverage(known)
        reviewed, decided = get("reviewed_at") is not None, get("decided_at") is not None
        # month_view.month_status
        status = ("decided" if decided else "reviewed" if reviewed
                  else "self" if get("self_at") is not None else "pending")
        out = {
            "officer_id": officer["id"], "name": officer["name"], "title": officer["title"],
            "unit_id": officer["unit_id"], "unit_name": officer["unit_name"],
            "satisfaction": satisfaction(summary, comparison, min_ratings, interval),
            "coverage": coverage,
            "tasks": {**task_counts, **percentages},
            "suggestion_basis": basis,
            "suggested_score": None if scores is None else score,
            "suggested_grade": suggested,
            "evidence_points": evidence_total,
            "self_total": self_total if get("self_at") is not None else None,
            "leader_total": review_total if reviewed else None,
            "proposed_grade": self.grade(get("proposed_grade")) if reviewed else None,
            "disciplined": disciplined,
            "final_grade": self.grade(get("final_grade")) if decided else None,
            "final_score": get("final_score") if decided else None,
            "decided_by": get("decided_by") if decided else None,
            "decided_by_name": get("decided_by_name") if decided else None,
            "decided_at": get("decided_at") if decided else None,
            "status": status,
            "insufficient_reason": reason,
            "evidence_changes": [],
        }
        snapshot = get("snapshot") if decided else None
        if snapshot is not None:
            # The fields snapshot_changes compares, as the full officer-month holds them.
            unit_result = scoring.unit_result_of(policy, unit)
            now = {
                "satisfaction": {"total": total, "index": summary.index,
                                 "share_satisfied": summary.share_satisfied,
                                 "filtered": {"total": summary.filtered},
                                 "coverage": coverage, "insufficient_reason": reason},
                "tasks": {"summary": task_counts, "percentages": percentages},
                "unit_score": None if unit_result is None else {
                    "share": unit_result.share,
                    "not_completed": len(unit_result.not_completed),
                    "ungraded": len(unit_result.ungraded)},
                "suggestion": None if scores is None else {"score": score, "grade": suggested}}
            out["evidence_changes"] = changes(json.loads(snapshot), now)
        return out


def satisfaction(summary: SatisfactionSummary, comparison: dict[str, Any], min_ratings: int,
                 interval: tuple[float, float] | None) -> dict[str, Any]:
    """The satisfaction block of the line (`interval`: the Wilson interval, unrounded), as
    ratings/evidence.satisfaction_evidence rounds it."""
    return {
        "ratings": summary.total, "index": summary.index,
        "share_satisfied": summary.share_satisfied,
        "share_interval": None if interval is None
        else (round(interval[0], 4), round(interval[1], 4)),
        "sufficient": summary.total >= min_ratings, "filtered": summary.filtered,
        "median": comparison["median"], "difference": comparison["difference"]}


def interval_of(summary: SatisfactionSummary) -> tuple[float, float] | None:
    satisfied = sum(summary.counts.get(code, 0) for code in SATISFIED_ANSWERS)
    return wilson_interval(satisfied, summary.total)
