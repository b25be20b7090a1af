"""Each line of a unit's month is the officer's whole month read in brief (issue 13).

A unit's month (collector/evaluation/month.py `unit_month`) computes each officer's line on
its own (collector/evaluation/unit_rows/row.py), without the explanation lines, the criteria
table and the history of the officer's whole month. The naive reference here is how the line
was made before: the officer's whole month (`officer_month`), every figure of it, cut down to
the line (`naive_line`, the adapter month.py used). On a tiny generated province under both
presets (Decree 335's unit score for leaders included, and a quarterly period), as generated
and after ratings arrive late and the roster is corrected (so decided months' evidence reads
differently from their snapshot), every line of every unit's month must be equal, field by
field and in the same key order. Also, each against what it replaced: the scoring engine
without its lines, the grade table (`grade_info`), the coverage of many officers at once
(`coverage` one by one), a province's reads by period (the search per officer) and the
snapshot's changes looked up holder by holder (field by field from the top).
"""

from __future__ import annotations

import json
import random
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from province import generate, local_ms  # noqa: E402
from province_plan import TINY  # noqa: E402
from test_province_reads_equal import correct_roster, late_ratings  # noqa: E402

from collector.core.periods import parse_period, period_bounds  # noqa: E402
from collector.db.store import Store  # noqa: E402
from collector.evaluation import month as monthly, scoring, sources  # noqa: E402
from collector.evaluation import task_records  # noqa: E402
from collector.evaluation.month_view import grade_info  # noqa: E402
from collector.evaluation.policy import GRADE_CODES, load_preset  # noqa: E402
from collector.evaluation.rules.leadership import Subordinate  # noqa: E402
from collector.evaluation.unit_rows.row import Lines  # noqa: E402
from collector.ratings import evidence  # noqa: E402

NOW = local_ms(date(2026, 3, 20), 12)
TODAY = date(2026, 3, 20)
PERIODS = {"month": ["2026-01", "2026-02", "2026-03"], "quarter": ["2026-Q1"]}


def naive_line(officer: dict, month: dict) -> dict:
    """The officer's line cut from their whole month: month.py's `unit_row` before issue 13's
    unit rows, verbatim but for the per-counter coverage only the whole month holds."""
    sat, workflow, suggestion = month["satisfaction"], month["workflow"], month["suggestion"]
    review, decision = workflow["review"] or {}, workflow["decision"] or {}
    return {
        "officer_id": officer["officer_id"], "name": officer["name"], "title": officer["title"],
        "unit_id": officer["unit_id"], "unit_name": officer["unit_name"],
        "satisfaction": {
            "ratings": sat["total"], "index": sat["index"],
            "share_satisfied": sat["share_satisfied"], "share_interval": sat["share_interval"],
            "sufficient": sat["sufficient"], "filtered": sat["filtered"]["total"],
            "median": sat["comparison"]["median"],
            "difference": sat["comparison"]["difference"]},
        "coverage": {k: v for k, v in sat["coverage"].items() if k != "by_counter"},
        "tasks": {**month["tasks"]["summary"], **month["tasks"]["percentages"]},
        "suggestion_basis": month["suggestion_basis"],
        "suggested_score": suggestion["score"] if suggestion else None,
        "suggested_grade": suggestion["grade"] if suggestion else None,
        "evidence_points": month["evidence_points"]["total"],
        "self_total": (workflow["self"] or {}).get("total"),
        "leader_total": review.get("total"),
        "proposed_grade": review.get("proposed_grade"),
        "disciplined": workflow["disciplined"],
        "final_grade": decision.get("grade"), "final_score": decision.get("score"),
        "decided_by": decision.get("by"), "decided_by_name": decision.get("by_name"),
        "decided_at": decision.get("at"), "status": workflow["status"],
        "insufficient_reason": sat.get("insufficient_reason"),
        "evidence_changes": month.get("evidence_changes") or [],
    }


