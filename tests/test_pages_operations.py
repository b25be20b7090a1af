"""The fleet and alerts pages: who sees them, what a row shows, forms, scope, pages, English.

One database is built for the module (read-only tests share it and one app, with the fleet's
clock pinned to NOW); tests that write copy it first. The seed's devices carry the statuses of
tests/test_fleet.py around NOW, 50 more retired devices make a second page, and bursts of
negative presses raise alerts at the third counters of both wards (whose devices, silent
since, are offline too):
    kiosk-hk-01  online          kiosk-bd-01  offline, silent   kiosk-hk-02  offline, will
    kiosk-bd-02  never seen      kiosk-hk-x01 … x50  retired, never seen (problems first: last)
    alerts: hk-q3 10 March, bd-q3 11 March, hk-q3 12 March (late), then 25 more at hk-q3.
Accounts log in with a password and carry their session cookie and CSRF token, as a browser.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import datetime
from html.parser import HTMLParser

import pytest
from accounts_support import PASSWORD, token_headers
from factories import T0, incoming, rating_bytes
from fastapi import Depends
from fastapi.testclient import TestClient

from collector.ratings import alerts
from collector.web import deps
from collector.fleet import screens, status as fleet_status
from collector.app import create_app
from collector.web.auth import viewer
from collector.evaluation.policy import DEFAULT_ALERT_RULE
from collector.db.reader import open_reader
from collector.demo.seed import seed_demo
from collector.core.settings import Settings
from collector.db.store import Store
from collector.core.timeline import LOCAL_TZ
from dashboard.pages import operations
from dashboard.i18n import translator
from collector.ingest.recording import record_batch
from collector.org.organisation import upsert_counter
from collector.org.registry import register_device, retire_device
from collector.ratings.evidence import MAX_SILENCE_MS

NOW = T0 + 600_000
MIN = 60_000
HOUR = 3_600_000
DAY = int(datetime(2026, 3, 10, 9, 0, tzinfo=LOCAL_TZ).timestamp() * 1000)
EXTRA_DEVICES = 50
ACCOUNTS = {  # login → (role, officer, unit)
    "kythuat": ("technician", None, None), "cb.hk-0001": ("officer", "HK-0001", None),
    "cb.hk-0101": ("leader", "HK-0101", None), "cb.bd-0100": ("head", "BD-0100", None),
}


def status(device, received_at, state="online", **fields):
    body = {"v": 1, "device": device, "state": state}
    if state == "online":
        body.update({"fw": "0.2.0", "boot": 3, "uptime_ms": 60_000, "mem_free": 81_234,
                     "rssi": -61, "queue": 2, "filtered": 1, "dropped": 0, "ignored": 0})
        body.update(fields)
    return incoming(json.dumps(body).encode(), device, "status", received_at)


def burst(store, device, officer, start, seq0, raised_at=None, excluded_press=False):
    """Four negative presses a minute apart (and a filtered repeat), then the alert check."""
    batch = [incoming(rating_bytes(device=device, seq=seq0 + i, level=1, officer=officer,
                                   ts=start + i * MIN), device=device,
                      received_at=start + i * MIN + 300) for i in range(4)]
    if excluded_press:
        batch.append(incoming(rating_bytes(device=device, seq=seq0 + 4, level=1,
                                           officer=officer, ts=start + MIN + 500,
                                           excluded="cooldown"), device=device))
    record_batch(store.db, batch)
    return alerts.check_after_batch(store.db, batch, DEFAULT_ALERT_RULE,
                                    raised_at or start + 4 * MIN)


def populate(store) -> list[int]:
    seed_demo(store, 4)
    record_batch(store.db, [status("kiosk-hk-01", NOW - 20_000, queue=3, rssi=-70, dropped=2),
                            status("kiosk-bd-01", NOW - MAX_SILENCE_MS - 1),
                            status("kiosk-hk-02", NOW - 60_000),
                            status("kiosk-hk-02", NOW - 30_000, state="offline")])
    for n in range(1, EXTRA_DEVICES + 1):
        upsert_counter(store.db, f"hk-x{n:02d}", f"Quầy phụ {n}", "hk-1c")
        register_device(store.db, f"kiosk-hk-x{n:02d}", f"hk-x{n:02d}", at=NOW - HOUR)
        retire_device(store.db, f"kiosk-hk-x{n:02d}", at=NOW - HOUR // 2)
    for device, counter, unit in (("kiosk-hk-03", "hk-q3", "hk-1c"),
                                  ("kiosk-bd-03", "bd-q3", "bd-1c")):
        upsert_counter(store.db, counter, "Quầy 3", unit)
        register_device(store.db, device, counter, at=DAY - 86_400_000)
    ids = (burst(store, "kiosk-hk-03", "HK-0003", DAY, 1, excluded_press=True)
           + burst(store, "kiosk-bd-03", "BD-0003", DAY + 86_400_000, 1)
           # Held back by an offline device: raised two hours after its last press.
           + burst(store, "kiosk-hk-03", "HK-0003", DAY + 2 * 86_400_000, 11,
                   raised_at=DAY + 2 * 86_400_000 + 2 * HOUR))
    for n in range(25):
        ids += burst(store, "kiosk-hk-03", "HK-0003", DAY + 3 * 86_400_000 + n * HOUR,
                     100 + 10 * n)
    return ids


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(database path, alert ids); the database is never written after this."""
    path = tmp_path_factory.mktemp("operations") / "hailong.db"
    store = Store(path)
    try:
        ids = populate(store)
    finally:
        store.close()
    for login, (role, officer, unit) in ACCOUNTS.items():
        token_headers(path, login, role, officer=officer, unit=unit)
    assert len(ids) == 28
    return path, ids


