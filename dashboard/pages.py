"""Dashboard routes: each page renders the report its JSON twin in the API returns.

Views add only presentation (formatted numbers, bar widths, links); the figures come from
`collector.reports`, and templates do no arithmetic and run no queries.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from collector import reports
from collector.auth import CurrentViewer, require_officer_in_scope
from collector.deps import Db, MonthParam, month_or_422

from .formatting import next_month, previous_month, vi_month, vi_number, vi_percent

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
router = APIRouter(include_in_schema=False)


def _month_nav(month: str) -> dict[str, str]:
    return {"label": vi_month(month), "previous": previous_month(month),
            "next": next_month(month)}


def overview_view(report: dict[str, Any]) -> dict[str, Any]:
    rows = [{**row, "index_text": vi_number(row["index"], 1),
             "share_text": vi_percent(row["share_satisfied"]),
             "total_text": vi_number(row["total"]),
             "filtered_text": vi_number(row["filtered"])} for row in report["officers"]]
    return {"month": _month_nav(report["month"]), "officers": rows, "raw_month": report["month"]}


def officer_view(report: dict[str, Any]) -> dict[str, Any]:
    levels = [{**level, "count_text": vi_number(level["count"]),
               "share_text": vi_percent(level["share"]),
               "bar_percent": round((level["share"] or 0) * 100, 1)}
              for level in reversed(report["levels"])]
    reasons = {"cooldown": ("Bấm lặp trong thời gian chờ", "Repeated press during cooldown"),
               "no_session": ("Bấm khi chưa có hồ sơ được trả", "Press with no dossier open")}
    filtered = [{"reason_vi": reasons.get(code, (code, code))[0],
                 "reason_en": reasons.get(code, (code, code))[1], "count": vi_number(count)}
                for code, count in sorted(report["filtered_by_reason"].items())]
    reason_labels = {"attitude": ("Thái độ phục vụ", "Service attitude"),
                     "waiting": ("Thời gian chờ", "Waiting time"),
                     "guidance": ("Hướng dẫn chưa rõ ràng", "Unclear guidance"),
                     "other": ("Khác", "Other")}
    low_reasons = [{"label_vi": reason_labels.get(code, (code, code))[0],
                    "label_en": reason_labels.get(code, (code, code))[1],
                    "count": vi_number(report["reasons"].get(code, 0))}
                   for code in reason_labels if report["reasons"].get(code)]
    return {"officer": report["officer"], "month": _month_nav(report["month"]),
            "low_reasons": low_reasons,
            "raw_month": report["month"], "levels": levels,
            "total_text": vi_number(report["total"]),
            "index_text": vi_number(report["index"], 1),
            "share_text": vi_percent(report["share_satisfied"]),
            "filtered_text": vi_number(report["filtered"]), "filtered": filtered,
            "has_ratings": report["total"] > 0}


@router.get("/", response_class=HTMLResponse)
def overview_page(request: Request, db: Db, who: CurrentViewer,
                  month: MonthParam = None) -> HTMLResponse:
    report = reports.officers_overview(db, month_or_422(month))
    report["officers"] = [o for o in report["officers"]
                          if who.scope.sees_officer(o["id"], o["unit_id"])]
    return TEMPLATES.TemplateResponse(request, "overview.html", overview_view(report))


@router.get("/officers/{officer_id}", response_class=HTMLResponse)
def officer_page(request: Request, officer_id: str, db: Db, who: CurrentViewer,
                 month: MonthParam = None) -> HTMLResponse:
    require_officer_in_scope(who, db, officer_id)
    try:
        report = reports.officer_satisfaction(db, officer_id, month_or_422(month))
    except reports.NotFound:
        raise HTTPException(status_code=404,
                            detail="Không tìm thấy cán bộ / Officer not found") from None
    return TEMPLATES.TemplateResponse(request, "officer.html", officer_view(report))
