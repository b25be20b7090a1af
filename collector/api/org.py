"""HTTP routes for the organisation (units, officers, counters) and the duty roster.

Thin: each route calls one `collector.org.organisation` or `collector.roster.shifts` function;
their errors ("vi / en") reach the app's one handler (collector/web/errors.py): 404 (not
found), 403 (outside the account's scope), 409 (id taken, overlapping or already replaced
shifts) and 422 (anything else wrong). Reads use the shared read-only `Db`; each write opens
its own `Store` for the request (SQLite's busy timeout queues it behind the ingest thread's
batches). The audit log names the account that made each change; what an account may change
and see is checked here against its role and scope (collector/web/auth.py, with the units
things belong to from collector/accounts/ownership.py); a roster write is checked by the
roster service itself against every unit it touches (the counter's and the officer's, before
and after, and those whose ratings move), so its refusals can say what is outside the scope
without naming it.

Times in the roster are ISO 8601 date-times, Vietnam time (UTC+7) when they carry no offset,
or unix ms; answers give both (`starts_at` in ms, `starts` as local ISO text).

Wiring: collector/app.py lists `router` in `SIGNED_IN_ROUTERS`, behind the signed-in dependency.
"""
from __future__ import annotations

from datetime import date, timedelta
from collections.abc import Collection
from typing import Annotated, Any

import sqlite_utils
from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from collector.accounts import ownership
from collector.org import directory, organisation, validation
from collector.roster import duty, shifts
from collector.web import access
from collector.web.auth import (
    CurrentViewer,
    Viewer,
    refuse,
    require_officer_in_scope,
    require_role,
    require_unit_in_scope,
)
from collector.web.deps import Db, Writer
from collector.db.store import Store

router = APIRouter()


def _actor(who: CurrentViewer) -> str:
    return who.actor


Actor = Annotated[str, Depends(_actor)]
# Who may change what (collector/web/access.py): the organisation's structure is the
# administrator's; officers' records also the heads' within their units; counters also the
# technicians'; the roster the leaders' and heads' who staff those counters. Always within the
# account's scope.


def _counter_unit(db: sqlite_utils.Database, counter_id: str | None) -> str | None:
    owner = ownership.counter(db, counter_id)
    return owner.unit_id if owner else None


def _may_edit(who: Viewer, roles: Collection[str], *unit_ids: str | None) -> None:
    require_role(who, *roles)
    for unit_id in unit_ids:
        if unit_id is not None:
            require_unit_in_scope(who, unit_id)


def _named_officer_unit(db: sqlite_utils.Database, officer_id: str | None) -> str | None:
    """The unit of an officer a write names as leader or head: that person gains the led
    officers or the unit in their scope, so their unit must be in the writer's scope too. An
    unknown id gives None here and the service's own 404."""
    owner = ownership.officer(db, officer_id)
    return owner.unit_id if owner else None


def _pruned(nodes: list[dict[str, Any]], scope) -> list[dict[str, Any]]:
    """The parts of the tree in scope: a unit outside it gives way to its children."""
    kept: list[dict[str, Any]] = []
    for node in nodes:
        children = _pruned(node.get("children", []), scope)
        if scope.sees_unit(node["id"]):
            kept.append({**node, "children": children})
        else:
            kept.extend(children)
    return kept


def _org(store: Store, actor: str) -> organisation.OrganisationService:
    return organisation.OrganisationService(store, actor=actor)


def _roster(store: Store, who: Viewer) -> shifts.RosterService:
    require_role(who, *access.ROSTER_EDITORS)
    return shifts.RosterService(store, actor=who.actor, scope=who.scope)


def _sent(body: BaseModel) -> dict[str, Any]:
    """Only the fields the caller sent: a PATCH changes those and keeps the rest."""
    return {name: getattr(body, name) for name in body.model_fields_set}


# --- units ---------------------------------------------------------------------------------