def app_for(db_path):
    app = create_app(Settings(db_path=db_path, broker_url=None))
    app.dependency_overrides[deps.clock] = lambda: NOW
    if not any(getattr(route, "path", None) == "/fleet" for route in app.routes):
        app.include_router(operations.router, dependencies=[Depends(viewer)])  # until wired
    return app


@pytest.fixture(scope="module")
def app(built):
    return app_for(built[0])


def log_in(app, login, *, lang=None):
    client = TestClient(app, follow_redirects=False)
    if lang:
        client.cookies.set("hailong_lang", lang)
    response = client.post("/login", data={"login": login, "password": PASSWORD})
    assert response.status_code == 303, response.text
    return client


@pytest.fixture(scope="module")
def as_(app):
    """A logged-in client per login, made once."""
    clients = {}

    def client(login):
        if login not in clients:
            clients[login] = log_in(app, login)
        return clients[login]
    yield client
    for client in clients.values():
        client.close()


@pytest.fixture
def written(built, tmp_path):
    """A copy of the module's database for a test that writes, and its app."""
    path = tmp_path / "hailong.db"
    shutil.copy(built[0], path)
    return path, app_for(path)


class Tags(HTMLParser):
    """Every start tag as (name, attributes); enough to find the pages' hooks."""

    def __init__(self, html):
        super().__init__()
        self.tags = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def find(self, tag, **attrs):
        return [a for t, a in self.tags if t == tag and all(
            a.get(k.replace("_", "-")) == v for k, v in attrs.items())]


def ok(response):
    assert response.status_code == 200, response.text[:500]
    return response.text


def row(html, attribute, value):
    match = re.search(rf'<(tr|li) [^>]*{attribute}="{re.escape(value)}".*?</\1>', html, re.DOTALL)
    assert match, value
    return match.group(0)


def rows(html, attribute):
    return re.findall(rf'{attribute}="([^"]+)"', html)


def csrf_in(html):
    return Tags(html).find("input", name="csrf_token")[0]["value"]


# --- pure helpers --------------------------------------------------------------------------

@pytest.mark.parametrize("elapsed, vi, en", [
    (0, "chưa đến một phút trước", "less than a minute ago"),
    (59_999, "chưa đến một phút trước", "less than a minute ago"),
    (60_000, "1 phút trước", "1 minute ago"),
    (59 * MIN, "59 phút trước", "59 minutes ago"),
    (HOUR, "1 giờ trước", "1 hour ago"),
    (47 * HOUR + 59 * MIN, "47 giờ trước", "47 hours ago"),
    (48 * HOUR, "2 ngày trước", "2 days ago"),
])
def test_ago_says_how_long_in_the_largest_whole_unit(elapsed, vi, en):
    assert operations.ago(translator("vi"), elapsed) == vi
    assert operations.ago(translator("en"), elapsed) == en


# --- fleet ---------------------------------------------------------------------------------

