"""The organisation: units as a tree, officers and who leads them, counters; writes, service.

Pure reads first (`unit_subtree`, `responsible_head`, `direct_leader`: the evaluation workflow
asks them who leads and who decides), then the writes of the three tables, then a thin service
whose every write commits together with its audit entry. What a record may say, and the
errors, are collector/org/validation.py.

- A unit has a parent (none for the root, e.g. the city), a kind, a head who decides its
  grades, and the "outstanding" flag (see validation.py).
- An officer's id is their code. `leader_id` is who directly leads and assigns their work
  (Hanoi: the leader comments and proposes the grade); the head of the nearest unit above them
  that is not themself decides it.
- Counters belong to a unit; which device serves a counter is the registry's business.

Every write of `units`, `officers` and `counters` is `upsert_unit`, `upsert_officer` or
`upsert_counter` (the service, the registry, the import and the demo call them); they replace
every column, so the service's updates read the row first and change only what was given.
Nothing here trusts the database to be acyclic: every walk stops at a repeat.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable

import sqlite_utils

from collector.db import audit
from collector.db.store import Store, now_ms, require, write_transaction
from collector.org import directory, validation


# --- reads the workflow relies on ----------------------------------------------------------

def _chain_heads(db: sqlite_utils.Database, unit_id: str | None) -> list[tuple[str, str | None]]:
    """(unit, head) for the unit and its ancestors, nearest first, in one statement (issue
    13: a walk of two statements per level, per officer, made a unit's status slow). Stops
    at a unit not stored or at a repeat, as a walk would."""
    if unit_id is None:
        return []
    chain: list[tuple[str, str | None]] = []
    seen: set[str] = set()
    # depth bounds the recursion in a cycle; the repeat is cut below, as the walk cut it.
    for unit, head in db.execute(
            "WITH RECURSIVE up(id, head_id, parent_id, depth) AS (SELECT id, head_id, "
            "parent_id, 0 FROM units WHERE id = ? UNION ALL SELECT u.id, u.head_id, "
            "u.parent_id, up.depth + 1 FROM units u JOIN up ON u.id = up.parent_id "
            "WHERE up.depth < (SELECT count(*) FROM units)) "
            "SELECT id, head_id FROM up ORDER BY depth", [unit_id]):
        if unit in seen:
            break
        seen.add(unit)
        chain.append((unit, head))
    return chain


def unit_chain(db: sqlite_utils.Database, unit_id: str) -> list[str]:
    """The unit and its ancestors, nearest first (empty for an unknown unit)."""
    return [unit for unit, _ in _chain_heads(db, unit_id)]


def unit_subtree(db: sqlite_utils.Database, unit_id: str) -> set[str]:
    """The unit and every unit below it (empty for an unknown unit)."""
    if not db.execute("SELECT 1 FROM units WHERE id = ?", [unit_id]).fetchone():
        return set()
    # UNION (not UNION ALL) drops repeats, so even a cycle in the data terminates.
    return {row[0] for row in db.execute(
        "WITH RECURSIVE below(id) AS (SELECT ? UNION SELECT u.id FROM units u "
        "JOIN below b ON u.parent_id = b.id) SELECT id FROM below", [unit_id]).fetchall()}


def responsible_head(db: sqlite_utils.Database, officer_id: str) -> str | None:
    """Who decides the officer's grade: the head of the nearest unit, walking up from the
    officer's own, whose head is not the officer themself (a head is decided one level up)."""
    row = db.execute("SELECT unit_id FROM officers WHERE id = ?", [officer_id]).fetchone()
    if row is None or row[0] is None:
        return None
    for _unit, head in _chain_heads(db, row[0]):
        if head is not None and head != officer_id:
            return head
    return None


def direct_leader(db: sqlite_utils.Database, officer_id: str) -> str | None:
    """Who reviews the officer: their `leader_id`, or else the responsible head."""
    row = db.execute("SELECT leader_id FROM officers WHERE id = ?", [officer_id]).fetchone()
    if row is None:
        return None
    return row[0] if row[0] is not None else responsible_head(db, officer_id)


def headed_units(db: sqlite_utils.Database, officer_id: str) -> list[str]:
    """The units whose head is the officer (not the units below them)."""
    return [row[0] for row in db.execute("SELECT id FROM units WHERE head_id = ?",
                                         [officer_id]).fetchall()]


def unled_below(db: sqlite_utils.Database, head_id: str) -> set[str]:
    """The officers without a leader of record in the subtrees of the units `head_id` heads."""
    unled: set[str] = set()
    for unit_id in headed_units(db, head_id):
        below = sorted(unit_subtree(db, unit_id))
        marks = ", ".join("?" * len(below))
        unled.update(row[0] for row in db.execute(
            f"SELECT id FROM officers WHERE leader_id IS NULL AND unit_id IN ({marks})",
            below).fetchall())
    return unled


def led_by(db: sqlite_utils.Database, leader_id: str) -> list[str]:
    """The officers whose direct leader (as `direct_leader` decides) is `leader_id`."""
    led = {row[0] for row in db.execute("SELECT id FROM officers WHERE leader_id = ?",
                                        [leader_id])}
    # Without a leader of record an officer falls to the responsible head: only officers in
    # the subtrees of units this person heads can.
    led.update(officer for officer in unled_below(db, leader_id)
               if responsible_head(db, officer) == leader_id)
    return sorted(led)


# --- the writes of units, officers and counters -----------------------------------------------

def upsert_unit(db: sqlite_utils.Database, unit_id: str, name: str,
                parent_id: str | None = None, *, kind: str | None = None,
                head_id: str | None = None, outstanding: bool = False) -> None:
    """Create or replace a unit (every column); UnknownEntity for a parent or head missing."""
    with write_transaction(db):
        if parent_id is not None:
            require(db, "units", parent_id)
        if head_id is not None:
            require(db, "officers", head_id)
        db["units"].upsert({"id": unit_id, "name": name, "parent_id": parent_id, "kind": kind,
                            "head_id": head_id, "outstanding": int(bool(outstanding))}, pk="id")


# `upsert_officer`'s post group when the caller does not name one: the stored group stays
# (callers that predate groups, such as the demo's seed, must not reset an administrator's).
KEEP = object()


def upsert_officer(db: sqlite_utils.Database, officer_id: str, name: str, title: str,
                   unit_id: str, *, leader_id: str | None = None, photo: str | None = None,
                   active_from: str | None = None, active_to: str | None = None,
                   post_group: Any = KEEP) -> None:
    """Create or replace an officer (every column but `post_group` when it is KEEP: kept, or
    NULL for a new officer); UnknownEntity for a unit or leader missing."""
    with write_transaction(db):
        require(db, "units", unit_id)
        if leader_id is not None and leader_id != officer_id:
            require(db, "officers", leader_id)
        row = {"id": officer_id, "name": name, "title": title, "unit_id": unit_id,
               "leader_id": leader_id, "photo": photo, "active_from": active_from,
               "active_to": active_to}
        if post_group is not KEEP:
            row["post_group"] = post_group
        db["officers"].upsert(row, pk="id")


def upsert_counter(db: sqlite_utils.Database, counter_id: str, label: str,
                   unit_id: str) -> None:
    """Create or replace a counter; UnknownEntity for a unit missing."""
    with write_transaction(db):
        require(db, "units", unit_id)
        db["counters"].upsert({"id": counter_id, "label": label, "unit_id": unit_id}, pk="id")


# --- the service ---------------------------------------------------------------------------

_KINDS = {"unit": ("units", "đơn vị", validation.UNIT_FIELDS, validation.check_unit),
          "officer": ("officers", "cán bộ", validation.OFFICER_FIELDS, validation.check_officer),
          "counter": ("counters", "quầy", validation.COUNTER_FIELDS, validation.check_counter)}


class OrganisationService:
    """Organisation writes on one `Store`, each with its audit entry. Not thread-safe."""

    def __init__(self, store: Store, *, actor: str = "api", clock: Callable[[], int] = now_ms):
        self.store = store
        self.db = store.db
        self.actor = actor
        self.clock = clock

    # reads
    def unit(self, unit_id: str) -> dict[str, Any]:
        return self._row("unit", unit_id)

    def officer(self, officer_id: str) -> dict[str, Any]:
        return self._row("officer", officer_id)

    def counter(self, counter_id: str) -> dict[str, Any]:
        return self._row("counter", counter_id)

    # writes
    def create_unit(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        return self._create("unit", fields)

    def update_unit(self, unit_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        return self._update("unit", unit_id, changes)

    def create_officer(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        return self._create("officer", fields)

    def update_officer(self, officer_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        return self._update("officer", officer_id, changes)

    def set_post_group(self, officer_id: str, post_group: Any) -> dict[str, Any]:
        """Put an officer in a group of similar posts (None or "": the default group, the
        head's whole unit), audited as `officer.post_group`; the quota of months not yet
        reviewed counts them there, reviewed months keep the group stored with the review.
        OrgNotFound, OrgError (validation.check_post_group). Nothing written if unchanged."""
        at = self.clock()
        with write_transaction(self.db):
            current = self._row("officer", officer_id)
            group = validation.check_post_group(post_group)
            if current["post_group"] != group:
                self._write("officer", {**current, "post_group": group})
                audit.append(self.db, actor=self.actor, action="officer.post_group",
                             subject=f"officer:{officer_id}",
                             before={"post_group": current["post_group"]},
                             after={"post_group": group}, at=at)
        return self._row("officer", officer_id)

    def create_counter(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        return self._create("counter", fields)

    def update_counter(self, counter_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        return self._update("counter", counter_id, changes)

    # machinery
    def _row(self, kind: str, key: str) -> dict[str, Any]:
        table, vi_kind, fields, _ = _KINDS[kind]
        row = directory.org_record(self.db, table, key)
        if row is None:
            raise validation.OrgNotFound(f"Không tìm thấy {vi_kind} {key!r}",
                                         f"No {kind} {key!r}")
        return row

    def _write(self, kind: str, row: dict[str, Any]) -> None:
        if kind == "unit":
            upsert_unit(self.db, row["id"], row["name"], row["parent_id"], kind=row["kind"],
                        head_id=row["head_id"], outstanding=row["outstanding"])
        elif kind == "officer":
            upsert_officer(self.db, row["id"], row["name"], row["title"], row["unit_id"],
                           leader_id=row["leader_id"], photo=row["photo"],
                           active_from=row["active_from"], active_to=row["active_to"],
                           post_group=row["post_group"])
        else:
            upsert_counter(self.db, row["id"], row["label"], row["unit_id"])

    def _create(self, kind: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        table, vi_kind, _, check = _KINDS[kind]
        at = self.clock()
        with write_transaction(self.db):
            row = check(fields, self.db)
            if directory.org_record(self.db, table, row["id"]) is not None:
                raise validation.OrgConflict(f"Đã có {vi_kind} mã {row['id']!r}",
                                             f"A {kind} with id {row['id']!r} already exists")
            self._write(kind, row)
            audit.append(self.db, actor=self.actor, action=f"{kind}.create",
                         subject=f"{kind}:{row['id']}", before=None, after=row, at=at)
        return self._row(kind, row["id"])

    def _update(self, kind: str, key: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        table, _, fields, check = _KINDS[kind]
        if not changes:
            raise validation.OrgError("Không có thay đổi nào", "Nothing to change")
        if "id" in changes and changes["id"] != key:
            raise validation.OrgError("id: không đổi được mã; tạo bản ghi mới",
                                      "id: an id cannot change; create a new record")
        at = self.clock()
        with write_transaction(self.db):
            current = self._row(kind, key)
            stored = {name: current[name] for name in fields}
            if kind == "unit":
                stored["outstanding"] = bool(stored["outstanding"])
            row = check({**stored, **changes}, self.db)
            before = {k: stored[k] for k in fields if stored[k] != row[k]}
            after = {k: row[k] for k in before}
            if before:
                self._write(kind, row)
                audit.append(self.db, actor=self.actor, action=f"{kind}.update",
                             subject=f"{kind}:{key}", before=before, after=after, at=at)
        return self._row(kind, key)
