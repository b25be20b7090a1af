"""The workflow API: a month through HTTP, each error's status code, the unit's status, the
calendar, and the configured policy."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from accounts_support import admin_headers, as_officer

from collector.db import audit
from collector.web import deps
from collector.app import create_app
from collector.evaluation.policy import PRESETS_DIR
from collector.db.reader import open_reader
from collector.core.settings import Settings
from collector.db.store import Store
from collector.evaluation.workflow.steps import load_configured_policy
from test_workflow import HANOI, MONTH, build_org

URL = f"/api/v1/officers/O1/evaluations/{MONTH}"
TODAY = date(2026, 4, 1)


DB: list[Path] = []  # this test's database, for `as_`


@pytest.fixture
def db_path(tmp_path):
    path = tmp_path / "hailong.db"
    store = Store(path)
    build_org(store)
    store.close()
    DB[:] = [path]
    return path


@pytest.fixture
def day():
    return {"today": TODAY}


@pytest.fixture
def client(db_path, day):
    app = create_app(Settings(db_path, broker_url=None))
    app.dependency_overrides[deps.today] = lambda: day["today"]
    with TestClient(app) as client:
        client.db_path = db_path
        yield client


HEADERS: dict[tuple, dict[str, str]] = {}


def as_(officer):
    """Headers acting as `officer` through their own account (made on first use); "ADMIN"
    is an administrator's account."""
    if (DB[0], officer) not in HEADERS:
        HEADERS[DB[0], officer] = (admin_headers(DB[0]) if officer == "ADMIN"
                                   else as_officer(DB[0], officer))
    return HEADERS[DB[0], officer]


def review_body(grade="HTTNV", **extra):
    return {"scores": HANOI, "comment": "Tốt", "proposed_grade": grade, **extra}


def test_a_month_through_the_api(client, db_path):
    response = client.put(f"{URL}/self", json={"scores": HANOI, "comment": "Đã xong"},
                          headers=as_("O1"))
    assert response.status_code == 200 and response.json()["stage"] == "self_done"
    response = client.put(f"{URL}/review", json=review_body(), headers=as_("L1"))
    assert response.status_code == 200 and response.json()["stage"] == "reviewed"
    response = client.post(f"{URL}/decision", json={"final_grade": "B"}, headers=as_("H1"))
    assert response.status_code == 200
    decided = response.json()
    assert (decided["stage"], decided["decision"]["final_grade"]) == ("decided", "HTTNV")
    # W1's other 5 officers are not graded yet: counted at their best, the check is provisional.
    assert (decided["quota"]["rated"], decided["quota"]["pending"],
            decided["quota"]["provisional"]) == (6, 5, True)
    # The frozen evidence is the merge's officer-month (collector/evaluation/month.py): no
    # ratings, no tasks, so the suggestion is the review's 18 + 5; the head decided B, so the
    # final score follows the grade to B's floor, 70 (tests/test_final_score.py).
    snapshot = decided["decision"]["snapshot"]
    assert {"satisfaction", "tasks", "suggestion"} <= set(snapshot)
    assert snapshot["suggestion"]["score"] == decided["decision"]["suggested_score"] == 23.0
    assert decided["decision"]["final_score"] == 70.0

    seen = client.get(URL, headers=as_("O1")).json()
    assert seen["stage"] == "decided" and seen["may"]["self"] is True
    assert [c["code"] for c in seen["criteria"]] == ["discipline_ethics", "bonus"]
    assert client.get(URL, headers=as_("H1")).json()["may"] == {
        "view": True, "self": False, "review": False, "decide": True, "reopen": True}

    response = client.post(f"{URL}/reopen", json={"reason": "Sai số liệu"}, headers=as_("H1"))
    assert response.status_code == 200 and response.json()["stage"] == "reviewed"

    db = open_reader(db_path)
    try:
        assert [e.action for e in reversed(audit.recent(db, None))
                if not e.action.startswith("user.")] == [
            "evaluation.self", "evaluation.review", "evaluation.decide", "evaluation.reopen"]
        assert audit.verify(db).ok
    finally:
        db.conn.close()


def test_no_account_is_401(client):
    for response in (client.get(URL), client.put(f"{URL}/self", json={"scores": HANOI}),
                     client.get(f"/api/v1/units/W1/evaluations/{MONTH}/status"),
                     client.put(f"/api/v1/calendar/{MONTH}",
                                json={"self_due": "2026-04-06", "review_due": "2026-04-08",
                                      "decision_due": "2026-04-10"})):
        assert response.status_code == 401
        assert "Log in or send an API token" in response.json()["detail"]