def test_technician_sees_each_device_with_its_state_and_screen(as_, built):
    html = ok(as_("kythuat").get("/fleet"))
    tags = Tags(html)
    table = tags.find("table", data_testid="fleet")
    assert table
    states = {a["data-device"]: a["data-state"] for a in tags.find("tr") if "data-device" in a}
    assert (states["kiosk-hk-01"], states["kiosk-bd-01"], states["kiosk-hk-02"]) == (
        "online", "offline", "offline")
    assert len(states) == 50  # problems first:
    assert list(states)[:6] == ["kiosk-bd-01", "kiosk-bd-03", "kiosk-hk-02", "kiosk-hk-03",
                                "kiosk-bd-02", "kiosk-hk-01"]
    db = open_reader(built[0])
    try:
        for device in ("kiosk-hk-01", "kiosk-bd-01"):
            img = tags.find("img", data_testid=f"screen-{device}")[0]
            item = fleet_status.fleet_device(db, device, now_ms=NOW)
            assert img["src"] == f"/api/v1/devices/{device}/screen.png"
            assert (img["width"], img["height"], img["loading"]) == ("320", "240", "lazy")
            assert img["alt"] == screens.device_screen_text(
                fleet_status.assignment_at(db, device, item["shown"]["at"]))
    finally:
        db.conn.close()
    online, silent, will = (row(html, "data-device", d)
                            for d in ("kiosk-hk-01", "kiosk-bd-01", "kiosk-hk-02"))
    # State in words, not colour alone, with why and when.
    assert "Trực tuyến" in online and "Hình ảnh lúc" not in online
    assert "Mất kết nối" in silent and "không nhận được tin quá 3 phút" in silent
    assert "kết nối bị ngắt" in will
    last_seen = datetime.fromtimestamp((NOW - MAX_SILENCE_MS - 1) / 1000, LOCAL_TZ)
    assert f"Hình ảnh lúc {last_seen:%d/%m/%Y %H:%M}" in silent  # outside the picture
    assert "3 phút trước" in silent and "chưa đến một phút trước" in online
    # Figures: firmware, backlog, filtered today · since boot, dropped, signal, officer.
    assert "0.2.0" in online and "-70 dBm" in online.replace("−", "-")
    assert '<td class="num warn" data-label="Bị mất (hàng đợi đầy)">2</td>' in online
    assert "0 · 1" in online and "Nguyễn Thị Thu Hường" in online  # on duty at hk-q1
    retired = row(html, "data-device", "kiosk-hk-x01")
    assert "Đã ngừng sử dụng" in retired and "Quầy tạm dừng phục vụ" in retired
    assert "Thiết bị chưa từng kết nối." in retired
    assert "Chưa kết nối: màn hình sẽ hiển thị" in row(html, "data-device", "kiosk-bd-02")
    # The tabs count every state of the scope.
    assert re.search(r'Mất kết nối <span class="count">4</span>', html)
    assert re.search(r'Tất cả <span class="count">56</span>', html)
    png = as_("kythuat").get(tags.find("img", data_testid="screen-kiosk-hk-01")[0]["src"])
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"


def test_fleet_pages_filters_and_search(as_):
    client = as_("kythuat")
    first = ok(client.get("/fleet"))
    assert "1–50 trong tổng số 56" in first and 'href="/fleet?page=2"' in first
    second = ok(client.get("/fleet?page=2"))
    assert len(rows(second, "data-device")) == 6 and "51–56 trong tổng số 56" in second
    assert 'href="/fleet"' in second and 'rel="next"' not in second
    assert set(rows(first, "data-device")).isdisjoint(rows(second, "data-device"))
    offline = ok(client.get("/fleet?state=offline"))
    assert rows(offline, "data-device") == ["kiosk-bd-01", "kiosk-bd-03", "kiosk-hk-02",
                                            "kiosk-hk-03"]
    assert rows(ok(client.get("/fleet?q=huong")), "data-device") == ["kiosk-hk-01"]
    ba_dinh = ok(client.get("/fleet?unit=bd&state=&q="))  # an empty field is no filter
    assert rows(ba_dinh, "data-device") == ["kiosk-bd-01", "kiosk-bd-03", "kiosk-bd-02"]
    assert '<option value="bd" selected>' in ba_dinh
    assert client.get("/fleet?state=lost").status_code == 422
    assert "Không có thiết bị nào" in ok(client.get("/fleet?q=nowhere"))


# --- who may see what ----------------------------------------------------------------------

