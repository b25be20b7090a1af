"""HTTP routes of the device fleet: the technicians' list, each device's screen picture, the
device list and what is sent to one device.

    GET  /api/v1/fleet?unit=&state=&q=&limit=&offset=    collector.fleet.status.fleet as JSON
    GET  /api/v1/devices/{device_id}/screen.png?scale=   collector.fleet.screens, image/png
    GET  /api/v1/devices                                 the registry with each last status
    POST /api/v1/devices/{device_id}/session             open or close a dossier's rating
    POST /api/v1/devices/{device_id}/command             reload_config or show_message

The picture is the device's resting screen for the assignment it last took in (see
collector.fleet.status "shown" and collector.fleet.screens): live for an online device, as of
its last message for an offline or retired one. Headers say which: X-Hailong-Device-State
(one of collector.fleet.status.STATES) and X-Hailong-Screen-At (unix ms); Cache-Control:
no-store, because the same URL shows another officer after a shift change. A session-mode
site (`session_mode` in the site profile, provisioning.json beside the database) rests on the
"waiting" screen.

Who: the fleet and the pictures for technicians, administrators and heads, within their
account's scope (collector/web/scoped.py `fleet_units`, shared with the fleet page); a unit or
device outside it gets 403. The device list also for leaders; sessions and commands for
technicians and administrators, published through the app's MQTT ingest (503 without a
broker, or when it is not connected).

Wiring: collector/app.py lists `router` in `SIGNED_IN_ROUTERS`, behind the signed-in dependency.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import sqlite_utils
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field

from collector.accounts import ownership
from collector.fleet import screens, status as fleet_status
from collector.ingest.subscriber import Ingest
from collector.org.devices import list_devices
from collector.protocol.outbound import encode_command, encode_session
from collector.web import access, scoped
from collector.web.auth import CurrentViewer, Viewer, refuse, require_role
from collector.web.deps import Db, Now

router = APIRouter(tags=["devices"])


def allowed_units(who: CurrentViewer) -> frozenset[str] | None:
    """Units the caller may see devices of (scoped.fleet_units, as the fleet page); None: all."""
    return scoped.fleet_units(who)


AllowedUnits = Annotated[frozenset[str] | None, Depends(allowed_units)]
StateParam = Literal["offline", "never_seen", "online", "retired"]


class SessionRequest(BaseModel):
    dossier: str | None = Field(None, description="dossier code to rate; null closes the "
                                                  "session", examples=["000.00.12.H26-261125-0001"])
    seconds: int | None = Field(None, description="how long the rating stays open (10–86400)")


class CommandRequest(BaseModel):
    cmd: str = Field(description="reload_config or show_message")
    text: str | None = None
    seconds: int | None = None


@router.get("/api/v1/devices")
def devices(db: Db, who: CurrentViewer) -> list[dict[str, Any]]:
    """Devices with their counter and last status, within the account's scope."""
    require_role(who, *access.DEVICE_LIST)
    return [d for d in list_devices(db) if who.scope.sees_unit(_unit_now(db, d["id"]))]


def _unit_now(db: sqlite_utils.Database, device_id: str) -> str | None:
    owner = ownership.device(db, device_id)
    return owner.unit_id if owner else None


def _send(request: Request, db: sqlite_utils.Database, who: Viewer, device_id: str, kind: str,
          payload: bytes) -> dict[str, Any]:
    require_role(who, *access.STAFF)
    if not any(d["id"] == device_id and d["retired_at"] is None for d in list_devices(db)):
        raise HTTPException(status_code=404, detail=f"no active device {device_id!r}")
    if not who.scope.sees_unit(_unit_now(db, device_id)):
        raise HTTPException(status_code=403, detail=(
            f"Thiết bị {device_id} ngoài phạm vi của bạn / Device {device_id} is outside "
            "your scope"))
    ingest: Ingest | None = request.app.state.ingest
    if ingest is None:
        raise HTTPException(status_code=503, detail="this collector runs without a broker")
    try:
        ingest.publish_to_device(device_id, kind, payload)
    except ConnectionError as error:  # the broker, not the request: 503 (issue 10's table)
        raise HTTPException(status_code=503, detail=str(error)) from None
    return {"device": device_id, "kind": kind, "published": True}


