"""Issue 12, second review: a past period keeps the organisation it was evaluated in.

Each section's expected values are worked by hand from the rules (docs/evaluation.md):

1. Decree 335's unit score: the people a leader led in a period are those whose period was
   placed (reviewed) with them as reviewer, plus those not reviewed yet whom they lead now —
   so editing a leader of record, or moving someone, after the review leaves the period alone.
2. A leader's decision refused while their unit result is provisional names who decides
   each person awaited (often another head than the one deciding the leader).
3. Who may read a calendar month of an officer's evidence: every evaluation period holding
   it that has a stored place (the month, or its quarter under a quarterly policy) must be
   the caller's; a trend window is clipped to the months the caller may read; a reviewer
   who has left reads their old review no more.
4. An open offline alert follows a corrected shift to its new counter and unit; one whose
   shift was cancelled stays open, marked so.
5. Reopening a decided month keeps the group of similar posts stored at its review.
6. A failed record of when the collector is receiving is a health reason.
7. Refusals name the form's thing in Vietnamese first, the API's field in parentheses.
"""

from __future__ import annotations

import itertools
import sqlite3

import pytest
from fastapi.testclient import TestClient

import test_month_placement as placement
from accounts_support import admin_headers, as_officer
from test_monthly import MONTH, NOW, TODAY, evaluate
from test_offline_alerts import RULE, at, db_path, offline_rows  # noqa: F401 (db_path: fixture)
from test_unit_score import FULL, build_unit_world, grade, month_of, service_for

from collector.app import create_app
from collector.core.settings import BrokerAddress, Settings
from collector.db.store import Store
from collector.evaluation import month as monthly
from collector.evaluation.policy import PRESETS_DIR, load_policy, load_preset
from collector.evaluation.workflow import status
from collector.evaluation.workflow.status import (
    ACKNOWLEDGE_UNIT_VI,
    UnitNotAcknowledged,
    WorkflowError,
)
from collector.evaluation.workflow.steps import WorkflowService
from collector.ingest import offline_watch, recording
from collector.ingest.receiving import ReceivingRecord
from collector.ingest.subscriber import Ingest
from collector.org.organisation import (
    OrganisationService,
    upsert_counter,
    upsert_officer,
    upsert_unit,
)
from collector.ratings import alert_records
from collector.roster.shifts import RosterService
from collector.web import deps

DECREE = load_preset("decree-335")
HANOI = load_preset("hanoi-3814")


# --- 1. whom a leader led in a period -------------------------------------------------------

def placed(store: Store, officer: str, proposed: str, final: str | None = None, *,
           by: str = "H", unit: str = "w", deciding: str = "w") -> None:
    """A review (and decision) stored with its place, as the workflow leaves it."""
    grade(store, officer, proposed, final, by=by)
    evaluate(store, officer, unit_id=unit, deciding_unit_id=deciding)


@pytest.fixture
def unit_world(tmp_path):
    """test_unit_score's world, March reviewed by the workflow: S1, S2 decided HTTNV, S3
    proposed HTTNV, D decided KHTNV, all reviewed by H (D in w-1); H reviewed by C; P1
    (w-1) proposed HTTNV by D."""
    path = tmp_path / "hailong.db"
    build_unit_world(path)
    store = Store(path)
    for officer in ("S1", "S2"):
        placed(store, officer, "HTTNV", "HTTNV")
    placed(store, "S3", "HTTNV")
    placed(store, "D", "KHTNV", "KHTNV", unit="w-1")
    placed(store, "H", "HTTNV", by="C", deciding="q")
    placed(store, "P1", "HTTNV", by="D", unit="w-1")
    yield store
    store.close()


def led(report: dict) -> list[str]:
    unit = report["unit_score"]
    return [] if unit is None else [p["officer_id"] for p in unit["subordinates"]]


