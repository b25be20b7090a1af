"""HTTP routes for counter alerts: list, one alert with its presses and notes, acknowledge, note.

Thin: each route calls one function of collector/ratings/alerts.py; its errors ("vi / en")
reach the app's one handler (collector/web/errors.py): AlertNotFound → 404, AlertConflict
(acknowledged already) → 409, AlertError → 422. The listing and the single alert are
collector/web/scoped.py's, shared with the alerts page (dashboard/pages/operations.py).
Times are unix milliseconds; the `from`/`to` filters are local (UTC+7) calendar dates, both
inclusive, and select alerts whose presses overlap them. Leaders, heads and administrators
see the alerts of the units in their scope (an alert's unit is its counter's when it was
raised: a counter moved later leaves its alerts), acknowledge them and add notes, as their
account. Reads use the shared read-only `Db`; each write opens its own `Store` for the request.

Wiring: collector/app.py lists `router` in `SIGNED_IN_ROUTERS`, behind the signed-in dependency.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from collector.ratings import alerts
from collector.web import access, scoped
from collector.web.auth import CurrentViewer, require_alert_in_scope, require_role
from collector.web.deps import Db, Writer

router = APIRouter(tags=["alerts"])
MAX_LIMIT = 200


class Acknowledgement(BaseModel):
    comment: str | None = Field(None, description="what was found or done (kept as a note)",
                                examples=["Đã trao đổi với cán bộ, hệ thống một cửa bị chậm"])


class Note(BaseModel):
    text: str = Field(description="the note, at most 1000 characters",
                      examples=["Công dân phản ánh thời gian chờ lâu"])


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
        kind: Annotated[Literal["negative_share", "device_offline"] | None,
                        Query(description="negative_share (a burst of negative ratings) or "
                                          "device_offline (the counter's device offline during "
                                          "a roster shift); default: both")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
    """Alerts, latest burst first: {"items", "total", "limit", "offset"}. Each item has the
    counter, unit and officer, first_at/last_at of the presses, ratings and negative counts,
    the rule that raised it, raised_at, `late` (raised more than the rule's late_after_minutes
    after its last press: presses held back by an offline device) and the acknowledgement.
    A `device_offline` alert (issue 12) also has `shift_id`, `offline_minutes` and `message`
    (vi, en): the counter had no device online that long within the officer's shift."""
    return scoped.alerts(db, who, unit=unit, state=state, from_=from_, to=to, limit=limit,
                         offset=offset, kind=kind)


@router.get("/api/v1/alerts/{alert_id}")
def get_alert(alert_id: int, db: Db, who: CurrentViewer) -> dict[str, Any]:
    """One alert with its notes and the counter's presses from its first to its last press
    (excluded presses listed too, `counted: false`, with their reason)."""
    return scoped.alert(db, who, alert_id)


@router.post("/api/v1/alerts/{alert_id}/acknowledge")
def acknowledge(alert_id: int, store: Writer, who: CurrentViewer,
                body: Acknowledgement | None = None) -> dict[str, Any]:
    """Acknowledge the alert, with an optional comment; 409 if it already is."""
    require_role(who, *access.ALERT_RESPONDERS)
    require_alert_in_scope(who, store.db, alert_id)
    comment = body.comment if body else None
    return alerts.AlertService(store.db).acknowledge(alert_id, who.user.login, comment)


@router.post("/api/v1/alerts/{alert_id}/notes", status_code=201)
def add_note(alert_id: int, body: Note, store: Writer, who: CurrentViewer) -> dict[str, Any]:
    """Add a note to an alert, open or acknowledged."""
    require_role(who, *access.ALERT_RESPONDERS)
    require_alert_in_scope(who, store.db, alert_id)
    return alerts.AlertService(store.db).add_note(alert_id, who.user.login, body.text)
