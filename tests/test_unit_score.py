"""Decree 335/2025's unit score for leaders: part of the task results follow the people led.

The rule (decree-335.toml `[unit_score]`): half of the 70 task-result points (35) follow the
leader's own tasks, half (35) the unit — 100 % of them when every person the leader directly
leads is graded at least "completed" (HTNV), 50 % when any is "not completed" (KHTNV). The
grade that stands for each person is the head's decision, else the leader's proposal.

The world (March 2026, evaluated on 10 April 2026):

- units: q (district, head C) ⊃ w (ward, head H) ⊃ w-1 (one-stop section, head D);
- H leads D (no leader of record: w-1's head is D, so the head above, H), S1 and S2 (leader of
  record H) and S3 (no leader of record, in w: H as the responsible head) — four people;
- S2 led X, who left on 28 February: S2 leads nobody in March; D leads P1 (w-1, no leader);
- C leads H (the head over H's own unit).
- H's own tasks: two of weight 1, both completed on time without errors; S2 has one such task.
"""

from __future__ import annotations

import json
import math
import re

import pytest
from fastapi.testclient import TestClient

from accounts_support import PASSWORD, admin_headers, as_officer
from collector.api import month as api_month
from collector.app import create_app
from collector.core.settings import Settings
from collector.db import audit
from collector.db.reader import open_reader
from collector.db.store import Store
from collector.evaluation import month as monthly
from collector.evaluation import scoring, sources
from collector.evaluation.month_view import unit_score_part
from collector.evaluation.policy import load_preset
from collector.evaluation.rules.leadership import Subordinate, UnitScoreRule, unit_result
from collector.evaluation.tasks import TaskService
from collector.evaluation.workflow.status import (
    ACKNOWLEDGE_UNIT_VI,
    UnitNotAcknowledged,
    WorkflowError,
)
from collector.evaluation.workflow.steps import WorkflowService
from collector.org.organisation import led_by, upsert_officer, upsert_unit
from test_monthly import MONTH, NOW, TODAY, at, evaluate

DECREE = load_preset("decree-335")
HANOI = load_preset("hanoi-3814")
RULE = DECREE.unit_score
FULL = {"politics_ethics": 7.5, "discipline": 7.5, "service_attitude": 7.5, "innovation": 7.5}
NAMES = {"C": "Hoàng Minh Châu", "H": "Ngô Thị Hạnh", "D": "Nguyễn Văn An",
         "S1": "Trần Thị Bình", "S2": "Lê Văn Cường", "S3": "Phạm Thị Dung",
         "X": "Vũ Văn Em", "P1": "Đỗ Thị Giang"}


# --- the pure rule ---------------------------------------------------------------------------

def people(*grades: str | None, decided: bool = True) -> tuple[Subordinate, ...]:
    return tuple(Subordinate(f"O{i}", f"Người {i}", grade, decided and grade is not None)
                 for i, grade in enumerate(grades, 1))


@pytest.mark.parametrize("grades, share, not_completed, ungraded, provisional", [
    # every one at least completed: 100 %
    (("HTXSNV", "HTTNV", "HTNV"), 1.0, 0, 0, False),
    # any one not completed: 50 %
    (("HTTNV", "HTTNV", "HTTNV", "KHTNV"), 0.5, 1, 0, False),
    (("KHTNV", "KHTNV"), 0.5, 2, 0, False),
    # someone not graded yet: the share of those graded, provisional (it may still fall)
    (("HTTNV", None, "HTNV"), 1.0, 0, 1, True),
    ((None, None), 1.0, 0, 2, True),
    # ... unless a graded one is already not completed: 50 % is certain, not provisional
    (("KHTNV", None), 0.5, 1, 1, False),
])
def test_unit_share(grades, share, not_completed, ungraded, provisional):
    result = unit_result(RULE, people(*grades))
    assert result.share == share
    assert len(result.not_completed) == not_completed
    assert len(result.ungraded) == ungraded
    assert len(result.subordinates) == len(grades)
    assert result.provisional is provisional
    assert result.certain is (not_completed > 0 and ungraded > 0)


def test_no_subordinates_is_no_unit_result():
    assert unit_result(RULE, ()) is None


def test_the_policy_names_the_grades_that_count_as_not_completed():
    strict = UnitScoreRule(criterion="task_results", weight=0.5, all_completed=1.0,
                           any_not_completed=0.25, not_completed=("HTNV", "KHTNV"))
    assert unit_result(strict, people("HTTNV", "HTNV")).share == 0.25
    assert unit_result(RULE, people("HTTNV", "HTNV")).share == 1.0


