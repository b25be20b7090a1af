"""The workspaces through the browser's eyes: /me (an officer's plan, self-evaluation, evidence,
responses) and /team (a leader assigns, flags, excuses), with sessions, CSRF and scope."""

from __future__ import annotations

import re
from datetime import date, datetime

import pytest
from accounts_support import PASSWORD, admin_headers, as_officer
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from collector.accounts import users as accounts
from collector.db import audit
from collector.web import deps
from collector.app import create_app
from collector.db.reader import open_reader
from collector.evaluation.task_records import get_task
from collector.core.settings import Settings
from collector.db.store import Store
from collector.evaluation.tasks import TaskService
from collector.core.timeline import LOCAL_TZ
from collector.org.organisation import upsert_officer

MONTH = "2026-03"
TODAY = date(2026, 3, 26)  # the March self-evaluation opened on the 25th


def make_app(db_path, day):
    """The app on `db_path`, its days following `day["today"]`."""
    app = create_app(Settings(db_path=db_path, broker_url=None))
    app.dependency_overrides[deps.today] = lambda: day["today"]
    # The clock that stamps records follows the same day (a task registered "today" may be
    # completed today, not before).
    app.dependency_overrides[deps.clock] = lambda: at_nine(day["today"])
    return app


def at_nine(day: date) -> int:
    """Unix ms of 09:00 local on `day`."""
    return int(datetime(day.year, day.month, day.day, 9, tzinfo=LOCAL_TZ).timestamp() * 1000)


