"""Counts, index and share across scales; excluded presses kept apart."""

from __future__ import annotations

import pytest

from collector.ratings.satisfaction import answer_of, level_score, summarise


@pytest.mark.parametrize("scale, level, answer, score", [
    (4, 1, "dissatisfied", 0.0),
    (4, 2, "neutral", 100 / 3),
    (4, 3, "satisfied", 200 / 3),
    (4, 4, "very_satisfied", 100.0),
    (3, 2, "satisfied", 50.0),
    (5, 1, "very_dissatisfied", 0.0),
    (5, 3, "neutral", 50.0),
    (5, 5, "very_satisfied", 100.0),
])
def test_levels_map_to_answers_and_scores(scale, level, answer, score):
    assert answer_of(scale, level) == answer
    assert level_score(scale, level) == pytest.approx(score)


@pytest.mark.parametrize("scale, level", [(4, 0), (4, 5), (3, 4), (6, 1)])
def test_levels_off_the_scale_are_refused(scale, level):
    with pytest.raises(ValueError):
        answer_of(scale, level)


def test_summary_counts_index_share_and_keeps_excluded_apart():
    summary = summarise([(4, 4, None), (4, 3, None), (4, 1, None), (4, 1, "cooldown"),
                         (5, 5, None)])
    assert summary.total == 4
    assert summary.counts == {"very_dissatisfied": 0, "dissatisfied": 1, "neutral": 0,
                              "satisfied": 1, "very_satisfied": 2}
    assert summary.index == pytest.approx((100 + 200 / 3 + 0 + 100) / 4, abs=0.05)
    assert summary.share_satisfied == 0.75
    assert summary.filtered == 1
    assert summary.filtered_by_reason == {"cooldown": 1}


def test_summary_of_nothing_has_no_index():
    summary = summarise([(4, 2, "cooldown")])
    assert summary.total == 0 and summary.index is None and summary.share_satisfied is None
    assert summary.filtered == 1


def test_reasons_are_counted_for_counted_presses_only():
    summary = summarise([(4, 1, None, "waiting"), (4, 1, None, "waiting"), (4, 2, None, None),
                         (4, 1, "cooldown", "attitude")])
    assert summary.reasons == {"waiting": 2}