def standing_of(*grades: tuple[str | None, bool]) -> tuple[Subordinate, ...]:
    """People led, each (grade standing for them, decided by the head?)."""
    return tuple(Subordinate(f"O{i}", f"Người {i}", grade, decided)
                 for i, (grade, decided) in enumerate(grades, 1))


@pytest.mark.parametrize("grades, share, provisional, certain", [
    # The reviewer's case: a proposed "not completed" beside someone not graded. The head may
    # still decide another grade for the first, so the 50 % is not certain: provisional.
    ((("KHTNV", False), (None, False)), 0.5, True, False),
    # A decided "not completed": 50 % whatever the others are decided.
    ((("KHTNV", True), (None, False)), 0.5, False, True),
    ((("KHTNV", True), ("HTTNV", False)), 0.5, False, True),
    # Every grade only proposed: provisional although everyone is graded.
    ((("HTNV", False), ("HTTNV", False)), 1.0, True, False),
    ((("KHTNV", False), ("HTTNV", True)), 0.5, True, False),
    # Every grade decided: final, neither provisional nor certain-before-the-end.
    ((("KHTNV", True), ("HTTNV", True)), 0.5, False, False),
    ((("HTNV", True), ("HTTNV", True)), 1.0, False, False),
])
def test_only_decided_grades_make_the_unit_part_final(grades, share, provisional, certain):
    result = unit_result(RULE, standing_of(*grades))
    assert (result.share, result.provisional, result.certain) == (share, provisional, certain)
    assert [p.officer_id for p in result.undecided] == [
        f"O{i}" for i, (_, decided) in enumerate(grades, 1) if not decided]


def test_a_provisional_unit_part_names_who_awaits_the_heads_decision():
    # Nguyễn Văn A proposed "not completed", Trần Thị B not graded: 50 % × 35 = 17.5 for now.
    unit = scoring.UnitEvidence((Subordinate("A", "Nguyễn Văn A", "KHTNV", False),
                                 Subordinate("B", "Trần Thị B", None, False)))
    line = [line for line in scoring.suggest(DECREE, None, ON_TIME, FULL, unit=unit).lines
            if line.vi.startswith("Kết quả đơn vị")][0]
    assert (line.points, line.vi, line.en) == (
        17.5,
        "Kết quả đơn vị (tạm tính): 0/2 người do mình phụ trách hoàn thành nhiệm vụ trở lên, "
        "1 không hoàn thành (Nguyễn Văn A – đề xuất), 1 chưa được xếp loại (Trần Thị B) "
        "→ 50 % × 35 = 17,5 điểm; còn chờ quyết định đối với 2 người (Nguyễn Văn A – đề xuất, "
        "Trần Thị B): điểm này có thể thay đổi",
        "Unit result (provisional): 0 of 2 people led at least completed their tasks, "
        "1 not completed (Nguyễn Văn A – proposed), 1 not graded yet (Trần Thị B) "
        "→ 50% × 35 = 17.5 points; awaiting the decision on 2 people (Nguyễn Văn A – "
        "proposed, Trần Thị B): these points may change")
    part = unit_score_part(DECREE, unit)
    assert (part["provisional"], part["certain"], part["undecided"]) == (True, False, 2)
    assert part["awaiting"] == {
        "vi": "Kết quả đơn vị của cán bộ này còn tạm tính: chờ quyết định đối với 2 người "
              "(Nguyễn Văn A, Trần Thị B)",
        "en": "This officer's unit result is still provisional: awaiting the decision on "
              "2 people (Nguyễn Văn A, Trần Thị B)"}


def test_a_decided_not_completed_makes_half_certain_beside_a_proposal():
    unit = scoring.UnitEvidence((Subordinate("A", "Nguyễn Văn A", "KHTNV", True),
                                 Subordinate("B", "Trần Thị B", "HTTNV", False)))
    line = [line for line in scoring.suggest(DECREE, None, ON_TIME, FULL, unit=unit).lines
            if line.vi.startswith("Kết quả đơn vị")][0]
    assert (line.points, line.vi, line.en) == (
        17.5,
        "Kết quả đơn vị: 1/2 người do mình phụ trách hoàn thành nhiệm vụ trở lên, "
        "1 không hoàn thành (Nguyễn Văn A) → 50 % × 35 = 17,5 điểm; mức 50 % đã chắc chắn "
        "dù còn chờ quyết định đối với 1 người (Trần Thị B – đề xuất)",
        "Unit result: 1 of 2 people led at least completed their tasks, 1 not completed "
        "(Nguyễn Văn A) → 50% × 35 = 17.5 points; 50% is certain, although still awaiting "
        "the decision on 1 person (Trần Thị B – proposed)")
    part = unit_score_part(DECREE, unit)
    assert (part["provisional"], part["certain"], part["undecided"], part["awaiting"]) == (
        False, True, 1, None)


