"""HTTP routes for citizens' ratings as received: one officer's month, the overview, the latest
ratings and the messages the collector could not store.

    GET /api/v1/officers/{officer_id}/satisfaction?month=   counts, total, index, filtered
    GET /api/v1/overview?month=                              every visible officer's month
    GET /api/v1/ratings?device=&officer=&limit=              the latest ratings
    GET /api/v1/rejected?limit=                              the latest rejected messages

Thin: each route calls one function of collector/ratings/overview.py or received.py, within
the account's scope; a rating or a rejection belongs to the unit its device stood in when it
was pressed or arrived (collector/accounts/ownership.py `device_units_ever`), not wherever
the device stands today. Reads only, on the shared read-only `Db`.

Wiring: collector/app.py lists `router` in `SIGNED_IN_ROUTERS`, behind the signed-in dependency.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from collector.accounts import ownership
from collector.ratings import overview as ratings_overview, received
from collector.web import access
from collector.web.auth import CurrentViewer, require_officer_in_scope, require_role
from collector.web.deps import Db, MonthParam, month_or_422

router = APIRouter()


@router.get("/api/v1/officers/{officer_id}/satisfaction", tags=["officers"])
def officer_satisfaction(officer_id: str, db: Db, who: CurrentViewer,
                         month: MonthParam = None) -> dict[str, Any]:
    """Counts per level, total, satisfaction index 0–100 and filtered presses for a month."""
    require_officer_in_scope(who, db, officer_id, month)
    return ratings_overview.officer_satisfaction(db, officer_id, month_or_422(month))


@router.get("/api/v1/overview", tags=["officers"])
def overview(db: Db, who: CurrentViewer, month: MonthParam = None) -> dict[str, Any]:
    """Every visible officer's satisfaction for a month: the dashboard's front page."""
    return ratings_overview.officers_overview(db, month_or_422(month),
                                              units=who.scope.unit_filter(),
                                              officers=who.scope.officers)


@router.get("/api/v1/ratings", tags=["ratings"])
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
        elif device is None or not (ownership.device_units_ever(db, device)
                                    & who.scope.units):
            raise HTTPException(status_code=403, detail=(
                "Hãy chọn một cán bộ hoặc thiết bị trong phạm vi của bạn / Name an officer "
                "or a device within your scope"))
        else:
            units = who.scope.units
    return received.recent_ratings(db, device_id=device, officer_id=officer, limit=limit,
                                   units=units)


@router.get("/api/v1/rejected", tags=["ratings"])
def rejected(db: Db, who: CurrentViewer,
             limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> list[dict[str, Any]]:
    """Messages the collector could not store, with the reason and the raw payload
    (technicians and administrators): for an account limited to some units, those of
    devices that stood at one of their counters when the message arrived."""
    require_role(who, *access.STAFF)
    return received.recent_rejections(db, limit, units=who.scope.unit_filter())
