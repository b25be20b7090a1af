"""Pure satisfaction arithmetic over stored ratings: counts per level, index, share satisfied.

Devices may offer 3, 4 or 5 levels (domain brief: the scale is configuration), and an officer
can be rated on more than one scale within a month when a device is reconfigured. Every level of
every scale maps to one of five named answers, so counts add up across scales, and the index
places each press on 0–100 within its own scale before averaging.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

# (code, Vietnamese label, English label), least satisfied first.
ANSWERS = (
    ("very_dissatisfied", "Rất không hài lòng", "Very dissatisfied"),
    ("dissatisfied", "Không hài lòng", "Not satisfied"),
    ("neutral", "Bình thường", "Neutral"),
    ("satisfied", "Hài lòng", "Satisfied"),
    ("very_satisfied", "Rất hài lòng", "Very satisfied"),
)
ANSWER_LABELS = {code: (vi, en) for code, vi, en in ANSWERS}
SCALE_ANSWERS = {
    3: ("dissatisfied", "satisfied", "very_satisfied"),
    4: ("dissatisfied", "neutral", "satisfied", "very_satisfied"),
    5: ("very_dissatisfied", "dissatisfied", "neutral", "satisfied", "very_satisfied"),
}
SATISFIED_ANSWERS = ("satisfied", "very_satisfied")


def answer_of(scale: int, level: int) -> str:
    """The named answer a press of `level` means on a `scale`-level device."""
    answers = SCALE_ANSWERS.get(scale, ())
    if not 1 <= level <= len(answers):
        raise ValueError(f"level {level} is not on a {scale}-level scale")
    return answers[level - 1]


def level_score(scale: int, level: int) -> float:
    """A press placed on 0–100 within its scale: the lowest level is 0, the highest 100."""
    answer_of(scale, level)
    return (level - 1) * 100.0 / (scale - 1)


@dataclass
class SatisfactionSummary:
    counts: dict[str, int] = field(default_factory=lambda: {code: 0 for code, _, _ in ANSWERS})
    total: int = 0
    index: float | None = None
    share_satisfied: float | None = None
    filtered: int = 0
    filtered_by_reason: dict[str, int] = field(default_factory=dict)
    # Reasons citizens gave after a low rating (protocol: rating.reason), counted presses only.
    reasons: dict[str, int] = field(default_factory=dict)
    # `index` unrounded, for arithmetic (the unit median, ranks): round once, at the end.
    # Exact fractions summed, so equal presses in any order give the very same float.
    exact_index: float | None = None
    exact_share: float | None = None  # `share_satisfied` unrounded


def summarise(presses: list[tuple]) -> SatisfactionSummary:
    """Summarise (scale, level, excluded[, reason]) tuples; excluded presses are kept apart."""
    summary = SatisfactionSummary()
    score_sum = Fraction(0)
    for press in presses:
        scale, level, excluded = press[:3]
        reason = press[3] if len(press) > 3 else None
        if excluded:
            summary.filtered += 1
            summary.filtered_by_reason[excluded] = summary.filtered_by_reason.get(excluded, 0) + 1
            continue
        summary.counts[answer_of(scale, level)] += 1
        summary.total += 1
        if reason:
            summary.reasons[reason] = summary.reasons.get(reason, 0) + 1
        score_sum += Fraction(100 * (level - 1), scale - 1)  # level_score, exactly
    return _finished(summary, score_sum)


def summarise_counted(kinds) -> SatisfactionSummary:
    """`summarise` of presses given grouped, as SQL's GROUP BY counts them: (scale, level,
    excluded, reason, count) tuples, each standing for `count` identical presses. The same
    summary in one step per group instead of one per press (issue 13: a busy officer-month
    is hundreds of presses and a dozen groups); the index is summed exactly as there, so it
    is the very same float."""
    summary = SatisfactionSummary()
    steps: dict[int, int] = {}  # scale → Σ count × (level − 1): the index's exact numerator
    for scale, level, excluded, reason, count in kinds:
        if excluded:
            summary.filtered += count
            summary.filtered_by_reason[excluded] = (
                summary.filtered_by_reason.get(excluded, 0) + count)
            continue
        summary.counts[answer_of(scale, level)] += count
        summary.total += count
        if reason:
            summary.reasons[reason] = summary.reasons.get(reason, 0) + count
        steps[scale] = steps.get(scale, 0) + count * (level - 1)
    return _finished(summary, sum(Fraction(100 * total, scale - 1)
                                  for scale, total in steps.items()))


def _finished(summary: SatisfactionSummary, score_sum: Fraction) -> SatisfactionSummary:
    """The index and the share satisfied from the summed level scores and the counts."""
    if summary.total:
        summary.exact_index = float(score_sum / summary.total)
        summary.index = round(summary.exact_index, 1)
        satisfied = sum(summary.counts[code] for code in SATISFIED_ANSWERS)
        summary.exact_share = satisfied / summary.total
        summary.share_satisfied = round(summary.exact_share, 4)
    return summary
