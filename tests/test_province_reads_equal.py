"""The fast paths of issue 13's province reads give exactly what the naive computation gives.

A tiny province-year from bench/province.py (two top units, five counters, January to March
2026: January decided, February partly, March under way) is changed the ways evidence changes
after the fact — ratings arriving late (the tail the month counts have not folded), a roster
correction and a device moved from a past day (both re-attribute folded ratings: the schema's
triggers move their counts), a fold in between — and after every step each fast path is
compared with the naive one over the raw rows:

- the month counts (collector/ratings/month_counts.py) with a GROUP BY of `ratings`, folded or
  in the tail, and with the raw path forced (a tail past TAIL_LIMIT);
- each officer's month in a unit's month with `summarise` over the presses one by one, the
  unit comparison with `unit_comparison` member by member, the tasks with `officer_tasks`
  officer by officer;
- a unit's month computed for a page (`detail`) with the same month computed in full;
- the scoped overview with the whole overview filtered afterwards; the trends with each
  month summarised press by press; the ranks with counting the higher ones for each officer.
"""

from __future__ import annotations

import json
import random
import sys
from datetime import date, datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from province import generate, local_ms  # noqa: E402
from province_plan import TINY  # noqa: E402

from collector.core.timeline import LOCAL_TZ  # noqa: E402
from collector.db.store import Store  # noqa: E402
from collector.evaluation import month as monthly  # noqa: E402
from collector.evaluation import sources, task_records, tasks  # noqa: E402
from collector.evaluation.policy import load_preset  # noqa: E402
from collector.fleet.moves import move_device  # noqa: E402
from collector.ingest.recording import RATING_COLUMNS, add_past_ratings  # noqa: E402
from collector.org.directory import list_officers  # noqa: E402
from collector.org.organisation import unit_chain  # noqa: E402
from collector.org.registry import Registry  # noqa: E402
from collector.ratings import evidence, month_counts, overview, trends  # noqa: E402
from collector.ratings.satisfaction import summarise, summarise_counted  # noqa: E402
from collector.roster.shifts import RosterService  # noqa: E402
from dashboard.views.leaders import ranks, shown_ids  # noqa: E402

NOW = local_ms(date(2026, 3, 20), 12)
TODAY = date(2026, 3, 20)
MONTHS = ["2026-01", "2026-02", "2026-03"]
POLICY = load_preset("hanoi-3814")


def local_month(pressed_at: int) -> str:
    return datetime.fromtimestamp(pressed_at / 1000, LOCAL_TZ).strftime("%Y-%m")


# --- the naive computations -----------------------------------------------------------------

def naive_counts(db, officer_ids=None, months=MONTHS) -> list[tuple]:
    """GROUP BY of the raw ratings by officer, local month and kind, in that order."""
    grouped: dict[tuple, int] = {}
    for row in db.execute("SELECT officer_id, pressed_at, scale, level, excluded, reason, "
                          "attribution FROM ratings WHERE officer_id IS NOT NULL"):
        if officer_ids is not None and row[0] not in officer_ids:
            continue
        month = local_month(row[1])
        if month in months:
            key = (row[0], month, row[2], row[3], *(v or None for v in row[4:7]))
            grouped[key] = grouped.get(key, 0) + 1
    return sorted(((*k, n) for k, n in grouped.items()),
                  key=lambda r: (r[:4], *[(v is not None, v or "") for v in r[4:7]]))


def naive_presses(db, officer_id: str, months) -> list[tuple]:
    """The officer's presses one by one, as `summarise` takes them."""
    return [(scale, level, excluded, reason) for scale, level, excluded, reason, pressed in
            db.execute("SELECT scale, level, excluded, reason, pressed_at FROM ratings "
                       "WHERE officer_id = ? ORDER BY rowid", [officer_id])
            if local_month(pressed) in months]


def fields(summary) -> tuple:
    return (dict(summary.counts), summary.total, summary.exact_index, summary.index,
            summary.share_satisfied, summary.filtered, dict(summary.filtered_by_reason),
            dict(summary.reasons))


# --- the province and what happens to it ----------------------------------------------------

