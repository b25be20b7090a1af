"""Logging in and out, and the language switch.

POST /login checks the throttle before the password (a locked-out login costs no argon2 run
and tells nothing), records the session on the server and sets the signed cookie naming it
(HttpOnly, SameSite=Lax; Secure when the request came over HTTPS), and redirects to the page
asked for — only ever a local path, so the form cannot be used to send someone elsewhere.
POST /logout revokes the session on the server, so a copy of the cookie is worth nothing.
The throttle counts the client's address as `client_address` (collector/accounts/sessions.py)
finds it: X-Forwarded-For is believed only from the deployment's trusted proxies.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from collector.accounts import users
from collector.web.auth import CurrentViewer, session_codec
from collector.web.deps import Db
from collector.accounts.sessions import (
    COOKIE_NAME,
    SESSION_MAX_AGE_S,
    came_over_tls,
    client_address,
    trusted_networks,
)
from collector.db.store import Store

from dashboard.i18n import LANGUAGES
from dashboard.rendering import LANGUAGE_COOKIE, render

router = APIRouter(include_in_schema=False)


def local_path(target: str | None) -> str:
    """`target` if it is a path on this site, else the front page."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _client(request: Request) -> str:
    """The address failed logins are counted against (collector/accounts/sessions.py
    `client_address`: X-Forwarded-For only from a configured proxy)."""
    peer = request.client.host if request.client else "unknown"
    networks = trusted_networks(request.app.state.settings.trusted_proxies)
    # Every X-Forwarded-For line, in order: a proxy may add its own line rather than append.
    forwarded = ",".join(request.headers.getlist("x-forwarded-for")) or None
    return client_address(peer, forwarded, networks)


def _over_tls(request: Request) -> bool:
    """Whether the session cookie may travel only over TLS: the browser's connection was."""
    peer = request.client.host if request.client else "unknown"
    networks = trusted_networks(request.app.state.settings.trusted_proxies)
    return came_over_tls(request.url.scheme, peer,
                         request.headers.get("x-forwarded-proto"), networks)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> HTMLResponse:
    return render(request, "login.html", None, next=local_path(next), error=None, login="")


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, db: Db, login: Annotated[str, Form()] = "",
          password: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/") -> Response:
    throttle = request.app.state.login_throttle
    client = _client(request)
    wait = throttle.retry_after(login, client)
    if wait:
        return render(request, "login.html", None, status_code=429, next=local_path(next),
                      login=login, error=("locked", (wait + 59) // 60))
    user, rehash = users.verify_login(db, login, password)
    if user is None:
        throttle.failed(login, client)
        return render(request, "login.html", None, status_code=401, next=local_path(next),
                      login=login, error=("wrong", 0))
    throttle.succeeded(login, client)
    # The session is valid until the password changes: it carries when it last did.
    changed = {account["login"]: account["password_changed_at"]
               for account in users.list_users(db)}[user.login]
    session, cookie = session_codec(request).new(user.login, changed)
    store = Store(request.app.state.settings.db_path)
    try:
        service = users.AccountService(store, actor="system")
        if rehash:
            service.rehash(user.login, rehash)
        service.open_session(user.login, session.sid, SESSION_MAX_AGE_S * 1000)
    finally:
        store.close()
    response = RedirectResponse(local_path(next), status_code=303)
    response.set_cookie(COOKIE_NAME, cookie, max_age=SESSION_MAX_AGE_S, httponly=True,
                        samesite="lax", secure=_over_tls(request))
    return response


@router.post("/logout")
def logout(request: Request, who: CurrentViewer) -> Response:
    """End the session on the server, not only in this browser: a copy of the cookie is
    worth nothing afterwards. (With an API token there is no session to end.)"""
    if who.session is not None:
        store = Store(request.app.state.settings.db_path)
        try:
            users.AccountService(store, actor=who.actor).close_session(who.session.sid)
        finally:
            store.close()
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE_NAME)
    return response


@router.get("/language/{code}")
def switch_language(code: str, next: str = "/") -> Response:
    response = RedirectResponse(local_path(next), status_code=303)
    if code in LANGUAGES:
        response.set_cookie(LANGUAGE_COOKIE, code, max_age=365 * 86400, samesite="lax")
    return response
