"""The monthly workflow: order, locks, reopening, quota at its edges, lateness, audit, crashes.

The organisation every test here (and test_permissions, test_api_workflow) builds:

    CITY (head H0)
    ├── W1 ward (head H1): H1, L1 (leader, led by nobody → the head reviews L1), O1 and O2
    │   │                  (led by L1), O3 (no leader → H1 reviews)
    │   └── F1 office (no head): O4 (led by L1; H1 decides, found walking up)
    └── W2 ward (head H2): H2, S (a stranger to W1)
"""

from __future__ import annotations

import itertools
import json
from dataclasses import asdict
from datetime import date

import pytest

from collector.db import audit
from collector.evaluation import scoring
from collector.evaluation.policy import load_preset
from collector.db.store import Store
from collector.evaluation.workflow.steps import (
    QuotaNotAcknowledged,
    WorkflowConflict,
    WorkflowError,
    WorkflowForbidden,
    WorkflowNotFound,
    WorkflowService,
)
from collector.org.organisation import upsert_officer, upsert_unit

MONTH = "2026-03"
OPEN = date(2026, 3, 25)  # the self-evaluation opens (SELF_OPENS_DAY)
DURING = date(2026, 4, 1)  # before every default due date (3, 5 and 7 April)
AFTER_SELF_DUE = date(2026, 4, 4)
T0 = 1_775_000_000_000
HANOI = {"discipline_ethics": 18, "bonus": 5}
DECREE = {"politics_ethics": 7, "discipline": 7, "service_attitude": 6.5, "innovation": 5}


def build_org(store: Store) -> None:
    upsert_unit(store.db, "CITY", "Thành phố")
    upsert_unit(store.db, "W1", "Phường Hoàn Kiếm", "CITY", kind="ward")
    upsert_unit(store.db, "F1", "Bộ phận Một cửa", "W1", kind="office")
    upsert_unit(store.db, "W2", "Phường Ba Đình", "CITY", kind="ward")
    for officer, unit, leader in [("H0", "CITY", None), ("H1", "W1", None), ("L1", "W1", None),
                                  ("O1", "W1", "L1"), ("O2", "W1", "L1"), ("O3", "W1", None),
                                  ("O4", "F1", "L1"), ("H2", "W2", None), ("S", "W2", None)]:
        upsert_officer(store.db, officer, f"Cán bộ {officer}", "Chuyên viên", unit,
                       leader_id=leader)
    upsert_unit(store.db, "CITY", "Thành phố", head_id="H0")
    upsert_unit(store.db, "W1", "Phường Hoàn Kiếm", "CITY", kind="ward", head_id="H1")
    upsert_unit(store.db, "W2", "Phường Ba Đình", "CITY", kind="ward", head_id="H2")


class Day:
    """The injected `today`, moved by the tests."""

    def __init__(self, day: date):
        self.day = day

    def __call__(self) -> date:
        return self.day


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "hailong.db")
    build_org(store)
    yield store
    store.close()


@pytest.fixture
def day():
    return Day(DURING)


def make_service(store, day, preset="hanoi-3814", evidence_of=None) -> WorkflowService:
    ticks = itertools.count(T0, 1000)
    return WorkflowService(store, load_preset(preset), clock=lambda: next(ticks), today=day,
                           evidence_of=evidence_of)


@pytest.fixture
def service(store, day):
    return make_service(store, day)


def audit_trail(store):
    return [(e.actor, e.action, e.subject) for e in reversed(audit.recent(store.db, None))]


def snapshot_of_tables(store):
    return {table: store.db.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
            for table in ("evaluations", "evaluation_events", "audit_log", "workflow_calendar")}


def full_month(service, officer="O1", leader="L1", head="H1", grade="HTTNV"):
    service.self_evaluate(officer, MONTH, officer, HANOI, "Hoàn thành 40 hồ sơ")
    service.review(officer, MONTH, leader, {"discipline_ethics": 17, "bonus": 4}, "Tốt", grade)
    return service.decide(officer, MONTH, head, grade, "Đồng ý")


# --- the whole month --------------------------------------------------------------------------

def test_a_full_month_is_recorded_step_by_step_and_audited(service, store):
    assert service.status("O1", MONTH)["stage"] == "not_started"
    after_self = service.self_evaluate("O1", MONTH, "O1", HANOI, "Hoàn thành 40 hồ sơ")
    assert after_self["stage"] == "self_done"
    assert after_self["self"]["scores"] == {"discipline_ethics": 18.0, "bonus": 5.0}
    assert after_self["awaiting"] == [{"step": "review", "by": "L1"}]
    reviewed = service.review("O1", MONTH, "L1", {"discipline_ethics": 17, "bonus": 4},
                              "Tốt", "B")  # the policy's letter stands for HTTNV
    assert (reviewed["stage"], reviewed["review"]["proposed_grade"]) == ("reviewed", "HTTNV")
    assert reviewed["review"]["self_missing"] is False
    assert reviewed["awaiting"] == [{"step": "decision", "by": "H1"}]
    decided = service.decide("O1", MONTH, "H1", "HTTNV", "Đồng ý")
    assert (decided["stage"], decided["locked"]) == ("decided", True)
    # No evidence source: the review's scores alone, no task recorded → 17 + 0 + 4 = 21; the
    # head decided HTTNV, so the final score follows the grade to its floor, 70.
    assert decided["decision"]["final_score"] == 70.0
    assert decided["decision"]["snapshot"]["suggestion"]["score"] == 21.0
    assert (decided["decision"]["by"], decided["decision"]["at"]) == ("H1", T0 + 2000)
    # W1's 5 others are not graded yet: each counted as HTTNV, the best case.
    assert (decided["quota"]["rated"], decided["quota"]["pending"]) == (6, 5)
    assert not decided["quota"]["exceeded"]
    assert [e["step"] for e in decided["history"]] == ["self", "review", "decision"]
    assert [e["actor"] for e in decided["history"]] == ["O1", "L1", "H1"]

    subject = "evaluation:O1/2026-03"
    assert audit_trail(store) == [("officer:O1", "evaluation.self", subject),
                                  ("officer:L1", "evaluation.review", subject),
                                  ("officer:H1", "evaluation.decide", subject)]
    decision = audit.recent(store.db, 1)[0]
    assert decision.before_value is None
    assert decision.after_value["final_grade"] == "HTTNV"
    assert decision.after_value["quota"]["cap"] == 1  # floor(30 % × 6)
    assert audit.verify(store.db).ok


