"""The merge per officer-month and per unit-month, on a small world built through the store.

The world (`build_world`) is shared with test_annual, test_export_xlsx, test_api_monthly and
test_cli_month. March 2026, evaluated on 10 April 2026 (the month has closed):

- units: hk (ward, head HK-H) ⊃ hk-1c (one-stop section); counters q1, q2 with devices d1, d2;
- roster: HK-A at q1 on 2 and 3 March 08:00–12:00; HK-B at q2 on 2 March 08:00–12:00;
  HK-C at q1 and HK-D at q2 on 4 March 08:00–12:00;
- d1 online 2 March 08:00–10:00 only (offline for the second half of HK-A's first shift) and
  3 March 07:00–13:00; d2 online all of 2 and 4 March;
- ratings (4-level scale: 1 Không hài lòng, 2 Bình thường, 3 Hài lòng, 4 Rất hài lòng), all
  pressed inside the shifts so the roster attributes them:
  HK-A 30×4, 6×3, 2×2, 2×1 (the 1s with reason "waiting") + 3 presses filtered as cooldown;
  HK-B 28×4, 7×3; HK-C 30×2; HK-D 10×1 (below the minimum of 30);
- HK-A's tasks (see test_worked_example_decree_335); HK-E left on 28 February; HK-F joined
  on 15 March.
"""

from __future__ import annotations

import ast
import json
import math
from datetime import date, datetime

import pytest

from collector.evaluation import month as monthly
from collector.db.reader import open_reader
from collector.evaluation.policy import load_preset
from collector.db.store import Store
from collector.evaluation.tasks import TaskService
from collector.core.timeline import LOCAL_TZ
from conftest import ROOT
from factories import incoming, rating_bytes
from collector.ingest.recording import record_batch
from collector.org.organisation import upsert_counter, upsert_officer, upsert_unit
from collector.org.registry import register_device
from collector.evaluation import scoring
from collector.ratings import evidence
from collector.ratings.evidence import MAX_SILENCE_MS
from collector.ratings.satisfaction import summarise
from collector.roster.shifts import assign

MONTH = "2026-03"
TODAY = date(2026, 4, 10)
HANOI = load_preset("hanoi-3814")
DECREE = load_preset("decree-335")
MINUTE = 60_000


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> int:
    """Unix ms of a local (UTC+7) time in 2026."""
    return int(datetime(2026, month, day, hour, minute, tzinfo=LOCAL_TZ).timestamp() * 1000)


NOW = at(10, 9, month=4)


def presses(device: str, boot: int, start: int, levels: list[int], **extra) -> list:
    """One press every 5 minutes from `start`, each its own rating id."""
    return [incoming(rating_bytes(device=device, boot=boot, seq=i + 1, level=level,
                                  officer=None, ts=start + 5 * MINUTE * i, **extra),
                     device=device)
            for i, level in enumerate(levels)]


def shift(store: Store, device: str, officer: str, start: int, end: int) -> None:
    assign(store.db, device, officer, start, actor="test")
    assign(store.db, device, None, end, actor="test")


def online(store: Store, device: str, start: int, end: int | None, last_seen: int) -> None:
    store.db.execute("INSERT INTO device_online_spans (device_id, starts_at, last_seen_at, "
                     "ended_at) VALUES (?, ?, ?, ?)", [device, start, last_seen, end])


def evaluate(store: Store, officer: str, month: str = MONTH, **columns) -> None:
    """A workflow row as collector/evaluation/workflow/steps.py would leave it (JSON columns as
    text)."""
    row = {"officer_id": officer, "month": month, "updated_at": NOW, **columns}
    for key in ("self_scores", "review_scores", "snapshot"):
        if key in row and not isinstance(row[key], str):
            row[key] = json.dumps(row[key])
    store.db["evaluations"].upsert(row, pk=("officer_id", "month"))


