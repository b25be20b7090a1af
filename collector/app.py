"""The HTTP API (FastAPI) and the app factory that also mounts the dashboard.

`create_app(settings)` builds everything from the settings it is given; nothing connects or
reads the environment at import. With a broker URL the app's lifespan runs the MQTT ingest
beside the API; without one it only serves what the database holds.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from dashboard.pages.evaluation_form import router as forms_router
from dashboard.pages.login import router as login_router
from dashboard.pages.leaders import router as dashboard_router
from dashboard.pages.operations import router as operations_router
from dashboard.rendering import error_page
from dashboard.pages.workspace import router as workspace_router

from collector.web import edge as api_edge, openapi as api_openapi
from collector import __version__
from collector.api import (
    alerts as api_alerts,
    fleet as api_fleet,
    imports as api_import,
    responses as api_responses,
    team as api_team,
    trends as api_trends,
    month as api_monthly,
    org as api_org,
    tasks as api_tasks,
    workflow as api_workflow,
)
from collector.db import queries
from collector.evaluation import reports
from collector.web.auth import (
    CurrentViewer,
    LoginRequired,
    Viewer,
    login_url,
    require_officer_in_scope,
    require_role,
    viewer,
)
from collector.protocol.messages import encode_command, encode_session
from collector.web.deps import Db, MonthParam, month_or_422
from collector.evaluation.policy import load_configured
from collector.accounts.sessions import LoginThrottle
from collector.ingest.subscriber import BrokerAddress, Ingest
from collector.core.settings import Settings
from collector.db.store import Store


class SessionRequest(BaseModel):
    dossier: str | None = Field(None, description="dossier code to rate; null closes the "
                                                  "session", examples=["000.00.12.H26-261125-0001"])
    seconds: int | None = Field(None, description="how long the rating stays open (10–86400)")


class CommandRequest(BaseModel):
    cmd: str = Field(description="reload_config or show_message")
    text: str | None = None
    seconds: int | None = None


STATIC_DIR = Path(__file__).resolve().parent.parent / "dashboard" / "static"
STAFF = ("technician", "administrator")


def device_unit(db, device_id: str | None) -> str | None:
    """The unit of the counter a device stands at."""
    if device_id is None:
        return None
    row = db.execute("SELECT c.unit_id FROM devices d JOIN counters c ON c.id = d.counter_id "
                     "WHERE d.id = ?", [device_id]).fetchone()
    return row[0] if row else None


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        Store(settings.db_path).close()  # create or migrate before the first request
        ingest = None
        if settings.broker_url:
            broker = BrokerAddress.parse(settings.broker_url)
            if settings.broker_password is not None:
                broker = dataclasses.replace(broker, password=settings.broker_password)
            ingest = Ingest(str(settings.db_path), broker, client_id=settings.client_id,
                            assignment_poll_s=settings.assignment_poll_s,
                            alert_rule=load_configured(settings.policy).alerts)
            ingest.start()
        app.state.ingest = ingest
        try:
            yield
        finally:
            if ingest:
                ingest.stop()

    app = FastAPI(title="hailong", version=__version__, lifespan=lifespan,
                  docs_url=None, openapi_url=None,
                  description="Citizen satisfaction at one-stop counters and officers' monthly "
                              "evaluation. Wire protocol: docs/protocol.md. Every route but "
                              "/api/v1/health needs a session (log in at /login) or an API "
                              "token (`Authorization: Bearer …`, from `hailong users token`).")
    app.state.settings = settings
    app.state.ingest = None
    app.state.login_throttle = LoginThrottle()

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, error: LoginRequired):
        if request.url.path.startswith("/api/"):
            return JSONResponse(status_code=401, headers={"WWW-Authenticate": "Bearer"},
                                content={"detail": "Cần đăng nhập hoặc mã API / Log in or "
                                                   "send an API token"})
        return RedirectResponse(login_url(error.path), status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException):
        # Pages answer a refusal with a page; the API (and the docs) keep FastAPI's JSON.
        if request.url.path.startswith("/api/") or error.status_code < 400 or \
                request.url.path in ("/openapi.json", "/docs"):
            return await http_exception_handler(request, error)
        return error_page(request, error.status_code, error.detail)

    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(who: CurrentViewer) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    def docs(who: CurrentViewer) -> HTMLResponse:
        # Swagger UI's script comes from its CDN: this page needs the internet, the API not.
        return get_swagger_ui_html(openapi_url="/openapi.json", title="hailong API")

    @app.get("/api/v1/health", tags=["system"], responses={503: {
        "description": "degraded: the same body, `status` \"degraded\" and `reasons` saying "
                       "why (collector/ingest/supervision.py)"}})
    def health(request: Request, db: Db) -> Any:
        """Liveness for monitoring, nothing personal: 200 `ok`, or 503 `degraded` with
        `reasons`, each a fixed code: `broker_not_connected`; `broker_session_lost` (the broker
        answered without the session this client id had: for 15 minutes after the loss, which
        stays recorded in `session_lost_at`, unix ms); `writer_retrying` (the database refuses
        commits, `store_error` says why); `messages_waiting` (a message uncommitted for more
        than 10 s); `writer_stuck` (the writer silent for 60 s); `thread_stopped:{name}` (a
        thread about to be restarted; `threads.restarts` counts restarts)."""
        ingest: Ingest | None = request.app.state.ingest
        totals = queries.totals(db)
        broker = {"configured": ingest is not None,
                  "connected": bool(ingest and ingest.connected.is_set()),
                  "error": ingest.last_error if ingest else None}
        store_error = ingest.store_error if ingest else None
        reasons = ingest.health_reasons() if ingest else []
        body = {"status": "degraded" if reasons else "ok", "version": __version__,
                "reasons": reasons, "broker": broker, "store_error": store_error,
                "session_lost_at": ingest.session_lost_at if ingest else None,
                "threads": {"restarts": dict(ingest.supervisor.restarts) if ingest else {}},
                "ratings_total": totals["stored"], "duplicates_total": totals["duplicate"],
                "rejected_total": totals["rejected"]}
        return JSONResponse(body, status_code=503 if reasons else 200)

    @app.get("/api/v1/me", tags=["accounts"])
    def me(who: CurrentViewer) -> dict[str, Any]:
        """The account asking: login, name, role, officer record, scope, and the CSRF token a
        script logged in with a session sends as `X-CSRF-Token` on writes."""
        return {**who.user.as_dict(), "csrf_token": who.csrf or None,
                "scope": {"everything": who.scope.everything,
                          "units": sorted(who.scope.units),
                          "officers": sorted(who.scope.officers)}}

    @app.get("/api/v1/officers", tags=["officers"])
    def officers(db: Db, who: CurrentViewer) -> list[dict[str, Any]]:
        """The officers the account may see, with their unit."""
        return [o for o in queries.list_officers(db)
                if who.scope.sees_officer(o["id"], o["unit_id"])]

    @app.get("/api/v1/officers/{officer_id}/satisfaction", tags=["officers"])
    def officer_satisfaction(officer_id: str, db: Db, who: CurrentViewer,
                             month: MonthParam = None) -> dict[str, Any]:
        """Counts per level, total, satisfaction index 0–100 and filtered presses for a month."""
        require_officer_in_scope(who, db, officer_id)
        month = month_or_422(month)
        try:
            return reports.officer_satisfaction(db, officer_id, month)
        except reports.NotFound as error:
            raise HTTPException(status_code=404, detail=str(error)) from None

    @app.get("/api/v1/overview", tags=["officers"])
    def overview(db: Db, who: CurrentViewer, month: MonthParam = None) -> dict[str, Any]:
        """Every visible officer's satisfaction for a month: the dashboard's front page."""
        report = reports.officers_overview(db, month_or_422(month))
        report["officers"] = [o for o in report["officers"]
                              if who.scope.sees_officer(o["id"], o["unit_id"])]
        return report

    @app.get("/api/v1/ratings", tags=["ratings"])
    def ratings(db: Db, who: CurrentViewer, device: str | None = None,
                officer: str | None = None,
                limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> list[dict[str, Any]]:
        """The most recently received ratings, newest first. An account limited to part of
        the organisation names the officer or the device it asks about. An officer's ratings
        go with them; a device's are those pressed while it stood at a counter of the
        account's units (not wherever it stands today)."""
        units = None
        if not who.scope.everything:
            if officer is not None:
                require_officer_in_scope(who, db, officer)
            elif device is None or not (queries.device_units_ever(db, device)
                                        & who.scope.units):
                raise HTTPException(status_code=403, detail=(
                    "Hãy chọn một cán bộ hoặc thiết bị trong phạm vi của bạn / Name an officer "
                    "or a device within your scope"))
            else:
                units = who.scope.units
        return queries.recent_ratings(db, device_id=device, officer_id=officer, limit=limit,
                                      units=units)

    @app.get("/api/v1/rejected", tags=["ratings"])
    def rejected(db: Db, who: CurrentViewer,
                 limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> list[dict[str, Any]]:
        """Messages the collector could not store, with the reason and the raw payload
        (technicians and administrators): for an account limited to some units, those of
        devices that stood at one of their counters when the message arrived."""
        require_role(who, *STAFF)
        return queries.recent_rejections(db, limit, units=who.scope.unit_filter())

    @app.get("/api/v1/devices", tags=["devices"])
    def devices(db: Db, who: CurrentViewer) -> list[dict[str, Any]]:
        """Devices with their counter and last status, within the account's scope."""
        require_role(who, *STAFF, "head", "leader")
        return [d for d in queries.list_devices(db)
                if who.scope.sees_unit(device_unit(db, d["id"]))]

    def send_to_device(request: Request, db, who: Viewer, device_id: str, kind: str,
                       payload: bytes) -> dict[str, Any]:
        require_role(who, *STAFF)
        if not any(d["id"] == device_id and d["retired_at"] is None
                   for d in queries.list_devices(db)):
            raise HTTPException(status_code=404, detail=f"no active device {device_id!r}")
        if not who.scope.sees_unit(device_unit(db, device_id)):
            raise HTTPException(status_code=403, detail=(
                f"Thiết bị {device_id} ngoài phạm vi của bạn / Device {device_id} is outside "
                "your scope"))
        ingest: Ingest | None = request.app.state.ingest
        if ingest is None:
            raise HTTPException(status_code=503, detail="this collector runs without a broker")
        try:
            ingest.publish_to_device(device_id, kind, payload)
        except ConnectionError as error:
            raise HTTPException(status_code=503, detail=str(error)) from None
        return {"device": device_id, "kind": kind, "published": True}

    @app.post("/api/v1/devices/{device_id}/session", tags=["devices"], status_code=202)
    def open_session(device_id: str, body: SessionRequest, request: Request,
                     db: Db, who: CurrentViewer) -> dict[str, Any]:
        """Open (or, with a null dossier, close) a rating for a dossier on a session-mode device."""
        try:
            payload = encode_session(dossier=body.dossier, seconds=body.seconds)
        except ValueError as error:
            raise HTTPException(status_code=422, detail=str(error)) from None
        return send_to_device(request, db, who, device_id, "session", payload)

    @app.post("/api/v1/devices/{device_id}/command", tags=["devices"], status_code=202)
    def send_command(device_id: str, body: CommandRequest, request: Request,
                     db: Db, who: CurrentViewer) -> dict[str, Any]:
        """Ask a device to reload its configuration or show a message."""
        try:
            payload = encode_command(body.cmd, text=body.text, seconds=body.seconds)
        except ValueError as error:
            raise HTTPException(status_code=422, detail=str(error)) from None
        return send_to_device(request, db, who, device_id, "command", payload)

    app.include_router(login_router)
    # Everything else needs a session or a token, even a route that forgot to ask for it.
    signed_in = [Depends(viewer)]
    for router in (api_org.router, api_tasks.router, api_workflow.router, api_monthly.router,
                   api_import.router, api_fleet.router, api_alerts.router,
                   api_responses.router, api_team.router, api_trends.router, dashboard_router,
                   forms_router,
                   workspace_router, operations_router):
        app.include_router(router, dependencies=signed_in)
    # Last, once every route exists: bounded bodies, strict JSON, 64-bit integers, short
    # 422s (api_edge) and an OpenAPI document that documents every refusal (api_openapi).
    api_edge.install(app)
    api_openapi.install(app)
    return app
