"""HTTP routes of the monthly workflow: self-evaluation, review, decision, reopening, status,
the unit's "who is late" view and the month's due dates.

Thin: each route calls one function of collector/evaluation/workflow/steps.py or status.py; their
errors ("vi / en") reach the app's one handler (collector/web/errors.py): WorkflowNotFound →
404, WorkflowForbidden → 403, WorkflowConflict (order, lock, time, unacknowledged quota) → 409,
WorkflowError → 422. The acting officer is the logged-in account's officer record
(collector/web/auth.py); the services decide what that officer may do. An administrator account
may see a unit's status within its scope and set a month's due dates. Reads use
the shared read-only `Db`; each write opens its own `Store` for the request.

The decision freezes the evidence the `Evidence` dependency (collector/web/deps.py) gathers: the
officer-month of collector/evaluation/month.py (satisfaction, coverage, tasks, the suggested
score and its lines), so the final score is the suggestion the head saw.

Wiring: collector/app.py lists `router` in `SIGNED_IN_ROUTERS`, behind the signed-in dependency.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from collector.accounts import ownership, permissions
from collector.evaluation.workflow import steps as workflow
from collector.web.auth import ActingOfficer, CurrentViewer, require_role, require_unit_in_scope
from collector.web.deps import ConfiguredPolicy, Db, Evidence, Today, Writer
from collector.evaluation.policy import Policy
from collector.db.store import Store, now_ms
from collector.evaluation.workflow.calendar import calendar_for
from collector.evaluation.workflow.status import evaluation_status, unit_evaluation_status

router = APIRouter(tags=["evaluations"])


class SelfEvaluation(BaseModel):
    scores: dict[str, Any] = Field(description="points per criterion the leader scores "
                                               "(the policy's criteria with source 'leader')",
                                   examples=[{"discipline_ethics": 18, "bonus": 5}])
    comment: str | None = Field(None, description="the officer's own comment")


class Review(BaseModel):
    scores: dict[str, Any] = Field(description="the leader's points per criterion",
                                   examples=[{"discipline_ethics": 17, "bonus": 4}])
    comment: str | None = Field(None, description="the leader's comments (nhận xét)")
    proposed_grade: str = Field(description="grade code or the policy's letter",
                                examples=["HTTNV", "B"])
    disciplined: bool = Field(False, description="disciplined in the month (reprimand or "
                                                 "worse)")
    discipline_note: str | None = Field(None, description="which discipline; required when "
                                                          "disciplined")
    attitude_reason: str | None = Field(
        None, description="why the satisfaction criterion is scored above what the ratings "
                          "show; required when they are too few because the officer's counter "
                          "was offline (the month's satisfaction.attitude_ceiling)")


class Decision(BaseModel):
    final_grade: str = Field(description="grade code or the policy's letter",
                             examples=["HTTNV"])
    note: str | None = Field(None, description="the head's note on the decision")
    acknowledge_quota: bool = Field(False, description="decide the top grade although it "
                                                       "exceeds the unit's quota on it "
                                                       "(docs/evaluation.md, The quota)")
    acknowledge_provisional_unit: bool = Field(
        False, description="decide a leader's month although their unit result is provisional: "
                           "someone they lead awaits the head's decision (docs/evaluation.md, "
                           "Leaders: the unit score)")


class Reopening(BaseModel):
    reason: str = Field(description="why the decision is reopened (required)")


class DueDates(BaseModel):
    self_due: str = Field(examples=["2026-04-03"])
    review_due: str = Field(examples=["2026-04-06"])
    decision_due: str = Field(examples=["2026-04-08"])


def _service(store: Store, policy: Policy, day: date,
             evidence: workflow.EvidenceOf | None) -> workflow.WorkflowService:
    return workflow.WorkflowService(store, policy, clock=now_ms, today=lambda: day,
                                    evidence_of=evidence)


EVALUATION = "/api/v1/officers/{officer_id}/evaluations/{month}"


@router.get(EVALUATION)
def get_evaluation(officer_id: str, month: str, actor: ActingOfficer, db: Db,
                   policy: ConfiguredPolicy, day: Today) -> dict[str, Any]:
    """One officer-month: stage, each step's data, due dates, who is late, history, and what
    the acting officer may do ("may"). For the officer, their leader and the heads above —
    of the month's stored place once reviewed (permissions.month_facts). Under a quarterly
    policy `month` is a quarter (YYYY-Qn), and a month is refused."""
    month = workflow.check_month(month, policy.period)
    facts = workflow.facts_or_404(db, officer_id, month, day)
    workflow.known_actor(db, actor)
    workflow.require(permissions.may_view(facts, actor))
    return {**evaluation_status(db, policy, officer_id, month, day),
            "may": permissions.permissions_of(facts, actor)}


@router.put(EVALUATION + "/self")
def put_self_evaluation(officer_id: str, month: str, body: SelfEvaluation, actor: ActingOfficer,
                        store: Writer, policy: ConfiguredPolicy, day: Today) -> dict[str, Any]:
    """The officer's self-evaluation: scores and comment; editable until the leader reviews."""
    return _service(store, policy, day, None).self_evaluate(officer_id, month, actor,
                                                            body.scores, body.comment)


