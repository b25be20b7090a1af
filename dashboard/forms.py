"""The printable monthly evaluation form of one officer (issue 5, item 6).

GET /officers/{officer_id}/months/{month}/form renders `monthly.officer_month` — the JSON of
GET /api/v1/officers/{officer_id}/months/{month} — as an A4 form: the official header, the
evidence computed from stored data, the points per criterion in self / leader / suggested
columns, the explanation of the suggested score line by line, the comments, and signature
blocks for the officer, the direct leader and the head. This module only formats: labels,
Vietnamese numbers (`dashboard.formatting`) and local dates; the template does no arithmetic.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from collector import monthly
from collector.api_monthly import ConfiguredPolicy, MonthPath, Now, Today
from collector.auth import CurrentViewer, require_officer_in_scope
from collector.deps import Db
from collector.satisfaction import ANSWERS
from collector.timeline import local_datetime

from .formatting import vi_month, vi_number, vi_percent

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
router = APIRouter(include_in_schema=False)

FILTERED = {"cooldown": ("Bấm lặp trong thời gian chờ", "Repeated press during cooldown"),
            "no_session": ("Bấm khi chưa có hồ sơ được trả", "Press with no dossier open")}
CITIZEN_REASONS = {"attitude": ("Thái độ phục vụ", "Service attitude"),
                   "waiting": ("Thời gian chờ", "Waiting time"),
                   "guidance": ("Hướng dẫn chưa rõ ràng", "Unclear guidance"),
                   "other": ("Khác", "Other")}
TASK_STATUS = {"on_time": ("Đúng hạn", "On time"), "late": ("Trễ hạn", "Late"),
               "overdue": ("Quá hạn", "Overdue"), "open": ("Đang thực hiện", "In progress")}
STATUS = {"pending": ("Chưa tự đánh giá", "Awaiting self-evaluation"),
          "self": ("Đã tự đánh giá, chờ lãnh đạo", "Self-evaluated, awaiting the leader"),
          "reviewed": ("Lãnh đạo đã đánh giá, chờ thủ trưởng",
                       "Reviewed, awaiting the head's decision"),
          "decided": ("Thủ trưởng đã quyết định", "Decided by the head")}
ATTRIBUTION = {"roster": ("theo lịch trực", "by the duty roster"),
               "device": ("theo thiết bị hiển thị (không có lịch trực)",
                          "as shown by the device (no roster entry)")}


def _points(value: float | None) -> str:
    if value is None:
        return ""
    return vi_number(value, 2).rstrip("0").rstrip(",")


def _signed(value: float) -> str:
    text = _points(abs(value)) or "0"
    return f"+{text}" if value > 0 else f"−{text}" if value < 0 else "0"


def _grade(grade: dict[str, Any] | None) -> str:
    if not grade:
        return ""
    return f"{grade['vi']} ({grade['letter']})" if grade.get("letter") else grade["vi"]


def _when(unix_ms: int | None) -> str:
    return "" if unix_ms is None else local_datetime(unix_ms).strftime("%d/%m/%Y %H:%M")


def _signed_on(unix_ms: int | None) -> str:
    if unix_ms is None:
        return "Ngày …… tháng …… năm ……"
    day = local_datetime(unix_ms)
    return f"Ngày {day.day:02d} tháng {day.month:02d} năm {day.year}"


def _hours(value: float | None) -> str:
    return vi_number(value, 1)


def _lines(lines: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [{"points": _signed(line["points"]), "vi": line["vi"], "en": line["en"]}
            for line in lines]


def satisfaction_view(sat: dict[str, Any]) -> dict[str, Any]:
    interval = sat["share_interval"]
    coverage, comparison = sat["coverage"], sat["comparison"]
    return {
        "levels": [{"vi": vi, "en": en, "count": vi_number(sat["counts"].get(code, 0))}
                   for code, vi, en in reversed(ANSWERS) if code in sat["counts"]],
        "total": vi_number(sat["total"]),
        "index": vi_number(sat["index"], 1),
        "share": vi_percent(sat["share_satisfied"]),
        "interval": "—" if not interval else
        f"{vi_number(interval[0] * 100, 1)} – {vi_number(interval[1] * 100, 1)} %",
        "sufficient": sat["sufficient"],
        "reason": sat["reason"],
        "min_ratings": vi_number(sat["min_ratings"]),
        "filtered_total": vi_number(sat["filtered"]["total"]),
        "filtered": [{"vi": FILTERED.get(code, (code, code))[0],
                      "en": FILTERED.get(code, (code, code))[1], "count": vi_number(count)}
                     for code, count in sorted(sat["filtered"]["by_reason"].items())],
        "citizen_reasons": [{"vi": CITIZEN_REASONS.get(code, (code, code))[0],
                             "en": CITIZEN_REASONS.get(code, (code, code))[1],
                             "count": vi_number(count)}
                            for code, count in sorted(sat["citizen_reasons"].items())],
        "attribution": [{"vi": ATTRIBUTION.get(code, (code, code))[0],
                         "en": ATTRIBUTION.get(code, (code, code))[1], "count": vi_number(n)}
                        for code, n in sorted(sat["attribution"].items())],
        "coverage": {"duty": _hours(coverage["duty_hours"]),
                     "online": _hours(coverage["online_hours"]),
                     "offline": _hours(coverage["offline_hours"]),
                     "share": vi_percent(coverage["share"]),
                     "by_counter": [{"label": c["label"] or c["counter_id"],
                                     "unit": c["unit_name"] or "",
                                     "duty": _hours(c["duty_hours"]),
                                     "online": _hours(c["online_hours"]),
                                     "offline": _hours(c["offline_hours"]),
                                     "share": vi_percent(c["share"])}
                                    for c in coverage["by_counter"]]},
        "median": vi_number(comparison["median"], 1),
        "difference": "—" if comparison["difference"] is None
        else ("+" if comparison["difference"] > 0 else "") + vi_number(comparison["difference"], 1),
        "rank": "—" if comparison["rank"] is None else vi_number(comparison["rank"]),
        "compared": vi_number(comparison["compared"]),
    }


def tasks_view(part: dict[str, Any]) -> dict[str, Any]:
    counts, pct = part["summary"], part["percentages"]
    return {
        "counts": {key: vi_number(value) for key, value in counts.items()},
        "quantity": vi_percent(None if pct["quantity"] is None else pct["quantity"] / 100),
        "quality": vi_percent(None if pct["quality"] is None else pct["quality"] / 100),
        "progress": vi_percent(None if pct["progress"] is None else pct["progress"] / 100),
        "rows": [{"title": t["title"], "deadline": _date(t["deadline"]),
                   "completed_on": _date(t["completed_on"]),
                   "status_vi": TASK_STATUS[t["status"]][0],
                   "status_en": TASK_STATUS[t["status"]][1],
                   "weight": _points(t["weight"]),
                   "errors": vi_number(t["major_errors"]) if t["major_errors"] else "",
                   "excused": t["delay_excused"] and t["delayed"]}
                  for t in part.get("items", [])],
    }


def _complete(criteria: list[dict[str, Any]], column: str) -> bool:
    return all(row[column] != "" for row in criteria)


def _date(iso: str | None) -> str:
    return "" if not iso else f"{iso[8:10]}/{iso[5:7]}/{iso[:4]}"


def form_view(report: dict[str, Any]) -> dict[str, Any]:
    """Everything the form shows, as text ready to print."""
    officer, workflow = report["officer"], report["workflow"]
    suggestion = report["suggestion"]
    self_step, review, decision = workflow["self"], workflow["review"], workflow["decision"]
    criteria = [{**row, "max": _points(row["points"]), "self": _points(row["self"]),
                 "leader": _points(row["leader"]), "suggested": _points(row["suggested"])}
                for row in report["criteria"]]
    return {
        "officer": officer, "month_label": vi_month(report["month"]), "month": report["month"],
        "unit_upper": (officer["unit_name"] or "").upper(),
        "policy": report["policy"],
        "status_vi": STATUS[workflow["status"]][0], "status_en": STATUS[workflow["status"]][1],
        "sat": satisfaction_view(report["satisfaction"]),
        "tasks": tasks_view(report["tasks"]),
        "criteria": criteria,
        "max_total": _points(sum(row["points"] for row in report["criteria"])),
        # A column's total only when it scores every criterion: a leader scores the general
        # criteria and the task results come from the records, so their sum is no total.
        "self_total": _points(self_step["total"]) if _complete(criteria, "self") else "",
        "leader_total": _points(review["total"]) if _complete(criteria, "leader") else "",
        "suggested_total": _points(suggestion["score"]) if suggestion else "",
        "suggested_grade": _grade(suggestion["grade"]) if suggestion else "",
        "basis": report["suggestion_basis"],
        "lines": _lines(suggestion["lines"]) if suggestion else [],
        "note": report["suggestion_note"],
        "evidence_lines": _lines(report["evidence_points"]["lines"]),
        "evidence_total": _points(report["evidence_points"]["total"]),
        "proposed_grade": _grade(review["proposed_grade"]) if review else "",
        "final_grade": _grade(decision["grade"]) if decision else "",
        "final_score": _points(decision["score"]) if decision else "",
        "self_comment": self_step["comment"] if self_step else "",
        "review_comment": review["comment"] if review else "",
        "decision_note": decision["note"] if decision else "",
        "disciplined": workflow["disciplined"], "discipline_note": workflow["discipline_note"],
        "signatures": [
            {"role_vi": "CÁN BỘ TỰ ĐÁNH GIÁ", "role_en": "Officer (self-evaluation)",
             "name": officer["name"], "date": _signed_on(self_step and self_step["at"])},
            {"role_vi": "LÃNH ĐẠO TRỰC TIẾP", "role_en": "Direct leader",
             "name": (review and review["by_name"]) or officer.get("leader_name") or "",
             "date": _signed_on(review and review["at"])},
            {"role_vi": "THỦ TRƯỞNG ĐƠN VỊ", "role_en": "Head of unit",
             "name": (decision and decision["by_name"]) or "",
             "date": _signed_on(decision and decision["at"])},
        ],
        "decided_at": _when(decision["at"]) if decision else "",
        "has_snapshot": report.get("decided_snapshot") is not None,
        "generated_at": _when(report["generated_at"]),
    }


@router.get("/officers/{officer_id}/months/{month}/form", response_class=HTMLResponse)
def evaluation_form(request: Request, officer_id: str, month: MonthPath, db: Db,
                    policy: ConfiguredPolicy, now: Now, day: Today,
                    who: CurrentViewer) -> HTMLResponse:
    require_officer_in_scope(who, db, officer_id)
    try:
        report = monthly.officer_month(db, officer_id, month, policy, now_ms=now, today=day)
    except monthly.MonthlyNotFound as error:
        raise HTTPException(status_code=404, detail=str(error)) from None
    except monthly.MonthlyError as error:
        raise HTTPException(status_code=422, detail=str(error)) from None
    return TEMPLATES.TemplateResponse(request, "evaluation_form.html", form_view(report))