def build_world(path) -> None:
    store = Store(path)
    try:
        upsert_unit(store.db, "hk", "UBND phường Hoàn Kiếm", None, kind="ward")
        upsert_unit(store.db, "hk-1c", "Bộ phận Một cửa phường Hoàn Kiếm", "hk", kind="one_stop")
        upsert_officer(store.db, "HK-H", "Ngô Văn Hùng", "Chủ tịch", "hk")
        upsert_officer(store.db, "HK-L", "Đặng Thị Mai Lan", "Trưởng bộ phận", "hk",
                       leader_id="HK-H")
        for code, name in (("HK-A", "Nguyễn Thị Thu Hường"), ("HK-B", "Trần Văn Đức"),
                           ("HK-C", "Lê Hoàng Yến"), ("HK-D", "Phạm Quốc Việt")):
            upsert_officer(store.db, code, name, "Chuyên viên", "hk-1c", leader_id="HK-L")
        upsert_officer(store.db, "HK-E", "Vũ Minh Khoa", "Chuyên viên", "hk-1c", leader_id="HK-L",
                                 active_to="2026-02-28")
        upsert_officer(store.db, "HK-F", "Bùi Thị Lệ Thủy", "Cán sự", "hk-1c", leader_id="HK-L",
                                 active_from="2026-03-15")
        upsert_unit(store.db, "hk", "UBND phường Hoàn Kiếm", None, kind="ward", head_id="HK-H")
        upsert_counter(store.db, "q1", "Quầy 1", "hk-1c")
        upsert_counter(store.db, "q2", "Quầy 2", "hk-1c")
        register_device(store.db, "d1", "q1", at=at(20, 0, month=2))
        register_device(store.db, "d2", "q2", at=at(20, 0, month=2))

        shift(store, "d1", "HK-A", at(2, 8), at(2, 12))
        shift(store, "d1", "HK-A", at(3, 8), at(3, 12))
        shift(store, "d2", "HK-B", at(2, 8), at(2, 12))
        shift(store, "d1", "HK-C", at(4, 8), at(4, 12))
        shift(store, "d2", "HK-D", at(4, 8), at(4, 12))
        with store.db.atomic():
            online(store, "d1", at(2, 8), at(2, 10), at(2, 9, 59))
            online(store, "d1", at(3, 7), at(3, 13), at(3, 12, 59))
            online(store, "d2", at(2, 0), at(3, 0), at(2, 23, 59))
            online(store, "d2", at(4, 0), at(5, 0), at(4, 23, 59))

        levels_a = [4] * 30 + [3] * 6 + [2] * 2
        batch = presses("d1", 1, at(2, 8), levels_a)
        batch += presses("d1", 2, at(2, 11), [1, 1], reason="waiting")
        batch += presses("d1", 3, at(2, 11, 30), [4, 4, 4], excluded="cooldown")
        batch += presses("d2", 1, at(2, 8, 1), [4] * 28 + [3] * 7)
        batch += presses("d1", 4, at(4, 8), [2] * 30)
        batch += presses("d2", 2, at(4, 8), [1] * 10)
        assert record_batch(store.db, batch)["stored"] == len(batch)

        service = TaskService(store, actor="HK-L", clock=lambda: NOW, today=lambda: TODAY)
        t1 = service.create("HK-A", title="Báo cáo tháng", assigned_by="HK-L", period="month",
                            deadline="2026-03-10")["id"]
        t2 = service.create("HK-A", title="Tiếp nhận hồ sơ", assigned_by="HK-L",
                            period="week", deadline="2026-03-15")["id"]
        t3 = service.create("HK-A", title="Cấp phép xây dựng", assigned_by="HK-L",
                            period="month", deadline="2026-03-20", weight=2)["id"]
        service.create("HK-A", title="Rà soát thủ tục", assigned_by="HK-L", period="month",
                       deadline="2026-03-31")
        service.update(t1, {"completed_on": "2026-03-09"})
        service.update(t2, {"completed_on": "2026-03-18"})
        service.update(t3, {"completed_on": "2026-03-25"})
        service.flag_error(t1, "Sai số liệu tổng hợp")
        service.excuse_delay(t3, "Chờ ý kiến của Sở Xây dựng")
    finally:
        store.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    path = tmp_path_factory.mktemp("monthly") / "hailong.db"
    build_world(path)
    return path


