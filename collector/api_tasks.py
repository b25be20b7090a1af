"""HTTP routes for task records: create, list by month, progress, quality errors, excuses.

Thin: each route calls one `collector.tasks` function and turns `TaskNotFound` into 404 and
`TaskError` into 422, with the Vietnamese and the English message ("vi / en"). Reads use the
shared read-only `Db`; each write opens its own `Store` for the request (SQLite's busy timeout
queues it behind the ingest thread's batches). Every write is in the audit log with actor
"api" until accounts exist (issue 6).

Wiring: `app.include_router(api_tasks.router)` in `collector.api.create_app`.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Iterator

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from . import tasks
from .deps import Db, MonthParam, month_or_422
from .store import Store

router = APIRouter(tags=["tasks"])


def writer(request: Request) -> Iterator[Store]:
    store = Store(request.app.state.settings.db_path)
    try:
        yield store
    finally:
        store.close()


def today() -> date:
    """The local date (UTC+7); tests override this dependency."""
    return tasks.local_today()


Writer = Annotated[Store, Depends(writer)]
Today = Annotated[date, Depends(today)]


class TaskCreate(BaseModel):
    title: str = Field(description="what is to be done", examples=["Thẩm định 40 hồ sơ đất đai"])
    assigned_by: str = Field(description="id of the officer who assigns the work",
                             examples=["HK-0002"])
    period: str = Field(description="work plan it belongs to: 'week' or 'month'",
                        examples=["month"])
    deadline: str = Field(description="ISO date the officer committed to, local time; the "
                                      "task belongs to this date's month",
                          examples=["2026-03-31"])
    weight: float = Field(1, description="weight or converted-product count (> 0)")


class TaskUpdate(BaseModel):
    progress: int | None = Field(None, description="0–100 %")
    note: str | None = Field(None, description="what was done, or what holds it up")
    completed_on: str | None = Field(None, description="ISO date of completion, not after "
                                                       "today; null reopens the task",
                                     examples=["2026-03-28"])


class Reason(BaseModel):
    reason: str = Field(description="why: the error found, or the objective cause of the delay")


def _service(store: Store, day: date) -> tasks.TaskService:
    return tasks.TaskService(store, actor="api", today=lambda: day)


def _call(action, *args, **kwargs) -> dict[str, Any]:
    try:
        return action(*args, **kwargs)
    except tasks.TaskNotFound as error:
        raise HTTPException(status_code=404, detail=str(error)) from None
    except tasks.TaskError as error:
        raise HTTPException(status_code=422, detail=str(error)) from None


@router.post("/api/v1/officers/{officer_id}/tasks", status_code=201)
def create_task(officer_id: str, body: TaskCreate, store: Writer, day: Today) -> dict[str, Any]:
    """Register a task in the officer's weekly or monthly work plan."""
    return _call(_service(store, day).create, officer_id, title=body.title,
                 assigned_by=body.assigned_by, period=body.period, deadline=body.deadline,
                 weight=body.weight)


@router.get("/api/v1/officers/{officer_id}/tasks")
def list_tasks(officer_id: str, db: Db, day: Today, month: MonthParam = None) -> dict[str, Any]:
    """The officer's tasks whose deadline falls in the month, with the counts of the
    evaluation: registered, on time, late, overdue, excused, open."""
    month = month_or_422(month)
    return _call(tasks.officer_month, db, officer_id, month, day)


@router.get("/api/v1/tasks/{task_id}")
def get_task(task_id: int, db: Db, day: Today) -> dict[str, Any]:
    """One task with its flags and its whole progress history."""
    return _call(tasks.task_view, db, task_id, day)


@router.patch("/api/v1/tasks/{task_id}")
def update_task(task_id: int, body: TaskUpdate, store: Writer, day: Today) -> dict[str, Any]:
    """Progress (0–100 %), a note and the completion date; only the fields sent change."""
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    return _call(_service(store, day).update, task_id, changes)


@router.post("/api/v1/tasks/{task_id}/quality-error", status_code=201)
def flag_quality_error(task_id: int, body: Reason, store: Writer,
                       day: Today) -> dict[str, Any]:
    """Record one major quality error (25 % off the task's quality points under decree-335)."""
    return _call(_service(store, day).flag_error, task_id, body.reason)


@router.post("/api/v1/tasks/{task_id}/excuse-delay", status_code=201)
def excuse_delay(task_id: int, body: Reason, store: Writer, day: Today) -> dict[str, Any]:
    """Excuse a late or overdue task's delay for an objective cause; it then costs nothing."""
    return _call(_service(store, day).excuse_delay, task_id, body.reason)
