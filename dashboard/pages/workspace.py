"""The officer's own workspace (/me) and the leader's workspace (/team), with their forms.

/me: the officer's work plan for a month (add a task with the deadline they commit to, update
progress, mark done), their self-evaluation, exactly the evidence leaders see about them and
their written responses (appeals) to the month. /team: the people a leader or head leads with
the month's task results and evaluation stage; assign a task, follow progress, flag a major
quality error or excuse a delay, and a link to review each person's month.

Every form posts with the session's CSRF token (checked by `collector.web.auth.viewer` before
the route runs), calls the service the JSON API calls, with the same permission function
(collector/accounts/permissions.py; the acting officer as `collector.web.auth.acting_officer`
decides it), and answers Post/Redirect/Get: 303 back to the page with `?done=<what>`. A refusal
re-renders the page with the service's message in the page's language, and the status code the
API would give (403, 404, 409, 422). The forms' plumbing is in
dashboard/pages/workspace_forms.py, the presentation in dashboard/views/workspace.py.

Wiring: collector/app.py lists `router` in `SIGNED_IN_ROUTERS`, behind the signed-in
dependency, like the other dashboard routers.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Callable

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from collector.evaluation import month as monthly, responses, team
from collector.evaluation.workflow import steps as workflow
from collector.web import access
from collector.web.auth import CurrentViewer, Viewer
from collector.web.deps import ConfiguredPolicy, Db, MonthParam, Now, Today, Writer
from collector.accounts.permissions import may_judge_task, may_plan_task
from collector.evaluation.policy import Policy
from collector.accounts.scope import PEOPLE
from collector.core.periods import parse_period, period_of

from dashboard.views import workspace as views
from dashboard.pages.workspace_forms import (
    Fields,
    Refusal,
    acting,
    allow,
    attempt,
    back,
    link,
    months_around,
    number,
    page_month,
    task_officer,
    task_service,
    this_or,
)
from dashboard.pages.years import my_year
from dashboard.i18n import N_, translator
from dashboard.rendering import language_of, render

router = APIRouter(include_in_schema=False)

DONE = {"task_added": N_("The task was added to the work plan."),
        "progress": N_("Progress saved."), "completed": N_("The task is marked done."),
        "self": N_("Your self-evaluation was saved."),
        "response": N_("Your response was attached to the month."),
        "assigned": N_("The task was assigned."),
        "flagged": N_("The major quality error was recorded."),
        "excused": N_("The delay was excused.")}


# --- /me ---------------------------------------------------------------------------------------

def render_me(request: Request, db, who: Viewer, policy: Policy, now: int, day: date,
              month: str, *, page: int = 1, responses_page: int = 1, done: str | None = None,
              refusal: Refusal | None = None, entered: dict[str, Any] | None = None,
              status_code: int = 200) -> HTMLResponse:
    t = translator(language_of(request))
    error = views.pick(t, refusal.vi, refusal.en) if refusal else None
    me = who.officer_id if who.role in PEOPLE else None
    if me is None:
        return render(request, "me.html", who, status_code=status_code, officer=None,
                      error=error, month=month)
    report = monthly.officer_month(db, me, month, policy, now_ms=now, today=day)
    status = workflow.evaluation_status(db, policy, me, month, day)
    entered = entered or {}
    before, after = months_around(month)
    task_rows, task_pager = views.paginate(
        report["tasks"]["items"], page,
        lambda n: link("/me", month=month, page=n, responses_page=responses_page) + "#plan")
    shown = responses.list_responses(db, me, month, limit=views.PER_PAGE,
                                     offset=(max(1, responses_page) - 1) * views.PER_PAGE,
                                     period=policy.period)
    _, response_pager = views.paginate(
        range(shown["total"]), responses_page,
        lambda n: link("/me", month=month, page=page, responses_page=n) + "#responses")
    if response_pager["page"] != max(1, responses_page):  # asked past the end
        shown = responses.list_responses(db, me, month, limit=views.PER_PAGE,
                                          offset=(response_pager["page"] - 1) * views.PER_PAGE,
                                          period=policy.period)
    reminder = None
    this_month = period_of(day, policy.period).key  # this quarter under a quarterly policy
    if month == this_month:  # last month's self-evaluation, due in this month's first days
        earlier = workflow.evaluation_status(db, policy, me, before, day)
        if not (earlier["self"]["done"] or earlier["review"]["done"]) \
                and day <= date.fromisoformat(earlier["self"]["due"]):
            reminder = {"month": t.month(before), "href": link("/me", month=before) + "#self",
                        "due": views.day_text(t, earlier["self"]["due"])}
    first_day = parse_period(month).first_day.isoformat()
    return render(
        request, "me.html", who, status_code=status_code,
        officer=report["officer"], month=month, month_label=t.month(month),
        prev_href=link("/me", month=before), next_href=link("/me", month=after),
        done=t.gettext(DONE[done]) if done in DONE else None, error=error,
        entered=entered,
        tasks=[views.task_row(t, task) for task in task_rows], task_pager=task_pager,
        task_counts=views.task_counts(t, report["tasks"]["summary"]),
        deadline_default=max(first_day, day.isoformat()) if month >= this_month
        else first_day, today=day.isoformat(),
        own=views.self_view(t, status, day, entered.get("scores")),
        reminder=reminder, evidence=views.evidence_view(t, report),
        responses=views.responses_view(t, shown["items"]), response_pager=response_pager,
        max_response=responses.MAX_TEXT, current_month=month <= this_month,
        year=my_year(t, db, who, policy, day, me, month))


@router.get("/me", response_class=HTMLResponse)
def my_workspace(request: Request, db: Db, who: CurrentViewer, policy: ConfiguredPolicy,
                 now: Now, day: Today, month: MonthParam = None, page: int = 1,
                 responses_page: int = 1, done: str | None = None) -> HTMLResponse:
    """The officer's workspace. JSON twins: GET /api/v1/officers/{id}/tasks?month=,
    GET /api/v1/officers/{id}/evaluations/{month}, GET /api/v1/officers/{id}/months/{month}
    and GET /api/v1/officers/{id}/evaluations/{month}/responses."""
    return render_me(request, db, who, policy, now, day, this_or(month, day, policy.period),
                     page=page,
                     responses_page=responses_page, done=done)


def _me_form(request: Request, store, who: Viewer, policy: Policy, now: int, day: date,
             fields: dict[str, str], action: Callable[[str], tuple[str, str, str]],
             form: str, entered: dict[str, Any] | None = None) -> Response:
    """Run `action(officer)` → (month, done code, anchor) and redirect, or re-render /me."""
    month = page_month(fields.get("month"), day, policy.period)
    try:
        officer = acting(who)
        target, code, anchor = action(officer)
    except Refusal as refusal:
        return render_me(request, store.db, who, policy, now, day, month, refusal=refusal,
                         entered={"form": form, **(entered or {})},
                         status_code=refusal.status)
    return back("/me", anchor, month=target, done=code)


@router.post("/me/tasks")
def add_my_task(request: Request, store: Writer, who: CurrentViewer, policy: ConfiguredPolicy,
                now: Now, day: Today, fields: Fields) -> Response:
    """Add a task to one's own work plan: POST /api/v1/officers/{id}/tasks."""
    def action(me: str) -> tuple[str, str, str]:
        allow(store.db, me, me, may_plan_task)
        task = attempt(lambda: task_service(store, me, day, now, policy.period).create(
            me, title=fields.get("title", ""),
            period=fields.get("period", ""), deadline=fields.get("deadline", ""),
            weight=number(fields.get("weight") or "1", "weight")))
        return task["period"], "task_added", f"#task-{task['id']}"
    return _me_form(request, store, who, policy, now, day, fields, action, "add-task",
                    {"task": fields})


