"""What the officer's (/me) and the leader's (/team) workspaces show, as display-ready text.

Pure: the routes in dashboard/pages/workspace.py gather the reports (collector.evaluation's
month, workflow.status, responses and team) and hand them here with the page's Translator `t`;
these functions pick the page's language of texts that carry both (criteria, explanation
lines, grades, errors), format numbers and dates through `t`, label codes with msgids marked
`N_` (translated by `t.gettext`) and cut lists into pages. Templates
then only display: no arithmetic, no queries.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Callable, Sequence

from collector.ratings.satisfaction import ANSWERS
from collector.core.timeline import local_datetime

from dashboard.i18n import N_, Translator
from dashboard.views.leaders import CITIZEN_REASONS, FILTERED, STAGES, STEPS, TASK_STATUS, label
from dashboard.views.paging import pager

PER_PAGE = 25

PERIODS = {"week": N_("Weekly plan"), "month": N_("Monthly plan")}
TASK_COUNTS = (("registered", N_("Registered")), ("on_time", N_("On time")),
               ("late", N_("Late")), ("overdue", N_("Overdue")),
               ("excused", N_("Delay excused")), ("open", N_("In progress")))
FLAGS = {"major_error": N_("Major quality error"), "delay_excused": N_("Delay excused")}
BASIS = {"review": N_("from the leader's scores"), "self": N_("from your self-evaluation"),
         "none": N_("no scores yet")}


def pick(t: Translator, vi: str | None, en: str | None) -> str:
    """The page language's half of a text stored in both."""
    return (vi if t.language == "vi" else en) or ""


def pick_pair(t: Translator, pair: dict[str, str] | None) -> str:
    return "" if not pair else pick(t, pair.get("vi"), pair.get("en"))


def day_text(t: Translator, iso: str | None) -> str:
    return t.date(date.fromisoformat(iso)) if iso else "—"


def when_text(t: Translator, unix_ms: int | None) -> str:
    return t.datetime(local_datetime(unix_ms).replace(tzinfo=None)) if unix_ms else "—"


def points(t: Translator, value: float | None) -> str:
    """Points as written on a form: 18, 18,5 or 27,22 (no trailing zeros)."""
    if value is None:
        return "—"
    for digits in (0, 1, 2):
        if round(value, digits) == round(value, 2):
            return t.number(value, digits)
    return t.number(value, 2)


def signed(t: Translator, value: float) -> str:
    text = points(t, abs(value))
    return f"+{text}" if value > 0 else f"−{text}" if value < 0 else text


def grade_text(t: Translator, grade: dict[str, Any] | None) -> str:
    if not grade:
        return ""
    label = pick(t, grade.get("vi"), grade.get("en"))
    return f"{label} ({grade['letter']})" if grade.get("letter") else label


def paginate(items: Sequence[Any], page: int, href: Callable[[int], str],
             per_page: int = PER_PAGE) -> tuple[list[Any], dict[str, Any]]:
    """The items of page `page` (clamped to 1..pages) and the pager: "x–y of z" and links."""
    info = pager(len(items), page, href, per_page)
    return list(items[info["start"]:info["stop"]]), info


# --- tasks ---------------------------------------------------------------------------------

def task_row(t: Translator, task: dict[str, Any]) -> dict[str, Any]:
    completed = task["completed_on"] is not None
    return {
        "id": task["id"], "officer_id": task["officer_id"], "title": task["title"],
        "period": label(t, PERIODS, task["period"]),
        "assigned_by": task.get("assigned_by_name") or task["assigned_by"],
        "deadline": day_text(t, task["deadline"]),
        "weight": points(t, task["weight"]),
        "progress": task["progress"], "progress_text": t.percent(task["progress"] / 100, 0),
        "note": task["progress_note"] or "",
        "status": task["status"], "status_label": label(t, TASK_STATUS, task["status"]),
        "completed": completed, "completed_on": day_text(t, task["completed_on"]),
        "delayed": task["delayed"], "excused": task["delay_excused"],
        "excusable": task["delayed"] and not task["delay_excused"],
        "errors": task["major_errors"],
        "flags": [{"kind": flag["kind"], "label": label(t, FLAGS, flag["kind"]),
                   "reason": flag["reason"], "at": when_text(t, flag["at"])}
                  for flag in task["flags"]],
    }


def task_counts(t: Translator, summary: dict[str, int]) -> list[dict[str, str]]:
    return [{"code": code, "label": t.gettext(text), "value": t.number(summary.get(code, 0))}
            for code, text in TASK_COUNTS]


# --- the officer's evidence ------------------------------------------------------------------

