"""Logging in: sessions, CSRF, throttling, and that every route but health needs an account."""

from __future__ import annotations

import re

import pytest
from accounts_support import PASSWORD, admin_headers, as_officer
from app_routes import all_routes
from fastapi.testclient import TestClient

from collector.accounts.users import AccountService
from collector.app import create_app
from collector.core.settings import Settings
from collector.db.store import Store

PUBLIC = {("GET", "/api/v1/health"), ("GET", "/login"), ("POST", "/login"),
          ("GET", "/language/{code}")}


@pytest.fixture
def app(seeded_db):
    return create_app(Settings(db_path=seeded_db, broker_url=None))


@pytest.fixture
def browser(app):
    """A client without credentials that keeps cookies and does not follow redirects."""
    with TestClient(app, follow_redirects=False) as client:
        yield client


def log_in(client, login="cb.hk-0001", password=PASSWORD, next_page="/"):
    return client.post("/login", data={"login": login, "password": password,
                                       "next": next_page})


def csrf_of(client) -> str:
    return client.get("/api/v1/me").json()["csrf_token"]


def test_every_route_but_health_and_login_needs_an_account(app, browser):
    checked = 0
    for route in all_routes(app.routes):
        for method in route.methods - {"HEAD"}:
            if (method, route.path) in PUBLIC:
                continue
            path = re.sub(r"\{[^}]+\}", "x", route.path)
            response = browser.request(method, path)
            assert response.status_code in (401, 303), (method, route.path)
            if route.path.startswith("/api/"):
                assert response.status_code == 401
            else:
                assert response.headers["location"].startswith("/login?next=")
            checked += 1
    assert checked > 40
    health = browser.get("/api/v1/health").json()
    assert set(health) >= {"status", "ratings_total"} and "officers" not in health


def test_login_sets_a_session_that_opens_the_pages(seeded_db, browser):
    as_officer(seeded_db, "HK-0001")  # creates the account
    assert browser.get("/officers/HK-0001").status_code == 303
    form = browser.get("/login?next=/officers/HK-0001")
    assert form.status_code == 200 and 'name="password"' in form.text
    response = log_in(browser, next_page="/officers/HK-0001")
    assert response.status_code == 303 and response.headers["location"] == "/officers/HK-0001"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    assert browser.get("/officers/HK-0001").status_code == 200
    # Scope: an officer sees themselves, not a colleague.
    assert browser.get("/officers/HK-0002").status_code == 403
    assert browser.get("/api/v1/officers").json() == [
        o for o in browser.get("/api/v1/officers").json() if o["id"] == "HK-0001"]


def test_the_next_page_is_only_ever_local(seeded_db, browser):
    as_officer(seeded_db, "HK-0001")
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        assert log_in(browser, next_page=target).headers["location"] == "/"


def test_wrong_passwords_are_refused_then_throttled(seeded_db, browser):
    as_officer(seeded_db, "HK-0001")
    for _ in range(5):
        refused = log_in(browser, password="wrong-password-x")
        assert refused.status_code == 401 and "Sai tên đăng nhập hoặc mật khẩu" in refused.text
    locked = log_in(browser)  # even the right password waits now
    assert locked.status_code == 429 and "15" in locked.text
    assert "set-cookie" not in locked.headers


def test_writes_with_a_session_need_the_csrf_token(seeded_db, browser):
    as_officer(seeded_db, "HK-0101")
    log_in(browser, login="cb.hk-0101")
    body = {"title": "Rà soát hồ sơ", "period": "week", "deadline": "2026-12-04"}
    refused = browser.post("/api/v1/officers/HK-0001/tasks", json=body)
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    token = csrf_of(browser)
    assert token
    accepted = browser.post("/api/v1/officers/HK-0001/tasks", json=body,
                            headers={"X-CSRF-Token": token})
    assert accepted.status_code == 201
    assert browser.post("/logout").status_code == 403  # a form without its token
    out = browser.post("/logout", data={"csrf_token": token})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    browser.cookies.clear()
    assert browser.get("/").status_code == 303


def test_a_new_password_or_a_disabled_account_ends_sessions(seeded_db, browser):
    as_officer(seeded_db, "HK-0001")
    log_in(browser)
    assert browser.get("/me").status_code == 200
    store = Store(seeded_db)
    try:
        AccountService(store, actor="test", clock=lambda: 1).set_password("cb.hk-0001",
                                                                          "another-password")
    finally:
        store.close()
    assert browser.get("/").status_code == 303
    log_in(browser, password="another-password")
    assert browser.get("/me").status_code == 200
    store = Store(seeded_db)
    try:
        AccountService(store, actor="test").disable("cb.hk-0001")
    finally:
        store.close()
    assert browser.get("/me").status_code == 303


def test_tokens_need_no_csrf_and_a_forged_cookie_is_nobody(app, seeded_db):
    with TestClient(app, headers=admin_headers(seeded_db)) as client:
        assert client.get("/api/v1/officers").status_code == 200
    with TestClient(app, cookies={"hailong_session": "forged.value.here"}) as client:
        assert client.get("/api/v1/officers").status_code == 401