@pytest.fixture
def db(world):
    reader = open_reader(world)
    yield reader
    reader.conn.close()


@pytest.fixture
def writable(tmp_path):
    """A fresh copy of the world that a test may change."""
    path = tmp_path / "hailong.db"
    build_world(path)
    store = Store(path)
    yield store
    store.close()


def officer_month(db, officer="HK-A", policy=DECREE, month=MONTH, now=NOW):
    return monthly.officer_month(db, officer, month, policy, now_ms=now, today=TODAY)


REVIEW = {"politics_ethics": 7, "discipline": 7.5, "service_attitude": 6, "innovation": 5}


# --- the worked example ------------------------------------------------------------------------

def test_worked_example_decree_335(writable):
    evaluate(writable, "HK-A", self_scores={**REVIEW, "innovation": 7.5, "task_results": 60},
             self_comment="Hoàn thành tốt", self_at=at(2, 9, month=4),
             review_scores=REVIEW, review_comment="Cần chủ động hơn", proposed_grade="HTTNV",
             reviewed_by="HK-L", reviewed_at=at(4, 9, month=4))
    result = officer_month(writable.db)

    sat = result["satisfaction"]
    # Counted: 30 + 6 + 2 + 2 = 40 (the 3 cooldown presses are shown apart, never counted).
    assert sat["total"] == 40 and sat["sufficient"] and sat["min_ratings"] == 30
    assert sat["counts"] == {"very_dissatisfied": 0, "dissatisfied": 2, "neutral": 2,
                             "satisfied": 6, "very_satisfied": 30}
    # Index: each press placed on 0–100 within its 4-level scale (level 1 → 0, 2 → 33.3,
    # 3 → 66.7, 4 → 100): (30×100 + 6×66.67 + 2×33.33 + 2×0) / 40 = 3466.7 / 40 = 86.7.
    assert sat["index"] == 86.7
    # Share satisfied: (30 + 6) / 40 = 0.9; Wilson 95 %: centre (0.9 + 1.96²/80)/(1 + 1.96²/40)
    # = 0.8770, half-width 0.1275 → (0.7695, 0.9604).
    assert sat["share_satisfied"] == 0.9
    assert sat["share_interval"] == pytest.approx((0.7695, 0.9604), abs=1e-4)
    assert sat["filtered"] == {"total": 3, "by_reason": {"cooldown": 3}}
    assert sat["citizen_reasons"] == {"waiting": 2}
    assert sat["attribution"] == {"roster": 40}

    # Coverage: on duty 2 March 08–12 and 3 March 08–12 = 8 h. d1 online 08–10 on the 2nd
    # (offline the second half of that shift) and all of the 3rd's shift: 2 + 4 = 6 h online,
    # 2 h offline, share 6/8 = 0.75.
    cov = sat["coverage"]
    assert (cov["duty_hours"], cov["online_hours"], cov["offline_hours"], cov["share"]) == (
        8.0, 6.0, 2.0, 0.75)
    assert [(c["counter_id"], c["label"], c["share"]) for c in cov["by_counter"]] == [
        ("q1", "Quầy 1", 0.75)]

    # Unit median among hk-1c officers with at least 30 ratings: A 86.7, B (28×100 + 7×66.67)
    # / 35 = 93.3, C 30×33.33 / 30 = 33.3 → median 86.7; D (10 ratings) does not count, or
    # the median of four would be (33.3 + 86.7) / 2 = 60.0.
    assert sat["comparison"] == {"median": 86.7, "compared": 3, "difference": 0.0, "rank": 2}

    tasks = result["tasks"]
    # Tasks, weight W = 1 + 1 + 2 + 1 = 5: «Báo cáo tháng» done 9/3 ≤ 10/3 on time with one
    # major error; «Tiếp nhận hồ sơ» done 18/3 > 15/3 late; «Cấp phép» (weight 2) done 25/3
    # > 20/3 late but excused; «Rà soát» deadline 31/3 not done by the month's end: overdue.
    assert tasks["summary"] == {"registered": 4, "on_time": 1, "late": 2, "overdue": 1,
                                "excused": 1, "open": 0}
    # quantity = (1 + 1 + 2) / 5 = 80 %; quality = (1 × 0.75 + 1 + 2) / 5 = 75 %;
    # progress = (1 + 1 × 0.75 + 2) / 5 = 75 % (the excused delay costs nothing).
    assert tasks["percentages"] == {"quantity": 80.0, "quality": 75.0, "progress": 75.0}
    assert [t["status"] for t in tasks["items"]] == ["on_time", "late", "late", "overdue"]

    suggestion = result["suggestion"]
    assert result["suggestion_basis"] == suggestion["basis"] == "review"
    # Service attitude (7.5, half follows citizens): leader 6 × 0.5 = 3.00; citizens
    # 3.75 × 0.9 = 3.375 → 3.38; criterion 6.375 → 6.38.
    # Task results (70 = three parts of 23.333…): 23.333 × (0.80 + 0.75 + 0.75) = 53.67.
    # Rounded once (issue 12): the exact total 7 + 7.5 + 6.375 + 5 + 53.666… = 79.541… → 79.54
    # → Hoàn thành tốt nhiệm vụ (70 to under 90). The rounded criteria add to 79.55: a line
    # "Làm tròn tổng điểm" of −0.01 keeps the lines adding up to the score.
    assert suggestion["criteria"] == {"politics_ethics": 7.0, "discipline": 7.5,
                                      "service_attitude": 6.38, "innovation": 5.0,
                                      "task_results": 53.67}
    assert suggestion["score"] == 79.54
    assert suggestion["grade"]["code"] == "HTTNV" and suggestion["satisfaction_counted"]
    assert suggestion["lines"][-1] == {"criterion": "total", "points": -0.01,
                                       "vi": "Làm tròn tổng điểm", "en": "Rounding of the total"}
    assert math.isclose(sum(line["points"] for line in suggestion["lines"]), 79.54)
    assert {"criterion", "points", "vi", "en"} == set(suggestion["lines"][0])
    # The evidence alone: task results 53.666… + the citizens' part 3.375 = 57.041… → 57.04.
    assert result["evidence_points"]["criteria"] == {"task_results": 53.67,
                                                     "service_attitude": 3.38}
    assert result["evidence_points"]["total"] == 57.04

    workflow = result["workflow"]
    assert workflow["status"] == "reviewed" and not workflow["locked"]
    assert workflow["self"]["total"] == 7 + 7.5 + 6 + 7.5 + 60
    assert workflow["review"]["proposed_grade"]["code"] == "HTTNV"
    assert workflow["review"]["by_name"] == "Đặng Thị Mai Lan"
    assert result["decided_snapshot"] is None
    table = {row["code"]: row for row in result["criteria"]}
    assert (table["task_results"]["self"], table["task_results"]["leader"],
            table["task_results"]["suggested"]) == (60, None, 53.67)
    assert json.loads(json.dumps(result, ensure_ascii=False)) == json.loads(
        json.dumps(result, ensure_ascii=False))  # plain JSON all through


