"""The facts of many officers' periods at once (issue 13, item 3).

`permissions.month_facts_many` gives, for many officers, exactly what `month_facts` gives
officer by officer, in a number of statements that does not grow with them; a unit's status
(`unit_evaluation_status`) built on it equals the status computed officer by officer
(tests/status_reference.py, the code as it was before).

The worlds are generated from a seed (a failure replays): a unit tree with and without heads,
heads placed in their unit or elsewhere, officers with and without a leader of record, in post
groups or not. Their periods are played through the real WorkflowService in rounds —
self-evaluations, reviews, decisions, reopenings, reviews again after a reopening — and
between the rounds the organisation changes: officers move between units, units get new
heads or a new parent, reviewers leave office. Then the stored states no step makes are
written by hand: a stored unit, deciding unit or reviewer that no longer exists, a reviewer
who is the officer, a cycle in the tree. Under a monthly policy (hanoi-3814, March 2026) and
a quarterly one (decree-335 with period "quarter", the first quarter of 2026).
"""

from __future__ import annotations

import dataclasses
import itertools
import random
from datetime import date

import pytest

from status_reference import slow_unit_status

from collector.accounts import permissions
from collector.db.store import Store
from collector.evaluation.policy import load_preset
from collector.evaluation.workflow import status
from collector.evaluation.workflow.steps import WorkflowError, WorkflowService
from collector.org.organisation import unit_subtree, upsert_officer, upsert_unit

TODAY = date(2026, 4, 10)  # March and the first quarter are over, their due dates passed
T0 = 1_775_000_000_000
MONTHLY = load_preset("hanoi-3814")
QUARTERLY = dataclasses.replace(load_preset("decree-335"), period="quarter")
PERIODS = [(MONTHLY, "2026-03"), (QUARTERLY, "2026-Q1")]
SEEDS = range(6)
GROUPS = (None, None, None, "Một cửa", "Chuyên môn")
GRADES = ("HTXSNV", "HTTNV", "HTNV", "KHTNV")


class World:
    """A generated organisation in `store`, kept in step with what is written."""

    def __init__(self, store: Store, rng: random.Random, units: int = 9, officers: int = 45):
        self.db, self.rng = store.db, rng
        self.units: dict[str, dict] = {}
        self.officers: dict[str, dict] = {}
        self.unit("U0", None)
        for n in range(1, units):
            self.unit(f"U{n}", rng.choice(list(self.units)))
        for n in range(officers):
            officer_id = f"CB{n:03d}"
            self.officer(officer_id, unit=rng.choice(list(self.units)),
                         leader=rng.choice([None, None, *self.officers]),
                         post_group=rng.choice(GROUPS))
        for unit_id in self.units:
            self.new_head(unit_id)

    def unit(self, unit_id: str, parent: str | None, head: str | None = None) -> None:
        self.units[unit_id] = {"parent": parent, "head": head}
        upsert_unit(self.db, unit_id, f"Đơn vị {unit_id}", parent, kind="office", head_id=head)

    def officer(self, officer_id: str, **changes) -> None:
        row = {"unit": None, "leader": None, "active_to": None, "post_group": None,
               **self.officers.get(officer_id, {}), **changes}
        self.officers[officer_id] = row
        upsert_officer(self.db, officer_id, f"Cán bộ {officer_id}", "Chuyên viên", row["unit"],
                       leader_id=row["leader"], active_to=row["active_to"],
                       post_group=row["post_group"])

    def new_head(self, unit_id: str) -> None:
        """No head (one unit in five), one of its own officers, or someone from elsewhere."""
        own = [o for o, row in self.officers.items() if row["unit"] == unit_id]
        pick = self.rng.random()
        head = (None if pick < 0.2 else self.rng.choice(own) if own and pick < 0.8
                else self.rng.choice(list(self.officers)))
        self.unit(unit_id, self.units[unit_id]["parent"], head)

    def reshape(self) -> None:
        """Between two rounds: moves, new heads, a unit under a new parent, reviewers gone."""
        rng = self.rng
        for officer_id in rng.sample(list(self.officers), 8):
            self.officer(officer_id, unit=rng.choice(list(self.units)),
                         leader=rng.choice([None, *self.officers]))
        for unit_id in rng.sample(list(self.units), 3):
            self.new_head(unit_id)
        unit_id = rng.choice([u for u in self.units if u != "U0"])
        below = unit_subtree(self.db, unit_id)
        self.unit(unit_id, rng.choice([u for u in self.units if u not in below]),
                  self.units[unit_id]["head"])
        reviewers = [row[0] for row in self.db.execute(
            "SELECT DISTINCT reviewed_by FROM evaluations WHERE reviewed_by IS NOT NULL")]
        for officer_id in rng.sample(reviewers, min(2, len(reviewers))):
            self.officer(officer_id, active_to="2026-03-20")  # left, after March's start


