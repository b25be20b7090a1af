"""Evidence for an officer-month: Wilson interval, coverage, sufficiency, unit median."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.ratings.evidence import (
    INSUFFICIENT,
    Coverage,
    clip,
    coverage,
    intersect,
    measure,
    online_intervals,
    satisfaction_evidence,
    union,
    unit_comparison,
    wilson_interval,
)
from collector.ratings.satisfaction import summarise
from collector.core.timeline import month_bounds

Z = 1.959964
H = 3_600_000  # one hour in ms
M0, M1 = month_bounds("2026-11")  # 2026-11-01 00:00 ICT .. 2026-12-01 00:00 ICT


# --- Wilson ----------------------------------------------------------------------------
# z² = 3.841459 throughout.
@pytest.mark.parametrize("k, n, low, high", [
    # 0/10: p = 0, low = 0; high = z²/(n + z²) = 3.841459 / 13.841459 = 0.277533
    (0, 10, 0.0, 0.277533),
    # 10/10: high = 1; low = n/(n + z²) = 10 / 13.841459 = 0.722467
    (10, 10, 0.722467, 1.0),
    # 5/10: centre 0.5; half = z/(1 + 0.3841459) · √(0.025 + 3.841459/400)
    #      = 1.416009 · √0.0346036 = 1.416009 · 0.186020 = 0.263407
    (5, 10, 0.236593, 0.763407),
    # 81/100: z²/n = 0.0384146; centre = (0.81 + 0.0192073)/1.0384146 = 0.798532
    #      half = 1.959964/1.0384146 · √(0.81·0.19/100 + 3.841459/40000)
    #           = 1.887457 · √0.00163504 = 1.887457 · 0.0404356 = 0.076321
    (81, 100, 0.722212, 0.874852),
    # 1/1: low = 1/(1 + z²) = 1/4.841459 = 0.206549
    (1, 1, 0.206549, 1.0),
])
def test_wilson_matches_worked_values(k, n, low, high):
    got = wilson_interval(k, n)
    assert got == pytest.approx((low, high), abs=2e-6)


def test_wilson_edges_are_exact():
    assert wilson_interval(0, 7)[0] == 0.0
    assert wilson_interval(7, 7)[1] == 1.0


def test_wilson_of_nothing_is_none():
    assert wilson_interval(0, 0) is None


@pytest.mark.parametrize("k, n, z", [(-1, 5, Z), (6, 5, Z), (0, -1, Z), (1, 2, 0), (1, 2, -1),
                                     (True, 2, Z)])
def test_wilson_refuses_impossible_counts(k, n, z):
    with pytest.raises(ValueError):
        wilson_interval(k, n, z)


def test_wilson_narrows_with_more_evidence():
    small, large = wilson_interval(8, 10), wilson_interval(80, 100)
    assert large[1] - large[0] < small[1] - small[0]


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 10_000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_contains_share_stays_in_unit_and_solves_score_equation(kn):
    k, n = kn
    low, high = wilson_interval(k, n)
    p = k / n
    assert 0.0 <= low <= p <= high <= 1.0
    # Independent of the closed form: each bound p0 not at an exact edge solves Wilson's
    # score equation (p − p0)² = z² p0 (1 − p0) / n.
    for p0 in (low, high):
        if 0.0 < p0 < 1.0:
            assert (p - p0) ** 2 == pytest.approx(Z * Z * p0 * (1 - p0) / n, rel=1e-6,
                                                  abs=1e-12)


# --- Interval arithmetic ---------------------------------------------------------------
@pytest.mark.parametrize("given_, expected", [
    ([], []),
    ([(5, 10)], [(5, 10)]),
    ([(5, 10), (8, 12)], [(5, 12)]),            # overlap
    ([(0, 20), (5, 10)], [(0, 20)]),            # nesting
    ([(0, 5), (5, 10)], [(0, 10)]),             # touching: one stretch
    ([(10, 12), (0, 5)], [(0, 5), (10, 12)]),   # unsorted, disjoint
    ([(3, 3), (4, 6)], [(4, 6)]),               # empty dropped
])
def test_union(given_, expected):
    assert union(given_) == expected


@pytest.mark.parametrize("a, b, expected", [
    ([(0, 10)], [(5, 15)], [(5, 10)]),
    ([(0, 10)], [(10, 20)], []),                # touching shares no time
    ([(0, 100)], [(10, 20), (30, 40)], [(10, 20), (30, 40)]),
    ([(0, 15), (25, 35)], [(10, 30)], [(10, 15), (25, 30)]),
    ([(0, 10), (5, 20)], [(8, 9)], [(8, 9)]),   # overlapping input counted once
    ([], [(0, 10)], []),
])
def test_intersect(a, b, expected):
    assert intersect(a, b) == expected
    assert intersect(b, a) == expected


def test_clip_and_measure():
    assert clip([(-5, 5), (8, 30)], 0, 10) == [(0, 5), (8, 10)]
    assert clip([(0, 5)], 10, 10) == []
    assert measure([(0, 10), (5, 15), (20, 21)]) == 16


# --- Online intervals from status events -----------------------------------------------
S = 1000  # one second


@pytest.mark.parametrize("events, now, expected", [
    # heartbeats every 60 s, then the last will
    ([(0, "online"), (60 * S, "online"), (120 * S, "online"), (150 * S, "offline")], None,
     [(0, 150 * S)]),
    # a gap longer than 180 s without a will: offline from 180 s after the last status
    ([(0, "online"), (60 * S, "online"), (600 * S, "online"), (660 * S, "offline")], None,
     [(0, 240 * S), (600 * S, 660 * S)]),
    # a gap of exactly 180 s is tolerated
    ([(0, "online"), (180 * S, "online"), (200 * S, "offline")], None, [(0, 200 * S)]),
    # final open state: last status 30 s before now
    ([(0, "online"), (60 * S, "online")], 90 * S, [(0, None)]),
    # final state gone quiet before now: closed at its silence allowance
    ([(0, "online"), (60 * S, "online")], 1000 * S, [(0, 240 * S)]),
    # final state with no notion of now: closed at its silence allowance
    ([(0, "online")], None, [(0, 180 * S)]),
    # a will with no online before it, and repeated wills
    ([(0, "offline"), (10 * S, "offline"), (20 * S, "online"), (30 * S, "offline")], None,
     [(20 * S, 30 * S)]),
    # online and offline at the same instant: no empty interval
    ([(5 * S, "online"), (5 * S, "offline")], None, []),
    ([], 100, []),
])
def test_online_intervals(events, now, expected):
    assert online_intervals(events, 180 * S, now) == expected


@pytest.mark.parametrize("events, silence", [
    ([(10, "online"), (5, "online")], 180 * S),     # unsorted
    ([(10, "rebooting")], 180 * S),                 # unknown state
    ([(10, "online")], 0),                          # no silence allowance
])
def test_online_intervals_refuse_bad_input(events, silence):
    with pytest.raises(ValueError):
        online_intervals(events, silence)


# --- Coverage --------------------------------------------------------------------------
@pytest.mark.parametrize("duty, online, now, duty_h, online_h", [
    # 8 h shift, device online for 6 h of it
    ([("c1", M0 + 8 * H, M0 + 16 * H)], {"c1": [(M0 + 7 * H, M0 + 13 * H)]}, None, 8, 5),
    # two overlapping roster entries count once
    ([("c1", M0, M0 + 4 * H), ("c1", M0 + 2 * H, M0 + 6 * H)], {"c1": [(M0, M0 + 6 * H)]},
     None, 6, 6),
    # online time at another counter does not cover this one
    ([("c1", M0, M0 + 4 * H)], {"c2": [(M0, M0 + 4 * H)]}, None, 4, 0),
    # a counter with no device record is all offline
    ([("c1", M0, M0 + 4 * H)], {}, None, 4, 0),
    # a shift straddling the month start is clipped to the month
    ([("c1", M0 - 2 * H, M0 + 2 * H)], {"c1": [(M0 - 5 * H, None)]}, None, 2, 2),
    # a shift wholly outside the month
    ([("c1", M1, M1 + 8 * H), ("c1", M0 - 8 * H, M0)], {"c1": [(M0 - 9 * H, None)]},
     None, 0, 0),
    # open shift and open device interval end at now
    ([("c1", M0 + 10 * H, None)], {"c1": [(M0 + 11 * H, None)]}, M0 + 14 * H, 4, 3),
    # open shift without now runs to the month's end
    ([("c1", M1 - 3 * H, None)], {"c1": [(M1 - 1 * H, M1 + 5 * H)]}, None, 3, 1),
    # shifts later in the month have not happened yet
    ([("c1", M0, M0 + 2 * H), ("c1", M0 + 48 * H, M0 + 50 * H)], {"c1": [(M0, None)]},
     M0 + 24 * H, 2, 2),
    # overlapping shifts at two counters, both online: the officer's time counts once
    ([("c1", M0, M0 + 4 * H), ("c2", M0 + 2 * H, M0 + 6 * H)],
     {"c1": [(M0, M0 + 4 * H)], "c2": [(M0, M0 + 6 * H)]}, None, 6, 6),
    ([], {"c1": [(M0, None)]}, None, 0, 0),
])
def test_coverage(duty, online, now, duty_h, online_h):
    got = coverage(duty, online, "2026-11", now)
    assert (got.duty_ms, got.online_ms) == (duty_h * H, online_h * H)
    assert got.offline_ms == (duty_h - online_h) * H


def test_coverage_dict_reports_offline_as_missing_and_share():
    got = coverage([("c1", M0, M0 + 8 * H)], {"c1": [(M0, M0 + 6 * H)]}, "2026-11")
    assert got.as_dict() == {"duty_hours": 8.0, "online_hours": 6.0, "offline_hours": 2.0,
                             "share": 0.75, "unknown_hours": 0.0}
    assert Coverage(0, 0).share is None and Coverage(0, 0).as_dict()["share"] is None


def test_coverage_refuses_reversed_shift():
    with pytest.raises(ValueError):
        coverage([("c1", M0 + H, M0)], {}, "2026-11")


# Property test on a coarse grid: 10 h slots from BASE, so the month's start (slot 1) and
# end (slot 73) and every generated boundary fall on a slot edge and a slot count is exact.
UNIT = 10 * H
BASE = M0 - UNIT
spans = st.lists(st.tuples(st.integers(0, 80), st.integers(0, 20), st.booleans()), max_size=6)


def _build(raw):
    return [(BASE + a * UNIT, None if is_open else BASE + (a + b) * UNIT)
            for a, b, is_open in raw]


@settings(max_examples=200, deadline=None)
@given(duty=spans, on1=spans, on2=spans, now=st.one_of(st.none(), st.integers(0, 90)))
def test_coverage_never_exceeds_duty_and_matches_a_brute_force_count(duty, on1, on2, now):
    shifts = [("c1" if i % 2 else "c2", s, e) for i, (s, e) in enumerate(_build(duty))]
    online = {"c1": _build(on1), "c2": _build(on2)}
    now_ms = None if now is None else BASE + now * UNIT
    got = coverage(shifts, online, "2026-11", now_ms)
    assert 0 <= got.online_ms <= got.duty_ms
    horizon = M1 if now_ms is None else max(M0, min(M1, now_ms))

    def inside(t, s, e):
        return s <= t < (horizon if e is None else e)
    duty_slots = online_slots = 0
    for t in range(BASE, BASE + 120 * UNIT, UNIT):
        if not M0 <= t < horizon:
            continue
        at = [c for c, s, e in shifts if inside(t, s, e)]
        duty_slots += bool(at)
        online_slots += any(inside(t, s, e) for c in at for s, e in online[c])
    assert (got.duty_ms, got.online_ms) == (duty_slots * UNIT, online_slots * UNIT)


# --- Satisfaction evidence -------------------------------------------------------------
def presses(satisfied, dissatisfied, filtered=()):
    return ([(4, 4, None)] * satisfied + [(4, 1, None)] * dissatisfied
            + [(4, 2, reason) for reason in filtered])


@pytest.mark.parametrize("total, minimum, sufficient", [
    (9, 10, False),   # minimum − 1
    (10, 10, True),   # minimum
    (11, 10, True),
    (0, 1, False),
    (1, 1, True),
])
def test_insufficient_evidence_threshold(total, minimum, sufficient):
    ev = satisfaction_evidence(summarise(presses(total, 0)), minimum)
    assert ev["sufficient"] is sufficient
    assert ev["reason"] == (None if sufficient else
                            {"vi": "chưa đủ dữ liệu đánh giá", "en": "insufficient evidence"})


def test_evidence_carries_counts_interval_and_filtered_apart():
    summary = summarise(presses(8, 2, filtered=("cooldown", "cooldown", "burst")))
    ev = satisfaction_evidence(summary, 5)
    assert ev["total"] == 10 and ev["satisfied"] == 8
    assert ev["index"] == 80.0 and ev["share_satisfied"] == 0.8
    # 8/10: centre = (0.8 + 0.192073)/1.384146 = 0.716739;
    # half = 1.416009 · √(0.016 + 0.0096036) = 1.416009 · 0.160011 = 0.226577
    assert ev["share_interval"] == pytest.approx((0.4902, 0.9433), abs=1e-4)
    assert ev["filtered"] == {"total": 3, "by_reason": {"cooldown": 2, "burst": 1}}
    assert ev["sufficient"] and ev["reason"] is None


def test_evidence_of_no_ratings():
    ev = satisfaction_evidence(summarise([(4, 2, "cooldown")]), 5)
    assert ev["total"] == 0 and ev["index"] is None and ev["share_interval"] is None
    assert ev["reason"] == INSUFFICIENT and ev["filtered"]["total"] == 1


@pytest.mark.parametrize("minimum", [0, -1, 2.5, True])
def test_evidence_refuses_a_meaningless_minimum(minimum):
    with pytest.raises(ValueError):
        satisfaction_evidence(summarise([]), minimum)


# --- Unit comparison -------------------------------------------------------------------
def ev(index, sufficient=True):
    return {"index": index, "sufficient": sufficient}


@pytest.mark.parametrize("unit, officer, expected", [
    # odd count: median is the middle one
    ({"a": ev(90.0), "b": ev(70.0), "c": ev(80.0)}, "b",
     {"median": 80.0, "compared": 3, "difference": -10.0, "rank": 3}),
    # even count: mean of the two middle ones, (70 + 80) / 2 = 75
    ({"a": ev(90.0), "b": ev(70.0), "c": ev(80.0), "d": ev(60.0)}, "a",
     {"median": 75.0, "compared": 4, "difference": 15.0, "rank": 1}),
    # insufficient officers stay out of the median: (90 + 70) / 2 = 80, not 70
    ({"a": ev(90.0), "b": ev(70.0), "c": ev(10.0, False), "d": ev(20.0, False)}, "a",
     {"median": 80.0, "compared": 2, "difference": 10.0, "rank": 1}),
    # the officer's own evidence insufficient: the unit median is shown, no comparison
    ({"a": ev(90.0), "b": ev(70.0), "c": ev(10.0, False)}, "c",
     {"median": 80.0, "compared": 2, "difference": None, "rank": None}),
    # ties share a rank
    ({"a": ev(90.0), "b": ev(90.0), "c": ev(80.0)}, "c",
     {"median": 90.0, "compared": 3, "difference": -10.0, "rank": 3}),
    ({"a": ev(90.0), "b": ev(90.0), "c": ev(80.0)}, "b",
     {"median": 90.0, "compared": 3, "difference": 0.0, "rank": 1}),
    # alone: nothing to compare with
    ({"a": ev(90.0), "b": ev(50.0, False)}, "a",
     {"median": 90.0, "compared": 1, "difference": None, "rank": None}),
    # nobody sufficient
    ({"a": ev(90.0, False), "b": ev(None, False)}, "a",
     {"median": None, "compared": 0, "difference": None, "rank": None}),
])
def test_unit_comparison(unit, officer, expected):
    assert unit_comparison(officer, unit) == expected


def test_unit_comparison_takes_real_evidence_and_refuses_strangers():
    unit = {code: satisfaction_evidence(summarise(presses(s, d)), 5)
            for code, s, d in (("a", 10, 0), ("b", 5, 5), ("c", 2, 0))}
    assert unit_comparison("b", unit) == {"median": 75.0, "compared": 2, "difference": -25.0,
                                          "rank": 2}
    with pytest.raises(ValueError):
        unit_comparison("z", unit)