def test_task_points_follow_the_three_percentages(db):
    # The exposed percentages are the shares scoring multiplies each third of 70 by.
    result = officer_month(db)
    pct = result["tasks"]["percentages"]
    expected = 70 / 3 * (pct["quantity"] + pct["quality"] + pct["progress"]) / 100
    assert result["evidence_points"]["criteria"]["task_results"] == round(expected, 2)


def test_no_scores_awaits_the_leader_but_shows_the_evidence_points(db):
    result = officer_month(db)
    assert result["suggestion"] is None and result["suggestion_basis"] == "none"
    assert result["suggestion_note"] == {"vi": "chờ lãnh đạo chấm",
                                         "en": "awaiting the leader's scores"}
    points = result["evidence_points"]
    assert points["total"] == 57.04
    # Only evidence lines: no "leader's score 0/7.5" line for any criterion.
    assert all("lãnh đạo chấm" not in line["vi"] for line in points["lines"])
    assert math.isclose(sum(line["points"] for line in points["lines"]), 57.04)


def test_self_scores_are_the_basis_until_the_leader_reviews(writable):
    evaluate(writable, "HK-A", self_scores=REVIEW, self_at=at(2, 9, month=4))
    result = officer_month(writable.db)
    assert result["suggestion_basis"] == result["suggestion"]["basis"] == "self"
    assert result["suggestion"]["score"] == 79.54
    assert result["workflow"]["status"] == "self"


