"""The device fleet: states with silence, what each screen shows, paging, scope, search, API.

A seeded database of four devices plus one retired, with statuses placed around a fixed NOW:
    kiosk-hk-01  online (status 10 s ago), ratings today and yesterday
    kiosk-bd-01  offline: its last status is one ms more than MAX_SILENCE_MS old
    kiosk-hk-02  offline: its last will came after an online status
    kiosk-bd-02  never seen (its counter is closed in the seed)
    kiosk-hk-05  retired after an online status
"""

from __future__ import annotations

import io
import json

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from accounts_support import as_officer, token_headers
from app_routes import operations
from collector.api import fleet as api_fleet
from collector.web import deps
from collector.fleet import screens, status as fleet_status
from collector.app import create_app
from collector.org.organisation import unit_subtree, upsert_counter
from collector.db.reader import open_reader
from collector.roster.duty import current_assignments
from collector.demo.seed import seed_demo
from collector.core.settings import Settings
from collector.db.store import Store

from factories import T0, incoming, rating_bytes
from collector.ingest.recording import record_batch
from collector.org.registry import register_device, retire_device
from collector.ratings.evidence import MAX_SILENCE_MS
from collector.roster.shifts import assign

NOW = T0 + 600_000


def status(device, received_at, state="online", **fields):
    body = {"v": 1, "device": device, "state": state}
    if state == "online":
        body.update({"fw": "0.2.0", "boot": 3, "uptime_ms": 60_000, "mem_free": 81_234,
                     "rssi": -61, "queue": 2, "filtered": 1, "dropped": 0, "ignored": 0})
        body.update(fields)
    return incoming(json.dumps(body).encode(), device, "status", received_at)


@pytest.fixture(scope="module")
def db_path(tmp_path_factory):
    # Built once: the tests only read (the session-mode test removes the file it adds).
    path = tmp_path_factory.mktemp("fleet") / "hailong.db"
    store = Store(path)
    try:
        populate(store)
    finally:
        store.close()
    return path


def populate(store):
    seed_demo(store, 4)
    upsert_counter(store.db, "hk-q5", "Quầy 5", "hk-1c")
    register_device(store.db, "kiosk-hk-05", "hk-q5", at=NOW - 3_600_000)
    assign(store.db, "kiosk-hk-05", "HK-0004", at=NOW - 3_600_000)
    start, _ = fleet_status.local_day(NOW)
    record_batch(store.db, [
        status("kiosk-hk-01", NOW - 20_000, queue=3, rssi=-70),
        status("kiosk-bd-01", NOW - MAX_SILENCE_MS - 1),
        status("kiosk-hk-02", NOW - 60_000),
        status("kiosk-hk-02", NOW - 30_000, state="offline"),
        status("kiosk-hk-05", NOW - 200_000),
        incoming(rating_bytes("kiosk-hk-01", seq=1, ts=start - 1_000), received_at=NOW - 19_000),
        incoming(rating_bytes("kiosk-hk-01", seq=2, ts=max(start, NOW - 12_000)),
                 received_at=NOW - 11_000),
        incoming(rating_bytes("kiosk-hk-01", seq=3, ts=max(start, NOW - 10_000),
                              excluded="cooldown"), received_at=NOW - 10_000),
    ])
    retire_device(store.db, "kiosk-hk-05", at=NOW - 100_000)
    # Shift changes: the online device's counter gets HK-0003; the silent device's counter
    # gets BD-0003 after it went quiet, which it cannot have received.
    assign(store.db, "kiosk-hk-01", "HK-0003", at=NOW - 5_000)
    assign(store.db, "kiosk-bd-01", "BD-0003", at=NOW - 60_000)


@pytest.fixture(scope="module")
def db(db_path):
    db = open_reader(db_path)
    yield db
    db.conn.close()


def ids(page):
    return [item["id"] for item in page["items"]]


def by_id(page):
    return {item["id"]: item for item in page["items"]}


# --- state ---------------------------------------------------------------------------------

@pytest.mark.parametrize("reported, silent_ms, retired, expected", [
    ("online", 0, False, "online"),
    ("online", MAX_SILENCE_MS, False, "online"),
    ("online", MAX_SILENCE_MS + 1, False, "offline"),
    (None, 1_000, False, "online"),  # ratings arrive, no status yet
    ("offline", 0, False, "offline"),
    ("online", None, False, "never_seen"),
    ("online", 0, True, "retired"),
    (None, None, True, "retired"),
])
def test_state_from_status_silence_and_registry(reported, silent_ms, retired, expected):
    assert fleet_status.device_state(reported_state=reported, retired_at=1 if retired else None,
                              last_seen=None if silent_ms is None else NOW - silent_ms,
                              now_ms=NOW) == expected