def _update(store, day: date, now: int, task_id: int, me: str,
            changes: dict[str, Any], period: str) -> dict[str, Any]:
    allow(store.db, task_officer(store.db, task_id), me, may_plan_task)
    return attempt(lambda: task_service(store, me, day, now, period).update(task_id, changes))


@router.post("/me/tasks/{task_id}/progress")
def update_my_task(task_id: int, request: Request, store: Writer, who: CurrentViewer,
                   policy: ConfiguredPolicy, now: Now, day: Today, fields: Fields) -> Response:
    """Progress (0–100 %) and a note: PATCH /api/v1/tasks/{id}."""
    def action(me: str) -> tuple[str, str, str]:
        changes: dict[str, Any] = {"progress": number(fields.get("progress"), "progress")}
        if fields.get("note", "").strip():
            changes["note"] = fields["note"]
        task = _update(store, day, now, task_id, me, changes, policy.period)
        return task["period"], "progress", f"#task-{task_id}"
    return _me_form(request, store, who, policy, now, day, fields, action, f"task-{task_id}")


@router.post("/me/tasks/{task_id}/done")
def complete_my_task(task_id: int, request: Request, store: Writer, who: CurrentViewer,
                     policy: ConfiguredPolicy, now: Now, day: Today, fields: Fields) -> Response:
    """Mark done on a date not after today: PATCH /api/v1/tasks/{id} {completed_on}."""
    def action(me: str) -> tuple[str, str, str]:
        task = _update(store, day, now, task_id, me,
                       {"completed_on": fields.get("completed_on", "")}, policy.period)
        return task["period"], "completed", f"#task-{task_id}"
    return _me_form(request, store, who, policy, now, day, fields, action, f"task-{task_id}")


