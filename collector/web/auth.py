"""Who is asking: the session cookie or API token of a request, and what they may see.

Every route but `GET /api/v1/health`, the login page and static files depends on `viewer`:
without a valid session or token an API call gets 401 and a page redirects to the login form.
`viewer` then applies the role × route table of collector/web/access.py (`authorize`): the role,
and the unit of the unit, officer, device, task or counter the path names — for an officer with
a period (`{month}` in the path, else `?month=`), the units the periods holding its calendar
months are stored with once reviewed (`require_officer_in_scope`). A session stays valid
until it expires, its holder logs out, the password changes or the account is disabled: its
record on the server is checked on every request (collector/accounts/users.py `session_record`).
Writes made with a session cookie must carry its CSRF token (form field `csrf_token` or header
`X-CSRF-Token`); API tokens carry no cookie and are not exposed to cross-site requests, so they
need none.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request

from collector.web import access
from collector.accounts import ownership, permissions, users
from collector.accounts.users import User
from collector.org.credentials import load_or_create_secret
from collector.web.deps import Db, Today
from collector.core.periods import PeriodError, parse_period
from collector.accounts.scope import PEOPLE, Scope, scope_of
from collector.accounts.sessions import COOKIE_NAME, CSRF_FIELD, CSRF_HEADER, Session, SessionCodec
from collector.db.store import Store, now_ms

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
TOUCH_EVERY_MS = 5 * 60_000


class LoginRequired(Exception):
    """Raised by `viewer`; the app answers 401 (API) or redirects to /login (pages)."""

    def __init__(self, path: str):
        self.path = path


@dataclass(frozen=True)
class Viewer:
    user: User
    scope: Scope
    session: Session | None  # None when authenticated by an API token

    @property
    def role(self) -> str:
        return self.user.role

    @property
    def officer_id(self) -> str | None:
        return self.user.officer_id

    @property
    def actor(self) -> str:
        """How the audit log names this person."""
        return f"user:{self.user.login}"

    @property
    def csrf(self) -> str:
        return self.session.csrf if self.session else ""


_codec_lock = threading.Lock()


def session_codec(request: Request) -> SessionCodec:
    """The app's cookie signer, made on first use from the secret file (created beside the
    database when missing, mode 0600), so building an app writes nothing."""
    state = request.app.state
    with _codec_lock:
        if getattr(state, "session_codec", None) is None:
            settings = state.settings
            db_path = Path(settings.db_path)
            secret_file = Path(settings.session_secret_file or db_path.with_name(
                db_path.name + ".session-secret"))
            state.session_codec = SessionCodec(load_or_create_secret(secret_file)[0])
        return state.session_codec


def _from_token(db, request: Request) -> User | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return users.user_for_token(db, token.strip())


def _touch(request: Request, sid: str) -> None:
    """Note when a session was last used, at most once per TOUCH_EVERY_MS: a write per
    request would queue every page behind the ingest's batches. Best effort: a busy database
    skips one note, never a request."""
    store = None
    try:
        store = Store(request.app.state.settings.db_path, busy_timeout_ms=200)
        users.AccountService(store, actor="system").touch_session(sid)
    except sqlite3.Error:
        pass  # the next request tries again; last_seen is for listing sessions only
    finally:
        if store is not None:
            store.close()


def _from_cookie(db, request: Request) -> tuple[User, Session] | None:
    session = session_codec(request).decode(request.cookies.get(COOKIE_NAME))
    if session is None:
        return None
    now = now_ms()
    record = users.session_record(db, session.sid, now)
    if record is None or record.login != session.login or \
            not session.still_valid(record.password_changed_at):
        return None
    user = users.get_user(db, session.login)
    if user is None:
        return None
    if now - record.last_seen_at >= TOUCH_EVERY_MS:
        _touch(request, session.sid)
    return user, session


async def viewer(request: Request, db: Db, day: Today) -> Viewer:
    user = _from_token(db, request)
    session = None
    if user is None:
        found = _from_cookie(db, request)
        if found is None:
            raise LoginRequired(request.url.path + (f"?{request.url.query}"
                                                    if request.url.query else ""))
        user, session = found
        if request.method not in SAFE_METHODS:
            token = request.headers.get(CSRF_HEADER)
            if token is None and request.headers.get("content-type", "").startswith(
                    ("application/x-www-form-urlencoded", "multipart/form-data")):
                token = (await request.form()).get(CSRF_FIELD)
            if not session.csrf_ok(token if isinstance(token, str) else None):
                raise HTTPException(status_code=403, detail=(
                    "Phiên làm việc không hợp lệ, hãy tải lại trang (thiếu mã CSRF) / "
                    "Invalid session token, reload the page (CSRF token missing)"))
    who = Viewer(user=user, scope=scope_of(db, user), session=session)
    authorize(request, who, db, day)
    return who


# SQLite's integers: a bigger id names nothing, and binding it would raise OverflowError.
_SQL_INT = range(-2 ** 63, 2 ** 63)


def _int_id(text: str) -> int | None:
    try:
        number = int(text)
    except ValueError:
        return None
    return number if number in _SQL_INT else None


def authorize(request: Request, who: Viewer, db, today: date | None = None) -> None:
    """The gate of collector/web/access.py's table, before the route runs: the caller's role,
    then the unit of what the path names (collector/accounts/ownership.py). An unknown target
    is left to the route's own 404."""
    route = request.scope.get("route")
    rule = access.rule_for(request.method, getattr(route, "path", ""))
    if rule is None:
        raise refuse("Đường dẫn này chưa có trong bảng phân quyền nên không ai được dùng",
                     "This route is not in the access table (collector/web/access.py), so nobody "
                     "may use it")
    if who.role not in rule.roles:
        raise refuse("Vai trò của tài khoản không được phép xem hay làm việc này",
                     "Your account's role may not see or do this")
    if rule.target is None:
        return
    key = request.path_params.get(access.TARGET_PARAMS[rule.target])
    if not isinstance(key, str):
        return
    if rule.target == "unit":
        if ownership.unit(db, key) is not None:
            require_unit_in_scope(who, key)
    elif rule.target == "officer":
        month = request.path_params.get("month") or request.query_params.get("month")
        require_officer_in_scope(who, db, key, month if isinstance(month, str) else None,
                                 today)
    elif rule.target == "task":
        task_id = _int_id(key)
        task = None if task_id is None else ownership.task(db, task_id)
        if task is not None:
            require_officer_in_scope(who, db, task.officer_id)
    else:  # a device or a counter
        owner = (ownership.device if rule.target == "device" else ownership.counter)(db, key)
        if owner is not None and not who.scope.sees_unit(owner.unit_id):
            raise refuse("Thiết bị hay quầy này ngoài phạm vi tài khoản của bạn",
                         "This device or counter is outside your account's scope")