@router.put(EVALUATION + "/review")
def put_review(officer_id: str, month: str, body: Review, actor: ActingOfficer, store: Writer,
               policy: ConfiguredPolicy, day: Today, evidence: Evidence) -> dict[str, Any]:
    """The direct leader's review: scores, comment, proposed grade, discipline. Needs the
    self-evaluation or its due date passed; editable until the head decides. With few
    ratings from a counter that was offline, scoring the satisfaction criterion above what
    they show needs `attitude_reason` (422 without it)."""
    return _service(store, policy, day, evidence).review(
        officer_id, month, actor, body.scores, body.comment, body.proposed_grade,
        body.disciplined, body.discipline_note, body.attitude_reason)


@router.post(EVALUATION + "/decision")
def post_decision(officer_id: str, month: str, body: Decision, actor: ActingOfficer,
                  store: Writer, policy: ConfiguredPolicy, day: Today,
                  evidence: Evidence) -> dict[str, Any]:
    """The head's decision: final grade, with the quota check it met ("quota"; 409 when it
    gives the top grade over the cap no undecided colleague can bring back, unless
    acknowledged; 409 too for a leader whose unit result is provisional, unless
    `acknowledge_provisional_unit`); records who and when, freezes the evidence, locks."""
    return _service(store, policy, day, evidence).decide(
        officer_id, month, actor, body.final_grade, body.note, body.acknowledge_quota,
        acknowledge_provisional_unit=body.acknowledge_provisional_unit)


@router.post(EVALUATION + "/reopen")
def post_reopen(officer_id: str, month: str, body: Reopening, actor: ActingOfficer,
                store: Writer, policy: ConfiguredPolicy, day: Today) -> dict[str, Any]:
    """Reopen a decision (the head, with a reason): back to the review stage; the decision
    stays in the history and the audit log."""
    return _service(store, policy, day, None).reopen(officer_id, month, actor, body.reason)


@router.get("/api/v1/units/{unit_id}/evaluations/{month}/status")
def get_unit_status(unit_id: str, month: str, who: CurrentViewer, db: Db,
                    policy: ConfiguredPolicy, day: Today) -> dict[str, Any]:
    """Every officer active in the month in the unit and below: stage, what is awaited from
    whom, who is late at which step, and the unit's quota as it stands. For the heads."""
    workflow.check_month(month, policy.period)
    if ownership.unit(db, unit_id) is None:
        raise workflow.WorkflowNotFound(f"Không tìm thấy đơn vị {unit_id!r}",
                                        f"No unit {unit_id!r}")
    if who.role == "administrator":
        require_unit_in_scope(who, unit_id)
    else:
        actor = who.officer_id or ""
        workflow.known_actor(db, actor)
        workflow.require(permissions.may_view_unit(
            actor, unit_id, permissions.unit_heads_over(db, unit_id)))
    return unit_evaluation_status(db, policy, unit_id, month, day)


@router.get("/api/v1/calendar/{month}")
def get_calendar(month: str, db: Db, who: CurrentViewer,
                 policy: ConfiguredPolicy) -> dict[str, Any]:
    """The month's (a quarterly policy's quarter's) due dates: its own if set, else the
    defaults (source "default")."""
    return calendar_for(db, workflow.check_month(month, policy.period)).as_dict()


@router.put("/api/v1/calendar/{month}")
def put_calendar(month: str, body: DueDates, who: CurrentViewer, store: Writer,
                 policy: ConfiguredPolicy, day: Today) -> dict[str, Any]:
    """Set the month's due dates (an administrator, or the head of a top-level unit); audited."""
    administrator = who.role == "administrator"
    if not administrator:
        require_role(who, "head")
    actor = who.user.login if administrator else who.officer_id
    return _service(store, policy, day, None).set_calendar(
        month, actor, body.self_due, body.review_due, body.decision_due,
        administrator=administrator)