@router.post("/me/self-evaluation")
def self_evaluate(request: Request, store: Writer, who: CurrentViewer, policy: ConfiguredPolicy,
                  now: Now, day: Today, fields: Fields) -> Response:
    """Scores per criterion and a comment: PUT /api/v1/officers/{id}/evaluations/{month}/self."""
    month = page_month(fields.get("month"), day, policy.period)
    codes = [c.code for c in policy.criteria if c.source == "leader"]
    typed = {code: fields.get(f"scores.{code}", "") for code in codes}

    def action(me: str) -> tuple[str, str, str]:
        scores = {code: number(typed[code], f"scores.{code}") for code in codes}
        service = workflow.WorkflowService(store, policy, clock=lambda: now, today=lambda: day)
        attempt(lambda: service.self_evaluate(me, month, me, scores, fields.get("comment")))
        return month, "self", "#self"
    return _me_form(request, store, who, policy, now, day, fields, action, "self-form",
                    {"scores": {**typed, "comment": fields.get("comment", "")}})


@router.post("/me/responses")
def respond(request: Request, store: Writer, who: CurrentViewer, policy: ConfiguredPolicy,
            now: Now, day: Today, fields: Fields) -> Response:
    """A written response (appeal) to the month:
    POST /api/v1/officers/{id}/evaluations/{month}/responses."""
    month = page_month(fields.get("month"), day, policy.period)

    def action(me: str) -> tuple[str, str, str]:
        service = responses.ResponseService(store.db, clock=lambda: now, today=lambda: day,
                                            period=policy.period)
        attempt(lambda: service.add(me, month, me, fields.get("text", "")))
        return month, "response", "#responses"
    return _me_form(request, store, who, policy, now, day, fields, action, "response-form",
                    {"text": fields.get("text", "")})


# --- /team -------------------------------------------------------------------------------------

def render_team(request: Request, db, who: Viewer, day: date, month: str, *, page: int = 1,
                tasks_page: int = 1, officer: str | None = None, show: str = "attention",
                done: str | None = None, refusal: Refusal | None = None,
                entered: dict[str, str] | None = None, status_code: int = 200,
                period: str = "month") -> HTMLResponse:
    t = translator(language_of(request))
    error = views.pick(t, refusal.vi, refusal.en) if refusal else None
    if who.role not in access.LEADERS or who.officer_id is None:
        return render(request, "team.html", who, status_code=403 if refusal is None
                      else status_code, leader=None, error=error, month=month)
    data = team.team_month(db, who.officer_id, month, day, period)
    members = data["members"]
    if officer is not None and officer not in {m["officer_id"] for m in members}:
        officer = None
    show = "all" if show == "all" else "attention"
    state = {"month": month, "officer": officer, "show": show}
    people, people_pager = views.paginate(
        [views.member_row(t, m) for m in members], page,
        lambda n: link("/team", **state, page=n, tasks_page=tasks_page) + "#team")
    followed, tasks_pager = views.paginate(
        views.followed_tasks(t, members, officer=officer, everything=show == "all"),
        tasks_page, lambda n: link("/team", **state, page=page, tasks_page=n) + "#follow")
    before, after = months_around(month)
    return render(
        request, "team.html", who, status_code=status_code, leader=who.officer_id,
        month=month, month_label=t.month(month), state=state,
        prev_href=link("/team", month=before), next_href=link("/team", month=after),
        done=t.gettext(DONE[done]) if done in DONE else None, error=error,
        entered=entered or {}, people=people, people_pager=people_pager,
        assignable=[{"id": m["officer_id"], "name": m["name"]} for m in members
                    if m["may"]["plan"]],
        followed=followed, tasks_pager=tasks_pager,
        filter_name=next((m["name"] for m in members if m["officer_id"] == officer), None),
        all_href=link("/team", month=month, officer=officer, show="all") + "#follow",
        attention_href=link("/team", month=month, officer=officer) + "#follow",
        everyone_href=link("/team", month=month, show=show) + "#follow",
        filter_hrefs={m["officer_id"]: link("/team", month=month, officer=m["officer_id"],
                                            show=show) + "#follow" for m in members},
        deadline_default=max(parse_period(month).first_day.isoformat(), day.isoformat()),
        today=day.isoformat())