# --- the scoring engine ----------------------------------------------------------------------

ON_TIME = scoring.TaskEvidence(tasks=(scoring.Task(1, True, title="a"),
                                      scoring.Task(1, True, title="b")))


def task_lines(result: scoring.Suggestion) -> list[scoring.Line]:
    return [line for line in result.lines if line.criterion == "task_results"]


def test_worked_example_eleven_of_twelve():
    # 12 people led, 11 at least completed, Nguyễn Văn A not completed (decided); own tasks
    # all complete on time at full quality: own 0.5 × 70 = 35; unit 50 % × 35 = 17.5;
    # task results 52.5; with the four general criteria at 7.5 the score is 82.5 (HTTNV).
    staff = tuple(Subordinate(f"O{i}", f"Người {i}", "HTTNV", True) for i in range(11))
    unit = scoring.UnitEvidence(staff + (Subordinate("A", "Nguyễn Văn A", "KHTNV", True),))
    result = scoring.suggest(DECREE, None, ON_TIME, FULL, unit=unit)
    assert result.criteria["task_results"] == 52.5
    assert result.score == 82.5 and result.grade == "HTTNV"
    lines = task_lines(result)
    assert math.isclose(sum(line.points for line in lines), 52.5)
    unit_line = [line for line in lines if line.vi.startswith("Kết quả đơn vị")]
    assert [(line.points, line.vi, line.en) for line in unit_line] == [(
        17.5,
        "Kết quả đơn vị: 11/12 người do mình phụ trách hoàn thành nhiệm vụ trở lên, "
        "1 không hoàn thành (Nguyễn Văn A) → 50 % × 35 = 17,5 điểm",
        "Unit result: 11 of 12 people led at least completed their tasks, 1 not completed "
        "(Nguyễn Văn A) → 50% × 35 = 17.5 points")]
    # The own-task lines are out of 35 (11.67 each for quantity, quality and progress).
    assert [line.points for line in lines if line.points and line is not unit_line[0]] == [
        11.67, 11.67, 11.67, -0.01]


def test_a_proposed_not_completed_grade_is_named_as_a_proposal():
    unit = scoring.UnitEvidence((Subordinate("A", "Nguyễn Văn A", "KHTNV", False),
                                 Subordinate("B", "Trần Thị B", "HTNV", True)))
    line = [line for line in scoring.suggest(DECREE, None, ON_TIME, FULL, unit=unit).lines
            if line.vi.startswith("Kết quả đơn vị")][0]
    assert "(Nguyễn Văn A – đề xuất)" in line.vi and "(Nguyễn Văn A – proposed)" in line.en


def test_without_tasks_of_their_own_a_leader_still_earns_the_unit_part():
    unit = scoring.UnitEvidence(people("HTNV", "HTTNV"))
    result = scoring.suggest(DECREE, None, None, FULL, unit=unit)
    assert result.criteria["task_results"] == 35.0  # 0 own + 100 % × 35
    assert math.isclose(sum(line.points for line in task_lines(result)), 35.0)


def test_unit_evidence_is_ignored_where_the_policy_has_no_unit_score():
    unit = scoring.UnitEvidence(people("KHTNV"))
    leader = {"discipline_ethics": 20, "bonus": 10}
    assert scoring.suggest(HANOI, None, ON_TIME, leader, unit=unit) == \
        scoring.suggest(HANOI, None, ON_TIME, leader)


def test_unit_evidence_as_a_plain_dict():
    unit = {"subordinates": [{"officer_id": "A", "name": "A", "grade": "KHTNV",
                              "decided": True}]}
    assert scoring.suggest(DECREE, None, ON_TIME, FULL, unit=unit).criteria[
        "task_results"] == 52.5


# --- the world -------------------------------------------------------------------------------

