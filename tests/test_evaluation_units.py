"""A reviewed or decided month stays with the unit it was reviewed or decided in (issue 12).

The organisation (hanoi-3814, March 2026, reviewed and decided in April):

    CITY (head H0)
    ├── A (head HA): HA, O1, O2, O3, O4, O6   (no leaders of record: HA reviews them)
    └── B (head HB): HB, O5

HA decides O1 "A" (HTXSNV) and O2, O3, O4 "B" (HTTNV); then O1 moves to B. Worked by hand:

- A's March still lists O1, under A, and its quota counts O1's A: 4 graded (O1 A; O2–O4 B),
  cap floor(0.3 × 4) = 1, 1 "A", decided. B's March lists HB and O5 only, 0 graded.
- A's workflow line pads HA and O6 (not graded) with B: 6 rated, cap floor(0.3 × 6) = 1.
- HA then decides O6 "A": decided O1 A, O2–O4 B, O6 A, HA pending at the best case (B):
  6 rated, cap floor(0.3 × 6) = 1, 2 "A" > 1 → refused until acknowledged. Had O1's month
  followed O1 to B, A would count 1 "A" and let it pass.
- April (never reviewed) follows the officer: O1 is in B's April, not in A's.
"""

from __future__ import annotations

import itertools
import sqlite3
from dataclasses import replace
from datetime import date

import pytest
import sqlite_utils

from collector.core.periods import period_bounds
from collector.db import schema, store as store_module
from collector.db.store import Store
from collector.evaluation import month as monthly
from collector.evaluation.policy import load_preset
from collector.evaluation.workflow import status
from collector.evaluation.workflow.steps import (
    QuotaNotAcknowledged,
    WorkflowForbidden,
    WorkflowService,
)
from collector.org.organisation import upsert_officer, upsert_unit

MONTH, NEXT = "2026-03", "2026-04"
TODAY = date(2026, 4, 10)  # after every default due date of March's self-evaluation
T0 = 1_775_000_000_000
HANOI = {"discipline_ethics": 18, "bonus": 5}
POLICY = load_preset("hanoi-3814")


def build_org(store: Store) -> None:
    upsert_unit(store.db, "CITY", "Thành phố")
    upsert_unit(store.db, "A", "Phường An", "CITY", kind="ward")
    upsert_unit(store.db, "B", "Phường Bình", "CITY", kind="ward")
    for officer, unit in [("H0", "CITY"), ("HA", "A"), ("O1", "A"), ("O2", "A"), ("O3", "A"),
                          ("O4", "A"), ("O6", "A"), ("HB", "B"), ("O5", "B")]:
        upsert_officer(store.db, officer, f"Cán bộ {officer}", "Chuyên viên", unit)
    upsert_unit(store.db, "CITY", "Thành phố", head_id="H0")
    upsert_unit(store.db, "A", "Phường An", "CITY", kind="ward", head_id="HA")
    upsert_unit(store.db, "B", "Phường Bình", "CITY", kind="ward", head_id="HB")


def move(store: Store, officer: str, unit: str) -> None:
    upsert_officer(store.db, officer, f"Cán bộ {officer}", "Chuyên viên", unit)


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "hailong.db")
    build_org(store)
    yield store
    store.close()


@pytest.fixture
def service(store):
    ticks = itertools.count(T0, 1000)
    return WorkflowService(store, POLICY, clock=lambda: next(ticks), today=lambda: TODAY)


def grade(service, officer, head, letter, *, decide=True):
    service.review(officer, MONTH, head, HANOI, "Nhận xét", letter)
    if decide:
        service.decide(officer, MONTH, head, letter, "Đồng ý")


@pytest.fixture
def moved(service, store):
    """O1 decided "A" in A, O2–O4 "B"; then O1 moves to B."""
    for officer, letter in [("O1", "A"), ("O2", "B"), ("O3", "B"), ("O4", "B")]:
        grade(service, officer, "HA", letter)
    move(store, "O1", "B")
    return service


def unit_month(store, unit, month=MONTH, policy=POLICY):
    return monthly.unit_month(store.db, unit, month, policy, now_ms=T0, today=TODAY)


def ids(report):
    return {row["officer_id"] for row in report["officers"]}