CurrentViewer = Annotated[Viewer, Depends(viewer)]


def login_url(path: str) -> str:
    return "/login?next=" + quote(path, safe="/")


def refuse(vi: str, en: str) -> HTTPException:
    return HTTPException(status_code=403, detail=f"{vi} / {en}")


def require_role(who: Viewer, *roles: str) -> None:
    if who.role not in roles:
        raise refuse("Vai trò của tài khoản không được phép xem hay làm việc này",
                     "Your account's role may not see or do this")


def require_officer_in_scope(who: Viewer, db, officer_id: str, month: str | None = None,
                             today: date | None = None) -> None:
    """The officer exists (404) and is the account's to see (403). With `month` (a month or
    a quarter key), every calendar month of it must be the account's (`months_in_scope`)."""
    owner = ownership.officer(db, officer_id)
    if owner is None:
        raise HTTPException(status_code=404, detail=f"Không tìm thấy cán bộ {officer_id!r} / "
                                                    f"No officer {officer_id!r}")
    months = _calendar_months(month)
    if months:
        seen = months_in_scope(who, db, officer_id, months, today) == set(months)
    else:
        seen = who.scope.sees_officer(officer_id, owner.unit_id)
    if not seen:
        # The refusal names nothing, not even the id asked for: it is another unit's.
        raise refuse("Cán bộ này ngoài phạm vi tài khoản của bạn",
                     "This officer is outside your account's scope")


