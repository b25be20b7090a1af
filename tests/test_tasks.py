"""Task records: status as of the month's end, decree-335 evidence, the service and its audit."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from collector.db import audit
from collector.evaluation import task_records
from collector.evaluation.policy import load_preset
from collector.evaluation.scoring import suggest
from collector.evaluation.tasks import (
    TaskConflict,
    TaskError,
    TaskForbidden,
    TaskNotFound,
    TaskService,
    task_evidence,
    task_status,
)
from collector.core.timeline import LOCAL_TZ

MONTH = "2026-03"
AFTER = date(2026, 4, 10)  # evaluated after the month has closed
# The service's clock: tasks are registered from 1 March, 08:00 local, a second apart.
T0 = int(datetime(2026, 3, 1, 8, tzinfo=LOCAL_TZ).timestamp() * 1000)
LEADER = {"politics_ethics": 7.5, "discipline": 7.5, "service_attitude": 7.5,
          "innovation": 7.5}


def task(deadline, completed_on=None, *, weight=1, errors=0, excused=False, title="t"):
    return {"deadline": deadline, "completed_on": completed_on, "weight": weight,
            "major_errors": errors, "delay_excused": excused, "title": title}


# --- status ----------------------------------------------------------------------------------

@pytest.mark.parametrize("deadline, completed_on, today, status", [
    ("2026-03-20", "2026-03-20", AFTER, "on_time"),           # the deadline day is on time
    ("2026-03-20", "2026-03-01", AFTER, "on_time"),
    ("2026-03-20", "2026-03-21", AFTER, "late"),
    ("2026-03-20", "2026-04-01", AFTER, "overdue"),           # finished after its month
    ("2026-03-20", None, date(2026, 3, 20), "open"),
    ("2026-03-20", None, date(2026, 3, 21), "overdue"),
    ("2026-03-31", None, date(2026, 3, 31), "open"),
    ("2026-03-31", None, date(2026, 4, 1), "overdue"),        # past it at the month's end
    ("2026-03-31", None, date(2026, 7, 1), "overdue"),
    ("2026-12-31", "2026-12-31", date(2027, 1, 5), "on_time"),  # December rolls the year
    ("2026-12-31", "2027-01-01", date(2027, 1, 5), "overdue"),
])
def test_status_is_judged_at_the_month_end_or_today(deadline, completed_on, today, status):
    assert task_status(task(deadline, completed_on), today) == status


# --- evidence and decree-335 points ------------------------------------------------------------

def task_points(evidence):
    result = suggest(load_preset("decree-335"), None, evidence, LEADER)
    return result.criteria["task_results"], result.score


C = 70 / 3  # decree-335: 70 task points, quantity/quality/progress weighted equally


# One on-time task of weight 1 beside each case, so W = 2 and each case task is half the work.
@pytest.mark.parametrize("case, today, counts, points", [
    # case task                               (on_time, late, overdue, excused)
    (task("2026-03-10", "2026-03-10"), AFTER, (2, 0, 0, 0), 70.0),
    # one unexcused delay: 25 % of its progress share, C × ½ × 0.25 = 2.9167
    (task("2026-03-10", "2026-03-12"), AFTER, (1, 1, 0, 0), round(70 - C / 8, 2)),
    (task("2026-03-10", "2026-03-12", excused=True), AFTER, (1, 1, 0, 1), 70.0),
    # unfinished: no quantity, quality or progress points for its half → 35
    (task("2026-03-10"), AFTER, (1, 0, 1, 0), 35.0),
    (task("2026-03-10", excused=True), AFTER, (1, 0, 1, 1), 35.0),
    (task("2026-03-10", "2026-04-02"), AFTER, (1, 0, 1, 0), 35.0),
    # still running in the current month: counted as registered, not yet done
    (task("2026-03-25"), date(2026, 3, 15), (1, 0, 0, 0), 35.0),
    # major errors: 25 % each of its quality share, C × ½ × 0.25 per error, at most all of it
    (task("2026-03-10", "2026-03-09", errors=1), AFTER, (2, 0, 0, 0), round(70 - C / 8, 2)),
    (task("2026-03-10", "2026-03-09", errors=2), AFTER, (2, 0, 0, 0), round(70 - C / 4, 2)),
    (task("2026-03-10", "2026-03-09", errors=5), AFTER, (2, 0, 0, 0), round(70 - C / 2, 2)),
    # late and an error: both penalties
    (task("2026-03-10", "2026-03-11", errors=1), AFTER, (1, 1, 0, 0), round(70 - C / 4, 2)),
])
def test_task_points_move_as_decree_335_says(case, today, counts, points):
    evidence = task_evidence([task("2026-03-05", "2026-03-05"), case], MONTH, today=today)
    assert evidence.registered == 2
    assert (evidence.on_time, evidence.late, evidence.overdue, evidence.excused) == counts
    assert task_points(evidence)[0] == points


def test_a_worked_month_of_five_tasks():
    """W = 6, done weight 5 (the overdue task earns nothing).
    quantity = C × 5/6                       = 19.4444
    quality  = C × (5 − 1 × 2 × 0.25)/6      = C × 4.5/6  = 17.5    (task E, 2 errors)
    progress = C × (5 − 1 × 0.25)/6          = C × 4.75/6 = 18.4722 (B late; D late, excused)
    total    = 70 × 14.25/18                 = 55.4167 → 55.42; + 4 × 7.5 = 85.42, good.
    """
    month = [task("2026-03-10", "2026-03-09", weight=2, title="A"),
             task("2026-03-15", "2026-03-18", title="B"),
             task("2026-03-20", title="C"),
             task("2026-03-25", "2026-03-27", excused=True, title="D"),
             task("2026-03-05", "2026-03-05", errors=2, title="E"),
             task("2026-04-02", title="next month, left out")]
    evidence = task_evidence(month, MONTH, today=AFTER)
    assert (evidence.registered, evidence.on_time, evidence.late, evidence.overdue,
            evidence.excused) == (5, 2, 2, 1, 1)
    assert [(t.title, t.completed, t.major_errors, t.delays, t.delays_excused)
            for t in evidence.tasks] == [("A", True, 0, 0, 0), ("B", True, 0, 1, 0),
                                         ("C", False, 0, 1, 0), ("D", True, 0, 1, 1),
                                         ("E", True, 2, 0, 0)]
    result = suggest(load_preset("decree-335"), None, evidence, LEADER)
    assert result.criteria["task_results"] == 55.42
    assert (result.score, result.grade) == (85.42, "HTTNV")


def test_an_empty_month_has_no_task_points():
    evidence = task_evidence([], MONTH, today=AFTER)
    assert evidence.registered == 0 and task_points(evidence)[0] == 0


def test_a_malformed_month_is_refused():
    with pytest.raises(ValueError):
        task_evidence([], "2026-3", today=AFTER)


# --- the service -----------------------------------------------------------------------------

@pytest.fixture
def service(store):
    ticks = iter(range(T0, T0 + 10_000_000, 1000))
    return TaskService(store, actor="test", clock=lambda: next(ticks), today=lambda: AFTER)


def new_task(service, **overrides):
    fields = {"title": "Thẩm định hồ sơ", "assigned_by": "HK-0002", "period": "month",
              "deadline": "2026-03-20", "weight": 1}
    fields.update(overrides)
    return service.create("HK-0001", **fields)


def test_create_stores_the_task_and_audits_it(service, store):
    created = new_task(service, title="  Thẩm định hồ sơ  ", weight=2.5)
    assert (created["title"], created["weight"], created["progress"], created["status"],
            created["month"]) == ("Thẩm định hồ sơ", 2.5, 0, "overdue", MONTH)
    assert created["assigned_by_name"] == "Trần Văn Đức"
    entry = audit.recent(store.db, 1)[0]
    assert (entry.actor, entry.action, entry.subject) == ("test", "task.create",
                                                          f"task:{created['id']}")
    assert entry.before_value is None and entry.after_value["deadline"] == "2026-03-20"


@pytest.mark.parametrize("overrides, error, words", [
    ({"officer_id": "NOBODY"}, TaskNotFound, "không tìm thấy cán bộ"),
    ({"assigned_by": "NOBODY"}, TaskError, "assigned_by"),
    ({"period": "year"}, TaskError, "period"),
    ({"deadline": "2026-02-30"}, TaskError, "YYYY-MM-DD"),
    ({"deadline": "31/03/2026"}, TaskError, "YYYY-MM-DD"),
    ({"deadline": "0226-03-01"}, TaskError, "2000"),
    ({"weight": 0}, TaskError, "weight"),
    ({"weight": float("nan")}, TaskError, "weight"),
    ({"weight": True}, TaskError, "weight"),
    ({"title": "   "}, TaskError, "title"),
])
def test_create_refuses_bad_fields_and_stores_nothing(service, store, overrides, error, words):
    overrides = dict(overrides)
    officer = overrides.pop("officer_id", "HK-0001")
    fields = {"title": "Việc", "assigned_by": "HK-0002", "period": "week",
              "deadline": "2026-03-20", "weight": 1, **overrides}
    with pytest.raises(error, match=words) as caught:
        service.create(officer, **fields)
    assert caught.value.vi and caught.value.en
    assert store.db["tasks"].count == 0 and store.db["audit_log"].count == 0


def test_a_write_whose_audit_fails_is_rolled_back(service, store, monkeypatch):
    def broken(*args, **kwargs):
        raise audit.AuditError("disk says no")
    monkeypatch.setattr(audit, "append", broken)
    with pytest.raises(audit.AuditError):
        new_task(service)
    assert store.db["tasks"].count == 0


def test_progress_then_completion_keeps_the_history(service, store):
    task_id = new_task(service)["id"]
    service.update(task_id, {"progress": 40, "note": "Đã xong 16/40 hồ sơ"})
    done = service.update(task_id, {"completed_on": "2026-03-19"})
    assert (done["progress"], done["completed_on"], done["status"]) == (100, "2026-03-19",
                                                                        "on_time")
    assert done["progress_note"] == "Đã xong 16/40 hồ sơ"
    assert [(u["progress"], u["completed_on"]) for u in done["updates"]] == [
        (40, None), (100, "2026-03-19")]
    reopened = service.update(task_id, {"completed_on": None, "progress": 90})
    assert (reopened["completed_on"], reopened["progress"], reopened["status"]) == (
        None, 90, "overdue")
    entry = audit.recent(store.db, 1)[0]
    assert entry.action == "task.update"
    assert entry.before_value == {"progress": 100, "progress_note": "Đã xong 16/40 hồ sơ",
                                  "completed_on": "2026-03-19"}
    assert entry.after_value["completed_on"] is None and entry.after_value["progress"] == 90


@pytest.mark.parametrize("changes, words", [
    ({}, "at least one"),
    ({"progress": 101}, "0 to 100"),
    ({"progress": 50.5}, "0 to 100"),
    ({"completed_on": "2026-04-11"}, "after today"),
    ({"completed_on": "2026-03-19", "progress": 80}, "100 %"),
    ({"note": ""}, "note"),
    ({"deadline": "2026-04-30"}, "at least one"),  # the commitment is not edited here
])
def test_update_refuses_what_does_not_make_sense(service, store, changes, words):
    task_id = new_task(service)["id"]
    entries = store.db["audit_log"].count
    with pytest.raises(TaskError, match=words):
        service.update(task_id, changes)
    assert store.db["audit_log"].count == entries and store.db["task_updates"].count == 0


def test_lowering_a_completed_task_needs_reopening(service):
    task_id = new_task(service)["id"]
    service.update(task_id, {"completed_on": "2026-03-19"})
    with pytest.raises(TaskError, match="reopen"):
        service.update(task_id, {"progress": 60})


def test_errors_and_excuses_feed_the_evidence(service, store):
    late = new_task(service, title="Trễ", deadline="2026-03-10")["id"]
    service.update(late, {"completed_on": "2026-03-12"})
    service.flag_error(late, "Sai số liệu diện tích")
    service.flag_error(late, "Thiếu chữ ký")
    excused = service.excuse_delay(late, "Hệ thống một cửa điện tử ngừng hoạt động 2 ngày")
    assert (excused["major_errors"], excused["delay_excused"]) == (2, True)
    assert [f["kind"] for f in excused["flags"]] == ["major_error", "major_error",
                                                     "delay_excused"]
    on_time = new_task(service, title="Đúng hạn", deadline="2026-03-20")["id"]
    service.update(on_time, {"completed_on": "2026-03-20"})
    with pytest.raises(TaskError, match="not delayed"):
        service.excuse_delay(on_time, "Lý do")
    with pytest.raises(TaskError, match="already excused"):
        service.excuse_delay(late, "Lần nữa")
    with pytest.raises(TaskNotFound):
        service.flag_error(999, "Lỗi")
    evidence = task_evidence(task_records.officer_tasks(store.db, "HK-0001", MONTH), MONTH,
                             today=AFTER)
    assert (evidence.registered, evidence.on_time, evidence.late, evidence.excused) == (2, 1,
                                                                                        1, 1)
    assert [(t.title, t.major_errors, t.delays, t.delays_excused) for t in evidence.tasks] == [
        ("Trễ", 2, 1, 1), ("Đúng hạn", 0, 0, 0)]
    actions = [e.action for e in reversed(audit.recent(store.db, None))]
    assert actions.count("task.quality_error") == 2 and actions.count("task.excuse_delay") == 1
    assert audit.verify(store.db).ok


def test_officer_tasks_takes_the_month_of_the_deadline(service, store):
    for deadline in ("2026-02-28", "2026-03-01", "2026-03-31", "2026-04-01"):
        new_task(service, deadline=deadline)
    assert [t["deadline"] for t in task_records.officer_tasks(store.db, "HK-0001", MONTH)] == [
        "2026-03-01", "2026-03-31"]
    assert task_records.officer_tasks(store.db, "HK-0002", MONTH) == []


# --- issue 10: records an officer cannot forge ----------------------------------------------

def decide(store, officer_id, month, decided=True):
    """The head's decision on the officer-month (the workflow's lock), or its reopening."""
    store.db.execute("INSERT INTO evaluations (officer_id, month, final_grade, decided_by, "
                     "decided_at, updated_at) VALUES (?, ?, 'B', 'HK-0100', ?, ?) "
                     "ON CONFLICT (officer_id, month) DO UPDATE SET decided_at = "
                     "excluded.decided_at", [officer_id, month, T0 if decided else None, T0])


def acting(store, officer_id):
    """The service as the API makes it for an officer's account."""
    ticks = iter(range(T0, T0 + 10_000_000, 1000))
    return TaskService(store, actor=f"officer:{officer_id}", by=officer_id,
                       clock=lambda: next(ticks), today=lambda: AFTER)