def test_unusable_stored_scores_are_named_not_zeroed(writable):
    evaluate(writable, "HK-A", review_scores={**REVIEW, "innovation": 9},  # max 7.5
             reviewed_by="HK-L", reviewed_at=at(4, 9, month=4))
    result = officer_month(writable.db)
    assert result["suggestion"] is None and result["suggestion_basis"] == "review"
    assert "innovation" in result["suggestion_note"]["en"]


def test_insufficient_evidence_does_not_move_the_score(writable):
    # HK-D: 10 ratings, all "Không hài lòng", below the minimum of 30.
    evaluate(writable, "HK-D", review_scores=REVIEW, reviewed_by="HK-L",
             reviewed_at=at(4, 9, month=4))
    before = officer_month(writable.db, "HK-D")
    sat = before["satisfaction"]
    assert (sat["total"], sat["sufficient"], sat["index"]) == (10, False, 0.0)
    assert sat["reason"] == {"vi": "chưa đủ dữ liệu đánh giá", "en": "insufficient evidence"}
    assert sat["comparison"]["difference"] is None
    suggestion = before["suggestion"]
    # The leader's 6 of 7.5 stands alone for service attitude.
    assert suggestion["criteria"]["service_attitude"] == 6.0
    assert not suggestion["satisfaction_counted"]
    assert any("chưa đủ dữ liệu đánh giá" in line["vi"] for line in suggestion["lines"])
    assert before["evidence_points"]["criteria"]["service_attitude"] == 0.0

    # Nineteen more presses, all "Rất hài lòng": 29 in all, still below 30 — nothing moves.
    record_batch(writable.db, presses("d2", 9, at(4, 9), [4] * 19))
    after = officer_month(writable.db, "HK-D")
    assert after["satisfaction"]["total"] == 29 and after["satisfaction"]["index"] > 60
    assert after["suggestion"]["score"] == suggestion["score"]
    # One more reaches the minimum: now the citizens' half counts.
    record_batch(writable.db, presses("d2", 10, at(4, 11), [4]))
    counted = officer_month(writable.db, "HK-D")["suggestion"]
    assert counted["satisfaction_counted"] and counted["score"] != suggestion["score"]


