"""The pure pieces of a month's evaluation as the API and pages show it: grades with their
labels, the task percentages, the leader's scores, the evidence's own points, a leader's unit
score (Decree 335), the suggestion, the workflow's view and the criteria table. No database:
collector/evaluation/month.py reads the data and calls these.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from collector.evaluation import scoring
from collector.evaluation.policy import GRADE_CODES, GRADE_LABELS, Policy
from collector.evaluation.rules.leadership import awaiting_text, explain_unit
from collector.evaluation.rules.decision import decided_scores
from collector.ratings import evidence

AWAITING = {"vi": "chờ lãnh đạo chấm", "en": "awaiting the leader's scores"}
STATUSES = ("pending", "self", "reviewed", "decided")


# --- grades, points, the suggestion ------------------------------------------------------------------------------

def grade_info(policy: Policy, value: str | None) -> dict[str, Any] | None:
    """A grade given as code or letter → {code, letter, vi, en}; None when absent or unknown."""
    if not value:
        return None
    by_letter = {letter: code for code, letter in policy.letters.items()}
    code = by_letter.get(value, value)
    if code not in GRADE_CODES:
        return None
    vi, en = GRADE_LABELS[code]
    return {"code": code, "letter": policy.letters.get(code), "vi": vi, "en": en}


def task_percentages(policy: Policy, evidence_: scoring.TaskEvidence) -> dict[str, float | None]:
    """Decree-335 quantity, quality and progress as percentages (0–100) of assigned work.

    Against W = total weight: quantity = completed weight / W; quality = Σ over completed tasks
    of weight × (1 − min(1, penalty × major errors)) / W; progress = the same with unexcused
    delays — the shares `scoring._task_points` multiplies each part's points by.
    """
    total = sum(task.weight for task in evidence_.tasks)
    if not total:
        return {"quantity": None, "quality": None, "progress": None}
    rule = policy.tasks
    done = [task for task in evidence_.tasks if task.completed]

    def kept(penalty: float, count) -> float:
        return sum(t.weight * (1 - min(1.0, penalty * count(t))) for t in done) / total

    return {
        "quantity": round(100 * sum(t.weight for t in done) / total, 2),
        "quality": round(100 * kept(rule.major_error_penalty, lambda t: t.major_errors), 2),
        "progress": round(100 * kept(rule.delay_penalty,
                                     lambda t: t.delays - t.delays_excused), 2),
    }


def _scores(text: str | None) -> dict[str, float] | None:
    return None if text is None else json.loads(text)


def _line(line: scoring.Line) -> dict[str, Any]:
    return {"criterion": line.criterion, "points": line.points, "vi": line.vi, "en": line.en}


def month_status(row: dict[str, Any] | None) -> str:
    """The step an evaluations row has reached: pending, self, reviewed or decided."""
    return _status(row)


def _status(row: dict[str, Any] | None) -> str:
    if not row:
        return "pending"
    if row.get("decided_at") is not None:
        return "decided"
    if row.get("reviewed_at") is not None:
        return "reviewed"
    return "self" if row.get("self_at") is not None else "pending"


def leader_scores(policy: Policy, stored: dict[str, Any] | None) -> tuple[dict | None, list]:
    """The scores of the criteria the leader judges, or None with the problems found.

    Stored scores may name every criterion (a self-evaluation often does): only those with
    source "leader" feed the suggestion. Missing or out-of-range ones (say, a policy changed
    since) make the scores unusable rather than silently zero.
    """
    judged = [c for c in policy.criteria if c.source == "leader"]
    if not stored:
        return None, []
    problems, scores = [], {}
    for criterion in judged:
        value = stored.get(criterion.code)
        if (isinstance(value, bool) or not isinstance(value, (int, float))
                or not 0 <= value <= criterion.points):
            problems.append(criterion.code)
        else:
            scores[criterion.code] = float(value)
    return (None, problems) if problems else (scores, [])


def evidence_points(policy: Policy, zero: scoring.Suggestion) -> dict[str, Any]:
    """The points the evidence alone earns: task results and the citizens' part of the
    criterion satisfaction feeds, from a suggestion computed with every leader score at 0."""
    task_code, sat_code = policy.tasks.criterion, policy.satisfaction.criterion
    lines, seen_sat = [], False
    for line in zero.lines:
        if line.criterion == task_code:
            lines.append(_line(line))
        elif line.criterion == sat_code:
            if seen_sat:  # the first line of that criterion is the leader's (zero) part
                lines.append(_line(line))
            seen_sat = True
    criteria = {task_code: zero.criteria[task_code], sat_code: zero.criteria[sat_code]}
    # Round once: the exact points added up, then rounded (scoring.py, "Arithmetic").
    total = scoring.round_points(policy, zero.exact[task_code] + zero.exact[sat_code])
    gap = round(total - sum(criteria.values()), policy.decimals)
    if gap:
        lines.append({"criterion": "total", "points": gap, "vi": "Làm tròn tổng điểm",
                      "en": "Rounding of the total"})
    return {"criteria": criteria, "total": total, "lines": lines}


def zero_scored(policy: Policy, result: scoring.Suggestion) -> scoring.Suggestion:
    """What `evidence_points` reads of the suggestion with every leader score at 0, read off
    `result`, the same evidence's suggestion with the leader's scores, so that a month is
    scored once, not twice (issue 13). Neither part depends on the leader's scores: the task
    criterion's lines and points are the same; the satisfaction criterion's line after the
    leader's (the citizens' part, or the note of insufficient evidence) is the same, and its
    points are the citizens' part alone (`Suggestion.citizen`), rounded as scoring rounds."""
    task_code, sat_code = policy.tasks.criterion, policy.satisfaction.criterion
    lines, seen_sat = [], 0
    for line in result.lines:
        if line.criterion == task_code:
            lines.append(line)
        elif line.criterion == sat_code:
            seen_sat += 1
            if seen_sat <= 2:  # the leader's part and the one after: no rounding line at 0
                lines.append(line)
    return replace(result, lines=tuple(lines),
                   criteria={task_code: result.criteria[task_code],
                             sat_code: scoring.round_points(policy, result.citizen)},
                   exact={task_code: result.exact[task_code], sat_code: result.citizen})