def build_unit_world(path) -> None:
    store = Store(path)
    try:
        db = store.db
        upsert_unit(db, "q", "UBND quận Ba Đình", None, kind="district")
        upsert_unit(db, "w", "UBND phường Ngọc Hà", "q", kind="ward")
        upsert_unit(db, "w-1", "Bộ phận Một cửa phường Ngọc Hà", "w", kind="one_stop")
        upsert_officer(db, "C", NAMES["C"], "Chủ tịch", "q")
        upsert_officer(db, "H", NAMES["H"], "Chủ tịch", "w")
        upsert_officer(db, "D", NAMES["D"], "Phó Chủ tịch", "w-1")
        upsert_officer(db, "S1", NAMES["S1"], "Công chức", "w", leader_id="H")
        upsert_officer(db, "S2", NAMES["S2"], "Công chức", "w", leader_id="H")
        upsert_officer(db, "S3", NAMES["S3"], "Công chức", "w")
        upsert_officer(db, "X", NAMES["X"], "Công chức", "w", leader_id="S2",
                       active_to="2026-02-28")
        upsert_officer(db, "P1", NAMES["P1"], "Công chức", "w-1")
        upsert_unit(db, "q", "UBND quận Ba Đình", None, kind="district", head_id="C")
        upsert_unit(db, "w", "UBND phường Ngọc Hà", "q", kind="ward", head_id="H")
        upsert_unit(db, "w-1", "Bộ phận Một cửa phường Ngọc Hà", "w", kind="one_stop",
                    head_id="D")
        service = TaskService(store, actor="test", clock=lambda: NOW, today=lambda: TODAY)
        for officer, by, tasks in (("H", "C", (("2026-03-10", "2026-03-09"),
                                               ("2026-03-20", "2026-03-20"))),
                                   ("S2", "H", (("2026-03-15", "2026-03-14"),))):
            for n, (deadline, done) in enumerate(tasks):
                task = service.create(officer, title=f"Nhiệm vụ {n + 1}", period="month",
                                      deadline=deadline, assigned_by=by)["id"]
                service.update(task, {"completed_on": done})
        # H reviewed by C: every general criterion at 7.5 (30 points).
        grade(store, "H", "HTTNV", by="C")
    finally:
        store.close()


def grade(store: Store, officer: str, proposed: str, final: str | None = None,
          by: str = "H") -> None:
    """A review proposing `proposed`, and the head's decision `final` if given."""
    columns = dict(review_scores=FULL, proposed_grade=proposed, reviewed_by=by,
                   reviewed_at=at(3, 9, month=4))
    if final:
        columns.update(final_grade=final, final_score=80.0, decided_by="C",
                       decided_at=at(5, 9, month=4))
    evaluate(store, officer, **columns)


def standing(store: Store, d: str = "KHTNV", s3: bool = True) -> None:
    """S1 and S2 decided HTTNV, S3 proposed HTTNV (unless `s3` is False: not graded), D decided
    `d`."""
    grade(store, "S1", "HTTNV", "HTTNV")
    grade(store, "S2", "HTTNV", "HTTNV")
    if s3:
        grade(store, "S3", "HTTNV")
    grade(store, "D", d, d)


@pytest.fixture
def world(tmp_path):
    path = tmp_path / "hailong.db"
    build_unit_world(path)
    store = Store(path)
    yield store
    store.close()


def month_of(db, officer: str, policy=DECREE) -> dict:
    return monthly.officer_month(db, officer, MONTH, policy, now_ms=NOW, today=TODAY)


def unit_lines(report: dict) -> list[dict]:
    return [line for line in report["suggestion"]["lines"]
            if line["vi"].startswith("Kết quả đơn vị")]


def test_subordinates_are_those_directly_led_in_the_period(world):
    led = sources.evidence_led(world.db, ["C", "H", "D", "S2", "S1"], "2026-03-01",
                               "2026-03-31")
    assert {leader: [row["id"] for row in rows] for leader, rows in led.items()} == {
        # By unit name then given name, in Vietnamese order ("Bộ phận…" before "UBND…").
        "C": ["H"], "H": ["D", "S1", "S2", "S3"], "D": ["P1"]}
    # X counts under S2 in February, when X was still active.
    assert [row["id"] for row in sources.evidence_led(
        world.db, ["S2"], "2026-02-01", "2026-02-28")["S2"]] == ["X"]


def test_the_bulk_read_agrees_with_the_organisation_in_one_query(seeded_db):
    db = open_reader(seeded_db)
    try:
        ids = [row[0] for row in db.execute("SELECT id FROM officers")]
        statements = []
        db.conn.set_trace_callback(statements.append)
        led = sources.evidence_led(db, ids, "0001-01-01", "9999-12-31")
        db.conn.set_trace_callback(None)
        # sqlite-utils wraps each query in a savepoint: count the queries themselves.
        queries = [sql for sql in statements if sql.lstrip().upper().startswith("WITH")]
        assert len(queries) == math.ceil(len(ids) / 500) == len(
            [sql for sql in statements if "FROM" in sql.upper()])
        for officer in ids:
            assert sorted(row["id"] for row in led.get(officer, [])) == \
                sorted(set(led_by(db, officer)) - {officer}), officer
        assert sum(len(rows) for rows in led.values()) > 0
    finally:
        db.conn.close()