@pytest.mark.parametrize("method, path, body, actor", [
    ("get", URL, None, "S"),
    ("get", URL, None, "ADMIN"),  # an account that is no officer takes no part
    ("put", f"{URL}/self", {"scores": HANOI}, "L1"),
    ("put", f"{URL}/review", review_body(), "H1"),
    ("post", f"{URL}/decision", {"final_grade": "HTTNV"}, "H2"),
    ("post", f"{URL}/reopen", {"reason": "x"}, "L1"),
    ("get", f"/api/v1/units/W1/evaluations/{MONTH}/status", None, "L1"),
    ("put", f"/api/v1/calendar/{MONTH}", {"self_due": "2026-04-06",
                                          "review_due": "2026-04-08",
                                          "decision_due": "2026-04-10"}, "H1"),
])
def test_not_permitted_is_403_in_both_languages(client, method, path, body, actor):
    response = client.request(method, path, json=body, headers=as_(actor))
    assert response.status_code == 403
    assert " / " in response.json()["detail"]


@pytest.mark.parametrize("method, path, body, status", [
    ("get", "/api/v1/officers/NOBODY/evaluations/2026-03", None, 404),
    ("put", "/api/v1/officers/NOBODY/evaluations/2026-03/self", {"scores": HANOI}, 404),
    ("get", f"/api/v1/units/NOWHERE/evaluations/{MONTH}/status", None, 404),
    ("get", "/api/v1/officers/O1/evaluations/2026-3", None, 422),
    ("put", f"{URL}/self", {"scores": {"bonus": 3}}, 422),
    ("put", f"{URL}/self", {"scores": {**HANOI, "bonus": 11}}, 422),
    ("get", "/api/v1/calendar/2026-13", None, 422),
    ("put", f"{URL}/review", review_body(), 409),             # no self-evaluation yet
    ("post", f"{URL}/decision", {"final_grade": "HTTNV"}, 409),  # no review yet
    ("post", f"{URL}/reopen", {"reason": "x"}, 409),          # nothing decided
    ("put", "/api/v1/officers/O1/evaluations/2026-05/self", {"scores": HANOI}, 409),
])
def test_errors_have_their_status_codes(client, method, path, body, status):
    actor = {"/review": "L1", "/decision": "H1", "/reopen": "H1"}.get(
        path[path.rfind("/"):], "O1" if "/officers/" in path else "H1")
    response = client.request(method, path, json=body, headers=as_(actor))
    assert response.status_code == status, response.json()
    assert " / " in response.json()["detail"]


def test_an_exceeded_quota_is_409_until_acknowledged(client, day):
    day["today"] = date(2026, 4, 4)  # the self-evaluation is overdue: review without it
    o2 = URL.replace("/O1/", "/O2/")
    client.put(f"{o2}/review", json=review_body("HTXSNV"), headers=as_("L1"))
    first = client.post(f"{o2}/decision", json={"final_grade": "A"}, headers=as_("H1"))
    assert first.status_code == 200  # W1 has 6 officers: floor(30 % × 6) = 1 A
    client.put(f"{URL}/review", json=review_body("HTXSNV"), headers=as_("L1"))
    refused = client.post(f"{URL}/decision", json={"final_grade": "A"}, headers=as_("H1"))
    assert refused.status_code == 409
    assert "30% × 6 (those rated) = 1" in refused.json()["detail"]
    assert "Provisional: 4 not decided yet" in refused.json()["detail"]
    assert "acknowledge_quota" not in refused.json()["detail"].split(" / ")[0]
    accepted = client.post(f"{URL}/decision", json={"final_grade": "A", "acknowledge_quota":
                                                    True, "note": "Lập thành tích đột xuất"},
                           headers=as_("H1"))
    assert accepted.status_code == 200
    assert accepted.json()["quota"]["exceeded"] is True
    assert accepted.json()["history"][-1]["data"]["acknowledged_quota"] is True