def test_decided_month_carries_the_snapshot_beside_live_evidence(writable):
    snapshot = {"satisfaction": {"total": 38}, "suggestion": {"score": 78.9}}
    evaluate(writable, "HK-A", review_scores=REVIEW, reviewed_by="HK-L",
             reviewed_at=at(4, 9, month=4), proposed_grade="HTTNV", final_grade="HTTNV",
             final_score=79.54, decision_note="Đồng ý", decided_by="HK-H",
             decided_at=at(6, 15, month=4), snapshot=snapshot)
    writable.db["evaluation_events"].insert_all([
        {"officer_id": "HK-A", "month": MONTH, "step": "review", "actor": "HK-L",
         "at": at(4, 9, month=4), "data": json.dumps({"proposed_grade": "HTTNV"})},
        {"officer_id": "HK-A", "month": MONTH, "step": "decision", "actor": "HK-H",
         "at": at(6, 15, month=4), "data": json.dumps({"final_grade": "HTTNV"})}])
    result = officer_month(writable.db)
    assert result["decided_snapshot"] == snapshot
    assert result["satisfaction"]["total"] == 40  # live evidence stays alongside
    workflow = result["workflow"]
    assert workflow["status"] == "decided" and workflow["locked"]
    assert workflow["decision"]["by_name"] == "Ngô Văn Hùng"
    assert workflow["decision"]["grade"]["vi"] == "Hoàn thành tốt nhiệm vụ"
    assert [(e["step"], e["actor_name"], e["data"]) for e in workflow["events"]] == [
        ("review", "Đặng Thị Mai Lan", {"proposed_grade": "HTTNV"}),
        ("decision", "Ngô Văn Hùng", {"final_grade": "HTTNV"})]


def test_coverage_stops_at_now_in_the_current_month(db):
    # Asked on 2 March at 09:00 (d1 online since 08:00, heard a minute ago): one hour on duty,
    # all of it online. The rest of the shift has not happened yet.
    cov = officer_month(db, now=at(2, 9))["satisfaction"]["coverage"]
    assert (cov["duty_hours"], cov["online_hours"], cov["share"]) == (1.0, 1.0, 1.0)


def test_unknown_officer_and_bad_month_are_bilingual_errors(db):
    with pytest.raises(monthly.MonthlyNotFound, match="Không tìm thấy cán bộ .* / No officer"):
        officer_month(db, "XX-9")
    with pytest.raises(monthly.MonthlyError, match="Tháng không hợp lệ .* / Invalid month"):
        officer_month(db, month="2026-13")


# --- device online time placed at counters --------------------------------------------------

def span(counter="q1", placed=0, removed=None, start=100, last_seen=200, ended=None):
    return {"counter_id": counter, "device_id": "d", "placed_at": placed,
            "removed_at": removed, "starts_at": start, "last_seen_at": last_seen,
            "ended_at": ended}


@pytest.mark.parametrize("row, now, expected", [
    (span(ended=500), 10_000, [(100, 500)]),                            # closed span
    (span(), 200 + MAX_SILENCE_MS, [(100, None)]),                      # heard just now: open
    (span(), 201 + MAX_SILENCE_MS, [(100, 200 + MAX_SILENCE_MS)]),      # gone quiet
    (span(placed=300, ended=500), 10_000, [(300, 500)]),                # placed after it started
    (span(removed=150, ended=500), 10_000, [(100, 150)]),               # moved away at 150
    (span(removed=150), 200, [(100, 150)]),                             # open span, moved away
    (span(removed=100, ended=500), 10_000, []),                         # moved before it started
])
def test_placed_online(row, now, expected):
    assert monthly.placed_online([row], now).get("q1", []) == expected


# --- the unit's month ------------------------------------------------------------------------

