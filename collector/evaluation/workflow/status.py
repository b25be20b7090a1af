"""The monthly workflow's errors, input checks and read views.

Read views: one officer-month and a unit's month, as a page or the API shows them: each step's
data, due dates, what is awaited from whom, who is late at which step (calendar.py decides
lateness), the history, and the unit's quota as it stands. Pure reads: they work on the
writer's connection or a reader's. The writes are in steps.py, which re-exports the errors
and checks defined here.

Errors a user can cause carry Vietnamese and English text: `WorkflowError` (bad input, 422),
`WorkflowNotFound` (404), `WorkflowForbidden` (403), `WorkflowConflict` (order, lock or time,
409; `QuotaNotAcknowledged` and `UnitNotAcknowledged` are two).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime
from typing import Any

import sqlite_utils

from collector.accounts import permissions
from collector.evaluation.workflow import records
from collector.evaluation import scoring
from collector.core.errors import BilingualError
from collector.org.organisation import unit_subtree
from collector.evaluation.policy import GRADE_CODES, GRADE_LABELS, Policy
from collector.evaluation.rules import post_groups
from collector.evaluation.rules.decision import decided_scores
from collector.evaluation.rules.leadership import decide_first
from collector.core.texts import checked_text
from collector.core.periods import MONTH, PeriodError, check_period
from collector.core.timeline import LOCAL_TZ
from collector.evaluation.workflow.calendar import calendar_for, progress


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


@dataclass(frozen=True)
class UnitQuota(scoring.QuotaCheck):
    """A unit's quota check in one group of similar posts, with the officers not graded yet
    counted at their best.

    `post_group` (None: the default group, the head's whole unit) with its `label_vi` and
    `label_en` (rules/post_groups.py) says whose line it is: the cap is counted per group
    (Decree 335/2025). `pending` officers active in the month are not counted with a grade of
    their own (the unit's line: no proposed or final grade yet; a decision's check: not
    decided yet); each is counted with `padded_with` (a grade the cap is a share of, other
    than the capped one; `best_case_grade`), so `rated`, `base` and `cap` include them and
    `exceeded` means: over the cap whatever they will get. `provisional` (pending > 0) and the
    note (`note_vi`, `note_en`, None when final) say so; `vi`/`en` then end with the note.
    `refuses` (a decision's check only): this decision gives the capped grade over that cap,
    so it needs the head's acknowledgement.
    """
    pending: int = 0
    provisional: bool = False
    padded_with: str | None = None
    note_vi: str | None = None
    note_en: str | None = None
    refuses: bool = False
    post_group: str | None = None
    label_vi: str = post_groups.DEFAULT_LABEL[0]
    label_en: str = post_groups.DEFAULT_LABEL[1]


def quota_dict(quota: scoring.QuotaCheck) -> dict[str, Any]:
    return asdict(quota)


def best_case_grade(policy: Policy) -> str | None:
    """The grade that brings a pending officer's count closest to allowing the top grade: one
    the cap is a share of (raises the cap) that is not the capped grade (raises nothing
    capped). None if the policy has none: then a pending officer cannot help either way."""
    rule = policy.quota
    return next((g for g in rule.of_grades if g != rule.grade), None)


def unit_quotas(db: sqlite_utils.Database, policy: Policy, unit_id: str, month: str,
                extra: dict[str, str] | None = None) -> list[UnitQuota]:
    """The unit's lines, one per group of similar posts present in its subtree's month (the
    default group first, then by name): the quota over the grades standing (final, else
    proposed), with `extra` ({officer: grade}) replacing or adding proposed grades.

    The months counted are the unit's quota pool (records.quota_pool: a month stays in the
    pool of the unit it was decided in when a unit moves later). A reviewed month counts in
    the group stored with its review, any other in the officer's current group
    (sources.QUOTA_GROUP). Officers active in the month with no
    grade yet are counted with the best case grade (`best_case_grade`). These lines inform
    (the month's report, the head's page); what a decision must respect is `decision_quota`."""
    extra = extra or {}
    rows = records.quota_pool(db, unit_id, month)
    group_of = {row["id"]: row["post_group"] for row in rows}
    grades = {row["id"]: row["final_grade"] or row["proposed_grade"] for row in rows
              if row["final_grade"] or row["proposed_grade"]}
    grades.update(extra)
    decided = {row["id"] for row in rows if row["final_grade"] and row["id"] not in extra}
    members = [(group_of.get(officer), officer) for officer in [*grades, *(
        row["id"] for row in rows if row["id"] not in grades)]]
    lines = []
    for group, officers in post_groups.split(members):
        graded = [grades[o] for o in officers if o in grades]
        capped = sum(o in decided and grades[o] == policy.quota.grade for o in officers)
        lines.append(_padded(db, policy, unit_id, graded, capped,
                             sum(o not in grades for o in officers), "chưa được xếp loại",
                             "not graded yet", group))
    return lines


def unit_quota(db: sqlite_utils.Database, policy: Policy, unit_id: str, month: str,
               extra: dict[str, str] | None = None) -> UnitQuota:
    """The unit's one line (`unit_quotas`): with one group, the whole unit's; with several,
    the group with the largest excess, else the default group (rules/post_groups.py
    `headline`), so that `exceeded` still means "the unit's month is over a cap"."""
    return _headline(unit_quotas(db, policy, unit_id, month, extra))


def _headline(lines: list[UnitQuota]) -> UnitQuota:
    return post_groups.headline(lines, lambda line: line.over_by, lambda line: line.post_group)


def decision_quota(db: sqlite_utils.Database, policy: Policy, unit_id: str, month: str,
                   officer_id: str, grade: str) -> UnitQuota:
    """The check a decision meets (docs/evaluation.md, "The quota"), within the month's group
    of similar posts (records.month_group: the one this decision stores): `grade` for
    `officer_id` counted with the grades already decided in the group in the unit's quota
    pool (records.quota_pool: the months decided by the head of `unit_id` — for a month with
    a stored place, its stored deciding unit — or of a unit below it, each in the group
    stored with its decision, even if its unit has moved since); every colleague of the
    group in the pool active in the month not decided yet counted at the best case, whatever
    the leader proposed — a proposal binds nobody until the head decides it, so those
    colleagues can still bring the group back within the cap. `refuses` when this decision
    gives the capped grade and the capped grades decided, this one included, exceed the cap
    even so. A decision of any other grade never refuses: it raises no count of the capped
    grade."""
    group = records.month_group(db, officer_id, month)
    rows = [row for row in records.quota_pool(db, unit_id, month)
            if row["post_group"] == group and row["id"] != officer_id]
    decided = {row["id"]: row["final_grade"] for row in rows
               if row["decided_at"] is not None and row["final_grade"]}
    decided[officer_id] = grade
    pending = sum(row["id"] not in decided for row in rows)
    capped = policy.quota.grade
    quota = _padded(db, policy, unit_id, list(decided.values()),
                    list(decided.values()).count(capped), pending,
                    "chưa được quyết định", "not decided yet", group)
    return replace(quota, refuses=grade == capped and quota.exceeded)


def _padded(db: sqlite_utils.Database, policy: Policy, unit_id: str, grades: list[str],
            decided: int, pending: int, not_vi: str, not_en: str,
            group: str | None = None) -> UnitQuota:
    """check_quota over `grades` and `pending` officers at the best case, with the note; a
    named group's line says which group it is."""
    padding = best_case_grade(policy)
    counted = [*grades, *([padding] * pending if padding else [])]
    row = db.execute("SELECT outstanding FROM units WHERE id = ?", [unit_id]).fetchone()
    check = scoring.check_quota(policy, counted, bool(row and row[0]), decided=decided)
    label_vi, label_en = post_groups.group_label(group)
    vi, en = post_groups.titled(group, check.vi, check.en)
    check = replace(check, vi=vi, en=en)
    quota = UnitQuota(**asdict(check), pending=pending, provisional=bool(pending),
                      padded_with=padding if pending else None, post_group=group,
                      label_vi=label_vi, label_en=label_en)
    if not pending:
        return quota
    if padding:
        gvi, gen = GRADE_LABELS[padding]
        as_vi, as_en = f"được tính là «{gvi}»", f"counted as “{gen}”"
    else:
        as_vi, as_en = "không làm thay đổi tỷ lệ", "cannot change the count"
    note_vi = (f"Tạm tính: {pending} người {not_vi}, {as_vi} (trường hợp "
               "thuận lợi nhất); kết quả chỉ chính thức khi mọi người đã được xếp loại.")
    note_en = (f"Provisional: {pending} {not_en}, {as_en} (the most favourable "
               "case); final once everyone is graded.")
    return replace(quota, note_vi=note_vi, note_en=note_en, vi=f"{check.vi} {note_vi}",
                   en=f"{check.en} {note_en}")


# --- read views --------------------------------------------------------------------------------

# An officer with no responsible head above them in hailong (the top unit's head, e.g. the city
# chairman) is reviewed and decided by someone outside it: hailong awaits nothing of anyone for
# them, so they are neither late nor waiting for "no one responsible" (issue 12).
OUTSIDE = {"vi": "ngoài hệ thống", "en": "evaluated outside hailong"}


def _outside(facts: permissions.OfficerFacts, state: dict[str, Any]) -> dict[str, Any]:
    """`state` (calendar.progress) as it reads for an officer evaluated outside hailong."""
    if facts.head is not None:
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
    state = _outside(facts, progress(row.get("self_at"), row.get("reviewed_at"),
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
    if not db.execute("SELECT 1 FROM units WHERE id = ?", [unit_id]).fetchone():
        raise WorkflowNotFound(f"Không tìm thấy đơn vị {unit_id!r}", f"No unit {unit_id!r}")
    calendar = calendar_for(db, month)
    officers = []
    stages = {"not_started": 0, "self_done": 0, "reviewed": 0, "decided": 0}
    late = {"self": 0, "review": 0, "decision": 0}
    for row in records.evaluation_unit_officers(db, unit_subtree(db, unit_id), month):
        facts = facts_or_404(db, row["id"], month, today)  # the month's place, if stored
        state = _outside(facts, progress(row["self_at"], row["reviewed_at"], row["decided_at"],
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
            **quota_lines(unit_quotas(db, policy, unit_id, month))}


def quota_lines(lines: list[UnitQuota]) -> dict[str, Any]:
    """`quotas` (one line per group of similar posts) and `quota` (the headline line,
    `unit_quota`'s choice) as a unit's reports return them."""
    return {"quota": quota_dict(_headline(lines)),
            "quotas": [quota_dict(line) for line in lines]}
