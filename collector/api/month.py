"""HTTP routes for the merge and its outputs: an officer's or unit's month, XLSX, the year.

Thin: each route calls one function of `collector.evaluation.month`, `collector.evaluation.year`
or `collector.evaluation.export_xlsx`; their errors ("vi / en") reach the app's one handler
(collector/web/errors.py): `MonthlyNotFound` → 404, `MonthlyError` → 422. Reads only, on the
shared read-only `Db`. The policy is the deployment's (`Settings.policy`); the clock and the
local date are dependencies so tests can fix them.

Paths stay clear of the workflow's (`/api/v1/officers/{id}/evaluations/{month}` and
`/api/v1/units/{unit_id}/evaluations/{month}/status`): these live under `/months/` and
`/years/`. The `.xlsx` routes are declared before their JSON twins, or `{month}` would
swallow "2026-03.xlsx".

Who: collector/web/access.py's table — an officer's month and year for the officer, their
leaders, heads and administrators in scope; a unit's (and its XLSX) for leaders, heads and
administrators; never a technician.

Wiring: collector/app.py lists `router` in `SIGNED_IN_ROUTERS`, behind the signed-in dependency.
"""

from __future__ import annotations

import io
from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import Response

from collector.evaluation import year as annual, export_xlsx, month as monthly
from collector.evaluation.summary import unit as unit_summary
from collector.web.auth import CurrentViewer, require_officer_in_scope, require_unit_in_scope
from collector.web.deps import (
    ConfiguredPolicy,
    Db,
    MonthPath,
    Now,
    Today,
    clock,
    configured_policy,
    today,
)

# Re-exported: the tests override these dependencies by name.
__all__ = ["ConfiguredPolicy", "Now", "Today", "clock", "configured_policy", "today", "router"]

router = APIRouter(tags=["monthly evaluation"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


YearPath = Annotated[int, Path(ge=annual.FIRST_YEAR, le=annual.LAST_YEAR, examples=[2026])]


def _xlsx(write, report: dict[str, Any], filename: str) -> Response:
    buffer = io.BytesIO()
    write(report, buffer)
    return Response(buffer.getvalue(), media_type=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/api/v1/officers/{officer_id}/months/{month}")
def officer_month(officer_id: str, month: MonthPath, db: Db, policy: ConfiguredPolicy,
                  now: Now, day: Today, who: CurrentViewer) -> dict[str, Any]:
    """One officer's month computed from stored data: satisfaction (counts, index, share
    satisfied with its 95 % interval, filtered presses, coverage, unit median), task results
    (counts and the quantity/quality/progress percentages), the workflow's steps and history,
    and the suggested score and grade with one explanation line per point. Seen as the
    month's stored place says once reviewed (collector/web/auth.py)."""
    require_officer_in_scope(who, db, officer_id, month)
    return monthly.officer_month(db, officer_id, month, policy, now_ms=now, today=day)


@router.get("/api/v1/units/{unit_id}/months/{month}.xlsx", response_class=Response,
            responses={200: {"content": {XLSX: {}}}})
def unit_month_xlsx(unit_id: str, month: MonthPath, db: Db, policy: ConfiguredPolicy,
                    now: Now, day: Today, who: CurrentViewer) -> Response:
    """The unit's month as an XLSX file, one row per officer (Xuất Excel)."""
    require_unit_in_scope(who, unit_id)
    report = monthly.unit_month(db, unit_id, month, policy, now_ms=now, today=day)
    return _xlsx(export_xlsx.unit_month_xlsx, report, f"danh-gia-{unit_id}-{month}.xlsx")


@router.get("/api/v1/units/{unit_id}/months/{month}")
def unit_month(unit_id: str, month: MonthPath, db: Db, policy: ConfiguredPolicy, now: Now,
               day: Today, who: CurrentViewer) -> dict[str, Any]:
    """Every officer of the unit and the units below it active in the month, one row each,
    with the quota check over the grades standing (decided, else proposed) and over the
    decisions alone, and the workflow's progress."""
    require_unit_in_scope(who, unit_id)
    return monthly.unit_month(db, unit_id, month, policy, now_ms=now, today=day)


@router.get("/api/v1/units/{unit_id}/months/{month}/summary")
def unit_month_summary(unit_id: str, month: MonthPath, db: Db, policy: ConfiguredPolicy,
                       now: Now, day: Today, who: CurrentViewer) -> dict[str, Any]:
    """The unit's month summed per direct sub-unit (and the officers placed in the unit
    itself, `direct`), in Vietnamese order: officers, their workflow steps, ratings counted
    and filtered with the pooled satisfaction index, open alerts; the whole unit's too, and
    its satisfaction card (`latest`: the period's latest month and the change from the month
    before). The same members as the unit's month, counted in SQL whatever the unit's size:
    the landing page of a unit too large to rank officer by officer."""
    require_unit_in_scope(who, unit_id)
    return unit_summary.unit_summary(db, unit_id, month, policy, today=day, now_ms=now)


@router.get("/api/v1/officers/{officer_id}/years/{year}")
def officer_year(officer_id: str, year: YearPath, db: Db, policy: ConfiguredPolicy,
                 day: Today, who: CurrentViewer) -> dict[str, Any]:
    """The officer's year: the average of the monthly scores the head decided, months
    counted and missing, and the grade that average reads in the policy's bands."""
    require_officer_in_scope(who, db, officer_id)
    return annual.officer_year(db, officer_id, year, policy, today=day)


@router.get("/api/v1/units/{unit_id}/years/{year}.xlsx", response_class=Response,
            responses={200: {"content": {XLSX: {}}}})
def unit_year_xlsx(unit_id: str, year: YearPath, db: Db, policy: ConfiguredPolicy,
                   day: Today, who: CurrentViewer) -> Response:
    """The unit's annual roll-up as an XLSX file."""
    require_unit_in_scope(who, unit_id)
    report = annual.unit_year(db, unit_id, year, policy, today=day)
    return _xlsx(export_xlsx.annual_xlsx, report, f"danh-gia-{unit_id}-{year}.xlsx")


@router.get("/api/v1/units/{unit_id}/years/{year}")
def unit_year(unit_id: str, year: YearPath, db: Db, policy: ConfiguredPolicy,
              day: Today, who: CurrentViewer) -> dict[str, Any]:
    """The annual roll-up of every officer now in the unit or below it."""
    require_unit_in_scope(who, unit_id)
    return annual.unit_year(db, unit_id, year, policy, today=day)