def test_a_leader_of_record_changed_after_the_review_leaves_the_period_alone(unit_world):
    # H's March: D decided "not completed" → 50 % × 35 = 17.5, + own 35 = 52.5, certain.
    before = month_of(unit_world.db, "H")
    assert (before["unit_score"]["share"], before["unit_score"]["certain"]) == (0.5, True)
    # H (a head, who may edit officers) names S1 as D's leader before C decides H: D's
    # March was reviewed by H, so it stays H's; S1 led nobody in March.
    upsert_officer(unit_world.db, "D", "Nguyễn Văn An", "Phó Chủ tịch", "w-1", leader_id="S1")
    after = month_of(unit_world.db, "H")
    assert led(after) == ["D", "S1", "S2", "S3"]
    assert after["unit_score"]["share"] == 0.5
    assert after["suggestion"]["criteria"]["task_results"] == 52.5
    assert month_of(unit_world.db, "S1")["unit_score"] is None


def test_a_move_after_the_period_leaves_whom_each_leader_led(unit_world):
    # In April D becomes a deputy of the district q (led by C) and w-1 loses its head.
    upsert_officer(unit_world.db, "D", "Nguyễn Văn An", "Phó Chủ tịch", "q", leader_id="C")
    upsert_unit(unit_world.db, "w-1", "Bộ phận Một cửa phường Ngọc Hà", "w", kind="one_stop")
    report = month_of(unit_world.db, "H")
    assert led(report) == ["D", "S1", "S2", "S3"]
    assert report["suggestion"]["criteria"]["task_results"] == 52.5  # not 70
    assert led(month_of(unit_world.db, "C")) == ["H"]  # not H and D
    assert led(month_of(unit_world.db, "D")) == ["P1"]  # not nobody


def test_someone_not_reviewed_yet_counts_under_whom_they_follow_now(unit_world):
    unit_world.db.execute("DELETE FROM evaluations WHERE officer_id = 'S3'")
    upsert_officer(unit_world.db, "S3", "Phạm Thị Dung", "Công chức", "w", leader_id="S1")
    assert led(month_of(unit_world.db, "H")) == ["D", "S1", "S2"]
    s1 = month_of(unit_world.db, "S1")["unit_score"]
    assert (led({"unit_score": s1}), s1["share"], s1["provisional"]) == (["S3"], 1.0, True)


# --- 2. who decides the people a leader's decision waits for ---------------------------------

def test_the_refusal_names_the_head_who_decides_those_awaited(tmp_path):
    # C decides H; D only proposed "not completed", S3 not graded — both are H's to decide.
    path = tmp_path / "hailong.db"
    build_unit_world(path)
    world = Store(path)
    try:
        grade(world, "S1", "HTTNV", "HTTNV")
        grade(world, "S2", "HTTNV", "HTTNV")
        grade(world, "D", "KHTNV")
        with pytest.raises(UnitNotAcknowledged) as refused:
            service_for(world).decide("H", MONTH, "C", "HTTNV")
    finally:
        world.close()
    assert refused.value.vi == (
        "Kết quả đơn vị của cán bộ này còn tạm tính: chờ quyết định đối với 2 người "
        "(Nguyễn Văn An, Phạm Thị Dung). Chờ quyết định của Ngô Thị Hạnh đối với Nguyễn Văn "
        f"An, Phạm Thị Dung, hoặc đánh dấu «{ACKNOWLEDGE_UNIT_VI}» để vẫn quyết định.")
    assert refused.value.en == (
        "This officer's unit result is still provisional: awaiting the decision on 2 people "
        "(Nguyễn Văn An, Phạm Thị Dung). Wait for Ngô Thị Hạnh's decision on Nguyễn Văn An, "
        "Phạm Thị Dung, or acknowledge it (acknowledge_provisional_unit) to decide anyway.")


@pytest.fixture
def decree_org(tmp_path):
    """test_month_placement's organisation under decree-335: LA (in A, decided by HA) leads
    O1 (A); O6 (B, decided by HB) is led by LA too."""
    store = Store(tmp_path / "hailong.db")
    placement.build_org(store)
    placement.officer(store, "O6", "B", "LA")
    ticks = itertools.count(placement.T0, 1000)
    service = WorkflowService(
        store, DECREE, clock=lambda: next(ticks), today=lambda: TODAY,
        evidence_of=lambda officer, month: monthly.officer_month(
            store.db, officer, month, DECREE, now_ms=NOW, today=TODAY))
    yield store, service
    store.close()


