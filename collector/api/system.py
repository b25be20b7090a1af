"""HTTP routes of the collector itself: health, the account asking, the OpenAPI document.

    GET /api/v1/health     liveness for monitoring: public, nothing personal
    GET /api/v1/me         the account asking, its scope and its CSRF token
    GET /openapi.json      the API's OpenAPI document (signed in; collector/web/openapi.py)
    GET /docs              Swagger UI over it (signed in)

Health reads the ingest's state from the app (`app.state.ingest`, None without a broker) and
the database's totals. Every route here but health needs a session or a token: the app
composition includes this router without the signed-in dependency, so each route asks for
its viewer itself.

Wiring: collector/app.py lists `router` in `OPEN_ROUTERS`, without the signed-in dependency.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from collector import __version__
from collector.ingest.subscriber import Ingest
from collector.ratings import received
from collector.web.auth import CurrentViewer
from collector.web.deps import Db

router = APIRouter()


@router.get("/openapi.json", include_in_schema=False)
def openapi(request: Request, who: CurrentViewer) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@router.get("/docs", include_in_schema=False)
def docs(who: CurrentViewer) -> HTMLResponse:
    # Swagger UI's script comes from its CDN: this page needs the internet, the API not.
    return get_swagger_ui_html(openapi_url="/openapi.json", title="hailong API")


@router.get("/api/v1/health", tags=["system"], responses={503: {
    "description": "degraded: the same body, `status` \"degraded\" and `reasons` saying "
                   "why (collector/ingest/supervision.py)"}})
def health(request: Request, db: Db) -> Any:
    """Liveness for monitoring, nothing personal: 200 `ok`, or 503 `degraded` with
    `reasons`, each a fixed code: `broker_not_connected`; `broker_subscription_refused` (the
    broker refused the collector's subscriptions; it reconnects, to the next node of
    `--broker`, until they are granted; `broker.address` is the node it is on, without
    credentials); `broker_session_lost` (the broker
    answered without the session this client id had: for 15 minutes after the loss, which
    stays recorded in `session_lost_at`, unix ms); `writer_retrying` (the database refuses
    commits, `store_error` says why); `messages_waiting` (a message uncommitted for more
    than 10 s); `writer_stuck` (the writer silent for 60 s); `alerts_failing` (the last
    alert check failed; ratings are stored all the same); `assignments_failing` (the last
    round of assignment publishing failed); `offline_watch_failing` (the last round of the
    watch for devices offline during shifts failed); `thread_stopped:{name}` (a thread about to be
    restarted; `threads.restarts` counts restarts)."""
    ingest: Ingest | None = request.app.state.ingest
    totals = received.totals(db)
    broker = {"configured": ingest is not None,
              "connected": bool(ingest and ingest.connected.is_set()),
              "error": ingest.last_error if ingest else None,
              # The node of `--broker` it is on (a cluster's list), never the credentials.
              "address": ingest.broker_address if ingest else None}
    store_error = ingest.store_error if ingest else None
    reasons = ingest.health_reasons() if ingest else []
    body = {"status": "degraded" if reasons else "ok", "version": __version__,
            "reasons": reasons, "broker": broker, "store_error": store_error,
            "session_lost_at": ingest.session_lost_at if ingest else None,
            "threads": {"restarts": dict(ingest.supervisor.restarts) if ingest else {}},
            "ratings_total": totals["stored"], "duplicates_total": totals["duplicate"],
            "rejected_total": totals["rejected"]}
    return JSONResponse(body, status_code=503 if reasons else 200)


@router.get("/api/v1/me", tags=["accounts"])
def me(who: CurrentViewer) -> dict[str, Any]:
    """The account asking: login, name, role, officer record, scope, and the CSRF token a
    script logged in with a session sends as `X-CSRF-Token` on writes."""
    return {**who.user.as_dict(), "csrf_token": who.csrf or None,
            "scope": {"everything": who.scope.everything,
                      "units": sorted(who.scope.units),
                      "officers": sorted(who.scope.officers)}}