def test_who_assigned_a_task_is_whoever_registers_it(store):
    fields = {"title": "Việc", "period": "week", "deadline": "2026-03-20"}
    assert acting(store, "HK-0001").create("HK-0001", **fields)["assigned_by"] == "HK-0001"
    assert acting(store, "HK-0101").create("HK-0001", **fields)["assigned_by"] == "HK-0101"
    same = acting(store, "HK-0101").create("HK-0001", assigned_by="HK-0101", **fields)
    assert same["assigned_by"] == "HK-0101"
    for by, claimed in (("HK-0001", "HK-0100"), ("HK-0001", "HK-0101"),
                        ("HK-0101", "HK-0100")):
        with pytest.raises(TaskForbidden, match="assigned_by") as caught:
            acting(store, by).create("HK-0001", assigned_by=claimed, **fields)
        assert caught.value.vi and caught.value.en
    assert store.db["tasks"].count == 3


@pytest.mark.parametrize("weight, ok", [
    (0.1, True), (100, True), (0.05, False), (100.5, False), (10_000, False)])
def test_weight_is_within_the_stated_bounds(service, store, weight, ok):
    if ok:
        assert new_task(service, weight=weight)["weight"] == weight
    else:
        with pytest.raises(TaskError, match="weight: must be a number above 0, from 0.1 to 100"):
            new_task(service, weight=weight)
        assert store.db["tasks"].count == 0


