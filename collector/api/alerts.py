"""HTTP routes for counter alerts: list, one alert with its presses and notes, acknowledge, note.

Thin: each route calls one function of collector/ratings/alerts.py and maps its errors, with the
Vietnamese and the English text ("vi / en"): AlertNotFound → 404, AlertConflict (acknowledged
already) → 409, AlertError → 422. Times are unix milliseconds; the `from`/`to` filters are
local (UTC+7) calendar dates, both inclusive, and select alerts whose presses overlap them.
Leaders, heads, technicians and administrators see the alerts of the units in their scope
(an alert's unit is its counter's when it was raised: a counter moved later leaves its alerts);
leaders, heads and administrators acknowledge them and add notes, as their account.
Reads use the shared read-only `Db`; each write opens its own `Store` for the request.

Wiring: `app.include_router(api_alerts.router)` in `collector.app.create_app`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from collector.ratings import alerts
from collector.web.auth import CurrentViewer, Viewer, refuse, require_role, require_unit_in_scope
from collector.web.deps import Db, Writer
from collector.core.timeline import LOCAL_TZ

router = APIRouter(tags=["alerts"])
MAX_LIMIT = 200


VIEWERS = ("leader", "head", "administrator")  # = access.ALERT_READERS: no technician
RESPONDERS = ("leader", "head", "administrator")


def _alert_in_scope(db, who: Viewer, alert_id: int) -> None:
    """The alert exists (404) and belongs to a unit of the account's scope (403): the unit its
    counter belonged to when it was raised, which the refusal does not name."""
    row = db.execute("SELECT unit_id FROM alerts WHERE id = ?", [alert_id]).fetchone()
    if row is None:
        raise HTTPException(status_code=404, detail=f"Không có cảnh báo {alert_id} / "
                                                    f"No alert {alert_id}")
    if not who.scope.sees_unit(row[0]):
        raise refuse("Cảnh báo này thuộc đơn vị ngoài phạm vi tài khoản của bạn",
                     "This alert belongs to a unit outside your account's scope")


class Acknowledgement(BaseModel):
    comment: str | None = Field(None, description="what was found or done (kept as a note)",
                                examples=["Đã trao đổi với cán bộ, hệ thống một cửa bị chậm"])


class Note(BaseModel):
    text: str = Field(description="the note, at most 1000 characters",
                      examples=["Công dân phản ánh thời gian chờ lâu"])


def _call(action, *args, **kwargs) -> Any:
    try:
        return action(*args, **kwargs)
    except alerts.AlertNotFound as error:
        raise HTTPException(status_code=404, detail=str(error)) from None
    except alerts.AlertConflict as error:
        raise HTTPException(status_code=409, detail=str(error)) from None
    except alerts.AlertError as error:
        raise HTTPException(status_code=422, detail=str(error)) from None


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


@router.get("/api/v1/alerts")
def list_alerts(
        db: Db, who: CurrentViewer,
        unit: Annotated[str | None, Query(description="unit id: its alerts and those of the "
                                                      "units below it")] = None,
        state: Annotated[Literal["open", "acknowledged", "all"],
                         Query(description="open (default), acknowledged or all")] = "open",
        from_: Annotated[str | None, Query(alias="from", description="first local date, "
                                           "YYYY-MM-DD", examples=["2026-03-01"])] = None,
        to: Annotated[str | None, Query(description="last local date (inclusive)",
                                        examples=["2026-03-31"])] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
    """Alerts, latest burst first: {"items", "total", "limit", "offset"}. Each item has the
    counter, unit and officer, first_at/last_at of the presses, ratings and negative counts,
    the rule that raised it, raised_at, `late` (raised more than the rule's late_after_minutes
    after its last press: presses held back by an offline device) and the acknowledgement."""
    require_role(who, *VIEWERS)
    if unit is not None:
        require_unit_in_scope(who, unit)
    return _call(alerts.list_alerts, db, unit_id=unit, state=state,
                 since=day_start(from_, "from"), until=day_start(to, "to", after=True),
                 limit=limit, offset=offset, within=who.scope.unit_filter())


@router.get("/api/v1/alerts/{alert_id}")
def get_alert(alert_id: int, db: Db, who: CurrentViewer) -> dict[str, Any]:
    """One alert with its notes and the counter's presses from its first to its last press
    (excluded presses listed too, `counted: false`, with their reason)."""
    require_role(who, *VIEWERS)
    _alert_in_scope(db, who, alert_id)
    return _call(alerts.alert_view, db, alert_id)


@router.post("/api/v1/alerts/{alert_id}/acknowledge")
def acknowledge(alert_id: int, store: Writer, who: CurrentViewer,
                body: Acknowledgement | None = None) -> dict[str, Any]:
    """Acknowledge the alert, with an optional comment; 409 if it already is."""
    require_role(who, *RESPONDERS)
    _alert_in_scope(store.db, who, alert_id)
    comment = body.comment if body else None
    return _call(alerts.AlertService(store.db).acknowledge, alert_id, who.user.login, comment)


@router.post("/api/v1/alerts/{alert_id}/notes", status_code=201)
def add_note(alert_id: int, body: Note, store: Writer, who: CurrentViewer) -> dict[str, Any]:
    """Add a note to an alert, open or acknowledged."""
    require_role(who, *RESPONDERS)
    _alert_in_scope(store.db, who, alert_id)
    return _call(alerts.AlertService(store.db).add_note, alert_id, who.user.login, body.text)
