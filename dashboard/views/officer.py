"""What the officer page shows: one officer's month, as leaders and the officer see it.

Built from the page's JSON twins — `month.officer_month` (GET /api/v1/officers/{id}/months/
{month}), `trends.officer_trend` and `trends.hour_weekday` (…/trend, …/heatmap),
`workflow.status.evaluation_status` (…/evaluations/{month}) — plus what the viewer may do
(collector/accounts/permissions.py) and the quota: the unit's line
(`workflow.status.unit_quota`) and what a decision would meet (`…decision_quota`).
Pure: no queries; labels and formats as in dashboard/views/leaders.py.
"""

from __future__ import annotations

from typing import Any

from collector.evaluation.month import grade_info
from collector.evaluation.policy import GRADE_CODES, Policy

from dashboard.views import charts
from dashboard.i18n import N_, Translator
from dashboard.views.leaders import (
    ATTRIBUTION,
    CITIZEN_REASONS,
    FILTERED,
    STAGES,
    STEPS,
    TASK_STATUS,
    distribution,
    grade_text,
    interval_text,
    iso_date,
    label,
    next_month,
    pager,
    pick,
    points,
    previous_month,
    query,
    quota_group_lines,
    signed,
    when,
)

PERIODS = {"week": N_("Weekly"), "month": N_("Monthly")}
EVENTS = {"self": N_("Self-evaluation"), "review": N_("Leader's review"),
          "decision": N_("Head's decision"), "reopen": N_("Reopened")}
DONE = {"review": N_("The review is saved."),
        "decision": N_("The decision is recorded; the month is locked."),
        "reopen": N_("The decision is reopened; the month is back at the review step.")}
# Office hours are always drawn, so an empty morning reads as empty, not as cut off.
HOURS = (7, 17)


def satisfaction_part(t: Translator, sat: dict[str, Any]) -> dict[str, Any]:
    comparison, coverage = sat["comparison"], sat["coverage"]
    return {
        "chart": distribution(t, sat["counts"], t.gettext("Ratings per level this month")),
        "ratings": t.number(sat["total"]), "index": t.number(sat["index"], 1),
        "share": t.percent(sat["share_satisfied"]),
        "interval": interval_text(t, sat["share_interval"]),
        "gauge": charts.gauge_bar(sat["share_satisfied"],
                                  low=(sat["share_interval"] or (None, None))[0],
                                  high=(sat["share_interval"] or (None, None))[1]),
        "sufficient": sat["sufficient"], "min_ratings": t.number(sat["min_ratings"]),
        # Few ratings because the counter was offline (issue 12): the collector's line.
        "offline_note": pick(t.language, sat.get("insufficient_note")),
        # The collector's own downtime on shift: unknown, shown apart (issue 12).
        "unknown_note": pick(t.language, sat.get("unknown_note")),
        "median": t.number(comparison["median"], 1),
        "difference": signed(t, comparison["difference"], 1),
        "rank": t.number(comparison["rank"]) if comparison["rank"] else "—",
        "compared": t.number(comparison["compared"]),
        "filtered_total": t.number(sat["filtered"]["total"]),
        "filtered": [{"reason": label(t, FILTERED, code), "count": t.number(count)}
                     for code, count in sorted(sat["filtered"]["by_reason"].items())],
        "reasons": [{"reason": label(t, CITIZEN_REASONS, code), "count": t.number(count)}
                    for code, count in sorted(sat["citizen_reasons"].items(),
                                              key=lambda item: -item[1])],
        "attribution": [{"how": label(t, ATTRIBUTION, code), "count": t.number(count)}
                        for code, count in sorted(sat["attribution"].items())],
        "coverage": {
            "duty": t.number(coverage["duty_hours"], 1),
            "online": t.number(coverage["online_hours"], 1),
            "offline": t.number(coverage["offline_hours"], 1),
            "share": t.percent(coverage["share"]),
            "has_offline": bool(coverage["offline_hours"]),
            "by_counter": [{"label": c["label"] or c["counter_id"], "unit": c["unit_name"] or "",
                            "duty": t.number(c["duty_hours"], 1),
                            "online": t.number(c["online_hours"], 1),
                            "offline": t.number(c["offline_hours"], 1),
                            "share": t.percent(c["share"])}
                           for c in coverage.get("by_counter", [])]},
    }


