"""Moving a device to another counter, from now or from a past day (`hailong devices move`).

A rating belongs to whoever the roster has on duty at the counter its device stood at when it
was pressed (collector/roster/attribution.py). Moving a device from a past day therefore
changes whose its stored ratings since that day are: in the one transaction that moves it,
they are decided again by the roster alone (`reattribute`, this device's ratings only: the
counters' rosters did not change, so other boards' ratings stay as they are), the officer of
the alerts at both counters since that day is named again, and one audit entry (action
`device.move`, subject "device:ID") records the counter and placement before and after and
how many ratings moved from whom to whom, e.g. {"HK-0003→HK-0004": 12} ("—" = nobody).

The officer the device showed does not keep a rating here, as after a roster correction: the
device showed what the roster of the counter it was wrongly thought to stand at told it.

It lives above the registry (collector/org/registry.py), which may not use the roster's rule.
"""

from __future__ import annotations

from typing import Any

from collector.db import audit
from collector.db.store import UnknownEntity, write_transaction
from collector.org.directory import get_counter
from collector.org.registry import (
    Registry,
    RegistryError,
    format_time,
    move_device_placement,
    placement_start,
)
from collector.ratings import alerts
from collector.roster.attribution import reattribute


def move_device(registry: Registry, device_id: str, counter_id: str, *,
                placed_from: str | None = None) -> dict[str, Any]:
    """Place an active device at another existing counter from now, or from the local
    midnight of the day `placed_from` ("YYYY-MM-DD", not in the future, after the start of
    its current placement), ending its current placement there. Returns the device, the new
    placement's start, the previous placement and the ratings re-attributed."""
    db = registry.db
    device = registry.show(device_id)
    if device["retired_at"] is not None:
        raise RegistryError(
            f"thiết bị {device_id} đã ngừng sử dụng từ {format_time(device['retired_at'])}; "
            "thiết bị đã ngừng không chuyển quầy",
            f"device {device_id} was retired on {format_time(device['retired_at'])}; "
            "a retired device is not moved")
    if get_counter(db, counter_id) is None:
        raise RegistryError(f"không có quầy {counter_id!r}",
                            f"no counter {counter_id!r}")
    if counter_id == device["counter_id"]:
        raise RegistryError(
            f"thiết bị {device_id} đang ở quầy {counter_id!r} từ "
            f"{format_time(device['placed_from'])}",
            f"device {device_id} already stands at counter {counter_id!r} since "
            f"{format_time(device['placed_from'])}")
    at = registry.clock()
    start = at if placed_from is None else placement_start(placed_from, at)
    try:
        with write_transaction(db):
            old_counter, old_start = move_device_placement(db, device_id, counter_id, start)
            moves = reattribute(db, [(counter_id, start, None)], device_id=device_id)
            renamed = alerts.refresh_officers(db, [(old_counter, start, None),
                                                   (counter_id, start, None)])
            previous = {"counter": old_counter, "placed_from": old_start}
            audit.append(db, actor=registry.actor, action="device.move",
                         subject=f"device:{device_id}", before=previous,
                         after={"counter": counter_id, "placed_from": start,
                                "reattributed": moves,
                                **({"alerts_reattributed": renamed} if renamed else {})},
                         at=at)
    except UnknownEntity as error:  # lost a race with another writer (retired, counter gone)
        raise RegistryError(str(error)) from None
    return {"device": registry.show(device_id), "counter": counter_id, "placed_from": start,
            "previous": previous, "reattributed": moves}