def test_edits_before_the_next_step_keep_before_and_after(service, store):
    service.self_evaluate("O1", MONTH, "O1", HANOI, "bản nháp")
    service.self_evaluate("O1", MONTH, "O1", {"discipline_ethics": 19, "bonus": 6}, None)
    service.review("O1", MONTH, "L1", HANOI, None, "HTNV")
    service.review("O1", MONTH, "L1", HANOI, "Sửa lại", "HTTNV")
    entries = list(reversed(audit.recent(store.db, None)))
    assert entries[0].before_value is None
    assert entries[1].before_value["self_comment"] == "bản nháp"
    assert entries[1].after_value["scores"] == {"discipline_ethics": 19.0, "bonus": 6.0}
    assert entries[3].before_value["proposed_grade"] == "HTNV"
    assert entries[3].after_value["proposed_grade"] == "HTTNV"
    assert len(service.status("O1", MONTH)["history"]) == 4


# --- order and locks --------------------------------------------------------------------------

def test_each_step_out_of_order_is_refused(service, day):
    with pytest.raises(WorkflowConflict, match="Waiting for the self-evaluation"):
        service.review("O1", MONTH, "L1", HANOI, None, "HTTNV")
    with pytest.raises(WorkflowConflict, match="not reviewed"):
        service.decide("O1", MONTH, "H1", "HTTNV")
    service.self_evaluate("O1", MONTH, "O1", HANOI)
    with pytest.raises(WorkflowConflict, match="not reviewed"):
        service.decide("O1", MONTH, "H1", "HTTNV")
    with pytest.raises(WorkflowConflict, match="no decision to reopen"):
        service.reopen("O1", MONTH, "H1", "nhầm")
    service.review("O1", MONTH, "L1", HANOI, None, "HTTNV")
    with pytest.raises(WorkflowConflict, match="can no longer change"):
        service.self_evaluate("O1", MONTH, "O1", HANOI)


def test_a_decision_locks_the_month(service):
    full_month(service)
    with pytest.raises(WorkflowConflict, match="locked"):
        service.self_evaluate("O1", MONTH, "O1", HANOI)
    with pytest.raises(WorkflowConflict, match="locked"):
        service.review("O1", MONTH, "L1", HANOI, None, "HTXSNV")
    with pytest.raises(WorkflowConflict, match="locked"):
        service.decide("O1", MONTH, "H1", "HTXSNV")
    assert service.status("O1", MONTH)["decision"]["final_grade"] == "HTTNV"


def test_the_leader_may_go_ahead_once_the_self_evaluation_is_overdue(service, day):
    day.day = date(2026, 4, 3)  # the due day itself: still waiting
    with pytest.raises(WorkflowConflict):
        service.review("O1", MONTH, "L1", HANOI, None, "HTNV")
    day.day = AFTER_SELF_DUE
    status = service.review("O1", MONTH, "L1", HANOI, "Không tự đánh giá", "HTNV")
    assert status["review"]["self_missing"] is True and status["self"]["skipped"] is True
    assert status["history"][0]["data"]["self_missing"] is True
    with pytest.raises(WorkflowConflict):  # too late now: the leader has reviewed
        service.self_evaluate("O1", MONTH, "O1", HANOI)


@pytest.mark.parametrize("today, month, words", [
    (date(2026, 3, 24), "2026-03", "opens on 2026-03-25"),
    (date(2026, 3, 31), "2026-04", "has not come yet"),
    (date(2026, 3, 31), "2027-01", "has not come yet"),
])
def test_a_month_cannot_be_evaluated_before_it_opens(service, day, today, month, words):
    day.day = today
    with pytest.raises(WorkflowConflict, match=words):
        service.self_evaluate("O1", month, "O1", HANOI)


def test_self_evaluation_opens_on_the_25th(service, day):
    day.day = OPEN
    assert service.self_evaluate("O1", MONTH, "O1", HANOI)["stage"] == "self_done"


def test_review_and_decision_wait_for_the_month_to_end(service, store, day):
    """Reviewer item 1: a decision on the 26th froze a score with the month's last tasks
    counted as not done, and locked the month. Both wait for the 1st of the next month."""
    day.day = date(2026, 3, 31)
    service.self_evaluate("O1", MONTH, "O1", HANOI)
    # The month is not over: nothing is awaited from the leader yet.
    assert service.status("O1", MONTH)["awaiting"] == []
    before = snapshot_of_tables(store)
    with pytest.raises(WorkflowConflict, match="2026-03 is not over") as refused:
        service.review("O1", MONTH, "L1", HANOI, None, "HTTNV")
    assert "Tháng 03/2026 chưa kết thúc" in str(refused.value)
    assert "01/04/2026" in str(refused.value)
    assert snapshot_of_tables(store) == before
    day.day = date(2026, 4, 1)
    assert service.status("O1", MONTH)["awaiting"] == [{"step": "review", "by": "L1"}]
    service.review("O1", MONTH, "L1", HANOI, None, "HTTNV")
    day.day = date(2026, 3, 31)  # a clock set back: the decision is refused all the same
    before = snapshot_of_tables(store)
    with pytest.raises(WorkflowConflict, match="2026-03 is not over"):
        service.decide("O1", MONTH, "H1", "HTTNV")
    assert snapshot_of_tables(store) == before
    day.day = date(2026, 4, 1)
    assert service.decide("O1", MONTH, "H1", "HTTNV")["stage"] == "decided"


def test_a_december_waits_for_the_first_of_january(service, day):
    day.day = date(2026, 12, 31)
    service.self_evaluate("O1", "2026-12", "O1", HANOI)
    with pytest.raises(WorkflowConflict, match="01/01/2027"):
        service.review("O1", "2026-12", "L1", HANOI, None, "HTTNV")
    day.day = date(2027, 1, 4)
    assert service.review("O1", "2026-12", "L1", HANOI, None, "HTTNV")["stage"] == "reviewed"


