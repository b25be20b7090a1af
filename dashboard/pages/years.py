"""The unit's year ("/years/{year}?unit="): the annual roll-up leaders and heads decide the
year on, and an inspector checks the head's decisions against; and the officer's own year,
the small block /me shows (`my_year`).

Thin, as the month overview (dashboard/pages/leaders.py): the unit is chosen the same way
(the `unit` query, else the root of the account's part of the tree) among the units the
account sees, for the same roles (leaders, heads, administrators: access.UNIT_EVALUATION; an
officer's own year is on /me); the report is its JSON twin's,
GET /api/v1/units/{unit}/years/{year} (collector/evaluation/year.py `unit_year`), shaped by
dashboard/views/year.py. Errors reach the app's one handler: an unknown unit 404, one out of
scope 403.

Wiring: collector/app.py lists `router` in `SIGNED_IN_ROUTERS`; collector/web/access.py has
its row.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from collector.core.periods import parse_period
from collector.evaluation import year as annual
from collector.evaluation.policy import Policy
from collector.web import access
from collector.web.auth import CurrentViewer, Viewer, require_role, require_unit_in_scope
from collector.web.deps import ConfiguredPolicy, Db, Today

from dashboard.i18n import Translator, translator
from dashboard.pages.leaders import default_unit, scope_units
from dashboard.rendering import language_of, render
from dashboard.views.year import officer_year_block, year_href, year_view

router = APIRouter(include_in_schema=False)

# Read by annual.parse_year, not by FastAPI's int, so that a wrong year is refused with the
# site's error page in the page's language rather than a JSON validation error.
YearPath = Annotated[str, Path(max_length=20)]


@router.get("/years/{year}", response_class=HTMLResponse)
def unit_year_page(request: Request, year: YearPath, db: Db, who: CurrentViewer,
                   policy: ConfiguredPolicy, day: Today,
                   unit: Annotated[str | None, Query(max_length=100)] = None) -> Response:
    """A unit's year: one row per officer of the unit and below (months or quarters counted
    and missing, the average, the grade by points and after discipline and the quota, the
    quota's note and a tie left to the head), one quota line per pool its officers are in
    (deciding unit and group of similar posts), the XLSX. JSON twin: GET /api/v1/units/{unit}/years/{year} (and .xlsx)."""
    require_role(who, *access.UNIT_EVALUATION)
    number = annual.parse_year(year)
    units = scope_units(db, who)
    unit = unit or default_unit(units, who, db)
    if unit is None:
        return render(request, "year.html", who, empty=True, year=number)
    require_unit_in_scope(who, unit)
    report = annual.unit_year(db, unit, number, policy, today=day)
    view = year_view(translator(language_of(request)), report=report, units=units)
    return render(request, "year.html", who, empty=False, **view)


def my_year(t: Translator, db, who: Viewer, policy: Policy, day: date, officer_id: str,
            period: str) -> dict[str, Any]:
    """The officer's own year, of the year of the period /me shows (JSON twin:
    GET /api/v1/officers/{id}/years/{year}); the link to the unit's year only for an account
    that may open it (a leader or head of that unit)."""
    year = parse_period(period).year
    report = annual.officer_year(db, officer_id, year, policy, today=day)
    unit_id = report["officer"]["unit_id"]
    may = who.role in access.UNIT_EVALUATION and who.scope.sees_unit(unit_id)
    return officer_year_block(t, report, unit_href=year_href(year, unit_id) if may else None)