def test_every_device_with_its_state_and_figures(db):
    page = fleet_status.fleet(db, now_ms=NOW)
    items = by_id(page)
    assert {d: items[d]["state"] for d in items} == {
        "kiosk-hk-01": "online", "kiosk-bd-01": "offline", "kiosk-hk-02": "offline",
        "kiosk-bd-02": "never_seen", "kiosk-hk-05": "retired"}
    assert items["kiosk-bd-01"]["offline_reason"] == "silent"
    assert items["kiosk-hk-02"]["offline_reason"] == "will"
    assert items["kiosk-hk-01"]["offline_reason"] is None
    hk1 = items["kiosk-hk-01"]
    assert (hk1["counter_label"], hk1["unit_id"], hk1["unit_name"]) == (
        "Quầy 1", "hk-1c", "Bộ phận Một cửa phường Hoàn Kiếm")
    assert (hk1["fw"], hk1["queue"], hk1["rssi"], hk1["mem_free"], hk1["filtered"],
            hk1["dropped"]) == ("0.2.0", 3, -70, 81_234, 1, 0)
    assert hk1["last_seen"] == NOW - 10_000 and hk1["silent_ms"] == 10_000
    # The will carries no figures: the last online status's stay, as of its time.
    assert items["kiosk-hk-02"]["queue"] == 2 and items["kiosk-hk-02"]["fw"] == "0.2.0"
    assert items["kiosk-hk-05"]["retired"] and not hk1["retired"]
    assert page["summary"] == {"offline": 2, "never_seen": 1, "online": 1, "retired": 1,
                               "total": 5}
    assert page["max_silence_ms"] == MAX_SILENCE_MS


def test_ratings_today_count_the_local_day_and_filtered_apart(db):
    items = by_id(fleet_status.fleet(db, now_ms=NOW))
    hk1 = items["kiosk-hk-01"]
    assert (hk1["ratings_today"], hk1["filtered_today"]) == (1, 1)
    assert hk1["last_rating_at"] == max(fleet_status.local_day(NOW)[0], NOW - 10_000)
    assert (items["kiosk-bd-02"]["ratings_today"], items["kiosk-bd-02"]["last_rating_at"]) \
        == (0, None)


def test_the_local_day_is_vietnam_time():
    # 2026-11-25 17:30 UTC is 00:30 on the 26th in Hanoi.
    start, end = fleet_status.local_day(1795627800000)
    assert (start, end - start) == (1795626000000, 86_400_000)


# --- what the screen shows -----------------------------------------------------------------

def test_an_online_device_shows_the_roster_now_a_silent_one_what_it_last_took_in(db):
    items = by_id(fleet_status.fleet(db, now_ms=NOW))
    online = items["kiosk-hk-01"]["shown"]
    assert online["live"] and online["at"] == NOW
    assert online["officer"] == {"id": "HK-0003", "name": "Lê Hoàng Yến", "title": "Cán sự"}
    silent = items["kiosk-bd-01"]["shown"]
    assert not silent["live"] and silent["at"] == items["kiosk-bd-01"]["last_seen"]
    assert silent["officer"]["id"] == "BD-0001"
    closed = items["kiosk-bd-02"]["shown"]
    assert closed["officer"] is None and not closed["counter_open"]
    assert items["kiosk-hk-05"]["shown"]["officer"] is not None  # retired: what it last had
    assert online["screen_url"] == "/api/v1/devices/kiosk-hk-01/screen.png"


@pytest.mark.parametrize("at", [NOW, NOW - 60_000, NOW - 3_000_000])
def test_assignments_follow_the_roster_rule_the_collector_publishes_by(db, at):
    published = {row["device_id"]: row for row in current_assignments(db, at)}
    assert fleet_status.assignments_at(db, dict.fromkeys(published, at)) == published
    assert fleet_status.assignment_at(db, "kiosk-zz-99", at) is None


# --- paging, scope, search -----------------------------------------------------------------

