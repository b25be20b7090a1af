"""Suggested score, grade, explanation lines and quota checks, for both presets."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.evaluation.policy import GRADE_CODES, load_preset, parse_policy
from collector.evaluation.scoring import (
    Line,
    SatisfactionEvidence,
    Task,
    TaskEvidence,
    check_quota,
    grade_for,
    suggest,
)

HANOI = load_preset("hanoi-3814")
DECREE = load_preset("decree-335")


def lines_of(result, criterion):
    return [line.points for line in result.lines if line.criterion == criterion]


def test_hanoi_worked_example():
    result = suggest(
        HANOI,
        SatisfactionEvidence(total=40, share_satisfied=0.9, sufficient=True),
        TaskEvidence(tasks=(Task(1, True, major_errors=1, title="Báo cáo tháng"),
                            Task(1, True, title="Tiếp nhận hồ sơ"))),
        {"discipline_ethics": 18, "bonus": 6})
    # Discipline and ethics (20): satisfaction weight 0.25 → leader part at most 15, citizens 5.
    #   leader 18 × 0.75 = 13.50; citizens 5 × 0.90 = 4.50; criterion 18.00.
    assert lines_of(result, "discipline_ethics") == [13.5, 4.5]
    # Task results (70), equal thirds of 70/3 = 23.333…; both tasks done (2 of 2 weight).
    #   quantity 23.333… × 1 = 23.33; quality 23.33, then −23.333… × 1 × 25 % / 2 = −2.92;
    #   progress 23.33. Exact 70 − 2.9167 = 67.0833 → 67.08; rounded lines add to 67.07,
    #   so a rounding line of +0.01 closes the gap.
    assert lines_of(result, "task_results") == [23.33, 23.33, -2.92, 23.33, 0.01]
    # Bonus (10): leader 6.   Total 18 + 67.08 + 6 = 91.08 → A.
    assert result.criteria == {"discipline_ethics": 18.0, "task_results": 67.08, "bonus": 6.0}
    assert result.score == 91.08
    assert (result.grade, result.letter) == ("HTXSNV", "A")
    assert result.satisfaction_counted
    assert math.isclose(sum(line.points for line in result.lines), result.score)
    assert "tỷ lệ hài lòng 90 % trên 40 lượt" in result.lines[1].vi


def test_decree_worked_example():
    result = suggest(
        DECREE,
        SatisfactionEvidence(total=12, share_satisfied=0.5, sufficient=False),
        TaskEvidence(tasks=(Task(1, True), Task(1, True),
                            Task(1, True, delays=2, delays_excused=1, title="Cấp phép"),
                            Task(1, False, title="Quy chế"))),
        {"politics_ethics": 7, "discipline": 7, "service_attitude": 6, "innovation": 5})
    # General criteria: 7 + 7 + 6 + 5 = 25; too few ratings, so service attitude is the
    # leader's 6 alone, plus a 0-point line saying why.
    assert lines_of(result, "service_attitude") == [6.0, 0.0]
    # Tasks: 3 of 4 weight done (75 %). Each third is 70/3 = 23.333…
    #   quantity 23.333 × 0.75 = 17.50; quality 17.50; progress 17.50
    #   − one unexcused delay: 23.333 × 1 × 25 % / 4 = 1.4583 → −1.46; the excused one: 0.
    #   Exact 52.5 − 1.4583 = 51.0417 → 51.04; lines 17.5 × 3 − 1.46 = 51.04, no rounding line.
    assert lines_of(result, "task_results") == [17.5, 17.5, 17.5, -1.46, 0.0]
    # Total 25 + 51.04 = 76.04 → good.
    assert result.score == 76.04
    assert (result.grade, result.letter) == ("HTTNV", None)


def test_decree_discipline_overrides_the_points():
    evidence = TaskEvidence(tasks=(Task(3, True),))
    leader = {"politics_ethics": 7.5, "discipline": 7.5, "service_attitude": 7.5,
              "innovation": 7.5}
    clean = suggest(DECREE, None, evidence, leader)
    punished = suggest(DECREE, None, evidence, leader, disciplined=True)
    assert clean.score == punished.score == 100.0
    assert clean.grade == "HTXSNV"
    assert (punished.grade, punished.grade_by_points) == ("KHTNV", "HTXSNV")
    assert "regardless of points" in punished.lines[-1].en
    assert punished.lines[-1].points == 0


def test_hanoi_preset_shows_discipline_but_forces_no_grade():
    result = suggest(HANOI, None, TaskEvidence(tasks=(Task(1, True),)),
                     {"discipline_ethics": 20, "bonus": 10}, disciplined=True)
    assert result.grade == "HTXSNV"
    assert "forces no grade" in result.lines[-1].en


@pytest.mark.parametrize("evidence", [
    SatisfactionEvidence(total=29, share_satisfied=0.0, sufficient=False),
    SatisfactionEvidence(total=29, share_satisfied=1.0, sufficient=False),
    # The builder's flag says sufficient, but the policy's minimum is 30: policy wins.
    SatisfactionEvidence(total=29, share_satisfied=0.0, sufficient=True),
    # Sufficient count but the policy's measure is missing.
    SatisfactionEvidence(total=300, share_satisfied=None, index=80, sufficient=True),
    None,
])
def test_insufficient_evidence_does_not_move_the_score(evidence):
    tasks = TaskEvidence(tasks=(Task(1, True),))
    leader = {"politics_ethics": 5, "discipline": 5, "service_attitude": 4, "innovation": 5}
    result = suggest(DECREE, evidence, tasks, leader)
    assert result.criteria["service_attitude"] == 4.0
    assert result.score == 89.0
    assert not result.satisfaction_counted
    note = [line for line in result.lines if "chưa đủ dữ liệu đánh giá" in line.vi]
    assert len(note) == 1 and note[0].points == 0 and "insufficient evidence" in note[0].en


def test_sufficient_evidence_moves_the_score():
    tasks = TaskEvidence(tasks=(Task(1, True),))
    leader = {"politics_ethics": 5, "discipline": 5, "service_attitude": 4, "innovation": 5}
    low = suggest(DECREE, {"total": 30, "share_satisfied": 0.2, "sufficient": True}, tasks, leader)
    high = suggest(DECREE, {"total": 30, "share_satisfied": 1.0, "sufficient": True}, tasks, leader)
    # service attitude: 4 × 0.5 = 2.00 + 3.75 × share: 0.75 (low) or 3.75 (high).
    assert (low.criteria["service_attitude"], high.criteria["service_attitude"]) == (2.75, 5.75)


@pytest.mark.parametrize("score, grade", [
    (100, "HTXSNV"), (90, "HTXSNV"), (89.99, "HTTNV"), (70, "HTTNV"), (69.99, "HTNV"),
    (50, "HTNV"), (49.99, "KHTNV"), (0, "KHTNV"),
])
def test_band_edges(score, grade):
    assert grade_for(HANOI, score) == grade_for(DECREE, score) == grade


def test_score_outside_the_scale_is_refused():
    with pytest.raises(ValueError):
        grade_for(HANOI, 100.01)


@pytest.mark.parametrize("leader, message", [
    ({"discipline_ethics": 21, "bonus": 0}, "must be 0–20"),
    ({"discipline_ethics": 10}, "missing for criterion 'bonus'"),
    ({"discipline_ethics": 10, "bonus": 0, "task_results": 70}, "'task_results'"),
    ({"discipline_ethics": float("nan"), "bonus": 0}, "must be a number"),
])
def test_bad_leader_scores_are_refused(leader, message):
    with pytest.raises(ValueError, match=message):
        suggest(HANOI, None, TaskEvidence(), leader)


def test_bad_task_is_refused():
    with pytest.raises(ValueError, match=r"tasks\[0\]\.delays_excused"):
        suggest(HANOI, None, {"tasks": [{"weight": 1, "completed": True, "delays": 1,
                                         "delays_excused": 2}]},
                {"discipline_ethics": 10, "bonus": 0})


def test_no_task_records_score_zero_with_a_reason():
    result = suggest(HANOI, None, TaskEvidence(), {"discipline_ethics": 20, "bonus": 10})
    assert result.criteria["task_results"] == 0
    assert any("no task recorded" in line.en for line in result.lines)


def test_errors_floor_a_task_at_zero():
    # 5 errors × 25 % would be 125 %: the task's quality points stop at 0 (−23.33, not −29.17).
    result = suggest(HANOI, None, TaskEvidence(tasks=(Task(1, True, major_errors=5),)),
                     {"discipline_ethics": 0, "bonus": 0})
    assert result.criteria["task_results"] == 46.67


# --- quota -------------------------------------------------------------------------------------


@pytest.mark.parametrize("grades, outstanding, cap, exceeded", [
    ([], False, 0, False),                        # 0 rated: nothing to cap
    (["A"], False, 0, True),                      # 1 rated: floor(0.3 × 1) = 0, one A is over
    (["B"], False, 0, False),
    (list("AAABBBBBBB"), False, 3, False),        # exactly at the cap: 0.3 × 10 = 3
    (list("AAAABBBBBB"), False, 3, True),         # one over
    (list("AAAABBBBBB"), True, 4, False),         # outstanding unit: 0.4 × 10 = 4
    (list("AAAABBBBBC"), False, 3, True),         # C and D count among those rated
    (["HTXSNV", "HTTNV", "HTNV"], False, 0, True),  # codes as well as letters
])
def test_hanoi_quota(grades, outstanding, cap, exceeded):
    result = check_quota(HANOI, grades, outstanding_unit=outstanding)
    assert (result.rated, result.cap, result.exceeded) == (len(grades), cap, exceeded)
    assert result.over_by == (result.proposed - cap if exceeded else 0)
    assert ("Warning" in result.en) == exceeded


@pytest.mark.parametrize("good, excellent, others, cap, exceeded", [
    (0, 0, 0, 0, False),      # 0 rated
    (1, 0, 0, 0, False),      # 1 rated good: floor(0.2) = 0
    (0, 1, 0, 0, True),       # 1 rated excellent and nobody good: cap 0
    (5, 1, 3, 1, False),      # exactly at the cap: 0.2 × 5 = 1; completed/not completed ignored
    (5, 2, 0, 1, True),       # one over
    (9, 1, 0, 1, False),      # 0.2 × 9 = 1.8 → floor 1
    (10, 3, 0, 2, True),
])
def test_decree_quota_counts_those_rated_good(good, excellent, others, cap, exceeded):
    grades = ["HTTNV"] * good + ["HTXSNV"] * excellent + ["HTNV", "KHTNV", "HTNV"][:others]
    result = check_quota(DECREE, grades, outstanding_unit=True)  # no exception configured
    assert (result.base, result.cap, result.proposed) == (good, cap, excellent)
    assert result.exceeded == exceeded
    assert f"× {good}" in result.vi


@pytest.mark.parametrize("decided, vi, en", [
    (0, "2 đề xuất «Hoàn thành xuất sắc nhiệm vụ»", "2 proposed “Excellent"),
    (1, "1 đã quyết định và 1 đề xuất «Hoàn thành xuất sắc nhiệm vụ»",
     "1 decided and 1 proposed “Excellent"),
    (2, "2 đã quyết định «Hoàn thành xuất sắc nhiệm vụ»", "2 decided “Excellent"),
])
def test_the_quota_line_says_decided_once_decided(decided, vi, en):
    """Issue 12: "đề xuất / proposed" only for grades still proposed."""
    result = check_quota(HANOI, list("AABBBBB"), decided=decided)
    assert (result.proposed, result.decided, result.cap) == (2, decided, 2)
    assert result.vi == f"Trong tỷ lệ. {vi}; tối đa 30 % × 7 (số được đánh giá) = 2 " \
                        "(làm tròn xuống); 7 người được đánh giá."
    assert en in result.en


def test_a_quota_line_with_none_of_the_capped_grade_says_neither():
    result = check_quota(DECREE, ["HTTNV", "HTNV"], decided=0)
    assert "0 người «Hoàn thành xuất sắc nhiệm vụ»" in result.vi
    assert "none “Excellent" in result.en and "proposed" not in result.en


def test_quota_never_changes_the_grades():
    grades = ["A", "A", "B"]
    check_quota(HANOI, grades)
    assert grades == ["A", "A", "B"]


def test_quota_refuses_an_unknown_grade():
    with pytest.raises(ValueError, match="'E'"):
        check_quota(HANOI, ["A", "E"])


# --- properties --------------------------------------------------------------------------------


def wilson(successes, n, z=1.959964):
    if n == 0:
        return None
    p = successes / n
    centre = p + z * z / (2 * n)
    margin = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return ((centre - margin) / (1 + z * z / n), (centre + margin) / (1 + z * z / n))


def evidence_of(satisfied, unsatisfied, min_ratings=30):
    n = satisfied + unsatisfied
    return SatisfactionEvidence(
        total=n, share_satisfied=satisfied / n if n else None,
        index=100.0 * satisfied / n if n else None, interval=wilson(satisfied, n),
        sufficient=n >= min_ratings)


def with_measure(policy, measure):
    import tomllib
    from collector.evaluation.policy import PRESETS_DIR
    with (PRESETS_DIR / f"{policy.name}.toml").open("rb") as f:
        data = tomllib.load(f)
    data["satisfaction"]["measure"] = measure
    return parse_policy(data)


POLICIES = [HANOI, DECREE, with_measure(HANOI, "wilson_low"), with_measure(DECREE, "index")]
tasks_st = st.lists(st.builds(
    lambda w, done, errors, delays, excused: Task(w, done, errors, delays, min(excused, delays)),
    st.integers(1, 20), st.booleans(), st.integers(0, 6), st.integers(0, 6), st.integers(0, 6)),
    max_size=8).map(lambda tasks: TaskEvidence(tasks=tuple(tasks)))


@st.composite
def leader_scores(draw, policy):
    return {c.code: draw(st.floats(0, c.points)) for c in policy.criteria if c.source == "leader"}


@st.composite
def cases(draw):
    policy = draw(st.sampled_from(POLICIES))
    return (policy, draw(leader_scores(policy)), draw(tasks_st),
            draw(st.integers(0, 200)), draw(st.integers(0, 200)), draw(st.booleans()))


@settings(max_examples=150, deadline=None)
@given(cases())
def test_score_stays_within_0_100_and_lines_add_up(case):
    policy, leader, tasks, satisfied, unsatisfied, disciplined = case
    result = suggest(policy, evidence_of(satisfied, unsatisfied), tasks, leader, disciplined)
    assert 0 <= result.score <= 100
    assert math.isclose(sum(line.points for line in result.lines), result.score, abs_tol=1e-9)
    assert result.grade in GRADE_CODES


@given(st.floats(0, 100), st.floats(0, 100), st.sampled_from([HANOI, DECREE]))
def test_grade_is_monotonic_in_score(a, b, policy):
    low, high = sorted((a, b))
    assert GRADE_CODES.index(grade_for(policy, low)) >= GRADE_CODES.index(grade_for(policy, high))


@settings(max_examples=150, deadline=None)
@given(cases(), st.booleans())
def test_more_satisfied_ratings_never_lower_the_score(case, replace):
    # Other things equal: one more satisfied rating, or one unsatisfied rating turned satisfied.
    # Crossing the minimum number of ratings is excluded on purpose: below it satisfaction is
    # ignored, above it counts, so the first sufficient month may score lower than the leader's
    # score alone — that step is the insufficient-evidence rule, not a flaw in the measure.
    policy, leader, tasks, satisfied, unsatisfied, _ = case
    before = evidence_of(satisfied, unsatisfied)
    if replace and unsatisfied:
        after = evidence_of(satisfied + 1, unsatisfied - 1)
    else:
        after = evidence_of(satisfied + 1, unsatisfied)
    if before.sufficient != after.sufficient:
        return
    assert (suggest(policy, after, tasks, leader).score
            >= suggest(policy, before, tasks, leader).score)


def test_the_score_is_the_exact_total_rounded_once():
    """Issue 12: hanoi-3814, 37 of 41 satisfied. Discipline and ethics 18 × 0.75 +
    5 × 37/41 = 13.5 + 4.5122 = 18.0122 → 18.01; task results, 1 of 3 equal tasks done:
    70/3 = 23.3333 → 23.33; bonus 6. Exact total 47.3455 → 47.35, where the rounded criteria
    add to 47.34: a rounding line of the total (+0.01) keeps the lines summing to the score."""
    result = suggest(
        HANOI, SatisfactionEvidence(total=41, share_satisfied=37 / 41, sufficient=True),
        TaskEvidence(tasks=(Task(1, True), Task(1, False), Task(1, False))),
        {"discipline_ethics": 18, "bonus": 6})
    assert result.criteria == {"discipline_ethics": 18.01, "task_results": 23.33, "bonus": 6.0}
    assert result.score == 47.35
    assert result.lines[-1] == Line("total", 0.01, "Làm tròn tổng điểm", "Rounding of the total")
    assert math.isclose(sum(line.points for line in result.lines), 47.35, abs_tol=1e-9)


def test_the_grade_follows_the_total_rounded_once():
    """decree-335: politics 7.5, discipline 7.5, innovation 6.39; service attitude 6 × 0.5 =
    3 + 3.75 × 37/41 = 3.3841… → 6.3841… → 6.38; task results, 8 of 9 weight done: 70 × 8/9
    = 62.2222… → 62.22. Exact total 89.9964 → 90.00: excellent (the band starts at 90), where
    the rounded criteria add to 89.99, good."""
    result = suggest(
        DECREE, SatisfactionEvidence(total=41, share_satisfied=37 / 41, sufficient=True),
        TaskEvidence(tasks=(Task(8, True), Task(1, False))),
        {"politics_ethics": 7.5, "discipline": 7.5, "service_attitude": 6, "innovation": 6.39})
    assert result.criteria == {"politics_ethics": 7.5, "discipline": 7.5,
                               "service_attitude": 6.38, "innovation": 6.39,
                               "task_results": 62.22}
    assert (result.score, result.grade) == (90.0, "HTXSNV")
    assert math.isclose(sum(line.points for line in result.lines), 90.0, abs_tol=1e-9)
