"""Officers' written responses (appeals) to a month: appended, never edited, audited; written by
the officer only, read by whoever may see the officer."""

from __future__ import annotations

from datetime import date

import pytest
from accounts_support import admin_headers, as_officer
from app_routes import all_routes
from fastapi.testclient import TestClient

from collector.db import audit
from collector.evaluation import responses
from collector.db.reader import open_reader
# Fixtures too: pytest finds them by name in this module.
from test_workspace import MONTH, TODAY, make_app, post
from test_workspace import cheap_passwords, open_session  # noqa: F401

URL = f"/api/v1/officers/HK-0001/evaluations/{MONTH}/responses"


@pytest.fixture
def service(store):
    clock = iter(range(1_000, 10**6, 1_000))
    return responses.ResponseService(store.db, clock=lambda: next(clock), today=lambda: TODAY)


@pytest.fixture
def day():
    return {"today": TODAY}


@pytest.fixture
def app(seeded_db, day):
    return make_app(seeded_db, day)


def entries(db, action=responses.ACTION):
    return [e for e in reversed(audit.recent(db, None)) if e.action == action]


def test_responses_are_appended_in_order_and_each_is_audited(service, store):
    first = service.add("HK-0001", MONTH, "HK-0001", "  Quầy 2 mất kết nối ngày 12/3.  ")
    second = service.add("HK-0001", MONTH, "HK-0001", "Bổ sung: có biên bản của kỹ thuật viên.")
    assert (first["text"], first["at"], first["actor_name"]) == (
        "Quầy 2 mất kết nối ngày 12/3.", 1_000, "Nguyễn Thị Thu Hường")
    listed = responses.list_responses(store.db, "HK-0001", MONTH)
    assert [item["id"] for item in listed["items"]] == [first["id"], second["id"]]
    assert listed["total"] == 2
    assert responses.list_responses(store.db, "HK-0001", "2026-02")["items"] == []
    logged = entries(store.db)
    assert [(e.actor, e.subject) for e in logged] == [
        ("officer:HK-0001", f"evaluation:HK-0001/{MONTH}")] * 2
    assert '"response_id":%d' % second["id"] in logged[1].after
    assert audit.verify(store.db).ok


@pytest.mark.parametrize("officer, month, actor, text, error, needle", [
    ("HK-0001", MONTH, "HK-0101", "Ý kiến", responses.ResponseForbidden, "Chỉ cán bộ HK-0001"),
    ("HK-0001", MONTH, None, "Ý kiến", responses.ResponseForbidden, "Chỉ cán bộ HK-0001"),
    ("HK-0001", MONTH, "HK-0001", "   ", responses.ResponseError, "không được để trống"),
    ("HK-0001", MONTH, "HK-0001", "x" * (responses.MAX_TEXT + 1), responses.ResponseError,
     f"tối đa {responses.MAX_TEXT} ký tự"),
    ("HK-0001", MONTH, "HK-0001", 42, responses.ResponseError, "phải là văn bản"),
    ("HK-0001", "2026-04", "HK-0001", "Ý kiến", responses.ResponseError, "chưa bắt đầu"),
    ("HK-0001", "2026-3", "HK-0001", "Ý kiến", responses.ResponseError, "Tháng không hợp lệ"),
    ("XX-9999", MONTH, "XX-9999", "Ý kiến", responses.ResponseNotFound, "Không tìm thấy"),
])
def test_refused_responses_write_nothing(service, store, officer, month, actor, text, error,
                                         needle):
    with pytest.raises(error) as caught:
        service.add(officer, month, actor, text)
    assert needle in caught.value.vi and caught.value.en
    assert store.db.execute("SELECT COUNT(*) FROM evaluation_responses").fetchone()[0] == 0
    assert entries(store.db) == []


def test_the_list_is_paginated(service, store):
    for n in range(5):
        service.add("HK-0001", MONTH, "HK-0001", f"Ý kiến {n}")
    page = responses.list_responses(store.db, "HK-0001", MONTH, limit=2, offset=2)
    assert [item["text"] for item in page["items"]] == ["Ý kiến 2", "Ý kiến 3"]
    assert (page["total"], page["limit"], page["offset"]) == (5, 2, 2)
    with pytest.raises(responses.ResponseError):
        responses.list_responses(store.db, "HK-0001", MONTH, limit=0)


def test_the_api_lets_the_officer_write_and_those_in_scope_read(app, seeded_db):
    officer, leader = as_officer(seeded_db, "HK-0001"), as_officer(seeded_db, "HK-0101")
    colleague, admin = as_officer(seeded_db, "HK-0002"), admin_headers(seeded_db)
    with TestClient(app) as client:
        created = client.post(URL, json={"text": "Đề nghị xem lại ngày 12/3"}, headers=officer)
        assert created.status_code == 201 and created.json()["actor"] == "HK-0001"
        refused = client.post(URL, json={"text": "Thay mặt cán bộ"}, headers=leader)
        assert refused.status_code == 403 and "Chỉ cán bộ HK-0001" in refused.json()["detail"]
        assert client.post(URL, json={"text": ""}, headers=officer).status_code == 422
        assert client.post(URL.replace(MONTH, "2026-04"), json={"text": "Sớm"},
                           headers=officer).status_code == 422
        assert client.post(URL, json={"text": "Ý kiến"}, headers=admin).status_code == 403
        for reader in (officer, leader, admin):
            listed = client.get(URL, headers=reader)
            assert listed.status_code == 200
            assert [i["text"] for i in listed.json()["items"]] == ["Đề nghị xem lại ngày 12/3"]
        assert client.get(URL, headers=colleague).status_code == 403
        assert client.get(URL.replace("HK-0001", "XX-9999"), headers=admin).status_code == 404
        assert client.get(URL + "?limit=0", headers=admin).status_code == 422


def test_the_page_appends_a_response_and_lists_the_earlier_ones(open_session, seeded_db):
    me = open_session("HK-0001")
    for text in ("Ý kiến thứ nhất", "Ý kiến thứ hai"):
        sent = post(me, "/me/responses", text=text)
        assert sent.status_code == 303
        assert sent.headers["location"] == f"/me?month={MONTH}&done=response#responses"
    page = me.get(f"/me?month={MONTH}").text
    assert page.index("Ý kiến thứ nhất") < page.index("Ý kiến thứ hai")
    assert 'data-testid="response-form"' in page
    refused = post(me, "/me/responses", text="   ")
    assert refused.status_code == 422 and "không được để trống" in refused.text
    db = open_reader(seeded_db)
    try:
        assert [e.actor for e in entries(db)] == ["officer:HK-0001"] * 2
        assert audit.verify(db).ok
    finally:
        db.conn.close()
    assert me.get(f"/me?month={MONTH}").text.count("data-response=") == 2


def test_no_route_edits_or_deletes_a_response(app):
    methods = {method for route in all_routes(app.routes) if "responses" in route.path
               for method in route.methods}
    assert methods == {"GET", "POST"}


def test_a_response_may_be_written_for_a_past_month(service):
    assert service.add("HK-0001", "2025-12", "HK-0001", "Tháng 12")["month"] == "2025-12"
    assert responses.check_month("2026-03", date(2026, 3, 1)) == "2026-03"