def trend_part(t: Translator, trend: dict[str, Any]) -> dict[str, Any]:
    series = trend["series"]
    shares = [(p["month"], None if p["share_satisfied"] is None else p["share_satisfied"] * 100)
              for p in series]
    band = [None if not p["share_interval"] else
            (p["share_interval"][0] * 100, p["share_interval"][1] * 100) for p in series]
    chart = charts.trend_line(
        shares, band=band, title=t.gettext("Share of satisfied ratings, last %(months)s months",
                                           months=t.number(len(series))),
        desc=t.gettext("Line: the share of satisfied ratings each month; band: its 95 % "
                       "interval; a gap: a month without ratings."),
        format_value=lambda v: t.percent(v / 100, 0), format_label=t.month,
        no_data=t.gettext("No ratings"))
    rows = [{"month": t.month(p["month"]), "ratings": t.number(p["total"]),
             "index": t.number(p["index"], 1), "share": t.percent(p["share_satisfied"]),
             "interval": interval_text(t, p["share_interval"]), "sufficient": p["sufficient"],
             "filtered": t.number(p["filtered"])} for p in reversed(series)]
    return {"chart": chart, "rows": rows}


def heatmap_part(t: Translator, heat: dict[str, Any]) -> dict[str, Any]:
    cells = {(c["weekday"], c["hour"]): (c["index"], c["count"]) for c in heat["cells"]}
    used_days = {day for day, _ in cells}
    days = {day: t.locale.days["format"]["wide"][day] for day in range(7)
            if day < 5 or day in used_days}
    hours = [hour for _, hour in cells]
    low, high = min([HOURS[0], *hours]), max([HOURS[1], *hours])
    chart = charts.heatmap(
        cells, title=t.gettext("Satisfaction index by hour and weekday"),
        desc=t.gettext("Local time (UTC+7). Each cell: the satisfaction index 0–100 of the "
                       "ratings in that hour; hatched: no ratings."),
        weekdays=days, hours=range(low, high + 1), format_value=lambda v: t.number(v),
        format_count=lambda n: t.ngettext("%(num)d rating", "%(num)d ratings", n),
        domain=(0, 100), format_hour=lambda hour: f"{hour:02d}:00",
        no_data=t.gettext("No ratings"))
    return {"chart": chart, "total": t.number(heat["total"])}


def tasks_part(t: Translator, part: dict[str, Any], page: int, href) -> dict[str, Any]:
    counts, pct = part["summary"], part["percentages"]
    items = part.get("items", [])
    info = pager(len(items), page, href)
    rows = []
    for task in items[info["start"]:info["stop"]]:
        flags = task.get("flags", [])
        rows.append({
            "id": task["id"], "title": task["title"], "period": label(t, PERIODS, task["period"]),
            "deadline": iso_date(t, task["deadline"]),
            "completed_on": iso_date(t, task["completed_on"]) or "—",
            "weight": points(t, task["weight"]), "progress": t.percent(task["progress"] / 100, 0)
            if task.get("progress") is not None else "—",
            "status": task["status"], "status_label": label(t, TASK_STATUS, task["status"]),
            "excused": bool(task["delay_excused"] and task["delayed"]),
            "excuses": [f["reason"] for f in flags if f["kind"] != "major_error"],
            "errors": task["major_errors"], "errors_text": t.number(task["major_errors"]),
            "error_reasons": [f["reason"] for f in flags if f["kind"] == "major_error"]})
    return {
        "counts": {key: t.number(value) for key, value in counts.items()},
        "quantity": t.percent(None if pct["quantity"] is None else pct["quantity"] / 100),
        "quality": t.percent(None if pct["quality"] is None else pct["quality"] / 100),
        "progress": t.percent(None if pct["progress"] is None else pct["progress"] / 100),
        "rows": rows, "pager": info}


