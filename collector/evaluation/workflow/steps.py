"""The monthly workflow of one officer-month: self-evaluation → leader's review → head's decision.

Order and locks (issue 5, item 3):

- self: the officer scores every criterion the leader scores (the policy's criteria with
  source "leader"; task results are computed, not typed) and may comment. Opens on day
  `SELF_OPENS_DAY` (calendar.py) of the month itself; editable until the leader reviews.
- review: the direct leader's scores, comment and proposed grade, and whether the officer was
  disciplined in the month (with a note). Needs the self-evaluation, or its due day to be over
  (then recorded as "no self-evaluation"); editable until the head decides. Not before the
  month is over (the 1st of the next month, `Calendar.review_opens`).
- decision: the head's final grade. Needs a review, and the month to be over (a score frozen
  earlier would count the month's last tasks as not done). The quota of the deciding head's
  unit subtree is checked with the grades already decided and this one, colleagues not
  decided yet counted at their best (status.py `decision_quota`: only a decision of the
  capped grade that no later decision can bring within the cap is refused until the head
  sends `acknowledge_quota`; any other grade passes and records no acknowledgement; the head
  sees the numbers either way); the score and the evidence shown are frozen in `snapshot`, and the
  month is LOCKED: any later self, review or decision is refused.
- reopen: the head, with a written reason. The decision stays in `evaluation_events` and the
  audit log; the month goes back to the review stage.

Under a quarterly policy (`Policy.period`) the same steps run per quarter, keyed "YYYY-Qn"
(collector/core/periods.py; a month key is then refused, and a quarter under a monthly
policy): its self-evaluation opens on the 25th of its last month, its review the day after
it ends. A period after the current one cannot be evaluated, nor an officer not active in it.
Who may act: collector/accounts/permissions.py, and only on a day within their own active
dates (status.py `known_actor`). Due dates and lateness: calendar.py.

Writes: evaluation rows, their events and the month's due dates are written here and
nowhere else (every table is written by the module of its domain). Each step is one
transaction holding the write lock from its first statement (store.write_transaction: BEGIN
IMMEDIATE around `db.atomic()`), so what is checked inside it (permission, order, quota)
still holds at commit: the row, an `evaluation_events` row and an audit entry (actor
"officer:ID", subject "evaluation:ID/YYYY-MM"; "calendar:YYYY-MM" for due dates) commit
together or not at all.
The decision gathers its evidence before taking the lock (a month of ratings is a long read)
and is refused if the review it was built on changed meanwhile.

Errors (`WorkflowError` 422, `WorkflowNotFound` 404, `WorkflowForbidden` 403,
`WorkflowConflict` 409, `QuotaNotAcknowledged`), input checks and the read views live in
collector/evaluation/workflow/status.py and are re-exported here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, is_dataclass
from datetime import date
from typing import Any, Callable

from collector.db import audit
from collector.evaluation.workflow import records
from collector.accounts import permissions
from collector.evaluation import scoring
from collector.db.store import write_transaction
from collector.evaluation.policy import Policy, load_configured
from collector.evaluation.rules.decision import follow_grade
from collector.evaluation.rules.offline import attitude_refusal
from collector.core.periods import parse_period
from collector.core.settings import Settings
from collector.db.store import Store, now_ms
from collector.evaluation.workflow.calendar import (
    Calendar,
    CalendarError,
    calendar_for,
    make_calendar,
)
from collector.evaluation.workflow.status import (
    QuotaNotAcknowledged,
    WorkflowConflict,
    WorkflowError,
    WorkflowForbidden,
    WorkflowNotFound,
    check_grade,
    check_month,
    check_scores,
    check_text,
    decision_quota,
    evaluation_status,
    facts_or_404,
    known_actor,
    local_today,
    quota_dict,
    require,
    unit_acknowledgement,
    unit_evaluation_status,
    unit_quota,
    unit_quotas,
)

__all__ = [
    "EvidenceOf", "QuotaNotAcknowledged", "WorkflowConflict", "WorkflowError",
    "WorkflowForbidden", "WorkflowNotFound", "WorkflowService", "check_grade", "check_month",
    "check_scores", "check_text", "decision_quota", "evaluation_status", "facts_or_404",
    "known_actor", "load_configured_policy", "local_today", "quota_dict", "require",
    "unit_evaluation_status", "unit_quota", "unit_quotas",
]

MAX_COMMENT = 2000
MAX_REASON = 1000
EvidenceOf = Callable[[str, str], dict[str, Any]]
_SELF = ("self_scores", "self_comment", "self_at")
_REVIEW = ("review_scores", "review_comment", "proposed_grade", "disciplined",
           "discipline_note", "attitude_reason", "reviewed_by", "reviewed_at")
_DECISION = ("final_grade", "final_score", "decision_note", "decided_by", "decided_at",
             "snapshot")


def load_configured_policy(settings: Settings) -> Policy:
    """The policy `settings.policy` names: a preset, or a TOML file (policy.load_configured);
    ValueError when it does not load."""
    return load_configured(settings.policy)


def _plain(value: Any) -> Any:
    def encode(obj: Any) -> Any:
        if is_dataclass(obj) and not isinstance(obj, type):
            return asdict(obj)
        if isinstance(obj, date):
            return obj.isoformat()
        raise TypeError(f"not JSON: {type(obj).__name__}")
    return json.loads(json.dumps(value, default=encode, allow_nan=False))


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                      allow_nan=False)


def _digest(snapshot: Any) -> str | None:
    return None if snapshot is None else hashlib.sha256(_json(snapshot).encode()).hexdigest()


def _parts(row: dict[str, Any] | None, columns: tuple[str, ...]) -> dict[str, Any] | None:
    return None if row is None else {c: row[c] for c in columns}


# --- the service --------------------------------------------------------------------------------

class WorkflowService:
    """Workflow writes on one `Store`, each with its event and audit entry. Not thread-safe."""

    def __init__(self, store: Store, policy: Policy, *, clock: Callable[[], int] = now_ms,
                 today: Callable[[], date] = local_today, evidence_of: EvidenceOf | None = None):
        self.store = store
        self.db = store.db
        self.policy = policy
        self.clock = clock
        self.today = today
        self.evidence_of = evidence_of

    # reads
    def status(self, officer_id: str, month: str) -> dict[str, Any]:
        return evaluation_status(self.db, self.policy, officer_id, month, self.today())

    def unit_status(self, unit_id: str, month: str) -> dict[str, Any]:
        return unit_evaluation_status(self.db, self.policy, unit_id, month, self.today())

    # steps
    def self_evaluate(self, officer_id: str, month: str, actor: str, scores: dict[str, Any],
                      comment: str | None = None) -> dict[str, Any]:
        """The officer's own scores and comment; editable until the leader reviews."""
        month = check_month(month, self.policy.period)
        with self._step(officer_id, month, actor, "self") as (_facts, row, calendar):
            clean = {"self_scores": check_scores(self.policy, scores),
                     "self_comment": check_text(comment, "comment", MAX_COMMENT)}
            self._not_locked(row)
            if row and row["reviewed_at"] is not None:
                raise WorkflowConflict("Lãnh đạo đã nhận xét, đánh giá: không sửa được phần tự "
                                       "đánh giá nữa",
                                       "The leader has reviewed: the self-evaluation can no "
                                       "longer change")
            if self.today() < calendar.opens:
                raise WorkflowConflict(
                    f"Tự đánh giá {_lower_first(parse_period(month).label('vi'))} mở từ "
                    f"{calendar.opens.strftime('%d/%m/%Y')}",
                    f"The self-evaluation of {month} opens on {calendar.opens.isoformat()}")
            at = self.clock()
            self._save(officer_id, month, {**clean, "self_at": at}, at)
            data = {"scores": clean["self_scores"], "comment": clean["self_comment"]}
            self._record(officer_id, month, "self", actor, at, data, "evaluation.self",
                         _parts(row, _SELF) if row and row["self_at"] else None,
                         {**data, "at": at})
        return self.status(officer_id, month)

    def review(self, officer_id: str, month: str, actor: str, scores: dict[str, Any],
               comment: str | None, proposed_grade: str, disciplined: bool = False,
               discipline_note: str | None = None,
               attitude_reason: str | None = None) -> dict[str, Any]:
        """The direct leader's scores, comment and proposed grade; editable until decided.
        `attitude_reason`: required to score the satisfaction criterion above what the
        ratings show when they are few because the counter was offline (issue 12)."""
        month = check_month(month, self.policy.period)
        sat = self._offline_evidence(officer_id, month, actor)
        with self._step(officer_id, month, actor, "review") as (facts, row, calendar):
            if not isinstance(disciplined, bool):
                raise WorkflowError("disciplined: phải là true/false",
                                    "disciplined: must be true or false")
            clean = {"review_scores": check_scores(self.policy, scores),
                     "review_comment": check_text(comment, "comment", MAX_COMMENT),
                     "proposed_grade": check_grade(self.policy, proposed_grade,
                                                   "proposed_grade"),
                     "disciplined": disciplined,
                     "discipline_note": check_text(discipline_note, "discipline_note",
                                                   MAX_REASON, required=disciplined),
                     "attitude_reason": check_text(attitude_reason, "attitude_reason",
                                                   MAX_REASON)}
            refusal = attitude_refusal(self.policy.offline, self.policy.satisfaction,
                                       self.policy.criterion(self.policy.satisfaction.criterion),
                                       sat, clean["review_scores"], clean["attitude_reason"])
            if refusal is not None:
                raise WorkflowError(*refusal)
            self._month_over(month, calendar)
            self._not_locked(row)
            self_missing = row is None or row["self_at"] is None
            if self_missing and self.today() <= calendar.self_due:
                raise WorkflowConflict(
                    f"Chờ cán bộ tự đánh giá (hạn {calendar.self_due.strftime('%d/%m/%Y')}); "
                    "sau hạn đó lãnh đạo mới nhận xét được khi không có phần tự đánh giá",
                    f"Waiting for the self-evaluation (due {calendar.self_due.isoformat()}); "
                    "only after that may the leader review without it")
            at = self.clock()
            # The first review places the month where the officer stands (issue 12); every
            # later step keeps that place (`facts` are the place's: permissions.month_facts).
            self._save(officer_id, month, {**clean, "reviewed_by": actor, "reviewed_at": at,
                                           **self._placement(facts, month)}, at)
            data = {"scores": clean["review_scores"], "comment": clean["review_comment"],
                    "proposed_grade": clean["proposed_grade"], "disciplined": disciplined,
                    "discipline_note": clean["discipline_note"],
                    "attitude_reason": clean["attitude_reason"], "self_missing": self_missing}
            before = _parts(row, _REVIEW) if row and row["reviewed_at"] else None
            self._record(officer_id, month, "review", actor, at, data, "evaluation.review",
                         before, {**data, "reviewed_by": actor, "at": at})
        return self.status(officer_id, month)

    def decide(self, officer_id: str, month: str, actor: str, final_grade: str,
               note: str | None = None, acknowledge_quota: bool = False,
               acknowledge_provisional_unit: bool = False) -> dict[str, Any]:
        """The head's final grade: checks the quota and a leader's unit result, freezes the
        evidence, stores the final score following the grade (rules/decision.py), locks."""
        month = check_month(month, self.policy.period)
        # Evidence is gathered before taking the write lock (it reads a month of ratings); the
        # review it was built on must still be the one standing once the lock is held.
        with self._step(officer_id, month, actor, "decide", lock=False) as (_, seen, calendar):
            self._month_over(month, calendar)
            self._decidable(seen)
        snapshot = self._evidence(officer_id, month, seen)
        suggestion = snapshot.get("suggestion") if isinstance(snapshot, dict) else None
        score = suggestion.get("score") if isinstance(suggestion, dict) else None
        if (isinstance(score, bool) or not isinstance(score, (int, float))
                or not 0 <= score <= self.policy.max_score):
            raise WorkflowConflict("Chưa tính được điểm gợi ý (điểm của lãnh đạo thiếu hoặc "
                                   "không hợp với chính sách chấm điểm): lãnh đạo chấm lại",
                                   "No suggested score (the leader's scores are missing or do "
                                   "not fit the scoring policy): the leader must review again")
        suggested_score = float(score)
        with self._step(officer_id, month, actor, "decide") as (facts, row, _calendar):
            clean = {"final_grade": check_grade(self.policy, final_grade, "final_grade"),
                     "decision_note": check_text(note, "note", MAX_COMMENT)}
            if not isinstance(acknowledge_quota, bool):
                raise WorkflowError("acknowledge_quota: phải là true/false",
                                    "acknowledge_quota: must be true or false")
            self._decidable(row)
            if _parts(row, _REVIEW) != _parts(seen, _REVIEW):
                raise WorkflowConflict("Phần nhận xét vừa thay đổi trong lúc quyết định: hãy "
                                       "xem lại rồi quyết định", "The review changed while "
                                       "deciding: look again, then decide")
            unit_ack = unit_acknowledgement(snapshot, acknowledge_provisional_unit,  # Decree 335
                                            self.db, month, actor)
            quota = decision_quota(self.db, self.policy, facts.deciding_unit, month,
                                   officer_id, clean["final_grade"])
            if quota.refuses and not acknowledge_quota:
                raise QuotaNotAcknowledged(quota)
            # An acknowledgement is recorded only where the quota asked for one: a grade that
            # cannot exceed it acknowledges nothing, whatever the form sent.
            acknowledged = quota.refuses and acknowledge_quota
            # The final score follows the decided grade (policy `[decision] final_score`), so
            # the year's average cannot bring back a grade the head refused.
            final = follow_grade(self.policy.decision, suggested_score, clean["final_grade"],
                                 bands=self.policy.bands, max_score=self.policy.max_score,
                                 decimals=self.policy.decimals)
            final_score = final.score
            at = self.clock()
            placed = self._placement(facts, month)  # the month's place, kept from the review
            self._save(officer_id, month, {**clean, "final_score": final_score,
                                           "decided_by": actor, "decided_at": at,
                                           "snapshot": snapshot, **placed}, at)
            data = {"final_grade": clean["final_grade"], "final_score": final_score,
                    "suggested_score": suggested_score, "final_score_line": final.line,
                    "note": clean["decision_note"], "proposed_grade": row["proposed_grade"],
                    "quota_unit": facts.deciding_unit, "post_group": placed["post_group"],
                    "quota": quota_dict(quota),
                    "acknowledged_quota": acknowledged,
                    "snapshot_sha256": _digest(snapshot), **unit_ack}
            self._record(officer_id, month, "decision", actor, at, data, "evaluation.decide",
                         None, {**data, "decided_by": actor, "at": at})
        return {**self.status(officer_id, month), "quota": quota_dict(quota)}

    def reopen(self, officer_id: str, month: str, actor: str, reason: str) -> dict[str, Any]:
        """Undo a decision, with a written reason; it stays in the history and the audit log."""
        month = check_month(month, self.policy.period)
        with self._step(officer_id, month, actor, "reopen") as (_facts, row, _calendar):
            reason = check_text(reason, "reason", MAX_REASON, required=True)
            if row is None or row["decided_at"] is None:
                raise WorkflowConflict("Chưa có quyết định nào để mở lại",
                                       "There is no decision to reopen")
            decision = _parts(row, _DECISION)
            at = self.clock()
            self._save(officer_id, month, dict.fromkeys(_DECISION), at)
            self._record(officer_id, month, "reopen", actor, at,
                         {"reason": reason, "decision": decision}, "evaluation.reopen",
                         {**{k: v for k, v in decision.items() if k != "snapshot"},
                          "snapshot_sha256": _digest(decision["snapshot"])},
                         {"reason": reason, "stage": "reviewed", "at": at})
        return self.status(officer_id, month)

    def set_calendar(self, month: str, actor: str, self_due: Any, review_due: Any,
                     decision_due: Any, *, administrator: bool = False) -> dict[str, Any]:
        """A month's own due dates, replacing the defaults (or earlier dates set).

        `actor` is an officer id (a top-level head), or with `administrator` the login of an
        administrator account, whose role the caller has checked.
        """
        month = check_month(month, self.policy.period)
        at = self.clock()
        audit_actor = f"user:{actor}" if administrator else f"officer:{actor}"
        with write_transaction(self.db):
            if not administrator:
                known_actor(self.db, actor, self.today())
                require(permissions.may_set_calendar(actor,
                                                     permissions.top_unit_heads(self.db)))
            try:
                calendar = make_calendar(month, self_due, review_due, decision_due,
                                         set_by=actor, set_at=at)
            except CalendarError as error:
                raise WorkflowError(error.vi, error.en) from None
            old = calendar_for(self.db, month)
            dates = ("self_due", "review_due", "decision_due")
            after = {k: calendar.as_dict()[k] for k in dates}
            self.db.execute("INSERT OR REPLACE INTO workflow_calendar (month, self_due, "
                            "review_due, decision_due, set_by, set_at) VALUES (?, ?, ?, ?, ?, ?)",
                            [month, *after.values(), actor, at])
            audit.append(self.db, actor=audit_actor, action="calendar.set",
                         subject=f"calendar:{month}",
                         before=({k: old.as_dict()[k] for k in dates}
                                 if old.source == "set" else None),
                         after=after, at=at)
        return calendar.as_dict()

    # machinery
    @contextmanager
    def _step(self, officer_id: str, month: str, actor: str, action: str, *,
              lock: bool = True) -> Iterator[tuple[permissions.OfficerFacts,
                                                   dict[str, Any] | None, Calendar]]:
        """Checks every step shares, inside the step's transaction (or none: `lock=False`):
        the officer exists (404), the actor may (403), the month is not in the future and the
        officer was active in it (409)."""
        with (write_transaction(self.db) if lock else nullcontext()):
            facts = facts_or_404(self.db, officer_id, month, self.today())  # the month's place
            known_actor(self.db, actor, self.today())
            require(permissions.ACTIONS[action](facts, actor))
            today = self.today()
            period = parse_period(month)  # a month, or a quarter under a quarterly policy
            if period.first_day > today:
                raise WorkflowConflict(f"{period.label('vi')} chưa đến: chưa đánh giá được",
                                       f"{month} has not come yet: it cannot be evaluated")
            officer = records.evaluation_officer(self.db, officer_id)
            if not period.overlaps(officer["active_from"], officer["active_to"]):
                raise WorkflowConflict(f"Cán bộ {officer_id} không công tác trong "
                                       f"{_lower_first(period.label('vi'))}",
                                       f"{officer_id} was not active in {month}")
            yield facts, records.evaluation_row(self.db, officer_id, month), \
                calendar_for(self.db, month)

    def _month_over(self, month: str, calendar: Calendar) -> None:
        opens = calendar.review_opens
        if self.today() < opens:
            raise WorkflowConflict(
                f"{parse_period(month).label('vi')} chưa kết thúc: lãnh đạo chỉ nhận xét, thủ "
                f"trưởng chỉ quyết định từ ngày {opens.strftime('%d/%m/%Y')}",
                f"{month} is not over yet: the leader's review and the head's decision "
                f"open on {opens.isoformat()}")

    def _not_locked(self, row: dict[str, Any] | None) -> None:
        if row and row["decided_at"] is not None:
            raise WorkflowConflict("Thủ trưởng đã quyết định: kỳ đánh giá này đã khoá; muốn sửa "
                                   "phải mở lại (thủ trưởng, có lý do)",
                                   "The head has decided: the period is locked; changing it "
                                   "needs a reopening (by the head, with a reason)")

    def _decidable(self, row: dict[str, Any] | None) -> None:
        self._not_locked(row)
        if row is None or row["reviewed_at"] is None:
            raise WorkflowConflict("Chưa có nhận xét, đánh giá của lãnh đạo trực tiếp",
                                   "The direct leader has not reviewed yet")

    def _offline_evidence(self, officer_id: str, month: str,
                          actor: str) -> dict[str, Any] | None:
        """The satisfaction evidence a review may need `attitude_reason` for, read before the
        write lock (as the decision's) once the actor may review; None without evidence_of
        or when the policy asks for no reason."""
        if self.evidence_of is None or not self.policy.offline.attitude_reason:
            return None
        with self._step(officer_id, month, actor, "review", lock=False):
            pass
        return self.evidence_of(officer_id, month).get("satisfaction")

    def _evidence(self, officer_id: str, month: str, row: dict[str, Any]) -> dict[str, Any]:
        if self.evidence_of is not None:
            return _plain(self.evidence_of(officer_id, month))
        suggestion = scoring.suggest(self.policy, None, None, row["review_scores"],
                                     row["disciplined"])
        return _plain({"suggestion": suggestion})

    def _placement(self, facts: permissions.OfficerFacts, month: str) -> dict[str, Any]:
        return records.placement(self.db, facts.officer_id, month, facts.unit_id,
                                 facts.deciding_unit)

    def _save(self, officer_id: str, month: str, fields: dict[str, Any], at: int) -> None:
        values = {k: _json(v) if k in ("self_scores", "review_scores", "snapshot")
                  and v is not None else v for k, v in fields.items()}
        values["updated_at"] = at
        columns = ", ".join(values)
        self.db.execute(
            f"INSERT INTO evaluations (officer_id, month, {columns}) VALUES (?, ?, "
            f"{', '.join('?' * len(values))}) ON CONFLICT (officer_id, month) DO UPDATE SET "
            + ", ".join(f"{c} = excluded.{c}" for c in values),
            [officer_id, month, *values.values()])

    def _record(self, officer_id: str, month: str, step: str, actor: str, at: int,
                data: dict[str, Any], action: str, before: Any, after: Any) -> None:
        self.db.execute("INSERT INTO evaluation_events (officer_id, month, step, actor, at, "
                        "data) VALUES (?, ?, ?, ?, ?, ?)",
                        [officer_id, month, step, actor, at, _json(data)])
        audit.append(self.db, actor=f"officer:{actor}", action=action,
                     subject=f"evaluation:{officer_id}/{month}", before=before, after=after,
                     at=at)
