"""HTTP routes for satisfaction over time: the JSON twins of the trend and heat-map charts.

Thin: each route checks the account's scope and calls one function of collector/ratings/trends.py.
`min_ratings` (below it a month is marked insufficient) is the deployment policy's. Reads
only, on the shared read-only `Db`. Months are local time (UTC+7); `month` defaults to the
current one, like the other `?month=` routes.

- `GET /api/v1/officers/{id}/trend?month=&months=12`: the officer page's 12-month chart,
  without the months held by an evaluation period the caller may not read (issue 12: listed
  in `withheld`; the month asked for must be the caller's, as on the other `?month=` routes);
- `GET /api/v1/officers/{id}/heatmap?month=`: the officer page's hour × weekday map;
- `GET /api/v1/units/{id}/trend?month=&months=6`: the unit overview's sparklines (each
  officer of the unit and below active in the month) and the unit's months together.

Wiring: collector/app.py lists `router` in `SIGNED_IN_ROUTERS`, behind the signed-in dependency.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from collector.evaluation import sources
from collector.ratings import trends
from collector.web.auth import (
    CurrentViewer,
    clip_trend,
    require_officer_in_scope,
    require_unit_in_scope,
)
from collector.web.deps import ConfiguredPolicy, Db, MonthParam, Today, month_or_422
from collector.evaluation.month import check_month
from collector.org.organisation import unit_subtree

router = APIRouter(tags=["trends"])

Months = Annotated[int, Query(ge=1, le=trends.MAX_MONTHS,
                              description="how many months, ending with `month`")]


@router.get("/api/v1/officers/{officer_id}/trend")
def officer_trend(officer_id: str, db: Db, policy: ConfiguredPolicy, who: CurrentViewer,
                  day: Today, month: MonthParam = None, months: Months = 12) -> dict[str, Any]:
    """The officer's months up to `month`, oldest first: per month the counts per level,
    total, index 0–100, share satisfied with its 95 % (Wilson) interval, whether it is
    sufficient evidence, and the filtered presses (a month without ratings has index null).
    A month the caller may not read (another unit's, issue 12) is left out and listed in
    `withheld`."""
    require_officer_in_scope(who, db, officer_id, month, day)
    return clip_trend(who, db, officer_id, trends.officer_trend(
        db, officer_id, month_or_422(month), months,
        min_ratings=policy.satisfaction.min_ratings), day)


@router.get("/api/v1/officers/{officer_id}/heatmap")
def officer_heatmap(officer_id: str, db: Db, who: CurrentViewer,
                    month: MonthParam = None) -> dict[str, Any]:
    """The officer's counted ratings of the month by local weekday (0 = Monday) and hour:
    count, index and share satisfied per cell; cells without ratings are left out."""
    require_officer_in_scope(who, db, officer_id, month)
    return trends.hour_weekday(db, officer_id, month_or_422(month))


@router.get("/api/v1/units/{unit_id}/trend")
def unit_trend(unit_id: str, db: Db, policy: ConfiguredPolicy, who: CurrentViewer,
               month: MonthParam = None, months: Months = 6) -> dict[str, Any]:
    """Each officer of the unit and the units below it active in `month`: their months up
    to it (`officers`), and the same months over all of them (`total`, with `change`: the
    last month against the one before, in index points and share)."""
    require_unit_in_scope(who, unit_id)
    month = month_or_422(month)
    if sources.evidence_unit(db, unit_id) is None:
        raise HTTPException(status_code=404, detail=f"Không tìm thấy đơn vị {unit_id!r} / "
                                                    f"No unit {unit_id!r}")
    first, last = check_month(month)
    officers = sources.evidence_officers(db, unit_subtree(db, unit_id), first, last)
    return {"unit_id": unit_id, **trends.officers_trends(
        db, [o["id"] for o in officers], month, months,
        min_ratings=policy.satisfaction.min_ratings)}