@pytest.mark.parametrize("active_from, active_to", [
    (None, "2026-03-31"),          # left at the end of the month evaluated
    ("2026-04-02", None),          # starts tomorrow
])
def test_an_officer_outside_their_active_dates_may_not_act(service, store, day, active_from,
                                                           active_to):
    """Reviewer item 6: the acting officer must be in office on the day (local date)."""
    service.self_evaluate("O1", MONTH, "O1", HANOI)
    upsert_officer(store.db, "L1", "Cán bộ L1", "Chuyên viên", "W1", active_from=active_from,
                             active_to=active_to)
    before = snapshot_of_tables(store)
    with pytest.raises(WorkflowForbidden, match="not in office on 2026-04-01"):
        service.review("O1", MONTH, "L1", HANOI, None, "HTTNV")
    assert snapshot_of_tables(store) == before
    upsert_officer(store.db, "H0", "Cán bộ H0", "Chuyên viên", "CITY", active_from=active_from,
                             active_to=active_to)
    with pytest.raises(WorkflowForbidden, match="not in office"):
        service.set_calendar(MONTH, "H0", "2026-04-06", "2026-04-08", "2026-04-10")


def test_an_officer_is_in_office_on_their_first_and_last_days(service, store, day):
    service.self_evaluate("O1", MONTH, "O1", HANOI)
    upsert_officer(store.db, "L1", "Cán bộ L1", "Chuyên viên", "W1", active_from="2026-04-01",
                             active_to="2026-04-01")
    assert service.review("O1", MONTH, "L1", HANOI, None, "HTTNV")["stage"] == "reviewed"
    day.day = date(2026, 4, 2)
    with pytest.raises(WorkflowForbidden, match="not in office"):
        service.review("O1", MONTH, "L1", HANOI, None, "HTNV")


def test_an_officer_not_active_in_the_month_is_not_evaluated(service, store, day):
    upsert_officer(store.db, "O9", "Cán bộ O9", "Chuyên viên", "W1", leader_id="L1",
                             active_to="2026-02-28")
    upsert_officer(store.db, "O8", "Cán bộ O8", "Chuyên viên", "W1", leader_id="L1",
                             active_from="2026-04-01")
    day.day = AFTER_SELF_DUE  # the leader, in office, may go ahead without a self-evaluation
    for officer in ("O9", "O8"):
        with pytest.raises(WorkflowConflict, match="not active in 2026-03"):
            service.review(officer, MONTH, "L1", HANOI, None, "HTTNV")
    upsert_officer(store.db, "O7", "Cán bộ O7", "Chuyên viên", "W1", leader_id="L1",
                             active_from="2026-03-31", active_to="2026-03-31")
    day.day = date(2026, 3, 31)  # O7's one day in office: they may act on it
    assert service.self_evaluate("O7", MONTH, "O7", HANOI)["stage"] == "self_done"
    day.day = AFTER_SELF_DUE
    assert service.review("O7", MONTH, "L1", HANOI, None, "HTTNV")["stage"] == "reviewed"


@pytest.mark.parametrize("call, words", [
    (lambda s: s.self_evaluate("O1", MONTH, "O1", {"discipline_ethics": 18}), "exactly"),
    (lambda s: s.self_evaluate("O1", MONTH, "O1", {**HANOI, "task_results": 70}), "exactly"),
    (lambda s: s.self_evaluate("O1", MONTH, "O1", {**HANOI, "bonus": 10.5}), "0 to 10"),
    (lambda s: s.self_evaluate("O1", MONTH, "O1", {**HANOI, "bonus": -1}), "0 to 10"),
    (lambda s: s.self_evaluate("O1", MONTH, "O1", {**HANOI, "bonus": True}), "0 to 10"),
    (lambda s: s.self_evaluate("O1", MONTH, "O1", {**HANOI, "bonus": float("nan")}), "0 to"),
    (lambda s: s.self_evaluate("O1", MONTH, "O1", HANOI, "x" * 2001), "at most 2000"),
    (lambda s: s.self_evaluate("O1", "2026-13", "O1", HANOI), "Invalid month"),
    (lambda s: s.self_evaluate("O1", "2026-3", "O1", HANOI), "Invalid month"),
    (lambda s: s.review("O1", MONTH, "L1", HANOI, None, "E"), "must be one of"),
    (lambda s: s.review("O1", MONTH, "L1", HANOI, None, "HTTNV", True), "discipline_note"),
    (lambda s: s.review("O1", MONTH, "L1", HANOI, None, "HTTNV", "yes"), "true or false"),
])
def test_bad_input_is_refused_and_nothing_is_written(service, store, call, words):
    before = snapshot_of_tables(store)
    with pytest.raises(WorkflowError, match=words) as raised:
        call(service)
    assert type(raised.value) is WorkflowError  # a 422, not a conflict or a refusal
    assert snapshot_of_tables(store) == before


def test_unknown_officer_is_not_found(service):
    with pytest.raises(WorkflowNotFound):
        service.self_evaluate("NOBODY", MONTH, "NOBODY", HANOI)
    with pytest.raises(WorkflowNotFound):
        service.status("NOBODY", MONTH)
    with pytest.raises(WorkflowNotFound):
        service.unit_status("NOWHERE", MONTH)


# --- permissions through the service ----------------------------------------------------------

@pytest.mark.parametrize("actor", ["O2", "L1", "H1", "H0", "S", "GHOST"])
def test_only_the_officer_self_evaluates(service, actor):
    with pytest.raises(WorkflowForbidden):
        service.self_evaluate("O1", MONTH, actor, HANOI)


@pytest.mark.parametrize("officer, leader, head", [
    ("O1", "L1", "H1"),   # led by L1, decided by the ward's head
    ("O3", "H1", "H1"),   # no leader: the head reviews and decides
    ("L1", "H1", "H1"),   # the leader is led by the head
    ("O4", "L1", "H1"),   # an office without a head: the ward's head decides
    ("H1", "H0", "H0"),   # a head's own evaluation goes up to the city's head
])
def test_review_by_the_leader_and_decision_by_the_head_only(service, officer, leader, head):
    service.self_evaluate(officer, MONTH, officer, HANOI)
    others = {"O1", "O2", "L1", "H1", "H0", "H2", "S", officer} - {leader}
    for actor in sorted(others):
        with pytest.raises(WorkflowForbidden):
            service.review(officer, MONTH, actor, HANOI, None, "HTTNV")
    service.review(officer, MONTH, leader, HANOI, None, "HTTNV")
    for actor in sorted({"O1", "L1", "H1", "H0", "H2", "S", officer} - {head}):
        with pytest.raises(WorkflowForbidden):
            service.decide(officer, MONTH, actor, "HTTNV")
    assert service.decide(officer, MONTH, head, "HTTNV")["decision"]["by"] == head