class UnitCreate(BaseModel):
    id: str = Field(description="unit code: letters, digits, '.', '_', '-' (≤ 40)",
                    examples=["hk-1c"])
    name: str = Field(description="full name (≤ 80, shown on the device)",
                      examples=["Bộ phận Một cửa phường Hoàn Kiếm"])
    parent_id: str | None = Field(None, description="the unit above; null for the root")
    kind: str | None = Field(None, description="city, department, ward, commune or office")
    head_id: str | None = Field(None, description="officer who decides the unit's grades")
    outstanding: bool = Field(False, description="recognised as outstanding (hanoi-3814: "
                                                 "grade A quota 40 % instead of 30 %)")


class UnitUpdate(BaseModel):
    name: str | None = None
    parent_id: str | None = None
    kind: str | None = None
    head_id: str | None = None
    outstanding: bool | None = None


def _unit_view(db: sqlite_utils.Database, unit_id: str) -> dict[str, Any]:
    unit = directory.org_record(db, "units", unit_id)
    if unit is None:
        raise validation.OrgNotFound(f"Không tìm thấy đơn vị {unit_id!r}",
                                       f"No unit {unit_id!r}")
    head = directory.get_officer(db, unit["head_id"]) if unit["head_id"] else None
    return {**unit, "head": head,
            "parents": organisation.unit_chain(db, unit_id)[1:],
            "children": [{"id": u["id"], "name": u["name"], "kind": u["kind"]}
                         for u in directory.list_units(db) if u["parent_id"] == unit_id],
            "officers": directory.unit_officers(db, unit_id),
            "counters": [c for c in directory.list_counters(db) if c["unit_id"] == unit_id]}


@router.get("/api/v1/units", tags=["organisation"])
def unit_tree(db: Db, who: CurrentViewer) -> list[dict[str, Any]]:
    """The units as a tree (city → department or ward → office): the roots, each with its
    head, officer and counter counts and nested `children` — the part the account sees."""
    return _pruned(directory.unit_tree(db), who.scope)


@router.post("/api/v1/units", tags=["organisation"], status_code=201)
def create_unit(body: UnitCreate, store: Writer, actor: Actor,
                who: CurrentViewer) -> dict[str, Any]:
    """Create a unit (administrator); the parent and the head must exist, the tree may not
    loop."""
    _may_edit(who, access.ADMIN, body.parent_id, _named_officer_unit(store.db, body.head_id))
    return _org(store, actor).create_unit(body.model_dump())


@router.get("/api/v1/units/{unit_id}", tags=["organisation"])
def get_unit(unit_id: str, db: Db, who: CurrentViewer) -> dict[str, Any]:
    """One unit with its head, the units above it (nearest first), its direct children,
    its officers and its counters."""
    require_unit_in_scope(who, unit_id)
    return _unit_view(db, unit_id)


@router.patch("/api/v1/units/{unit_id}", tags=["organisation"])
def update_unit(unit_id: str, body: UnitUpdate, store: Writer, actor: Actor,
                who: CurrentViewer) -> dict[str, Any]:
    """Change the fields sent (null clears parent, kind or head); the rest stays."""
    _may_edit(who, access.ADMIN, unit_id, body.parent_id,
              _named_officer_unit(store.db, body.head_id))
    return _org(store, actor).update_unit(unit_id, _sent(body))


# --- officers ------------------------------------------------------------------------------

POST_GROUP_DOC = ("group of similar posts (nhóm vị trí việc làm tương đồng; ≤ 100 characters, "
                  "one line): the quota on the top grade is counted within it; null or empty: "
                  "the default group, the head's whole unit. Administrators only (403 for "
                  "anyone else who would change it)")