def test_the_api_description_needs_an_account(app, seeded_db, browser):
    assert browser.get("/openapi.json").status_code == 303
    with TestClient(app, headers=admin_headers(seeded_db)) as client:
        schema = client.get("/openapi.json").json()
    assert "/api/v1/officers/{officer_id}/months/{month}" in schema["paths"]


def session_rows(db_path, login="cb.hk-0001") -> list[dict]:
    store = Store(db_path)
    try:
        return [dict(row) for row in store.db.query(
            "SELECT * FROM login_sessions WHERE login = ? ORDER BY id", [login])]
    finally:
        store.close()


def test_logging_out_ends_the_session_on_the_server(seeded_db, browser):
    as_officer(seeded_db, "HK-0001")
    log_in(browser)
    stolen = browser.cookies.get("hailong_session")
    assert browser.get("/api/v1/me").status_code == 200
    [row] = session_rows(seeded_db)
    assert row["revoked_at"] is None and row["expires_at"] > row["created_at"]
    assert browser.post("/logout", data={"csrf_token": csrf_of(browser)}).status_code == 303
    # The cookie copied before logging out is worth nothing now.
    browser.cookies.clear()
    browser.cookies.set("hailong_session", stolen)
    assert browser.get("/api/v1/me").status_code == 401
    assert browser.get("/me").status_code == 303
    assert session_rows(seeded_db)[0]["revoked_at"] is not None


def test_each_login_is_its_own_session(seeded_db, app):
    as_officer(seeded_db, "HK-0001")
    with TestClient(app, follow_redirects=False) as one, \
            TestClient(app, follow_redirects=False) as two:
        log_in(one)
        log_in(two)
        one.post("/logout", data={"csrf_token": csrf_of(one)})
        assert one.get("/api/v1/me").status_code == 401
        assert two.get("/api/v1/me").status_code == 200


def test_a_session_past_its_server_expiry_is_refused(seeded_db, browser):
    as_officer(seeded_db, "HK-0001")
    log_in(browser)
    store = Store(seeded_db)
    try:
        store.db.execute("UPDATE login_sessions SET expires_at = 1")
        store.db.conn.commit()
    finally:
        store.close()
    assert browser.get("/api/v1/me").status_code == 401


def test_a_new_password_or_disabling_revokes_every_recorded_session(seeded_db, app):
    headers = as_officer(seeded_db, "HK-0001")
    with TestClient(app, follow_redirects=False) as one, \
            TestClient(app, follow_redirects=False) as two:
        log_in(one)
        log_in(two)
        store = Store(seeded_db)
        try:
            AccountService(store, actor="test").set_password("cb.hk-0001", "another-password")
        finally:
            store.close()
        assert [row["revoked_at"] is not None for row in session_rows(seeded_db)] == [True, True]
        assert one.get("/api/v1/me").status_code == 401
        assert two.get("/api/v1/me").status_code == 401
        # An API token is not a login session: a new password leaves it working.
        with TestClient(app, headers=headers) as script:
            assert script.get("/api/v1/me").status_code == 200
        log_in(one, password="another-password")
        assert one.get("/api/v1/me").status_code == 200
        store = Store(seeded_db)
        try:
            AccountService(store, actor="test").disable("cb.hk-0001")
        finally:
            store.close()
        assert all(row["revoked_at"] is not None for row in session_rows(seeded_db))
        assert one.get("/api/v1/me").status_code == 401


def spray(client, count: int, forwarded: bool = True) -> list[int]:
    """`count` wrong logins under made-up names, each claiming another address."""
    return [client.post("/login", data={"login": f"guess{n}", "password": "wrong-password-x"},
                        headers={"X-Forwarded-For": f"198.51.100.{n}"} if forwarded else {}
                        ).status_code for n in range(count)]


def test_the_throttle_ignores_x_forwarded_for_by_default(seeded_db):
    app = create_app(Settings(db_path=seeded_db, broker_url=None))
    with TestClient(app, follow_redirects=False, client=("127.0.0.1", 40000)) as client:
        assert set(spray(client, 20)) == {401}
        # 20 failures from one address lock it, whatever addresses the header claimed.
        assert spray(client, 1)[0] == 429


