"""The alerts API on a seeded database: list with filters and pages, one alert, acknowledge,
notes, errors in both languages."""

from __future__ import annotations

from datetime import datetime

import pytest
from factories import incoming, rating_bytes
from fastapi.testclient import TestClient

from accounts_support import admin_headers, as_officer
from collector.ratings import alerts
from collector.db import audit
from collector.app import create_app
from collector.evaluation.policy import DEFAULT_ALERT_RULE
from collector.db.reader import open_reader
from collector.core.settings import Settings
from collector.db.store import Store
from collector.core.timeline import LOCAL_TZ
from collector.ingest.recording import record_batch
from collector.org.organisation import upsert_counter
from collector.org.registry import register_device

MIN = 60_000
# 9:00 local on 10 March 2026 and the next days, at counters whose devices were registered the
# day before (the seed's own devices stand at their counters only from now on).
DAY = int(datetime(2026, 3, 10, 9, 0, tzinfo=LOCAL_TZ).timestamp() * 1000)
LEADER: dict[str, str] = {}  # the section leader's token, filled by the `client` fixture
NOBODY = {"Authorization": ""}  # replaces the client's own credentials


def burst(store, device, officer, start, seq0):
    """Four negative presses a minute apart, then the check the ingest runs after commit."""
    batch = [incoming(rating_bytes(device=device, seq=seq0 + i, level=1, officer=officer,
                                   ts=start + i * MIN), device=device,
                      received_at=start + i * MIN + 300) for i in range(4)]
    record_batch(store.db, batch)
    return alerts.check_after_batch(store.db, batch, DEFAULT_ALERT_RULE, start + 4 * MIN)


@pytest.fixture
def raised(seeded_db):
    """Alerts: hk-q3 on 10 and 12 March, bd-q3 on 11 March (ids in that order)."""
    store = Store(seeded_db)
    try:
        for device, counter, unit in (("kiosk-hk-03", "hk-q3", "hk-1c"),
                                      ("kiosk-bd-03", "bd-q3", "bd-1c")):
            upsert_counter(store.db, counter, "Quầy 3", unit)
            register_device(store.db, device, counter, at=DAY - 86_400_000)
        ids = (burst(store, "kiosk-hk-03", "HK-0003", DAY, 1)
               + burst(store, "kiosk-bd-03", "BD-0003", DAY + 86_400_000, 1)
               + burst(store, "kiosk-hk-03", "HK-0003", DAY + 2 * 86_400_000, 11))
    finally:
        store.close()
    assert len(ids) == 3
    return ids


@pytest.fixture
def client(seeded_db):
    app = create_app(Settings(seeded_db, broker_url=None))
    LEADER.clear()
    LEADER.update(as_officer(seeded_db, "HK-0101"))
    with TestClient(app, headers=admin_headers(seeded_db)) as client:
        yield client


def ids_of(response):
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def test_list_filters_by_unit_state_and_dates(client, raised):
    hk1, bd, hk2 = raised
    assert ids_of(client.get("/api/v1/alerts")) == [hk2, bd, hk1]  # latest burst first
    assert ids_of(client.get("/api/v1/alerts?unit=hk")) == [hk2, hk1]  # the ward and below
    assert ids_of(client.get("/api/v1/alerts?unit=bd-1c")) == [bd]
    assert ids_of(client.get("/api/v1/alerts?from=2026-03-11&to=2026-03-11")) == [bd]
    assert ids_of(client.get("/api/v1/alerts?to=2026-03-10")) == [hk1]
    assert ids_of(client.get("/api/v1/alerts?from=2026-03-12")) == [hk2]
    # Ba Đình's alert is outside the Hoàn Kiếm leader's scope; the administrator's is all.
    assert client.post(f"/api/v1/alerts/{bd}/acknowledge", headers=LEADER).status_code == 403
    assert client.post(f"/api/v1/alerts/{bd}/acknowledge").status_code == 200
    assert ids_of(client.get("/api/v1/alerts", headers=LEADER)) == [hk2, hk1]
    assert ids_of(client.get("/api/v1/alerts")) == [hk2, hk1]
    assert ids_of(client.get("/api/v1/alerts?state=acknowledged")) == [bd]
    assert ids_of(client.get("/api/v1/alerts?state=all")) == [hk2, bd, hk1]


def test_list_is_paginated(client, raised):
    page = client.get("/api/v1/alerts?limit=2&offset=1").json()
    assert (page["total"], page["limit"], page["offset"]) == (3, 2, 1)
    assert [i["id"] for i in page["items"]] == [raised[1], raised[0]]
    item = page["items"][1]
    assert (item["counter_label"], item["unit_name"], item["officer_name"], item["state"]) == \
        ("Quầy 3", "Bộ phận Một cửa phường Hoàn Kiếm", "Lê Hoàng Yến", "open")
    assert (item["ratings"], item["negative"], item["negative_share"], item["late"]) == \
        (4, 4, 1.0, False)
    assert (item["first_at"], item["last_at"], item["notes_count"]) == (DAY, DAY + 3 * MIN, 0)