@router.get("/team", response_class=HTMLResponse)
def team_workspace(request: Request, db: Db, who: CurrentViewer, day: Today,
                   policy: ConfiguredPolicy, month: MonthParam = None, page: int = 1,
                   tasks_page: int = 1, officer: str | None = None, show: str = "attention",
                   done: str | None = None) -> HTMLResponse:
    """The leader's workspace. JSON twin: GET /api/v1/team?month= (collector/api/team.py)."""
    return render_team(request, db, who, day, this_or(month, day, policy.period), page=page,
                       tasks_page=tasks_page, officer=officer, show=show, done=done,
                       period=policy.period)


def _team_form(request: Request, store, who: Viewer, day: date, fields: dict[str, str],
               action: Callable[[str], str], anchor: str, period: str = "month") -> Response:
    month = page_month(fields.get("month"), day, period)
    officer, show = fields.get("officer") or None, fields.get("show") or "attention"
    try:
        code = action(acting(who))
    except Refusal as refusal:
        return render_team(request, store.db, who, day, month, officer=officer, show=show,
                           refusal=refusal, entered=fields, status_code=refusal.status,
                           period=period)
    return back("/team", anchor, month=month, officer=officer,
                show=None if show == "attention" else show, done=code)


@router.post("/team/tasks")
def assign_task(request: Request, store: Writer, who: CurrentViewer, now: Now, day: Today,
                fields: Fields, policy: ConfiguredPolicy) -> Response:
    """Assign a task to someone one leads: POST /api/v1/officers/{id}/tasks."""
    def action(me: str) -> str:
        officer_id = fields.get("officer_id", "")
        allow(store.db, officer_id, me, may_plan_task)
        # As the API: the server records who assigns (the leader, or the officer themself).
        attempt(lambda: task_service(store, me, day, now).create(
            officer_id, title=fields.get("title", ""),
            period=fields.get("period", ""), deadline=fields.get("deadline", ""),
            weight=number(fields.get("weight") or "1", "weight")))
        return "assigned"
    return _team_form(request, store, who, day, fields, action, "#assign", policy.period)


def _judge(store, day: date, now: int, task_id: int, me: str, judge: str,
           reason: str) -> None:
    allow(store.db, task_officer(store.db, task_id), me, may_judge_task)
    service = task_service(store, me, day, now)
    attempt(lambda: getattr(service, judge)(task_id, reason))


@router.post("/team/tasks/{task_id}/quality-error")
def flag_quality_error(task_id: int, request: Request, store: Writer, who: CurrentViewer,
                       now: Now, day: Today, fields: Fields,
                       policy: ConfiguredPolicy) -> Response:
    """Record a major quality error: POST /api/v1/tasks/{id}/quality-error."""
    def action(me: str) -> str:
        _judge(store, day, now, task_id, me, "flag_error", fields.get("reason", ""))
        return "flagged"
    return _team_form(request, store, who, day, fields, action, "#follow", policy.period)


@router.post("/team/tasks/{task_id}/excuse-delay")
def excuse_delay(task_id: int, request: Request, store: Writer, who: CurrentViewer, now: Now,
                 day: Today, fields: Fields, policy: ConfiguredPolicy) -> Response:
    """Excuse a delay for an objective cause: POST /api/v1/tasks/{id}/excuse-delay."""
    def action(me: str) -> str:
        _judge(store, day, now, task_id, me, "excuse_delay", fields.get("reason", ""))
        return "excused"
    return _team_form(request, store, who, day, fields, action, "#follow", policy.period)
