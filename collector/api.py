"""The HTTP API (FastAPI) and the app factory that also mounts the dashboard.

`create_app(settings)` builds everything from the settings it is given; nothing connects or
reads the environment at import. With a broker URL the app's lifespan runs the MQTT ingest
beside the API; without one it only serves what the database holds.
"""

from __future__ import annotations

import dataclasses
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query, Request
from pydantic import BaseModel, Field

from dashboard.forms import router as forms_router
from dashboard.pages import router as dashboard_router

from . import (__version__, api_import, api_monthly, api_org, api_tasks, api_workflow, queries,
               reports)
from .messages import encode_command, encode_session
from .deps import Db, MonthParam, month_or_422
from .ingest import BrokerAddress, Ingest
from .settings import Settings
from .store import Store


class SessionRequest(BaseModel):
    dossier: str | None = Field(None, description="dossier code to rate; null closes the "
                                                  "session", examples=["000.00.12.H26-261125-0001"])
    seconds: int | None = Field(None, description="how long the rating stays open (10–86400)")


class CommandRequest(BaseModel):
    cmd: str = Field(description="reload_config or show_message")
    text: str | None = None
    seconds: int | None = None


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
                            assignment_poll_s=settings.assignment_poll_s)
            ingest.start()
        app.state.ingest = ingest
        try:
            yield
        finally:
            if ingest:
                ingest.stop()

    app = FastAPI(title="hailong", version=__version__, lifespan=lifespan,
                  description="Citizen satisfaction at one-stop counters and officers' monthly "
                              "evaluation. Wire protocol: docs/protocol.md.")
    app.state.settings = settings
    app.state.ingest = None

    @app.get("/api/v1/health", tags=["system"])
    def health(request: Request, db: Db) -> dict[str, Any]:
        """Liveness for monitoring: broker connection and ingest totals, nothing personal."""
        ingest: Ingest | None = request.app.state.ingest
        totals = queries.totals(db)
        broker = {"configured": ingest is not None,
                  "connected": bool(ingest and ingest.connected.is_set()),
                  "error": ingest.last_error if ingest else None}
        store_error = ingest.store_error if ingest else None
        degraded = ingest is not None and (not broker["connected"] or store_error is not None)
        return {"status": "degraded" if degraded else "ok", "version": __version__,
                "broker": broker, "store_error": store_error, "ratings_total": totals["stored"],
                "duplicates_total": totals["duplicate"], "rejected_total": totals["rejected"]}

    @app.get("/api/v1/officers", tags=["officers"])
    def officers(db: Db) -> list[dict[str, Any]]:
        return queries.list_officers(db)

    @app.get("/api/v1/officers/{officer_id}/satisfaction", tags=["officers"])
    def officer_satisfaction(officer_id: str, db: Db, month: MonthParam = None) -> dict[str, Any]:
        """Counts per level, total, satisfaction index 0–100 and filtered presses for a month."""
        month = month_or_422(month)
        try:
            return reports.officer_satisfaction(db, officer_id, month)
        except reports.NotFound as error:
            raise HTTPException(status_code=404, detail=str(error)) from None

    @app.get("/api/v1/overview", tags=["officers"])
    def overview(db: Db, month: MonthParam = None) -> dict[str, Any]:
        """Every officer's satisfaction for a month: the data of the dashboard's front page."""
        return reports.officers_overview(db, month_or_422(month))

    @app.get("/api/v1/ratings", tags=["ratings"])
    def ratings(db: Db, device: str | None = None, officer: str | None = None,
                limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> list[dict[str, Any]]:
        """The most recently received ratings, newest first."""
        return queries.recent_ratings(db, device_id=device, officer_id=officer, limit=limit)

    @app.get("/api/v1/rejected", tags=["ratings"])
    def rejected(db: Db, limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> list[dict[str, Any]]:
        """Messages the collector could not store, with the reason and the raw payload."""
        return queries.recent_rejections(db, limit)

    @app.get("/api/v1/devices", tags=["devices"])
    def devices(db: Db) -> list[dict[str, Any]]:
        return queries.list_devices(db)

    def send_to_device(request: Request, db, device_id: str, kind: str,
                       payload: bytes) -> dict[str, Any]:
        if not any(d["id"] == device_id and d["retired_at"] is None
                   for d in queries.list_devices(db)):
            raise HTTPException(status_code=404, detail=f"no active device {device_id!r}")
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
                     db: Db) -> dict[str, Any]:
        """Open (or, with a null dossier, close) a rating for a dossier on a session-mode device."""
        try:
            payload = encode_session(dossier=body.dossier, seconds=body.seconds)
        except ValueError as error:
            raise HTTPException(status_code=422, detail=str(error)) from None
        return send_to_device(request, db, device_id, "session", payload)

    @app.post("/api/v1/devices/{device_id}/command", tags=["devices"], status_code=202)
    def send_command(device_id: str, body: CommandRequest, request: Request,
                     db: Db) -> dict[str, Any]:
        """Ask a device to reload its configuration or show a message."""
        try:
            payload = encode_command(body.cmd, text=body.text, seconds=body.seconds)
        except ValueError as error:
            raise HTTPException(status_code=422, detail=str(error)) from None
        return send_to_device(request, db, device_id, "command", payload)

    app.include_router(api_org.router)
    app.include_router(api_tasks.router)
    app.include_router(api_workflow.router)
    app.include_router(api_monthly.router)
    app.include_router(api_import.router)
    app.include_router(dashboard_router)
    app.include_router(forms_router)
    return app