def test_a_head_who_decides_the_one_awaited_is_asked_to_decide_that_person(decree_org):
    store, service = decree_org
    store.db.execute("UPDATE officers SET leader_id = NULL WHERE id = 'O6'")
    service.review("O1", MONTH, "LA", FULL, "Nhận xét", "HTTNV")
    service.review("LA", MONTH, "HA", FULL, "Nhận xét", "HTTNV")
    with pytest.raises(UnitNotAcknowledged) as refused:
        service.decide("LA", MONTH, "HA", "HTTNV")
    assert refused.value.vi == (
        "Kết quả đơn vị của cán bộ này còn tạm tính: chờ quyết định đối với 1 người "
        f"(Cán bộ O1). Quyết định người này trước, hoặc đánh dấu «{ACKNOWLEDGE_UNIT_VI}» để "
        "vẫn quyết định.")
    assert refused.value.en == (
        "This officer's unit result is still provisional: awaiting the decision on 1 person "
        "(Cán bộ O1). Decide this person first, or acknowledge it "
        "(acknowledge_provisional_unit) to decide anyway.")


def test_the_refusal_splits_those_the_head_decides_from_those_another_does(decree_org):
    store, service = decree_org
    service.review("O1", MONTH, "LA", FULL, "Nhận xét", "HTTNV")
    service.review("O6", MONTH, "LA", FULL, "Nhận xét", "HTTNV")
    service.review("LA", MONTH, "HA", FULL, "Nhận xét", "HTTNV")
    with pytest.raises(UnitNotAcknowledged) as refused:
        service.decide("LA", MONTH, "HA", "HTTNV")
    assert refused.value.vi.endswith(
        "(Cán bộ O1, Cán bộ O6). Quyết định đối với Cán bộ O1 trước và chờ quyết định của "
        f"Cán bộ HB đối với Cán bộ O6, hoặc đánh dấu «{ACKNOWLEDGE_UNIT_VI}» để vẫn quyết "
        "định.")
    assert refused.value.en.endswith(
        "(Cán bộ O1, Cán bộ O6). Decide on Cán bộ O1 first and wait for Cán bộ HB's decision "
        "on Cán bộ O6, or acknowledge it (acknowledge_provisional_unit) to decide anyway.")


# --- 3. who may read an officer's months ------------------------------------------------------

def client_for(path, policy=None) -> TestClient:
    app = create_app(Settings(path, broker_url=None,
                              **({} if policy is None else {"policy": str(policy)})))
    app.dependency_overrides[deps.today] = lambda: TODAY
    return TestClient(app)


def months_of(trend: dict) -> list[str]:
    return [point["month"] for point in trend["series"]]


@pytest.fixture
def moved(tmp_path):
    """Monthly (hanoi-3814): LA reviews O1's March "A", HA decides it; in April O1 moves to B
    (led by LB). March belongs to A; January, February and April to B (never reviewed)."""
    path = tmp_path / "hailong.db"
    store = Store(path)
    placement.build_org(store)
    ticks = itertools.count(placement.T0, 1000)
    service = WorkflowService(store, HANOI, clock=lambda: next(ticks), today=lambda: TODAY)
    placement.grade(service, "O1", "LA", "HA", "A")
    placement.officer(store, "O1", "B", "LB")
    store.close()
    return path


def test_a_trend_window_leaves_out_the_months_another_unit_holds(moved):
    with client_for(moved) as client:
        hb, ha = as_officer(moved, "HB"), as_officer(moved, "HA")
        url = "/api/v1/officers/O1/trend"
        trend = client.get(f"{url}?month=2026-04&months=3", headers=hb)
        assert trend.status_code == 200
        assert (months_of(trend.json()), trend.json()["withheld"]) == (
            ["2026-02", "2026-04"], ["2026-03"])
        # The month asked for must itself be the caller's: March is A's.
        assert client.get(f"{url}?month=2026-03&months=3", headers=hb).status_code == 403
        old = client.get(f"{url}?month=2026-03&months=3", headers=ha).json()
        assert (months_of(old), old["withheld"]) == (["2026-03"], ["2026-01", "2026-02"])
        # Nothing withheld from an administrator.
        full = client.get(f"{url}?month=2026-04&months=3", headers=admin_headers(moved)).json()
        assert (months_of(full), full["withheld"]) == (["2026-02", "2026-03", "2026-04"], [])
        # The officer page's chart, the trend's twin: 12 months less March.
        page = client.get("/officers/O1?month=2026-04&lang=en", headers=hb)
        assert page.status_code == 200
        assert "Share of satisfied ratings, last 11 months" in page.text


