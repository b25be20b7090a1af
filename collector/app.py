"""The app composition: the one place that sees both the JSON API and the dashboard's pages.

`create_app(settings)` builds everything from the settings it is given; nothing connects or
reads the environment at import. It assembles, and holds no route of its own:

- the lifespan: the database created or migrated before the first request and, with a
  broker URL, the MQTT ingest started beside the app and stopped with it (without one the app
  only serves what the database holds);
- the static files of the dashboard (`/static`);
- the routers: collector/api/* (JSON) and dashboard/pages/* (HTML), every one but the public
  ones (health, login) behind the signed-in dependency (collector/web/auth.py `viewer`, which
  applies collector/web/access.py's table);
- the one exception handler (collector/web/errors.py), given the dashboard's error page to
  answer a page's refusal with, since the web layer does not import the dashboard;
- the HTTP edge (collector/web/edge.py) and the completed OpenAPI document
  (collector/web/openapi.py), last, once every route exists.
"""

from __future__ import annotations

import dataclasses
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from collector import __version__
from collector.accounts import users
from collector.accounts.sessions import LoginThrottle
from collector.api import (
    alerts as api_alerts,
    fleet as api_fleet,
    imports as api_imports,
    month as api_month,
    org as api_org,
    ratings as api_ratings,
    responses as api_responses,
    system as api_system,
    tasks as api_tasks,
    team as api_team,
    trends as api_trends,
    workflow as api_workflow,
)
from collector.core.settings import BrokerAddress, Settings
from collector.db.store import Store
from collector.evaluation.policy import load_configured
from collector.ingest.subscriber import Ingest
from collector.web import edge, errors, openapi
from collector.web.auth import viewer
from dashboard.pages.evaluation_form import router as forms_router
from dashboard.pages.leaders import router as leaders_router
from dashboard.pages.login import router as login_router
from dashboard.pages.operations import router as operations_router
from dashboard.pages.workspace import router as workspace_router
from dashboard.pages.years import router as years_router
from dashboard.rendering import error_page

STATIC_DIR = Path(__file__).resolve().parent.parent / "dashboard" / "static"
DESCRIPTION = ("Citizen satisfaction at one-stop counters and officers' monthly evaluation. "
               "Wire protocol: docs/protocol.md. Every route but /api/v1/health needs a "
               "session (log in at /login) or an API token (`Authorization: Bearer …`, from "
               "`hailong users token`).")
# Public routes, or routes that ask for their viewer themselves (collector/api/system.py).
OPEN_ROUTERS = (api_system.router, login_router)
# Everything else needs a session or a token, even a route that forgot to ask for it.
SIGNED_IN_ROUTERS = (api_ratings.router, api_org.router, api_tasks.router,
                     api_workflow.router, api_month.router, api_imports.router,
                     api_fleet.router, api_alerts.router, api_responses.router,
                     api_team.router, api_trends.router, leaders_router, forms_router,
                     workspace_router, operations_router, years_router)


def _ingest(settings: Settings) -> Ingest | None:
    """The MQTT ingest the settings ask for, not started; None without a broker."""
    if not settings.broker_url:
        return None
    broker = BrokerAddress.parse(settings.broker_url)
    if settings.broker_password is not None:
        broker = dataclasses.replace(broker, password=settings.broker_password)
    policy = load_configured(settings.policy)
    return Ingest(str(settings.db_path), broker, client_id=settings.client_id,
                  assignment_poll_s=settings.assignment_poll_s, alert_rule=policy.alerts,
                  offline_rule=policy.offline)


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        Store(settings.db_path).close()  # create or migrate before the first request
        users.dummy_hash()  # before the first login: an unknown login costs what a known one does
        ingest = _ingest(settings)
        if ingest:
            ingest.start()
        app.state.ingest = ingest
        try:
            yield
        finally:
            if ingest:
                ingest.stop()

    app = FastAPI(title="hailong", version=__version__, lifespan=lifespan,
                  docs_url=None, openapi_url=None, description=DESCRIPTION)
    app.state.settings = settings
    app.state.ingest = None
    app.state.login_throttle = LoginThrottle()
    errors.install(app, page_error=error_page)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    for router in OPEN_ROUTERS:
        app.include_router(router)
    for router in SIGNED_IN_ROUTERS:
        app.include_router(router, dependencies=[Depends(viewer)])
    # Last, once every route exists: bounded bodies, strict JSON, 64-bit integers, short
    # 422s (edge) and an OpenAPI document that documents every refusal (openapi).
    edge.install(app)
    openapi.install(app)
    return app
