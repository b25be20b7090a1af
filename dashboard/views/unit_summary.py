"""What a large unit's landing shows: its month summed per direct sub-unit (issue 13).

A unit whose period has more officers than the landing ranks one by one
(dashboard/pages/leaders.py LARGE_UNIT) is shown from its JSON twin
GET /api/v1/units/{unit}/months/{month}/summary (collector/evaluation/summary/unit.py): the
unit's satisfaction card as the ranked landing shows it, then a table of its direct
sub-units — officers, ratings counted, satisfaction index, the workflow's steps, open alerts —
each linking to that sub-unit's landing, and the line saying where the officers are ranked.
Pure: the page gathers the reports, this turns them into text; msgids in
locales/vi/LC_MESSAGES/unit_summary.po.
"""

from __future__ import annotations

from typing import Any

from dashboard.i18n import N_, Translator
from dashboard.views.leaders import (
    STAGE_OF_STATUS,
    STAGES,
    STEPS,
    alerts_view,
    iso_date,
    page_frame,
    query,
    unit_index_view,
)

DIRECT = N_("Officers placed directly in the unit")


def figures_row(t: Translator, part: dict[str, Any]) -> dict[str, Any]:
    """One line of the table: a sub-unit's figures (or the unit's own, or the whole's)."""
    sat = part["satisfaction"]
    return {"officers": t.number(part["officers"]), "ratings": t.number(sat["ratings"]),
            "index": t.number(sat["index"], 1), "sufficient": sat["sufficient"],
            "filtered": t.number(sat["filtered"]),
            "stages": [t.number(part["progress"][status]) for status in STAGE_OF_STATUS],
            "alerts": t.number(part["alerts_open"])}


def sub_unit_rows(t: Translator, report: dict[str, Any]) -> list[dict[str, Any]]:
    month = report["month"]
    return [{"id": row["unit_id"], "direct": row["direct"],
             "name": t.gettext(DIRECT) if row["direct"] else row["unit_name"],
             # The sub-unit's own landing: ranked, or summed again if it is large too.
             "href": None if row["direct"] else "/" + query(unit=row["unit_id"], month=month),
             **figures_row(t, row)} for row in report["sub_units"]]


def summary_view(t: Translator, *, report: dict[str, Any], alerts: dict[str, Any],
                 units: list[dict[str, Any]], limit: int,
                 reminder: dict[str, Any] | None = None,
                 calendar: dict[str, Any] | None = None) -> dict[str, Any]:
    """The large unit's landing. `calendar` (the period's due dates) for those who see who is
    late (heads, administrators); `limit`: the officers past which a landing is summed."""
    unit, month = report["unit"], report["month"]

    def href(**changes: Any) -> str:
        return "/" + query(**{"month": month, "unit": unit["id"], **changes})

    progress: dict[str, Any] = {
        "stages": [{"code": stage, "label": t.gettext(STAGES[stage]),
                    "count": t.number(report["progress"][status])}
                   for status, stage in STAGE_OF_STATUS.items()],
        "officers": t.number(report["officers"]), "late": None,
        "due": None if calendar is None else [
            {"label": t.gettext(STEPS[step]), "date": iso_date(t, calendar[f"{step}_due"])}
            for step in STEPS]}
    return {
        **page_frame(t, report, units, reminder, href),
        "unit_index": unit_index_view(t, report["latest"]["series"], report["latest"]["change"],
                                      report["policy"]["min_ratings"]),
        "progress": progress, "sort": "index", "evidence_changed": None,
        "alerts": alerts_view(t, alerts, unit["id"]),
        "summary": {
            "rows": sub_unit_rows(t, report), "whole": figures_row(t, report),
            "stages": [t.gettext(STAGES[stage]) for stage in STAGE_OF_STATUS.values()],
            "period": t.period(month),
            "note": t.gettext("%(officers)s officers in this period, more than %(limit)s: "
                              "officers are ranked on each sub-unit's page or in the exported "
                              "report.", officers=t.number(report["officers"]),
                              limit=t.number(limit)),
            "json_href": f"/api/v1/units/{unit['id']}/months/{month}/summary"},
    }