@pytest.fixture(scope="module", params=["hanoi-3814", "decree-335"])
def province(request, tmp_path_factory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("province") / "province.db"
    generate(path, 1.0, seed=3, policy_name=request.param, now=NOW,
             first=date(2026, 1, 1), shape=TINY)
    return path, request.param


def check_lines(db, policy) -> set[str]:
    """Every line of every unit's month equals the naive one; the fields that changed."""
    units = [u[0] for u in db.execute(
        "SELECT id FROM units WHERE parent_id IS NULL OR kind != 'office' ORDER BY id")]
    changed = set()
    for month in PERIODS[policy.period]:
        for unit in units:
            report = monthly.unit_month(db, unit, month, policy, now_ms=NOW, today=TODAY)
            for row in report["officers"]:
                whole = monthly.officer_month(db, row["officer_id"], month, policy, now_ms=NOW,
                                              today=TODAY)
                expected = naive_line(row, whole)
                assert json.dumps(row) == json.dumps(expected), (unit, month, row["officer_id"])
                assert row == expected
                changed |= {line["field"] for line in row["evidence_changes"]}
                changed |= {"offline"} if row["insufficient_reason"] else set()
    return changed


def test_every_line_is_the_whole_month_in_brief(province, tmp_path):
    path, preset = province
    copy = tmp_path / "copy.db"
    copy.write_bytes(path.read_bytes())
    store = Store(copy)
    rng = random.Random(5)
    try:
        policy = load_preset(preset)
        check_lines(store.db, policy)
        check_lines(store.db, replace(policy, period="quarter"))
        late_ratings(store, rng, 8, "a")
        correct_roster(store, rng)
        # A province's close reads the period's rows for everyone (sources._BY_PERIOD).
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(sources, "_BY_PERIOD", 0)
            check_lines(store.db, policy)
        # Decided months whose evidence moved: their lines carry the changes.
        assert {"satisfaction.total", "satisfaction.coverage.duty_hours"} <= check_lines(
            store.db, policy)
        # The devices heard of in February no longer, and a minimum nobody reaches: every
        # officer on duty reads "insufficient because the counter was offline", which their
        # snapshot did not say.
        with store.db.conn:
            store.db.execute("DELETE FROM device_online_spans WHERE starts_at >= ? AND "
                             "starts_at < ?", [local_ms(date(2026, 2, 1)),
                                               local_ms(date(2026, 3, 1))])
        strict = replace(policy, satisfaction=replace(policy.satisfaction, min_ratings=10_000))
        assert {"offline", "satisfaction.insufficient_reason",
                "satisfaction.coverage.online_hours"} <= check_lines(store.db, strict)
    finally:
        store.close()


@pytest.mark.parametrize("preset", ["hanoi-3814", "decree-335"])
def test_the_engine_without_lines_gives_the_same_figures(preset):
    policy = load_preset(preset)
    rng = random.Random(13)
    leader = [c for c in policy.criteria if c.source == "leader"]
    for _ in range(400):
        total = rng.choice((0, 3, 29, 30, 31, 120))
        share = rng.random()
        sat = scoring.SatisfactionEvidence(
            total=total, index=rng.uniform(0, 100) if total else None,
            share_satisfied=share if total else None,
            interval=(share * 0.9, min(1.0, share * 1.1)) if total else None,
            sufficient=total >= 30)
        tasks = []
        for i in range(rng.choice((0, 1, 3))):
            delays = rng.choice((0, 0, 1))
            tasks.append(scoring.Task(weight=rng.choice((0.5, 1.0, 2.0)),
                                      completed=rng.random() < 0.8,
                                      major_errors=rng.choice((0, 0, 1, 2)), delays=delays,
                                      delays_excused=rng.choice((0, delays)), title=f"t{i}"))
        task_ev = scoring.TaskEvidence(tasks=tuple(tasks), registered=len(tasks))
        unit = (scoring.UnitEvidence(tuple(
            Subordinate(f"o{i}", f"O {i}", rng.choice((None, *GRADE_CODES)), rng.random() < 0.5)
            for i in range(rng.choice((1, 4))))) if rng.random() < 0.3 else None)
        scores = {c.code: rng.choice((0.0, c.points / 3, float(c.points))) for c in leader}
        disciplined = rng.random() < 0.1
        full = scoring.suggest(policy, sat, task_ev, scores, disciplined, unit)
        quick = scoring.suggest(policy, sat, task_ev, scores, disciplined, unit, explain=False)
        assert full.lines and quick.lines == ()
        assert replace(full, lines=()) == quick


def test_the_grade_table_answers_as_grade_info():
    for preset in ("hanoi-3814", "decree-335"):
        policy = load_preset(preset)
        grades = Lines(policy, parse_period("2026-03"), TODAY)
        for value in (*GRADE_CODES, *policy.letters.values(), None, "", "X", "hoàn thành"):
            assert grades.grade(value) == grade_info(policy, value), value
        first = grades.grade(GRADE_CODES[0])
        first["vi"] = "changed by a caller"
        assert grades.grade(GRADE_CODES[0]) == grade_info(policy, GRADE_CODES[0])


def naive_coverage(duty, online, month, now_ms=None, receiving=None) -> evidence.Coverage:
    """ratings/evidence.coverage as it was before `Coverages`: each officer's counters'
    online time and the receiving record closed and merged again."""
    month_start, month_end = period_bounds(month)
    horizon = month_end if now_ms is None else max(month_start, min(month_end, now_ms))

    def closed(intervals):
        return [(s, horizon if e is None else e) for s, e in intervals
                if (horizon if e is None else e) > s]

    shifts: dict[str, list] = {}
    for counter, start, end in duty:
        shifts.setdefault(counter, []).extend(closed([(start, end)]))
    all_duty = evidence.clip([iv for ivs in shifts.values() for iv in ivs], month_start, horizon)
    covered = []
    for counter, intervals in shifts.items():
        covered.extend(evidence.intersect(intervals, closed(online.get(counter, ()))))
    covered = evidence.clip(covered, month_start, horizon)
    unknown = 0
    if receiving is not None:
        known = covered + evidence.intersect(all_duty, closed(receiving))
        unknown = evidence.measure(all_duty) - evidence.measure(known)
    return evidence.Coverage(duty_ms=evidence.measure(all_duty),
                             online_ms=evidence.measure(covered), unknown_ms=unknown)


def test_coverages_of_many_officers_are_each_officers_coverage():
    rng = random.Random(21)
    start, end = period_bounds("2026-02")
    hour = 3_600_000

    def spans(n: int, open_end: bool) -> list[tuple]:
        out = []
        for _ in range(n):
            begins = rng.randint(start - 48 * hour, end + 24 * hour)
            out.append((begins, begins + rng.randint(0, 30) * hour))
        if open_end and out:
            out[-1] = (out[-1][0], None)
        return out

    for _ in range(60):
        counters = [f"q{i}" for i in range(rng.randint(1, 4))]
        online = {c: spans(rng.randint(0, 30), rng.random() < 0.3) for c in counters[1:]}
        receiving = rng.choice((None, spans(rng.randint(1, 5), rng.random() < 0.5)))
        now = rng.choice((None, start + 10 * 24 * hour, end + hour))
        many = evidence.Coverages(online, "2026-02", now, receiving)
        for _ in range(8):
            duty = [(rng.choice(counters), s, e) for s, e in spans(rng.randint(0, 25), False)]
            assert many.of(duty) == naive_coverage(duty, online, "2026-02", now, receiving)
            assert evidence.coverage(duty, online, "2026-02", now, receiving) == many.of(duty)


def test_a_period_read_for_most_officers_is_the_read_per_officer(province, monkeypatch):
    """A set of most officers (a province's close) has the period's shifts, presses and tasks
    read for everyone and kept for the set: the same rows as the search per officer. A unit's officers read with
    their workflow rows are the officers and the rows read apart."""
    path, _ = province
    store = Store(path)
    try:
        db = store.db
        everyone = [row[0] for row in db.execute("SELECT id FROM officers ORDER BY id")]
        units = [row[0] for row in db.execute("SELECT id FROM units ORDER BY id")]
        for month in PERIODS["month"]:
            for ids in (everyone, everyone[::3], everyone[1:]):
                searched = (sources.evidence_shifts(db, ids, month),
                            sources.evidence_presses(db, ids, month),
                            sources.evidence_presses(db, ids, "2026-Q1"))
                monkeypatch.setattr(sources, "_BY_PERIOD", 0)
                assert (sources.evidence_shifts(db, ids, month),
                        sources.evidence_presses(db, ids, month),
                        sources.evidence_presses(db, ids, "2026-Q1")) == searched
                monkeypatch.undo()
                assert all(searched)
                assert task_records.officers_task_figures(db, ids, month, everyone=True) == \
                    task_records.officers_task_figures(db, ids, month) != {}
            first, last = monthly.check_month(month)
            for some in (units, units[::2], units[1:2]):
                officers, rows = sources.evidence_month_lines(db, some, first, last, month)
                apart = sources.evidence_officers(db, some, first, last, month=month)
                assert officers == [{k: o[k] for k in ("id", "name", "title", "unit_id",
                                                       "unit_name", "post_group")}
                                    for o in apart]
                assert rows == sources.evidence_evaluations_brief(
                    db, [o["id"] for o in apart], month)
                assert bool(rows) == (month != "2026-03")
    finally:
        store.close()


def naive_changes(snapshot, now) -> list[dict]:
    """snapshot_changes.changes as it was before issue 13 (each field looked up from the top
    of both reports), verbatim."""
    from collector.evaluation.snapshot_changes import (
        _FIELDS, _FLAGS, _MISSING, _number, _shown, _text)

    def at(report, path):
        for key in path:
            if not isinstance(report, dict) or key not in report:
                return _MISSING
            report = report[key]
        return report

    def grade(report):
        found = at(report, ("suggestion", "grade"))
        return found if found is None or isinstance(found, dict) else _MISSING

    if not isinstance(snapshot, dict):
        return []
    lines = []
    for path, vi, en, decimals, percent in _FIELDS:
        old, new = at(snapshot, path), at(now, path)
        if old is _MISSING or new is _MISSING:
            continue
        if not all(value is None or _number(value) for value in (old, new)):
            continue
        old, new = _shown(old, decimals, percent), _shown(new, decimals, percent)
        if old != new:
            lines.append({"field": ".".join(path),
                          "vi": f"{vi}: {_text(old, decimals, percent, 'vi')} → "
                                f"{_text(new, decimals, percent, 'vi')}",
                          "en": f"{en}: {_text(old, decimals, percent, 'en')} → "
                                f"{_text(new, decimals, percent, 'en')}"})
    for path, vi, en, shown in _FLAGS:
        old, new = at(snapshot, path), at(now, path)
        if old is _MISSING or new is _MISSING or old == new:
            continue
        (old_vi, old_en), (new_vi, new_en) = (shown.get(v, (str(v), str(v))) for v in (old, new))
        lines.append({"field": ".".join(path), "vi": f"{vi}: {old_vi} → {new_vi}",
                      "en": f"{en}: {old_en} → {new_en}"})
    old, new = grade(snapshot), grade(now)
    if old is not _MISSING and new is not _MISSING and \
            (old or {}).get("code") != (new or {}).get("code"):
        old, new = old or {}, new or {}
        lines.append({"field": "suggestion.grade",
                      "vi": f"Xếp loại gợi ý: {old.get('vi') or '—'} → {new.get('vi') or '—'}",
                      "en": f"Suggested grade: {old.get('en') or '—'} → {new.get('en') or '—'}"})
    return lines


def test_changes_read_each_holder_once_and_say_what_they_said():
    """snapshot_changes.changes looks each holder up once: the same lines as field by field,
    for reports with fields missing, holders that are not dicts, None, text and booleans."""
    from collector.evaluation.snapshot_changes import _FIELDS, changes
    rng = random.Random(8)
    values = (None, 0, 1, 2.5, 2.54, 2.5000001, 0.66405, True, "x", [1], {"a": 1})
    grades = (None, "HTT", {"code": "HTXSNV", "vi": "Xuất sắc", "en": "Excellent"},
              {"code": "HTT"}, {"vi": "?"})

    def report() -> dict:
        out: dict = {}
        for path, *_ in _FIELDS:
            if rng.random() < 0.15:
                continue
            holder = out
            for key in path[:-1]:
                holder = holder.setdefault(key, {}) if isinstance(holder, dict) else holder
            if isinstance(holder, dict):
                holder[path[-1]] = rng.choice(values)
        for top in ("satisfaction", "tasks", "unit_score", "suggestion"):
            if rng.random() < 0.08:
                out[top] = rng.choice((None, 3, "gone"))
        if isinstance(out.get("satisfaction"), dict) and rng.random() < 0.7:
            out["satisfaction"]["insufficient_reason"] = rng.choice((None, "offline", "x"))
        if isinstance(out.get("suggestion"), dict) and rng.random() < 0.8:
            out["suggestion"]["grade"] = rng.choice(grades)
        return out

    said = 0
    for _ in range(3000):
        before, now = report(), report()
        if rng.random() < 0.3:
            now = json.loads(json.dumps(before))
        assert changes(before, now) == naive_changes(before, now)
        said += bool(changes(before, now))
    assert said > 1000
    assert changes(None, report()) == [] and changes("text", report()) == []
