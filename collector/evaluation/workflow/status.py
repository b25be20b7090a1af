"""The monthly workflow's errors, input checks and read views.

Read views: one officer-month and a unit's month, as a page or the API shows them: each step's
data, due dates, what is awaited from whom, who is late at which step (calendar.py decides
lateness), the history, and the unit's quota as it stands (quotas.py, whose names this module
re-exports). Pure reads: they work on the writer's connection or a reader's. The writes are in
steps.py, which re-exports the errors and checks defined here.

A unit's status reads in bulk (issue 13): its officers' rows once, their reviewers and heads
in two more statements (permissions.reviewers_and_heads, month_facts_many's rules), the quota
from the same rows; what is left per officer is Python over those rows, microseconds each.

Errors a user can cause carry Vietnamese and English text: `WorkflowError` (bad input, 422),
`WorkflowNotFound` (404), `WorkflowForbidden` (403), `WorkflowConflict` (order, lock or time,
409; `QuotaNotAcknowledged` and `UnitNotAcknowledged` are two).
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import date, datetime
from typing import Any

import sqlite_utils

from collector.accounts import permissions
from collector.evaluation.workflow import records
from collector.evaluation import scoring
from collector.core.errors import BilingualError
from collector.org.organisation import unit_subtree
from collector.evaluation.policy import GRADE_CODES, Policy
from collector.evaluation.rules.decision import decided_scores
from collector.evaluation.rules.leadership import decide_first
from collector.core.texts import checked_text
from collector.core.periods import MONTH, PeriodError, check_period
from collector.core.timeline import LOCAL_TZ
from collector.evaluation.workflow.calendar import calendar_for, progress
# The quota's names stay importable from here, as before quotas.py (steps.py, pages, tests).
from collector.evaluation.workflow.quotas import (  # noqa: F401 (re-exported)
    UnitQuota,
    best_case_grade,
    decision_quota,
    quota_dict,
    quota_lines,
    unit_quota,
    unit_quotas,
)


class WorkflowError(BilingualError):
    """A workflow request that cannot be done; `vi` and `en` say why."""


class WorkflowNotFound(WorkflowError):
    """The officer or unit named does not exist."""


class WorkflowForbidden(WorkflowError):
    """The acting officer may not do this."""


class WorkflowConflict(WorkflowError):
    """Out of order, locked, or not yet (or no longer) possible."""


class QuotaNotAcknowledged(WorkflowConflict):
    """The decision would exceed the unit's quota and the head did not acknowledge it."""

    def __init__(self, quota: scoring.QuotaCheck):
        # The Vietnamese names what the head ticks on the page, not the API's field.
        super().__init__(f"{quota.vi} Đánh dấu «{ACKNOWLEDGE_VI}» để vẫn quyết định.",
                         f"{quota.en} Acknowledge (acknowledge_quota) to decide anyway.")
        self.quota = quota


# The decision form's checkbox (dashboard/locales, "I have seen the quota warning…").
ACKNOWLEDGE_VI = "Tôi đã xem cảnh báo về tỷ lệ và vẫn quyết định"


class UnitNotAcknowledged(WorkflowConflict):
    """A leader's month decided while their unit result is provisional (Decree 335) and the
    head did not acknowledge it; `first`: what to do first, naming who decides whom."""

    def __init__(self, awaiting: dict[str, str], first: tuple[str, str]):
        # The Vietnamese names what the head ticks on the page, not the API's field.
        super().__init__(f"{awaiting['vi']}. {first[0]}, hoặc đánh dấu "
                         f"«{ACKNOWLEDGE_UNIT_VI}» để vẫn quyết định.",
                         f"{awaiting['en']}. {first[1]}, or acknowledge it "
                         "(acknowledge_provisional_unit) to decide anyway.")


# The decision form's checkbox (dashboard/locales/vi/LC_MESSAGES/unit_decision.po).
ACKNOWLEDGE_UNIT_VI = "Tôi biết kết quả đơn vị còn tạm tính và vẫn quyết định"


