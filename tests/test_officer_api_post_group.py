"""`POST /api/v1/officers` and `PATCH /api/v1/officers/{id}` take an optional `post_group` (issue
12): checked as `PUT /api/v1/officers/{id}/post-group` checks it, audited as the other officer
edits (`officer.create`, `officer.update`), and — as that route — set by administrators only:
the quota on the top grade is counted per group, so the head it binds must not draw the groups.
"""

from __future__ import annotations

import pytest
from accounts_support import admin_headers, as_officer
from fastapi.testclient import TestClient

from collector.app import create_app
from collector.core.settings import Settings
from collector.db import audit
from collector.db.reader import open_reader

MC, CM = "Một cửa", "Chuyên môn"
NEW = {"id": "HK-0009", "name": "Trần Văn Mới", "title": "Chuyên viên", "unit_id": "hk-1c",
       "leader_id": "HK-0101"}


@pytest.fixture
def app(seeded_db):
    return create_app(Settings(db_path=seeded_db, broker_url=None))


@pytest.fixture
def admin(app, seeded_db):
    with TestClient(app, headers=admin_headers(seeded_db)) as client:
        yield client


@pytest.fixture
def head(app, seeded_db):
    with TestClient(app, headers=as_officer(seeded_db, "HK-0100", "head")) as client:
        yield client


def entries(path, action: str) -> list[tuple]:
    db = open_reader(path)
    try:
        assert audit.verify(db).ok
        return [(e.actor, e.subject, e.before_value, e.after_value)
                for e in reversed(audit.recent(db, None)) if e.action == action]
    finally:
        db.conn.close()


def test_an_administrator_creates_an_officer_in_a_group(admin, seeded_db):
    created = admin.post("/api/v1/officers", json={**NEW, "post_group": "  Một cửa  "})
    assert created.status_code == 201 and created.json()["post_group"] == MC
    assert admin.get("/api/v1/officers/HK-0009").json()["post_group"] == MC
    [(actor, subject, before, after)] = entries(seeded_db, "officer.create")
    assert (actor, subject, before, after["post_group"]) == (
        "user:admin", "officer:HK-0009", None, MC)


def test_without_a_group_an_officer_is_in_the_default_group(admin):
    created = admin.post("/api/v1/officers", json=NEW)
    assert created.status_code == 201 and created.json()["post_group"] is None


def test_an_administrator_moves_an_officer_between_groups(admin, seeded_db):
    assert admin.patch("/api/v1/officers/HK-0001", json={"post_group": MC}).json()[
        "post_group"] == MC
    moved = admin.patch("/api/v1/officers/HK-0001", json={"post_group": CM, "title": "Cán sự"})
    assert (moved.json()["post_group"], moved.json()["title"]) == (CM, "Cán sự")
    cleared = admin.patch("/api/v1/officers/HK-0001", json={"post_group": None})
    assert cleared.status_code == 200 and cleared.json()["post_group"] is None
    # A PATCH without the field keeps the group.
    admin.patch("/api/v1/officers/HK-0001", json={"post_group": MC})
    kept = admin.patch("/api/v1/officers/HK-0001", json={"title": "Chuyên viên"})
    assert kept.json()["post_group"] == MC
    assert [(before, after) for _, subject, before, after in entries(seeded_db, "officer.update")
            if subject == "officer:HK-0001"] == [
        ({"post_group": None}, {"post_group": MC}),
        ({"post_group": MC, "title": "Chuyên viên"}, {"post_group": CM, "title": "Cán sự"}),
        ({"post_group": CM}, {"post_group": None}),
        ({"post_group": None}, {"post_group": MC}),
        ({"title": "Cán sự"}, {"title": "Chuyên viên"})]


@pytest.mark.parametrize("value, vi, en", [
    ("x" * 101, "post_group: tối đa 100 ký tự (hiện có 101)",
     "post_group: at most 100 characters (this has 101)"),
    ("Một\ncửa", "post_group: có ký tự điều khiển hoặc không hợp lệ U+000A",
     "post_group: holds a control or invalid character U+000A"),
])
def test_a_bad_group_is_refused_as_the_post_group_route_refuses_it(admin, value, vi, en):
    for answer in (admin.patch("/api/v1/officers/HK-0001", json={"post_group": value}),
                   admin.post("/api/v1/officers", json={**NEW, "post_group": value}),
                   admin.put("/api/v1/officers/HK-0001/post-group", json={"post_group": value})):
        assert answer.status_code == 422
        assert vi in answer.json()["detail"] and en in answer.json()["detail"]
    assert admin.get("/api/v1/officers/HK-0001").json()["post_group"] is None
    assert admin.get("/api/v1/officers/HK-0009").status_code == 404


def test_a_head_edits_officers_but_not_their_groups(head, admin, seeded_db):
    refused = head.patch("/api/v1/officers/HK-0001", json={"post_group": MC})
    assert refused.status_code == 403
    assert "quản trị viên" in refused.json()["detail"]
    assert "administrator" in refused.json()["detail"]
    assert head.post("/api/v1/officers", json={**NEW, "post_group": MC}).status_code == 403
    assert admin.get("/api/v1/officers/HK-0001").json()["post_group"] is None
    assert admin.get("/api/v1/officers/HK-0009").status_code == 404
    # Sending the group the officer already has, or none, changes no group: allowed.
    assert head.patch("/api/v1/officers/HK-0001",
                      json={"title": "Cán sự", "post_group": None}).status_code == 200
    assert head.post("/api/v1/officers", json={**NEW, "post_group": ""}).status_code == 201
    admin.patch("/api/v1/officers/HK-0001", json={"post_group": MC})
    assert head.patch("/api/v1/officers/HK-0001",
                      json={"title": "Chuyên viên", "post_group": MC}).status_code == 200
    assert head.patch("/api/v1/officers/HK-0001", json={"post_group": None}).status_code == 403
    assert admin.get("/api/v1/officers/HK-0001").json()["post_group"] == MC