def test_a_decided_month_stays_in_the_old_units_report_and_quota(moved, store):
    old = unit_month(store, "A")
    assert ids(old) == {"HA", "O1", "O2", "O3", "O4", "O6"}
    [o1] = [row for row in old["officers"] if row["officer_id"] == "O1"]
    assert (o1["unit_id"], o1["unit_name"], o1["final_grade"]["code"]) == ("A", "Phường An",
                                                                           "HTXSNV")
    quota = old["quota"]
    assert (quota["rated"], quota["base"], quota["cap"], quota["proposed"], quota["decided"],
            quota["exceeded"]) == (4, 4, 1, 1, 1, False)
    assert [line["post_group"] for line in old["quotas"]] == [None]

    new = unit_month(store, "B")
    assert ids(new) == {"HB", "O5"}
    assert (new["quota"]["rated"], new["quota"]["proposed"]) == (0, 0)


def test_a_month_never_reviewed_follows_the_officer(moved, store):
    assert "O1" in ids(unit_month(store, "B", NEXT))
    assert "O1" not in ids(unit_month(store, "A", NEXT))


def test_the_workflow_counts_the_moved_officer_in_the_old_unit(moved, store):
    old = status.unit_evaluation_status(store.db, POLICY, "A", MONTH, TODAY)
    assert {(o["officer_id"], o["unit_id"]) for o in old["officers"]} >= {("O1", "A")}
    # O1–O4 graded, HA and O6 pending at B: 6 rated, cap floor(0.3 × 6) = 1, 1 A.
    assert (old["quota"]["rated"], old["quota"]["cap"], old["quota"]["proposed"],
            old["quota"]["pending"]) == (6, 1, 1, 2)
    new = status.unit_evaluation_status(store.db, POLICY, "B", MONTH, TODAY)
    assert {o["officer_id"] for o in new["officers"]} == {"HB", "O5"}
    assert new["quota"]["proposed"] == 0


def test_a_decision_in_the_old_unit_meets_the_moved_officers_grade(moved):
    moved.review("O6", MONTH, "HA", HANOI, "Xuất sắc", "A")
    with pytest.raises(QuotaNotAcknowledged) as refused:
        moved.decide("O6", MONTH, "HA", "A")
    quota = refused.value.quota
    assert (quota.rated, quota.cap, quota.proposed, quota.pending) == (6, 1, 2, 1)


def test_the_review_places_the_month_and_the_decision_and_a_reopening_keep_it(moved, store):
    # O6 reviewed in A, then moves to B before the decision: the month stays A's, for A's
    # head to decide (tests/test_month_placement.py has the rest of "a month keeps its place").
    grade(moved, "O6", "HA", "B", decide=False)
    move(store, "O6", "B")
    assert "O6" in ids(unit_month(store, "A")) and "O6" not in ids(unit_month(store, "B"))
    with pytest.raises(WorkflowForbidden):
        moved.decide("O6", MONTH, "HB", "B")
    decided = moved.decide("O6", MONTH, "HA", "B")
    [event] = [e for e in decided["history"] if e["step"] == "decision"]
    assert (event["data"]["quota_unit"], event["data"]["post_group"]) == ("A", None)
    row = store.db.execute("SELECT unit_id, deciding_unit_id, post_group FROM evaluations "
                           "WHERE officer_id = 'O6' AND month = ?", [MONTH]).fetchone()
    assert tuple(row) == ("A", "A", None)
    assert "O6" in ids(unit_month(store, "A")) and "O6" not in ids(unit_month(store, "B"))

    # O1's month, decided in A, is reopened by A's head, not by O1's head now (HB).
    with pytest.raises(WorkflowForbidden):
        moved.reopen("O1", MONTH, "HB", "Xem lại theo đơn vị mới")
    moved.reopen("O1", MONTH, "HA", "Xem lại")
    assert store.db.execute("SELECT unit_id, deciding_unit_id, decided_at FROM evaluations "
                            "WHERE officer_id = 'O1' AND month = ?",
                            [MONTH]).fetchone() == ("A", "A", None)
    report = unit_month(store, "A")
    [o1] = [row for row in report["officers"] if row["officer_id"] == "O1"]
    assert o1["proposed_grade"]["code"] == "HTXSNV" and o1["final_grade"] is None
    assert "O1" not in ids(unit_month(store, "B"))


