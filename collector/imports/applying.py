"""Running an import: read, check, and write every record in one transaction with one audit entry.

`run_import` is what the command line and the API call. Nothing is half-imported: a file
with any rejected row writes nothing, and the write itself is one transaction, so an error
halfway (a bug, a full disk) rolls back everything it wrote. The check runs inside that same
transaction, which holds SQLite's write lock from its first statement: what was checked
(ids free or stored, references present) is still true when the rows are written. A dry run
checks without taking the lock and writes nothing.

Writes go through the owners' functions, `organisation.upsert_unit/upsert_officer/
upsert_counter` and `tasks.add_task` (+ `update_task` for imported progress), in the order the
references need: units, parents
first (without heads that are new officers); officers, leaders first; counters; and last the
heads. Rows equal to what is stored are not written;
an import that would change nothing writes nothing at all, not even an audit entry (the audit
log records changes; the report still says what was read).

The one audit entry (action "import.org" or "import.tasks", subject "import:<first 12 hex
digits of the sha256>") names the files and their hashes, the counts, and what changed: the
ids created and, for each updated record, the fields before and after; for tasks the range of
task ids created.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Callable

from collector.db import audit
from collector.org.organisation import upsert_counter, upsert_officer, upsert_unit
from collector.imports.checking import ImportPlan, Planned, check
from collector.imports.reading import ImportReport, new_report, read_sources
from collector.db.store import Store, now_ms, write_transaction
from collector.evaluation.tasks import add_task, local_today, update_task

KINDS = ("org", "tasks")


def run_import(store: Store, kind: str, sources: list[tuple[str, bytes]], *,
               dry_run: bool = False, actor: str = "api", clock: Callable[[], int] = now_ms,
               today: Callable[[], date] = local_today) -> ImportReport:
    """Import `sources` ([(file name, bytes)]) of `kind` ("org" or "tasks"); the report says
    what was read, what was (or with `dry_run` would be) created and updated, and every row
    refused. Writes only when nothing is refused."""
    if kind not in KINDS:
        raise ValueError(f"unknown import kind {kind!r}; expected one of {KINDS}")
    report = new_report(kind, sources, dry_run=dry_run)
    sheets = read_sources(kind, sources, report)
    if not report.ok:
        return report
    if dry_run:
        check(store.db, kind, sheets, report, today=today())
        return report
    at = clock()
    with write_transaction(store.db):
        plan = check(store.db, kind, sheets, report, today=today())
        if report.ok and (report.would_create or report.would_update):
            _write(store, plan, report, actor=actor, at=at)
    report.applied = report.ok
    return report


def _write(store: Store, plan: ImportPlan, report: ImportReport, *, actor: str,
           at: int) -> None:
    """Every planned change and the audit entry, in the caller's transaction (a savepoint
    here, so even a caller that catches the error keeps nothing of it)."""
    with write_transaction(store.db):
        if plan.kind == "org":
            before, changes = _write_org(store, plan)
        else:
            before, changes = None, _write_tasks(store, plan, actor=actor, at=at)
        after = {"files": report.files, "sha256": report.sha256, "rows_read": report.rows_read,
                 "created": report.would_create, "updated": report.would_update,
                 "unchanged": report.unchanged, "by_table": report.by_table, **changes}
        audit.append(store.db, actor=actor, action=f"import.{plan.kind}",
                     subject=f"import:{report.sha256[:12]}", before=before, after=after, at=at)


def _parents_first(planned: list[Planned], parent: str) -> list[Planned]:
    """Records ordered so that the one `parent` names (a unit's parent, an officer's leader),
    when the file writes it too, comes first; the checks refused loops. Iterative, since a
    chain may be as long as the file."""
    by_id = {p.values["id"]: p for p in planned}
    done: set[str] = set()
    ordered: list[Planned] = []
    for item in planned:
        chain = []
        current: Planned | None = item
        while current is not None and current.values["id"] not in done:
            done.add(current.values["id"])
            chain.append(current)
            current = by_id.get(current.values[parent])
        ordered.extend(reversed(chain))
    return ordered


def _write_org(store: Store, plan: ImportPlan) -> tuple[dict[str, Any], dict[str, Any]]:
    changed = {table: [p for p in plan.of(table) if p.action != "unchanged"]
               for table in ("units", "officers", "counters")}
    new_officers = {p.values["id"] for p in changed["officers"] if p.action == "create"}
    # A unit's head may be an officer this import creates, and officers need their units:
    # such heads are set last. Leaders need no second pass: leaders are written first.
    heads_later: list[Planned] = []
    for p in _parents_first(changed["units"], "parent_id"):
        head = p.values["head_id"]
        if head in new_officers:
            heads_later.append(p)
            head = (p.stored or {}).get("head_id")
        _upsert_unit(store, p.values, head_id=head)
    for p in _parents_first(changed["officers"], "leader_id"):
        v = p.values
        upsert_officer(store.db, v["id"], v["name"], v["title"], v["unit_id"],
                       leader_id=v["leader_id"], photo=v["photo"],
                       active_from=v["active_from"], active_to=v["active_to"],
                       post_group=v["post_group"])
    for p in changed["counters"]:
        upsert_counter(store.db, p.values["id"], p.values["label"], p.values["unit_id"])
    for p in heads_later:
        _upsert_unit(store, p.values, head_id=p.values["head_id"])

    before: dict[str, Any] = {}
    created: dict[str, list[str]] = {}
    updated: dict[str, Any] = {}
    for table, rows in changed.items():
        for p in rows:
            if p.action == "create":
                created.setdefault(table, []).append(p.values["id"])
            else:
                diff = p.changed()
                before.setdefault(table, {})[p.values["id"]] = {k: old for k, (old, _) in
                                                                diff.items()}
                updated.setdefault(table, {})[p.values["id"]] = {k: new for k, (_, new) in
                                                                 diff.items()}
    return before, {"created_ids": created, "updated_fields": updated}


def _upsert_unit(store: Store, v: dict[str, Any], *, head_id: str | None) -> None:
    upsert_unit(store.db, v["id"], v["name"], v["parent_id"], kind=v["kind"], head_id=head_id,
                outstanding=v["outstanding"])


def _write_tasks(store: Store, plan: ImportPlan, *, actor: str, at: int) -> dict[str, Any]:
    ids = []
    for p in plan.of("tasks"):
        v = p.values
        task_id = add_task(store.db, officer_id=v["officer_id"], title=v["title"],
                           assigned_by=v["assigned_by"], period=v["period"],
                           deadline=v["deadline"], weight=v["weight"], at=at)
        if v["progress"] or v["completed_on"]:
            # Kept in the task's history like any progress update, by whoever imported it.
            update_task(store.db, task_id, progress=v["progress"], note=None,
                        completed_on=v["completed_on"], actor=actor, at=at)
        ids.append(task_id)
    # One transaction under the write lock: the ids are consecutive.
    return {"task_ids": [ids[0], ids[-1]] if ids else []}