def unit_acknowledgement(snapshot: Any, acknowledge: Any, db: sqlite_utils.Database,
                         month: str, actor: str) -> dict[str, Any]:
    """What the decision of a leader's month records of their unit result (the evidence's
    `unit_score`, month_view.unit_score_part): nothing when it is final or its lower share
    certain; while it is provisional, refused (UnitNotAcknowledged) unless the head
    acknowledges, else the acknowledgement and who was awaited. A decision would otherwise
    freeze a share standing on proposals, or on nobody (100 % while none is graded)."""
    if not isinstance(acknowledge, bool):
        raise WorkflowError("Xác nhận kết quả đơn vị còn tạm tính phải là true hoặc false "
                            "(acknowledge_provisional_unit)", "The acknowledgement of a provisional"
                            " unit result must be true or false (acknowledge_provisional_unit)")
    part = snapshot.get("unit_score") if isinstance(snapshot, dict) else None
    if not isinstance(part, dict) or not part.get("awaiting"):
        return {}
    awaited = [p["officer_id"] for p in part["subordinates"] if not (p["decided"] and p["grade"])]
    if not acknowledge:
        raise UnitNotAcknowledged(part["awaiting"], decide_first(
            [(p["officer_id"], p["name"]) for p in part["subordinates"] if p["officer_id"]
             in awaited], records.month_deciders(db, awaited, month), actor))
    return {"acknowledged_provisional_unit": True, "unit_awaiting": awaited}


def local_today() -> date:
    return datetime.now(LOCAL_TZ).date()


# --- validation (pure) -------------------------------------------------------------------------

def check_month(month: Any, period: str = MONTH) -> str:
    """The evaluation period's key: a month, or a quarter "YYYY-Qn" when `period` (the
    policy's) is "quarter"; WorkflowError when malformed or of the other kind."""
    try:
        return check_period(month, period).key
    except PeriodError as error:
        raise WorkflowError(error.vi, error.en) from None


def check_scores(policy: Policy, scores: Any) -> dict[str, float]:
    """{criterion: points} for exactly the criteria the leader scores, each 0..its points."""
    judged = {c.code: c for c in policy.criteria if c.source == "leader"}
    names = ", ".join(f"{c.code} (0–{c.points:g})" for c in judged.values())
    if not isinstance(scores, dict) or set(scores) != set(judged):
        raise WorkflowError(f"scores: cần chấm đúng các tiêu chí {names}",
                            f"scores: give exactly the criteria {names}")
    clean = {}
    for code, value in scores.items():
        points = judged[code].points
        if value is None or value == "":  # a field left empty on the form: say which
            raise WorkflowError(
                f"Chưa chấm điểm «{judged[code].vi}» (scores.{code}, từ 0 đến {points:g})",
                f"No score given for “{judged[code].en}” (scores.{code}, 0 to {points:g})")
        if (isinstance(value, bool) or not isinstance(value, (int, float))
                or not math.isfinite(value) or not 0 <= value <= points):
            raise WorkflowError(f"scores.{code}: điểm phải là số từ 0 đến {points:g}",
                                f"scores.{code}: must be a number from 0 to {points:g}")
        clean[code] = float(value)
    return clean


_GRADE_FIELDS = {"proposed_grade": ("xếp loại đề xuất", "proposed grade"),
                 "final_grade": ("xếp loại quyết định", "final grade")}


def check_grade(policy: Policy, grade: Any, field: str) -> str:
    """A grade code (HTXSNV…) or the policy's letter for it (A…) → the code."""
    if grade is None or grade == "":  # nothing chosen on the form: no grade is implied
        vi, en = _GRADE_FIELDS.get(field, ("xếp loại", "grade"))
        raise WorkflowError(f"Chưa chọn {vi} ({field})", f"No {en} chosen ({field})")
    by_letter = {letter: code for code, letter in policy.letters.items()}
    code = by_letter.get(grade, grade) if isinstance(grade, str) else None
    if code not in GRADE_CODES:
        allowed = ", ".join([*GRADE_CODES, *by_letter])
        raise WorkflowError(f"{field}: xếp loại phải là một trong {allowed}",
                            f"{field}: the grade must be one of {allowed}")
    return code


def check_text(value: Any, field: str, limit: int, *, required: bool = False) -> str | None:
    return checked_text(value, field, limit, WorkflowError, required=required)


# --- checks shared with the service and the API -----------------------------------------------

