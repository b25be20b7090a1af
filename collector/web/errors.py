"""The one answer to an error: domain errors → HTTP status, JSON for the API, a page for pages.

Services raise their domain's errors (each a `BilingualError` or alike: "vi / en"); no route
translates them by hand. `STATUS` says which status each class answers — looked up along the
class's ancestry, so a subclass not listed (QuotaNotAcknowledged, a WorkflowConflict) answers
its parent's — and `install` registers one handler that answers:

- a request for the API (`/api/…`, the OpenAPI document and its viewer): FastAPI's own JSON
  shape, `{"detail": "vi / en"}`, with that status;
- a request for a page: the page renderer the app composition passes in (the dashboard's
  error page, in the page's language), with that status.

The same handler answers an `HTTPException` a route or dependency raises (JSON or page by the
same rule; statuses below 400 always as FastAPI does), `LoginRequired` (401 with
`WWW-Authenticate: Bearer` for the API, a redirect to the login form for a page) and an
`OverflowError` (a number too large for SQLite or a date: 422, collector/web/edge.py).
A page whose form is refused re-renders itself instead; it asks `status_of` for the status.

The web layer does not import the dashboard: `install(app, page_error)` takes the renderer.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

from collector.evaluation import month, responses, tasks
from collector.evaluation.workflow import status as workflow_status
from collector.org import validation
from collector.ratings import alert_records, overview
from collector.roster import shifts
from collector.web.auth import LoginRequired, login_url
from collector.web.edge import TOO_LARGE_NUMBER

# Domain error class → HTTP status. Each domain's base class is its 422 ("a rule of the
# domain"), its NotFound 404, Forbidden 403 and Conflict 409 (order, lock, taken id).
STATUS: dict[type[Exception], int] = {
    validation.OrgNotFound: 404, validation.OrgConflict: 409, validation.OrgError: 422,
    shifts.RosterNotFound: 404, shifts.RosterForbidden: 403, shifts.RosterConflict: 409,
    shifts.RosterError: 422,
    tasks.TaskNotFound: 404, tasks.TaskForbidden: 403, tasks.TaskConflict: 409,
    tasks.TaskError: 422,
    workflow_status.WorkflowNotFound: 404, workflow_status.WorkflowForbidden: 403,
    workflow_status.WorkflowConflict: 409, workflow_status.WorkflowError: 422,
    responses.ResponseNotFound: 404, responses.ResponseForbidden: 403,
    responses.ResponseError: 422,
    month.MonthlyNotFound: 404, month.MonthlyError: 422,
    alert_records.AlertNotFound: 404, alert_records.AlertConflict: 409,
    alert_records.AlertError: 422,
    overview.NotFound: 404,
}

PageRenderer = Callable[[Request, int, Any], Response]
NOT_SIGNED_IN = "Cần đăng nhập hoặc mã API / Log in or send an API token"
# Not pages although outside /api/: the OpenAPI document and its viewer answer as the API.
API_DOCUMENTS = ("/openapi.json", "/docs")


def status_of(error: BaseException) -> int | None:
    """The HTTP status of a domain error (its nearest listed ancestor's); None if unlisted."""
    for kind in type(error).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return None


def for_api(request: Request) -> bool:
    """Whether the request is the API's (JSON answers) rather than a page's."""
    path = request.url.path
    return path.startswith("/api/") or path in API_DOCUMENTS


def install(app: FastAPI, page_error: PageRenderer) -> None:
    """Register the handler for every listed domain error, HTTPException, LoginRequired and
    OverflowError on `app`; `page_error(request, status, detail)` draws a page's refusal."""

    def answer(request: Request, status: int, detail: Any) -> Response:
        if for_api(request):
            return JSONResponse({"detail": detail}, status_code=status)
        return page_error(request, status, detail)

    async def domain_error(request: Request, error: Exception) -> Response:
        status = status_of(error)
        assert status is not None, f"{type(error).__name__} is registered but has no status"
        return answer(request, status, str(error))

    async def http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        if for_api(request) or error.status_code < 400:
            return await http_exception_handler(request, error)
        return page_error(request, error.status_code, error.detail)

    async def login_required(request: Request, error: Exception) -> Response:
        assert isinstance(error, LoginRequired)
        if request.url.path.startswith("/api/"):
            return JSONResponse(status_code=401, headers={"WWW-Authenticate": "Bearer"},
                                content={"detail": NOT_SIGNED_IN})
        return RedirectResponse(login_url(error.path), status_code=303)

    async def number_too_large(request: Request, error: Exception) -> Response:
        # Only an input too large raises it here (collector/web/edge.py): the caller's error.
        if request.url.path.startswith("/api/"):
            return JSONResponse(status_code=422, content={"detail": TOO_LARGE_NUMBER})
        return page_error(request, 422, TOO_LARGE_NUMBER)

    handlers: dict[type[Exception], Callable[[Request, Exception], Awaitable[Response]]] = {
        kind: domain_error for kind in STATUS}
    handlers.update({HTTPException: http_error, LoginRequired: login_required,
                     OverflowError: number_too_large})
    for kind, handler in handlers.items():
        app.add_exception_handler(kind, handler)