def test_a_grade_below_the_top_is_decided_over_the_proposals_without_acknowledging(client,
                                                                                    day):
    """Issue 12: W1 (6 officers) may have floor(30 % × 6) = 1 A; the leader proposes A for O1
    and O2, over it. A B for O1 cannot raise the count of A: 200 without acknowledge_quota,
    and no acknowledgement recorded; O2's A is then the first decided: 200 as well."""
    day["today"] = date(2026, 4, 4)
    o2 = URL.replace("/O1/", "/O2/")
    for url in (URL, o2):
        client.put(f"{url}/review", json=review_body("HTXSNV"), headers=as_("L1"))
    b = client.post(f"{URL}/decision", json={"final_grade": "B"}, headers=as_("H1"))
    assert b.status_code == 200, b.json()
    assert b.json()["history"][-1]["data"]["acknowledged_quota"] is False
    assert (b.json()["quota"]["proposed"], b.json()["quota"]["refuses"]) == (0, False)
    a = client.post(f"{o2}/decision", json={"final_grade": "A"}, headers=as_("H1"))
    assert a.status_code == 200, a.json()
    assert (a.json()["quota"]["proposed"], a.json()["quota"]["cap"]) == (1, 1)


def test_review_and_decision_before_the_month_is_over_are_409(client, day):
    day["today"] = date(2026, 3, 30)
    assert client.put(f"{URL}/self", json={"scores": HANOI},
                      headers=as_("O1")).status_code == 200
    response = client.put(f"{URL}/review", json=review_body(), headers=as_("L1"))
    assert response.status_code == 409
    assert response.json()["detail"].startswith("Tháng 03/2026 chưa kết thúc")
    assert "2026-03 is not over" in response.json()["detail"]


def test_unit_status_for_the_heads(client, day):
    client.put(f"{URL}/self", json={"scores": HANOI}, headers=as_("O1"))
    day["today"] = date(2026, 4, 6)
    response = client.get(f"/api/v1/units/W1/evaluations/{MONTH}/status", headers=as_("H1"))
    assert response.status_code == 200
    rows = {o["officer_id"]: o["late_steps"] for o in response.json()["officers"]}
    assert rows["O1"] == ["review"] and rows["O2"] == ["self", "review"]
    assert client.get(f"/api/v1/units/F1/evaluations/{MONTH}/status",
                      headers=as_("H0")).status_code == 200


def test_calendar_defaults_then_set(client):
    default = client.get(f"/api/v1/calendar/{MONTH}", headers=as_("O1")).json()
    assert default == {"month": MONTH, "opens": "2026-03-25", "self_due": "2026-04-03",
                       "review_due": "2026-04-05", "decision_due": "2026-04-07",
                       "source": "default", "set_by": None, "set_at": None}
    body = {"self_due": "2026-04-06", "review_due": "2026-04-08", "decision_due": "2026-04-10"}
    response = client.put(f"/api/v1/calendar/{MONTH}", json=body, headers=as_("H0"))
    assert response.status_code == 200
    stored = client.get(f"/api/v1/calendar/{MONTH}", headers=as_("O1")).json()
    assert {k: stored[k] for k in body} == body and stored["set_by"] == "H0"
    by_admin = client.put(f"/api/v1/calendar/{MONTH}", headers=as_("ADMIN"), json={
        **body, "decision_due": "2026-04-11"})
    assert by_admin.status_code == 200 and by_admin.json()["set_by"] == "admin"
    bad = client.put(f"/api/v1/calendar/{MONTH}", json={**body, "self_due": "2026-04-09"},
                     headers=as_("H0"))
    assert bad.status_code == 422 and "step order" in bad.json()["detail"]


def test_the_policy_comes_from_the_settings(tmp_path, db_path):
    assert load_configured_policy(Settings(db_path)).name == "hanoi-3814"
    assert load_configured_policy(Settings(db_path, policy="decree-335")).name == "decree-335"
    copy = tmp_path / "our-policy.toml"
    shutil.copy(PRESETS_DIR / "decree-335.toml", copy)
    assert load_configured_policy(Settings(db_path, policy=str(copy))).name == "decree-335"
    with pytest.raises(ValueError, match="unknown policy preset"):
        load_configured_policy(Settings(db_path, policy="hanoi-2099"))


def test_decree_335_criteria_through_the_api(db_path, day):
    app = create_app(Settings(db_path, broker_url=None, policy="decree-335"))
    app.dependency_overrides[deps.today] = lambda: day["today"]
    with TestClient(app) as client:
        assert client.put(f"{URL}/self", json={"scores": HANOI},
                          headers=as_("O1")).status_code == 422
        scores = {"politics_ethics": 7.5, "discipline": 7, "service_attitude": 6,
                  "innovation": 5}
        response = client.put(f"{URL}/self", json={"scores": scores}, headers=as_("O1"))
        assert response.status_code == 200
        assert response.json()["self"]["scores"] == scores
