"""HTTP routes of the device fleet: the technicians' list and each device's screen picture.

    GET /api/v1/fleet?unit=&state=&q=&limit=&offset=     collector.fleet.status.fleet as JSON
    GET /api/v1/devices/{device_id}/screen.png?scale=    collector.fleet.screens, image/png

The picture is the device's resting screen for the assignment it last took in (see
collector.fleet.status "shown" and collector.fleet.screens): live for an online device, as of its last
message for an offline or retired one. Headers say which: X-Hailong-Device-State (one of
fleet.STATES) and X-Hailong-Screen-At (unix ms); Cache-Control: no-store, because the same
URL shows another officer after a shift change. A session-mode site (`session_mode` in the
site profile, provisioning.json beside the database) rests on the "waiting" screen.

Who: technicians, administrators and heads, within their account's scope (`allowed_units`);
a unit or device outside it gets 403.

Wiring: `app.include_router(api_fleet.router)` in `collector.app.create_app`. The paths do
not clash with api.py's /api/v1/devices (GET) and /api/v1/devices/{id}/session|command (POST).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import sqlite_utils
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response

from collector.fleet import status as fleet, screens
from collector.org import organisation
from collector.web.auth import CurrentViewer, require_role
from collector.web.deps import Db
from collector.fleet.provisioning import PROFILE_NAME, load_profile
from collector.db.store import now_ms

router = APIRouter(tags=["devices"])


FLEET_ROLES = ("technician", "administrator", "head")


def allowed_units(who: CurrentViewer) -> frozenset[str] | None:
    """Units the caller may see devices of; None: all."""
    require_role(who, *FLEET_ROLES)
    return who.scope.unit_filter()


AllowedUnits = Annotated[frozenset[str] | None, Depends(allowed_units)]
StateParam = Literal["offline", "never_seen", "online", "retired"]


def _refuse(vi: str, en: str) -> HTTPException:
    return HTTPException(status_code=403, detail=f"{vi} / {en}")


def _site_session_mode(request: Request) -> bool:
    # The profile `hailong flash` writes into every board's /config.json. An unreadable one
    # makes flashing fail loudly; here the card is the better guess than an error picture.
    try:
        profile = load_profile(request.app.state.settings.db_path.parent / PROFILE_NAME)
    except ValueError:
        return False
    return bool(profile.get("session_mode"))


@router.get("/api/v1/fleet")
def get_fleet(db: Db, allowed: AllowedUnits,
              unit: Annotated[str | None, Query(description="unit id: that unit and every "
                                                            "unit below it")] = None,
              state: Annotated[StateParam | None, Query(description="only devices in this "
                                                                    "state")] = None,
              q: Annotated[str | None, Query(max_length=100, description=(
                  "words to find in the device id, counter, unit, firmware or officer shown "
                  "(case and diacritics ignored)"))] = None,
              limit: Annotated[int, Query(ge=1, le=fleet.MAX_LIMIT)] = 50,
              offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
    """Every device with its counter, unit, state (online, offline, never seen, retired),
    last seen, firmware, queue backlog, filtered and dropped presses, signal, free memory,
    ratings today, last rating and the officer its screen shows; problems first, paginated,
    with counts per state."""
    units = allowed
    if unit is not None:
        subtree = organisation.unit_subtree(db, unit)
        if not subtree:
            raise HTTPException(status_code=404, detail=f"Không có đơn vị {unit!r} / "
                                                        f"No unit {unit!r}")
        if allowed is not None and unit not in allowed:
            raise _refuse("Đơn vị này ngoài phạm vi tài khoản của bạn",
                          "This unit is outside your account's scope")
        units = subtree if allowed is None else subtree & allowed
    return fleet.fleet(db, now_ms=now_ms(), unit_ids=units, limit=limit, offset=offset,
                       state=state, search=q)


def _device_or_error(db: sqlite_utils.Database, device_id: str,
                     allowed: frozenset[str] | None) -> dict[str, Any]:
    item = fleet.fleet_device(db, device_id, now_ms=now_ms())
    if item is None:
        raise HTTPException(status_code=404, detail=f"Không có thiết bị {device_id!r} / "
                                                    f"No device {device_id!r}")
    if allowed is not None and item["unit_id"] not in allowed:
        raise _refuse("Thiết bị này ngoài phạm vi tài khoản của bạn",
                      "This device is outside your account's scope")
    return item


@router.get("/api/v1/devices/{device_id}/screen.png", response_class=Response,
            responses={200: {"content": {"image/png": {}},
                             "description": "the screen, WIDTH x scale by HEIGHT x scale"}})
def get_screen_png(device_id: str, request: Request, db: Db, allowed: AllowedUnits,
                   scale: Annotated[int, Query(ge=1, le=screens.MAX_SCALE, description=(
                       "each screen pixel as a scale x scale block"))] = 1) -> Response:
    """What the device's screen shows, drawn by the firmware's own code: live when the
    device is online, else as of its last message (see the X-Hailong-* headers)."""
    item = _device_or_error(db, device_id, allowed)
    shown = item["shown"]
    row = fleet.assignment_at(db, device_id, shown["at"])
    png = screens.device_screen_png(row, scale=scale,
                                    session_mode=_site_session_mode(request))
    return Response(png, media_type="image/png", headers={
        "Cache-Control": "no-store", "X-Hailong-Device-State": item["state"],
        "X-Hailong-Screen-At": str(shown["at"])})
