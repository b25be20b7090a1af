"""HTTP route for a leader's team: the JSON twin of the leader's workspace (dashboard /team).

Thin: calls collector/evaluation/team.py for the account's own officer record; its errors
("vi / en") reach the app's one handler (collector/web/errors.py): MonthlyNotFound → 404,
MonthlyError → 422. For leader and head accounts; writes
(assigning a task, flagging an error, excusing a delay) are the task API's
(collector/api/tasks.py), which the page's forms call through the same services.

Wiring: collector/app.py lists `router` in `SIGNED_IN_ROUTERS`, behind the signed-in dependency.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from collector.evaluation import team
from collector.web import access
from collector.web.auth import ActingOfficer, CurrentViewer, require_role
from collector.web.deps import ConfiguredPolicy, Db, MonthParam, Today, period_or_422

router = APIRouter(tags=["tasks"])


@router.get("/api/v1/team")
def get_team(db: Db, day: Today, who: CurrentViewer, actor: ActingOfficer,
             policy: ConfiguredPolicy, month: MonthParam = None) -> dict[str, Any]:
    """The people the account's officer leads, active in the month (default: this month):
    each with task counts (registered, on time, late, overdue, excused, open), their tasks
    with status, the evaluation stage and late steps, and what the leader may do ("may":
    plan, judge, review). Heads also get everyone without a leader of record in the units
    they head. Under a quarterly policy `month` is a quarter (YYYY-Qn; default: this one)."""
    require_role(who, *access.LEADERS)
    return team.team_month(db, actor, period_or_422(month, policy.period, day), day,
                           policy.period)