def facts_or_404(db: sqlite_utils.Database, officer_id: str, month: str | None = None,
                 today: date | None = None) -> permissions.OfficerFacts:
    """The officer's facts (permissions.py), for the period `month` when given: a period
    with a stored place answers by its place (`month_facts`), so the one who reviews, decides
    and reopens it and the quota it meets are the place's, whatever the officer's unit now."""
    facts = (permissions.officer_facts(db, officer_id) if month is None
             else permissions.month_facts(db, officer_id, month, today))
    if facts is None:
        raise WorkflowNotFound(f"Không tìm thấy cán bộ {officer_id!r}",
                               f"No officer {officer_id!r}")
    return facts


def require(permission: permissions.Permission) -> None:
    if not permission:
        raise WorkflowForbidden(permission.vi, permission.en)


def known_actor(db: sqlite_utils.Database, actor: Any, today: date | None = None) -> str:
    """The acting officer: one who exists and is in office on `today` (local date, default
    now): within their active dates, both days included. Someone who has left (or not yet
    started) acts for nobody, whatever their place in the organisation says."""
    officer = records.evaluation_officer(db, actor) if isinstance(actor, str) else None
    if officer is None:
        raise WorkflowForbidden(f"Không có cán bộ {actor!r} để thực hiện việc này",
                                f"No officer {actor!r} to act")
    day = (local_today() if today is None else today).isoformat()
    first, last = officer["active_from"], officer["active_to"]
    if (first and day < first) or (last and day > last):
        span_vi = f"từ {_vi_date(first) if first else '…'} đến {_vi_date(last) if last else '…'}"
        span_en = f"{first or '…'} to {last or '…'}"
        raise WorkflowForbidden(
            f"Cán bộ {actor} không công tác vào ngày {_vi_date(day)} (thời gian công tác "
            f"{span_vi}): không thực hiện được việc này",
            f"Officer {actor} is not in office on {day} (active {span_en}): they cannot act")
    return actor


def _vi_date(iso: str) -> str:
    return f"{iso[8:10]}/{iso[5:7]}/{iso[:4]}"


# --- read views --------------------------------------------------------------------------------

# An officer with no responsible head above them in hailong (the top unit's head, e.g. the city
# chairman) is reviewed and decided by someone outside it: hailong awaits nothing of anyone for
# them, so they are neither late nor waiting for "no one responsible" (issue 12).
OUTSIDE = {"vi": "ngoài hệ thống", "en": "evaluated outside hailong"}


def _outside(head: str | None, state: dict[str, Any]) -> dict[str, Any]:
    """`state` (calendar.progress) as it reads for an officer whose period's head (`head`,
    OfficerFacts.head) is None: evaluated outside hailong."""
    if head is not None:
        return {**state, "outside": None}
    return {**state, "awaiting": [], "late": dict.fromkeys(state["late"], False),
            "late_steps": [], "outside": OUTSIDE}