def test_pages_cover_every_device_once_problems_first(db):
    everything = fleet_status.fleet(db, now_ms=NOW, limit=200)
    assert ids(everything) == ["kiosk-bd-01", "kiosk-hk-02", "kiosk-bd-02", "kiosk-hk-01",
                               "kiosk-hk-05"]
    pages = [fleet_status.fleet(db, now_ms=NOW, limit=2, offset=offset) for offset in (0, 2, 4)]
    assert [ids(p) for p in pages] == [ids(everything)[0:2], ids(everything)[2:4],
                                       ids(everything)[4:]]
    assert {(p["total"], p["limit"]) for p in pages} == {(5, 2)}
    assert fleet_status.fleet(db, now_ms=NOW, limit=2, offset=6)["items"] == []


def test_state_filter_keeps_the_counts_of_every_state(db):
    page = fleet_status.fleet(db, now_ms=NOW, state="offline")
    assert ids(page) == ["kiosk-bd-01", "kiosk-hk-02"] and page["total"] == 2
    assert page["summary"]["total"] == 5 and page["summary"]["online"] == 1


def test_unit_scope_keeps_the_devices_of_those_units(db):
    page = fleet_status.fleet(db, now_ms=NOW, unit_ids=unit_subtree(db, "hk"))
    assert ids(page) == ["kiosk-hk-02", "kiosk-hk-01", "kiosk-hk-05"]
    assert page["summary"] == {"offline": 1, "never_seen": 0, "online": 1, "retired": 1,
                               "total": 3}
    assert fleet_status.fleet(db, now_ms=NOW, unit_ids=set())["items"] == []


@pytest.mark.parametrize("search, expected", [
    ("hoàng yến", ["kiosk-hk-01"]),  # the officer shown now
    ("HOANG YEN", ["kiosk-hk-01"]),
    ("minh chau", ["kiosk-bd-01"]),  # what the silent device last showed
    ("ba đình", ["kiosk-bd-01", "kiosk-bd-02"]),
    ("quay 2 hoan kiem", ["kiosk-hk-02"]),
    ("kiosk-hk-0", ["kiosk-hk-02", "kiosk-hk-01", "kiosk-hk-05"]),
    ("hk-02", ["kiosk-hk-02"]),
    ("0.2", ["kiosk-bd-01", "kiosk-hk-02", "kiosk-hk-01", "kiosk-hk-05"]),  # firmware
    ("huong", []),  # Hường left hk-01's counter; "phường" is no match
    ("nobody", []),
])
def test_search_ignores_case_and_diacritics(db, search, expected):
    page = fleet_status.fleet(db, now_ms=NOW, search=search)
    assert ids(page) == expected
    assert page["summary"]["total"] == len(expected)


@pytest.mark.parametrize("kwargs", [{"state": "lost"}, {"limit": 0}, {"limit": 201},
                                    {"offset": -1}])
def test_a_bad_filter_or_page_is_refused(db, kwargs):
    with pytest.raises(ValueError):
        fleet_status.fleet(db, now_ms=NOW, **kwargs)


def test_one_device_or_none(db):
    assert fleet_status.fleet_device(db, "kiosk-hk-05", now_ms=NOW)["state"] == "retired"
    assert fleet_status.fleet_device(db, "kiosk-zz-99", now_ms=NOW) is None


# --- HTTP ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def app(db_path):
    app = create_app(Settings(db_path=db_path, broker_url=None))
    app.dependency_overrides[deps.clock] = lambda: NOW
    return app


@pytest.fixture(scope="module")
def client(app, db_path):
    with TestClient(app, headers=token_headers(db_path, "kythuat", "technician")) as client:
        yield client


def test_the_app_serves_each_route_once():
    ours = set(operations(api_fleet.router.routes))
    assert ours == {("GET", "/api/v1/fleet"), ("GET", "/api/v1/devices/{device_id}/screen.png"),
                    ("GET", "/api/v1/devices"), ("POST", "/api/v1/devices/{device_id}/session"),
                    ("POST", "/api/v1/devices/{device_id}/command")}
    served = operations(create_app(Settings(db_path="unused.db", broker_url=None)).routes)
    assert all(served[operation] == 1 for operation in ours)


def test_fleet_api_pages_filters_and_scopes(client):
    page = client.get("/api/v1/fleet", params={"limit": 2, "offset": 2}).json()
    assert ids(page) == ["kiosk-bd-02", "kiosk-hk-01"] and page["total"] == 5
    page = client.get("/api/v1/fleet", params={"unit": "bd", "state": "offline"}).json()
    assert ids(page) == ["kiosk-bd-01"]
    assert ids(client.get("/api/v1/fleet", params={"q": "huong"}).json()) == []
    assert ids(client.get("/api/v1/fleet", params={"q": "yen"}).json()) == ["kiosk-hk-01"]


