"""The plumbing of the workspaces' forms (dashboard/pages/workspace.py): refusals, fields, checks.

A form calls the service the JSON API calls, with the permission checks the API applies
(collector/web/scoped.py); what the user can get wrong comes back as a `Refusal` carrying the
status code the API would answer (collector/web/errors.py `status_of`, the app's one table)
and the reason in Vietnamese and English, for the page to show in its language. Form
fields arrive as text: `number` only reads a decimal comma as well as a point; every rule
(ranges, dates, order, locks) stays the services'.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Callable
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse

from collector.core.periods import MONTH, check_period, parse_period, period_of
from collector.evaluation import tasks
from collector.web import scoped
from collector.web.auth import Viewer
from collector.web.deps import month_or_422, period_or_422
from collector.web.errors import status_of
from collector.accounts.permissions import Permission
from collector.accounts.scope import PEOPLE


class Refusal(Exception):
    """A form the page cannot carry out: the status the API would answer and why, in both
    languages."""

    def __init__(self, status: int, vi: str, en: str):
        super().__init__(f"{vi} / {en}")
        self.status, self.vi, self.en = status, vi, en


def attempt(action: Callable[[], Any]) -> Any:
    """Run a service call; a domain error the API answers with a status (errors.STATUS)
    becomes a `Refusal` with that status."""
    try:
        return action()
    except Refusal:
        raise
    except Exception as error:
        status, vi, en = status_of(error), getattr(error, "vi", None), getattr(error, "en", None)
        if status is None or vi is None or en is None:
            raise
        raise Refusal(status, vi, en) from None


async def form_fields(request: Request) -> dict[str, str]:
    """The posted form's text fields (already read, and cached, by the CSRF check)."""
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


Fields = Annotated[dict[str, str], Depends(form_fields)]


# --- checks shared by the forms ----------------------------------------------------------------

def acting(who: Viewer) -> str:
    """The officer the account acts as (collector.web.auth.acting_officer's rule), or a refusal."""
    if who.role not in PEOPLE or who.officer_id is None:
        raise Refusal(403, "Tài khoản này không gắn với cán bộ nào nên không có việc của cán bộ",
                      "This account is not an officer's, so it has no officer's work")
    return who.officer_id


def allow(db, officer_id: str, actor: str, rule: Callable[..., Permission]) -> None:
    """The API's check (scoped.allow_task), its refusal as the page's."""
    attempt(lambda: scoped.allow_task(db, officer_id, actor, rule))


def task_officer(db, task_id: int) -> str:
    """Whose task it is (scoped.task_officer), or the page's 404 refusal."""
    return attempt(lambda: scoped.task_officer(db, task_id))


def number(text: str | None, field: str) -> float | int:
    """A number typed in a form ('1,5' as well as '1.5'); whole numbers stay int."""
    try:
        value = float((text or "").strip().replace(",", "."))
    except ValueError:
        raise Refusal(422, f"{field}: cần nhập một số", f"{field}: enter a number") from None
    return int(value) if value.is_integer() else value


def this_or(month: str | None, day: date, kind: str = MONTH) -> str:
    """The month asked for (422 when malformed), else the month of `day` (the Today
    dependency, so a test's fixed date is the page's "this month"). Under a quarterly policy
    (`kind`, the policy's `period`) a quarter "YYYY-Qn", else this quarter."""
    if kind == MONTH:
        return month_or_422(month or day.strftime("%Y-%m"))
    return period_or_422(month, kind, day)


def page_month(value: str | None, day: date, kind: str = MONTH) -> str:
    """The month (a quarterly policy's quarter) a form came from (its hidden field), or
    this one."""
    try:
        return check_period(value, kind).key if value else period_of(day, kind).key
    except ValueError:
        return period_of(day, kind).key


def task_service(store, actor: str, day: date, now: int,
                 period: str = MONTH) -> tasks.TaskService:
    """The task service as collector/api/tasks.py makes it (scoped.task_service)."""
    return scoped.task_service(store, actor, day, now, period)


def back(path: str, anchor: str = "", **params: Any) -> RedirectResponse:
    query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
    return RedirectResponse(f"{path}?{query}{anchor}", status_code=303)


def link(path: str, **params: Any) -> str:
    """A link to a page state; empty values and page 1 (the default) are left out."""
    return f"{path}?{urlencode({k: v for k, v in params.items() if v not in (None, '', 1)})}"


def months_around(month: str) -> tuple[str, str]:
    """The months before and after 'YYYY-MM' (the quarters around 'YYYY-Qn')."""
    period = parse_period(month)
    return period.previous().key, period.following().key
