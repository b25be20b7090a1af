"""Logging in: sessions, CSRF, throttling, and that every route but health needs an account."""

from __future__ import annotations

import re

import pytest
from accounts_support import PASSWORD, admin_headers, as_officer
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from collector.accounts import AccountService
from collector.api import create_app
from collector.settings import Settings
from collector.store import Store

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


def all_routes(routes):
    """Every APIRoute, including those of included routers (FastAPI keeps them apart)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from all_routes(route.original_router.routes)


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