def test_a_head_with_one_not_completed_earns_half_the_unit_part(world):
    standing(world)
    report = month_of(world.db, "H")
    # own 35 + 50 % × 35 = 17.5 → 52.5; score 30 + 52.5 = 82.5
    assert report["suggestion"]["criteria"]["task_results"] == 52.5
    assert report["suggestion"]["score"] == 82.5
    assert report["suggestion"]["grade"]["code"] == "HTTNV"
    task = [line for line in report["suggestion"]["lines"]
            if line["criterion"] == "task_results"]
    assert math.isclose(sum(line["points"] for line in task), 52.5)
    # Changed by the rule that only decisions are final: S3's grade is a proposal, so the
    # line says the 50 % (from D's decided "not completed") is certain while S3 is awaited.
    assert [line["vi"] for line in unit_lines(report)] == [
        "Kết quả đơn vị: 3/4 người do mình phụ trách hoàn thành nhiệm vụ trở lên, "
        "1 không hoàn thành (Nguyễn Văn An) → 50 % × 35 = 17,5 điểm; mức 50 % đã chắc chắn "
        "dù còn chờ quyết định đối với 1 người (Phạm Thị Dung – đề xuất)"]
    unit = report["unit_score"]
    assert (unit["share"], unit["points"], unit["max_points"], unit["provisional"],
            unit["certain"], unit["undecided"]) == (0.5, 17.5, 35.0, False, True, 1)
    assert (unit["total"], unit["completed"], unit["not_completed"], unit["ungraded"]) == (
        4, 3, 1, 0)
    assert [(s["officer_id"], s["name"], s["grade"]["code"], s["decided"])
            for s in unit["subordinates"]] == [
        ("D", "Nguyễn Văn An", "KHTNV", True), ("S1", "Trần Thị Bình", "HTTNV", True),
        ("S2", "Lê Văn Cường", "HTTNV", True), ("S3", "Phạm Thị Dung", "HTTNV", False)]
    # The block's lines are the suggestion's unit lines (the split, then the unit's result).
    assert unit["lines"][-1] == unit_lines(report)[0]
    # The evidence's own points carry the unit part too.
    assert report["evidence_points"]["criteria"]["task_results"] == 52.5


def test_a_head_whose_people_all_completed_earns_the_whole_criterion(world):
    standing(world, d="HTNV")
    report = month_of(world.db, "H")
    assert report["suggestion"]["criteria"]["task_results"] == 70.0  # 35 + 100 % × 35
    assert report["suggestion"]["score"] == 100.0
    assert report["unit_score"]["share"] == 1.0
    # Changed by the rule that only decisions are final: S3's HTTNV is a proposal, so the
    # 100 % is provisional until the head decides S3.
    assert report["unit_score"]["provisional"] is True
    assert [line["vi"] for line in unit_lines(report)] == [
        "Kết quả đơn vị (tạm tính): 4/4 người do mình phụ trách hoàn thành nhiệm vụ trở lên "
        "→ 100 % × 35 = 35 điểm; còn chờ quyết định đối với 1 người (Phạm Thị Dung – đề "
        "xuất): điểm này có thể thay đổi"]
    # Once S3 is decided too, the unit part is final: no suffix.
    grade(world, "S3", "HTTNV", "HTTNV")
    final = month_of(world.db, "H")
    assert (final["unit_score"]["provisional"], final["unit_score"]["certain"]) == (False, False)
    assert [line["vi"] for line in unit_lines(final)] == [
        "Kết quả đơn vị: 4/4 người do mình phụ trách hoàn thành nhiệm vụ trở lên "
        "→ 100 % × 35 = 35 điểm"]


def test_someone_not_graded_yet_makes_the_unit_part_provisional(world):
    standing(world, d="HTNV", s3=False)
    report = month_of(world.db, "H")
    unit = report["unit_score"]
    assert (unit["share"], unit["provisional"], unit["ungraded"]) == (1.0, True, 1)
    assert report["suggestion"]["criteria"]["task_results"] == 70.0
    assert [line["vi"] for line in unit_lines(report)] == [
        "Kết quả đơn vị (tạm tính): 3/4 người do mình phụ trách hoàn thành nhiệm vụ trở lên, "
        "1 chưa được xếp loại (Phạm Thị Dung) → 100 % × 35 = 35 điểm; còn chờ quyết định "
        "đối với 1 người (Phạm Thị Dung): điểm này có thể thay đổi"]


