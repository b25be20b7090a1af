"""The leaders' pages: the unit overview ("/") and one officer's month ("/officers/{id}"),
with the review, decision and reopening forms.

Thin: each GET gathers the reports its JSON twins return (named in each docstring), within
the account's scope, and hands them to dashboard/views/leaders.py or officer.py, which build
what the templates show; a service's error reaches the app's one handler
(collector/web/errors.py), which answers with the error page. Each form POST calls
collector.evaluation.workflow.steps.WorkflowService exactly as collector/api/workflow.py does
(the acting officer is the account's officer record; the decision freezes the same evidence,
collector/web/deps.py `Evidence`), then redirects back (303, `?done=`); a refusal re-renders
the page with the service's message in the page's language and the HTTP status the API would
give (errors.status_of: 403, 404, 409, 422).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from collector.ratings import alerts, trends
from collector.evaluation import month as monthly, responses
from collector.accounts import permissions
from collector.org import directory
from collector.evaluation import sources
from collector.evaluation.workflow import steps as workflow
from collector.web import access
from collector.web.auth import (
    CurrentViewer,
    Viewer,
    acting_officer,
    clip_trend,
    require_officer_in_scope,
    require_role,
    require_unit_in_scope,
)
from collector.web.deps import (
    ConfiguredPolicy,
    Db,
    Evidence,
    MonthParam,
    Now,
    Today,
    Writer,
    period_or_422,
)
from collector.web.errors import status_of
from collector.evaluation.policy import GRADE_LABELS, Policy
from collector.accounts.scope import PEOPLE
from collector.db.store import now_ms
from collector.evaluation.workflow.calendar import calendar_for
from collector.evaluation.summary import unit as summary
from collector.core.periods import latest_month, period_of

from dashboard.i18n import translator
from dashboard.views.leaders import (
    overview_view,
    pager,
    previous_month,
    query,
    reminder_month,
    shown_ids,
)
from dashboard.views.officer import officer_view, quota_part, responses_part
from dashboard.views.unit_summary import summary_view
from dashboard.rendering import HOME, language_of, render

router = APIRouter(include_in_schema=False)

SPARK_MONTHS = 6
TREND_MONTHS = 12
ALERTS_SHOWN = 5
RESPONSES_PER_PAGE = 25
# Past this many officers in its period a unit's landing is summed per direct sub-unit in SQL
# instead of ranking its officers (issue 13). The ranking computes each officer's month in
# Python: measured on the province (docs/benchmarks.md) about 0.1 ms an officer over a fixed
# part (a ward of 355: 240 ms, of 501: 285 ms, a department of 2,727: 480 ms; the whole
# 154,085: 24.6 s), so at about 2,000 officers the per-officer part alone spends the 200 ms a
# landing may take; the summary's cost hardly grows with the unit (the department: 150 ms).
# Every ward and commune of the province (355–1,072) keeps its ranking.
LARGE_UNIT = 2_000
Page = Annotated[int, Query(ge=1, le=10_000)]


def _reminder(db, day: date, shown: str, kind: str = "month") -> dict[str, Any] | None:
    """Last month (last quarter under a quarterly policy: `kind`) and its decisions' due
    date, while its evaluation is still under way."""
    this = period_of(day, kind).key
    previous = previous_month(this)
    due = calendar_for(db, previous).decision_due
    month = reminder_month(day, shown, due, this)
    return None if month is None else {"month": month, "due": due}


def _names(db, ids) -> dict[str, str]:
    """The names of the officers a page mentions (not the whole province's list)."""
    return directory.officer_names(db, ids)


# --- the unit overview ----------------------------------------------------------------------

def scope_units(db, who: Viewer) -> list[dict[str, Any]]:
    """The units the account sees, in tree order, each with its depth below the first unit
    of its branch the account sees (the selector's indentation)."""
    out: list[dict[str, Any]] = []

    def walk(unit: dict[str, Any], depth: int) -> None:
        seen = who.scope.sees_unit(unit["id"])
        if seen:
            out.append({"id": unit["id"], "name": unit["name"], "depth": depth,
                        "parent_id": unit["parent_id"]})
        for child in sorted(unit["children"],
                            key=lambda u: (directory.unit_name_key(u["name"]), u["id"])):
            walk(child, depth + 1 if seen else 0)

    for root in sorted(directory.unit_tree(db, counts=False),
                       key=lambda u: (directory.unit_name_key(u["name"]), u["id"])):
        walk(root, 0)
    return out


def default_unit(units: list[dict[str, Any]], who: Viewer, db) -> str | None:
    """The root of the account's own part of the tree: the unit of its scope, up from the
    account's own unit, whose parent it does not see (an administrator of everything: the
    first root unit)."""
    own = (directory.get_officer(db, who.officer_id) or {}).get("unit_id") if who.officer_id \
        else None
    root = None
    for unit in units:  # tree order: each branch the account sees starts at depth 0
        if unit["depth"] == 0:
            root = unit["id"]
        if unit["id"] == own:
            return root
    return units[0]["id"] if units else None


def _may_see_status(db, who: Viewer, unit_id: str) -> bool:
    """Who is late at which step: for the heads of the unit or above and administrators
    within scope, as GET /api/v1/units/{id}/evaluations/{month}/status allows."""
    if who.role == "administrator":
        return who.scope.sees_unit(unit_id)
    return bool(who.officer_id) and bool(permissions.may_view_unit(
        who.officer_id, unit_id, permissions.unit_heads_over(db, unit_id)))


@router.get("/", response_class=HTMLResponse)
def overview_page(request: Request, db: Db, who: CurrentViewer, policy: ConfiguredPolicy,
                  now: Now, day: Today, month: MonthParam = None,
                  unit: Annotated[str | None, Query(max_length=100)] = None,
                  sort: Literal["index", "ratings", "name"] = "index", page: Page = 1,
                  late_page: Page = 1) -> Response:
    """A unit's month for its leaders: satisfaction index and distribution, change from last
    month, the officers ranked with the unit median, evaluation progress, open alerts.

    JSON twins: GET /api/v1/units/{unit}/months/{month} (the ranking, progress and quota),
    /api/v1/units/{unit}/trend?month= (sparklines, the unit's index and its change),
    /api/v1/units/{unit}/evaluations/{month}/status (who is late) and
    /api/v1/alerts?unit={unit} (alerts). A unit of more than LARGE_UNIT officers in the
    period shows its sub-units instead (`_summary_page`)."""
    if who.role in HOME:
        return RedirectResponse(HOME[who.role], status_code=303)
    require_role(who, *access.UNIT_EVALUATION)
    units = scope_units(db, who)
    unit = unit or default_unit(units, who, db)
    t = translator(language_of(request))
    if unit is None:
        return render(request, "overview.html", who, empty=True)
    require_unit_in_scope(who, unit)
    # The evaluation's period (a quarter under a quarterly policy); the ratings' own views
    # stay monthly, up to the period's latest month.
    month = period_or_422(month, policy.period, day)
    members = summary.month_members(db, unit, month, policy)  # counted in SQL, by unit
    if members.officers > LARGE_UNIT:
        return _summary_page(request, db, who, policy, now, day, unit, month, members, units)
    # Only the page of the ranking shown is computed in full (issue 13: a head of
    # thousands reads 25 rows); the unit's figures count every officer either way.
    shown: list[str] = []

    def page_of(rows: list[dict[str, Any]]) -> list[str]:
        shown.extend(shown_ids(rows, sort, page))
        return shown

    report = monthly.unit_month(db, unit, month, policy, now_ms=now, today=day,
                                detail=page_of)
    ids = [row["officer_id"] for row in report["officers"]]
    trend = trends.officers_trends(db, ids, latest_month(month, day), SPARK_MONTHS,
                                   min_ratings=policy.satisfaction.min_ratings, series_for=shown)
    status = (workflow.unit_evaluation_status(db, policy, unit, month, day)
              if _may_see_status(db, who, unit) else None)
    listing = alerts.list_alerts(db, unit_id=unit, state="open", limit=ALERTS_SHOWN,
                                 within=who.scope.unit_filter())
    view = overview_view(t, report=report, trend=trend, status=status, alerts=listing,
                         names=_names(db, {a["by"] for o in status["officers"]
                                           for a in o["awaiting"] if a["by"]})
                         if status else {}, units=units, sort=sort,
                         page=page, late_page=late_page,
                         reminder=_reminder(db, day, month, policy.period))
    return render(request, "overview.html", who, empty=False, **view)


def _summary_page(request: Request, db, who: Viewer, policy: Policy, now: int, day: date,
                  unit: str, month: str, members: summary.MonthMembers,
                  units: list[dict[str, Any]]) -> Response:
    """A large unit's landing: its month summed per direct sub-unit, never an officer's row
    (JSON twins: GET /api/v1/units/{unit}/months/{month}/summary and /api/v1/alerts)."""
    report = summary.unit_summary(db, unit, month, policy, today=day, now_ms=now,
                                  members=members)
    listing = alerts.list_alerts(db, unit_id=unit, state="open", limit=ALERTS_SHOWN,
                                 within=who.scope.unit_filter())
    # The due dates to whom the ranked landing shows who is late (who is, per sub-unit).
    calendar = calendar_for(db, month).as_dict() if _may_see_status(db, who, unit) else None
    view = summary_view(translator(language_of(request)), report=report, alerts=listing,
                        units=units, limit=LARGE_UNIT, calendar=calendar,
                        reminder=_reminder(db, day, month, policy.period))
    return render(request, "overview.html", who, empty=False, **view)


# --- one officer's month --------------------------------------------------------------------

def _may(db, who: Viewer, officer_id: str, month: str, day: date) -> dict[str, bool]:
    """What the account, as its officer record, may do to the month (forms shown): by the
    month's stored place once reviewed (permissions.month_facts), as the service decides."""
    if who.role not in PEOPLE or not who.officer_id:
        return {action: False for action in permissions.ACTIONS}
    facts = permissions.month_facts(db, officer_id, month, day)
    return permissions.permissions_of(facts, who.officer_id)


def _quota(t, db, policy: Policy, officer_id: str, month: str) -> dict[str, Any] | None:
    """The unit's line as it stands, and the check deciding the capped grade here would meet
    (the service's own: a warning exactly when that decision would be refused)."""
    facts = permissions.month_facts(db, officer_id, month)  # the quota of the month's place
    if facts is None or facts.deciding_unit is None:
        return None
    top = policy.quota.grade
    lines = workflow.unit_quotas(db, policy, facts.deciding_unit, month)
    top_check = workflow.decision_quota(db, policy, facts.deciding_unit, month, officer_id,
                                        top)
    # The line of the officer's own group of similar posts: the cap this decision meets.
    standing = next((line for line in lines if line.post_group == top_check.post_group), None)
    unit = sources.evidence_unit(db, facts.deciding_unit)
    vi, en = GRADE_LABELS[top]
    return quota_part(t, standing, top_check, vi if t.language == "vi" else en,
                      (unit or {}).get("name") or facts.deciding_unit,
                      [workflow.quota_dict(line) for line in lines])


def _officer_page(request: Request, db, who: Viewer, policy: Policy, now: int, day: date,
                  officer_id: str, month: str, *, tasks_page: int = 1,
                  responses_page: int = 1, done: str | None = None, error: str | None = None,
                  values: dict[str, Any] | None = None, status_code: int = 200) -> Response:
    require_role(who, *access.EVALUATION)
    require_officer_in_scope(who, db, officer_id, month)
    t = translator(language_of(request))
    report = monthly.officer_month(db, officer_id, month, policy, now_ms=now, today=day)
    may = _may(db, who, officer_id, month, day)
    quota = (_quota(t, db, policy, officer_id, month)
             if may["decide"] and report["workflow"]["status"] == "reviewed" else None)
    listing = responses.list_responses(db, officer_id, month, limit=RESPONSES_PER_PAGE,
                                       offset=(responses_page - 1) * RESPONSES_PER_PAGE,
                                       period=policy.period)
    lang_param = request.query_params.get("lang")
    base = f"/officers/{officer_id}"
    answers = responses_part(t, listing, pager(
        listing["total"], responses_page,
        lambda n: base + query(month=month, lang=lang_param, responses_page=n),
        RESPONSES_PER_PAGE))
    back = None
    if who.role in access.UNIT_EVALUATION:
        back = {"href": "/" + query(month=month, unit=report["officer"]["unit_id"]
                                    if who.scope.sees_unit(report["officer"]["unit_id"])
                                    else None),
                "label": t.gettext("Unit overview")}
    view = officer_view(
        t, report=report,
        # The trend's months another unit holds are left out, as on its JSON twin.
        trend=clip_trend(who, db, officer_id, trends.officer_trend(
            db, officer_id, latest_month(month, day), TREND_MONTHS,
            min_ratings=policy.satisfaction.min_ratings), day),
        heat=trends.hour_weekday(db, officer_id, latest_month(month, day)),
        status=workflow.evaluation_status(db, policy, officer_id, month, day),
        policy=policy, may=may, quota=quota,
        names=_names(db, {event["actor"] for event in report["workflow"].get("events") or []}),
        responses=answers,
        tasks_page=tasks_page, done=done, error=error, values=values or {},
        lang_param=lang_param, back=back)
    return render(request, "officer.html", who, status_code=status_code, **view)


@router.get("/officers/{officer_id}", response_class=HTMLResponse)
def officer_page(request: Request, officer_id: str, db: Db, who: CurrentViewer,
                 policy: ConfiguredPolicy, now: Now, day: Today, month: MonthParam = None,
                 tasks_page: Page = 1, responses_page: Page = 1,
                 done: Annotated[str | None, Query(max_length=20)] = None) -> Response:
    """One officer's month: satisfaction per level, the 12-month trend with its 95 % band,
    coverage, the hour × weekday map, filtered presses, citizens' reasons, tasks, the
    evaluation with the suggested score and its lines, and the forms the viewer may use.

    JSON twins: GET /api/v1/officers/{id}/months/{month} (the month),
    /api/v1/officers/{id}/trend?month= and /heatmap?month= (the charts),
    /api/v1/officers/{id}/evaluations/{month} (the workflow) and
    /api/v1/officers/{id}/evaluations/{month}/responses (the officer's responses)."""
    return _officer_page(request, db, who, policy, now, day, officer_id,
                         period_or_422(month, policy.period, day), tasks_page=tasks_page,
                         responses_page=responses_page, done=done)


# --- the forms ------------------------------------------------------------------------------

def _number(text: Any) -> Any:
    """A score typed on a form: '17,5' or '17.5' → 17.5; anything else goes to the service
    as it came, to be refused with the service's own message."""
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        return float(text.strip().replace(",", "."))
    except ValueError:
        return text


def _text(form, field: str) -> str | None:
    value = form.get(field)
    return value if isinstance(value, str) else None


async def read_form(request: Request) -> FormData:
    """The posted form (already parsed by the CSRF check), for routes that run in the
    thread pool like the API's, since the workflow's writes block."""
    return await request.form()


PostedForm = Annotated[FormData, Depends(read_form)]


def _submit(request: Request, db, who: Viewer, store, policy: Policy, now: int, day: date,
            officer_id: str, month: str, form: FormData, step: str, action,
            evidence=None) -> Response:
    """Run one workflow step for the form just posted: 303 back to the page on success,
    the page again with the refusal otherwise."""
    month = period_or_422(month, policy.period, day)
    require_officer_in_scope(who, db, officer_id, month)
    actor = acting_officer(who)
    values = {key: value for key, value in form.items()
              if key != "csrf_token" and isinstance(value, str)}
    service = workflow.WorkflowService(store, policy, clock=now_ms, today=lambda: day,
                                       evidence_of=evidence)
    try:
        action(service, actor)
    except workflow.WorkflowError as error:
        message = error.vi if language_of(request) == "vi" else error.en
        return _officer_page(request, db, who, policy, now, day, officer_id, month,
                             error=message, values=values, status_code=status_of(error))
    lang = request.query_params.get("lang")
    return RedirectResponse(f"/officers/{officer_id}" + query(month=month, done=step, lang=lang),
                            status_code=303)


@router.post("/officers/{officer_id}/months/{month}/review")
def review_form(request: Request, officer_id: str, month: str, db: Db, who: CurrentViewer,
                store: Writer, policy: ConfiguredPolicy, now: Now, day: Today,
                evidence: Evidence, form: PostedForm) -> Response:
    """The direct leader's review (PUT /api/v1/officers/{id}/evaluations/{month}/review):
    fields `scores.<criterion>`, `comment`, `proposed_grade`, `disciplined`,
    `discipline_note`, `attitude_reason` (checked against the same evidence)."""
    scores = {key[len("scores."):]: _number(value) for key, value in form.items()
              if key.startswith("scores.")}

    def review(service: workflow.WorkflowService, actor: str) -> None:
        service.review(officer_id, month, actor, scores, _text(form, "comment"),
                       _text(form, "proposed_grade") or "", form.get("disciplined") == "on",
                       _text(form, "discipline_note"), _text(form, "attitude_reason"))
    return _submit(request, db, who, store, policy, now, day, officer_id, month, form,
                   "review", review, evidence)


@router.post("/officers/{officer_id}/months/{month}/decision")
def decision_form(request: Request, officer_id: str, month: str, db: Db, who: CurrentViewer,
                  store: Writer, policy: ConfiguredPolicy, now: Now, day: Today,
                  evidence: Evidence, form: PostedForm) -> Response:
    """The head's decision (POST /api/v1/officers/{id}/evaluations/{month}/decision), with
    the same evidence frozen: fields `final_grade`, `note`, `acknowledge_quota`,
    `acknowledge_provisional_unit`."""
    def decide(service: workflow.WorkflowService, actor: str) -> None:
        service.decide(officer_id, month, actor, _text(form, "final_grade") or "",
                       _text(form, "note"), form.get("acknowledge_quota") == "on",
                       acknowledge_provisional_unit=form.get(
                           "acknowledge_provisional_unit") == "on")
    return _submit(request, db, who, store, policy, now, day, officer_id, month, form,
                   "decision", decide, evidence)


@router.post("/officers/{officer_id}/months/{month}/reopen")
def reopen_form(request: Request, officer_id: str, month: str, db: Db, who: CurrentViewer,
                store: Writer, policy: ConfiguredPolicy, now: Now, day: Today,
                form: PostedForm) -> Response:
    """Reopen a decision (POST /api/v1/officers/{id}/evaluations/{month}/reopen): the head,
    with `reason` (required)."""
    def reopen(service: workflow.WorkflowService, actor: str) -> None:
        service.reopen(officer_id, month, actor, _text(form, "reason") or "")
    return _submit(request, db, who, store, policy, now, day, officer_id, month, form,
                   "reopen", reopen)