def test_unit_month_rows_quota_and_progress(writable):
    for officer, grade in (("HK-A", "HTXSNV"), ("HK-B", "HTXSNV"), ("HK-C", "HTTNV"),
                           ("HK-D", "HTNV")):
        evaluate(writable, officer, self_scores=REVIEW, self_at=at(1, 9, month=4),
                 review_scores=REVIEW, proposed_grade=grade, reviewed_by="HK-L",
                 reviewed_at=at(4, 9, month=4))
    evaluate(writable, "HK-B", review_scores=REVIEW, proposed_grade="HTXSNV",
             reviewed_by="HK-L", reviewed_at=at(4, 9, month=4), final_grade="HTXSNV",
             final_score=91, decided_by="HK-H", decided_at=at(6, 15, month=4))
    evaluate(writable, "HK-F", self_scores=REVIEW, self_at=at(1, 9, month=4))
    report = monthly.unit_month(writable.db, "hk", MONTH, HANOI, now_ms=NOW, today=TODAY)

    # hk and hk-1c; HK-E left before March, HK-F joined mid-March and counts.
    codes = [row["officer_id"] for row in report["officers"]]
    assert sorted(codes) == ["HK-A", "HK-B", "HK-C", "HK-D", "HK-F", "HK-H", "HK-L"]
    assert report["unit"]["head_name"] == "Ngô Văn Hùng"
    rows = {row["officer_id"]: row for row in report["officers"]}
    a = rows["HK-A"]
    assert (a["satisfaction"]["ratings"], a["satisfaction"]["index"],
            a["satisfaction"]["median"], a["coverage"]["share"]) == (40, 86.7, 86.7, 0.75)
    assert (a["tasks"]["registered"], a["tasks"]["quantity"]) == (4, 80.0)
    assert a["proposed_grade"]["letter"] == "A" and a["status"] == "reviewed"
    # REVIEW scores decree-335's criteria: unusable under hanoi-3814, so the suggestion waits.
    assert a["suggested_score"] is None and a["suggestion_basis"] == "review"
    b = rows["HK-B"]
    assert (b["final_grade"]["code"], b["decided_by_name"], b["status"]) == (
        "HTXSNV", "Ngô Văn Hùng", "decided")
    # Quota (hanoi-3814) over the grades standing (decided, else proposed): A, A (decided),
    # B, C → cap floor(30 % × 4) = 1, 2 A → over by 1.
    quota = report["quota"]
    assert (quota["rated"], quota["cap"], quota["proposed"], quota["exceeded"],
            quota["over_by"]) == (4, 1, 2, True, 1)
    assert quota["vi"].startswith("Cảnh báo")
    # One A decided (HK-B), one proposed (HK-A): each said as what it is (issue 12).
    assert quota["decided"] == 1
    assert quota["vi"].startswith(
        "Cảnh báo: vượt tỷ lệ 1 người. 1 đã quyết định và 1 đề xuất «Hoàn thành xuất sắc")
    assert "1 decided and 1 proposed “Excellent" in quota["en"]
    # Decided so far: 1 A of 1 rated, cap floor(30 % × 1) = 0 → the warning already shows.
    final = report["quota_final"]
    assert (final["rated"], final["cap"], final["exceeded"], final["decided"]) == (1, 0, True, 1)
    assert "1 đã quyết định «" in final["vi"] and "đề xuất" not in final["vi"]
    assert "1 decided “" in final["en"] and "proposed" not in final["en"]
    assert report["progress"] == {"officers": 7, "pending": 2, "self": 1, "reviewed": 3,
                                  "decided": 1}
    assert {u["unit_id"]: u["median"] for u in report["sub_units"]} == {"hk-1c": 86.7,
                                                                         "hk": None}


def test_unit_month_suggests_under_the_policy_scored(writable):
    evaluate(writable, "HK-A", review_scores={"discipline_ethics": 18, "bonus": 6},
             reviewed_by="HK-L", reviewed_at=at(4, 9, month=4))
    report = monthly.unit_month(writable.db, "hk-1c", MONTH, HANOI, now_ms=NOW, today=TODAY)
    a = next(row for row in report["officers"] if row["officer_id"] == "HK-A")
    # hanoi-3814: discipline and ethics 18 × 0.75 = 13.5 + citizens 5 × 0.9 = 4.5 → 18;
    # tasks 53.67 (as under decree-335: same task rule); bonus 6. 18 + 53.67 + 6 = 77.67 → B.
    assert a["suggested_score"] == 77.67 and a["suggested_grade"]["letter"] == "B"
    assert "HK-H" not in [row["officer_id"] for row in report["officers"]]  # hk is above