def test_a_head_cannot_decide_their_own_month(service):
    service.self_evaluate("H1", MONTH, "H1", HANOI)
    service.review("H1", MONTH, "H0", HANOI, None, "HTXSNV")
    with pytest.raises(WorkflowForbidden, match="Nobody decides their own grade"):
        service.decide("H1", MONTH, "H1", "HTXSNV")


def test_the_top_head_has_nobody_to_decide(service):
    service.self_evaluate("H0", MONTH, "H0", HANOI)
    with pytest.raises(WorkflowForbidden, match="no direct leader"):
        service.review("H0", MONTH, "H0", HANOI, None, "HTTNV")


def test_the_top_head_is_evaluated_outside_hailong_and_never_late(service, day):
    """H0 heads the top unit: nobody in hailong reviews or decides them, so they wait for "no
    one responsible" nowhere and are not counted late (issue 12); the others still are."""
    day.day = date(2026, 4, 20)  # every default due date (3, 5 and 7 April) is over
    own = service.status("H0", MONTH)
    assert (own["awaiting"], own["late_steps"]) == ([], [])
    assert [own[step]["late"] for step in ("self", "review", "decision")] == [False] * 3
    assert own["outside"] == {"vi": "ngoài hệ thống", "en": "evaluated outside hailong"}
    unit = service.unit_status("CITY", MONTH)
    rows = {row["officer_id"]: row for row in unit["officers"]}
    assert (rows["H0"]["late_steps"], rows["H0"]["outside"]) == ([], own["outside"])
    assert rows["O1"]["late_steps"] == ["self", "review", "decision"]
    assert rows["O1"]["outside"] is None and service.status("O1", MONTH)["outside"] is None
    # Every officer but H0 is late at every step: 8 of the 9.
    assert unit["late"] == {"self": 8, "review": 8, "decision": 8}


# --- reopening --------------------------------------------------------------------------------

def test_reopening_needs_the_head_and_a_reason_and_keeps_the_decision(service, store):
    full_month(service)
    for actor in ("O1", "L1", "H0", "H2"):
        with pytest.raises(WorkflowForbidden):
            service.reopen("O1", MONTH, actor, "Sai sót")
    for reason in ("", "   ", None):
        with pytest.raises(WorkflowError, match="reason"):
            service.reopen("O1", MONTH, "H1", reason)
    status = service.reopen("O1", MONTH, "H1", "Phát hiện sai sót về số hồ sơ")
    assert (status["stage"], status["locked"]) == ("reviewed", False)
    assert status["decision"] == {**status["decision"], "done": False, "final_grade": None,
                                  "final_score": None, "by": None, "at": None,
                                  "snapshot": None}
    reopen = status["history"][-1]
    assert reopen["step"] == "reopen" and reopen["data"]["reason"].startswith("Phát hiện")
    assert reopen["data"]["decision"]["final_grade"] == "HTTNV"
    assert reopen["data"]["decision"]["snapshot"]["suggestion"]["score"] == 21.0
    entry = audit.recent(store.db, 1)[0]
    assert (entry.action, entry.before_value["final_grade"]) == ("evaluation.reopen", "HTTNV")
    # Back to the review stage: the leader may change the review, the head decides again.
    service.review("O1", MONTH, "L1", {"discipline_ethics": 12, "bonus": 0}, None, "HTNV")
    again = service.decide("O1", MONTH, "H1", "HTNV", "Sau khi xem lại")
    assert again["decision"]["final_grade"] == "HTNV"
    assert [e["step"] for e in again["history"]] == ["self", "review", "decision", "reopen",
                                                     "review", "decision"]
    assert audit.verify(store.db).ok


# --- decision: evidence and snapshot ----------------------------------------------------------

def test_the_decision_freezes_what_the_evidence_source_returned(store, day):
    evidence = {"suggestion": {"score": 87.5, "grade": "HTTNV"},
                "satisfaction": {"total": 41, "share_satisfied": 0.95}}
    seen = []
    service = make_service(store, day, evidence_of=lambda o, m: seen.append((o, m)) or evidence)
    status = full_month(service)
    # The review reads it too (a reason may be due when an offline counter left few
    # ratings: rules/offline.py), the decision once more and freezes that.
    assert seen == [("O1", MONTH), ("O1", MONTH)]
    assert status["decision"]["final_score"] == 87.5
    assert status["decision"]["snapshot"] == evidence
    stored = store.db.execute("SELECT snapshot FROM evaluations").fetchone()[0]
    assert json.loads(stored) == evidence
    assert status["history"][-1]["data"]["snapshot_sha256"]


def test_without_a_source_the_score_is_the_engine_on_the_review(store, day):
    service = make_service(store, day, "decree-335")
    service.self_evaluate("O1", MONTH, "O1", DECREE)
    service.review("O1", MONTH, "L1", DECREE, None, "HTNV", True, "Khiển trách")
    status = service.decide("O1", MONTH, "H1", "KHTNV")
    expected = scoring.suggest(load_preset("decree-335"), None, None, DECREE, True)
    assert status["decision"]["final_score"] == expected.score == 25.5  # 7 + 7 + 6.5 + 5
    assert status["decision"]["snapshot"]["suggestion"]["grade"] == "KHTNV"  # disciplined


@pytest.mark.parametrize("evidence", [{"suggestion": None}, {}, {"suggestion": {"score": "x"}}])
def test_no_suggested_score_no_decision(store, day, evidence):
    service = make_service(store, day, evidence_of=lambda o, m: evidence)
    service.self_evaluate("O1", MONTH, "O1", HANOI)
    service.review("O1", MONTH, "L1", HANOI, None, "HTTNV")
    before = snapshot_of_tables(store)
    with pytest.raises(WorkflowConflict, match="No suggested score"):
        service.decide("O1", MONTH, "H1", "HTTNV")
    assert snapshot_of_tables(store) == before


def test_a_review_changed_while_deciding_is_not_decided_on(store, day, tmp_path):
    leader_store = Store(store.path)
    leader = make_service(leader_store, day)

    def evidence_of(officer, month):  # the leader edits the review meanwhile
        leader.review(officer, month, "L1", HANOI, "Sửa", "HTXSNV")
        return {"suggestion": {"score": 90.0}}

    service = make_service(store, day, evidence_of=evidence_of)
    service.self_evaluate("O1", MONTH, "O1", HANOI)
    service.review("O1", MONTH, "L1", HANOI, None, "HTTNV")
    try:
        with pytest.raises(WorkflowConflict, match="review changed"):
            service.decide("O1", MONTH, "H1", "HTTNV")
    finally:
        leader_store.close()
    assert service.status("O1", MONTH)["stage"] == "reviewed"