def suggestion_for(policy: Policy, sat: dict[str, Any], task_ev: scoring.TaskEvidence,
                   row: dict[str, Any] | None, exact_index: float | None = None, *,
                   unit: scoring.UnitEvidence | None = None) -> dict[str, Any]:
    """Suggestion, its basis ("review", "self" or "none"), a note, and the evidence points.
    Round once: the engine gets unrounded figures (`exact_index`: SatisfactionSummary's).
    `unit`: the people the officer leads (`unit_evidence`), for the policy's unit score."""
    share, interval = evidence.exact_share(sat)
    sat_ev = scoring.SatisfactionEvidence(
        total=sat["total"], index=sat["index"] if exact_index is None else exact_index,
        share_satisfied=share, interval=interval, sufficient=sat["sufficient"])
    disciplined = bool(row and row.get("disciplined"))
    basis, scores, problems = "none", None, []
    for step, column in (("review", "review_scores"), ("self", "self_scores")):
        stored = _scores(row.get(column)) if row else None
        if stored:
            basis = step
            scores, problems = leader_scores(policy, stored)
            break
    out: dict[str, Any] = {
        "suggestion_basis": basis, "suggestion": None, "suggestion_note": None,
        "evidence_points": None}
    if scores is None:
        zeros = {c.code: 0.0 for c in policy.criteria if c.source == "leader"}
        out["evidence_points"] = evidence_points(
            policy, scoring.suggest(policy, sat_ev, task_ev, zeros, disciplined, unit))
        note = dict(AWAITING)
        if problems:
            note["vi"] += f" (thiếu hoặc sai điểm: {', '.join(problems)})"
            note["en"] += f" (missing or invalid: {', '.join(problems)})"
        out["suggestion_note"] = note
        return out
    result = scoring.suggest(policy, sat_ev, task_ev, scores, disciplined, unit)
    out["evidence_points"] = evidence_points(policy, zero_scored(policy, result))
    out["suggestion"] = {
        "basis": basis, "score": result.score, "grade": grade_info(policy, result.grade),
        "grade_by_points": grade_info(policy, result.grade_by_points),
        "criteria": result.criteria, "lines": [_line(line) for line in result.lines],
        "satisfaction_counted": result.satisfaction_counted}
    return out


def standing_grade(policy: Policy, row: dict[str, Any] | None) -> tuple[str | None, bool]:
    """The grade standing for an officer-month and whether it is decided: the head's
    decision, else the leader's proposal (as the quota counts it), else (None, False)."""
    row = row or {}
    if row.get("decided_at") is not None and grade_info(policy, row.get("final_grade")):
        return grade_info(policy, row["final_grade"])["code"], True
    if row.get("reviewed_at") is not None and grade_info(policy, row.get("proposed_grade")):
        return grade_info(policy, row["proposed_grade"])["code"], False
    return None, False


def unit_evidence(policy: Policy, led: list[dict[str, Any]] | None,
                  evaluations: dict[str, dict[str, Any]]) -> scoring.UnitEvidence | None:
    """The people an officer leads in the period (sources.evidence_led's rows) with the grade
    standing for each (`evaluations`: their workflow rows); None when they lead nobody."""
    if not led:
        return None
    people = []
    for officer in led:
        grade, decided = standing_grade(policy, evaluations.get(officer["id"]))
        people.append(scoring.Subordinate(officer["id"], officer["name"], grade, decided))
    return scoring.UnitEvidence(tuple(people))


