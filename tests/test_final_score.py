"""The final score follows the head's decided grade (issue 12): `[decision] final_score = "clamp"`.

Expected numbers by hand from the presets' bands (both: excellent ≥ 90, good ≥ 70, completed
≥ 50, not completed below; 2 decimals): a score already in the decided grade's band stays; a
grade raised takes the band's floor; a grade lowered takes one step of 0.01 under the next
grade's floor (89.99, 69.99, 49.99).
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
from fastapi.testclient import TestClient

from accounts_support import as_officer
from collector.app import create_app
from collector.core.settings import Settings
from collector.core.timeline import LOCAL_TZ
from collector.db import audit
from collector.db.reader import open_reader
from collector.db.store import Store
from collector.evaluation import month as monthly
from collector.evaluation.policy import load_preset
from collector.evaluation.rules import decision
from collector.web import deps
from test_pages_leaders import by_testid, page
from test_workflow import HANOI as HANOI_SCORES, MONTH, Day, build_org, make_service

HANOI = load_preset("hanoi-3814")
APRIL_1 = int(datetime(2026, 4, 1, 9, tzinfo=LOCAL_TZ).timestamp() * 1000)
DECREE = load_preset("decree-335")


def clamp(policy, suggested, grade):
    return decision.clamp(suggested, grade, bands=policy.bands, max_score=policy.max_score,
                          decimals=policy.decimals)


@pytest.mark.parametrize("policy", [HANOI, DECREE], ids=["hanoi-3814", "decree-335"])
@pytest.mark.parametrize("suggested, grade, final, moved", [
    (92.5, "HTTNV", 89.99, "lowered"),   # excellent by points, decided good: top of good
    (45, "HTNV", 50, "raised"),          # not completed by points, decided completed: floor
    (75, "HTTNV", 75, None),             # in the band: unchanged
    (80, "KHTNV", 49.99, "lowered"),     # good by points, decided not completed
    (0, "HTXSNV", 90, "raised"),         # raised over two bands: the decided band's floor
    (100, "HTXSNV", 100, None),          # the top band ends at max_score
    (90, "HTXSNV", 90, None),            # a band's floor is in the band
    (89.99, "HTTNV", 89.99, None),       # and its top too
    (70, "HTNV", 69.99, "lowered"),      # the floor of the band above is not in the band
])
def test_the_score_moves_into_the_decided_grades_band(policy, suggested, grade, final, moved):
    result = clamp(policy, suggested, grade)
    assert (result.score, result.moved) == (final, moved)
    assert (result.line is None) == (moved is None)


def test_the_line_says_why_in_both_languages():
    lowered = clamp(HANOI, 92.5, "HTTNV")
    assert lowered.line == {
        "vi": "Điểm gợi ý 92,5 thuộc loại «Hoàn thành xuất sắc nhiệm vụ»; thủ trưởng quyết "
              "định «Hoàn thành tốt nhiệm vụ» nên điểm cuối cùng là 89,99 (mức cao nhất của "
              "loại này)",
        "en": "The suggested score 92.5 falls in “Excellent”; the head decided “Good”, so the "
              "final score is 89.99 (the highest of that grade)"}
    raised = clamp(HANOI, 45, "HTNV")
    assert raised.line == {
        "vi": "Điểm gợi ý 45 thuộc loại «Không hoàn thành nhiệm vụ»; thủ trưởng quyết định "
              "«Hoàn thành nhiệm vụ» nên điểm cuối cùng là 50 (mức thấp nhất của loại này)",
        "en": "The suggested score 45 falls in “Not completed”; the head decided “Completed”, "
              "so the final score is 50 (the lowest of that grade)"}


def test_a_disciplined_officer_decided_not_completed_under_decree_335():
    # Decree 335: disciplined in the period → not completed whatever the points. The suggested
    # grade is already KHTNV at 80 points; the head decides KHTNV and the score follows: 49.99.
    result = clamp(DECREE, 80, "KHTNV")
    assert (result.score, result.grade_by_points) == (49.99, "HTTNV")
    assert "49,99 (mức cao nhất của loại này)" in result.line["vi"]


@pytest.mark.parametrize("decimals, final", [(0, 89), (1, 89.9), (2, 89.99), (3, 89.999)])
def test_one_step_of_the_policys_decimals_under_the_next_floor(decimals, final):
    result = decision.clamp(95, "HTTNV", bands=HANOI.bands, max_score=100, decimals=decimals)
    assert result.score == final


def test_the_policy_names_the_rule_and_a_grade_code_or_letter_is_refused_otherwise():
    assert decision.follow_grade(HANOI.decision, 92.5, "HTTNV", bands=HANOI.bands,
                                 max_score=100, decimals=2).score == 89.99
    with pytest.raises(ValueError):
        clamp(HANOI, 92.5, "B")  # codes only: the workflow has turned letters into codes
    with pytest.raises(ValueError):
        clamp(HANOI, 101, "HTTNV")


def test_a_stored_decision_is_explained_from_its_snapshot():
    snapshot = {"suggestion": {"score": 92.5, "grade": "HTXSNV"}}
    view = decision.decided_scores(snapshot, "HTTNV", 89.99, bands=HANOI.bands, decimals=2)
    assert view["suggested_score"] == 92.5
    assert view["final_score_line"] == clamp(HANOI, 92.5, "HTTNV").line
    # A decision stored before the score followed the grade (final = suggested) moves nothing
    # and explains no move; JSON text is read like the decoded snapshot.
    old = decision.decided_scores('{"suggestion": {"score": 92.5}}', "HTTNV", 92.5,
                                  bands=HANOI.bands, decimals=2)
    assert old == {"suggested_score": 92.5, "final_score_line": None}
    assert decision.decided_scores(None, "HTTNV", 80, bands=HANOI.bands, decimals=2) == {
        "suggested_score": None, "final_score_line": None}


# --- through the workflow ------------------------------------------------------------------------

@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "hailong.db")
    build_org(store)
    yield store
    store.close()


def test_the_service_stores_the_clamped_score_and_audits_both(store):
    evidence = {"suggestion": {"score": 92.5, "grade": "HTXSNV"}}
    service = make_service(store, Day(date(2026, 4, 1)), evidence_of=lambda o, m: evidence)
    service.self_evaluate("O1", MONTH, "O1", HANOI_SCORES)
    service.review("O1", MONTH, "L1", HANOI_SCORES, None, "HTXSNV")
    status = service.decide("O1", MONTH, "H1", "HTTNV", "Chưa đủ tiêu chí xuất sắc")
    line = clamp(HANOI, 92.5, "HTTNV").line
    assert status["decision"]["final_score"] == 89.99
    assert status["decision"]["suggested_score"] == 92.5
    assert status["decision"]["final_score_line"] == line
    stored = store.db.execute("SELECT final_score, final_grade FROM evaluations").fetchone()
    assert tuple(stored) == (89.99, "HTTNV")
    event = status["history"][-1]["data"]
    assert (event["suggested_score"], event["final_score"]) == (92.5, 89.99)
    assert event["final_score_line"] == line
    entry = audit.recent(store.db, 1)[0]
    assert entry.action == "evaluation.decide"
    assert (entry.after_value["suggested_score"], entry.after_value["final_score"]) == (92.5,
                                                                                      89.99)
    assert entry.after_value["final_score_line"] == line
    assert audit.verify(store.db).ok


def test_a_grade_that_agrees_with_the_score_keeps_it_and_explains_nothing(store):
    evidence = {"suggestion": {"score": 75.0, "grade": "HTTNV"}}
    service = make_service(store, Day(date(2026, 4, 1)), evidence_of=lambda o, m: evidence)
    service.self_evaluate("O1", MONTH, "O1", HANOI_SCORES)
    service.review("O1", MONTH, "L1", HANOI_SCORES, None, "HTTNV")
    status = service.decide("O1", MONTH, "H1", "HTTNV")
    decided = status["decision"]
    assert (decided["suggested_score"], decided["final_score"]) == (75.0, 75.0)
    assert decided["final_score_line"] is None
    assert status["history"][-1]["data"]["final_score_line"] is None


def test_the_api_and_the_officers_month_show_both_scores_and_the_line(tmp_path):
    path = tmp_path / "hailong.db"
    store = Store(path)
    build_org(store)
    store.close()
    app = create_app(Settings(path, broker_url=None))  # hanoi-3814, the default policy
    app.dependency_overrides[deps.today] = lambda: date(2026, 4, 1)
    app.dependency_overrides[deps.clock] = lambda: APRIL_1
    url = f"/api/v1/officers/O1/evaluations/{MONTH}"
    with TestClient(app) as client:
        assert client.put(f"{url}/self", json={"scores": HANOI_SCORES},
                          headers=as_officer(path, "O1")).status_code == 200
        assert client.put(f"{url}/review", json={"scores": HANOI_SCORES,
                                                 "proposed_grade": "HTTNV"},
                          headers=as_officer(path, "L1")).status_code == 200
        response = client.post(f"{url}/decision", json={"final_grade": "B"},
                               headers=as_officer(path, "H1"))
        assert response.status_code == 200
        # No ratings, no tasks: the suggestion is the review's 18 + 5 = 23 (grade D by
        # points); the head decides B, so the score rises to B's floor, 70.
        decided = response.json()["decision"]
        assert (decided["suggested_score"], decided["final_score"]) == (23.0, 70.0)
        assert decided["final_score_line"]["vi"] == (
            "Điểm gợi ý 23 thuộc loại «Không hoàn thành nhiệm vụ»; thủ trưởng quyết định «Hoàn "
            "thành tốt nhiệm vụ» nên điểm cuối cùng là 70 (mức thấp nhất của loại này)")
        seen = client.get(f"/api/v1/officers/O1/months/{MONTH}",
                          headers=as_officer(path, "O1")).json()
        shown = seen["workflow"]["decision"]
        assert (shown["suggested_score"], shown["score"]) == (23.0, 70.0)
        assert shown["final_score_line"] == decided["final_score_line"]
        # The officer page and the printable form show the same line, in the page's language.
        for url_page in (f"/officers/O1?month={MONTH}", f"/officers/O1/months/{MONTH}/form"):
            root = page(client.get(url_page, headers=as_officer(path, "O1")))
            assert by_testid(root, "final-score-line").text() == decided["final_score_line"]["vi"]
            english = page(client.get(url_page + ("&" if "?" in url_page else "?") + "lang=en",
                                      headers=as_officer(path, "O1")))
            assert by_testid(english, "final-score-line").text() == (
                decided["final_score_line"]["en"])
    db = open_reader(path)
    try:
        month = monthly.officer_month(db, "O1", MONTH, HANOI, now_ms=APRIL_1,
                                      today=date(2026, 4, 1))
        assert month["workflow"]["decision"]["score"] == 70.0
        entry = next(e for e in audit.recent(db, None) if e.action == "evaluation.decide")
        assert (entry.after_value["suggested_score"], entry.after_value["final_score"]) == (
            23.0, 70.0)
    finally:
        db.conn.close()