def unit_part(t: Translator, part: dict[str, Any] | None) -> dict[str, Any] | None:
    """A leader's unit score (Decree 335; `unit_score` of the officer's month): the people
    they lead with the grade standing for each, the unit's points and their lines. None for
    an officer who leads nobody in the period or under a policy without it. Shared by the
    officer page and the printable form."""
    if not part:
        return None
    return {
        "share": t.percent(part["share"], 0), "points": points(t, part["points"]),
        "max": points(t, part["max_points"]), "provisional": part["provisional"],
        "certain": part.get("certain", False),
        # A block frozen before "undecided" existed shows no count rather than a wrong one.
        "counts": {key: t.number(part.get(key)) for key in ("total", "completed",
                                                           "not_completed", "ungraded",
                                                           "undecided")},
        "people": [{"name": p["name"],
                    "grade": grade_text(t.language, p["grade"]) or t.gettext("Not graded yet"),
                    "standing": "" if not p["grade"] else
                    t.gettext("decided") if p["decided"] else t.gettext("proposed"),
                    "not_completed": p["not_completed"]} for p in part["subordinates"]],
        "lines": _lines(t, part["lines"])}


def upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _lines(t: Translator, lines: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [{"points": signed(t, line["points"]), "text": pick(t.language, line)}
            for line in lines]


def evaluation_part(t: Translator, report: dict[str, Any], status: dict[str, Any],
                    names: dict[str, str]) -> dict[str, Any]:
    workflow, suggestion = report["workflow"], report["suggestion"]
    self_step, review, decision = workflow["self"], workflow["review"], workflow["decision"]
    steps = [{"code": step, "label": t.gettext(STEPS[step]),
              "due": iso_date(t, status[step]["due"]), "done": status[step]["done"],
              "late": status[step]["late"],
              "skipped": step == "self" and status["self"]["skipped"]} for step in STEPS]
    history = []
    for event in workflow.get("events", []):
        data = event["data"]
        detail = ""
        if event["step"] == "reopen":
            detail = data.get("reason") or ""
        elif event["step"] in ("decision", "review"):
            code = data.get("final_grade") or data.get("proposed_grade")
            info = grade_info_of(report, code)
            detail = grade_text(t.language, info)
        history.append({"step": label(t, EVENTS, event["step"]),
                        "who": names.get(event["actor"], event["actor"]),
                        "when": when(t, event["at"]), "detail": detail})
    return {
        "stage": status["stage"], "stage_label": label(t, STAGES, status["stage"]),
        "locked": status["locked"], "steps": steps,
        # The top unit's head: reviewed and decided outside hailong, never late here.
        "outside": pick(t.language, status.get("outside")) if status.get("outside") else "",
        "criteria": [{"code": c["code"], "label": pick(t.language, c),
                      "max": points(t, c["points"]), "self": points(t, c["self"]),
                      "leader": points(t, c["leader"]), "suggested": points(t, c["suggested"])}
                     for c in report["criteria"]],
        "self": None if not self_step else {
            "total": points(t, self_step["total"]), "comment": self_step["comment"] or "",
            "at": when(t, self_step["at"])},
        "review": None if not review else {
            "total": points(t, review["total"]), "comment": review["comment"] or "",
            "grade": grade_text(t.language, review["proposed_grade"]),
            "by": review["by_name"] or review["by"] or "", "at": when(t, review["at"]),
            "disciplined": workflow["disciplined"],
            "discipline_note": workflow["discipline_note"] or "",
            "attitude_reason": review.get("attitude_reason") or ""},
        "decision": None if not decision else {
            "grade": grade_text(t.language, decision["grade"]),
            "score": points(t, decision["score"]), "note": decision["note"] or "",
            "by": decision["by_name"] or decision["by"] or "", "at": when(t, decision["at"]),
            # why the final score differs from the suggested one (rules/decision.py)
            "score_line": pick(t.language, decision.get("final_score_line") or {})},
        "has_snapshot": report.get("decided_snapshot") is not None,
        # Where the evidence reads differently now than when the head decided (the decision
        # itself stands): collector/evaluation/snapshot_changes.py.
        "evidence_changes": [pick(t.language, line)
                             for line in report.get("evidence_changes") or []],
        "suggestion": None if not suggestion else {
            "score": points(t, suggestion["score"]),
            "grade": grade_text(t.language, suggestion["grade"]),
            "basis": suggestion["basis"], "lines": _lines(t, suggestion["lines"])},
        "note": upper_first(pick(t.language, report["suggestion_note"])),
        "evidence_total": points(t, report["evidence_points"]["total"]),
        "evidence_lines": _lines(t, report["evidence_points"]["lines"]),
        "history": history,
    }


def grade_info_of(report: dict[str, Any], code: str | None) -> dict[str, Any] | None:
    """Grade labels for a code seen in the history, from the report's own grades."""
    if not code:
        return None
    workflow = report["workflow"]
    for grade in ((workflow["review"] or {}).get("proposed_grade"),
                  (workflow["decision"] or {}).get("grade"),
                  (report["suggestion"] or {}).get("grade")):
        if grade and grade["code"] == code:
            return grade
    return {"code": code, "letter": None, "vi": code, "en": code}


def grade_options(t: Translator, policy: Policy, selected: str | None) -> list[dict[str, Any]]:
    return [{"code": code, "label": grade_text(t.language, grade_info(policy, code)),
             "selected": code == selected} for code in GRADE_CODES]


def _number_value(value: Any) -> str:
    """A stored score as an <input type=number> value (always a dot)."""
    if value is None or value == "":
        return ""
    if isinstance(value, (int, float)):
        return f"{value:g}"
    return str(value)


def forms_part(t: Translator, report: dict[str, Any], policy: Policy, may: dict[str, bool],
               quota: dict[str, Any] | None, values: dict[str, Any]) -> dict[str, Any]:
    """The review, decision and reopen forms the viewer may use, with what they show first:
    the values just submitted after a refusal, else what the same person stored (the
    leader's own review, when editing it). Never someone else's judgment: a first review
    starts with empty scores and no grade, a decision with no grade, so nobody approves by
    pressing the button; the officer's own scores, the suggested grade and the leader's
    proposal are shown beside the fields, read-only, as evidence."""
    workflow, stage = report["workflow"], report["workflow"]["status"]
    review = workflow["review"] or {}
    self_scores = (workflow["self"] or {}).get("scores") or {}
    stored = review.get("scores") or {}
    proposal = review.get("proposed_grade")
    proposed = (proposal or {}).get("code")
    suggested = (report["suggestion"] or {}).get("grade")
    forms: dict[str, Any] = {"review": None, "decision": None, "reopen": None}
    if may.get("review") and stage != "decided":
        forms["review"] = {
            "criteria": [{"code": c.code, "label": pick(t.language, {"vi": c.vi, "en": c.en}),
                          "max": points(t, c.points), "max_value": f"{c.points:g}",
                          "value": _number_value(values.get(f"scores.{c.code}",
                                                            stored.get(c.code))),
                          "self": points(t, self_scores.get(c.code))}
                         for c in policy.criteria if c.source == "leader"],
            "comment": values.get("comment", review.get("comment") or ""),
            "grades": grade_options(t, policy, values.get("proposed_grade", proposed)),
            "suggested": grade_text(t.language, suggested) if suggested else "",
            # After a refusal the form shows what was posted: an unticked box sends nothing.
            "disciplined": (values.get("disciplined") == "on" if values
                            else workflow["disciplined"]),
            "discipline_note": values.get("discipline_note", workflow["discipline_note"] or ""),
            "attitude_reason": values.get("attitude_reason",
                                          review.get("attitude_reason") or ""),
            # When few ratings come from an offline counter: above how many points of the
            # satisfaction criterion the reason is required (rules/offline.py).
            "attitude_hint": pick(t.language, (report["satisfaction"].get("attitude_ceiling")
                                               or {}).get("hint"))}
    if may.get("decide") and stage == "reviewed":
        forms["decision"] = {
            "grades": grade_options(t, policy, values.get("final_grade")),
            "proposed": grade_text(t.language, proposal) if proposal else "",
            "suggested": grade_text(t.language, suggested) if suggested else "",
            "note": values.get("note", ""), "acknowledge": values.get("acknowledge_quota") == "on",
            "quota": quota,
            # A leader's unit result still awaiting decisions (Decree 335): who, and the
            # checkbox the decision then needs (workflow/status.py `unit_acknowledgement`).
            "unit_awaiting": pick(t.language, (report.get("unit_score") or {}).get("awaiting")),
            "acknowledge_unit": values.get("acknowledge_provisional_unit") == "on"}
    if may.get("reopen") and stage == "decided":
        forms["reopen"] = {"reason": values.get("reason", "")}
    forms["any"] = any(forms[key] for key in ("review", "decision", "reopen"))
    return forms


def quota_part(t: Translator, standing: Any, top: Any, top_label: str,
               unit_name: str, lines: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """What the head sees before deciding: the unit's line as it stands (decided and
    proposed grades) in the officer's group of similar posts, and what deciding the capped
    grade here would meet, as a warning exactly when that decision needs acknowledging
    (`refuses`; collector texts, by language). Any other grade never does
    (docs/evaluation.md, "The quota"). With several groups (`lines`, each a quota dict) the
    unit's lines are listed instead, the officer's group marked."""
    text = pick(t.language, {"vi": standing.vi, "en": standing.en}) if standing else ""
    warn = bool(top is not None and top.refuses)
    top_text = pick(t.language, {"vi": top.vi, "en": top.en}) if top is not None else ""
    groups = quota_group_lines(t, lines or [], for_officer=True,
                               group=getattr(top, "post_group", None))
    return {"warn": warn, "text": "" if groups else text, "top_text": top_text,
            "top_label": top_label, "unit": unit_name, "groups": groups}


def responses_part(t: Translator, listing: dict[str, Any] | None, page: dict[str, Any] | None
                   ) -> dict[str, Any] | None:
    """The officer's written responses to the month (appeals), oldest first."""
    if listing is None:
        return None
    return {"entries": [{"who": item["actor_name"] or item["actor"], "when": when(t, item["at"]),
                       "text": item["text"]} for item in listing["items"]],
            "total": t.number(listing["total"]), "pager": page}


def officer_view(t: Translator, *, report: dict[str, Any], trend: dict[str, Any],
                 heat: dict[str, Any], status: dict[str, Any], policy: Policy,
                 may: dict[str, bool], quota: dict[str, Any] | None, names: dict[str, str],
                 responses: dict[str, Any] | None, tasks_page: int, done: str | None,
                 error: str | None, values: dict[str, Any], lang_param: str | None,
                 back: dict[str, str] | None) -> dict[str, Any]:
    officer, month = report["officer"], report["month"]
    base = f"/officers/{officer['id']}"

    def href(**changes: Any) -> str:
        params = {"month": month, "lang": lang_param, "tasks_page": tasks_page, **changes}
        if params["tasks_page"] == 1:
            params["tasks_page"] = None
        return base + query(**params)

    action = f"{base}/months/{month}"
    suffix = query(lang=lang_param) if lang_param else ""
    return {
        "officer": officer, "month": month, "month_label": t.month(month),
        "prev_href": href(month=previous_month(month), tasks_page=None),
        "next_href": href(month=next_month(month), tasks_page=None),
        "form_href": f"{action}/form", "json_href": f"/api/v1/officers/{officer['id']}/months/"
        f"{month}", "back": back,
        "actions": {"review": f"{action}/review{suffix}", "decision": f"{action}/decision{suffix}",
                    "reopen": f"{action}/reopen{suffix}"},
        "policy": pick(t.language, {"vi": report["policy"]["title_vi"],
                                    "en": report["policy"]["title_en"]}),
        "sat": satisfaction_part(t, report["satisfaction"]),
        "trend": trend_part(t, trend), "heat": heatmap_part(t, heat),
        "tasks": tasks_part(t, report["tasks"], tasks_page, lambda n: href(tasks_page=n)),
        "unit": unit_part(t, report.get("unit_score")),
        "evaluation": evaluation_part(t, report, status, names),
        "forms": forms_part(t, report, policy, may, quota, values),
        "responses": responses,
        "done": label(t, DONE, done) if done in DONE else "", "error": error or "",
    }