# --- quota ------------------------------------------------------------------------------------

def quota_unit(store, n, *, outstanding=False):
    """Unit Q under CITY, head HQ, officers Q1..Qn led by HQ."""
    upsert_unit(store.db, "Q", "Phường Q", "CITY", outstanding=outstanding)
    upsert_officer(store.db, "HQ", "Thủ trưởng Q", "Chủ tịch", "Q")
    for i in range(1, n + 1):
        upsert_officer(store.db, f"Q{i}", f"Cán bộ Q{i}", "Chuyên viên", "Q")
    upsert_unit(store.db, "Q", "Phường Q", "CITY", head_id="HQ", outstanding=outstanding)


def grade_q(service, preset, decided, proposed, head=None):
    """Q2.. get `decided` grades (reviewed and decided, acknowledging where needed), then
    `proposed` ones (reviewed only); HQ is reviewed (by H0) with `head` and, if it is given,
    decided; Q1 is reviewed proposing the top grade. Returns nothing: the tests read the
    decision of Q1."""
    scores = HANOI if preset == "hanoi-3814" else DECREE
    if head is not None:
        service.review("HQ", MONTH, "H0", scores, None, head)
        service.decide("HQ", MONTH, "H0", head)
    for i, grade in enumerate(decided, start=2):
        service.review(f"Q{i}", MONTH, "HQ", scores, None, grade)
        service.decide(f"Q{i}", MONTH, "HQ", grade, acknowledge_quota=True)
    for i, grade in enumerate(proposed, start=2 + len(decided)):
        service.review(f"Q{i}", MONTH, "HQ", scores, None, grade)
    service.review("Q1", MONTH, "HQ", scores, None, "HTXSNV")


# (preset, outstanding, the others' decided grades, the others' proposed (undecided) grades,
#  HQ's decided grade (None: undecided), Q1's final grade,
#  expected (rated, base, cap, counted with the capped grade, refused)).
# Issue 12: a decision is refused only when the capped grades already decided plus this one
# exceed the cap that the colleagues not decided yet could at best raise it to; a proposal binds
# nobody until decided, so an undecided colleague counts at the best case (HTTNV).
QUOTA_CASES = [
    # hanoi-3814: A ≤ floor(30 % × everyone rated); everyone counts, so the cap is fixed.
    ("hanoi-3814", False, [], [], None, "HTXSNV", (2, 2, 0, 1, True)),  # floor(0.6) = 0
    ("hanoi-3814", False, [], [], None, "HTTNV", (2, 2, 0, 0, False)),
    ("hanoi-3814", False, ["HTXSNV"] * 2 + ["HTTNV"] * 6, [], "HTTNV", "HTXSNV",
     (10, 10, 3, 3, False)),                                       # the third A: at the cap
    ("hanoi-3814", False, ["HTXSNV"] * 3 + ["HTTNV"] * 5, [], "HTTNV", "HTXSNV",
     (10, 10, 3, 4, True)),                                        # the fourth: one over
    ("hanoi-3814", True, ["HTXSNV"] * 3 + ["HTTNV"] * 5, [], "HTTNV", "HTXSNV",
     (10, 10, 4, 4, False)),                                       # outstanding: 40 %
    # Three colleagues proposed A but not decided: the head may still grade them B.
    ("hanoi-3814", False, [], ["HTXSNV"] * 3 + ["HTTNV"] * 5, None, "HTXSNV",
     (10, 10, 3, 1, False)),
    # decree-335: excellent ≤ floor(20 % × those rated good).
    ("decree-335", False, [], [], None, "HTXSNV", (2, 1, 0, 1, True)),  # HQ at best good
    ("decree-335", False, ["HTTNV"] * 4, [], "HTTNV", "HTXSNV", (6, 5, 1, 1, False)),
    ("decree-335", False, ["HTTNV"] * 4 + ["HTXSNV"], [], "HTTNV", "HTXSNV",
     (7, 5, 1, 2, True)),                                          # one over
    # Proposals bind nobody: the 5 undecided and HQ count as good, floor(0.2 × 6) = 1.
    ("decree-335", False, [], ["HTTNV"] * 4 + ["HTXSNV"], None, "HTXSNV",
     (7, 6, 1, 1, False)),
    # Decided "completed" grades cannot raise the base: only HQ (undecided) can, floor(0.2).
    ("decree-335", False, ["HTNV"] * 4, [], None, "HTXSNV", (6, 1, 0, 1, True)),
]


@pytest.mark.parametrize("preset, outstanding, decided, proposed, head, final, expected",
                         QUOTA_CASES)
def test_quota_at_its_edges(store, day, preset, outstanding, decided, proposed, head, final,
                            expected):
    day.day = AFTER_SELF_DUE  # reviews without self-evaluations, to keep the test short
    quota_unit(store, len(decided) + len(proposed) + 1, outstanding=outstanding)
    service = make_service(store, day, preset)
    before = service.unit_status("Q", MONTH)["quota"]
    # Nobody graded: everyone counts as the best case (HTTNV), which never exceeds the cap.
    assert (before["pending"], before["provisional"], before["exceeded"]) == (
        len(decided) + len(proposed) + 2, True, False)
    grade_q(service, preset, decided, proposed, head)
    rated, base, cap, counted, refused_ = expected
    if refused_:
        tables = snapshot_of_tables(store)
        with pytest.raises(QuotaNotAcknowledged) as refused:
            service.decide("Q1", MONTH, "HQ", final)
        check = refused.value.quota
        assert (check.rated, check.base, check.cap, check.proposed) == (rated, base, cap,
                                                                       counted)
        assert "Warning" in str(refused.value) and "Cảnh báo" in str(refused.value)
        assert snapshot_of_tables(store) == tables
    status = service.decide("Q1", MONTH, "HQ", final, acknowledge_quota=refused_)
    quota = status["quota"]
    assert (quota["rated"], quota["base"], quota["cap"], quota["proposed"],
            quota["refuses"]) == expected
    undecided = len(proposed) + (head is None)
    assert (quota["pending"], quota["provisional"]) == (undecided, undecided > 0)
    recorded = status["history"][-1]["data"]
    assert recorded["quota"] == quota and recorded["acknowledged_quota"] is refused_
    assert recorded["quota_unit"] == "Q"
    assert audit.recent(store.db, 1)[0].after_value["quota"] == quota


