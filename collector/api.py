"""The HTTP API (FastAPI) and the app factory that also mounts the dashboard.

`create_app(settings)` builds everything from the settings it is given; nothing connects or
reads the environment at import. With a broker URL the app's lifespan runs the MQTT ingest
beside the API; without one it only serves what the database holds.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query, Request

from dashboard.pages import router as dashboard_router

from . import __version__, queries, reports
from .deps import Db, MonthParam, month_or_422
from .ingest import BrokerAddress, Ingest
from .settings import Settings
from .store import Store


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        Store(settings.db_path).close()  # create or migrate before the first request
        ingest = None
        if settings.broker_url:
            ingest = Ingest(str(settings.db_path), BrokerAddress.parse(settings.broker_url),
                            client_id=settings.client_id)
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

    app.include_router(dashboard_router)
    return app