def test_a_reviewer_who_has_left_reads_their_old_review_no_more(tmp_path):
    # LX, of another ward (A2), led O1 and reviewed O1's March; O1 then moved to B.
    path = tmp_path / "hailong.db"
    store = Store(path)
    placement.build_org(store)
    upsert_unit(store.db, "A2", "Phường Ất", "CITY", kind="ward")
    placement.officer(store, "LX", "A2")
    placement.officer(store, "O1", "A", "LX")
    ticks = itertools.count(placement.T0, 1000)
    service = WorkflowService(store, HANOI, clock=lambda: next(ticks), today=lambda: TODAY)
    placement.grade(service, "O1", "LX", "HA", "A")
    placement.officer(store, "O1", "B", "LB")
    lx = as_officer(path, "LX")
    url = f"/api/v1/officers/O1/months/{MONTH}"
    with client_for(path) as client:
        assert client.get(url, headers=lx).status_code == 200  # their review, in office
        upsert_officer(store.db, "LX", "Cán bộ LX", "Chuyên viên", "A2",
                       active_to="2026-04-05")
        assert client.get(url, headers=lx).status_code == 403  # left on 5 April
    store.close()


@pytest.fixture
def quarterly(tmp_path):
    """decree-335 by quarter: LA reviews O1's 2026-Q1 (placed in A); in April O1 moves to B."""
    text = (PRESETS_DIR / "decree-335.toml").read_text(encoding="utf-8")
    policy_file = tmp_path / "quarterly.toml"
    policy_file.write_text(text.replace('period = "month"', 'period = "quarter"'),
                           encoding="utf-8")
    path = tmp_path / "hailong.db"
    store = Store(path)
    placement.build_org(store)
    ticks = itertools.count(placement.T0, 1000)
    service = WorkflowService(store, load_policy(policy_file), clock=lambda: next(ticks),
                              today=lambda: TODAY)
    service.review("O1", "2026-Q1", "LA", FULL, "Nhận xét", "HTTNV")
    placement.officer(store, "O1", "B", "LB")
    store.close()
    return path, policy_file


@pytest.mark.parametrize("route", ["satisfaction", "tasks", "heatmap"])
def test_a_calendar_month_of_a_placed_quarter_is_read_as_the_quarter(quarterly, route):
    path, policy_file = quarterly
    with client_for(path, policy_file) as client:
        hb, ha = as_officer(path, "HB"), as_officer(path, "HA")
        february = f"/api/v1/officers/O1/{route}?month=2026-02"
        assert client.get(february, headers=hb).status_code == 403  # Q1 is A's
        assert client.get(february, headers=ha).status_code == 200
        april = f"/api/v1/officers/O1/{route}?month=2026-04"  # Q2: never reviewed, B's
        assert client.get(april, headers=hb).status_code == 200
        assert client.get(april, headers=ha).status_code == 403


def test_a_quarterly_trend_withholds_the_months_of_a_placed_quarter(quarterly):
    path, policy_file = quarterly
    with client_for(path, policy_file) as client:
        trend = client.get("/api/v1/officers/O1/trend?month=2026-04&months=4",
                           headers=as_officer(path, "HB")).json()
    assert (months_of(trend), trend["withheld"]) == (
        ["2026-04"], ["2026-01", "2026-02", "2026-03"])


# --- 4. an open offline alert after a roster correction or cancellation ----------------------

@pytest.fixture
def alerts_store(db_path):  # noqa: F811 (test_offline_alerts' world)
    """q1 (40 minutes offline on 2 March) and q2 (120) alerted; q3, a counter of the ward hk
    itself with no device at all."""
    store = Store(db_path)
    upsert_counter(store.db, "q3", "Quầy 3", "hk")
    offline_watch.check_offline_shifts(store.db, RULE, at(3, 13))
    yield store
    store.close()