def quota_acknowledgements(store):
    """officer → acknowledged_quota, from the audit log's decisions."""
    return {e.subject.split(":")[1].split("/")[0]: e.after_value["acknowledged_quota"]
            for e in reversed(audit.recent(store.db, None)) if e.action == "evaluation.decide"}


def test_hanoi_over_the_cap_only_the_excess_a_needs_acknowledging(store, day):
    """Issue 12, worked example (hanoi-3814): HQ and Q1..Q9, cap floor(30 % × 10) = 3 A.
    The leader proposes A for Q1..Q5 (5 > 3: the unit's line warns), B for Q6, Q7 and HQ, C
    for Q8, D for Q9. B, C and D cannot raise the count of A: decided without acknowledgement
    and none recorded. Q1..Q3's A are within the cap; Q4's would be the fourth decided A
    whatever the rest get: refused until acknowledged. Q5 then decided B passes as is."""
    day.day = AFTER_SELF_DUE
    quota_unit(store, 9)
    service = make_service(store, day, "hanoi-3814")
    proposals = {"Q1": "A", "Q2": "A", "Q3": "A", "Q4": "A", "Q5": "A", "Q6": "B", "Q7": "B",
                 "Q8": "C", "Q9": "D"}
    for officer, grade in proposals.items():
        service.review(officer, MONTH, "HQ", HANOI, None, grade)
    service.review("HQ", MONTH, "H0", HANOI, None, "B")
    standing = service.unit_status("Q", MONTH)["quota"]
    assert (standing["rated"], standing["cap"], standing["proposed"], standing["over_by"]) == (
        10, 3, 5, 2)
    assert standing["vi"].startswith("Cảnh báo: vượt tỷ lệ 2 người. 5 đề xuất «")
    for officer, grade in (("Q6", "B"), ("Q7", "B"), ("Q8", "C"), ("Q9", "D")):
        quota = service.decide(officer, MONTH, "HQ", grade)["quota"]
        assert (quota["proposed"], quota["cap"], quota["refuses"]) == (0, 3, False)
    for count, officer in enumerate(("Q1", "Q2", "Q3"), start=1):
        quota = service.decide(officer, MONTH, "HQ", "A")["quota"]
        assert (quota["proposed"], quota["cap"], quota["exceeded"]) == (count, 3, False)
    tables = snapshot_of_tables(store)
    with pytest.raises(QuotaNotAcknowledged) as refused:
        service.decide("Q4", MONTH, "HQ", "A")
    check = refused.value.quota
    assert (check.rated, check.base, check.cap, check.proposed, check.decided, check.over_by,
            check.pending) == (10, 10, 3, 4, 4, 1, 2)
    assert str(refused.value.vi).startswith(
        "Cảnh báo: vượt tỷ lệ 1 người. 4 đã quyết định «Hoàn thành xuất sắc nhiệm vụ»; "
        "tối đa 30 % × 10 (số được đánh giá) = 3 (làm tròn xuống)")
    assert "acknowledge_quota" not in refused.value.vi
    assert "Đánh dấu «Tôi đã xem cảnh báo về tỷ lệ và vẫn quyết định»" in refused.value.vi
    assert "acknowledge_quota" in refused.value.en
    assert snapshot_of_tables(store) == tables
    service.decide("Q4", MONTH, "HQ", "A", acknowledge_quota=True)
    service.decide("Q5", MONTH, "HQ", "B")  # 4 A decided already: a B raises nothing
    assert quota_acknowledgements(store) == {
        "Q6": False, "Q7": False, "Q8": False, "Q9": False, "Q1": False, "Q2": False,
        "Q3": False, "Q4": True, "Q5": False}
    # The unit's line now speaks of decisions: 4 decided A over a cap of 3.
    standing = service.unit_status("Q", MONTH)["quota"]
    assert (standing["proposed"], standing["decided"], standing["over_by"]) == (4, 4, 1)
    assert "4 đã quyết định «Hoàn thành xuất sắc nhiệm vụ»" in standing["vi"]
    assert "4 decided “Excellent" in standing["en"] and "proposed" not in standing["en"]


def test_an_acknowledgement_sent_where_none_is_needed_is_not_recorded(store, day):
    day.day = AFTER_SELF_DUE
    quota_unit(store, 2)
    service = make_service(store, day, "hanoi-3814")
    service.review("Q1", MONTH, "HQ", HANOI, None, "A")
    status = service.decide("Q1", MONTH, "HQ", "B", acknowledge_quota=True)
    assert status["history"][-1]["data"]["acknowledged_quota"] is False
    assert quota_acknowledgements(store) == {"Q1": False}


def test_decree_335_over_the_cap_only_the_excess_excellent_needs_acknowledging(store, day):
    """Issue 12, worked example (decree-335): HQ and Q1..Q9. Proposed: excellent for Q1..Q3,
    good for Q4..Q7 and HQ, completed for Q8, not completed for Q9 — floor(20 % × 5 good) = 1
    excellent, 3 proposed: the unit's line warns. HTTNV, HTNV and KHTNV pass without
    acknowledgement. Q1's excellent: 1 decided; the base is Q4 (decided good) and the 6
    undecided (Q2, Q3, Q5, Q6, Q7, HQ) at best good = 7, floor(1.4) = 1: within. Q2's: 2
    decided; base 1 + 5 undecided = 6, floor(1.2) = 1: refused until acknowledged."""
    day.day = AFTER_SELF_DUE
    quota_unit(store, 9)
    service = make_service(store, day, "decree-335")
    proposals = {"Q1": "HTXSNV", "Q2": "HTXSNV", "Q3": "HTXSNV", "Q4": "HTTNV",
                 "Q5": "HTTNV", "Q6": "HTTNV", "Q7": "HTTNV", "Q8": "HTNV", "Q9": "KHTNV"}
    for officer, grade in proposals.items():
        service.review(officer, MONTH, "HQ", DECREE, None, grade)
    service.review("HQ", MONTH, "H0", DECREE, None, "HTTNV")
    standing = service.unit_status("Q", MONTH)["quota"]
    assert (standing["base"], standing["cap"], standing["proposed"], standing["over_by"]) == (
        5, 1, 3, 2)
    for officer in ("Q4", "Q8", "Q9"):
        quota = service.decide(officer, MONTH, "HQ", proposals[officer])["quota"]
        assert quota["refuses"] is False
    quota = service.decide("Q1", MONTH, "HQ", "HTXSNV")["quota"]
    assert (quota["base"], quota["cap"], quota["proposed"], quota["pending"],
            quota["exceeded"]) == (7, 1, 1, 6, False)
    with pytest.raises(QuotaNotAcknowledged) as refused:
        service.decide("Q2", MONTH, "HQ", "HTXSNV")
    check = refused.value.quota
    assert (check.base, check.cap, check.proposed, check.over_by, check.pending) == (
        6, 1, 2, 1, 5)
    assert "5 người chưa được quyết định" in refused.value.vi
    service.decide("Q2", MONTH, "HQ", "HTXSNV", acknowledge_quota=True)
    assert quota_acknowledgements(store) == {"Q4": False, "Q8": False, "Q9": False,
                                             "Q1": False, "Q2": True}


