"""The printable monthly evaluation form of one officer (issue 5, item 6).

GET /officers/{officer_id}/months/{month}/form renders `monthly.officer_month` — the JSON of
GET /api/v1/officers/{officer_id}/months/{month} — as an A4 form: the official header, the
evidence computed from stored data, the points per criterion in self / leader / suggested
columns, the explanation of the suggested score line by line, the comments, and signature
blocks for the officer, the direct leader and the head. This module only formats, in the
page's language (labels from the catalogue, leaders.po; numbers and dates through the
Translator); the template does no arithmetic.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from collector.evaluation import month as monthly
from collector.web.auth import CurrentViewer, require_officer_in_scope, require_role
from collector.web.deps import ConfiguredPolicy, Db, MonthPath, Now, Today
from collector.core.timeline import local_datetime

from dashboard.i18n import N_, Translator, translator
from dashboard.views.leaders import (
    ATTRIBUTION,
    CITIZEN_REASONS,
    FILTERED,
    TASK_STATUS,
    grade_text,
    interval_text,
    iso_date,
    label,
    level_labels,
    pick,
    points,
    signed,
    shown_levels,
    when,
)
from dashboard.views.officer import unit_part, upper_first
from dashboard.rendering import language_of, render

router = APIRouter(include_in_schema=False)

STATUS = {"pending": N_("Awaiting self-evaluation"),
          "self": N_("Self-evaluated, awaiting the leader"),
          "reviewed": N_("Reviewed, awaiting the head's decision"),
          "decided": N_("Decided by the head")}
SIGNATURES = (N_("OFFICER (SELF-EVALUATION)"), N_("DIRECT LEADER"), N_("HEAD OF UNIT"))


def _signed_on(t: Translator, unix_ms: int | None) -> str:
    """'Ngày 06 tháng 04 năm 2026', blanks to fill by hand when the step is not done."""
    if unix_ms is None:
        return t.gettext("Date %(day)s/%(month)s/%(year)s", day="……", month="……", year="……")
    day = local_datetime(unix_ms)
    return t.gettext("Date %(day)s/%(month)s/%(year)s", day=f"{day.day:02d}",
                     month=f"{day.month:02d}", year=str(day.year))


def satisfaction_view(t: Translator, sat: dict[str, Any]) -> dict[str, Any]:
    coverage, comparison = sat["coverage"], sat["comparison"]
    names = level_labels(t.language)
    return {
        "levels": [{"name": names[code], "count": t.number(count)}
                   for code, count in reversed(shown_levels(sat["counts"]))],
        "total": t.number(sat["total"]), "index": t.number(sat["index"], 1),
        "share": t.percent(sat["share_satisfied"]),
        "interval": interval_text(t, sat["share_interval"]),
        "sufficient": sat["sufficient"], "reason": upper_first(pick(t.language, sat["reason"])),
        "offline_note": pick(t.language, sat.get("insufficient_note")),  # issue 12
        "unknown_note": pick(t.language, sat.get("unknown_note")),  # the server's downtime
        "min_ratings": t.number(sat["min_ratings"]),
        "filtered_total": t.number(sat["filtered"]["total"]),
        "filtered": [{"reason": label(t, FILTERED, code), "count": t.number(count)}
                     for code, count in sorted(sat["filtered"]["by_reason"].items())],
        "citizen_reasons": [{"reason": label(t, CITIZEN_REASONS, code), "count": t.number(n)}
                            for code, n in sorted(sat["citizen_reasons"].items())],
        "attribution": [{"how": label(t, ATTRIBUTION, code), "count": t.number(n)}
                        for code, n in sorted(sat["attribution"].items())],
        "coverage": {"duty": t.number(coverage["duty_hours"], 1),
                     "online": t.number(coverage["online_hours"], 1),
                     "offline": t.number(coverage["offline_hours"], 1),
                     "share": t.percent(coverage["share"]),
                     "by_counter": [{"label": c["label"] or c["counter_id"],
                                     "unit": c["unit_name"] or "",
                                     "duty": t.number(c["duty_hours"], 1),
                                     "online": t.number(c["online_hours"], 1),
                                     "offline": t.number(c["offline_hours"], 1),
                                     "share": t.percent(c["share"])}
                                    for c in coverage["by_counter"]]},
        "median": t.number(comparison["median"], 1),
        "difference": signed(t, comparison["difference"], 1),
        "rank": "—" if comparison["rank"] is None else t.number(comparison["rank"]),
        "compared": t.number(comparison["compared"]),
    }


def tasks_view(t: Translator, part: dict[str, Any]) -> dict[str, Any]:
    counts, pct = part["summary"], part["percentages"]

    def share(value: float | None) -> str:
        return t.percent(None if value is None else value / 100)

    return {
        "counts": {key: t.number(value) for key, value in counts.items()},
        "quantity": share(pct["quantity"]), "quality": share(pct["quality"]),
        "progress": share(pct["progress"]),
        "rows": [{"title": task["title"], "deadline": iso_date(t, task["deadline"]),
                  "completed_on": iso_date(t, task["completed_on"]),
                  "status": label(t, TASK_STATUS, task["status"]),
                  "weight": points(t, task["weight"]),
                  "errors": t.number(task["major_errors"]) if task["major_errors"] else "",
                  "excused": task["delay_excused"] and task["delayed"]}
                 for task in part.get("items", [])],
    }


def _complete(criteria: list[dict[str, Any]], column: str) -> bool:
    return all(row[column] != "" for row in criteria)


def _lines(t: Translator, lines: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [{"points": signed(t, line["points"]), "text": pick(t.language, line)}
            for line in lines]


def form_view(t: Translator, report: dict[str, Any]) -> dict[str, Any]:
    """Everything the form shows, as text ready to print."""
    officer, workflow = report["officer"], report["workflow"]
    suggestion = report["suggestion"]
    self_step, review, decision = workflow["self"], workflow["review"], workflow["decision"]
    criteria = [{"label": pick(t.language, row), "max": points(t, row["points"]),
                 "self": points(t, row["self"]), "leader": points(t, row["leader"]),
                 "suggested": points(t, row["suggested"])} for row in report["criteria"]]
    signers = (officer["name"],
               (review and review["by_name"]) or officer.get("leader_name") or "",
               (decision and decision["by_name"]) or "")
    dates = (self_step and self_step["at"], review and review["at"],
             decision and decision["at"])
    return {
        "officer": officer, "month": report["month"], "month_label": t.month(report["month"]),
        # A quarterly policy's form is the quarter's ("Quý I/2026"): its title says so.
        "period_title": t.period(report["month"]),
        "quarterly": report["policy"].get("period") == "quarter",
        "unit_upper": (officer["unit_name"] or "").upper(),
        "policy": pick(t.language, {"vi": report["policy"]["title_vi"],
                                    "en": report["policy"]["title_en"]}),
        "status": label(t, STATUS, workflow["status"]),
        "sat": satisfaction_view(t, report["satisfaction"]),
        "tasks": tasks_view(t, report["tasks"]),
        "unit": unit_part(t, report.get("unit_score")),
        "criteria": criteria,
        "max_total": points(t, sum(row["points"] for row in report["criteria"])),
        # A column's total only when it scores every criterion: a leader scores the general
        # criteria and the task results come from the records, so their sum is no total.
        "self_total": points(t, self_step["total"]) if _complete(criteria, "self") else "",
        "leader_total": points(t, review["total"]) if _complete(criteria, "leader") else "",
        "suggested_total": points(t, suggestion["score"]) if suggestion else "",
        "suggested_grade": grade_text(t.language, suggestion["grade"]) if suggestion else "",
        "basis": report["suggestion_basis"],
        "lines": _lines(t, suggestion["lines"]) if suggestion else [],
        "note": upper_first(pick(t.language, report["suggestion_note"])),
        "evidence_lines": _lines(t, report["evidence_points"]["lines"]),
        "evidence_total": points(t, report["evidence_points"]["total"]),
        "proposed_grade": grade_text(t.language, review["proposed_grade"]) if review else "",
        "final_grade": grade_text(t.language, decision["grade"]) if decision else "",
        "final_score": points(t, decision["score"]) if decision else "",
        "final_score_line": pick(t.language, decision.get("final_score_line") or {})
        if decision else "",
        "self_comment": self_step["comment"] if self_step else "",
        "review_comment": review["comment"] if review else "",
        "attitude_reason": (review.get("attitude_reason") or "") if review else "",
        "decision_note": decision["note"] if decision else "",
        "disciplined": workflow["disciplined"], "discipline_note": workflow["discipline_note"],
        "signatures": [{"role": t.gettext(role), "name": name, "date": _signed_on(t, at)}
                       for role, name, at in zip(SIGNATURES, signers, dates)],
        "decided_at": when(t, decision["at"]) if decision else "",
        "has_snapshot": report.get("decided_snapshot") is not None,
        "evidence_changes": [pick(t.language, line)
                             for line in report.get("evidence_changes") or []],
        "generated_at": when(t, report["generated_at"]),
    }


@router.get("/officers/{officer_id}/months/{month}/form", response_class=HTMLResponse)
def evaluation_form(request: Request, officer_id: str, month: MonthPath, db: Db,
                    policy: ConfiguredPolicy, now: Now, day: Today,
                    who: CurrentViewer) -> HTMLResponse:
    """The printable form; JSON twin: GET /api/v1/officers/{id}/months/{month}. For the
    officer and those who evaluate them, as the officer page."""
    require_role(who, "officer", "leader", "head", "administrator")
    require_officer_in_scope(who, db, officer_id, month)
    report = monthly.officer_month(db, officer_id, month, policy, now_ms=now, today=day)
    t = translator(language_of(request))
    return render(request, "evaluation_form.html", who, **form_view(t, report))
