"""What a JSON route and its page twin share, so both apply the same roles, scope and rules.

    fleet_units(who)                               → the units whose devices the account sees
    fleet(db, allowed, unit=, state=, q=, limit=, offset=, now=)      GET /api/v1/fleet, /fleet
    alerts(db, who, unit=, state=, from_=, to=, limit=, offset=)      GET /api/v1/alerts, /alerts
    alert(db, who, alert_id)                       GET /api/v1/alerts/{id}, /alerts/{id}
    task_officer(db, task_id), allow_task(db, officer_id, actor, rule), task_service(...)
                                       the task API's and the workspaces' forms' checks

The routes (collector/api/fleet.py, alerts.py, tasks.py) and the pages
(dashboard/pages/operations.py, workspace.py) call these and nothing else of each other: who
may see or do what — roles, unit scope, the permission rules — and every filter rule are
written once. Refusals are the API's (HTTPException, or the domain's errors), which the app's
one handler answers as JSON or as a page (collector/web/errors.py); a form that re-renders
its page asks errors.status_of for the status.

Who: the roles of the one role × route table (collector/web/access.py): the fleet for
technicians, administrators and heads (`access.FLEET`); alerts for leaders, heads and
administrators (`access.ALERT_READERS`, not technicians: an alert carries an officer's
presses), the alert forms for the same (`access.ALERT_RESPONDERS`); always within the
account's units.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Callable

import sqlite_utils
from fastapi import HTTPException

from collector.accounts import ownership
from collector.accounts.permissions import Permission, officer_facts
from collector.core.timeline import LOCAL_TZ
from collector.db.store import Store
from collector.evaluation import tasks
from collector.fleet import status as fleet_status
from collector.org import organisation
from collector.ratings import alert_records
from collector.web import access
from collector.web.auth import (
    Viewer,
    refuse,
    require_alert_in_scope,
    require_role,
    require_unit_in_scope,
)

# --- the fleet -----------------------------------------------------------------------------

def fleet_units(who: Viewer) -> frozenset[str] | None:
    """Units the caller may see devices of; None: all."""
    require_role(who, *access.FLEET)
    return who.scope.unit_filter()


def fleet(db: sqlite_utils.Database, allowed: frozenset[str] | None, *, unit: str | None,
          state: str | None, q: str | None, limit: int, offset: int, now: int
          ) -> dict[str, Any]:
    """A page of the fleet within `allowed` (fleet_units), of `unit` and the units below it
    when given: 404 for an unknown unit, 403 for one outside the account's units."""
    units = allowed
    if unit is not None:
        subtree = organisation.unit_subtree(db, unit)
        if not subtree:
            raise HTTPException(status_code=404, detail=f"Không có đơn vị {unit!r} / "
                                                        f"No unit {unit!r}")
        if allowed is not None and unit not in allowed:
            raise refuse("Đơn vị này ngoài phạm vi tài khoản của bạn",
                         "This unit is outside your account's scope")
        units = subtree if allowed is None else subtree & allowed
    return fleet_status.fleet(db, now_ms=now, unit_ids=units, limit=limit, offset=offset,
                              state=state, search=q)


# --- alerts --------------------------------------------------------------------------------

def day_start(value: str | None, field: str, *, after: bool = False) -> int | None:
    """Unix ms of the local midnight starting the ISO date (`after`: the day after it)."""
    if value is None:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise HTTPException(status_code=422, detail=(
            f"{field}: ngày không hợp lệ {value!r}, cần dạng YYYY-MM-DD / "
            f"{field}: invalid date {value!r}, expected YYYY-MM-DD")) from None
    if after:
        day += timedelta(days=1)
    return int(datetime(day.year, day.month, day.day, tzinfo=LOCAL_TZ).timestamp() * 1000)


def alerts(db: sqlite_utils.Database, who: Viewer, *, unit: str | None, state: str,
           from_: str | None, to: str | None, limit: int, offset: int,
           kind: str | None = None) -> dict[str, Any]:
    """A page of the alerts in the account's units (of `unit` and below when given), whose
    presses overlap the local dates `from_`..`to` (both inclusive), of `kind` (None: all)."""
    require_role(who, *access.ALERT_READERS)
    if unit is not None:
        require_unit_in_scope(who, unit)
    return alert_records.list_alerts(db, unit_id=unit, state=state,
                                     since=day_start(from_, "from"),
                                     until=day_start(to, "to", after=True), limit=limit,
                                     offset=offset, within=who.scope.unit_filter(),
                                     kind=kind)


def alert(db: sqlite_utils.Database, who: Viewer, alert_id: int) -> dict[str, Any]:
    """One alert with its notes and presses, when it is in the account's units."""
    require_role(who, *access.ALERT_READERS)
    require_alert_in_scope(who, db, alert_id)
    return alert_records.alert_view(db, alert_id)


# --- tasks ---------------------------------------------------------------------------------

def task_officer(db: sqlite_utils.Database, task_id: int) -> str:
    """The officer whose task it is; TaskNotFound (404) when there is no such task."""
    owner = ownership.task(db, task_id)
    if owner is None or owner.officer_id is None:
        raise tasks.TaskNotFound(f"Không tìm thấy nhiệm vụ {task_id}", f"No task {task_id}")
    return owner.officer_id


def allow_task(db: sqlite_utils.Database, officer_id: str, actor: str,
               rule: Callable[..., Permission]) -> None:
    """`actor` may plan or judge (`rule`) the tasks of `officer_id`: TaskNotFound (404) for an
    unknown officer, TaskForbidden (403) with the rule's reason otherwise."""
    facts = officer_facts(db, officer_id)
    if facts is None:
        raise tasks.TaskNotFound(f"Không tìm thấy cán bộ {officer_id!r}",
                                 f"No officer {officer_id!r}")
    permission = rule(facts, actor)
    if not permission:
        raise tasks.TaskForbidden(permission.vi, permission.en)


def task_service(store: Store, actor: str, day: date, now: int,
                 period: str = "month") -> tasks.TaskService:
    """The task service acting as the account's officer `actor` (audit actor "officer:ID"):
    the record names them as who assigns what they register. `period`: the policy's, in
    which each task's status is judged (its month or its quarter)."""
    return tasks.TaskService(store, actor=f"officer:{actor}", by=actor, clock=lambda: now,
                             today=lambda: day, period=period)
