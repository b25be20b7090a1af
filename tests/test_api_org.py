"""The organisation and roster API on a seeded database: tree, records, shifts, errors, audit."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from accounts_support import admin_headers, as_officer, token_headers
from app_routes import operations

from collector.api import org as api_org
from collector.db import audit
from collector.app import create_app
from collector.db.reader import open_reader
from collector.core.settings import Settings
from collector.ingest.recording import record_batch



@pytest.fixture
def app(seeded_db):
    app = create_app(Settings(db_path=seeded_db, broker_url=None))
    return app


@pytest.fixture
def client(app, seeded_db):
    with TestClient(app, headers=admin_headers(seeded_db)) as client:
        yield client


def audit_log(seeded_db):
    db = open_reader(seeded_db)
    try:
        return audit.recent(db, None), audit.verify(db)
    finally:
        db.conn.close()


def test_the_app_serves_each_route_once():
    ours = operations(api_org.router.routes)
    served = operations(create_app(Settings(db_path="unused.db", broker_url=None)).routes)
    assert ("GET", "/api/v1/officers/{officer_id}") in ours
    assert all(served[operation] == 1 for operation in ours)


def test_openapi_documents_every_route(client):
    paths = client.get("/openapi.json").json()["paths"]
    for route in api_org.router.routes:
        for method in route.methods:
            operation = paths[route.path][method.lower()]
            assert operation["description"] or operation["summary"]


def test_units_come_as_a_tree(client):
    tree = client.get("/api/v1/units").json()
    assert [root["id"] for root in tree] == ["hn"]
    wards = tree[0]["children"]
    assert [(w["id"], w["kind"], w["head_name"]) for w in wards] == [
        ("bd", "ward", "Lương Văn Khánh"), ("hk", "ward", "Ngô Thanh Sơn")]
    section = wards[1]["children"][0]
    assert (section["id"], section["kind"], section["officers"], section["counters"],
            section["children"]) == ("hk-1c", "office", 4, 2, [])


def test_a_unit_is_created_shown_and_patched(client, seeded_db):
    body = {"id": "hk-vp", "name": "Văn phòng UBND phường", "parent_id": "hk", "kind": "office"}
    created = client.post("/api/v1/units", json=body)
    assert created.status_code == 201 and created.json()["outstanding"] is False
    patched = client.patch("/api/v1/units/hk-vp", json={"outstanding": True})
    assert patched.json() == {**body, "head_id": None, "outstanding": True}
    unit = client.get("/api/v1/units/hk").json()
    assert (unit["head"]["id"], unit["parents"]) == ("HK-0100", ["hn"])
    assert [c["id"] for c in unit["children"]] == ["hk-1c", "hk-vp"]
    # By given name in Vietnamese order: (Đặng Thị Mai) Lan, then (Ngô Thanh) Sơn.
    assert [o["id"] for o in unit["officers"]] == ["HK-0101", "HK-0100"]
    section = client.get("/api/v1/units/hk-1c").json()
    assert [(c["id"], c["officer_id"], c["devices"]) for c in section["counters"]] == \
        [("hk-q1", "HK-0001", ["kiosk-hk-01"]), ("hk-q2", "HK-0002", ["kiosk-hk-02"])]
    entries, verification = audit_log(seeded_db)
    assert [(e.actor, e.action, e.subject) for e in entries[:2]] == [
        ("user:admin", "unit.update", "unit:hk-vp"), ("user:admin", "unit.create", "unit:hk-vp")]
    assert verification.ok


def test_an_officer_shows_who_leads_and_who_decides(client):
    officer = client.get("/api/v1/officers/HK-0001").json()
    assert (officer["unit"]["id"], officer["leader"]["id"], officer["direct_leader"]["id"],
            officer["responsible_head"]["id"]) == ("hk-1c", "HK-0101", "HK-0101", "HK-0100")
    lead = client.get("/api/v1/officers/HK-0101").json()
    assert lead["leader"] is None and lead["direct_leader"]["id"] == "HK-0100"
    assert [o["id"] for o in lead["leads"]] == ["HK-0001", "HK-0002", "HK-0003", "HK-0004"]


def test_an_officer_is_created_and_patched_partially(client):
    body = {"id": "HK-0005", "name": "Nguyễn Văn An", "title": "Chuyên viên",
            "unit_id": "hk-1c", "leader_id": "HK-0101", "photo": "anh/HK-0005.jpg",
            "active_from": "2026-01-01"}
    assert client.post("/api/v1/officers", json=body).status_code == 201
    patched = client.patch("/api/v1/officers/HK-0005",
                           json={"title": "Chuyên viên chính", "active_to": None}).json()
    assert {k: patched[k] for k in body} == {**body, "title": "Chuyên viên chính"}
    listed = client.get("/api/v1/officers").json()  # the list sees it
    assert "HK-0005" in {o["id"] for o in listed}


def test_counters_are_listed_created_and_patched(client):
    counters = {c["id"]: c for c in client.get("/api/v1/counters").json()}
    assert (counters["bd-q2"]["officer_id"], counters["bd-q2"]["devices"]) == \
        (None, ["kiosk-bd-02"])
    created = client.post("/api/v1/counters",
                          json={"id": "hk-q5", "label": "Quầy 5", "unit_id": "hk-1c"})
    assert created.status_code == 201
    assert client.patch("/api/v1/counters/hk-q5", json={"label": "Quầy 5 (ưu tiên)"}).json() \
        == {"id": "hk-q5", "label": "Quầy 5 (ưu tiên)", "unit_id": "hk-1c"}


@pytest.mark.parametrize("method, url, body, status, words", [
    ("post", "/api/v1/units", {"id": "hk", "name": "x"}, 409, "already exists"),
    ("post", "/api/v1/units", {"id": "u1", "name": "x", "kind": "village"}, 422,
     "loại đơn vị"),
    ("patch", "/api/v1/units/nowhere", {"name": "x"}, 404, "No unit"),
    ("patch", "/api/v1/units/hn", {"parent_id": "hk-1c"}, 422, "cannot loop"),
    ("get", "/api/v1/units/nowhere", None, 404, "Không tìm thấy đơn vị"),
    ("get", "/api/v1/officers/NOBODY", None, 404, "No officer"),
    ("post", "/api/v1/officers", {"id": "HK-0001", "name": "x", "title": "y",
                                  "unit_id": "hk-1c"}, 409, "already exists"),
    ("patch", "/api/v1/officers/HK-0101", {"leader_id": "HK-0001"}, 422, "cannot loop"),
    ("patch", "/api/v1/officers/HK-0001", {"photo": "../x.jpg"}, 422, "relative path"),
    ("patch", "/api/v1/counters/hk-q1", {"unit_id": "zz"}, 422, "no unit"),
    ("patch", "/api/v1/counters/zz", {"label": "x"}, 404, "No counter"),
])
def test_organisation_errors_are_clear_and_bilingual(client, method, url, body, status, words):
    response = client.request(method.upper(), url, json=body)
    assert response.status_code == status
    detail = response.json()["detail"]
    assert words in detail and " / " in detail


def shift_body(**overrides):
    return {"counter_id": "bd-q2", "officer_id": "BD-0002", "starts_at": "2030-03-02T07:30",
            "ends_at": "2030-03-02T11:30", **overrides}


def test_a_shift_is_added_listed_corrected_and_cancelled(client, seeded_db):
    created = client.post("/api/v1/roster", json=shift_body(note="ca sáng"),
                          headers=as_officer(seeded_db, "BD-0101"))
    assert created.status_code == 201
    shift = created.json()
    assert (shift["starts"], shift["ends"], shift["created_by"]) == \
        ("2030-03-02T07:30:00+07:00", "2030-03-02T11:30:00+07:00", "user:cb.bd-0101")
    afternoon = client.post("/api/v1/roster", json=shift_body(
        officer_id="BD-0003", starts_at="2030-03-02T13:00", ends_at="2030-03-02T17:00")).json()

    def listed(query):
        return [s["id"] for s in client.get(f"/api/v1/roster?{query}").json()]
    assert listed("counter=bd-q2") == [shift["id"], afternoon["id"]]
    assert listed("counter=bd-q2&from=2030-03-02T12:00") == [afternoon["id"]]
    assert listed("counter=bd-q2&to=2030-03-02T12:00") == [shift["id"]]
    assert listed("counter=bd-q2&from=2030-03-02&to=2030-03-02") == [shift["id"],
                                                                      afternoon["id"]]
    assert listed("counter=bd-q2&to=2030-03-01") == []
    assert listed("officer=BD-0003") == [afternoon["id"]]

    fixed = client.patch(f"/api/v1/roster/{shift['id']}",
                         json={"officer_id": "BD-0004", "reason": "Đổi người trực"})
    assert fixed.status_code == 200
    fixed = fixed.json()
    assert (fixed["officer_id"], fixed["starts_at"], fixed["note"]) == \
        ("BD-0004", shift["starts_at"], "ca sáng")
    open_ended = client.patch(f"/api/v1/roster/{afternoon['id']}",
                              json={"ends_at": None, "reason": "Trực đến khi có thông báo"})
    assert open_ended.json()["ends_at"] is None
    afternoon = open_ended.json()

    by_body = client.request("DELETE", f"/api/v1/roster/{fixed['id']}",
                             json={"reason": "Nghỉ phép"})
    by_query = client.delete(f"/api/v1/roster/{afternoon['id']}?reason=Nghỉ ốm")
    assert (by_body.json()["current"], by_query.json()["current"]) == (False, False)
    assert listed("counter=bd-q2") == []
    assert len(listed("counter=bd-q2&history=true")) == 4

    entries, verification = audit_log(seeded_db)
    assert [(e.action, e.after_value.get("reason")) for e in entries[:4]] == [
        ("roster.cancel", "Nghỉ ốm"), ("roster.cancel", "Nghỉ phép"),
        ("roster.correct", "Trực đến khi có thông báo"), ("roster.correct", "Đổi người trực")]
    assert verification.ok


@pytest.mark.parametrize("method, url, body, status, words", [
    ("post", "/api/v1/roster", shift_body(counter_id="bd-q1"), 409, "already has shift"),
    ("post", "/api/v1/roster", shift_body(officer_id="HK-0001"), 409, "two counters"),
    ("post", "/api/v1/roster", shift_body(ends_at="2030-03-02T07:00"), 422, "after it starts"),
    ("post", "/api/v1/roster", shift_body(starts_at="sáng mai"), 422, "ISO 8601"),
    ("post", "/api/v1/roster", shift_body(officer_id="NOBODY"), 422, "no officer"),
    ("patch", "/api/v1/roster/1", {"officer_id": "HK-0003", "reason": " "}, 422,
     "reason is required"),
    ("patch", "/api/v1/roster/999", {"officer_id": "HK-0003", "reason": "x"}, 404, "No shift"),
    ("delete", "/api/v1/roster/1", None, 422, "reason is required"),
    ("get", "/api/v1/roster?from=yesterday", None, 422, "from: invalid time"),
])
def test_roster_errors_are_clear_and_bilingual(client, method, url, body, status, words):
    response = client.request(method.upper(), url, json=body)
    assert response.status_code == status
    assert words in response.json()["detail"]


def test_a_correction_without_a_reason_is_refused_by_the_schema(client):
    response = client.patch("/api/v1/roster/1", json={"officer_id": "HK-0003"})
    assert response.status_code == 422


def test_organisation_and_roster_edits_follow_role_and_scope(app, seeded_db):
    """The reviewer's chain: an officer of another ward must not make themselves someone's
    leader or head, nor move ratings through the roster; reads stay within scope."""
    stranger = TestClient(app, headers=as_officer(seeded_db, "BD-0001"))
    assert stranger.patch("/api/v1/officers/HK-0001",
                          json={"leader_id": "BD-0001"}).status_code == 403
    assert stranger.patch("/api/v1/units/hk-1c", json={"head_id": "BD-0001"}).status_code == 403
    assert stranger.post("/api/v1/units", json={"id": "x", "name": "X"}).status_code == 403
    assert stranger.post("/api/v1/roster", json=shift_body(counter_id="hk-q1",
                                                          officer_id="HK-0001")).status_code == 403
    assert stranger.get("/api/v1/officers/HK-0001").status_code == 403
    assert stranger.get("/api/v1/units").json() == []  # an officer sees no unit, only themself
    other_head = TestClient(app, headers=as_officer(seeded_db, "BD-0100"))
    assert other_head.patch("/api/v1/officers/HK-0001",
                            json={"title": "Chuyên viên chính"}).status_code == 403
    assert [u["id"] for u in other_head.get("/api/v1/units").json()] == ["bd"]
    assert {c["unit_id"] for c in other_head.get("/api/v1/counters").json()} == {"bd-1c"}
    head = TestClient(app, headers=as_officer(seeded_db, "HK-0100"))
    assert head.patch("/api/v1/officers/HK-0001",
                      json={"title": "Chuyên viên chính"}).status_code == 200
    leader = TestClient(app, headers=as_officer(seeded_db, "HK-0101"))
    assert leader.post("/api/v1/roster", json=shift_body(
        counter_id="hk-q1", officer_id="HK-0003", starts_at="2025-03-03T07:30",
        ends_at="2025-03-03T11:30")).status_code == 201  # before the seed's open shifts
    assert leader.patch("/api/v1/officers/HK-0001", json={"title": "x"}).status_code == 403
    assert TestClient(app).get("/api/v1/units").status_code == 401


# --- issue 10: a roster write is scoped by every unit it touches -------------------------------

def _ratings_of(seeded_db, officer_id):
    db = open_reader(seeded_db)
    try:
        return db.execute("SELECT count(*) FROM ratings WHERE officer_id = ?",
                          [officer_id]).fetchone()[0]
    finally:
        db.conn.close()


def _press_at_hk_q1(seeded_db, count=3):
    """Ratings on kiosk-hk-01 (hk-q1, HK-0001's counter until further notice)."""
    from factories import T0, incoming, rating_bytes
    from collector.db.store import Store
    store = Store(seeded_db)
    try:
        record_batch(store.db, [incoming(rating_bytes(seq=seq, ts=T0 + seq * 60_000))
                                for seq in range(1, count + 1)])
    finally:
        store.close()


def _outside(detail: str, *names: str) -> list[str]:
    return [name for name in names if name in detail]


def test_a_leader_cannot_move_ratings_onto_another_units_officer(app, seeded_db):
    """The issue's reproduction: the Hoàn Kiếm leader corrected hk-q1's shift onto a Ba Đình
    officer and 39 ratings moved across wards. The officer's unit counts as much as the
    counter's."""
    _press_at_hk_q1(seeded_db)
    leader = TestClient(app, headers=as_officer(seeded_db, "HK-0101"))
    shift_id = leader.get("/api/v1/roster?counter=hk-q1").json()[0]["id"]
    moved = leader.patch(f"/api/v1/roster/{shift_id}",
                         json={"reason": "x", "officer_id": "BD-0003"})
    assert moved.status_code == 403
    assert _outside(moved.json()["detail"], "Ba Đình", "bd-") == []
    assert (_ratings_of(seeded_db, "HK-0001"), _ratings_of(seeded_db, "BD-0003")) == (3, 0)
    added = leader.post("/api/v1/roster", json=shift_body(
        counter_id="hk-q1", officer_id="BD-0003", starts_at="2025-03-03T07:30",
        ends_at="2025-03-03T11:30"))
    assert added.status_code == 403


def test_a_correction_needs_the_scope_of_the_officer_it_takes_ratings_from(app, seeded_db):
    """A shift an administrator gave to another unit's officer at our counter: our leader
    may not cancel it or give its ratings to someone else (that officer's evidence moves)."""
    admin = TestClient(app, headers=admin_headers(seeded_db))
    admin.post("/api/v1/counters", json={"id": "hk-q9", "label": "Quầy 9", "unit_id": "hk-1c"})
    theirs = admin.post("/api/v1/roster", json=shift_body(
        counter_id="hk-q9", officer_id="BD-0003")).json()
    leader = TestClient(app, headers=as_officer(seeded_db, "HK-0101"))
    for response in (leader.patch(f"/api/v1/roster/{theirs['id']}",
                                  json={"reason": "x", "officer_id": "HK-0003"}),
                     leader.delete(f"/api/v1/roster/{theirs['id']}?reason=x")):
        assert response.status_code == 403
        assert _outside(response.json()["detail"], "BD-0003", "Hoàng Đức Thắng") == []


def test_a_conflicting_shift_is_not_named_when_it_is_outside_the_callers_scope(app, seeded_db):
    admin = TestClient(app, headers=admin_headers(seeded_db))
    admin.post("/api/v1/counters", json={"id": "hk-q9", "label": "Quầy 9", "unit_id": "hk-1c"})
    admin.post("/api/v1/roster", json=shift_body(counter_id="hk-q9", officer_id="BD-0003"))
    # HK-0003 on shift at a Ba Đình counter (an administrator's loan between wards).
    admin.post("/api/v1/roster", json=shift_body(counter_id="bd-q2", officer_id="HK-0003",
                                                 starts_at="2030-03-03T07:30",
                                                 ends_at="2030-03-03T11:30"))
    leader = TestClient(app, headers=as_officer(seeded_db, "HK-0101"))
    on_counter = leader.post("/api/v1/roster", json=shift_body(counter_id="hk-q9",
                                                               officer_id="HK-0003"))
    assert on_counter.status_code == 409
    assert "hk-q9" in on_counter.json()["detail"]
    assert _outside(on_counter.json()["detail"], "BD-0003", "Hoàng Đức Thắng") == []
    officer_busy = leader.post("/api/v1/roster", json=shift_body(
        counter_id="hk-q9", officer_id="HK-0003", starts_at="2030-03-03T08:00",
        ends_at="2030-03-03T09:00"))
    assert officer_busy.status_code == 409
    assert "HK-0003" in officer_busy.json()["detail"]
    assert _outside(officer_busy.json()["detail"], "bd-q2", "Ba Đình") == []


def test_a_head_cannot_name_another_units_officer_as_leader_or_head(app, seeded_db):
    """A leader of record or a head brings the officers they lead into their scope: naming one
    from another unit would hand that unit the officer's evaluations (issue 10: every write is
    scoped by all the units it touches)."""
    head = TestClient(app, headers=as_officer(seeded_db, "HK-0100"))
    led = head.patch("/api/v1/officers/HK-0001", json={"leader_id": "BD-0101"})
    assert led.status_code == 403
    assert _outside(led.json()["detail"], "Ba Đình", "bd-", "BD-") == []
    created = head.post("/api/v1/officers", json={
        "id": "HK-0009", "name": "Trần Văn Mới", "title": "Chuyên viên", "unit_id": "hk-1c",
        "leader_id": "BD-0101"})
    assert created.status_code == 403
    admin_hk = TestClient(app, headers=token_headers(seeded_db, "quantri.hk", "administrator",
                                                     unit="hk"))
    assert admin_hk.patch("/api/v1/units/hk", json={"head_id": "BD-0100"}).status_code == 403
    other = TestClient(app, headers=as_officer(seeded_db, "BD-0101"))
    assert other.get("/api/v1/officers/HK-0001").status_code == 403
    assert head.patch("/api/v1/officers/HK-0001", json={"leader_id": "HK-0101"}).status_code == 200
