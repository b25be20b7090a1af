"""The task API on a seeded database: create, list by month, progress, errors, excuses, audit."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from fastapi.testclient import TestClient

from accounts_support import admin_headers, as_officer

from collector.db import audit
from collector.web import deps
from collector.app import create_app
from collector.db.reader import open_reader
from collector.db.store import Store
from collector.core.settings import Settings
from collector.core.timeline import LOCAL_TZ

TODAY = date(2026, 4, 10)
# The clock that stamps the records: the plans were registered on 2 March; their statuses
# are judged on TODAY.
REGISTERED = int(datetime(2026, 3, 2, 8, tzinfo=LOCAL_TZ).timestamp() * 1000)


@pytest.fixture
def app(seeded_db):
    app = create_app(Settings(db_path=seeded_db, broker_url=None))
    app.dependency_overrides[deps.today] = lambda: TODAY
    app.dependency_overrides[deps.clock] = lambda: REGISTERED
    return app


@pytest.fixture
def client(app, seeded_db):
    # The section's leader, who assigns the counter officers' work.
    with TestClient(app, headers=as_officer(seeded_db, "HK-0101")) as client:
        yield client


def audit_log(seeded_db):
    """The task entries of the audit log (the test's own account entries left out)."""
    db = open_reader(seeded_db)
    try:
        return ([e for e in reversed(audit.recent(db, None)) if e.action.startswith("task.")],
                audit.verify(db))
    finally:
        db.conn.close()


def create(client, officer="HK-0001", **overrides):
    body = {"title": "Thẩm định hồ sơ đất đai", "period": "month", "deadline": "2026-03-20",
            **overrides}
    return client.post(f"/api/v1/officers/{officer}/tasks", json=body)


def test_create_list_progress_complete_flag_excuse_all_audited(client, seeded_db):
    response = create(client, weight=2)
    assert response.status_code == 201
    task = response.json()
    assert (task["officer_id"], task["weight"], task["status"]) == ("HK-0001", 2, "overdue")
    task_id = task["id"]
    weekly = create(client, title="Báo cáo tuần", period="week", deadline="2026-03-06").json()
    create(client, deadline="2026-04-15")  # April: not in March's list

    progress = client.patch(f"/api/v1/tasks/{task_id}",
                            json={"progress": 60, "note": "Đã xong 24/40 hồ sơ"})
    assert progress.status_code == 200 and progress.json()["progress"] == 60
    done = client.patch(f"/api/v1/tasks/{task_id}", json={"completed_on": "2026-03-23"}).json()
    assert (done["progress"], done["status"], done["delayed"]) == (100, "late", True)
    flagged = client.post(f"/api/v1/tasks/{task_id}/quality-error",
                          json={"reason": "Sai số liệu diện tích thửa đất"})
    assert flagged.status_code == 201 and flagged.json()["major_errors"] == 1
    excused = client.post(f"/api/v1/tasks/{task_id}/excuse-delay",
                          json={"reason": "Mất điện toàn phường 2 ngày"})
    assert excused.status_code == 201 and excused.json()["delay_excused"] is True
    client.patch(f"/api/v1/tasks/{weekly['id']}", json={"completed_on": "2026-03-06"})

    month = client.get("/api/v1/officers/HK-0001/tasks?month=2026-03").json()
    assert [t["id"] for t in month["tasks"]] == [weekly["id"], task_id]
    assert month["summary"] == {"registered": 2, "on_time": 1, "late": 1, "overdue": 0,
                                "excused": 1, "open": 0}
    one = client.get(f"/api/v1/tasks/{task_id}").json()
    assert [u["progress"] for u in one["updates"]] == [60, 100]
    assert [f["reason"] for f in one["flags"]] == ["Sai số liệu diện tích thửa đất",
                                                   "Mất điện toàn phường 2 ngày"]

    entries, verification = audit_log(seeded_db)
    leader = "officer:HK-0101"  # the account the client acts as
    assert [(e.actor, e.action, e.subject) for e in entries] == [
        (leader, "task.create", f"task:{task_id}"),
        (leader, "task.create", f"task:{weekly['id']}"),
        (leader, "task.create", f"task:{task_id + 2}"),
        (leader, "task.update", f"task:{task_id}"),
        (leader, "task.update", f"task:{task_id}"),
        (leader, "task.quality_error", f"task:{task_id}"),
        (leader, "task.excuse_delay", f"task:{task_id}"),
        (leader, "task.update", f"task:{weekly['id']}"),
    ]
    assert entries[4].before_value["progress"] == 60 and entries[4].after_value == {
        "progress": 100, "progress_note": "Đã xong 24/40 hồ sơ", "completed_on": "2026-03-23"}
    assert verification.ok and len(entries) == 8


@pytest.mark.parametrize("method, url, body, status, words", [
    ("post", "/api/v1/officers/NOBODY/tasks", {"title": "x", "period": "week",
                                                "deadline": "2026-03-20"},
     404, "Không tìm thấy cán bộ"),
    ("get", "/api/v1/officers/NOBODY/tasks?month=2026-03", None, 404, "Không tìm thấy cán bộ"),
    ("get", "/api/v1/officers/HK-0001/tasks?month=2026-3", None, 422, "2026-11"),
    ("get", "/api/v1/tasks/999", None, 404, "Không tìm thấy nhiệm vụ 999"),
    ("patch", "/api/v1/tasks/999", {"progress": 10}, 404, "No task 999"),
    ("post", "/api/v1/tasks/999/quality-error", {"reason": "x"}, 404, "No task 999"),
    ("post", "/api/v1/tasks/999/excuse-delay", {"reason": "x"}, 404, "No task 999"),
    ("post", "/api/v1/officers/HK-0001/tasks", {"title": "x", "assigned_by": "HK-0002",
                                                 "period": "week", "deadline": "2026-03-20"},
     403, "assigned_by"),
    ("post", "/api/v1/officers/HK-0001/tasks", {"title": "x",
                                                 "period": "quý", "deadline": "2026-03-20"},
     422, "period"),
    ("post", "/api/v1/officers/HK-0001/tasks", {"title": "x",
                                                 "period": "week", "deadline": "20/03/2026"},
     422, "ngày không hợp lệ"),
    ("post", "/api/v1/officers/HK-0001/tasks", {"title": "x",
                                                 "period": "week", "deadline": "2026-03-20",
                                                 "weight": -1}, 422, "weight"),
    ("patch", "/api/v1/tasks/{id}", {"progress": 150}, 422, "tiến độ"),
    ("patch", "/api/v1/tasks/{id}", {}, 422, "at least one"),
    ("patch", "/api/v1/tasks/{id}", {"completed_on": "2026-04-11"}, 422, "after today"),
    ("post", "/api/v1/tasks/{id}/quality-error", {"reason": "  "}, 422, "reason"),
    ("post", "/api/v1/tasks/{id}/excuse-delay", {"reason": ""}, 422, "reason"),
])
def test_refusals_are_clear_and_change_nothing(client, seeded_db, method, url, body, status,
                                               words):
    task_id = create(client).json()["id"]
    before, _ = audit_log(seeded_db)
    kwargs = {} if body is None else {"json": body}
    response = getattr(client, method)(url.replace("{id}", str(task_id)), **kwargs)
    assert response.status_code == status
    assert words in response.json()["detail"]
    after, verification = audit_log(seeded_db)
    assert len(after) == len(before) and verification.ok


def test_excusing_an_on_time_task_is_refused(client):
    task_id = create(client, deadline="2026-04-30").json()["id"]
    response = client.post(f"/api/v1/tasks/{task_id}/excuse-delay", json={"reason": "x"})
    assert response.status_code == 422
    assert "không chậm tiến độ" in response.json()["detail"]


def test_openapi_lists_the_task_routes(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/v1/officers/{officer_id}/tasks", "/api/v1/tasks/{task_id}",
            "/api/v1/tasks/{task_id}/quality-error",
            "/api/v1/tasks/{task_id}/excuse-delay"} <= set(paths)
    assert set(paths["/api/v1/tasks/{task_id}"]) == {"get", "patch"}


def test_who_may_plan_and_judge_tasks(app, client, seeded_db):
    """The officer plans their own work (self-registered: they are recorded as assigning it)
    and reports progress; only the leader or a head records an error or excuses a delay; others are
    refused, and an account that is no officer cannot act at all."""
    officer = TestClient(app, headers=as_officer(seeded_db, "HK-0001"))
    own = officer.post("/api/v1/officers/HK-0001/tasks", json={
        "title": "Số hoá hồ sơ tồn", "period": "week", "deadline": "2026-03-06"})
    assert own.status_code == 201 and own.json()["assigned_by"] == "HK-0001"
    task_id = own.json()["id"]
    assert officer.patch(f"/api/v1/tasks/{task_id}", json={"progress": 50}).status_code == 200
    refused = officer.post(f"/api/v1/tasks/{task_id}/quality-error", json={"reason": "x"})
    assert refused.status_code == 403 and "lãnh đạo trực tiếp" in refused.json()["detail"]
    assert officer.post("/api/v1/officers/HK-0002/tasks", json={
        "title": "x", "period": "week", "deadline": "2026-03-06"}).status_code == 403
    other_ward = TestClient(app, headers=as_officer(seeded_db, "BD-0101"))
    assert other_ward.patch(f"/api/v1/tasks/{task_id}",
                            json={"progress": 90}).status_code == 403
    assert other_ward.get(f"/api/v1/tasks/{task_id}").status_code == 403
    admin = TestClient(app, headers=admin_headers(seeded_db))
    assert admin.post(f"/api/v1/tasks/{task_id}/excuse-delay",
                      json={"reason": "x"}).status_code == 403
    assert client.post(f"/api/v1/tasks/{task_id}/quality-error",
                       json={"reason": "Sai số liệu"}).status_code == 201
    assert TestClient(app).get(f"/api/v1/tasks/{task_id}").status_code == 401


# --- issue 10: task records an officer cannot forge ---------------------------------------------

def test_an_officer_cannot_name_someone_else_as_who_assigned_the_task(app, seeded_db):
    """The issue's reproduction: an officer filed a task "assigned by" the head. Who assigned
    it is whoever registers it: an officer's own task is self-registered."""
    officer = TestClient(app, headers=as_officer(seeded_db, "HK-0001"))
    body = {"title": "Số hoá hồ sơ tồn", "period": "week", "deadline": "2026-03-06"}
    forged = officer.post("/api/v1/officers/HK-0001/tasks", json={**body,
                                                                   "assigned_by": "HK-0100"})
    assert forged.status_code == 403 and "assigned_by" in forged.json()["detail"]
    own = officer.post("/api/v1/officers/HK-0001/tasks", json=body)
    assert own.status_code == 201 and own.json()["assigned_by"] == "HK-0001"
    head = TestClient(app, headers=as_officer(seeded_db, "HK-0100"))
    assigned = head.post("/api/v1/officers/HK-0001/tasks", json=body)
    assert assigned.status_code == 201 and assigned.json()["assigned_by"] == "HK-0100"


def test_a_decided_month_is_locked_to_task_writes(app, client, seeded_db):
    task_id = create(client, deadline="2026-03-20").json()["id"]
    store = Store(seeded_db)
    try:
        store.db.execute("INSERT INTO evaluations (officer_id, month, final_grade, decided_by, "
                         "decided_at, updated_at) VALUES ('HK-0001', '2026-03', 'B', 'HK-0100', "
                         "?, ?)", [REGISTERED, REGISTERED])
    finally:
        store.close()
    officer = TestClient(app, headers=as_officer(seeded_db, "HK-0001"))
    for response in (
            officer.post("/api/v1/officers/HK-0001/tasks", json={
                "title": "x", "period": "month", "deadline": "2026-03-31"}),
            officer.patch(f"/api/v1/tasks/{task_id}", json={"completed_on": "2026-03-19"}),
            client.post(f"/api/v1/tasks/{task_id}/quality-error", json={"reason": "x"}),
            client.post(f"/api/v1/tasks/{task_id}/excuse-delay", json={"reason": "x"})):
        assert response.status_code == 409, response.text
        assert "locked" in response.json()["detail"]


def test_weight_and_completion_date_are_bounded(client):
    assert create(client, weight=10_000).status_code == 422
    task_id = create(client, deadline="2026-03-20").json()["id"]  # registered on 2 March
    backdated = client.patch(f"/api/v1/tasks/{task_id}", json={"completed_on": "2026-03-01"})
    assert backdated.status_code == 422 and "02/03/2026" in backdated.json()["detail"]


def test_task_writes_need_the_officer_in_the_accounts_scope(app, seeded_db):
    """Writes are scoped like reads: an account whose scope does not cover the officer (here
    an officer's account, whose scope is themself, made someone's leader of record by
    mistake) may not write their tasks any more than read them."""
    store = Store(seeded_db)
    try:
        store.db.execute("UPDATE officers SET leader_id = 'HK-0004' WHERE id = 'HK-0003'")
    finally:
        store.close()
    colleague = TestClient(app, headers=as_officer(seeded_db, "HK-0004", "officer"))
    seen = colleague.get("/api/v1/officers/HK-0003/tasks?month=2026-03")
    assert seen.status_code == 403, seen.text
    refused = colleague.post("/api/v1/officers/HK-0003/tasks", json={
        "title": "x", "period": "week", "deadline": "2026-03-06"})
    assert refused.status_code == 403 and "phạm vi" in refused.json()["detail"], refused.text