def test_one_not_completed_makes_half_certain_before_everyone_is_graded(world):
    standing(world, s3=False)
    report = month_of(world.db, "H")
    unit = report["unit_score"]
    assert (unit["share"], unit["provisional"], unit["certain"]) == (0.5, False, True)
    assert report["suggestion"]["criteria"]["task_results"] == 52.5
    line = unit_lines(report)[0]
    assert line["vi"].endswith("→ 50 % × 35 = 17,5 điểm; mức 50 % đã chắc chắn dù còn chờ "
                               "quyết định đối với 1 người (Phạm Thị Dung)")
    assert line["en"].endswith("→ 50% × 35 = 17.5 points; 50% is certain, although still "
                               "awaiting the decision on 1 person (Phạm Thị Dung)")


@pytest.mark.parametrize("officer", ["S1", "S2"])
def test_a_leader_with_nobody_to_lead_in_the_period_is_scored_as_everyone(world, officer):
    standing(world)
    report = month_of(world.db, officer)
    assert report["unit_score"] is None
    assert not unit_lines(report)
    # S2: one task on time, full quality → 70; S1: no task → 0.
    assert report["suggestion"]["criteria"]["task_results"] == {"S1": 0.0, "S2": 70.0}[officer]


def test_hanoi_3814_leaves_leaders_unchanged(world):
    standing(world)
    evaluate(world, "H", review_scores={"discipline_ethics": 20, "bonus": 10})
    report = month_of(world.db, "H", HANOI)
    assert report["unit_score"] is None
    assert report["suggestion"]["criteria"]["task_results"] == 70.0
    assert not unit_lines(report)


# --- through the API, the pages and the decision's snapshot ---------------------------------

def client_for(path):
    app = create_app(Settings(db_path=path, broker_url=None, policy="decree-335"))
    app.dependency_overrides[api_month.clock] = lambda: NOW
    app.dependency_overrides[api_month.today] = lambda: TODAY
    return TestClient(app, headers=admin_headers(path))


def test_the_api_and_pages_show_the_unit_score(world, tmp_path):
    standing(world)
    path = tmp_path / "hailong.db"
    with client_for(path) as client:
        body = client.get(f"/api/v1/officers/H/months/{MONTH}").json()
        page = client.get(f"/officers/H?month={MONTH}").text
        english = client.get(f"/officers/H?month={MONTH}&lang=en").text
        form = client.get(f"/officers/H/months/{MONTH}/form").text
        plain = client.get(f"/officers/S1?month={MONTH}").text
    assert body["unit_score"]["share"] == 0.5
    assert body["suggestion"]["criteria"]["task_results"] == 52.5
    for html in (page, form):
        assert 'data-testid="unit-score"' in html
        assert "Kết quả đơn vị: 3/4 người do mình phụ trách" in html
        assert '<th scope="row">Nguyễn Văn An</th><td>Không hoàn thành nhiệm vụ' in html
        assert '<th scope="row">Phạm Thị Dung</th><td>Hoàn thành tốt nhiệm vụ' in html
        assert "đề xuất" in html and "<strong>17,5</strong> / 35 (50 %)" in html
        # Which grades are decisions and which proposals, and how many still await one.
        shown = html.replace('<span class="muted">', "").replace("</span>", "")
        assert ('<th scope="row">Nguyễn Văn An</th><td>Không hoàn thành nhiệm vụ '
                "(đã quyết định)") in shown
        assert '<th scope="row">Phạm Thị Dung</th><td>Hoàn thành tốt nhiệm vụ (đề xuất)' in shown
        assert "Chờ thủ trưởng quyết định: 1" in html
        assert "mức 50 % đã chắc chắn" in html
    assert "Unit result: 3 of 4 people led" in english
    assert "<strong>17.5</strong> / 35 (50%)" in english
    assert 'data-testid="unit-score"' not in plain


def test_the_decision_freezes_the_unit_score_and_flags_a_later_change(world):
    standing(world)  # D decided "not completed": 50 % certain, no acknowledgement asked
    decided = service_for(world).decide("H", MONTH, "C", "HTTNV")
    assert "acknowledged_provisional_unit" not in decided["history"][-1]["data"]
    frozen = month_of(world.db, "H")
    assert frozen["workflow"]["decision"]["score"] == 82.5
    assert frozen["decided_snapshot"]["unit_score"]["share"] == 0.5
    assert frozen["evidence_changes"] == []
    # D's decision is reopened and D is decided "completed": H's unit now reads 100 %.
    grade(world, "D", "HTNV", "HTNV")
    later = month_of(world.db, "H")
    assert later["unit_score"]["share"] == 1.0
    assert later["decided_snapshot"]["unit_score"]["share"] == 0.5
    assert later["workflow"]["decision"]["score"] == 82.5  # the decision stands
    fields = {line["field"]: line for line in later["evidence_changes"]}
    assert fields["unit_score.share"]["vi"] == "Kết quả đơn vị: 50 % → 100 %"
    assert fields["unit_score.share"]["en"] == "Unit result: 50 % → 100 %"
    assert fields["unit_score.not_completed"]["vi"] == \
        "Số người do mình phụ trách không hoàn thành nhiệm vụ: 1 → 0"