@pytest.fixture(scope="module")
def province(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("province") / "province.db"
    generate(path, 1.0, seed=7, now=NOW, first=date(2026, 1, 1), shape=TINY)
    return path


def late_ratings(store: Store, rng: random.Random, n: int, tag: str) -> None:
    """Ratings pressed in January and February that arrive only now (the tail)."""
    db = store.db
    rows = []
    for i, (device, counter) in enumerate(db.execute(
            "SELECT id, counter_id FROM devices ORDER BY id").fetchall()):
        for k in range(n):
            day = date(2026, 1 + (k % 2), 12 + k % 10)
            pressed = local_ms(day, 9) + rng.randint(0, 3 * 3_600_000)
            officer = db.execute(
                "SELECT officer_id FROM roster_shifts WHERE counter_id = ? AND replaced_at "
                "IS NULL AND starts_at <= ? AND ends_at > ?", [counter, pressed, pressed]
            ).fetchone()
            rows.append((f"{device}:late{tag}:{k}", device, 9000 + i, k, rng.randint(1, 4), 4,
                         officer and officer[0], officer and officer[0],
                         "roster" if officer else "none", None, pressed, pressed, "device",
                         NOW, "1.4.2", rng.choice((None, "waiting")), None,
                         rng.choice((None, None, None, "cooldown"))))
    assert len(rows[0]) == len(RATING_COLUMNS)
    add_past_ratings(db, rows)


def correct_roster(store: Store, rng: random.Random) -> None:
    """A January shift given to a spare officer of the same pool, another cut short by an
    hour (its last presses then belong to nobody): both re-attribute folded ratings."""
    db = store.db
    service = RosterService(store, actor="test")
    shifts = db.execute("SELECT id, counter_id, officer_id, starts_at, ends_at FROM "
                        "roster_shifts WHERE replaced_at IS NULL AND starts_at >= ? AND "
                        "starts_at < ? ORDER BY id", [local_ms(date(2026, 1, 5)),
                                                      local_ms(date(2026, 1, 25))]).fetchall()
    shift_id, counter, officer, start, end = rng.choice(shifts)
    busy = {row[0] for row in db.execute(
        "SELECT officer_id FROM roster_shifts WHERE replaced_at IS NULL AND starts_at < ? "
        "AND ends_at > ?", [end, start])}
    pool = [row[0] for row in db.execute(
        "SELECT id FROM officers WHERE unit_id = (SELECT unit_id FROM officers WHERE id = ?) "
        "AND post_group IS NOT NULL ORDER BY id", [officer])]
    spare = next(o for o in pool if o not in busy)
    service.correct_shift(shift_id, officer_id=spare, reason="Nhầm người trực")
    other = rng.choice([s for s in shifts if s[0] != shift_id])
    service.correct_shift(other[0], ends_at=other[4] - 3_600_000, reason="Về sớm")


def move_a_device(store: Store) -> None:
    """The first ward's first device was at its second counter since 2 February."""
    device, counter = store.db.execute(
        "SELECT d.id, (SELECT id FROM counters WHERE unit_id = c.unit_id AND id != c.id "
        "ORDER BY id LIMIT 1) FROM devices d JOIN counters c ON c.id = d.counter_id "
        "ORDER BY d.id LIMIT 1").fetchone()
    other = store.db.execute("SELECT id FROM devices WHERE counter_id = ?",
                             [counter]).fetchone()[0]
    # The other board goes to the first counter from the same day: a swap.
    first = store.db.execute("SELECT counter_id FROM devices WHERE id = ?", [device]).fetchone()[0]
    registry = Registry(store)
    move_device(registry, device, counter, placed_from="2026-02-02")
    move_device(registry, other, first, placed_from="2026-02-02")


def fold(store: Store) -> None:
    with store.db.conn:
        month_counts.fold(store.db)


STEPS = [("as generated", lambda store, rng: None),
         ("late ratings in the tail", lambda store, rng: late_ratings(store, rng, 6, "a")),
         ("a roster correction", correct_roster),
         ("folded", lambda store, rng: fold(store)),
         ("a device moved from a past day", lambda store, rng: move_a_device(store)),
         ("more late ratings, a correction of them", lambda store, rng: (
             late_ratings(store, rng, 4, "b"), correct_roster(store, rng)))]


# --- the comparisons ------------------------------------------------------------------------

def check_counts(db, monkeypatch) -> None:
    assert month_counts.counts(db, None, MONTHS) == naive_counts(db)
    some = sorted({row[0] for row in db.execute("SELECT officer_id FROM ratings WHERE "
                                                "officer_id IS NOT NULL LIMIT 40")})
    assert month_counts.counts(db, some, MONTHS[:2]) == naive_counts(db, set(some), MONTHS[:2])
    # What was folded is what the folded ratings group to.
    through = db.execute("SELECT through FROM rating_months_state").fetchone()[0]
    folded = sorted(tuple(r) for r in db.execute(
        "SELECT officer_id, month, scale, level, excluded, reason, attribution, n "
        "FROM rating_months"))
    grouped: dict[tuple, int] = {}
    for row in db.execute("SELECT officer_id, pressed_at, scale, level, excluded, reason, "
                          "attribution FROM ratings WHERE rowid <= ? AND officer_id IS NOT NULL",
                          [through]):
        key = (row[0], local_month(row[1]), row[2], row[3], *(v or "" for v in row[4:7]))
        grouped[key] = grouped.get(key, 0) + 1
    assert folded == sorted((*k, n) for k, n in grouped.items())
    # A writer that never folds: past TAIL_LIMIT the raw ratings are grouped instead.
    monkeypatch.setattr(month_counts, "TAIL_LIMIT", -1)
    assert month_counts.counts(db, None, MONTHS) == naive_counts(db)
    monkeypatch.undo()


def check_unit_month(db, unit: str, month: str) -> None:
    full = monthly.unit_month(db, unit, month, POLICY, now_ms=NOW, today=TODAY)
    rows = {row["officer_id"]: row for row in full["officers"]}
    members: dict[str, list[str]] = {}
    for row in full["officers"]:
        members.setdefault(row["unit_id"], []).append(row["officer_id"])
    summaries = {o: summarise(naive_presses(db, o, [month])) for o in rows}
    for officer_id, row in rows.items():
        naive = summaries[officer_id]
        sat = row["satisfaction"]
        assert (sat["ratings"], sat["index"], sat["share_satisfied"], sat["filtered"]) == (
            naive.total, naive.index, naive.share_satisfied, naive.filtered)
        peers = {o: {"sufficient": summaries[o].total >= POLICY.satisfaction.min_ratings,
                     "index": summaries[o].exact_index} for o in members[row["unit_id"]]}
        comparison = evidence.unit_comparison(officer_id, peers)
        assert (sat["median"], sat["difference"]) == (comparison["median"],
                                                      comparison["difference"])
        task_ev = tasks.task_evidence(task_records.officer_tasks(db, officer_id, month), month,
                                      today=TODAY)
        assert {k: row["tasks"][k] for k in tasks.evidence_dict(task_ev)} == \
            tasks.evidence_dict(task_ev)
    # An officer's own month (only their duty and tasks read, the members' ratings for the
    # comparison) reads as their row in the unit's month.
    for officer_id in sorted(rows)[::17]:
        own = monthly.officer_month(db, officer_id, month, POLICY, now_ms=NOW, today=TODAY)
        row = rows[officer_id]
        if own["officer"]["unit_id"] != row["unit_id"]:
            continue
        assert (own["satisfaction"]["total"], own["satisfaction"]["comparison"]["median"],
                {k: v for k, v in own["satisfaction"]["coverage"].items() if k != "by_counter"},
                (own["suggestion"] or {}).get("score"), own["evidence_points"]["total"]) == (
            row["satisfaction"]["ratings"], row["satisfaction"]["median"], row["coverage"],
            row["suggested_score"], row["evidence_points"])
    # A page of it: the same unit figures, the same rows shown, the others in brief.
    for sort, page in (("index", 1), ("name", 2), ("ratings", 1)):
        wanted: list[str] = []
        paged = monthly.unit_month(db, unit, month, POLICY, now_ms=NOW, today=TODAY,
                                   detail=lambda brief: wanted.extend(
                                       shown_ids(brief, sort, page)) or wanted)
        for key in ("quota", "quotas", "quota_final", "progress", "sub_units",
                    "evidence_changed", "unit"):
            assert paged[key] == full[key], key
        assert shown_ids(paged["officers"], sort, page) == shown_ids(full["officers"], sort, page)
        for row in paged["officers"]:
            whole = rows[row["officer_id"]]
            if row["officer_id"] in wanted or whole["status"] == "decided":
                assert row == whole
            else:
                assert row["brief"] is True and row["evidence_changes"] == []
                for key in ("satisfaction", "status", "proposed_grade", "final_grade", "name",
                            "unit_id", "disciplined"):
                    assert row[key] == whole[key], key
        assert ranks(paged["officers"]) == ranks(full["officers"])


def check_overview_and_trends(db) -> None:
    everyone = overview.officers_overview(db, "2026-02")
    for row in everyone["officers"]:
        naive = summarise([p[:3] for p in naive_presses(db, row["id"], ["2026-02"])])
        assert (row["total"], row["index"], row["share_satisfied"], row["filtered"]) == (
            naive.total, naive.index, naive.share_satisfied, naive.filtered)
    ward = [u[0] for u in db.execute("SELECT id FROM units WHERE kind IN ('ward', 'commune')")]
    units = {u for w in ward for u in
             [r[0] for r in db.execute("SELECT id FROM units WHERE id = ? OR parent_id = ?",
                                       [w, w])]}
    led = {everyone["officers"][0]["id"]}
    scoped = overview.officers_overview(db, "2026-02", units=units, officers=led)
    assert scoped["officers"] == [o for o in everyone["officers"]
                                  if o["unit_id"] in units or o["id"] in led]
    ids = [o["id"] for o in list_officers(db)]
    got = trends.officers_trends(db, ids, "2026-03", 3, min_ratings=30)
    together: list[tuple] = []
    for officer_id in ids:
        for index, month in enumerate(MONTHS):
            presses = naive_presses(db, officer_id, [month])
            together.extend((month, p) for p in presses)
            kinds = [(s, lv, ex, 1) for s, lv, ex, _ in presses]
            assert got["officers"][officer_id][index] == trends.month_point(month, kinds, 30)
    for index, month in enumerate(MONTHS):
        kinds = [(s, lv, ex, 1) for m, (s, lv, ex, _) in together if m == month]
        assert got["total"][index] == trends.month_point(month, kinds, 30)
    shown = trends.officers_trends(db, ids, "2026-03", 3, min_ratings=30, series_for=ids[:3])
    assert shown["officers"] == {o: got["officers"][o] for o in sorted(ids[:3])}
    assert (shown["total"], shown["change"]) == (got["total"], got["change"])


def test_every_fast_path_equals_the_naive_computation_after_each_change(province, tmp_path,
                                                                       monkeypatch):
    path = tmp_path / "copy.db"
    path.write_bytes(province.read_bytes())
    store = Store(path)
    rng = random.Random(11)
    try:
        units = [u[0] for u in store.db.execute(
            "SELECT id FROM units WHERE parent_id IS NULL OR kind != 'office'")]
        for name, step in STEPS:
            step(store, rng)
            db = store.db
            check_counts(db, monkeypatch)
            for unit in units:
                for month in MONTHS:
                    check_unit_month(db, unit, month)
            check_overview_and_trends(db)
            presses = sources.evidence_presses(db, [o["id"] for o in list_officers(db)],
                                               "2026-Q1")
            assert presses == {o: [k[2:] for k in rows] for o, rows in _old_grouping(db)}, name
    finally:
        store.close()


def _old_grouping(db):
    """`evidence_presses` as it read before the month counts: one GROUP BY over the quarter."""
    start, end = local_ms(date(2026, 1, 1)), local_ms(date(2026, 4, 1))
    out: dict[str, list] = {}
    for row in db.execute("SELECT officer_id, scale, level, excluded, reason, attribution, "
                          "count(*) FROM ratings WHERE officer_id IS NOT NULL AND pressed_at >= ? "
                          "AND pressed_at < ? GROUP BY officer_id, scale, level, excluded, "
                          "reason, attribution", [start, end]):
        out.setdefault(row[0], []).append((None, None, *row[1:]))
    return out.items()


# --- worked by hand -------------------------------------------------------------------------

def test_grouped_presses_summarise_as_the_presses_one_by_one():
    # Three "very satisfied" (level 4 of 4: 100), one "not satisfied" with a reason (0), two
    # filtered: index (3 × 100 + 0) / 4 = 75.0, share satisfied 3 / 4, 2 filtered.
    grouped = summarise_counted([(4, 4, None, None, 3), (4, 1, None, "attitude", 1),
                                 (4, 2, "cooldown", None, 2)])
    assert (grouped.total, grouped.index, grouped.share_satisfied, grouped.filtered) == (
        4, 75.0, 0.75, 2)
    assert grouped.reasons == {"attitude": 1} and grouped.filtered_by_reason == {"cooldown": 2}
    one_by_one = summarise([(4, 4, None)] * 3 + [(4, 1, None, "attitude")]
                           + [(4, 2, "cooldown")] * 2)
    assert fields(grouped) == fields(one_by_one)


def test_a_folded_rating_re_attributed_moves_its_count(province, tmp_path):
    path = tmp_path / "copy.db"
    path.write_bytes(province.read_bytes())
    store = Store(path)
    try:
        db = store.db
        rid, officer, pressed = db.execute(
            "SELECT id, officer_id, pressed_at FROM ratings WHERE officer_id IS NOT NULL "
            "AND excluded IS NULL AND reason IS NULL ORDER BY rowid LIMIT 1").fetchone()
        month = local_month(pressed)

        def count(who: str) -> int:
            return sum(r[7] for r in month_counts.counts(db, [who], [month]))

        before = count(officer)
        with db.conn:
            db.execute("UPDATE ratings SET officer_id = 'CB000001', attribution = 'device' "
                       "WHERE id = ?", [rid])
        assert count(officer) == before - 1
        assert json.dumps(month_counts.counts(db, ["CB000001"], [month])) == json.dumps(
            naive_counts(db, {"CB000001"}, [month]))
    finally:
        store.close()


def test_a_chain_of_units_read_in_one_statement_is_the_walk(province):
    store = Store(province)
    try:
        db = store.db
        for (unit,) in db.execute("SELECT id FROM units").fetchall():
            walk, current = [], unit
            while current is not None and current not in walk:
                row = db.execute("SELECT parent_id FROM units WHERE id = ?",
                                 [current]).fetchone()
                if row is None:
                    break
                walk.append(current)
                current = row[0]
            assert unit_chain(db, unit) == walk
        assert unit_chain(db, "no-such-unit") == []
    finally:
        store.close()


def test_unit_comparisons_are_each_members_comparison():
    rng = random.Random(5)
    for _ in range(50):
        members = {f"o{i}": summarise([(4, rng.randint(1, 4), None)
                                       for _ in range(rng.choice((0, 3, 31, 40)))])
                   for i in range(rng.randint(1, 12))}
        got = evidence.unit_comparisons(members, 30)
        unit = {o: {"sufficient": s.total >= 30, "index": s.exact_index}
                for o, s in members.items()}
        assert got == {o: evidence.unit_comparison(o, unit) for o in members}


@pytest.mark.parametrize("preset", ["hanoi-3814", "decree-335"])
def test_evidence_points_read_off_the_scored_month_are_those_of_a_zero_scored_one(preset):
    """A month is scored once: the evidence's own points (tasks and the citizens' part) are
    read off the leader-scored suggestion, exactly as a second suggestion with every leader
    score at 0 gave them (month_view.zero_scored)."""
    from collector.evaluation import scoring
    from collector.evaluation.month_view import evidence_points, zero_scored
    from collector.evaluation.rules.leadership import Subordinate
    policy = load_preset(preset)
    rng = random.Random(preset)
    leader = [c for c in policy.criteria if c.source == "leader"]
    for _ in range(400):
        total = rng.choice((0, 5, 29, 30, 31, 77, 400))
        satisfied = rng.randint(0, total)
        sat = scoring.SatisfactionEvidence(
            total=total, index=rng.uniform(0, 100) if total else None,
            share_satisfied=satisfied / total if total else None,
            interval=evidence.wilson_interval(satisfied, total), sufficient=total >= 30)
        done = []
        for _ in range(rng.randint(0, 5)):
            delays = rng.randint(0, 2)
            done.append(scoring.Task(weight=rng.choice((0.1, 0.5, 1, 2, 7.5, 100)),
                                     completed=rng.random() < 0.8,
                                     major_errors=rng.randint(0, 5), delays=delays,
                                     delays_excused=rng.randint(0, delays), title="t"))
        tasks_ev = scoring.TaskEvidence(tasks=tuple(done), registered=len(done))
        unit = None
        if policy.unit_score and rng.random() < 0.5:
            unit = scoring.UnitEvidence(subordinates=tuple(
                Subordinate(f"o{i}", f"O {i}", rng.choice((None, "HTXSNV", "HTTNV", "HTNV",
                                                           "KHTNV")), rng.random() < 0.5)
                for i in range(rng.randint(1, 6))))
        scores = {c.code: rng.choice((0.0, c.points, round(rng.uniform(0, c.points), 2)))
                  for c in leader}
        disciplined = rng.random() < 0.1
        zero = scoring.suggest(policy, sat, tasks_ev, {c.code: 0.0 for c in leader},
                               disciplined, unit)
        scored = scoring.suggest(policy, sat, tasks_ev, scores, disciplined, unit)
        assert evidence_points(policy, zero_scored(policy, scored)) == \
            evidence_points(policy, zero)