def test_unknown_unit(db):
    with pytest.raises(monthly.MonthlyNotFound, match="No unit"):
        monthly.unit_month(db, "nowhere", MONTH, HANOI, now_ms=NOW, today=TODAY)


@pytest.mark.parametrize("path", ["collector/evaluation/sources.py",
                                  "collector/evaluation/workflow/records.py"])
def test_query_names_are_defined_once(path):
    # The evidence and evaluation reads were written in parallel; a repeated name would
    # silently replace an earlier function.
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    names = [node.name for node in tree.body if isinstance(node, ast.FunctionDef)]
    assert len(names) == len(set(names)), sorted({n for n in names if names.count(n) > 1})


# --- round once, at the end (issue 12) --------------------------------------------------------

def four_level(*groups: tuple[int, int]) -> list[tuple]:
    """(count, level) groups → summarise() tuples on a 4-level device (index (level−1)/3)."""
    return [(4, level, None) for count, level in groups for _ in range(count)]


def test_the_difference_from_the_median_is_rounded_once():
    """X: 4×(4) + 3 + 1 → (3·3 + 2 + 0)/(3 × 5) → index 73.33…, shown 73.3; M: 5×(4) + 3 + 1
    → 17/21 → 80.95…, shown 81.0, the median of 73.33…, 80.95… and 100. Difference
    73.33… − 80.95… = −7.619… → −7.6; the rounded values gave 73.3 − 81.0 = −7.7."""
    summaries = {"X": summarise(four_level((3, 4), (1, 3), (1, 1))),
                 "M": summarise(four_level((5, 4), (1, 3), (1, 1))),
                 "T": summarise(four_level((6, 4)))}
    assert [summaries[o].index for o in "XMT"] == [73.3, 81.0, 100.0]
    comparison = evidence.unit_comparisons(summaries, min_ratings=5)
    assert comparison["X"] == {"median": 81.0, "compared": 3, "difference": -7.6, "rank": 3}
    assert comparison["T"]["difference"] == 19.0  # 100 − 80.95… = 19.047… → 19.0


def test_rank_ties_are_judged_on_unrounded_indexes():
    """P: 12×(4) + 2 + 4×(1) → 37/51 → 72.549…; Q: 16×(4) + 3 + 6×(1) → 50/69 → 72.463…:
    both shown 72.5, but P is ahead. Q′ has Q's presses in another order: a true tie."""
    q = four_level((16, 4), (1, 3), (6, 1))
    summaries = {"P": summarise(four_level((12, 4), (1, 2), (4, 1))), "Q": summarise(q),
                 "Q2": summarise(list(reversed(q))), "R": summarise(four_level((5, 4), (5, 1)))}
    assert summaries["P"].index == summaries["Q"].index == 72.5
    ranks = {o: c["rank"] for o, c in evidence.unit_comparisons(summaries, 5).items()}
    assert ranks == {"P": 1, "Q": 2, "Q2": 2, "R": 4}


def test_the_citizens_part_is_computed_from_the_unrounded_share():
    """27 of 31 satisfied: share 0.870967…, shown 0.871. hanoi-3814's citizens' part of
    discipline and ethics is 5 × share = 4.3548… → 4.35; from the shown share it was
    5 × 0.871 = 4.355 → 4.36. Leader 18 × 0.75 = 13.5; the criterion 17.8548… → 17.85."""
    sat = evidence.satisfaction_evidence(summarise(four_level((27, 4), (4, 1))), 30)
    assert sat["share_satisfied"] == 0.871
    result = monthly.suggestion_for(HANOI, sat, scoring.TaskEvidence(), {
        "review_scores": json.dumps({"discipline_ethics": 18, "bonus": 6})})
    lines = [line["points"] for line in result["suggestion"]["lines"]
             if line["criterion"] == "discipline_ethics"]
    assert lines == [13.5, 4.35]
    assert result["suggestion"]["criteria"]["discipline_ethics"] == 17.85
