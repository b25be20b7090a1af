"""The seeded past's previous month: the evaluation workflow as its people would have run it.

Hoàn Kiếm's officers self-evaluated, their leaders reviewed them, proposing the grade the
evidence and their scores suggest (lowered where the unit's quota on the top grade would be
exceeded), and the chairman decided; the chairman's own month was reviewed and decided by the
city's chairman, the head of the city unit. Ba Đình was left half-way (one officer has not written a
self-evaluation, one review done), so the status view shows who is late. Every step goes
through WorkflowService on the simulated clock; a step the workflow refuses at its moment (a
step pressed into the first days of a month) is left out and counted.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from functools import partial
from typing import Any, Callable

from collector.accounts.permissions import officer_facts
from collector.demo.history.simulation import (
    FULL_WARD,
    MINUTE,
    PARTIAL_WARD,
    Simulation,
    ms,
    workdays,
)
from collector.evaluation import month as monthly, tasks
from collector.evaluation import task_records
from collector.evaluation.policy import GRADE_CODES, GRADE_LABELS
from collector.evaluation import scoring
from collector.evaluation.scoring import check_quota
from collector.evaluation.workflow import records
from collector.evaluation.workflow.calendar import calendar_for
from collector.evaluation.workflow.status import WorkflowConflict, unit_quota
from collector.evaluation.workflow.steps import WorkflowService

log = logging.getLogger("hailong.demo")

# The leader's comment for a proposed grade, best first (the last for the two lowest).
REVIEW_COMMENTS = (
    "Thái độ phục vụ tận tình, được người dân đánh giá cao; hoàn thành xuất sắc nhiệm vụ.",
    "Hoàn thành tốt nhiệm vụ; cần chủ động hơn trong hướng dẫn nộp hồ sơ trực tuyến.",
    "Còn để người dân phản ánh về thái độ và thời gian chờ, nhiều nhiệm vụ chậm tiến độ; cần "
    "chấn chỉnh trong tháng tới.")
# The reason a leader writes when few ratings came from a counter whose device was offline and
# the service-attitude score goes above what they show (issue 12; rules/offline.py).
OFFLINE_REASON = ("Thiết bị tại quầy mất kết nối nhiều giờ trong tháng nên ít lượt đánh giá; "
                  "điểm chấm theo theo dõi trực tiếp của lãnh đạo tại bộ phận một cửa.")


def _half_points(value: float) -> float:
    return round(value * 2) / 2


class PreviousMonth:
    """Plans the previous month's workflow steps on the simulation, and takes them when played."""

    def __init__(self, sim: Simulation):
        self.sim, self.db, self.policy = sim, sim.db, sim.policy
        self.month = ""  # YYYY-MM, set by plan()

    def plan(self) -> None:
        sim = self.sim
        this_month = sim.today_real.replace(day=1)
        self.month = (this_month - timedelta(1)).strftime("%Y-%m")
        calendar = calendar_for(self.db, self.month)
        self_days = workdays(calendar.opens, calendar.self_due)[-3:] or [calendar.self_due]
        review_day = next(iter(workdays(self_days[-1] + timedelta(1), calendar.review_due)),
                          self_days[-1])
        decision_day = next(iter(workdays(review_day + timedelta(1), calendar.decision_due)),
                            review_day)
        full = self._evaluated(FULL_WARD)
        partial_ward = self._evaluated(PARTIAL_WARD)
        sections = [o for o in partial_ward if self.sim.at_counter(o)]
        writers = full + sections[:-1] if len(sections) > 1 else full  # one officer is late
        moments = [ms(self_days[n % len(self_days)], 8, 40) + n * 23 * MINUTE
                   for n in range(len(writers))]
        moments += [ms(review_day, 9), ms(review_day, 10, 30), ms(decision_day, 10)]
        # Early in a month the usual days are still to come: the same steps, pressed into the
        # time since the self-evaluation opened (the status then shows nobody late yet). The
        # margin leaves room for the reviews and decisions, minutes apart, to end before now.
        origin, limit = ms(calendar.opens, 8), sim.now - 120 * MINUTE
        if moments[-1] > limit:
            moments = [origin + (m - origin) * (limit - origin) // (moments[-1] - origin)
                       for m in moments]
        # Reviews and decisions open only once the month is over: on its first days the
        # pressed steps wait for midnight, or for the next run when that is still to come.
        over = ms(this_month, 0)
        moments[-3:] = [max(m, over + (n + 1) * 20 * MINUTE) for n, m in enumerate(moments[-3:])]
        for writer, at in zip(writers, moments):
            sim.later(at, partial(self._self_evaluate, writer))
        sim.later(moments[-3], partial(self._step, self._reviews, full, FULL_WARD))
        if len(sections) > 1:  # the first section officer wrote a self-evaluation
            sim.later(moments[-2], partial(self._step, self._reviews, sections[:1], None))
        sim.later(moments[-1], partial(self._step, self._decisions, full))

    def _step(self, step: Callable[..., None], *args: Any) -> None:
        """Take a planned workflow step unless the workflow refuses it at that moment (a step
        pressed into the first days of a month can come before its due date); the refusal
        is the service's, as a person would get it, and the demo goes on without the step."""
        try:
            step(*args)
        except WorkflowConflict as refused:
            self.sim.counts["workflow_steps_refused"] += 1
            log.info("demo history: a planned step was refused: %s", refused.en)

    def _evaluated(self, ward: str) -> list[str]:
        """The ward's officers someone decides for: all, the ward chairman by the city's."""
        return [o for o in self.sim.ward_officers(ward)
                if officer_facts(self.db, o).head is not None]

    def _workflow(self) -> WorkflowService:
        def evidence_of(officer_id: str, month: str) -> dict[str, Any]:
            return monthly.officer_month(self.db, officer_id, month, self.policy,
                                         now_ms=self.sim.at, today=self.sim.today())
        return WorkflowService(self.sim.store, self.policy, clock=self.sim.clock,
                               today=self.sim.today,
                               evidence_of=evidence_of)

    def _scores(self, officer: str, bonus: float = 0.0) -> dict[str, float]:
        share = min(1.0, self.sim.quality[officer] + bonus)
        return {c.code: _half_points(c.points * share)
                for c in self.policy.criteria if c.source == "leader"}

    def _self_evaluate(self, officer: str) -> None:
        comment = ("Hoàn thành các nhiệm vụ được giao; tiếp nhận và trả kết quả đúng hẹn, "
                   "hướng dẫn người dân tận tình.")
        self._workflow().self_evaluate(officer, self.month, officer, self._scores(officer, 0.05),
                                       comment)
        self.sim.counts["evaluation_steps"] += 1

    def _over_quota(self, grades: dict[str, str], whole: str | None) -> bool:
        """Over the cap on the top grade in a unit that decides one of `grades` (a ward's
        officers by its chairman, the chairman by the city's), as the head's decision will
        count it (colleagues not graded yet at their most favourable), or, when `grades` are
        the whole ward `whole`'s, as its month's report counts the grades alone once all are
        decided."""
        units = {officer_facts(self.db, o).deciding_unit for o in grades} - {None}
        if any(unit_quota(self.db, self.policy, unit, self.month, grades).exceeded
               for unit in sorted(units)):
            return True
        if whole is None:
            return False
        outstanding = self.db.execute("SELECT outstanding FROM units WHERE id = ?",
                                      [whole]).fetchone()[0]
        return check_quota(self.policy, grades.values(), bool(outstanding)).exceeded

    def _reviews(self, officers: list[str], whole: str | None) -> None:
        """The reviews of `officers` by their leaders (`whole`: the ward they all make up),
        proposing the grade the evidence and their scores suggest, lowered where a quota on
        the top grade would be exceeded."""
        service, grades, scores, reasons = self._workflow(), {}, {}, {}
        for officer in officers:
            view = monthly.officer_month(self.db, officer, self.month, self.policy,
                                         now_ms=self.sim.at, today=self.sim.today())
            if (view["satisfaction"].get("attitude_ceiling") or {}).get("reason_required"):
                reasons[officer] = OFFLINE_REASON  # few ratings from an offline counter
            evidence = tasks.task_evidence(task_records.officer_tasks(self.db, officer, self.month),
                                           self.month, today=self.sim.today())
            suggestion = monthly.suggestion_for(
                self.policy, view["satisfaction"], evidence,
                {"review_scores": json.dumps(self._scores(officer))},
                unit=_unit_evidence(view.get("unit_score")))["suggestion"]
            grades[officer], scores[officer] = suggestion["grade"]["code"], suggestion["score"]
        top, lowered = self.policy.quota.grade, set()
        while self._over_quota(grades, whole):
            holder = min((o for o in grades if grades[o] == top), key=scores.__getitem__)
            grades[holder] = GRADE_CODES[GRADE_CODES.index(top) + 1]
            lowered.add(holder)
        for n, officer in enumerate(officers):
            self.sim.at += 9 * MINUTE * bool(n)
            rank = GRADE_CODES.index(grades[officer])
            comment = REVIEW_COMMENTS[min(rank, len(REVIEW_COMMENTS) - 1)]
            if officer in lowered:
                comment += (f" Điểm đạt mức «{GRADE_LABELS[top][0]}» nhưng đơn vị đã đủ tỷ lệ "
                            "xếp loại này, nên đề xuất mức liền kề.")
            service.review(officer, self.month, officer_facts(self.db, officer).leader,
                           self._scores(officer), comment, grades[officer],
                           attitude_reason=reasons.get(officer))
            self.sim.counts["evaluation_steps"] += 1

    def _decisions(self, officers: list[str]) -> None:
        service = self._workflow()
        # Decree 335: a leader's unit result waits for the decisions of the people they lead,
        # so those are decided first (docs/evaluation.md, "Leaders: the unit score").
        leader = {o: officer_facts(self.db, o).leader for o in officers}

        def height(officer: str) -> int:  # levels of the listed led below `officer`
            return max((1 + height(o) for o in officers if leader[o] == officer != o), default=0)
        officers = sorted(officers, key=height)  # stable: the planned order otherwise
        for n, officer in enumerate(officers):
            self.sim.at += 6 * MINUTE * bool(n)
            row = records.evaluation_row(self.db, officer, self.month)
            service.decide(officer, self.month, officer_facts(self.db, officer).head,
                           row["proposed_grade"],
                           "Nhất trí với đề xuất của lãnh đạo trực tiếp.")
            self.sim.counts["evaluation_steps"] += 1


def _unit_evidence(part: dict | None) -> scoring.UnitEvidence | None:
    """The people a leader leads, as their month's unit-score block lists them, for the
    suggestion the demo's leader proposes from (Decree 335's unit score)."""
    if part is None:
        return None
    return scoring.UnitEvidence(tuple(
        scoring.Subordinate(p["officer_id"], p["name"], (p["grade"] or {}).get("code"),
                            p["decided"]) for p in part["subordinates"]))