class OfficerCreate(BaseModel):
    id: str = Field(description="officer code (≤ 32)", examples=["HK-0005"])
    name: str = Field(description="full name (≤ 60)", examples=["Nguyễn Văn An"])
    title: str = Field(description="post (≤ 60)", examples=["Chuyên viên"])
    unit_id: str = Field(description="the unit they belong to", examples=["hk-1c"])
    leader_id: str | None = Field(None, description="officer who directly leads and assigns "
                                                    "their work; null: the unit's head")
    photo: str | None = Field(None, description="http(s) URL or relative path of a photo")
    active_from: str | None = Field(None, description="first active day, ISO date",
                                    examples=["2026-01-01"])
    active_to: str | None = Field(None, description="last active day, ISO date")
    post_group: str | None = Field(None, description=POST_GROUP_DOC, examples=["Một cửa"])


class OfficerUpdate(BaseModel):
    name: str | None = None
    title: str | None = None
    unit_id: str | None = None
    leader_id: str | None = None
    photo: str | None = None
    active_from: str | None = None
    active_to: str | None = None
    post_group: str | None = Field(None, description=POST_GROUP_DOC)


def _may_group(who: Viewer, sent: dict[str, Any], current: str | None) -> None:
    """A group of similar posts is the administrator's to set, through any route (PUT
    …/post-group, or `post_group` in POST and PATCH): the quota on the top grade is counted
    within it, so the head it binds must not draw the groups. Sending the group the officer
    is in already (the default group, for a new officer) changes none and passes; a bad value
    is refused as the service refuses it (422)."""
    if "post_group" not in sent or who.role in access.ADMIN:
        return
    if validation.check_post_group(sent["post_group"]) != current:
        raise refuse("Chỉ quản trị viên xếp cán bộ vào nhóm vị trí việc làm tương đồng "
                     "(post_group)", "Only an administrator puts an officer in a group of "
                     "similar posts (post_group)")


def _person(db: sqlite_utils.Database, officer_id: str | None) -> dict[str, Any] | None:
    if officer_id is None:
        return None
    row = directory.org_record(db, "officers", officer_id)
    return None if row is None else {k: row[k] for k in ("id", "name", "title")}


def _officer_view(db: sqlite_utils.Database, officer_id: str) -> dict[str, Any]:
    officer = directory.org_record(db, "officers", officer_id)
    if officer is None:
        raise validation.OrgNotFound(f"Không tìm thấy cán bộ {officer_id!r}",
                                       f"No officer {officer_id!r}")
    unit = directory.org_record(db, "units", officer["unit_id"])
    return {**officer, "unit": unit and {k: unit[k] for k in ("id", "name", "kind")},
            "leader": _person(db, officer["leader_id"]),
            "direct_leader": _person(db, organisation.direct_leader(db, officer_id)),
            "responsible_head": _person(db, organisation.responsible_head(db, officer_id)),
            "leads": [_person(db, led) for led in organisation.led_by(db, officer_id)]}


@router.get("/api/v1/officers", tags=["officers"])
def officers(db: Db, who: CurrentViewer) -> list[dict[str, Any]]:
    """The officers the account may see, with their unit."""
    return [o for o in directory.list_officers(db)
            if who.scope.sees_officer(o["id"], o["unit_id"])]


@router.post("/api/v1/officers", tags=["organisation"], status_code=201)
def create_officer(body: OfficerCreate, store: Writer, actor: Actor,
                   who: CurrentViewer) -> dict[str, Any]:
    """Create an officer; the unit and the leader must exist, leadership may not loop; an
    administrator may name their group of similar posts (`post_group`)."""
    _may_edit(who, access.OFFICER_EDITORS, body.unit_id,
              _named_officer_unit(store.db, body.leader_id))
    _may_group(who, _sent(body), None)
    return _org(store, actor).create_officer(body.model_dump())


@router.get("/api/v1/officers/{officer_id}", tags=["organisation"])
def get_officer(officer_id: str, db: Db, who: CurrentViewer) -> dict[str, Any]:
    """One officer: unit, photo, active dates, the leader of record, the direct leader who
    reviews them (the leader, else the responsible head), the head who decides their grade,
    and the officers they lead."""
    require_officer_in_scope(who, db, officer_id)
    return _officer_view(db, officer_id)