@pytest.mark.parametrize("params, code", [
    ({"limit": 201}, 422), ({"limit": 0}, 422), ({"offset": -1}, 422),
    ({"state": "lost"}, 422), ({"unit": "nowhere"}, 404), ({"q": "x" * 101}, 422),
])
def test_fleet_api_refuses_bad_queries(client, params, code):
    assert client.get("/api/v1/fleet", params=params).status_code == code


def png_of(response):
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    assert response.headers["cache-control"] == "no-store"
    return response.content


def test_screen_png_is_the_devices_screen_now(client, db):
    response = client.get("/api/v1/devices/kiosk-hk-01/screen.png")
    png = png_of(response)
    assert Image.open(io.BytesIO(png)).size == (screens.WIDTH, screens.HEIGHT)
    assert response.headers["x-hailong-device-state"] == "online"
    assert response.headers["x-hailong-screen-at"] == str(NOW)
    assert png == screens.device_screen_png(fleet_status.assignment_at(db, "kiosk-hk-01", NOW))
    big = png_of(client.get("/api/v1/devices/kiosk-hk-01/screen.png", params={"scale": 2}))
    assert Image.open(io.BytesIO(big)).size == (2 * screens.WIDTH, 2 * screens.HEIGHT)


def test_an_offline_devices_picture_is_what_it_last_took_in(client, db):
    response = client.get("/api/v1/devices/kiosk-bd-01/screen.png")
    png = png_of(response)
    assert response.headers["x-hailong-device-state"] == "offline"
    last_seen = fleet_status.fleet_device(db, "kiosk-bd-01", now_ms=NOW)["last_seen"]
    assert response.headers["x-hailong-screen-at"] == str(last_seen)
    then = fleet_status.assignment_at(db, "kiosk-bd-01", last_seen)
    now = fleet_status.assignment_at(db, "kiosk-bd-01", NOW)
    assert (then["officer_id"], now["officer_id"]) == ("BD-0001", "BD-0003")
    assert png == screens.device_screen_png(then) != screens.device_screen_png(now)


def test_a_closed_counters_picture_is_the_closed_screen(client):
    png = png_of(client.get("/api/v1/devices/kiosk-bd-02/screen.png"))
    closed = {"scale": 4, "counter_label": "Quầy 2", "officer_id": None}
    assert png == screens.device_screen_png(closed)


def test_a_session_mode_site_rests_on_the_waiting_screen(client, db, db_path):
    profile = db_path.parent / "provisioning.json"
    profile.write_text(json.dumps({"session_mode": True}))
    try:
        png = png_of(client.get("/api/v1/devices/kiosk-hk-01/screen.png"))
    finally:
        profile.unlink()
    row = fleet_status.assignment_at(db, "kiosk-hk-01", NOW)
    assert png == screens.device_screen_png(row, session_mode=True)
    assert png != screens.device_screen_png(row)


@pytest.mark.parametrize("path, params, code", [
    ("/api/v1/devices/kiosk-zz-99/screen.png", {}, 404),
    ("/api/v1/devices/kiosk-hk-01/screen.png", {"scale": 0}, 422),
    ("/api/v1/devices/kiosk-hk-01/screen.png", {"scale": 5}, 422),
])
def test_screen_png_refuses_unknown_devices_and_scales(client, path, params, code):
    assert client.get(path, params=params).status_code == code


def test_the_accounts_scope_limits_list_and_pictures(app, db_path):
    """A technician of Ba Đình sees its devices only; an officer sees no fleet at all."""
    headers = token_headers(db_path, "kythuat.bd", "technician", unit="bd")
    with TestClient(app, headers=headers) as client:
        assert ids(client.get("/api/v1/fleet").json()) == ["kiosk-bd-01", "kiosk-bd-02"]
        assert client.get("/api/v1/fleet", params={"unit": "bd-1c"}).status_code == 200
        assert client.get("/api/v1/fleet", params={"unit": "hk"}).status_code == 403
        assert client.get("/api/v1/devices/kiosk-hk-01/screen.png").status_code == 403
        assert client.get("/api/v1/devices/kiosk-bd-01/screen.png").status_code == 200
    with TestClient(app, headers=as_officer(db_path, "BD-0001")) as client:
        assert client.get("/api/v1/fleet").status_code == 403
    with TestClient(app) as client:
        assert client.get("/api/v1/fleet").status_code == 401