@pytest.fixture(autouse=True)
def cheap_passwords(monkeypatch):
    """argon2 at its lowest cost: these tests are about the pages, not password hashing."""
    monkeypatch.setattr(accounts, "_hasher",
                        PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture
def day():
    return {"today": TODAY}


@pytest.fixture
def app(seeded_db, day):
    return make_app(seeded_db, day)


@pytest.fixture
def open_session(app, seeded_db):
    """open_session(officer_id or "admin") → a logged-in client (cookies kept, redirects not
    followed) with its CSRF token as `client.csrf`."""
    clients = []

    def open_(who: str) -> TestClient:
        if who == "admin":
            admin_headers(seeded_db)
            login = "admin"
        else:
            as_officer(seeded_db, who)
            login = "cb." + who.lower()
        client = TestClient(app, follow_redirects=False)
        client.__enter__()
        clients.append(client)
        assert client.post("/login", data={"login": login, "password": PASSWORD}).status_code == 303
        client.csrf = client.get("/api/v1/me").json()["csrf_token"]
        return client
    yield open_
    for client in clients:
        client.__exit__(None, None, None)


def post(client, path, **fields):
    return client.post(path, data={"csrf_token": client.csrf, "month": MONTH, **fields})


def read(seeded_db, sql, params=()):
    db = open_reader(seeded_db)
    try:
        return db.execute(sql, params).fetchall()
    finally:
        db.conn.close()


def audit_actions(seeded_db, actor):
    db = open_reader(seeded_db)
    try:
        assert audit.verify(db).ok
        return [e.action for e in reversed(audit.recent(db, None)) if e.actor == actor]
    finally:
        db.conn.close()


def alert_text(html: str) -> str:
    found = re.search(r'<p class="error" role="alert">(.*?)</p>', html, re.S)
    assert found, "no error shown"
    return found.group(1)


def add_task(seeded_db, officer, deadline, title="Rà soát hồ sơ", by="HK-0101", *, day=TODAY):
    store = Store(seeded_db)
    try:
        return TaskService(store, today=lambda: day, clock=lambda: at_nine(day)).create(
            officer, title=title, assigned_by=by, period="week", deadline=deadline)["id"]
    finally:
        store.close()


# --- /me ---------------------------------------------------------------------------------------

def test_an_officer_plans_updates_completes_and_self_evaluates_from_the_page(open_session,
                                                                             seeded_db):
    me = open_session("HK-0001")
    page = me.get(f"/me?month={MONTH}")
    assert page.status_code == 200 and 'data-testid="add-task"' in page.text
    assert 'data-testid="self-form"' in page.text and 'data-testid="my-evidence"' in page.text

    added = post(me, "/me/tasks", title="Số hóa hồ sơ tồn", period="week",
                 deadline="2026-03-27", weight="1,5")
    assert added.status_code == 303
    location = added.headers["location"]
    assert location.startswith(f"/me?month={MONTH}&done=task_added#task-")
    task_id = int(location.rsplit("-", 1)[1])
    shown = me.get(location.split("#")[0])
    assert f'data-task="{task_id}"' in shown.text and 'role="status"' in shown.text
    assert f'data-testid="progress-{task_id}"' in shown.text
    assert read(seeded_db, "SELECT assigned_by, weight, period FROM tasks WHERE id = ?",
                [task_id]) == [("HK-0001", 1.5, "week")]  # self-registered (issue 10)

    assert post(me, f"/me/tasks/{task_id}/progress", progress="40",
                note="Đã số hóa 40 hồ sơ").status_code == 303
    assert read(seeded_db, "SELECT progress, progress_note FROM tasks WHERE id = ?",
                [task_id]) == [(40, "Đã số hóa 40 hồ sơ")]
    done = post(me, f"/me/tasks/{task_id}/done", completed_on="2026-03-26")
    assert done.status_code == 303 and "done=completed" in done.headers["location"]
    assert read(seeded_db, "SELECT progress, completed_on FROM tasks WHERE id = ?",
                [task_id]) == [(100, "2026-03-26")]

    saved = post(me, "/me/self-evaluation", **{"scores.discipline_ethics": "18,5",
                                               "scores.bonus": "5", "comment": "Hoàn thành"})
    assert saved.status_code == 303 and saved.headers["location"] == \
        f"/me?month={MONTH}&done=self#self"
    row = read(seeded_db, "SELECT self_scores, self_comment FROM evaluations "
                          "WHERE officer_id = 'HK-0001' AND month = ?", [MONTH])
    assert row == [('{"bonus":5.0,"discipline_ethics":18.5}', "Hoàn thành")]
    page = me.get(f"/me?month={MONTH}")
    assert 'data-stage="self_done"' in page.text and "18,5" in page.text
    assert audit_actions(seeded_db, "officer:HK-0001") == [
        "task.create", "task.update", "task.update", "evaluation.self"]


def test_a_refusal_is_shown_in_the_page_language_and_changes_nothing(open_session, seeded_db):
    me = open_session("HK-0001")
    task_id = add_task(seeded_db, "HK-0001", "2026-03-27")
    refused = post(me, f"/me/tasks/{task_id}/done", completed_on="2026-03-27")
    assert refused.status_code == 422
    assert "không được sau hôm nay" in alert_text(refused.text)
    me.cookies.set("hailong_lang", "en")
    refused = post(me, f"/me/tasks/{task_id}/progress", progress="140")
    assert refused.status_code == 422
    assert alert_text(refused.text) == "progress: must be a whole number from 0 to 100 (%)"
    not_a_number = post(me, "/me/tasks", title="X", period="week", deadline="2026-03-27",
                        weight="nhiều")
    assert not_a_number.status_code == 422 and alert_text(not_a_number.text) == \
        "weight: enter a number"
    assert 'value="X"' in not_a_number.text  # what was typed is kept
    assert read(seeded_db, "SELECT progress, completed_on FROM tasks WHERE id = ?",
                [task_id]) == [(0, None)]
    assert read(seeded_db, "SELECT COUNT(*) FROM tasks WHERE title = 'X'") == [(0,)]


def test_a_decided_month_refuses_task_forms_with_the_apis_status(open_session, seeded_db):
    """Issue 10: the pages write through the same service as the API, so a month the head
    has decided takes no task from a form either (409, the reason shown)."""
    task_id = add_task(seeded_db, "HK-0001", "2026-03-20")
    store = Store(seeded_db)
    try:
        store.db.execute("INSERT INTO evaluations (officer_id, month, final_grade, decided_by, "
                         "decided_at, updated_at) VALUES ('HK-0001', ?, 'B', 'HK-0100', 1, 1)",
                         [MONTH])
    finally:
        store.close()
    me = open_session("HK-0001")
    for path, fields in (("/me/tasks", {"title": "Bổ sung", "period": "week",
                                        "deadline": "2026-03-20"}),
                         (f"/me/tasks/{task_id}/done", {"completed_on": "2026-03-26"})):
        refused = post(me, path, **fields)
        assert refused.status_code == 409
        assert "đã được thủ trưởng quyết định và khoá" in alert_text(refused.text)
    lead = open_session("HK-0101")
    refused = post(lead, f"/team/tasks/{task_id}/quality-error", reason="Sai số liệu")
    assert refused.status_code == 409
    assert read(seeded_db, "SELECT COUNT(*) FROM tasks") == [(1,)]
    assert read(seeded_db, "SELECT COUNT(*) FROM task_flags") == [(0,)]


def test_the_self_evaluation_waits_for_its_opening_day(open_session, day, seeded_db):
    day["today"] = date(2026, 3, 10)
    me = open_session("HK-0001")
    page = me.get(f"/me?month={MONTH}")
    assert 'data-testid="self-form"' not in page.text and "25/03/2026" in page.text
    refused = post(me, "/me/self-evaluation", **{"scores.discipline_ethics": "18",
                                                 "scores.bonus": "5"})
    assert refused.status_code == 409 and "mở từ 25/03/2026" in alert_text(refused.text)
    assert read(seeded_db, "SELECT COUNT(*) FROM evaluations") == [(0,)]


def test_last_months_self_evaluation_is_recalled_until_it_is_due(open_session, day):
    day["today"] = date(2026, 4, 2)  # March's self-evaluation is due on 3 April
    me = open_session("HK-0001")
    page = me.get("/me")
    assert f'href="/me?month={MONTH}#self"' in page.text and "03/04/2026" in page.text
    assert post(me, "/me/self-evaluation", **{"scores.discipline_ethics": "18",
                                              "scores.bonus": "5"}).status_code == 303
    assert f'href="/me?month={MONTH}#self"' not in me.get("/me").text


def test_the_page_shows_the_evidence_leaders_see_with_excluded_presses(open_session, seeded_db):
    store = Store(seeded_db)
    try:  # two counted presses and one the cooldown filtered, all attributed to HK-0001
        device = store.db.execute("SELECT d.id FROM devices d JOIN counters c "
                                  "ON c.id = d.counter_id WHERE c.unit_id = 'hk-1c' "
                                  "LIMIT 1").fetchone()[0]
        at = 1773900000000  # 2026-03-19 local
        for n, (level, excluded) in enumerate(((4, None), (3, None), (4, "cooldown"))):
            store.db["ratings"].insert({
                "id": f"r{n}", "device_id": device, "boot": 1, "seq": n, "level": level,
                "scale": 4, "officer_id": "HK-0001", "attribution": "roster",
                "pressed_at": at + n, "received_at": at + n, "excluded": excluded})
        store.db.conn.commit()
    finally:
        store.close()
    page = open_session("HK-0001").get(f"/me?month={MONTH}")
    evidence = page.text.split('data-testid="my-evidence"')[1].split("</section>")[0]
    assert "Bấm lặp trong thời gian chờ" in evidence  # the excluded press, with its reason
    assert "chưa đủ dữ liệu đánh giá" in evidence  # 2 counted ratings: below the minimum
    assert "Kết quả thực hiện nhiệm vụ" in evidence and "Điểm gợi ý" in evidence


def test_an_account_without_an_officer_record_gets_a_clear_message(open_session):
    admin = open_session("admin")
    page = admin.get("/me")
    assert page.status_code == 200 and "không gắn với hồ sơ cán bộ" in page.text
    assert 'data-testid="add-task"' not in page.text
    refused = post(admin, "/me/tasks", title="X", period="week", deadline="2026-03-27")
    assert refused.status_code == 403
    assert admin.get("/team").status_code == 403


# --- /team -------------------------------------------------------------------------------------

def test_a_leader_assigns_flags_an_error_and_excuses_a_delay(open_session, seeded_db):
    lead = open_session("HK-0101")
    page = lead.get(f"/team?month={MONTH}")
    assert page.status_code == 200 and 'data-testid="team"' in page.text
    for officer in ("HK-0001", "HK-0002", "HK-0003", "HK-0004"):
        assert f'<tr data-officer="{officer}">' in page.text
        assert f'data-testid="review-{officer}" href="/officers/{officer}?month={MONTH}"' \
            in page.text

    assigned = post(lead, "/team/tasks", officer_id="HK-0002", title="Báo cáo quý",
                    period="month", deadline="2026-03-20", weight="2")
    assert assigned.status_code == 303
    assert assigned.headers["location"] == f"/team?month={MONTH}&done=assigned#assign"
    (task_id, by), = read(seeded_db, "SELECT id, assigned_by FROM tasks WHERE title = ?",
                          ["Báo cáo quý"])
    assert by == "HK-0101"
    follow = lead.get(f"/team?month={MONTH}&officer=HK-0002")
    assert f'data-testid="flag-error-{task_id}"' in follow.text  # overdue since the 20th
    assert f'data-testid="excuse-{task_id}"' in follow.text

    assert post(lead, f"/team/tasks/{task_id}/quality-error",
                reason="Số liệu sai lệch").status_code == 303
    excused = post(lead, f"/team/tasks/{task_id}/excuse-delay", officer="HK-0002",
                   reason="Chờ số liệu của Sở")
    assert excused.status_code == 303 and excused.headers["location"] == \
        f"/team?month={MONTH}&officer=HK-0002&done=excused#follow"
    again = post(lead, f"/team/tasks/{task_id}/excuse-delay", reason="Lần nữa")
    assert again.status_code == 422 and "đã được miễn trừ" in alert_text(again.text)
    assert post(lead, f"/team/tasks/{task_id}/quality-error", reason=" ").status_code == 422

    db = open_reader(seeded_db)
    try:
        task = get_task(db, task_id)
    finally:
        db.conn.close()
    assert [(f["kind"], f["reason"]) for f in task["flags"]] == [
        ("major_error", "Số liệu sai lệch"), ("delay_excused", "Chờ số liệu của Sở")]
    assert audit_actions(seeded_db, "officer:HK-0101") == [
        "task.create", "task.quality_error", "task.excuse_delay"]
    team = lead.get(f"/api/v1/team?month={MONTH}").json()
    members = {member["officer_id"]: member for member in team["members"]}
    assert members["HK-0002"]["tasks"] == {
        "registered": 1, "on_time": 0, "late": 0, "overdue": 1, "excused": 1, "open": 0}


def test_a_head_leads_those_without_a_leader_of_record(open_session):
    head = open_session("HK-0100")
    page = head.get(f"/team?month={MONTH}")
    assert re.findall(r'<tr data-officer="([^"]+)">', page.text) == ["HK-0101"]


def test_an_officer_reaches_neither_a_colleague_nor_the_team_actions(open_session, seeded_db):
    colleague_task = add_task(seeded_db, "HK-0002", "2026-03-20")
    own_task = add_task(seeded_db, "HK-0001", "2026-03-20")
    me = open_session("HK-0001")
    team = me.get("/team")
    assert team.status_code == 403 and 'data-testid="team"' not in team.text
    page = me.get(f"/me?month={MONTH}")
    assert f'data-task="{own_task}"' in page.text
    assert f'data-task="{colleague_task}"' not in page.text
    for path, fields in ((f"/me/tasks/{colleague_task}/progress", {"progress": "50"}),
                         (f"/me/tasks/{colleague_task}/done", {"completed_on": "2026-03-20"}),
                         ("/team/tasks", {"officer_id": "HK-0002", "title": "X",
                                          "period": "week", "deadline": "2026-03-27"}),
                         (f"/team/tasks/{own_task}/quality-error", {"reason": "tự ghi"}),
                         (f"/team/tasks/{own_task}/excuse-delay", {"reason": "tự miễn"})):
        refused = post(me, path, **fields)
        assert refused.status_code == 403, path
    assert me.get(f"/api/v1/officers/HK-0002/evaluations/{MONTH}/responses").status_code == 403
    assert me.get("/api/v1/team").status_code == 403
    # Without the session's CSRF token nothing is even tried.
    assert me.post("/me/tasks", data={"title": "X", "period": "week",
                                      "deadline": "2026-03-27"}).status_code == 403
    assert read(seeded_db, "SELECT COUNT(*) FROM task_flags") == [(0,)]
    assert read(seeded_db, "SELECT progress FROM tasks WHERE id = ?", [colleague_task]) == [(0,)]


# --- pagination --------------------------------------------------------------------------------

def test_the_team_and_its_tasks_are_paginated(open_session, seeded_db):
    store = Store(seeded_db)
    try:
        for n in range(26):  # 4 seeded + 26 = 30 people led by HK-0101
            upsert_officer(store.db, f"HK-1{n:03d}", f"Cán bộ {n:03d}", "Chuyên viên", "hk-1c",
                                     leader_id="HK-0101")
    finally:
        store.close()
    for n in range(27):
        add_task(seeded_db, "HK-1000", f"2026-03-{n % 28 + 1:02d}", title=f"Việc {n:02d}")
    lead = open_session("HK-0101")
    first = lead.get(f"/team?month={MONTH}")
    rows = re.findall(r'<tr data-officer="([^"]+)">', first.text)
    assert len(rows) == 25 and "1–25 trong tổng số 30" in first.text
    following = re.search(r'<a href="([^"]+)" rel="next">', first.text).group(1)
    second = lead.get(following.replace("&amp;", "&"))
    rest = re.findall(r'<tr data-officer="([^"]+)">', second.text)
    assert len(rest) == 5 and not set(rows) & set(rest)
    assert "26–30 trong tổng số 30" in second.text

    tasks_page = lead.get(f"/team?month={MONTH}&officer=HK-1000&tasks_page=2")
    followed = re.findall(r'<tr data-task="(\d+)"', tasks_page.text)
    assert len(followed) == 2 and "26–27 trong tổng số 27" in tasks_page.text
    beyond = lead.get(f"/team?month={MONTH}&officer=HK-1000&tasks_page=9")
    assert re.findall(r'<tr data-task="(\d+)"', beyond.text) == followed  # the last page


def test_the_work_plan_is_paginated(open_session, seeded_db):
    for n in range(26):
        add_task(seeded_db, "HK-0001", f"2026-03-{n + 1:02d}", title=f"Việc {n:02d}")
    me = open_session("HK-0001")
    first = re.findall(r'data-task="(\d+)"', me.get(f"/me?month={MONTH}").text)
    second = re.findall(r'data-task="(\d+)"', me.get(f"/me?month={MONTH}&page=2").text)
    assert len(first) == 25 and len(second) == 1 and second[0] not in first
