"""Satisfaction over time (collector/ratings/trends.py) and its JSON twins
(collector/api/trends.py): the same figures as the monthly evaluation, months as gaps rather
than zeros, local hours and weekdays, one query for twelve months."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest
from accounts_support import as_officer, token_headers
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.evaluation import month as monthly
from collector.ratings import trends
from collector.app import create_app
from collector.demo.history import seed_history
from collector.evaluation.policy import load_preset
from collector.db.reader import open_reader
from collector.ratings.satisfaction import summarise
from collector.demo.seed import seed_demo
from collector.core.settings import Settings
from collector.db.store import Store
from collector.core.timeline import LOCAL_TZ, local_datetime, month_bounds

NOW = int(datetime(2026, 3, 18, 9, 0, tzinfo=LOCAL_TZ).timestamp() * 1000)
TODAY = date(2026, 3, 18)
POLICY = load_preset("hanoi-3814")
MIN_RATINGS = POLICY.satisfaction.min_ratings


def citizens(rng, tendency: float, scale: int) -> int:
    """A stand-in for the demo's citizens (as tests/test_demo_history.py draws them)."""
    if rng.random() < tendency:
        return rng.randint(scale - 1, scale)
    return rng.randint(1, scale - 2)


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """February and half of March 2026 at two counters (Hoàn Kiếm and Ba Đình)."""
    path = tmp_path_factory.mktemp("trends") / "hailong.db"
    store = Store(path)
    seed_history(store, seed_demo(store, 2), 45, now=NOW, levels=citizens)
    store.close()
    db = open_reader(path)
    yield path, db
    db.conn.close()


@pytest.mark.parametrize("last, months, expected", [
    ("2026-03", 3, ["2026-01", "2026-02", "2026-03"]),
    ("2026-02", 4, ["2025-11", "2025-12", "2026-01", "2026-02"]),
    ("2026-12", 1, ["2026-12"]),
    ("2027-01", 13, ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06",
                     "2026-07", "2026-08", "2026-09", "2026-10", "2026-11", "2026-12",
                     "2027-01"]),
])
def test_month_range_ends_with_the_month_asked(last, months, expected):
    assert trends.month_range(last, months) == expected


@pytest.mark.parametrize("last, months", [("2026-13", 3), ("2026-3", 3), ("2026-03", 0),
                                          ("2026-03", trends.MAX_MONTHS + 1)])
def test_month_range_refuses_nonsense(last, months):
    with pytest.raises(ValueError):
        trends.month_range(last, months)


PRESS = st.sampled_from([3, 4, 5]).flatmap(lambda scale: st.tuples(
    st.just(scale), st.integers(1, scale), st.sampled_from([None, None, None, "cooldown"])))


@settings(max_examples=50, deadline=None)
@given(st.lists(PRESS, max_size=60))
def test_grouped_counts_summarise_as_the_presses_do(presses):
    grouped: dict[tuple, int] = {}
    for press in presses:
        grouped[press] = grouped.get(press, 0) + 1
    ours = trends.summary_of([(*kind, count) for kind, count in grouped.items()])
    theirs = summarise(presses)
    assert (ours.counts, ours.total, ours.share_satisfied, ours.filtered,
            ours.filtered_by_reason) == (theirs.counts, theirs.total, theirs.share_satisfied,
                                         theirs.filtered, theirs.filtered_by_reason)
    if theirs.index is None:
        assert ours.index is None
    else:  # exact sum here, a float sum there: equal but at a rounding tie
        assert abs(ours.index - theirs.index) <= 0.1 + 1e-9


def test_a_month_of_the_trend_is_the_evaluations_month(history):
    _, db = history
    series = trends.officer_trend(db, "HK-0001", "2026-03", 12,
                                  min_ratings=MIN_RATINGS)["series"]
    assert [p["month"] for p in series] == trends.month_range("2026-03", 12)
    for point in series[-2:]:
        sat = monthly.officer_month(db, "HK-0001", point["month"], POLICY, now_ms=NOW,
                                    today=TODAY)["satisfaction"]
        assert point["total"] > MIN_RATINGS
        assert (point["counts"], point["total"], point["index"], point["share_satisfied"],
                point["share_interval"], point["sufficient"], point["filtered"]) == (
            sat["counts"], sat["total"], sat["index"], sat["share_satisfied"],
            sat["share_interval"], sat["sufficient"], sat["filtered"]["total"])
    # Before the history: gaps, not zeros.
    assert all(p["total"] == 0 and p["index"] is None and p["share_interval"] is None
               and not p["sufficient"] for p in series[:-2])


def test_twelve_months_are_one_query(history):
    _, db = history
    statements: list[str] = []
    db.conn.set_trace_callback(statements.append)
    try:
        trends.officer_trend(db, "HK-0001", "2026-03", 12, min_ratings=MIN_RATINGS)
        trends.officers_trends(db, ["HK-0001", "BD-0001", "HK-0002"], "2026-03", 6,
                               min_ratings=MIN_RATINGS)
    finally:
        db.conn.set_trace_callback(None)
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 2