def play(service: WorkflowService, world: World, period: str) -> None:
    """One round: each officer, in a random order, gets some of the steps that are possible
    now (a refused one — no leader, a leader gone, nothing to reopen — is skipped)."""
    rng, policy, db = world.rng, service.policy, world.db
    judged = [c for c in policy.criteria if c.source == "leader"]
    for officer_id in rng.sample(list(world.officers), len(world.officers)):
        facts = permissions.month_facts(db, officer_id, period, TODAY)
        scores = {c.code: float(rng.randint(0, int(c.points))) for c in judged}
        steps = [("self", 0.5, lambda: service.self_evaluate(
                     officer_id, period, officer_id, scores, "Tự đánh giá")),
                 ("reopen", 0.3, lambda: service.reopen(officer_id, period, facts.head,
                                                        "Xem lại")),
                 ("review", 0.7, lambda: service.review(officer_id, period, facts.leader,
                                                        scores, "Nhận xét", rng.choice(GRADES))),
                 ("decide", 0.5, lambda: service.decide(
                     officer_id, period, facts.head, rng.choice(GRADES), "Quyết định",
                     acknowledge_quota=True, acknowledge_provisional_unit=True))]
        for _name, chance, step in steps:
            if rng.random() < chance:
                try:
                    step()
                except WorkflowError:
                    pass
                facts = permissions.month_facts(db, officer_id, period, TODAY)


def oddities(world: World, period: str) -> None:
    """Stored states no workflow step writes: gone units and reviewers, a reviewer who is the
    officer, and a cycle in the tree (nothing here trusts the database to be acyclic)."""
    db, rng = world.db, world.rng
    placed = [row[0] for row in db.execute(
        "SELECT officer_id FROM evaluations WHERE month = ? AND unit_id IS NOT NULL "
        "ORDER BY officer_id", [period])]
    gone, deciding_gone, no_reviewer, self_reviewed = rng.sample(placed, 4)
    db.conn.execute("PRAGMA foreign_keys = OFF")
    edits = [("unit_id = 'GONE'", gone), ("deciding_unit_id = 'GONE'", deciding_gone),
             ("reviewed_by = 'NOBODY'", no_reviewer), ("reviewed_by = officer_id", self_reviewed)]
    for change, officer_id in edits:
        db.execute(f"UPDATE evaluations SET {change} WHERE officer_id = ? AND month = ?",
                   [officer_id, period])
    db.conn.commit()
    db.conn.execute("PRAGMA foreign_keys = ON")
    child = rng.choice([u for u in world.units if u != "U0"])
    world.unit(child, world.units[child]["parent"], world.units[child]["head"])
    looped = next(iter(unit_subtree(db, child) - {child}), None)
    if looped is not None:  # the unit's parent becomes one of the units below it
        world.unit(child, looped, world.units[child]["head"])


def generated(tmp_path, seed: int, policy, period: str, *, odd: bool,
              officers: int = 45) -> Store:
    store = Store(tmp_path / f"world-{seed}.db")
    rng = random.Random(seed)
    world = World(store, rng, officers=officers)
    ticks = itertools.count(T0, 1000)
    service = WorkflowService(store, policy, clock=lambda: next(ticks), today=lambda: TODAY)
    for round_ in range(3):
        play(service, world, period)
        if round_ < 2:
            world.reshape()
    if odd:
        oddities(world, period)
    return store


@pytest.fixture(params=[(seed, odd) for seed in SEEDS for odd in (False, True)],
                ids=lambda p: f"seed{p[0]}{'-odd' if p[1] else ''}")