def evidence_view(t: Translator, report: dict[str, Any]) -> dict[str, Any]:
    """The compact evidence of `month.officer_month`: what leaders see about the officer."""
    sat, coverage = report["satisfaction"], report["satisfaction"]["coverage"]
    comparison, interval = sat["comparison"], sat["share_interval"]
    suggestion, percentages = report["suggestion"], report["tasks"]["percentages"]
    return {
        "levels": [{"label": pick(t, vi, en), "count": t.number(sat["counts"].get(code, 0))}
                   for code, vi, en in reversed(ANSWERS) if code in sat["counts"]],
        "total": t.number(sat["total"]), "index": t.number(sat["index"], 1),
        "share": t.percent(sat["share_satisfied"]),
        "interval": "—" if not interval else
        f"{t.percent(interval[0])} – {t.percent(interval[1])}",
        "sufficient": sat["sufficient"], "insufficient": pick_pair(t, sat["reason"]),
        "unknown_note": pick_pair(t, sat.get("unknown_note")),  # the server's downtime
        "min_ratings": t.number(sat["min_ratings"]),
        "median": t.number(comparison["median"], 1),
        "difference": "—" if comparison["difference"] is None else
        ("+" if comparison["difference"] > 0 else "") + t.number(comparison["difference"], 1),
        "rank": t.number(comparison["rank"]), "compared": t.number(comparison["compared"]),
        "coverage": {"duty": t.number(coverage["duty_hours"], 1),
                     "online": t.number(coverage["online_hours"], 1),
                     "offline": t.number(coverage["offline_hours"], 1),
                     "share": t.percent(coverage["share"])},
        "filtered_total": t.number(sat["filtered"]["total"]),
        "filtered": [{"label": label(t, FILTERED, code),
                      "count": t.number(count)}
                     for code, count in sorted(sat["filtered"]["by_reason"].items())],
        "citizen_reasons": [{"label": label(t, CITIZEN_REASONS, code), "count": t.number(count)}
                            for code, count in sorted(sat["citizen_reasons"].items())],
        "task_counts": task_counts(t, report["tasks"]["summary"]),
        "percentages": {key: t.percent(None if value is None else value / 100)
                        for key, value in percentages.items()},
        "suggestion": None if suggestion is None else {
            "score": points(t, suggestion["score"]),
            "grade": grade_text(t, suggestion["grade"]),
            "basis": label(t, BASIS, suggestion["basis"]),
            "lines": [{"points": signed(t, line["points"]),
                       "text": pick(t, line["vi"], line["en"])}
                      for line in suggestion["lines"]]},
        "note": pick_pair(t, report["suggestion_note"]),
        "evidence_total": points(t, report["evidence_points"]["total"]),
        "evidence_lines": [{"points": signed(t, line["points"]),
                            "text": pick(t, line["vi"], line["en"])}
                           for line in report["evidence_points"]["lines"]],
    }


# --- the self-evaluation ---------------------------------------------------------------------

def self_view(t: Translator, status: dict[str, Any], today: date,
              entered: dict[str, str] | None = None) -> dict[str, Any]:
    """The self-evaluation part of `workflow.status.evaluation_status`: dates, stage, the
    values submitted (or just typed, when the form was refused), and whether it is open."""
    own, review, decision = status["self"], status["review"], status["decision"]
    scores = own["scores"] or {}
    opens, due = date.fromisoformat(own["opens"]), date.fromisoformat(own["due"])
    closed_by = ("decided" if decision["done"] else "reviewed" if review["done"]
                 else "not_open" if today < opens else None)
    entered = entered or {}
    return {
        "opens": t.date(opens), "due": t.date(due), "late": own["late"],
        "stage": status["stage"], "stage_label": label(t, STAGES, status["stage"]),
        "done": own["done"], "at": when_text(t, own["at"]), "comment": own["comment"] or "",
        "open": closed_by is None, "closed_by": closed_by,
        "criteria": [{"code": c["code"], "label": pick(t, c["vi"], c["en"]),
                      "max": c["points"], "max_text": points(t, c["points"]),
                      "submitted": points(t, scores.get(c["code"])),
                      "value": entered.get(c["code"], _plain(scores.get(c["code"])))}
                     for c in status["criteria"]],
        "typed_comment": entered.get("comment", own["comment"] or ""),
        "total": points(t, sum(scores.values())) if scores else "—",
        "reviewed": review["done"], "reviewed_at": when_text(t, review["at"]),
        "review_comment": review["comment"] or "",
        "decided": decision["done"], "decided_at": when_text(t, decision["at"]),
    }


def _plain(value: float | None) -> str:
    """A number as an input's value attribute (dot decimal, as browsers send it)."""
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


def responses_view(t: Translator, items: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [{"id": item["id"], "at": when_text(t, item["at"]),
             "by": item["actor_name"] or item["actor"], "text": item["text"]}
            for item in items]


# --- the leader's team -----------------------------------------------------------------------

def member_row(t: Translator, member: dict[str, Any]) -> dict[str, Any]:
    return {**{k: member[k] for k in ("officer_id", "name", "title", "unit_name", "direct",
                                      "stage", "may")},
            "stage_label": label(t, STAGES, member["stage"]),
            "late_steps": [label(t, STEPS, step) for step in member["late_steps"]],
            "awaiting": [label(t, STEPS, step) for step in member["awaiting"]],
            "counts": {code: t.number(value) for code, value in member["tasks"].items()}}


def followed_tasks(t: Translator, members: list[dict[str, Any]], *,
                   officer: str | None, everything: bool) -> list[dict[str, Any]]:
    """The team's tasks to follow: each member's open, late and overdue ones (all of them
    with `everything`), one member's with `officer`; by member then deadline."""
    rows = []
    for member in members:
        if officer is not None and member["officer_id"] != officer:
            continue
        for task in member["items"]:
            if everything or task["status"] != "on_time":
                rows.append({**task_row(t, task), "officer_name": member["name"],
                             "may_judge": member["may"]["judge"]})
    return rows