def unit_score_part(policy: Policy, unit: scoring.UnitEvidence | None) -> dict[str, Any] | None:
    """The unit-score block of a leader's month (Decree 335): who they lead and the grade
    standing for each (decided or proposed), the unit's share and points, whether the share
    is provisional (someone not decided yet) or its lower share certain, who is awaited
    (`awaiting`, {vi, en}, only when provisional: the decision of the leader's month asks the
    head to acknowledge it, workflow/status.py `unit_acknowledgement`), and the lines the
    suggestion shows for it; None without the policy's rule or when they lead nobody."""
    result = scoring.unit_result_of(policy, unit)
    if result is None:
        return None
    rule = policy.unit_score
    criterion = next(c for c in policy.criteria if c.code == rule.criterion)
    told = explain_unit(rule, result, criterion.vi, criterion.en, criterion.points)
    points = scoring.round_points(policy, told.points)
    out_of = {p.officer_id for p in result.not_completed}
    awaiting = awaiting_text(result)
    return {
        "criterion": rule.criterion, "weight": rule.weight, "share": result.share,
        "max_points": scoring.round_points(policy, told.unit_max), "points": points,
        "total": len(result.subordinates), "completed": len(result.completed),
        "not_completed": len(result.not_completed), "ungraded": len(result.ungraded),
        "undecided": len(result.undecided),
        "provisional": result.provisional, "certain": result.certain,
        "awaiting": None if awaiting is None else {"vi": awaiting[0], "en": awaiting[1]},
        "subordinates": [{"officer_id": p.officer_id, "name": p.name,
                          "grade": grade_info(policy, p.grade), "decided": p.decided,
                          "not_completed": p.officer_id in out_of} for p in result.subordinates],
        # The split and the unit's line, as the suggestion shows them (scoring._task_points).
        "lines": [{"criterion": rule.criterion, "points": 0.0, "vi": told.split_vi,
                   "en": told.split_en},
                  {"criterion": rule.criterion, "points": points, "vi": told.vi, "en": told.en}]}


def workflow_view(policy: Policy, row: dict[str, Any] | None,
                  events: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The evaluations row as readers see it: steps, who and when, lock, history."""
    row = row or {}
    self_scores, review_scores = _scores(row.get("self_scores")), _scores(row.get("review_scores"))
    decided = row.get("decided_at") is not None
    view = {
        "status": _status(row), "locked": decided,
        "self": None if row.get("self_at") is None else {
            "scores": self_scores, "total": _total(policy, self_scores),
            "comment": row.get("self_comment"), "at": row.get("self_at")},
        "review": None if row.get("reviewed_at") is None else {
            "scores": review_scores, "total": _total(policy, review_scores),
            "comment": row.get("review_comment"),
            # Why the satisfaction criterion is scored above what few ratings from an
            # offline counter show (issue 12; rules/offline.py).
            "attitude_reason": row.get("attitude_reason"),
            "proposed_grade": grade_info(policy, row.get("proposed_grade")),
            "by": row.get("reviewed_by"), "by_name": row.get("reviewed_by_name"),
            "at": row.get("reviewed_at")},
        "disciplined": bool(row.get("disciplined")),
        "discipline_note": row.get("discipline_note"),
        "decision": None if not decided else {
            "grade": grade_info(policy, row.get("final_grade")),
            "score": row.get("final_score"), "note": row.get("decision_note"),
            "by": row.get("decided_by"), "by_name": row.get("decided_by_name"),
            "at": row.get("decided_at"),
            **decided_scores(row.get("snapshot"), row.get("final_grade"),
                             row.get("final_score"), bands=policy.bands,
                             decimals=policy.decimals)},
    }
    if events is not None:
        view["events"] = [{**event, "data": json.loads(event["data"])} for event in events]
    return view


def _total(policy: Policy, scores: dict | None) -> float | None:
    if not scores:
        return None
    return round(sum(v for v in scores.values() if isinstance(v, (int, float))), policy.decimals)


def criteria_table(policy: Policy, workflow: dict, suggestion: dict | None) -> list[dict]:
    """One row per criterion: maximum, self, leader and suggested points (the form's table)."""
    self_scores = (workflow["self"] or {}).get("scores") or {}
    review_scores = (workflow["review"] or {}).get("scores") or {}
    suggested = (suggestion or {}).get("criteria") or {}
    return [{"code": c.code, "vi": c.vi, "en": c.en, "points": c.points, "source": c.source,
             "self": self_scores.get(c.code), "leader": review_scores.get(c.code),
             "suggested": suggested.get(c.code)} for c in policy.criteria]