# --- the decision of a leader whose unit part is provisional ---------------------------------

def service_for(store: Store) -> WorkflowService:
    return WorkflowService(store, DECREE, clock=lambda: NOW, today=lambda: TODAY,
                           evidence_of=lambda officer, month: month_of(store.db, officer))


AWAITED_VI = ("Kết quả đơn vị của cán bộ này còn tạm tính: chờ quyết định đối với 2 người "
              "(Nguyễn Văn An, Phạm Thị Dung)")


def test_a_leader_is_not_decided_on_a_proposed_not_completed_without_acknowledging(world):
    # The reviewer's case: D only proposed "not completed", S3 not graded, S1 and S2 decided.
    # H's 50 % may still become 100 % (the head may decide D otherwise): provisional.
    grade(world, "S1", "HTTNV", "HTTNV")
    grade(world, "S2", "HTTNV", "HTTNV")
    grade(world, "D", "KHTNV")
    unit = month_of(world.db, "H")["unit_score"]
    assert (unit["share"], unit["provisional"], unit["certain"], unit["undecided"]) == (
        0.5, True, False, 2)
    with pytest.raises(UnitNotAcknowledged) as refused:
        service_for(world).decide("H", MONTH, "C", "HTTNV")
    # Both are H's to decide, not C's (tests/test_issue12_review2.py: who decides whom).
    assert refused.value.vi == (
        AWAITED_VI + ". Chờ quyết định của Ngô Thị Hạnh đối với Nguyễn Văn An, Phạm Thị Dung, "
        f"hoặc đánh dấu «{ACKNOWLEDGE_UNIT_VI}» để vẫn quyết định.")
    assert "acknowledge_provisional_unit" not in refused.value.vi
    assert refused.value.en == (
        "This officer's unit result is still provisional: awaiting the decision on 2 people "
        "(Nguyễn Văn An, Phạm Thị Dung). Wait for Ngô Thị Hạnh's decision on Nguyễn Văn An, "
        "Phạm Thị Dung, or acknowledge it (acknowledge_provisional_unit) to decide anyway.")
    assert month_of(world.db, "H")["workflow"]["status"] == "reviewed"  # nothing written
    decided = service_for(world).decide("H", MONTH, "C", "HTTNV",
                                        acknowledge_provisional_unit=True)
    data = decided["history"][-1]["data"]
    assert (data["acknowledged_provisional_unit"], data["unit_awaiting"]) == (True, ["D", "S3"])
    entry = audit.recent(world.db, 1)[0]
    assert entry.action == "evaluation.decide"
    assert (entry.after_value["acknowledged_provisional_unit"],
            entry.after_value["unit_awaiting"]) == (True, ["D", "S3"])
    # What the head acknowledged is what is frozen: own 35 + 50 % × 35 = 52.5, + 30 = 82.5.
    assert month_of(world.db, "H")["workflow"]["decision"]["score"] == 82.5


def test_once_everyone_led_is_decided_no_acknowledgement_is_asked_or_recorded(world):
    standing(world, d="HTNV")
    grade(world, "S3", "HTTNV", "HTTNV")
    # Sent although not needed: nothing to acknowledge, nothing recorded.
    decided = service_for(world).decide("H", MONTH, "C", "HTTNV",
                                        acknowledge_provisional_unit=True)
    data = decided["history"][-1]["data"]
    assert "acknowledged_provisional_unit" not in data and "unit_awaiting" not in data
    # Frozen: 30 + own 35 + 100 % × 35 (the final score then follows the HTTNV decided).
    assert data["suggested_score"] == 100.0


def test_a_certain_half_needs_no_acknowledgement(world):
    standing(world, s3=False)  # D decided "not completed", S3 not graded: 50 % certain
    decided = service_for(world).decide("H", MONTH, "C", "HTTNV")
    assert "acknowledged_provisional_unit" not in decided["history"][-1]["data"]