def test_the_first_top_grade_is_not_refused_because_others_are_not_graded_yet(store, day):
    """Reviewer item 7: 6 officers in Q (HQ, Q1..Q5), hanoi-3814 allows floor(0.3 × 6) = 1
    A. Counting only those graded (1 of 1), the first A was refused as over a cap of 0."""
    day.day = AFTER_SELF_DUE
    quota_unit(store, 5)
    service = make_service(store, day, "hanoi-3814")
    service.review("Q1", MONTH, "HQ", HANOI, None, "HTXSNV")
    quota = service.decide("Q1", MONTH, "HQ", "HTXSNV")["quota"]
    assert (quota["rated"], quota["base"], quota["cap"], quota["proposed"],
            quota["exceeded"]) == (6, 6, 1, 1, False)
    assert (quota["pending"], quota["provisional"]) == (5, True)
    assert "5 người chưa được quyết định" in quota["note_vi"] and "Tạm tính" in quota["vi"]
    assert "5 not decided yet" in quota["note_en"] and "Provisional" in quota["en"]
    # A second A is over the cap whatever the 4 still undecided get: refused.
    service.review("Q2", MONTH, "HQ", HANOI, None, "HTXSNV")
    tables = snapshot_of_tables(store)
    with pytest.raises(QuotaNotAcknowledged) as refused:
        service.decide("Q2", MONTH, "HQ", "HTXSNV")
    assert (refused.value.quota.cap, refused.value.quota.proposed,
            refused.value.quota.pending) == (1, 2, 4)
    assert "Provisional" in str(refused.value) and "Tạm tính" in str(refused.value)
    assert snapshot_of_tables(store) == tables
    # Once everyone is graded the unit's line is final: no note.
    for officer in ("Q3", "Q4", "Q5"):
        service.review(officer, MONTH, "HQ", HANOI, None, "HTTNV")
    service.review("HQ", MONTH, "H0", HANOI, None, "HTTNV")
    final = service.unit_status("Q", MONTH)["quota"]
    assert (final["pending"], final["provisional"], final["note_en"]) == (0, False, None)
    assert (final["rated"], final["proposed"], final["decided"], final["exceeded"]) == (
        6, 2, 1, True)
    assert "1 đã quyết định và 1 đề xuất «" in final["vi"]
    assert "1 decided and 1 proposed “" in final["en"]


@pytest.mark.parametrize("fair, allowed, base", [
    (0, True, 5),   # the 5 others undecided: at best all good, floor(0.2 × 5) = 1 excellent
    (4, False, 1),  # 4 decided fair, HQ undecided: at best 1 good, floor(0.2 × 1) = 0
])
def test_decree_335_excellent_with_officers_pending(store, day, fair, allowed, base):
    day.day = AFTER_SELF_DUE
    quota_unit(store, 5)
    service = make_service(store, day, "decree-335")
    for i in range(2, 2 + fair):
        service.review(f"Q{i}", MONTH, "HQ", DECREE, None, "HTNV")
        service.decide(f"Q{i}", MONTH, "HQ", "HTNV")
    service.review("Q1", MONTH, "HQ", DECREE, None, "HTXSNV")
    if allowed:
        quota = service.decide("Q1", MONTH, "HQ", "HTXSNV")["quota"]
    else:
        with pytest.raises(QuotaNotAcknowledged) as refused:
            service.decide("Q1", MONTH, "HQ", "HTXSNV")
        quota = asdict(refused.value.quota)
    assert (quota["base"], quota["exceeded"], quota["pending"]) == (base, not allowed,
                                                                    5 - fair)
    assert quota["provisional"] is True


def test_a_heads_decision_counts_in_the_unit_above(service, store, day):
    day.day = AFTER_SELF_DUE
    service.review("H1", MONTH, "H0", HANOI, None, "HTXSNV")
    status = service.decide("H1", MONTH, "H0", "HTXSNV", acknowledge_quota=True)
    assert status["history"][-1]["data"]["quota_unit"] == "CITY"
    service.review("O1", MONTH, "L1", HANOI, None, "HTTNV")
    service.review("O4", MONTH, "L1", HANOI, None, "HTTNV")  # in F1, below W1: counted in W1
    quota = service.unit_status("W1", MONTH)["quota"]
    assert (quota["rated"], quota["pending"]) == (6, 3)  # H1 sits in W1 too
    # The head's own A (decided above) counts against the unit's cap, floor(0.3 × 6) = 1:
    # a second A in W1 is one over.
    service.review("O1", MONTH, "L1", HANOI, None, "HTXSNV")
    with pytest.raises(QuotaNotAcknowledged):
        service.decide("O1", MONTH, "H1", "HTXSNV")
    quota = service.decide("O1", MONTH, "H1", "HTXSNV", acknowledge_quota=True)["quota"]
    assert (quota["rated"], quota["proposed"], quota["cap"]) == (6, 2, 1)


# --- lateness and the calendar ----------------------------------------------------------------

@pytest.mark.parametrize("today, late_steps", [
    (date(2026, 4, 3), []),                                  # due days are still on time
    (date(2026, 4, 4), ["self"]),
    (date(2026, 4, 6), ["self", "review"]),
    (date(2026, 4, 8), ["self", "review", "decision"]),
])
def test_lateness_by_the_default_due_dates(service, day, today, late_steps):
    day.day = today
    status = service.status("O1", MONTH)
    assert status["late_steps"] == late_steps
    assert [status[s]["late"] for s in ("self", "review", "decision")] == [
        s in late_steps for s in ("self", "review", "decision")]
    assert (status["self"]["due"], status["review"]["due"], status["decision"]["due"]) == (
        "2026-04-03", "2026-04-05", "2026-04-07")