# One app per test costs FastAPI's first-request set-up of every route (about 0.3 s): the
# tables of refused requests run in one test each.
BAD_FILTERS = [
    ("state=closed", 422), ("limit=0", 422), ("limit=201", 422), ("offset=-1", 422),
    ("from=2026-13-01", 422), ("to=yesterday", 422), ("unit=nowhere", 404),
]


def test_bad_filters_are_refused(client, raised):
    for query, status in BAD_FILTERS:
        response = client.get(f"/api/v1/alerts?{query}")
        assert response.status_code == status, query
        if query.startswith(("from", "to", "unit")):
            assert " / " in response.json()["detail"], query  # Vietnamese / English


def test_one_alert_with_its_presses_acknowledge_and_notes(client, raised, seeded_db):
    alert_id = raised[0]
    view = client.get(f"/api/v1/alerts/{alert_id}").json()
    assert [p["pressed_at"] for p in view["presses"]] == [DAY + i * MIN for i in range(4)]
    assert view["presses"][0]["answer_vi"] == "Không hài lòng" and view["notes"] == []

    ack = client.post(f"/api/v1/alerts/{alert_id}/acknowledge", headers=LEADER,
                      json={"comment": "Đã trao đổi với cán bộ"})
    assert ack.status_code == 200
    assert (ack.json()["state"], ack.json()["acknowledged_by"]) == ("acknowledged",
                                                                    "cb.hk-0101")
    again = client.post(f"/api/v1/alerts/{alert_id}/acknowledge", headers=LEADER)
    assert again.status_code == 409 and "đã được cb.hk-0101 xác nhận" in again.json()["detail"]

    note = client.post(f"/api/v1/alerts/{alert_id}/notes",
                       headers=as_officer(seeded_db, "HK-0100"),
                       json={"text": "Công dân phản ánh thời gian chờ lâu"})
    assert note.status_code == 201 and note.json()["actor"] == "cb.hk-0100"
    officer = client.post(f"/api/v1/alerts/{alert_id}/notes",
                          headers=as_officer(seeded_db, "HK-0003"), json={"text": "x"})
    assert officer.status_code == 403  # the officer concerned reads their evidence elsewhere
    view = client.get(f"/api/v1/alerts/{alert_id}").json()
    assert [(n["actor"], n["text"]) for n in view["notes"]] == [
        ("cb.hk-0101", "Đã trao đổi với cán bộ"),
        ("cb.hk-0100", "Công dân phản ánh thời gian chờ lâu")]

    db = open_reader(seeded_db)
    try:
        assert [e.action for e in reversed(audit.recent(db, None))
                if e.action.startswith("alert.")] == ["alert.acknowledge", "alert.note"]
    finally:
        db.conn.close()


def test_acknowledge_without_a_body(client, raised):
    response = client.post(f"/api/v1/alerts/{raised[2]}/acknowledge", headers=LEADER)
    assert response.status_code == 200 and response.json()["notes"] == []


REFUSED = [
    ("get", "/api/v1/alerts/999", None, {}, 404),
    ("post", "/api/v1/alerts/999/acknowledge", {}, LEADER, 404),
    ("post", "/api/v1/alerts/999/notes", {"text": "x"}, LEADER, 404),
    ("post", "/api/v1/alerts/{id}/notes", {"text": "  "}, LEADER, 422),
    ("post", "/api/v1/alerts/{id}/notes", {"text": "x"}, NOBODY, 401),
    ("post", "/api/v1/alerts/{id}/acknowledge", {}, NOBODY, 401),
]


def test_refused_requests_change_nothing(client, raised):
    for method, path, body, headers, status in REFUSED:
        url = path.format(id=raised[0])
        response = getattr(client, method)(url, headers=headers,
                                           **({"json": body} if body else {}))
        assert response.status_code == status, (method, url, body)
        assert " / " in response.json()["detail"], (method, url, body)
    view = client.get(f"/api/v1/alerts/{raised[0]}").json()
    assert (view["state"], view["notes"]) == ("open", [])


def test_an_alert_stays_with_the_unit_its_counter_had_when_it_was_raised(client, raised,
                                                                         seeded_db):
    """Issue 10: moving hk-q3 to Ba Đình afterwards must not hand Hoàn Kiếm's alerts, their
    presses and notes to Ba Đình, nor take them from Hoàn Kiếm."""
    assert client.patch("/api/v1/counters/hk-q3", json={"unit_id": "bd-1c"}).status_code == 200
    hk_alerts, bd_alert = [raised[0], raised[2]], raised[1]
    bd_leader = as_officer(seeded_db, "BD-0101")
    assert ids_of(client.get("/api/v1/alerts?state=all", headers=LEADER)) == hk_alerts[::-1]
    assert ids_of(client.get("/api/v1/alerts?state=all", headers=bd_leader)) == [bd_alert]
    assert client.get(f"/api/v1/alerts/{raised[0]}", headers=LEADER).json()["unit_id"] == \
        "hk-1c"
    for response in (client.get(f"/api/v1/alerts/{raised[0]}", headers=bd_leader),
                     client.post(f"/api/v1/alerts/{raised[0]}/notes", headers=bd_leader,
                                 json={"text": "x"})):
        assert response.status_code == 403
        assert "hk" not in response.json()["detail"]  # nothing outside the caller's scope