def test_completion_is_not_dated_before_the_task_existed(store):
    officer = acting(store, "HK-0001")
    task_id = officer.create("HK-0001", title="Việc", period="week",
                             deadline="2026-03-20")["id"]  # registered on 1 March
    with pytest.raises(TaskError, match="before the task was registered") as caught:
        officer.update(task_id, {"completed_on": "2026-02-27"})
    assert "01/03/2026" in caught.value.vi
    assert officer.update(task_id, {"completed_on": "2026-03-01"})["status"] == "on_time"


def test_past_plans_are_recorded_as_they_were_without_an_acting_officer(service):
    """An import or the demo registers last month's plan today, completed back then."""
    task_id = new_task(service, deadline="2026-02-20")["id"]  # registered on 1 March
    assert service.update(task_id, {"completed_on": "2026-02-19"})["status"] == "on_time"


def test_a_decided_month_takes_no_task_writes(service, store):
    earlier = new_task(service, deadline="2026-03-10")["id"]
    service.update(earlier, {"completed_on": "2026-03-12"})
    decide(store, "HK-0001", MONTH)
    entries = store.db["audit_log"].count
    for write in (lambda: new_task(service, deadline="2026-03-31"),
                  lambda: service.update(earlier, {"progress": 100, "note": "Bổ sung"}),
                  lambda: service.update(earlier, {"completed_on": "2026-03-09"}),
                  lambda: service.flag_error(earlier, "Sai số liệu"),
                  lambda: service.excuse_delay(earlier, "Mất điện")):
        with pytest.raises(TaskConflict, match="locked") as caught:
            write()
        assert "khoá" in caught.value.vi
    assert store.db["audit_log"].count == entries and store.db["tasks"].count == 1
    assert new_task(service, deadline="2026-04-02")["month"] == "2026-04"  # April is open
    decide(store, "HK-0001", MONTH, decided=False)  # the head reopened it
    assert service.flag_error(earlier, "Sai số liệu")["major_errors"] == 1
