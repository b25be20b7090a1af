"""HTTP routes for task records: create, list by month, progress, quality errors, excuses.

Thin: each route calls one `collector.evaluation.tasks` function; its errors ("vi / en")
reach the app's one handler (collector/web/errors.py): `TaskNotFound` → 404, `TaskForbidden`
→ 403, `TaskConflict` (the month is decided and locked) → 409, `TaskError` → 422. Reads use the
shared read-only `Db`; each write opens its own `Store` for the request (SQLite's busy timeout
queues it behind the ingest thread's batches). Every write is in the audit log with the
account that made it. Who may do what (collector/accounts/permissions.py, applied by
collector/web/scoped.py `allow_task` as the workspaces' forms apply it): an officer, their direct
leader or a head above them plans tasks and updates progress; only the leader or a head records
a quality error or excuses a delay; reading needs the officer in the account's scope. The
record names whoever registers a task as assigning it (the account's officer): an officer's own
task is self-registered, and nobody files a task in someone else's name.

Wiring: collector/app.py lists `router` in `SIGNED_IN_ROUTERS`, behind the signed-in dependency.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from collector.evaluation import tasks
from collector.web.auth import ActingOfficer, CurrentViewer, require_officer_in_scope
from collector.web.deps import (
    ConfiguredPolicy,
    Db,
    MonthParam,
    Now,
    Today,
    Writer,
    month_or_422,
    period_or_422,
)
from collector.web.scoped import allow_task, task_officer, task_service
from collector.accounts.permissions import may_judge_task, may_plan_task

router = APIRouter(tags=["tasks"])


class TaskCreate(BaseModel):
    title: str = Field(description="what is to be done", examples=["Thẩm định 40 hồ sơ đất đai"])
    assigned_by: str | None = Field(None, description="set by the server: the officer of the "
                                    "account registering the task (an officer's own task is "
                                    "self-registered); any other value is refused (403)",
                                    examples=["HK-0101"])
    period: str = Field(description="work plan it belongs to: 'week' or 'month'",
                        examples=["month"])
    deadline: str = Field(description="ISO date the officer committed to, local time; the "
                                      "task belongs to this date's month",
                          examples=["2026-03-31"])
    weight: float = Field(1, description=f"weight or converted-product count, "
                                         f"{tasks.MIN_WEIGHT} to {tasks.MAX_WEIGHT}")


class TaskUpdate(BaseModel):
    progress: int | None = Field(None, description="0–100 %")
    note: str | None = Field(None, description="what was done, or what holds it up")
    completed_on: str | None = Field(None, description="ISO date of completion, not after "
                                                       "today nor before the task was "
                                                       "registered; null reopens the task",
                                     examples=["2026-03-28"])


class Reason(BaseModel):
    reason: str = Field(description="why: the error found, or the objective cause of the delay")


@router.post("/api/v1/officers/{officer_id}/tasks", status_code=201)
def create_task(officer_id: str, body: TaskCreate, store: Writer, day: Today, now: Now,
                actor: ActingOfficer, policy: ConfiguredPolicy) -> dict[str, Any]:
    """Register a task in the officer's weekly or monthly work plan, assigned by the account's
    officer. Refused into a month the head has decided (409)."""
    allow_task(store.db, officer_id, actor, may_plan_task)
    return task_service(store, actor, day, now, policy.period).create(
        officer_id, title=body.title, assigned_by=body.assigned_by, period=body.period,
        deadline=body.deadline, weight=body.weight)


@router.get("/api/v1/officers/{officer_id}/tasks")
def list_tasks(officer_id: str, db: Db, day: Today, who: CurrentViewer,
               policy: ConfiguredPolicy, month: MonthParam = None) -> dict[str, Any]:
    """The officer's tasks whose deadline falls in the month, with the counts of the
    evaluation: registered, on time, late, overdue, excused, open. Under a quarterly policy
    `month` may be a quarter (YYYY-Qn; the default is this quarter) and each task's status is
    judged as of its quarter's end."""
    require_officer_in_scope(who, db, officer_id, month)
    if policy.period == "month":
        month = month_or_422(month)
    else:
        month = period_or_422(month, policy.period, day, months=True)
    return tasks.officer_month(db, officer_id, month, day, policy.period)


@router.get("/api/v1/tasks/{task_id}")
def get_task(task_id: int, db: Db, day: Today, who: CurrentViewer,
             policy: ConfiguredPolicy) -> dict[str, Any]:
    """One task with its flags and its whole progress history."""
    require_officer_in_scope(who, db, task_officer(db, task_id))
    return tasks.task_view(db, task_id, day, policy.period)


@router.patch("/api/v1/tasks/{task_id}")
def update_task(task_id: int, body: TaskUpdate, store: Writer, day: Today, now: Now,
                actor: ActingOfficer, policy: ConfiguredPolicy) -> dict[str, Any]:
    """Progress (0–100 %), a note and the completion date; only the fields sent change."""
    allow_task(store.db, task_officer(store.db, task_id), actor, may_plan_task)
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    return task_service(store, actor, day, now, policy.period).update(task_id, changes)


@router.post("/api/v1/tasks/{task_id}/quality-error", status_code=201)
def flag_quality_error(task_id: int, body: Reason, store: Writer, day: Today, now: Now,
                       actor: ActingOfficer, policy: ConfiguredPolicy) -> dict[str, Any]:
    """Record one major quality error (25 % off the task's quality points under decree-335)."""
    allow_task(store.db, task_officer(store.db, task_id), actor, may_judge_task)
    return task_service(store, actor, day, now, policy.period).flag_error(task_id,
                                                                          body.reason)


@router.post("/api/v1/tasks/{task_id}/excuse-delay", status_code=201)
def excuse_delay(task_id: int, body: Reason, store: Writer, day: Today, now: Now,
                 actor: ActingOfficer, policy: ConfiguredPolicy) -> dict[str, Any]:
    """Excuse a late or overdue task's delay for an objective cause; it then costs nothing."""
    allow_task(store.db, task_officer(store.db, task_id), actor, may_judge_task)
    return task_service(store, actor, day, now, policy.period).excuse_delay(task_id,
                                                                            body.reason)