def test_an_officer_is_refused_both_pages_and_a_leader_the_fleet(as_, built):
    officer = as_("cb.hk-0001")
    for path in ("/fleet", "/alerts", f"/alerts/{built[1][0]}"):
        assert officer.get(path).status_code == 403, path
    leader = as_("cb.hk-0101")
    assert leader.get("/fleet").status_code == 403
    assert leader.get("/alerts").status_code == 200


def test_a_ba_dinh_head_sees_no_hoan_kiem_device_or_alert(as_, built):
    hk_alert, bd_alert = built[1][0], built[1][1]
    head = as_("cb.bd-0100")
    fleet_html = ok(head.get("/fleet"))
    assert rows(fleet_html, "data-device") == ["kiosk-bd-01", "kiosk-bd-03", "kiosk-bd-02"]
    assert 'value="hk"' not in fleet_html and 'value="bd-1c"' in fleet_html
    assert head.get("/fleet?unit=hk").status_code == 403
    listing = ok(head.get("/alerts?state=all"))
    assert rows(listing, "data-alert") == [str(bd_alert)]
    assert head.get(f"/alerts/{hk_alert}").status_code == 403
    assert head.get("/alerts?unit=hk").status_code == 403
    refused = head.post(f"/alerts/{hk_alert}/acknowledge",
                        data={"csrf_token": csrf_in(listing), "comment": "x"})
    assert refused.status_code == 403
    db = open_reader(built[0])
    try:
        assert alerts.alert_view(db, hk_alert)["state"] == "open"
    finally:
        db.conn.close()


def test_a_technician_reads_no_alerts_they_name_officers_and_their_presses(as_, built):
    """Issue 10: a technician reads fleet and device data only."""
    technician = as_("kythuat")
    assert technician.get("/alerts").status_code == 403
    assert technician.get(f"/alerts/{built[1][0]}").status_code == 403
    assert technician.get("/api/v1/alerts").status_code == 403
    assert technician.get(f"/api/v1/alerts/{built[1][0]}").status_code == 403


# --- alerts --------------------------------------------------------------------------------

def test_alerts_list_shows_the_window_share_late_flag_and_pages(as_, built):
    ids = built[1]
    leader = as_("cb.hk-0101")
    first = ok(leader.get("/alerts"))
    assert rows(first, "data-alert") == [str(i) for i in reversed(ids[3:])]  # latest first
    assert "1–25 trong tổng số 27" in first
    assert re.search(r'Chưa xử lý <span class="count">27</span>', first)
    second = ok(leader.get("/alerts?page=2"))
    assert rows(second, "data-alert") == [str(ids[2]), str(ids[0])]
    card = row(second, "data-alert", str(ids[0]))
    assert "10/03/2026 09:00–09:03" in card and "4/4 lượt không hài lòng (100 %)" in card
    assert "Lê Hoàng Yến" in card and "Quầy 3" in card and "Cảnh báo muộn" not in card
    assert "Cảnh báo muộn: các lượt bấm bị giữ lại" in row(second, "data-alert", str(ids[2]))
    for form in ("ack", "note"):
        assert Tags(card).find("form", data_testid=f"{form}-{ids[0]}")
    dated = ok(leader.get("/alerts?from=2026-03-12&to=2026-03-12&unit=hk-1c"))
    assert rows(dated, "data-alert") == [str(ids[2])]
    assert 'value="2026-03-12"' in dated and 'href="/alerts?state=all&amp;unit=hk-1c&amp;from=' \
        '2026-03-12&amp;to=2026-03-12"' in dated


def test_alert_page_lists_its_presses_with_the_excluded_one_marked(as_, built):
    html = ok(as_("cb.hk-0101").get(f"/alerts/{built[1][0]}"))
    presses = re.findall(r"<tr class=\"[^\"]*\">.*?</tr>", html, re.DOTALL)
    assert len(presses) == 5
    assert sum("Bị loại: Bấm lặp trong thời gian chờ" in p for p in presses) == 1
    assert "09:01:00" in html and "Chưa có ghi chú." in html
    assert "Từ 50 % lượt không hài lòng trở lên trong 15 phút" in html


