"""The demo's seeded past (collector/demo/history/): idempotent, deterministic, attributed by
the roster, and a previous month that Hoàn Kiếm decided and Ba Đình left half-way.

The present is fixed at Wednesday 18/03/2026 09:00 (UTC+7), so the history runs from
17/01/2026 and the previous month is 02/2026, whose steps were due on 3, 5 and 7 March. The
seed's own shifts start at the real present, later than that, as on a first demo run.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime

import pytest

from collector.db import audit
from collector.evaluation import month as monthly, tasks
from collector.demo.history import ACTOR, seed_history
from collector.evaluation.policy import load_preset
from collector.demo.seed import OFFICERS, seed_demo
from collector.db.store import Store
from collector.core.timeline import LOCAL_TZ
from collector.evaluation.workflow.records import evaluation_row
from collector.evaluation.workflow.status import unit_evaluation_status
from collector.roster.attribution import attribute

NOW = int(datetime(2026, 3, 18, 9, 0, tzinfo=LOCAL_TZ).timestamp() * 1000)
TODAY = date(2026, 3, 18)
MONTH = "2026-02"
POLICY = load_preset("hanoi-3814")


def citizens(rng, tendency: float, scale: int) -> int:
    """A plain stand-in for the demo's citizens (collector.demo.citizens.choose_level), simpler
    to reason about: satisfied (one of the top two levels) with probability `tendency`."""
    if rng.random() < tendency:
        return rng.randint(scale - 1, scale)
    return rng.randint(1, scale - 2)


def seeded(path, devices: int = 4, days: int = 60, now: int = NOW) -> tuple[Store, object]:
    store = Store(path)
    summary = seed_history(store, seed_demo(store, devices), days, now=now, levels=citizens)
    return store, summary


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    store, _ = seeded(tmp_path_factory.mktemp("history") / "hailong.db")
    yield store
    store.close()


def fingerprint(store: Store) -> dict[str, object]:
    """Row counts of every table, a digest of the ratings, and the audit chain's head."""
    tables = [row[0] for row in store.db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
    counts = {t: store.db.execute(f"SELECT count(*) FROM [{t}]").fetchone()[0] for t in tables}
    ratings = hashlib.sha256(repr(store.db.execute(
        "SELECT id, level, officer_id, pressed_at, reason, excluded FROM ratings "
        "ORDER BY id").fetchall()).encode()).hexdigest()
    return {"counts": counts, "ratings": ratings, "audit": audit.head(store.db)}


def test_the_history_fills_the_weeks_before_today(history):
    counts = fingerprint(history)["counts"]
    assert counts["ratings"] > 2000 and counts["tasks"] > 200
    last = history.db.execute("SELECT max(pressed_at), max(received_at) FROM ratings").fetchone()
    assert last[0] < NOW and last[1] < NOW
    assert history.db.execute("SELECT max(at) FROM audit_log").fetchone()[0] <= NOW


def test_seeding_again_on_the_same_database_changes_nothing(history):
    before = fingerprint(history)
    again = Store(history.path)  # as a second `hailong demo` run opens it
    try:
        summary = seed_history(again, seed_demo(again, 4), 60, now=NOW, levels=citizens)
    finally:
        again.close()
    assert summary.skipped == "already seeded"
    assert fingerprint(history) == before


def test_the_same_seed_and_day_give_the_same_history(tmp_path):
    first, _ = seeded(tmp_path / "a.db", devices=1, days=7)
    second, _ = seeded(tmp_path / "b.db", devices=1, days=7)
    try:
        assert fingerprint(first)["ratings"] == fingerprint(second)["ratings"]
        assert fingerprint(first)["counts"] == fingerprint(second)["counts"]
    finally:
        first.close()
        second.close()


def test_every_seeded_rating_is_attributed_by_the_roster_to_the_officer_on_shift(history):
    rows = history.db.execute(
        "SELECT r.id, r.device_id, r.pressed_at, r.officer_shown, r.officer_id, r.attribution, "
        "s.officer_id FROM ratings r JOIN devices d ON d.id = r.device_id "
        "LEFT JOIN roster_shifts s ON s.counter_id = d.counter_id AND s.created_by = ? "
        "AND s.replaced_at IS NULL AND s.starts_at <= r.pressed_at AND s.ends_at > r.pressed_at "
        "WHERE r.id LIKE 'demo:%'", [ACTOR]).fetchall()
    assert len(rows) > 2000
    wrong = [row for row in rows if row[6] is None or row[4:6] != (row[6], "roster")]
    assert wrong == []
    # The store's own rule agrees, through the placements seeded before the current ones.
    for rating_id, device, pressed_at, shown, officer, *_ in rows[::97]:
        assert attribute(history.db, device, pressed_at, shown) == (officer, "roster"), rating_id


def test_no_shifts_overlap_on_a_counter_or_for_an_officer(history):
    overlaps = history.db.execute(
        "SELECT a.id, b.id FROM roster_shifts a JOIN roster_shifts b ON a.id < b.id "
        "AND (a.counter_id = b.counter_id OR a.officer_id = b.officer_id) "
        "WHERE a.replaced_at IS NULL AND b.replaced_at IS NULL "
        "AND a.starts_at < COALESCE(b.ends_at, 9e15) AND b.starts_at < COALESCE(a.ends_at, 9e15)"
    ).fetchall()
    assert overlaps == []
    last_past, first_current = history.db.execute(
        "SELECT (SELECT max(ends_at) FROM roster_shifts WHERE created_by = ?), "
        "(SELECT min(starts_at) FROM roster_shifts WHERE created_by <> ?)", [ACTOR, ACTOR]
    ).fetchone()
    assert last_past <= NOW < first_current


def test_officers_rotate_between_counters(history):
    counters_of = dict(history.db.execute(
        "SELECT officer_id, count(DISTINCT counter_id) FROM roster_shifts WHERE created_by = ? "
        "GROUP BY officer_id", [ACTOR]).fetchall())
    assert max(counters_of.values()) > 1
    assert len(counters_of) > 3  # colleagues without a counter of their own relieve others


@pytest.mark.parametrize("unit", ["hk", "bd"])
def test_coverage_is_below_full_for_someone_and_never_above(history, unit):
    report = monthly.unit_month(history.db, unit, MONTH, POLICY, now_ms=NOW, today=TODAY)
    shares = [row["coverage"]["share"] for row in report["officers"]
              if row["coverage"]["share"] is not None]
    assert shares and max(shares) <= 1
    if unit == "hk":  # the afternoon a device was off fell in 02/2026
        assert min(shares) < 0.97


def test_the_weaker_officer_and_the_excellent_one_stand_apart(history):
    report = monthly.unit_month(history.db, "hk", MONTH, POLICY, now_ms=NOW, today=TODAY)
    rows = {row["officer_id"]: row for row in report["officers"]}
    excellent, weaker = rows["HK-0001"], rows["HK-0002"]
    assert excellent["satisfaction"]["share_satisfied"] > 0.7
    assert weaker["satisfaction"]["share_satisfied"] < 0.5
    assert excellent["final_grade"]["code"] == "HTXSNV"
    assert weaker["final_grade"]["code"] != "HTXSNV"
    assert history.db.execute("SELECT count(*) FROM ratings WHERE excluded = 'cooldown'"
                              ).fetchone()[0] > 0
    assert history.db.execute("SELECT count(*) FROM ratings WHERE reason IS NOT NULL "
                              "AND level > 1").fetchone()[0] == 0


def test_last_month_hoan_kiem_is_decided_by_its_chairman_within_the_quota(history):
    report = monthly.unit_month(history.db, "hk", MONTH, POLICY, now_ms=NOW, today=TODAY)
    counter_officers = [row for row in report["officers"] if row["unit_id"] == "hk-1c"]
    assert len(counter_officers) == 4
    for row in counter_officers + [r for r in report["officers"] if r["officer_id"] == "HK-0101"]:
        assert row["status"] == "decided", row["officer_id"]
        assert row["decided_by"] == "HK-0100"
        assert row["final_grade"]["code"] == row["proposed_grade"]["code"]
    assert not report["quota_final"]["exceeded"]


def test_the_ward_chairman_is_decided_by_the_city_chairman_so_nobody_is_late(history):
    """Issue 12: the city unit had no head, so each ward chairman waited for nobody and looked
    late every month. The city's chairman reviews and decides them; Hoàn Kiếm is done."""
    row = evaluation_row(history.db, "HK-0100", MONTH)
    assert (row["reviewed_by"], row["decided_by"]) == ("HN-0001", "HN-0001")
    status = unit_evaluation_status(history.db, POLICY, "hk", MONTH, TODAY)
    assert status["stages"]["decided"] == 6
    assert status["late"] == {"self": 0, "review": 0, "decision": 0}
    # Ba Đình's chairman, left half-way like his ward, awaits the city's chairman by name.
    ba_dinh = {o["officer_id"]: o for o in unit_evaluation_status(
        history.db, POLICY, "bd", MONTH, TODAY)["officers"]}
    assert {a["by"] for a in ba_dinh["BD-0100"]["awaiting"]} <= {"BD-0100", "HN-0001"}
    assert "review" in [a["step"] for a in ba_dinh["BD-0100"]["awaiting"]]


def test_the_city_chairman_is_evaluated_outside_hailong_not_late(history):
    """Issue 12: HN-0001 heads the top unit; nobody above him is in hailong, so the city's
    status shows him evaluated outside it rather than late waiting for "no one responsible"."""
    city = unit_evaluation_status(history.db, POLICY, "hn", MONTH, TODAY)
    chairman = {o["officer_id"]: o for o in city["officers"]}["HN-0001"]
    assert (chairman["awaiting"], chairman["late_steps"]) == ([], [])
    assert chairman["outside"] == {"vi": "ngoài hệ thống", "en": "evaluated outside hailong"}
    assert all(a["by"] is not None for o in city["officers"] for a in o["awaiting"])


def test_last_month_ba_dinh_is_half_way_and_late(history):
    status = unit_evaluation_status(history.db, POLICY, "bd", MONTH, TODAY)
    assert status["stages"]["decided"] == 0 and status["stages"]["reviewed"] == 1
    assert status["stages"]["self_done"] >= 1
    assert status["late"]["self"] >= 1 and status["late"]["review"] >= 1


@pytest.mark.parametrize("month", ["2026-01", "2026-02"])
def test_every_officer_has_a_work_plan_with_its_troubles(history, month):
    # The wards' officers; the city's chairman keeps his plan above the demo's wards.
    summaries = {officer: tasks.officer_month(history.db, officer, month, TODAY)["summary"]
                 for officer, _, _, unit, _ in OFFICERS if unit != "hn"}
    assert all(6 <= s["registered"] <= 10 for s in summaries.values()), summaries
    for ward in ("HK", "BD"):
        ward_sums = [s for officer, s in summaries.items() if officer.startswith(ward)]
        assert sum(s["late"] for s in ward_sums) >= 1
        assert sum(s["overdue"] for s in ward_sums) >= 1
        assert sum(s["excused"] for s in ward_sums) >= 1
    errors = history.db.execute(
        "SELECT count(*) FROM task_flags f JOIN tasks t ON t.id = f.task_id "
        "WHERE f.kind = 'major_error' AND t.deadline LIKE ?", [f"{month}-%"]).fetchone()[0]
    assert errors >= 2  # one per ward


def test_the_audit_chain_verifies_and_reads_in_time_order(history):
    assert audit.verify(history.db).ok
    times = [row[0] for row in history.db.execute("SELECT at FROM audit_log ORDER BY id")]
    assert times == sorted(times)
    actions = {row[0] for row in history.db.execute("SELECT DISTINCT action FROM audit_log")}
    assert {"roster.add", "task.create", "task.update", "task.quality_error",
            "task.excuse_delay", "evaluation.self", "evaluation.review",
            "evaluation.decide"} <= actions


def test_early_in_a_month_the_steps_happened_before_now(tmp_path):
    # Monday 02/03/2026 10:00: the usual days for February's steps (up to 7 March) are ahead.
    now = int(datetime(2026, 3, 2, 10, 0, tzinfo=LOCAL_TZ).timestamp() * 1000)
    store, summary = seeded(tmp_path / "early.db", devices=2, days=10, now=now)
    try:
        assert summary.evaluation_steps > 0
        assert store.db.execute("SELECT max(at) FROM audit_log").fetchone()[0] <= now
        decided = store.db.execute("SELECT count(*) FROM evaluations WHERE month = ? "
                                   "AND decided_by = 'HK-0100'", [MONTH]).fetchone()[0]
        assert decided == 5
        assert audit.verify(store.db).ok
    finally:
        store.close()


def test_zero_days_seeds_nothing(tmp_path):
    store, summary = seeded(tmp_path / "none.db", days=0)
    try:
        assert summary.skipped == "disabled"
        assert store.db.execute("SELECT count(*) FROM roster_shifts WHERE created_by = ?",
                                [ACTOR]).fetchone()[0] == 0
    finally:
        store.close()


@pytest.mark.parametrize("devices", [2, 4])
def test_no_task_change_reaches_a_month_after_its_decision(tmp_path, devices):
    """A late completion or an excuse the plan puts after the head's decision is refused, as it
    would be for a person (issue 10: no task write into a decided month); the demo leaves it
    out instead of stopping. 07/12/2026 18:00 with two devices is when the demo first stopped
    on it."""
    now = int(datetime(2026, 12, 7, 18, 0, tzinfo=LOCAL_TZ).timestamp() * 1000)
    store, summary = seeded(tmp_path / "locked.db", devices=devices, now=now)
    try:
        late = store.db.execute(
            "SELECT count(*) FROM task_updates u JOIN tasks t ON t.id = u.task_id "
            "JOIN evaluations e ON e.officer_id = t.officer_id "
            "AND e.month = substr(t.deadline, 1, 7) WHERE e.decided_at IS NOT NULL "
            "AND u.at > e.decided_at").fetchone()[0]
        assert summary.tasks > 0 and late == 0
    finally:
        store.close()


@pytest.mark.parametrize("moment", [datetime(2026, 12, 1, 9, 0), datetime(2026, 12, 2, 21, 0),
                                    datetime(2027, 1, 1, 9, 0), datetime(2026, 4, 8, 9, 0)])
def test_the_history_seeds_on_the_first_days_of_a_month(tmp_path, moment):
    """The demo stopped on the 1st and 2nd of each month (a review pressed before the month
    was over) and on 08/04 (one before the self-evaluation was due): a step the workflow
    refuses is left out, the rest seeded, and no review comes before the month is over."""
    now = int(moment.replace(tzinfo=LOCAL_TZ).timestamp() * 1000)
    store, summary = seeded(tmp_path / "first-days.db", now=now)
    try:
        month_over = int(datetime(moment.year, moment.month, 1, tzinfo=LOCAL_TZ).timestamp()
                         * 1000)
        early = store.db.execute("SELECT count(*) FROM evaluations WHERE reviewed_at < ? "
                                 "OR decided_at < ?", [month_over, month_over]).fetchone()[0]
        assert summary.ratings > 0 and early == 0
    finally:
        store.close()