def q2_shift(store: Store) -> int:
    return store.db.execute("SELECT shift_id FROM alerts WHERE counter_id = 'q2'").fetchone()[0]


def test_an_open_alert_follows_its_shift_to_another_counter_and_unit(alerts_store):
    # HK-B was in fact at q3 (ward hk), where no device ever stood: 08:00–12:00 = 240 min.
    RosterService(alerts_store, actor="test").correct_shift(
        q2_shift(alerts_store), counter_id="q3", reason="sai quầy")
    offline_watch.check_offline_shifts(alerts_store.db, RULE, at(3, 14))
    assert offline_rows(alerts_store.db) == [
        ("q1", "HK-A", "hk-1c", at(2, 8), at(2, 12), 40),
        ("q3", "HK-B", "hk", at(2, 8), at(2, 12), 240)]


def cancelled_item(store: Store) -> dict:
    items = alert_records.list_alerts(store.db, state="open", kind="device_offline")["items"]
    return next(item for item in items if item["counter_id"] == "q2")


def test_an_open_alert_whose_shift_is_cancelled_stays_marked_cancelled(alerts_store):
    RosterService(alerts_store, actor="test").cancel_shift(q2_shift(alerts_store),
                                                           reason="không có ca này")
    offline_watch.check_offline_shifts(alerts_store.db, RULE, at(3, 14))
    assert ("q2", "HK-B", "hk-1c", at(2, 8), at(2, 12), 120) in offline_rows(alerts_store.db)
    item = cancelled_item(alerts_store)
    assert (item["state"], item["shift_cancelled"]) == ("open", True)
    assert item["message"]["vi"] == (
        "Thiết bị tại «Quầy 2» mất kết nối 120 phút trong ca làm việc của Trần Văn Đức "
        "(08:00–12:00 ngày 02/03/2026); ca trực này sau đó đã bị hủy trong lịch trực")
    assert item["message"]["en"] == (
        "The device at “Quầy 2” was offline for 120 minutes during Trần Văn Đức's shift "
        "(08:00–12:00, 2026-03-02); this shift was later cancelled in the roster")
    q1 = next(i for i in alert_records.list_alerts(alerts_store.db, state="open")["items"]
              if i["counter_id"] == "q1")
    assert q1["shift_cancelled"] is False and "hủy" not in q1["message"]["vi"]


def test_a_shift_corrected_then_cancelled_before_the_watch_marks_its_alert(alerts_store):
    roster = RosterService(alerts_store, actor="test")
    corrected = roster.correct_shift(q2_shift(alerts_store), officer_id="HK-L",
                                     reason="đổi ca")
    roster.cancel_shift(corrected["id"], reason="không có ca này")
    offline_watch.check_offline_shifts(alerts_store.db, RULE, at(3, 14))
    item = cancelled_item(alerts_store)
    assert (item["shift_id"], item["shift_cancelled"], item["officer_id"]) == (
        corrected["id"], True, "HK-B")


# --- 5. the group of similar posts of a reopened month ---------------------------------------

def test_reopening_keeps_the_group_stored_at_the_review(tmp_path):
    store = Store(tmp_path / "hailong.db")
    placement.build_org(store)
    ticks = itertools.count(placement.T0, 1000)
    service = WorkflowService(store, HANOI, clock=lambda: next(ticks), today=lambda: TODAY)
    placement.grade(service, "O2", "HA", "HA", "B")
    assert placement.place(store, "O2") == ("A", "A", None)
    org = OrganisationService(store, actor="test")
    org.set_post_group("O2", placement.MC)  # later, say in June; O2 never moved
    service.reopen("O2", MONTH, "HA", "Xem lại")
    # A's March: HA, LA, O1–O4, every one in the default group → one line of 6.
    assert [(line.post_group, line.rated)
            for line in status.unit_quotas(store.db, HANOI, "A", MONTH)] == [(None, 6)]
    service.decide("O2", MONTH, "HA", "B")
    assert placement.place(store, "O2") == ("A", "A", None)
    # Regrouped between the review and the decision: decided in the group of its review.
    service.review("O3", MONTH, "HA", placement.HANOI, "Nhận xét", "B")
    org.set_post_group("O3", placement.MC)
    assert service.decide("O3", MONTH, "HA", "B")["quota"]["post_group"] is None
    assert placement.place(store, "O3") == ("A", "A", None)
    store.close()