def _calendar_months(period: str | None) -> list[str]:
    """The calendar months of a month or quarter key; [] for none or a malformed one (the
    route answers that with its own 422)."""
    try:
        return [] if period is None else list(parse_period(period).months())
    except PeriodError:
        return []


def months_in_scope(who: Viewer, db, officer_id: str, months: list[str],
                    today: date | None = None) -> set[str]:
    """Those of the calendar `months` of an officer's evidence the account may read (issue
    12). A month held by an evaluation period reviewed or decided already — the month, or its
    quarter (ownership.officer_month_places) — is read by accounts whose units hold the unit
    stored with each such period, by the officer, and by the people each period's rules name
    (its reviewer while in office on `today`, the head who decides it, the heads above its
    unit: permissions.month_facts); not by those who see the officer only through their unit
    or leader now. Any other month follows the officer's unit now."""
    owner = ownership.officer(db, officer_id)
    if owner is None:
        return set()
    now = who.scope.sees_officer(officer_id, owner.unit_id)
    me = who.officer_id if who.role in PEOPLE else None
    verdicts: dict[str, bool] = {}

    def seen(period: str, unit_id: str) -> bool:
        if period not in verdicts:
            facts = permissions.month_facts(db, officer_id, period, today) if me else None
            verdicts[period] = who.scope.sees_unit(unit_id) or bool(
                facts and permissions.may_view(facts, me))
        return verdicts[period]
    places = ownership.officer_month_places(db, officer_id, months)
    return {month for month, held in places.items()
            if (all(seen(period, unit) for period, unit in held.items()) if held else now)}


def clip_trend(who: Viewer, db, officer_id: str, trend: dict, today: date | None = None) -> dict:
    """An officer's monthly trend (collector/ratings/trends.py `officer_trend`) cut to the
    months the account may read (`months_in_scope`), those left out listed in `withheld`:
    the month asked for is checked by the gate, and refusing the whole window for one month
    held elsewhere would take the chart from the officer's head now for a year after a move."""
    months = [point["month"] for point in trend["series"]]
    readable = months_in_scope(who, db, officer_id, months, today)
    return {**trend, "series": [p for p in trend["series"] if p["month"] in readable],
            "withheld": [month for month in months if month not in readable]}


def require_unit_in_scope(who: Viewer, unit_id: str) -> None:
    if not who.scope.sees_unit(unit_id):
        raise refuse("Đơn vị này ngoài phạm vi tài khoản của bạn",
                     "This unit is outside your account's scope")


def require_alert_in_scope(who: Viewer, db, alert_id: int) -> None:
    """The alert exists (404) and belongs to a unit of the account's scope (403): the unit its
    counter belonged to when it was raised, which the refusal does not name."""
    owner = ownership.alert(db, alert_id)
    if owner is None:
        raise HTTPException(status_code=404, detail=f"Không có cảnh báo {alert_id} / "
                                                    f"No alert {alert_id}")
    if not who.scope.sees_unit(owner.unit_id):
        raise refuse("Cảnh báo này thuộc đơn vị ngoài phạm vi tài khoản của bạn",
                     "This alert belongs to a unit outside your account's scope")


def acting_officer(who: CurrentViewer) -> str:
    """The officer a workflow or task action is done as: the account's own record."""
    if who.role not in PEOPLE or who.officer_id is None:
        raise refuse("Tài khoản này không gắn với cán bộ nào nên không thực hiện được bước "
                     "đánh giá", "This account is not an officer's, so it cannot take part "
                     "in an evaluation")
    return who.officer_id


ActingOfficer = Annotated[str, Depends(acting_officer)]