def evaluation_status(db: sqlite_utils.Database, policy: Policy, officer_id: str, month: str,
                      today: date) -> dict[str, Any]:
    """Stage, each step's data, due dates, lateness and history of one officer-month (or
    quarter, under a quarterly policy)."""
    month = check_month(month, policy.period)
    facts = facts_or_404(db, officer_id, month, today)
    officer = records.evaluation_officer(db, officer_id)
    calendar = calendar_for(db, month)
    row = records.evaluation_row(db, officer_id, month) or {}
    state = _outside(facts.head, progress(row.get("self_at"), row.get("reviewed_at"),
                                          row.get("decided_at"), calendar, today))
    who = {"self": officer_id, "review": facts.leader, "decision": facts.head}
    step = {name: {"due": calendar.due(name).isoformat(), "late": state["late"][name]}
            for name in who}
    step["self"].update(done=row.get("self_at") is not None, skipped=state["self_skipped"],
                        opens=calendar.opens.isoformat(), open=state["open"],
                        scores=row.get("self_scores"), comment=row.get("self_comment"),
                        at=row.get("self_at"))
    step["review"].update(done=row.get("reviewed_at") is not None,
                          self_missing=state["self_skipped"], scores=row.get("review_scores"),
                          comment=row.get("review_comment"),
                          attitude_reason=row.get("attitude_reason"),
                          proposed_grade=row.get("proposed_grade"),
                          disciplined=bool(row.get("disciplined")),
                          discipline_note=row.get("discipline_note"),
                          by=row.get("reviewed_by"), at=row.get("reviewed_at"))
    step["decision"].update(done=row.get("decided_at") is not None,
                            final_grade=row.get("final_grade"),
                            final_score=row.get("final_score"), note=row.get("decision_note"),
                            by=row.get("decided_by"), at=row.get("decided_at"),
                            snapshot=row.get("snapshot"),
                            # the suggested score the head saw and why the final one differs
                            **(decided_scores(row.get("snapshot"), row.get("final_grade"),
                                              row.get("final_score"), bands=policy.bands,
                                              decimals=policy.decimals)))
    return {"officer_id": officer_id, "officer_name": officer["name"],
            "unit_id": facts.unit_id, "month": month, "stage": state["stage"],
            "locked": state["stage"] == "decided", "leader": facts.leader, "head": facts.head,
            "calendar": calendar.as_dict(),
            "awaiting": [{"step": s, "by": who[s]} for s in state["awaiting"]],
            "late_steps": state["late_steps"], "outside": state["outside"],
            "self": step["self"], "review": step["review"], "decision": step["decision"],
            "criteria": [{"code": c.code, "vi": c.vi, "en": c.en, "points": c.points}
                         for c in policy.criteria if c.source == "leader"],
            "history": records.evaluation_history(db, officer_id, month)}


def unit_evaluation_status(db: sqlite_utils.Database, policy: Policy, unit_id: str,
                           month: str, today: date) -> dict[str, Any]:
    """Every officer active in the month whose month belongs to the unit's subtree (stored
    with the review or decision, else their current unit): stage, what is awaited from whom,
    who is late at which step; counts, and the unit's quota as it stands, per group of
    similar posts (`quotas`) and in one line (`quota`, `unit_quota`'s choice)."""
    month = check_month(month, policy.period)
    units = unit_subtree(db, unit_id)
    if not units:
        raise WorkflowNotFound(f"Không tìm thấy đơn vị {unit_id!r}", f"No unit {unit_id!r}")
    calendar = calendar_for(db, month)
    rows = records.evaluation_unit_officers(db, units, month)
    # Each month's reviewer and head, by its stored place if any (month_facts), all at once.
    deciders = permissions.reviewers_and_heads(db, records.places(rows), today)
    # progress() reads only which steps are done: a few states, each worked out once, and
    # the counts added per state, not per officer.
    states: dict[tuple[bool, ...], dict[str, Any]] = {}
    counted: Counter[tuple[bool, ...]] = Counter()
    officers = []
    for row in rows:
        officer_id = row.id
        leader, head = deciders[officer_id]
        key = (row.self_at is None, row.reviewed_at is None, row.decided_at is None,
               head is None)
        state = states.get(key)
        if state is None:
            state = states[key] = _outside(head, progress(
                row.self_at, row.reviewed_at, row.decided_at, calendar, today))
        counted[key] += 1
        awaiting = []
        if state["awaiting"]:
            who = {"self": officer_id, "review": leader, "decision": head}
            awaiting = [{"step": step, "by": who[step]} for step in state["awaiting"]]
        officers.append({"officer_id": officer_id, "name": row.name,
                         "unit_id": row.unit_id, "stage": state["stage"],
                         "awaiting": awaiting, "late_steps": [*state["late_steps"]],
                         "self_skipped": state["self_skipped"], "outside": state["outside"],
                         "proposed_grade": row.proposed_grade,
                         "final_grade": row.final_grade})
    stages = {"not_started": 0, "self_done": 0, "reviewed": 0, "decided": 0}
    late = {"self": 0, "review": 0, "decision": 0}
    for key, count in counted.items():
        stages[states[key]["stage"]] += count
        for step in states[key]["late_steps"]:
            late[step] += count
    pool = records.quota_pool(db, unit_id, month, units=units, members=rows)
    return {"unit_id": unit_id, "month": month, "calendar": calendar.as_dict(),
            "officers": officers, "stages": stages, "late": late,
            **quota_lines(unit_quotas(db, policy, unit_id, month, pool=pool))}
