"""Few ratings because the officer's own counter was offline are shown as such, and the leader
must then write a reason to score the satisfaction criterion above what the ratings show
(issue 12, item 3; policy `[offline] coverage_below = 0.8`, `attitude_reason = true`).

The world, March 2026, evaluated on 10 April 2026 (local time, UTC+7): units hk (ward, head
HK-H) ⊃ hk-1c (one-stop section, leader HK-L); counters q1–q4 with devices d1–d4.

| officer | shifts (08:00–12:00)  | device online           | coverage | ratings (4-level)        |
|---------|-----------------------|-------------------------|----------|--------------------------|
| HK-A    | q1, 2 and 3 March     | 2 March 08:00–09:00     | 1/8      | 10: 4,4,4,3,3,3,2,2,1,1  |
| HK-B    | q2, 2 and 3 March     | both days 07:00–13:00   | 8/8      | 10: the same             |
| HK-C    | q3, 2 March           | never                   | 0/4      | none                     |
| HK-D    | q4, 2 and 3 March     | 2 March 08:00–11:00     | 3/8      | 30, all "Rất hài lòng"   |

Worked by hand: HK-A has 10 counted ratings (< 30, insufficient) and 12.5 % coverage (< 80 %):
insufficient *because the counter was offline*, 87.5 % of the time on shift. 6 of the 10 are
satisfied ("Hài lòng", "Rất hài lòng"; "Bình thường" is not), share 0.6, so the ratings show
0.6 × 7.5 = 4.5 points of "Thái độ phục vụ" under decree-335 and 0.6 × 20 = 12 points of
"Ý thức tổ chức kỷ luật, …, thái độ phục vụ" under hanoi-3814 (both map the share linearly, 0 at 0 and all at 1). HK-C
has no rating at all: 0 points shown, any score above 0 needs the reason. HK-B's coverage is
fine (100 %), HK-D's ratings are sufficient (30): neither is flagged.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime

import pytest
from fastapi.testclient import TestClient

from accounts_support import as_officer
from collector.app import create_app
from collector.core.settings import Settings
from collector.core.timeline import LOCAL_TZ
from collector.db.store import Store
from collector.evaluation import month as monthly
from collector.evaluation.policy import load_preset
from collector.evaluation.rules.offline import OfflineRule
from collector.evaluation.workflow.steps import WorkflowConflict, WorkflowError, WorkflowService
from collector.ingest import recording
from collector.ingest.recording import record_batch
from collector.org.organisation import upsert_counter, upsert_officer, upsert_unit
from collector.org.registry import register_device
from collector.ratings import evidence
from collector.roster.shifts import RosterService
from collector.web import deps
from factories import incoming, rating_bytes

MONTH = "2026-03"
TODAY = date(2026, 4, 10)
MINUTE = 60_000
HANOI = load_preset("hanoi-3814")
DECREE = load_preset("decree-335")
LEVELS = [4, 4, 4, 3, 3, 3, 2, 2, 1, 1]
REASON = "Cán bộ tận tình, được công dân khen trực tiếp tại quầy"


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> int:
    return int(datetime(2026, month, day, hour, minute, tzinfo=LOCAL_TZ).timestamp() * 1000)


NOW = at(10, 9, month=4)


def presses(device: str, start: int, levels: list[int]) -> list:
    """One press every 5 minutes from `start`; the roster attributes them."""
    return [incoming(rating_bytes(device=device, boot=1, seq=i + 1, level=level, officer=None,
                                  ts=start + 5 * MINUTE * i), device=device)
            for i, level in enumerate(levels)]


def online(store: Store, device: str, start: int, end: int) -> None:
    store.db.execute("INSERT INTO device_online_spans (device_id, starts_at, last_seen_at, "
                     "ended_at) VALUES (?, ?, ?, ?)", [device, start, end - MINUTE, end])


@pytest.fixture
def db_path(tmp_path):
    path = tmp_path / "hailong.db"
    store = Store(path)
    try:
        upsert_unit(store.db, "hk", "UBND phường Hoàn Kiếm", None, kind="ward")
        upsert_unit(store.db, "hk-1c", "Bộ phận Một cửa phường Hoàn Kiếm", "hk", kind="office")
        upsert_officer(store.db, "HK-H", "Ngô Văn Hùng", "Chủ tịch", "hk")
        upsert_officer(store.db, "HK-L", "Đặng Thị Mai Lan", "Trưởng bộ phận", "hk",
                       leader_id="HK-H")
        for code, name in (("HK-A", "Nguyễn Thị Thu Hường"), ("HK-B", "Trần Văn Đức"),
                           ("HK-C", "Lê Hoàng Yến"), ("HK-D", "Phạm Quốc Việt")):
            upsert_officer(store.db, code, name, "Chuyên viên", "hk-1c", leader_id="HK-L")
        upsert_unit(store.db, "hk", "UBND phường Hoàn Kiếm", None, kind="ward", head_id="HK-H")
        roster = RosterService(store, actor="test")
        for n, officer, days in ((1, "HK-A", (2, 3)), (2, "HK-B", (2, 3)), (3, "HK-C", (2,)),
                                 (4, "HK-D", (2, 3))):
            upsert_counter(store.db, f"q{n}", f"Quầy {n}", "hk-1c")
            register_device(store.db, f"d{n}", f"q{n}", at=at(20, 0, month=2))
            for day in days:
                roster.add_shift(f"q{n}", officer, at(day, 8), at(day, 12))
        with store.db.atomic():
            online(store, "d1", at(2, 8), at(2, 9))
            online(store, "d2", at(2, 7), at(2, 13))
            online(store, "d2", at(3, 7), at(3, 13))
            online(store, "d4", at(2, 8), at(2, 11))
        batch = (presses("d1", at(2, 8), LEVELS) + presses("d2", at(2, 8), LEVELS)
                 + presses("d4", at(2, 8), [4] * 30))
        assert record_batch(store.db, batch)["stored"] == 50
    finally:
        store.close()
    return path


@pytest.fixture
def store(db_path):
    store = Store(db_path)
    yield store
    store.close()


def month_of(store: Store, officer: str, policy) -> dict:
    return monthly.officer_month(store.db, officer, MONTH, policy, now_ms=NOW, today=TODAY)


def service(store: Store, policy) -> WorkflowService:
    return WorkflowService(store, policy, clock=lambda: NOW, today=lambda: TODAY,
                           evidence_of=lambda officer, month: monthly.officer_month(
                               store.db, officer, month, policy, now_ms=NOW, today=TODAY))


def scores(policy, attitude: float) -> dict[str, float]:
    if policy is HANOI or policy.name == "hanoi-3814":
        return {"discipline_ethics": attitude, "bonus": 5}
    return {"politics_ethics": 6, "discipline": 6, "service_attitude": attitude,
            "innovation": 6}


def review(store, policy, officer, attitude, reason=None):
    return service(store, policy).review(officer, MONTH, "HK-L", scores(policy, attitude),
                                         "Nhận xét", "HTTNV", attitude_reason=reason)


PRESETS = [pytest.param(HANOI, "Ý thức tổ chức kỷ luật, phẩm chất đạo đức, tác phong, thái độ "
                                "phục vụ", 12, 20, id="hanoi-3814"),
           pytest.param(DECREE, "Thái độ phục vụ", 4.5, 7.5, id="decree-335")]


@pytest.mark.parametrize("policy, label, ceiling, full", PRESETS)
def test_few_ratings_with_the_counter_offline_are_said_to_be_offline(store, policy, label,
                                                                    ceiling, full):
    sat = month_of(store, "HK-A", policy)["satisfaction"]
    assert (sat["total"], sat["sufficient"], sat["coverage"]["share"]) == (10, False, 0.125)
    assert sat["insufficient_reason"] == "offline"
    assert sat["insufficient_note"] == {
        "vi": "Chưa đủ dữ liệu vì thiết bị tại quầy của cán bộ mất kết nối 87,5 % thời gian "
              "trong ca",
        "en": "Insufficient evidence because the device at the officer's counter was offline "
              "87.5% of the time on shift"}
    assert sat["attitude_ceiling"]["criterion"] == policy.satisfaction.criterion
    assert sat["attitude_ceiling"]["points"] == ceiling
    assert sat["attitude_ceiling"]["reason_required"] is True


@pytest.mark.parametrize("policy, label, ceiling, full", PRESETS)
def test_no_rating_at_all_with_the_device_never_online(store, policy, label, ceiling, full):
    sat = month_of(store, "HK-C", policy)["satisfaction"]
    assert (sat["total"], sat["coverage"]["share"], sat["insufficient_reason"]) == (
        0, 0.0, "offline")
    assert "100 %" in sat["insufficient_note"]["vi"]
    assert sat["attitude_ceiling"]["points"] == 0


@pytest.mark.parametrize("policy", [HANOI, DECREE], ids=["hanoi-3814", "decree-335"])
@pytest.mark.parametrize("officer", ["HK-B", "HK-D"])
def test_covered_shifts_or_sufficient_ratings_are_not_flagged(store, policy, officer):
    sat = month_of(store, officer, policy)["satisfaction"]
    assert sat["insufficient_reason"] is None
    assert sat["insufficient_note"] is None and sat["attitude_ceiling"] is None


@pytest.mark.parametrize("policy, label, ceiling, full", PRESETS)
def test_a_score_above_the_ratings_needs_a_written_reason(store, policy, label, ceiling, full):
    above = ceiling + 0.5
    with pytest.raises(WorkflowError) as refused:
        review(store, policy, "HK-A", above)
    error = refused.value
    assert not isinstance(error, WorkflowConflict)  # bad input: 422, not 409
    # Vietnamese names the form's field, as the leader sees it; English names the API's.
    assert "«Lý do chấm điểm cao hơn mức các lượt đánh giá cho thấy»" in error.vi
    assert "attitude_reason" not in error.vi and "attitude_reason" in error.en
    assert f"«{label}»" in error.vi and "phải ghi «Lý do" in error.vi
    assert "87,5 %" in error.vi and "87.5%" in error.en
    with pytest.raises(WorkflowError):
        review(store, policy, "HK-A", above, reason="   ")  # blank is no reason
    done = review(store, policy, "HK-A", above, reason=REASON)
    assert done["review"]["attitude_reason"] == REASON
    assert month_of(store, "HK-A", policy)["workflow"]["review"]["attitude_reason"] == REASON


@pytest.mark.parametrize("policy, label, ceiling, full", PRESETS)
def test_a_score_within_what_the_ratings_show_needs_no_reason(store, policy, label, ceiling,
                                                             full):
    done = review(store, policy, "HK-A", ceiling)
    assert done["review"]["attitude_reason"] is None


@pytest.mark.parametrize("policy, label, ceiling, full", PRESETS)
def test_with_no_rating_any_score_above_zero_needs_the_reason(store, policy, label, ceiling,
                                                              full):
    with pytest.raises(WorkflowError):
        review(store, policy, "HK-C", 0.5)
    assert review(store, policy, "HK-C", 0)["review"]["attitude_reason"] is None
    assert review(store, policy, "HK-C", full, reason=REASON)["review"]["attitude_reason"] \
        == REASON


@pytest.mark.parametrize("policy, label, ceiling, full", PRESETS)
@pytest.mark.parametrize("officer", ["HK-B", "HK-D"])
def test_no_reason_when_coverage_is_fine_or_ratings_sufficient(store, policy, label, ceiling,
                                                               full, officer):
    assert review(store, policy, officer, full)["review"]["attitude_reason"] is None


def test_the_policy_can_waive_the_reason(store):
    lenient = dataclasses.replace(DECREE, offline=OfflineRule(attitude_reason=False))
    assert review(store, lenient, "HK-A", 7.5)["review"]["attitude_reason"] is None
    sat = month_of(store, "HK-A", lenient)["satisfaction"]
    assert sat["insufficient_reason"] == "offline"  # still shown as such
    assert sat["attitude_ceiling"]["reason_required"] is False


def test_the_reason_goes_into_the_decision_snapshot(store):
    review(store, DECREE, "HK-A", 7, reason=REASON)
    service(store, DECREE).decide("HK-A", MONTH, "HK-H", "HTTNV")
    row = store.db.execute("SELECT snapshot, attitude_reason FROM evaluations "
                           "WHERE officer_id = 'HK-A'").fetchone()
    snapshot = json.loads(row[0])
    assert row[1] == REASON
    assert snapshot["workflow"]["review"]["attitude_reason"] == REASON
    assert snapshot["satisfaction"]["insufficient_reason"] == "offline"


def test_the_api_and_the_pages(db_path):
    app = create_app(Settings(db_path, broker_url=None))
    app.dependency_overrides[deps.today] = lambda: TODAY
    app.dependency_overrides[deps.clock] = lambda: NOW
    leader = as_officer(db_path, "HK-L")
    url = f"/api/v1/officers/HK-A/evaluations/{MONTH}/review"
    body = {"scores": {"discipline_ethics": 15, "bonus": 5}, "comment": "Tốt",
            "proposed_grade": "B"}
    with TestClient(app, headers=leader, follow_redirects=False) as client:
        refused = client.put(url, json=body)
        assert refused.status_code == 422, refused.text
        assert "attitude_reason" in refused.text
        page = client.get(f"/officers/HK-A?month={MONTH}").text
        assert "mất kết nối 87,5 % thời gian trong ca" in page
        assert 'name="attitude_reason"' in page and "trên 12 điểm" in page
        form = client.get(f"/officers/HK-A/months/{MONTH}/form").text
        assert "mất kết nối 87,5 % thời gian trong ca" in form
        posted = client.post(f"/officers/HK-A/months/{MONTH}/review",
                             data={"scores.discipline_ethics": "15", "scores.bonus": "5",
                                   "proposed_grade": "HTTNV"})
        assert posted.status_code == 422 and "attitude_reason" in posted.text
        done = client.put(url, json={**body, "attitude_reason": REASON})
        assert done.status_code == 200, done.text
        assert done.json()["review"]["attitude_reason"] == REASON
        assert REASON in client.get(f"/officers/HK-A?month={MONTH}").text
        assert REASON in client.get(f"/officers/HK-A/months/{MONTH}/form").text
        ok = client.get(f"/officers/HK-B?month={MONTH}").text
        assert "thời gian trong ca" not in ok and "trên 12 điểm" not in ok


# --- the collector's own downtime: unknown, neither online nor offline ----------------------
# The collector records when it receives (ingest_receiving; collector/ingest/recording.py).
# Duty time outside every span, and not covered by an online device, is unknown: it is shown
# apart and left out of the coverage share the month's flag is judged on. A device counts as
# offline only once the collector has listened for 3 minutes (a device's allowed silence).

CLIENT = "hailong-collector"


def receiving(db, start: int, alive: int, ended: int | None = None) -> None:
    recording.note_session(db, CLIENT, "subscribed", start)
    recording.note_receiving(db, CLIENT, alive)
    if ended is not None:
        recording.note_session(db, CLIENT, "disconnected", ended)


def test_shifts_the_collector_missed_do_not_raise_the_flag(store):
    # HK-A: 2 March 08–12 (d1 online 08–09), 3 March 08–12 (d1 never online). The collector
    # subscribed on 1 March 06:00 and was killed, last alive 2 March 09:00; it came back on
    # 3 March at 14:00 and ran to the end of the month. Known: 2 March 08–09, online. Unknown:
    # 2 March 09–12 and 3 March 08–12 = 7 hours. Coverage over the known hour: 100 %: the
    # 10 ratings are too few, but not because the counter was offline.
    receiving(store.db, at(1, 6), at(2, 9))
    receiving(store.db, at(3, 14), at(31, 23), ended=at(31, 23, 30))
    sat = month_of(store, "HK-A", DECREE)["satisfaction"]
    cov = sat["coverage"]
    assert (cov["duty_hours"], cov["online_hours"], cov["offline_hours"], cov["unknown_hours"],
            cov["share"]) == (8.0, 1.0, 0.0, 7.0, 1.0)
    assert sat["sufficient"] is False and sat["insufficient_reason"] is None
    assert sat["attitude_ceiling"] is None
    assert sat["unknown_note"] == {
        "vi": "7 giờ trong ca không rõ trạng thái thiết bị vì máy chủ ngừng nhận dữ liệu",
        "en": "7 hours on shift with the device's state unknown because the server was not "
              "receiving data"}
    # No reason is asked for a score the ratings alone would not show.
    assert review(store, DECREE, "HK-A", 7.5)["review"]["attitude_reason"] is None


def test_the_share_is_judged_over_the_time_received(store):
    # The collector lost the broker on 3 March 07:00 and subscribed again at 13:00: 2 March
    # is known (online 1 h, offline 3 h), 3 March unknown (4 h). Share 1/4 = 25 % < 80 %:
    # flagged, offline 75 % of the time received, the 4 unknown hours said apart.
    receiving(store.db, at(1, 6), at(3, 6, 59), ended=at(3, 7))
    receiving(store.db, at(3, 13), at(31, 23), ended=at(31, 23, 30))
    sat = month_of(store, "HK-A", HANOI)["satisfaction"]
    cov = sat["coverage"]
    assert (cov["online_hours"], cov["offline_hours"], cov["unknown_hours"], cov["share"]) == (
        1.0, 3.0, 4.0, 0.25)
    assert sat["insufficient_reason"] == "offline"
    assert sat["insufficient_note"] == {
        "vi": "Chưa đủ dữ liệu vì thiết bị tại quầy của cán bộ mất kết nối 75 % thời gian "
              "trong ca; không tính 4 giờ máy chủ ngừng nhận dữ liệu",
        "en": "Insufficient evidence because the device at the officer's counter was offline "
              "75% of the time on shift; the 4 hours the server was not receiving are not "
              "counted"}
    assert sat["unknown_note"]["vi"].startswith("4 giờ trong ca không rõ")
    assert sat["attitude_ceiling"]["points"] == 12


def test_without_downtime_nothing_is_unknown(store):
    sat = month_of(store, "HK-A", DECREE)["satisfaction"]
    assert sat["coverage"]["unknown_hours"] == 0.0 and sat["unknown_note"] is None


def test_the_pages_show_the_unknown_hours(db_path):
    store = Store(db_path)
    try:
        receiving(store.db, at(1, 6), at(2, 9))
        receiving(store.db, at(3, 14), at(31, 23), ended=at(31, 23, 30))
    finally:
        store.close()
    app = create_app(Settings(db_path, broker_url=None))
    app.dependency_overrides[deps.today] = lambda: TODAY
    app.dependency_overrides[deps.clock] = lambda: NOW
    line = "7 giờ trong ca không rõ trạng thái thiết bị vì máy chủ ngừng nhận dữ liệu"
    with TestClient(app, headers=as_officer(db_path, "HK-L")) as client:
        assert line in client.get(f"/officers/HK-A?month={MONTH}").text
        assert line in client.get(f"/officers/HK-A/months/{MONTH}/form").text
        api = client.get(f"/api/v1/officers/HK-A/months/{MONTH}").json()
        assert api["satisfaction"]["coverage"]["unknown_hours"] == 7.0
    with TestClient(app, headers=as_officer(db_path, "HK-A")) as client:
        assert line in client.get(f"/me?month={MONTH}").text


# --- the arithmetic alone (collector/ratings/evidence.py `coverage`) --------------------------

H = 3_600_000


def test_coverage_leaves_unknown_time_out_of_the_share():
    # A shift 08–12 on 2 March; online 10–11; the collector received until 09 and from 10:
    # known 08–09 and 10–12 (3 h), unknown 09–10 (1 h); online 1 h, offline 2 h, share 1/3.
    start = at(2, 8)
    got = evidence.coverage([("q1", start, start + 4 * H)],
                            {"q1": [(start + 2 * H, start + 3 * H)]}, MONTH, NOW,
                            receiving=[(0, start + H), (start + 2 * H, None)])
    assert (got.duty_ms, got.online_ms, got.unknown_ms, got.offline_ms) == (
        4 * H, H, H, 2 * H)
    assert got.as_dict() == {"duty_hours": 4.0, "online_hours": 1.0, "offline_hours": 2.0,
                             "share": 0.3333, "unknown_hours": 1.0}
    # Online time counts as online even while the collector was not receiving (a late
    # status placed it there); with no record kept, nothing is unknown.
    assert evidence.coverage([("q1", start, start + 4 * H)], {"q1": [(start, start + H)]},
                             MONTH, NOW, receiving=[]).as_dict()["share"] == 1.0
    assert evidence.coverage([("q1", start, start + 4 * H)], {}, MONTH, NOW).unknown_ms == 0
    # All of it unknown: no share to judge.
    assert evidence.coverage([("q1", start, start + 4 * H)], {}, MONTH, NOW,
                             receiving=[]).share is None