def press(store, officer, n):
    start, _ = period_bounds(MONTH)
    store.db.execute(
        "INSERT INTO ratings (id, device_id, level, scale, officer_id, attribution, "
        "pressed_at, received_at) VALUES (?, 'dev', 4, 4, ?, 'roster', ?, ?)",
        [f"{officer}:{n}", officer, start + 3_600_000 + n, start + 3_600_000 + n])


def test_the_officers_own_month_is_compared_within_the_unit_it_was_decided_in(moved, store):
    # One counted rating each is enough evidence here, so `compared` counts the members.
    policy = replace(POLICY, satisfaction=replace(POLICY.satisfaction, min_ratings=1))
    for n, officer in enumerate(["HA", "O1", "O2", "O3", "O4", "O6", "HB", "O5"]):
        press(store, officer, n)
    own = monthly.officer_month(store.db, "O1", MONTH, policy, now_ms=T0, today=TODAY)
    assert own["satisfaction"]["comparison"]["compared"] == 6  # A: HA, O1–O4, O6
    other = monthly.officer_month(store.db, "O5", MONTH, policy, now_ms=T0, today=TODAY)
    assert other["satisfaction"]["comparison"]["compared"] == 2  # B: HB, O5 — not O1
    nxt = monthly.officer_month(store.db, "O1", NEXT, policy, now_ms=T0, today=TODAY)
    assert nxt["satisfaction"]["comparison"]["compared"] == 0  # nobody rated in April


# --- the migration ------------------------------------------------------------------------

MINE = "evaluations_0001_units_and_post_groups"


def old_database(path, monkeypatch) -> None:
    """A database at the migration before this one, with months reviewed and decided."""
    names = [name for name, _ in schema.MIGRATIONS]
    monkeypatch.setattr(store_module, "MIGRATIONS", schema.MIGRATIONS[:names.index(MINE)])
    Store(path).close()
    monkeypatch.undo()
    db = sqlite_utils.Database(sqlite3.connect(path))
    db.execute("INSERT INTO units (id, name, parent_id, head_id) VALUES "
               "('CITY', 'Thành phố', NULL, 'H0'), ('A', 'Phường An', 'CITY', 'HA'), "
               "('F', 'Tổ Một cửa', 'A', NULL)")
    db.execute("INSERT INTO officers (id, name, title, unit_id) VALUES "
               "('H0', 'Chủ tịch', 'Chủ tịch', 'CITY'), ('HA', 'Trưởng A', 'Chủ tịch', 'A'), "
               "('O1', 'Cán bộ 1', 'Chuyên viên', 'A'), ('O4', 'Cán bộ 4', 'Chuyên viên', 'F')")
    rows = [("O1", "2026-03", T0, T0, "HTXSNV"),   # decided
            ("HA", "2026-03", T0, T0, "HTTNV"),    # a head: decided one level up
            ("H0", "2026-03", T0, T0, "HTTNV"),    # the top: nobody above in hailong
            ("O4", "2026-03", T0, None, None),     # reviewed only
            ("O1", "2026-04", None, None, None)]   # self-evaluated only
    db.conn.executemany("INSERT INTO evaluations (officer_id, month, self_at, reviewed_at, "
                        "decided_at, final_grade, updated_at) VALUES (?, ?, 1, ?, ?, ?, 1)",
                        rows)
    db.conn.commit()
    db.conn.close()


def test_the_migration_places_reviewed_and_decided_months(tmp_path, monkeypatch):
    path = tmp_path / "old.db"
    old_database(path, monkeypatch)
    store = Store(path)  # migrates
    try:
        placed = {(r[0], r[1]): r[2:] for r in store.db.execute(
            "SELECT officer_id, month, unit_id, deciding_unit_id, post_group FROM evaluations")}
        assert placed == {("O1", "2026-03"): ("A", "A", None),
                          ("HA", "2026-03"): ("A", "CITY", None),
                          ("H0", "2026-03"): ("CITY", None, None),
                          ("O4", "2026-03"): ("F", "A", None),
                          ("O1", "2026-04"): (None, None, None)}
        assert store.db.execute("SELECT count(*) FROM officers WHERE post_group IS NOT NULL"
                                ).fetchone()[0] == 0
        assert store.db.execute("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = "
                                "'evaluations_month_unit'").fetchone()
        assert MINE in {row[0] for row in store.db.execute("SELECT name FROM _migrations")}
    finally:
        store.close()