def world(request, tmp_path):
    seed, odd = request.param
    policy, period = PERIODS[seed % 2]
    store = generated(tmp_path, seed, policy, period, odd=odd)
    yield store, policy, period
    store.close()


def test_the_worlds_hold_every_kind_of_period(world):
    """The generator makes what the equality below is meant to cover."""
    store, _policy, period = world
    db = store.db
    steps = {row[0] for row in db.execute(
        "SELECT DISTINCT step FROM evaluation_events WHERE month = ?", [period])}
    assert steps == {"self", "review", "decision", "reopen"}
    moved, reviewed_again, gone = db.execute(
        "SELECT (SELECT count(*) FROM evaluations e JOIN officers o ON o.id = e.officer_id "
        "WHERE e.month = ?1 AND e.unit_id <> o.unit_id), "
        "(SELECT count(*) FROM (SELECT officer_id FROM evaluation_events WHERE month = ?1 "
        "AND step = 'review' GROUP BY officer_id HAVING count(*) > 1)), "
        "(SELECT count(*) FROM evaluations e JOIN officers r ON r.id = e.reviewed_by "
        "WHERE e.month = ?1 AND r.active_to IS NOT NULL)", [period]).fetchone()
    assert moved and reviewed_again and gone


def test_month_facts_many_equals_month_facts_officer_by_officer(world):
    """And `officer_facts_many` equals `officer_facts`: the facts of the officer now."""
    store, _policy, period = world
    db = store.db
    ids = [row[0] for row in db.execute("SELECT id FROM officers")] + ["NOBODY", "GHOST"]
    for today in (TODAY, None):
        many = permissions.month_facts_many(db, ids, period, today)
        one = {o: facts for o in ids
               if (facts := permissions.month_facts(db, o, period, today)) is not None}
        assert many == one
        assert any(f.placed for f in many.values()) and not all(f.placed for f in many.values())
    assert permissions.officer_facts_many(db, ids) == {
        o: facts for o in ids if (facts := permissions.officer_facts(db, o)) is not None}


def test_a_units_status_equals_the_status_computed_officer_by_officer(world):
    store, policy, period = world
    db = store.db
    for unit_id in [row[0] for row in db.execute("SELECT id FROM units ORDER BY id")]:
        assert (status.unit_evaluation_status(db, policy, unit_id, period, TODAY)
                == slow_unit_status(db, policy, unit_id, period, TODAY)), unit_id


def statements(db, read) -> int:
    """How many SQL statements `read()` runs on this connection."""
    seen: list[str] = []
    db.conn.set_trace_callback(seen.append)
    try:
        read()
    finally:
        db.conn.set_trace_callback(None)
    return len(seen)


def test_the_statements_do_not_grow_with_the_officers(tmp_path):
    """As many statements for 120 officers as for 40 (officer by officer: about ten each)."""
    counts = []
    for seed, size in ((7, 40), (9, 120)):
        store = generated(tmp_path, seed, MONTHLY, "2026-03", odd=False, officers=size)
        db = store.db
        try:
            ids = [row[0] for row in db.execute("SELECT id FROM officers")]
            assert len(ids) == size
            counts.append((
                statements(db, lambda: permissions.month_facts_many(db, ids, "2026-03", TODAY)),
                statements(db, lambda: status.unit_evaluation_status(db, MONTHLY, "U0",
                                                                     "2026-03", TODAY))))
        finally:
            store.close()
    assert counts[0] == counts[1]
    assert counts[0][0] <= 3


def test_more_ids_than_sqlite_binds_in_one_statement(tmp_path):
    """The ids travel as one JSON array, not as an IN list past SQLite's limit of bound
    variables (32,766 by default): a province's root has 150,000 officers."""
    store = generated(tmp_path, 8, MONTHLY, "2026-03", odd=False)
    try:
        ids = [row[0] for row in store.db.execute("SELECT id FROM officers")]
        many = permissions.month_facts_many(store.db, [*(f"X{n}" for n in range(40_000)), *ids],
                                            "2026-03", TODAY)
        assert set(many) == set(ids)
    finally:
        store.close()