# --- 6. the record of when the collector is receiving ----------------------------------------

def spans(db) -> list[tuple]:
    return db.execute("SELECT started_at, last_alive_at, ended_at FROM ingest_receiving "
                      "ORDER BY started_at").fetchall()


def broken(*_args, **_kwargs):
    raise sqlite3.OperationalError("disk I/O error")


def test_a_failed_mark_is_reported_until_one_succeeds(tmp_path, monkeypatch):
    store = Store(tmp_path / "hailong.db")
    record = ReceivingRecord("c1", beat_s=0)
    record.note_event(store.db, "subscribed", 1_000)
    record.mark(store.db, True, 2_000)
    assert (record.failing, spans(store.db)) == (False, [(1_000, 2_000, None)])
    with monkeypatch.context() as patched:
        patched.setattr(recording, "note_receiving", broken)
        record.mark(store.db, True, 3_000)
        assert record.failing
    record.mark(store.db, False, 4_000)  # not connected: no mark, still failing
    assert record.failing
    record.mark(store.db, True, 5_000)
    assert (record.failing, spans(store.db)) == (False, [(1_000, 5_000, None)])
    store.close()


def test_a_subscription_not_recorded_is_reported_and_recorded_at_the_next_beat(
        tmp_path, monkeypatch):
    store = Store(tmp_path / "hailong.db")
    record = ReceivingRecord("c1", beat_s=0)
    with monkeypatch.context() as patched:
        patched.setattr(recording, "note_session", broken)
        record.note_event(store.db, "subscribed", 1_000)
    assert (record.failing, spans(store.db)) == (True, [])
    # The next beat opens the span the subscription should have opened, from its time.
    record.mark(store.db, True, 31_000)
    assert (record.failing, spans(store.db)) == (False, [(1_000, 31_000, None)])
    store.close()


def test_the_ingest_health_says_so(tmp_path, monkeypatch):
    path = tmp_path / "hailong.db"
    Store(path).close()
    ingest = Ingest(str(path), BrokerAddress("127.0.0.1", 1), client_id="c1")
    ingest.receiving.beat_s = 0
    store = Store(path)
    monkeypatch.setattr(recording, "note_receiving", broken)
    ingest.receiving.mark(store.db, True, 2_000)
    assert "receiving_record_failing" in ingest.health_reasons()
    monkeypatch.undo()
    ingest.receiving.mark(store.db, True, 3_000)
    assert "receiving_record_failing" not in ingest.health_reasons()
    store.close()


# --- 7. the words of two refusals -------------------------------------------------------------

def test_a_head_setting_a_group_is_refused_in_vietnamese_first(seeded_db):
    app = create_app(Settings(db_path=seeded_db, broker_url=None))
    with TestClient(app, headers=as_officer(seeded_db, "HK-0100", "head")) as head:
        refused = head.patch("/api/v1/officers/HK-0001", json={"post_group": "Một cửa"})
    assert refused.status_code == 403
    assert refused.json()["detail"] == (
        "Chỉ quản trị viên xếp cán bộ vào nhóm vị trí việc làm tương đồng (post_group) / "
        "Only an administrator puts an officer in a group of similar posts (post_group)")


def test_a_bad_acknowledgement_is_refused_in_vietnamese_first(unit_world):
    with pytest.raises(WorkflowError) as refused:
        service_for(unit_world).decide("H", MONTH, "C", "HTTNV",
                                       acknowledge_provisional_unit="on")
    assert (refused.value.vi, refused.value.en) == (
        "Xác nhận kết quả đơn vị còn tạm tính phải là true hoặc false "
        "(acknowledge_provisional_unit)",
        "The acknowledgement of a provisional unit result must be true or false "
        "(acknowledge_provisional_unit)")
