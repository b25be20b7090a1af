"""A large unit's landing page: its month in SQL aggregates, per direct sub-unit (issue 13).

A tiny province-year from bench/province.py (two top units under the city, January decided,
February partly, March under way; today 20 March 2026) is changed the ways membership and
evidence change: officers moved after their review (their month stays where it was reviewed),
a month placed in a unit the officer has since left, months only self-evaluated or not begun,
officers no longer or not yet active, quarterly rows, ratings in the tail the month counts have
not folded, open and acknowledged alerts. Then for every unit, every month of the quarter and
the quarter itself (a quarterly policy), collector/evaluation/summary's figures equal those
added up from `unit_month`'s rows: officers and workflow steps per direct sub-unit, ratings
counted and filtered, the satisfaction index pooled over the same members' presses one by one,
the unit's card as GET /api/v1/units/{unit}/trend gives it, open alerts as the alerts list
counts them; with both plans of reads.py, and with the raw ratings when the tail is long.

The page: above LARGE_UNIT (made small here) the landing shows the sub-unit table with links
and never computes a row per officer; below it, the ranking as before. The JSON twin
GET /api/v1/units/{unit}/months/{month}/summary answers as GET /api/v1/units/{unit}/months/{month}
does for every account and unit: the same 200, 403, 404 and 422, with the same texts.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from datetime import date
from pathlib import Path

import pytest
from accounts_support import token_headers
from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from province import PASSWORD, generate, local_ms  # noqa: E402
from province_plan import TINY  # noqa: E402

from collector.app import create_app  # noqa: E402
from collector.core.periods import latest_month, parse_period  # noqa: E402
from collector.core.settings import Settings  # noqa: E402
from collector.db.store import Store  # noqa: E402
from collector.evaluation import month as monthly  # noqa: E402
from collector.evaluation.policy import DEFAULT_ALERT_RULE, PRESETS_DIR, load_preset  # noqa: E402
from collector.db.schema_reads import RATING_LEVELS, migration_unit_summary  # noqa: E402
from collector.evaluation.month_view import month_status  # noqa: E402
from collector.evaluation.summary import unit as summary  # noqa: E402
from collector.ingest.recording import RATING_COLUMNS  # noqa: E402
from collector.ratings import alert_records, month_counts, trends  # noqa: E402
from collector.ratings.satisfaction import summarise  # noqa: E402
from collector.web import deps  # noqa: E402
from dashboard.pages import leaders as leaders_page  # noqa: E402

NOW = local_ms(date(2026, 3, 20), 12)
TODAY = date(2026, 3, 20)
MONTHLY = load_preset("hanoi-3814")
QUARTERLY = dataclasses.replace(MONTHLY, period="quarter")
PERIODS = [(MONTHLY, "2026-01"), (MONTHLY, "2026-02"), (MONTHLY, "2026-03"),
           (QUARTERLY, "2026-Q1")]
# Between the ward's officers (about 60) and the whole city's (about 106): the city gets the
# summary, the ward and the department their ranking.
SMALL_LIMIT = 80


def changed_province(path: Path) -> None:
    """The ways a month's membership and evidence move after the fact, on the tiny province."""
    store = Store(path)
    db = store.db

    def late(order: str, tag: str, before: int = NOW) -> None:
        """300 ratings arriving late: copies of stored ones, a level up."""
        columns = ", ".join(RATING_COLUMNS)
        copied = ", ".join(f"id || '~{tag}'" if c == "id" else "seq + 1000000" if c == "seq"
                           else "level % scale + 1" if c == "level" else c
                           for c in RATING_COLUMNS)
        db.execute(f"INSERT INTO ratings ({columns}) SELECT {copied} FROM ratings WHERE "
                   f"officer_id IS NOT NULL AND pressed_at < ? AND id NOT LIKE '%~%' "
                   f"ORDER BY rowid {order} LIMIT 300", [before])
    try:
        with db.conn:
            # Moved after their February review: February stays with the ward's office.
            db.execute("UPDATE officers SET unit_id = 'so01-p02' WHERE id IN (SELECT id FROM "
                       "officers WHERE unit_id = 'p001-p01' ORDER BY id LIMIT 3)")
            # Reviewed in the department, moved to the ward since.
            db.execute("UPDATE officers SET unit_id = 'p001-p03' WHERE id IN (SELECT id FROM "
                       "officers WHERE unit_id = 'so01-p01' ORDER BY id LIMIT 2)")
            # February only self-evaluated (not placed: the current unit counts), or not begun.
            db.execute("UPDATE evaluations SET reviewed_at = NULL, reviewed_by = NULL, "
                       "unit_id = NULL, decided_at = NULL, decided_by = NULL, snapshot = NULL, "
                       "final_grade = NULL, final_score = NULL, proposed_grade = NULL "
                       "WHERE month = '2026-02' AND officer_id IN (SELECT id FROM officers "
                       "WHERE unit_id = 'so01-p02' ORDER BY id LIMIT 4)")
            db.execute("DELETE FROM evaluations WHERE month = '2026-02' AND officer_id IN "
                       "(SELECT id FROM officers WHERE unit_id = 'p001-1c' ORDER BY id LIMIT 2)")
            # Gone after January; from 10 March only.
            db.execute("UPDATE officers SET active_to = '2026-01-31' WHERE id IN (SELECT id "
                       "FROM officers WHERE unit_id = 'p001-p02' ORDER BY id LIMIT 2)")
            db.execute("UPDATE officers SET active_from = '2026-03-10' WHERE id = (SELECT id "
                       "FROM officers WHERE unit_id = 'so01-1c' ORDER BY id DESC LIMIT 1)")
            # The quarter's rows: self-evaluated, reviewed (placed where the officer was then,
            # a few elsewhere), decided.
            officers = [row[0] for row in db.execute("SELECT id, unit_id FROM officers "
                                                     "ORDER BY id").fetchall()]
            units = [row[0] for row in db.execute("SELECT id FROM units ORDER BY id")]
            for i, officer in enumerate(officers[::3]):
                placed = units[i % len(units)] if i % 4 else None
                db.execute("INSERT INTO evaluations (officer_id, month, self_scores, self_at, "
                           "reviewed_at, decided_at, unit_id, updated_at) "
                           "VALUES (?, '2026-Q1', '{}', ?, ?, ?, ?, ?)",
                           [officer, NOW, NOW if placed else None,
                            NOW if placed and i % 3 == 0 else None, placed, NOW])
            # Alerts: two open in the ward's office, one in the department, one acknowledged.
            counters = dict(db.execute("SELECT unit_id, id FROM counters").fetchall())
            rule = json.dumps(DEFAULT_ALERT_RULE.as_dict())
            for unit, acknowledged in (("p001-1c", None), ("p001-1c", None),
                                       ("so01-1c", None), ("so01-1c", NOW)):
                db.execute("INSERT INTO alerts (counter_id, kind, first_at, last_at, ratings, "
                           "negative, rule, raised_at, acknowledged_by, acknowledged_at, "
                           "unit_id) VALUES (?, 'negative_share', ?, ?, 10, 6, ?, ?, ?, ?, ?)",
                           [counters[unit], NOW - 3_600_000, NOW - 60_000, rule, NOW,
                            acknowledged and "test", acknowledged, unit])
            # An officer taken on since, not evaluated yet.
            db.execute("INSERT INTO officers (id, name, title, unit_id) VALUES "
                       "('CB-NEW', 'Lê Thị Mới', 'Chuyên viên', 'p001-p02')")
            # Folded ratings given to another officer (as a roster correction re-attributes
            # them), ratings folded since, and ratings stored after the last fold: the tail.
            db.execute("UPDATE ratings SET officer_id = (SELECT id FROM officers WHERE "
                       "unit_id = 'so01-p01' ORDER BY id LIMIT 1), attribution = 'device' "
                       "WHERE rowid IN (SELECT rowid FROM ratings WHERE officer_id IS NOT NULL "
                       "ORDER BY rowid LIMIT 40)")
            late("DESC", "a")
            month_counts.fold(db)
            late("DESC", "b")
            late("", "c", before=local_ms(date(2026, 2, 15)))
        tail = db.execute("SELECT (SELECT MAX(rowid) FROM ratings) - "
                          "(SELECT through FROM rating_months_state)").fetchone()[0]
        assert tail == 600
    finally:
        store.close()