def test_unit_status_says_who_is_late_at_which_step(service, store, day):
    service.self_evaluate("O1", MONTH, "O1", HANOI)
    service.self_evaluate("O2", MONTH, "O2", HANOI)
    service.review("O2", MONTH, "L1", HANOI, None, "HTTNV")
    day.day = date(2026, 4, 6)
    service.review("O3", MONTH, "H1", HANOI, None, "HTNV")  # without a self-evaluation
    unit = service.unit_status("W1", MONTH)
    rows = {o["officer_id"]: o for o in unit["officers"]}
    assert sorted(rows) == ["H1", "L1", "O1", "O2", "O3", "O4"]  # F1's O4 included
    assert rows["O1"]["late_steps"] == ["review"]
    assert rows["O1"]["awaiting"] == [{"step": "review", "by": "L1"}]
    assert rows["O2"]["late_steps"] == [] and rows["O2"]["awaiting"] == [
        {"step": "decision", "by": "H1"}]
    assert rows["O3"]["self_skipped"] and rows["O3"]["late_steps"] == []
    assert rows["O4"]["late_steps"] == ["self", "review"]
    assert rows["H1"]["awaiting"] == [{"step": "self", "by": "H1"},
                                      {"step": "review", "by": "H0"}]
    assert unit["stages"] == {"not_started": 3, "self_done": 1, "reviewed": 2, "decided": 0}
    assert unit["late"] == {"self": 3, "review": 4, "decision": 0}
    assert (unit["quota"]["rated"], unit["quota"]["pending"]) == (6, 4)  # 2 graded, 4 not


def test_a_months_own_dates_are_set_by_the_top_head_and_audited(service, store, day):
    for actor in ("H1", "O1", "GHOST"):
        with pytest.raises(WorkflowForbidden):
            service.set_calendar(MONTH, actor, "2026-04-06", "2026-04-08", "2026-04-10")
    for dates, words in [(("2026-04-08", "2026-04-06", "2026-04-10"), "step order"),
                         (("2026-03-20", "2026-04-06", "2026-04-10"), "before it opens"),
                         (("2026-04-06", "2026-04-08", "2027-05-01"), "cannot be after"),
                         (("6/4/2026", "2026-04-08", "2026-04-10"), "YYYY-MM-DD"),
                         (("2026-03-28", "2026-03-31", "2026-04-10"),
                          "review_due: .*cannot be due before 2026-04-01")]:
        with pytest.raises(WorkflowError, match=words):
            service.set_calendar(MONTH, "H0", *dates)
    calendar = service.set_calendar(MONTH, "H0", "2026-04-06", "2026-04-08", "2026-04-10")
    assert (calendar["source"], calendar["set_by"]) == ("set", "H0")
    day.day = date(2026, 4, 6)
    assert service.status("O1", MONTH)["late_steps"] == []  # was self and review by default
    with pytest.raises(WorkflowConflict):  # the self-evaluation is now due on the 6th
        service.review("O1", MONTH, "L1", HANOI, None, "HTNV")
    day.day = date(2026, 4, 7)
    assert service.review("O1", MONTH, "L1", HANOI, None, "HTNV")["review"]["self_missing"]
    service.set_calendar(MONTH, "H0", "2026-04-07", "2026-04-09", "2026-04-11")
    entries = [e for e in audit.recent(store.db, None) if e.action == "calendar.set"]
    assert [e.subject for e in entries] == ["calendar:2026-03"] * 2
    assert entries[0].before_value == {"self_due": "2026-04-06", "review_due": "2026-04-08",
                                       "decision_due": "2026-04-10"}
    assert entries[-1].before_value is None
    assert audit.verify(store.db).ok


# --- crashes ----------------------------------------------------------------------------------

@pytest.mark.parametrize("step", ["self", "review", "decide", "reopen", "calendar"])
def test_a_crash_mid_step_leaves_nothing_half_written(service, store, day, monkeypatch, step):
    day.day = AFTER_SELF_DUE
    if step in ("decide", "reopen"):
        service.review("O1", MONTH, "L1", HANOI, None, "HTTNV")
    if step == "reopen":
        service.decide("O1", MONTH, "H1", "HTTNV")
    before = snapshot_of_tables(store)

    def crash(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(audit, "append", crash)
    calls = {"self": lambda: service.self_evaluate("O1", MONTH, "O1", HANOI),
             "review": lambda: service.review("O1", MONTH, "L1", HANOI, None, "HTNV"),
             "decide": lambda: service.decide("O1", MONTH, "H1", "HTTNV"),
             "reopen": lambda: service.reopen("O1", MONTH, "H1", "Sai"),
             "calendar": lambda: service.set_calendar(MONTH, "H0", "2026-04-06",
                                                      "2026-04-08", "2026-04-10")}
    with pytest.raises(RuntimeError, match="disk full"):
        calls[step]()
    assert not store.db.conn.in_transaction
    assert snapshot_of_tables(store) == before
    monkeypatch.undo()
    assert audit.verify(store.db).ok


# --- command line -----------------------------------------------------------------------------

def test_the_command_line_prints_who_is_late(service, store, capsys, monkeypatch):
    import argparse

    from collector.cli import evaluation as cli_evaluation
    from collector.cli.common import UsageError

    service.self_evaluate("O1", MONTH, "O1", HANOI)
    monkeypatch.setattr(cli_evaluation, "local_today", lambda: date(2026, 4, 6))
    parser = argparse.ArgumentParser()
    cli_evaluation.add_workflow_commands(parser.add_subparsers(dest="command"))

    def run(*argv):
        args = parser.parse_args(["evaluation", "status", "--db", str(store.path), *argv])
        return args.handler(args)

    assert run("--unit", "W1", "--month", MONTH, "--json") == 0
    printed = json.loads(capsys.readouterr().out)
    assert {o["officer_id"]: o["late_steps"] for o in printed["officers"]}["O1"] == ["review"]
    assert run("--unit", "F1", "--month", MONTH) == 0
    out = capsys.readouterr().out
    assert "O4 Cán bộ O4" in out and "tự đánh giá, nhận xét của lãnh đạo" in out
    with pytest.raises(UsageError, match="No unit 'NOWHERE'"):
        run("--unit", "NOWHERE", "--month", MONTH)