@router.patch("/api/v1/officers/{officer_id}", tags=["organisation"])
def update_officer(officer_id: str, body: OfficerUpdate, store: Writer,
                   actor: Actor, who: CurrentViewer) -> dict[str, Any]:
    """Change the fields sent (null clears leader, photo, a date or the group of similar
    posts); the rest stays. Only an administrator changes `post_group`."""
    current = directory.org_record(store.db, "officers", officer_id)
    _may_edit(who, access.OFFICER_EDITORS, current and current["unit_id"], body.unit_id,
              _named_officer_unit(store.db, body.leader_id))
    if current is not None:  # an unknown officer is the service's 404
        _may_group(who, _sent(body), current["post_group"])
    return _org(store, actor).update_officer(officer_id, _sent(body))


class PostGroup(BaseModel):
    post_group: str | None = Field(description="group of similar posts (nhóm vị trí việc làm "
                                               "tương đồng; ≤ 100 characters, one line): the "
                                               "quota on the top grade is counted within it; "
                                               "null or empty: the default group, the head's "
                                               "whole unit", examples=["Một cửa"])


@router.put("/api/v1/officers/{officer_id}/post-group", tags=["organisation"])
def set_post_group(officer_id: str, body: PostGroup, store: Writer, actor: Actor,
                   who: CurrentViewer) -> dict[str, Any]:
    """Put an officer in a group of similar posts (administrator), audited: the quota of
    months not yet reviewed counts them there; reviewed months keep the group they were
    reviewed in."""
    current = directory.org_record(store.db, "officers", officer_id)
    _may_edit(who, access.ADMIN, current and current["unit_id"])
    return _org(store, actor).set_post_group(officer_id, body.post_group)


# --- counters ------------------------------------------------------------------------------

class CounterCreate(BaseModel):
    id: str = Field(description="counter code (≤ 40)", examples=["hk-q5"])
    label: str = Field(description="label shown on the device (≤ 40)", examples=["Quầy 5"])
    unit_id: str = Field(description="the unit whose counter it is", examples=["hk-1c"])


class CounterUpdate(BaseModel):
    label: str | None = None
    unit_id: str | None = None


@router.get("/api/v1/counters", tags=["organisation"])
def counters(db: Db, who: CurrentViewer) -> list[dict[str, Any]]:
    """Every counter with its unit, its active devices and the officer on duty now."""
    return [c for c in directory.list_counters(db) if who.scope.sees_unit(c["unit_id"])]


@router.post("/api/v1/counters", tags=["organisation"], status_code=201)
def create_counter(body: CounterCreate, store: Writer, actor: Actor,
                   who: CurrentViewer) -> dict[str, Any]:
    """Create a counter; place a device there with `hailong devices add`."""
    _may_edit(who, access.COUNTER_EDITORS, body.unit_id)
    return _org(store, actor).create_counter(body.model_dump())


@router.patch("/api/v1/counters/{counter_id}", tags=["organisation"])
def update_counter(counter_id: str, body: CounterUpdate, store: Writer,
                   actor: Actor, who: CurrentViewer) -> dict[str, Any]:
    """Change a counter's label or unit."""
    _may_edit(who, access.COUNTER_EDITORS, _counter_unit(store.db, counter_id), body.unit_id)
    return _org(store, actor).update_counter(counter_id, _sent(body))


# --- roster --------------------------------------------------------------------------------

TimeValue = str | int
TIME_DOC = "ISO 8601 date-time, Vietnam time (UTC+7) without an offset, or unix ms"


class ShiftCreate(BaseModel):
    counter_id: str = Field(examples=["hk-q1"])
    officer_id: str = Field(examples=["HK-0001"])
    starts_at: TimeValue = Field(description=TIME_DOC, examples=["2026-03-02T07:30"])
    ends_at: TimeValue | None = Field(None, description=TIME_DOC + "; null: until further "
                                                                   "notice",
                                      examples=["2026-03-02T11:30"])
    note: str | None = None