@router.post("/api/v1/devices/{device_id}/session", status_code=202)
def open_session(device_id: str, body: SessionRequest, request: Request,
                 db: Db, who: CurrentViewer) -> dict[str, Any]:
    """Open (or, with a null dossier, close) a rating for a dossier on a session-mode device."""
    try:
        payload = encode_session(dossier=body.dossier, seconds=body.seconds)
    except ValueError as error:  # the wire protocol's own check of the fields: 422
        raise HTTPException(status_code=422, detail=str(error)) from None
    return _send(request, db, who, device_id, "session", payload)


@router.post("/api/v1/devices/{device_id}/command", status_code=202)
def send_command(device_id: str, body: CommandRequest, request: Request,
                 db: Db, who: CurrentViewer) -> dict[str, Any]:
    """Ask a device to reload its configuration or show a message."""
    try:
        payload = encode_command(body.cmd, text=body.text, seconds=body.seconds)
    except ValueError as error:  # the wire protocol's own check of the fields: 422
        raise HTTPException(status_code=422, detail=str(error)) from None
    return _send(request, db, who, device_id, "command", payload)


@router.get("/api/v1/fleet")
def get_fleet(db: Db, allowed: AllowedUnits, now: Now,
              unit: Annotated[str | None, Query(description="unit id: that unit and every "
                                                            "unit below it")] = None,
              state: Annotated[StateParam | None, Query(description="only devices in this "
                                                                    "state")] = None,
              q: Annotated[str | None, Query(max_length=100, description=(
                  "words to find in the device id, counter, unit, firmware or officer shown "
                  "(case and diacritics ignored)"))] = None,
              limit: Annotated[int, Query(ge=1, le=fleet_status.MAX_LIMIT)] = 50,
              offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
    """Every device with its counter, unit, state (online, offline, never seen, retired),
    last seen, firmware, queue backlog, filtered and dropped presses, signal, free memory,
    ratings today, last rating and the officer its screen shows; problems first, paginated,
    with counts per state."""
    return scoped.fleet(db, allowed, unit=unit, state=state, q=q, limit=limit, offset=offset,
                        now=now)


def _device_or_error(db: sqlite_utils.Database, device_id: str,
                     allowed: frozenset[str] | None, now: int) -> dict[str, Any]:
    item = fleet_status.fleet_device(db, device_id, now_ms=now)
    if item is None:
        raise HTTPException(status_code=404, detail=f"Không có thiết bị {device_id!r} / "
                                                    f"No device {device_id!r}")
    if allowed is not None and item["unit_id"] not in allowed:
        raise refuse("Thiết bị này ngoài phạm vi tài khoản của bạn",
                     "This device is outside your account's scope")
    return item


@router.get("/api/v1/devices/{device_id}/screen.png", response_class=Response,
            responses={200: {"content": {"image/png": {}},
                             "description": "the screen, WIDTH x scale by HEIGHT x scale"}})
def get_screen_png(device_id: str, request: Request, db: Db, allowed: AllowedUnits, now: Now,
                   scale: Annotated[int, Query(ge=1, le=screens.MAX_SCALE, description=(
                       "each screen pixel as a scale x scale block"))] = 1) -> Response:
    """What the device's screen shows, drawn by the firmware's own code: live when the
    device is online, else as of its last message (see the X-Hailong-* headers)."""
    item = _device_or_error(db, device_id, allowed, now)
    shown = item["shown"]
    row = fleet_status.assignment_at(db, device_id, shown["at"])
    png = screens.device_screen_png(
        row, scale=scale,
        session_mode=fleet_status.site_session_mode(request.app.state.settings.db_path))
    return Response(png, media_type="image/png", headers={
        "Cache-Control": "no-store", "X-Hailong-Device-State": item["state"],
        "X-Hailong-Screen-At": str(shown["at"])})