def test_the_unit_series_adds_its_officers_and_says_the_change(history):
    _, db = history
    ids = ["HK-0001", "BD-0001", "HK-0100"]
    both = trends.officers_trends(db, ids, "2026-03", 2, min_ratings=MIN_RATINGS)
    alone = {o: trends.officer_trend(db, o, "2026-03", 2, min_ratings=MIN_RATINGS)["series"]
             for o in ids}
    assert both["officers"] == alone
    for index, point in enumerate(both["total"]):
        assert point["total"] == sum(alone[o][index]["total"] for o in ids)
        for level, count in point["counts"].items():
            assert count == sum(alone[o][index]["counts"][level] for o in ids)
    february, march = both["total"]
    # From the unrounded figures, rounded once (issue 12): within a rounding step of the
    # difference of the shown ones.
    assert abs(both["change"]["index"] - (march["index"] - february["index"])) <= 0.1 + 1e-9
    assert abs(both["change"]["share_satisfied"]
               - (march["share_satisfied"] - february["share_satisfied"])) <= 1e-4 + 1e-12
    assert alone["HK-0100"][-1]["total"] == 0  # the chairman serves no counter


def kinds4(*groups):
    """(count, level) groups → trends kinds on a 4-level device."""
    return [(4, level, None, count) for count, level in groups]


def test_change_needs_both_months():
    point = trends.summary_of(kinds4((1, 2), (1, 3)))  # index 50, share 0.5
    empty = trends.summary_of([])
    assert trends.change([point]) == {"index": None, "share_satisfied": None}
    assert trends.change([empty, point]) == {"index": None, "share_satisfied": None}
    before = trends.summary_of(kinds4((11, 2), (9, 3)))  # (11 + 18)/60 → 48.33…; 0.45
    assert trends.change([before, point]) == {"index": 1.7, "share_satisfied": 0.05}


def test_the_change_is_rounded_once():
    """February 73.33… (shown 73.3), March 80.95… (shown 81.0): the change is 7.619… → 7.6,
    where the shown figures gave 81.0 − 73.3 = 7.7."""
    february = trends.summary_of(kinds4((3, 4), (1, 3), (1, 1)))
    march = trends.summary_of(kinds4((5, 4), (1, 3), (1, 1)))
    assert (february.index, march.index) == (73.3, 81.0)
    assert trends.change([february, march])["index"] == 7.6


def test_the_heat_map_uses_local_weekdays_and_hours(history):
    _, db = history
    month = "2026-02"
    start, end = month_bounds(month)
    heat = trends.hour_weekday(db, "HK-0001", month)
    expected: dict[tuple[int, int], int] = {}
    for pressed_at, in db.execute(
            "SELECT pressed_at FROM ratings WHERE officer_id = 'HK-0001' AND pressed_at >= ? "
            "AND pressed_at < ? AND excluded IS NULL", [start, end]):
        local = local_datetime(pressed_at)
        key = (local.weekday(), local.hour)
        expected[key] = expected.get(key, 0) + 1
    assert {(c["weekday"], c["hour"]): c["count"] for c in heat["cells"]} == expected
    assert heat["total"] == monthly.officer_month(db, "HK-0001", month, POLICY, now_ms=NOW,
                                                  today=TODAY)["satisfaction"]["total"]
    # Counters open on working days, 07:30–11:30 and 13:30–17:00 local time.
    assert {c["weekday"] for c in heat["cells"]} <= {0, 1, 2, 3, 4}
    assert {c["hour"] for c in heat["cells"]} <= {7, 8, 9, 10, 11, 13, 14, 15, 16}
    assert all(0 <= c["index"] <= 100 and 0 <= c["share_satisfied"] <= 1
               for c in heat["cells"])


def test_heat_cells_group_by_weekday_and_hour():
    cells = trends.heat_cells([(0, 9, 4, 4, 3), (0, 9, 4, 1, 1), (4, 16, 5, 3, 2)])
    assert cells == [
        {"weekday": 0, "hour": 9, "count": 4, "index": 75.0, "share_satisfied": 0.75},
        {"weekday": 4, "hour": 16, "count": 2, "index": 50.0, "share_satisfied": 0.0}]


@pytest.fixture
def client(history):
    path, _ = history
    app = create_app(Settings(db_path=path, broker_url=None))
    with TestClient(app) as client:
        yield client


def test_the_json_twins_answer_within_scope(history, client):
    path, db = history
    admin = token_headers(path, "admin", "administrator")
    body = client.get("/api/v1/officers/HK-0001/trend?month=2026-03&months=3",
                      headers=admin).json()
    # Nothing withheld from an administrator (months another unit holds: issue 12).
    assert body == json.loads(json.dumps({**trends.officer_trend(
        db, "HK-0001", "2026-03", 3, min_ratings=MIN_RATINGS), "withheld": []}))
    assert [p["month"] for p in body["series"]] == ["2026-01", "2026-02", "2026-03"]
    heat = client.get("/api/v1/officers/HK-0001/heatmap?month=2026-02", headers=admin).json()
    assert heat["cells"] == trends.hour_weekday(db, "HK-0001", "2026-02")["cells"]
    unit = client.get("/api/v1/units/hk/trend?month=2026-03", headers=admin).json()
    assert unit["unit_id"] == "hk" and len(unit["total"]) == 6
    assert set(unit["officers"]) == {"HK-0100", "HK-0101", "HK-0001", "HK-0002", "HK-0003",
                                     "HK-0004"}
    officer = as_officer(path, "HK-0001")
    assert client.get("/api/v1/officers/HK-0001/trend?month=2026-03",
                      headers=officer).status_code == 200
    for url in ("/api/v1/officers/HK-0002/trend", "/api/v1/officers/HK-0002/heatmap",
                "/api/v1/units/hk/trend"):
        assert client.get(url, headers=officer).status_code == 403, url
    for url, status in (("/api/v1/units/nowhere/trend", 404),
                        ("/api/v1/officers/HK-0001/trend?months=0", 422),
                        ("/api/v1/officers/HK-0001/trend?month=2026-13", 422),
                        ("/api/v1/officers/NOBODY/heatmap", 404)):
        assert client.get(url, headers=admin).status_code == status, url