class ShiftCorrection(BaseModel):
    reason: str = Field(description="why the roster was wrong (kept in the audit log)")
    counter_id: str | None = None
    officer_id: str | None = None
    starts_at: TimeValue | None = Field(None, description=TIME_DOC)
    ends_at: TimeValue | None = Field(None, description=TIME_DOC + "; null: until further "
                                                                   "notice")
    note: str | None = None


class Reason(BaseModel):
    reason: str = Field(description="why the shift is withdrawn (kept in the audit log)")


def _bound(value: str | None, field: str, *, end: bool) -> int | None:
    """A query bound: a date-time, or a date (from its start; `to` includes the whole day)."""
    if value is None:
        return None
    text = value.strip()
    if len(text) == 10 and end:
        try:
            text = (date.fromisoformat(text) + timedelta(days=1)).isoformat()
        except ValueError:
            pass  # parse_time says what is wrong
    return shifts.parse_time(text, field)


def _list_shifts(db: sqlite_utils.Database, counter: str | None, officer: str | None,
                 start: str | None, end: str | None, history: bool) -> list[dict[str, Any]]:
    return [shifts.describe(row) for row in duty.roster_shifts(
        db, counter_id=counter, officer_id=officer, start=_bound(start, "from", end=False),
        end=_bound(end, "to", end=True), include_history=history)]


@router.get("/api/v1/roster", tags=["roster"])
def list_roster(db: Db, who: CurrentViewer, counter: str | None = None,
                officer: str | None = None,
                start: Annotated[str | None, Query(alias="from", description=(
                    "shifts still running at or after this time (ISO date or date-time, "
                    "Vietnam time)"), examples=["2026-03-01"])] = None,
                end: Annotated[str | None, Query(alias="to", description=(
                    "shifts starting before this time; a date includes that whole day"),
                    examples=["2026-03-31"])] = None,
                history: Annotated[bool, Query(description="also replaced and cancelled "
                                                           "shifts")] = False
                ) -> list[dict[str, Any]]:
    """Shifts by start time, filtered by counter, officer and period; each with local times,
    who created it and, in the history, when and by which shift it was replaced."""
    units = ownership.counter_units(db)
    return [shift for shift in _list_shifts(db, counter, officer, start, end, history)
            if who.scope.sees_unit(units.get(shift["counter_id"]))
            or shift["officer_id"] in who.scope.officers]


@router.post("/api/v1/roster", tags=["roster"], status_code=201)
def add_shift(body: ShiftCreate, store: Writer, who: CurrentViewer) -> dict[str, Any]:
    """Put an officer at a counter for a period. Ratings already pressed there in that period
    are attributed to them (counted in the audit entry); the device shows them when the shift
    starts. Overlaps on the counter or for the officer are refused (409); a counter, an
    officer or ratings of someone outside the account's scope too (403)."""
    return _roster(store, who).add_shift(body.counter_id, body.officer_id, body.starts_at,
                                         body.ends_at, body.note)


@router.patch("/api/v1/roster/{shift_id}", tags=["roster"])
def correct_shift(shift_id: int, body: ShiftCorrection, store: Writer,
                  who: CurrentViewer) -> dict[str, Any]:
    """Correct a shift with a reason: the old one stays in the history, a new one carries the
    change, and the ratings of both periods are attributed again (audit entry). Both the
    shift as it was and as it becomes must be within the account's scope (403)."""
    changes = _sent(body)
    reason = changes.pop("reason")
    return _roster(store, who).correct_shift(shift_id, reason=reason, **changes)


@router.delete("/api/v1/roster/{shift_id}", tags=["roster"])
def cancel_shift(shift_id: int, store: Writer, who: CurrentViewer,
                 body: Reason | None = None,
                 reason: Annotated[str | None, Query(description="why (or in the body)")]
                 = None) -> dict[str, Any]:
    """Withdraw a shift with a reason (in the body or the query); it stays in the history and
    its ratings are attributed again."""
    return _roster(store, who).cancel_shift(shift_id,
                                            body.reason if body is not None else reason)