@pytest.fixture(scope="module")
def province(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("summary") / "province.db"
    generate(path, 1.0, seed=7, now=NOW, first=date(2026, 1, 1), shape=TINY)
    changed_province(path)
    return path


@pytest.fixture
def db(province):
    store = Store(province)
    yield store.db
    store.close()


# --- the figures, from unit_month's rows ----------------------------------------------------

def branch_of(db, unit: str) -> dict[str, str]:
    """Each unit below `unit` → the direct sub-unit it lies under (the unit → itself)."""
    parents = dict(db.execute("SELECT id, parent_id FROM units").fetchall())
    out = {unit: unit}
    for candidate in parents:
        chain, current = [], candidate
        while current is not None and current not in chain and current != unit:
            chain.append(current)
            current = parents.get(current)
        if current == unit and chain:
            out[candidate] = chain[-1]
    return out


def pooled(db, officers: list[str], months: list[str]):
    """The presses of these officers in these local months, one by one."""
    presses = []
    start, end = parse_period(months[0]).first_day, parse_period(months[-1]).last_day
    for officer in officers:
        presses.extend(
            (scale, level, excluded) for scale, level, excluded, day in db.execute(
                "SELECT scale, level, excluded, date(pressed_at / 1000 + 25200, 'unixepoch') "
                "FROM ratings WHERE officer_id = ?", [officer])
            if start.isoformat() <= day <= end.isoformat())
    return summarise(presses)


def expected(db, unit: str, policy, period: str) -> dict:
    report = monthly.unit_month(db, unit, period, policy, now_ms=NOW, today=TODAY)
    branch = branch_of(db, unit)
    months = parse_period(period).months()
    parts: dict[str, list[dict]] = {}
    for row in report["officers"]:
        parts.setdefault(branch[row["unit_id"]], []).append(row)

    def figures(rows: list[dict], where: list[str]) -> dict:
        ids = [row["officer_id"] for row in rows]
        whole = pooled(db, ids, months)
        alerts = sum(alert_records.list_alerts(db, unit_id=u, state="open")["total"]
                     for u in where)
        return {"officers": len(rows),
                "progress": {step: sum(row["status"] == step for row in rows)
                             for step in ("pending", "self", "reviewed", "decided")},
                "ratings": sum(row["satisfaction"]["ratings"] for row in rows),
                "filtered": sum(row["satisfaction"]["filtered"] for row in rows),
                "pooled": (whole.total, whole.index, whole.share_satisfied, whole.filtered),
                "alerts_open": alerts}

    subs = sorted(u for u, b in branch.items() if u == b and u != unit)
    direct_alerts = alert_records.list_alerts(db, unit_id=unit, state="open")["total"] - sum(
        alert_records.list_alerts(db, unit_id=u, state="open")["total"] for u in subs)
    out = {u: figures(parts.get(u, []), [u]) for u in subs}
    own = figures(parts.get(unit, []), [])
    own["alerts_open"] = direct_alerts
    out[unit] = own
    ids = [row["officer_id"] for row in report["officers"]]
    card = trends.officers_trends(db, ids, latest_month(period, TODAY), 6,
                                  min_ratings=policy.satisfaction.min_ratings)
    return {"report": report, "parts": out, "card": card,
            "whole": figures(report["officers"], [unit])}


def got_figures(part: dict) -> dict:
    sat = part["satisfaction"]
    return {"officers": part["officers"], "progress": part["progress"],
            "ratings": sat["ratings"], "filtered": sat["filtered"],
            "pooled": (sat["ratings"], sat["index"], sat["share_satisfied"], sat["filtered"]),
            "alerts_open": part["alerts_open"]}


def check_unit(db, unit: str, policy, period: str) -> dict:
    want = expected(db, unit, policy, period)
    got = summary.unit_summary(db, unit, period, policy, today=TODAY, now_ms=NOW)
    assert got_figures(got) == want["whole"], (unit, period)
    assert got["progress"] == {k: v for k, v in want["report"]["progress"].items()
                               if k != "officers"}
    assert got["officers"] == want["report"]["progress"]["officers"]
    rows = {row["unit_id"]: row for row in got["sub_units"]}
    direct = want["parts"][unit]
    if direct["officers"] or direct["ratings"] or direct["alerts_open"]:
        assert got["sub_units"][0]["direct"] is True
    else:
        assert unit not in rows
    for sub, figures in want["parts"].items():
        if sub in rows:
            assert got_figures(rows[sub]) == figures, (unit, period, sub)
    # The card as the overview shows it: the period's latest month and the change.
    assert got["latest"]["month"] == latest_month(period, TODAY)
    assert got["latest"]["series"] == want["card"]["total"][-2:]
    assert got["latest"]["change"] == want["card"]["change"]
    return got


def test_every_units_summary_adds_up_its_unit_months_rows(db, monkeypatch):
    units = [row[0] for row in db.execute("SELECT id FROM units ORDER BY id")]
    moved = db.execute("SELECT count(*) FROM evaluations e JOIN officers o ON o.id = "
                       "e.officer_id WHERE e.unit_id IS NOT NULL AND e.unit_id != o.unit_id "
                       "AND e.month = '2026-02'").fetchone()[0]
    assert moved >= 5  # the months that stay where they were reviewed are really there
    for policy, period in PERIODS:
        for unit in units:
            checked = check_unit(db, unit, policy, period)
            # Both plans of reads.py: the subtree's officers by index (a share never reached),
            # the officers with ratings placed and kept by unit after (any share).
            for share in (1.0, 0.0):
                monkeypatch.setattr(summary, "SCAN_SHARE", share)
                assert summary.unit_summary(db, unit, period, policy, today=TODAY,
                                            now_ms=NOW) == checked
            monkeypatch.undo()


def kept_sums(db) -> tuple[list, list, list]:
    steps = sorted(tuple(r) for r in db.execute("SELECT * FROM member_steps"))
    levels = sorted(tuple(r) for r in db.execute("SELECT * FROM rating_levels")
                    if any(r[2:]))
    officers = sorted(tuple(r) for r in db.execute("SELECT * FROM unit_officers"))
    return steps, levels, officers


def test_the_kept_sums_are_those_of_the_rows_they_sum(province, tmp_path, db):
    """member_steps, unit_officers and rating_levels, kept by triggers through every change
    above, are what their migration computes from the rows afresh."""
    steps, levels, officers = kept_sums(db)
    assert officers == sorted(tuple(r) for r in db.execute(
        "SELECT unit_id, count(*) FROM officers WHERE unit_id IS NOT NULL GROUP BY 1"))
    recount: dict[tuple, int] = {}
    for month, placed, current, self_at, reviewed_at, decided_at in db.execute(
            "SELECT e.month, e.unit_id, o.unit_id, e.self_at, e.reviewed_at, e.decided_at "
            "FROM evaluations e JOIN officers o ON o.id = e.officer_id"):
        step = month_status({"self_at": self_at, "reviewed_at": reviewed_at,
                             "decided_at": decided_at})
        key = (month, placed or current or "", current or "", step)
        recount[key] = recount.get(key, 0) + 1
    assert steps == sorted((*key, n) for key, n in recount.items())
    levels_recount: dict[tuple, list[int]] = {}
    columns = list(RATING_LEVELS)
    for officer, month, scale, level, excluded, n in db.execute(
            "SELECT officer_id, month, scale, level, excluded, n FROM rating_months"):
        row = levels_recount.setdefault((month, officer), [0] * (len(columns) + 1))
        row[-1 if excluded else columns.index((scale, level))] += n
    assert levels == sorted((*key, *row) for key, row in levels_recount.items() if any(row))
    # The migration on a database that had none of it: the same sums.
    copy = tmp_path / "copy.db"
    copy.write_bytes(province.read_bytes())
    store = Store(copy)
    try:
        with store.db.conn:
            for name, kind in store.db.execute(
                    "SELECT name, type FROM sqlite_master WHERE name LIKE 'member_steps%' OR "
                    "name LIKE 'rating_levels%' OR name LIKE 'unit_officers%' OR name IN "
                    "('officers_active_from', "
                    "'officers_active_to', 'evaluations_month_steps')").fetchall():
                if not name.startswith("sqlite_"):
                    store.db.execute(f"DROP {kind.upper()} IF EXISTS {name}")
            migration_unit_summary(store.db)
        assert kept_sums(store.db) == (steps, levels, officers)
    finally:
        store.close()


def test_a_long_tail_reads_the_raw_ratings_to_the_same_figures(db, monkeypatch):
    folded = {period: summary.unit_summary(db, "tp", period, policy, today=TODAY, now_ms=NOW)
              for policy, period in PERIODS}
    monkeypatch.setattr(month_counts, "TAIL_LIMIT", -1)
    for policy, period in PERIODS:
        for share in (0.0, 1.0):
            monkeypatch.setattr(summary, "SCAN_SHARE", share)
            assert summary.unit_summary(db, "tp", period, policy, today=TODAY,
                                        now_ms=NOW) == folded[period]


def test_sub_units_come_in_vietnamese_order_after_the_units_own_officers(db):
    got = summary.unit_summary(db, "p001", "2026-02", MONTHLY, today=TODAY, now_ms=NOW)
    names = [row["unit_name"] for row in got["sub_units"]]
    assert got["sub_units"][0]["direct"] and names[0] == "UBND phường Ba Đình"
    # "Bộ phận" < "Phòng Kế hoạch" < "Phòng Pháp chế" < "Phòng Tổ chức" in Vietnamese order.
    assert names[1:] == ["Bộ phận Một cửa UBND phường Ba Đình",
                         "Phòng Kế hoạch - Tài chính – UBND phường Ba Đình",
                         "Phòng Pháp chế – UBND phường Ba Đình",
                         "Phòng Tổ chức cán bộ – UBND phường Ba Đình"]


def test_unknown_unit_and_wrong_period_are_refused_in_both_languages(db):
    with pytest.raises(monthly.MonthlyNotFound) as missing:
        summary.unit_summary(db, "nowhere", "2026-02", MONTHLY, today=TODAY, now_ms=NOW)
    assert missing.value.vi == "Không tìm thấy đơn vị 'nowhere'"
    with pytest.raises(monthly.MonthlyError):
        summary.unit_summary(db, "tp", "2026-Q1", MONTHLY, today=TODAY, now_ms=NOW)


# --- the page ---------------------------------------------------------------------------------

def make_app(path: Path, policy: str = "hanoi-3814"):
    app = create_app(Settings(db_path=path, broker_url=None, policy=policy))
    app.dependency_overrides[deps.today] = lambda: TODAY
    app.dependency_overrides[deps.clock] = lambda: NOW
    return app


def browser(app, login: str) -> TestClient:
    client = TestClient(app, follow_redirects=False)
    answer = client.post("/login", data={"login": login, "password": PASSWORD, "next": "/"})
    assert answer.status_code == 303
    return client


@pytest.fixture
def small_limit(monkeypatch):
    monkeypatch.setattr(leaders_page, "LARGE_UNIT", SMALL_LIMIT)


def test_a_large_units_landing_shows_its_sub_units_not_its_officers(province, small_limit,
                                                                    monkeypatch):
    client = browser(make_app(province), "quantri.tp")
    whole = client.get("/?month=2026-02")
    assert whole.status_code == 200
    page = whole.text
    assert 'data-testid="officer-ranking"' not in page
    table = re.search(r'<table data-testid="sub-units".*?</table>', page, re.S).group(0)
    assert table.count('href="/?unit=') == 2
    assert 'href="/?unit=so01&amp;month=2026-02"' in table
    assert 'href="/?unit=p001&amp;month=2026-02"' in table
    assert "Cán bộ thuộc trực tiếp đơn vị" in table
    assert "xếp hạng cán bộ được xem trên trang của từng đơn vị trực thuộc" in page
    assert 'href="/api/v1/units/tp/months/2026-02.xlsx"' in page
    assert 'href="/api/v1/units/tp/months/2026-02"' in page
    report = client.get("/api/v1/units/tp/months/2026-02/summary").json()
    for row in report["sub_units"]:
        cells = re.search(rf'<tr data-unit="{row["unit_id"]}"[^>]*>(.*?)</tr>', table, re.S).group(1)
        assert f'<td class="num">{row["officers"]}</td>' in cells
    assert f'<span class="count">{report["progress"]["decided"]}</span>' in page
    english = client.get("/?month=2026-02&lang=en").text
    assert "officers are ranked on each sub-unit&#39;s page" in english
    # No officer's row is computed for it: unit_month is not called.
    monkeypatch.setattr(monthly, "unit_month", lambda *a, **k: pytest.fail("per officer"))
    assert client.get("/?month=2026-03").status_code == 200
    monkeypatch.undo()
    # A sub-unit below the limit: its officers ranked, as before.
    ward = client.get("/?unit=p001&month=2026-02").text
    assert 'data-testid="officer-ranking"' in ward and 'data-testid="sub-units"' not in ward


def test_below_the_limit_the_landing_is_the_ranking(province):
    client = browser(make_app(province), "quantri.tp")
    page = client.get("/?month=2026-02").text
    assert 'data-testid="officer-ranking"' in page and 'data-testid="sub-units"' not in page


def test_a_quarterly_policys_large_unit_is_summed_over_the_quarter(province, small_limit,
                                                                   tmp_path):
    text = (PRESETS_DIR / "hanoi-3814.toml").read_text(encoding="utf-8")
    policy = tmp_path / "quarterly.toml"
    policy.write_text(text.replace('period = "month"', 'period = "quarter"'), encoding="utf-8")
    client = browser(make_app(province, str(policy)), "quantri.tp")
    page = client.get("/").text  # today's quarter
    assert 'href="/?unit=p001&amp;month=2026-Q1"' in page
    assert 'data-testid="officer-ranking"' not in page
    report = client.get("/api/v1/units/tp/months/2026-Q1/summary").json()
    assert report["policy"]["period"] == "quarter" and report["latest"]["month"] == "2026-03"
    store = Store(province)
    try:
        direct = summary.unit_summary(store.db, "tp", "2026-Q1", QUARTERLY, today=TODAY,
                                      now_ms=NOW)
    finally:
        store.close()
    assert [(row["unit_id"], row["officers"], row["progress"], row["satisfaction"]["index"])
            for row in report["sub_units"]] == [
        (row["unit_id"], row["officers"], row["progress"], row["satisfaction"]["index"])
        for row in direct["sub_units"]]
    assert client.get("/api/v1/units/tp/months/2026-02/summary").status_code == 422


# --- who may read the JSON twin ---------------------------------------------------------------

CASES = [("quantri.tp", "tp", "2026-02"), ("quantri.tp", "p001-p01", "2026-02"),
         ("quantri.tp", "nowhere", "2026-02"), ("quantri.tp", "tp", "2026-13"),
         ("quantri.tp", "tp", "2026-Q1"), ("chutich.w001", "p001", "2026-02"),
         ("chutich.w001", "tp", "2026-02"), ("chutich.w001", "so01", "2026-02"),
         ("chutich.w001", "nowhere", "2026-02"), ("giamdoc.so01", "so01-1c", "2026-03"),
         ("truongphong.w001", "p001-p01", "2026-02"), ("truongphong.w001", "p001", "2026-02"),
         ("kythuat", "tp", "2026-02"), ("canbo", "p001-1c", "2026-02")]


@pytest.fixture(scope="module")
def api(province, tmp_path_factory):
    path = tmp_path_factory.mktemp("api") / "province.db"
    path.write_bytes(province.read_bytes())
    app = make_app(path)
    officer = Store(path).db.execute("SELECT id FROM officers WHERE unit_id = 'p001-1c' "
                                     "AND id NOT IN (SELECT leader_id FROM officers WHERE "
                                     "leader_id IS NOT NULL) ORDER BY id").fetchone()[0]
    headers = {login: token_headers(path, login) for login, _, _ in CASES
               if login not in ("kythuat", "canbo")}
    headers["kythuat"] = token_headers(path, "kythuat", "technician")
    headers["canbo"] = token_headers(path, "canbo", "officer", officer=officer)
    return TestClient(app), headers


@pytest.mark.parametrize("login, unit, period", CASES)
def test_the_summary_answers_whom_the_unit_month_answers(api, login, unit, period):
    client, headers = api
    month = client.get(f"/api/v1/units/{unit}/months/{period}", headers=headers[login])
    twin = client.get(f"/api/v1/units/{unit}/months/{period}/summary", headers=headers[login])
    assert twin.status_code == month.status_code
    if month.status_code == 200:
        assert twin.json()["officers"] == month.json()["progress"]["officers"]
    else:
        assert twin.json() == month.json()