def test_the_acknowledgement_must_be_true_or_false(world):
    standing(world, d="HTNV")
    with pytest.raises(WorkflowError) as refused:
        service_for(world).decide("H", MONTH, "C", "HTTNV", acknowledge_provisional_unit="on")
    assert not isinstance(refused.value, UnitNotAcknowledged)


def head_client(path) -> TestClient:
    app = create_app(Settings(db_path=path, broker_url=None, policy="decree-335"))
    app.dependency_overrides[api_month.clock] = lambda: NOW
    app.dependency_overrides[api_month.today] = lambda: TODAY
    return TestClient(app, follow_redirects=False)


def test_the_api_refuses_a_provisional_unit_in_both_languages(world, tmp_path):
    standing(world, d="HTNV")  # everyone at least completed, S3's only proposed
    path = tmp_path / "hailong.db"
    url = f"/api/v1/officers/H/evaluations/{MONTH}/decision"
    head = as_officer(path, "C")
    with head_client(path) as client:
        refused = client.post(url, json={"final_grade": "HTTNV"}, headers=head)
        assert refused.status_code == 409
        vi, en = refused.json()["detail"].split(" / ")
        assert vi.startswith("Kết quả đơn vị của cán bộ này còn tạm tính: chờ quyết định đối "
                             "với 1 người (Phạm Thị Dung).")
        assert f"«{ACKNOWLEDGE_UNIT_VI}»" in vi and "acknowledge_provisional_unit" not in vi
        assert en.startswith("This officer's unit result is still provisional: awaiting the "
                             "decision on 1 person (Phạm Thị Dung).")
        assert "acknowledge_provisional_unit" in en
        done = client.post(url, json={"final_grade": "HTTNV",
                                      "acknowledge_provisional_unit": True}, headers=head)
        assert done.status_code == 200, done.json()
        data = done.json()["history"][-1]["data"]
        assert (data["acknowledged_provisional_unit"], data["unit_awaiting"]) == (True, ["S3"])


def alert_of(html: str) -> str:
    found = re.search(r'<p[^>]*role="alert"[^>]*>(.*?)</p>', html, re.S)
    assert found, "no alert on the page"
    return found.group(1)


def test_the_decision_form_asks_to_acknowledge_a_provisional_unit(world, tmp_path):
    standing(world, d="HTNV")
    path = tmp_path / "hailong.db"
    as_officer(path, "C")  # the head's account, "cb.c"
    form_url = f"/officers/H/months/{MONTH}/decision"
    with head_client(path) as client:
        assert client.post("/login", data={"login": "cb.c", "password": PASSWORD,
                                           "next": "/"}).status_code == 303
        csrf = client.get("/api/v1/me").json()["csrf_token"]
        html = client.get(f"/officers/H?month={MONTH}").text
        form = html[html.index('data-testid="decision-form"'):]
        assert 'data-testid="unit-provisional"' in form
        assert ("Kết quả đơn vị của cán bộ này còn tạm tính: chờ quyết định đối với 1 người "
                "(Phạm Thị Dung)") in form
        assert 'type="checkbox" name="acknowledge_provisional_unit"' in form
        assert ACKNOWLEDGE_UNIT_VI in form
        refused = client.post(form_url, data={"csrf_token": csrf, "final_grade": "HTTNV"})
        assert refused.status_code == 409
        alert = alert_of(refused.text)
        assert f"«{ACKNOWLEDGE_UNIT_VI}»" in alert and "acknowledge_provisional_unit" not in alert
        english = client.post(form_url + "?lang=en",
                              data={"csrf_token": csrf, "final_grade": "HTTNV"})
        assert "I know the unit result is still provisional and decide anyway" in english.text
        done = client.post(form_url, data={"csrf_token": csrf, "final_grade": "HTTNV",
                                           "acknowledge_provisional_unit": "on"})
        assert done.status_code == 303 and done.headers["location"].endswith("&done=decision")
    event = world.db.execute("SELECT data FROM evaluation_events WHERE officer_id = 'H' AND "
                             "step = 'decision'").fetchone()[0]
    assert json.loads(event)["unit_awaiting"] == ["S3"]


def test_the_decision_form_has_no_unit_checkbox_when_the_half_is_certain(world, tmp_path):
    standing(world)  # D decided "not completed"
    path = tmp_path / "hailong.db"
    as_officer(path, "C")
    with head_client(path) as client:
        client.post("/login", data={"login": "cb.c", "password": PASSWORD, "next": "/"})
        html = client.get(f"/officers/H?month={MONTH}").text
    assert 'data-testid="decision-form"' in html
    assert "acknowledge_provisional_unit" not in html
    assert 'data-testid="unit-provisional"' not in html