def test_the_throttle_reads_x_forwarded_for_from_a_trusted_proxy_only(seeded_db):
    app = create_app(Settings(db_path=seeded_db, broker_url=None,
                              trusted_proxies=("10.0.0.0/30",)))
    with TestClient(app, follow_redirects=False, client=("10.0.0.2", 40000)) as proxy:
        # Behind the proxy each citizen's address counts apart, the proxy's own not at all.
        assert set(spray(proxy, 25)) == {401}
        assert spray(proxy, 1, forwarded=False)[0] == 401
        attacker = {"X-Forwarded-For": "203.0.113.7"}
        for n in range(20):
            proxy.post("/login", data={"login": f"x{n}", "password": "wrong-password-x"},
                       headers=attacker)
        locked = proxy.post("/login", data={"login": "y.y", "password": "wrong-password-x"},
                            headers=attacker)
        assert locked.status_code == 429
        # A forged left-most entry does not let the attacker out: the proxy appends the
        # address it saw, and that right-most untrusted entry is the one counted.
        forged = proxy.post("/login", data={"login": "y.y", "password": "wrong-password-x"},
                            headers={"X-Forwarded-For": "192.0.2.1, 203.0.113.7"})
        assert forged.status_code == 429
        # A proxy that adds its own header line (HAProxy) rather than appending: the client's
        # forged line comes first and is not the one believed.
        lines = proxy.post("/login", data={"login": "y.y", "password": "wrong-password-x"},
                           headers=[("X-Forwarded-For", "192.0.2.1"),
                                    ("X-Forwarded-For", "203.0.113.7")])
        assert lines.status_code == 429
    with TestClient(app, follow_redirects=False, client=("10.0.0.9", 40000)) as direct:
        assert set(spray(direct, 20)) == {401}
        assert spray(direct, 1)[0] == 429  # not a proxy: its header means nothing


def test_serve_leaves_x_forwarded_for_to_the_app_and_its_trusted_proxies(tmp_path,
                                                                           monkeypatch):
    import uvicorn

    from collector.cli.main import main
    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: seen.update(app=app, **kwargs))
    args = ["serve", "--db", str(tmp_path / "h.db"), "--broker", "mqtt://127.0.0.1:1"]
    assert main(args) == 0
    # uvicorn would otherwise believe the header from 127.0.0.1, before the app sees it.
    assert seen["proxy_headers"] is False
    assert seen["app"].state.settings.trusted_proxies == ()
    assert main(args + ["--trusted-proxy", "10.0.0.2", "--trusted-proxy", "fd00::/64"]) == 0
    assert seen["app"].state.settings.trusted_proxies == ("10.0.0.2", "fd00::/64")
    with pytest.raises(SystemExit):
        main(args + ["--trusted-proxy", "proxy.example"])


def test_users_logout_ends_every_session_of_an_account(seeded_db, app, capsys):
    from collector.cli.main import main
    as_officer(seeded_db, "HK-0001")
    with TestClient(app, follow_redirects=False) as one, \
            TestClient(app, follow_redirects=False) as two:
        log_in(one)
        log_in(two)
        db = ["--db", str(seeded_db)]
        assert main(["users", "sessions", "cb.hk-0001", "--json", *db]) == 0
        listed = __import__("json").loads(capsys.readouterr().out)
        assert len(listed) == 2 and "sid_sha256" not in listed[0]
        assert main(["users", "logout", "cb.hk-0001", *db]) == 0
        assert "2" in capsys.readouterr().out
        assert one.get("/api/v1/me").status_code == 401
        assert two.get("/api/v1/me").status_code == 401
        assert main(["users", "sessions", "cb.hk-0001", "--json", *db]) == 0
        assert __import__("json").loads(capsys.readouterr().out) == []


def test_a_session_notes_when_it_was_last_used(seeded_db, browser, monkeypatch):
    as_officer(seeded_db, "HK-0001")
    log_in(browser)
    store = Store(seeded_db)
    try:
        store.db.execute("UPDATE login_sessions SET last_seen_at = 1")
        store.db.conn.commit()
    finally:
        store.close()
    assert browser.get("/api/v1/me").status_code == 200
    assert session_rows(seeded_db)[0]["last_seen_at"] > 1


def test_sessions_long_over_are_forgotten(seeded_db):
    as_officer(seeded_db, "HK-0001")
    store = Store(seeded_db)
    try:
        service = AccountService(store, actor="test", clock=lambda: 1_000)
        service.open_session("cb.hk-0001", "old-session-id", 1_000)
        later = AccountService(store, actor="test", clock=lambda: 1_000 + 91 * 86_400_000)
        later.open_session("cb.hk-0001", "new-session-id", 1_000)
    finally:
        store.close()
    assert len(session_rows(seeded_db)) == 1


def test_the_cookie_is_secure_behind_a_trusted_tls_proxy_and_only_then(seeded_db):
    """TLS ends at the reverse proxy, which says so in X-Forwarded-Proto: the session cookie
    must still be Secure there; the same header from anyone else changes nothing."""
    as_officer(seeded_db, "HK-0001")
    app = create_app(Settings(db_path=seeded_db, broker_url=None,
                              trusted_proxies=("10.0.0.2",)))
    tls = {"X-Forwarded-Proto": "https"}
    for peer, secure in ((("10.0.0.2", 40000), True), (("10.0.0.9", 40000), False)):
        with TestClient(app, follow_redirects=False, client=peer) as client:
            response = client.post("/login", data={"login": "cb.hk-0001",
                                                   "password": PASSWORD, "next": "/"},
                                   headers=tls)
            assert response.status_code == 303
            assert ("secure" in response.headers["set-cookie"].lower()) is secure, peer