def test_leader_acknowledges_from_the_page_then_adds_a_note(written):
    path, app = written
    with log_in(app, "cb.hk-0101") as leader:
        listing = ok(leader.get("/alerts?state=open&page=2"))
        alert_id = rows(listing, "data-alert")[-1]
        form = Tags(row(listing, "data-alert", alert_id))
        assert form.find("form", data_testid=f"ack-{alert_id}")[0]["action"] == \
            f"/alerts/{alert_id}/acknowledge"
        next_page = form.find("input", name="next")[0]["value"]
        assert next_page == "/alerts?state=open&page=2"
        token = csrf_in(listing)
        # Without its CSRF token the form is refused and nothing changes.
        assert leader.post(f"/alerts/{alert_id}/acknowledge",
                           data={"comment": "x"}).status_code == 403
        done = leader.post(f"/alerts/{alert_id}/acknowledge", data={
            "csrf_token": token, "comment": "Đã trao đổi với cán bộ", "next": next_page})
        assert done.status_code == 303
        assert done.headers["location"] == "/alerts?state=open&page=2&done=acknowledged"
        after = ok(leader.get(done.headers["location"]))
        assert "Đã xác nhận cảnh báo." in after and alert_id not in rows(after, "data-alert")
        acknowledged = ok(leader.get("/alerts?state=acknowledged"))
        assert rows(acknowledged, "data-alert") == [alert_id]
        assert "cb.hk-0101 đã xác nhận lúc" in acknowledged  # the account's name
        assert not Tags(acknowledged).find("form", data_testid=f"ack-{alert_id}")

        noted = leader.post(f"/alerts/{alert_id}/notes", data={
            "csrf_token": token, "text": "Công dân phản ánh thời gian chờ lâu",
            "next": f"/alerts/{alert_id}"})
        assert noted.headers["location"] == f"/alerts/{alert_id}?done=noted"
        page = ok(leader.get(noted.headers["location"]))
        assert "Đã thêm ghi chú." in page
        assert page.index("Đã trao đổi với cán bộ") < page.index("Công dân phản ánh")

        # Refusals of the service re-render the alert with the reason, in the page's language.
        again = leader.post(f"/alerts/{alert_id}/acknowledge",
                            data={"csrf_token": token, "next": "/alerts"})
        assert again.status_code == 409
        assert re.search(r'<p class="error" role="alert">Cảnh báo số \d+ đã được cb.hk-0101 '
                         r'xác nhận</p>', again.text)
        leader.cookies.set("hailong_lang", "en")
        empty = leader.post(f"/alerts/{alert_id}/notes",
                            data={"csrf_token": token, "text": "   "})
        assert empty.status_code == 422
        assert '<p class="error" role="alert">text: must not be empty' in empty.text
        assert 'name="next" value="/alerts/' + alert_id + '"' in empty.text
    db = open_reader(path)
    try:
        view = alerts.alert_view(db, int(alert_id))
    finally:
        db.conn.close()
    assert view["acknowledged_by"] == "cb.hk-0101"
    assert [n["text"] for n in view["notes"]] == ["Đã trao đổi với cán bộ",
                                                  "Công dân phản ánh thời gian chờ lâu"]


def test_the_next_page_of_a_form_stays_on_this_site(written):
    _, app = written
    with log_in(app, "cb.hk-0101") as leader:
        html = ok(leader.get("/alerts"))
        alert_id = rows(html, "data-alert")[0]
        response = leader.post(f"/alerts/{alert_id}/notes", data={
            "csrf_token": csrf_in(html), "text": "x", "next": "//evil.example/"})
    assert response.headers["location"] == "/?done=noted"


def test_english_switch(app, as_, built):
    client = log_in(app, "kythuat", lang="en")
    with client:
        fleet_html = ok(client.get("/fleet"))
    leader = log_in(app, "cb.hk-0101", lang="en")  # alerts are leaders', not technicians'
    with leader:
        alerts_html = ok(leader.get("/alerts?page=2"))
    assert '<html lang="en">' in fleet_html and "<h1>Device fleet</h1>" in fleet_html
    online = row(fleet_html, "data-device", "kiosk-hk-01")
    assert ">Online</span>" in online and "less than a minute ago" in online
    assert "no message for over 3 minutes" in row(fleet_html, "data-device", "kiosk-bd-01")
    assert "1–50 of 56" in fleet_html
    card = row(alerts_html, "data-alert", str(built[1][0]))
    assert "10 Mar 2026, 09:00–09:03" in card and "4 of 4 negative (100%)" in card
    assert "Raised late" in row(alerts_html, "data-alert", str(built[1][2]))
