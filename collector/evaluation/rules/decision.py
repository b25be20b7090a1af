"""What the head's decision does to the score, and what the year's classification respects.

`[decision] final_score`: how the final score follows a decided grade other than the one the
suggested score falls in. The one rule so far, "clamp": the score moves into the decided
grade's band by the least amount (to the band's floor when the head raises the grade, to the
top of the band, one step of `decimals` under the next grade's floor, when the head lowers it),
and stays as suggested when the grade agrees with it. "In the band" is by the bands alone: a
disciplined officer decided "not completed" at 80 points ends at 49.99 (decree-335), so the
year averages what the head decided. `[year] apply_quota`: the quota on the top grade applies
to the year's grades as to each period's (collector/evaluation/year.py).

Pure, like every rules module: the bands, maximum and decimals come in as arguments (never the
policy module). `follow_grade` is what the workflow's decision calls (workflow/steps.py);
`decided_scores` is how a stored decision reads back (the month's view and the workflow
status): the suggested score from its frozen snapshot and the line explaining the move.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from collector.evaluation.rules.grades import GRADE_LABELS
from collector.evaluation.rules.keys import choice_key, get_key, no_extra_keys

FINAL_SCORE_RULES = ("clamp",)


@dataclass(frozen=True)
class DecisionRule:
    final_score: str = "clamp"


@dataclass(frozen=True)
class YearRule:
    apply_quota: bool = True


DEFAULT_DECISION_RULE = DecisionRule()
DEFAULT_YEAR_RULE = YearRule()


def parse_decision(table: dict) -> DecisionRule:
    if not isinstance(table, dict):
        raise ValueError(f"decision must be a table, got {table!r}")
    no_extra_keys(table, ("final_score",), "decision")
    return DecisionRule(final_score=choice_key(table, "final_score", "decision",
                                               FINAL_SCORE_RULES))


def parse_year(table: dict) -> YearRule:
    if not isinstance(table, dict):
        raise ValueError(f"year must be a table, got {table!r}")
    no_extra_keys(table, ("apply_quota",), "year")
    return YearRule(apply_quota=get_key(table, "apply_quota", "year", bool))


@dataclass(frozen=True)
class FinalScore:
    """The score a decision stores, and why it differs from the suggested one (if it does)."""

    suggested: float
    grade: str  # the decided grade (code)
    grade_by_points: str  # the grade the suggested score falls in by the bands alone
    score: float  # the final score
    moved: str | None  # "raised" to the band's floor, "lowered" to its top, None: unchanged
    line: dict[str, str] | None  # {"vi", "en"} explaining a move; None when nothing moved


def follow_grade(rule: DecisionRule, suggested: float, grade: str, *,
                 bands: tuple[tuple[str, float], ...], max_score: float,
                 decimals: int) -> FinalScore:
    """The final score under the policy's `[decision] final_score` rule."""
    if rule.final_score == "clamp":
        return clamp(suggested, grade, bands=bands, max_score=max_score, decimals=decimals)
    raise ValueError(f"unknown final_score rule {rule.final_score!r}")


def clamp(suggested: float, grade: str, *, bands: tuple[tuple[str, float], ...],
          max_score: float, decimals: int) -> FinalScore:
    """`suggested` moved the least into the band of the decided `grade` (a code).

    `bands` are (code, minimum) best first, as the policy holds them. Unchanged inside the
    band; the band's floor when the head raised the grade; one step of `decimals` under the
    next grade's floor when the head lowered it (2 decimals: 89.99 under 90). Decimal
    arithmetic, so 90 − 0.01 is 89.99 and not 89.98999….
    """
    if isinstance(suggested, bool) or not isinstance(suggested, (int, float)):
        raise ValueError(f"suggested score must be a number, got {suggested!r}")
    if not 0 <= suggested <= max_score:
        raise ValueError(f"suggested score {suggested} is outside 0–{max_score}")
    codes = [code for code, _ in bands]
    if grade not in codes:
        raise ValueError(f"unknown grade {grade!r}: expected one of {', '.join(codes)}")
    at = codes.index(grade)
    floor = _decimal(bands[at][1])
    value = _decimal(suggested)
    if at > 0 and value >= _decimal(bands[at - 1][1]):
        final = _decimal(bands[at - 1][1]) - Decimal(1).scaleb(-decimals)
    elif value < floor:
        final = floor
    else:
        final = value
    return _final(float(suggested), grade, float(final), bands, decimals)


def decided_scores(snapshot: Any, final_grade: str | None, final_score: float | None, *,
                   bands: tuple[tuple[str, float], ...], decimals: int) -> dict[str, Any]:
    """A stored decision as readers see it: the suggested score the head saw (from the frozen
    `snapshot`, decoded or JSON text) and the line explaining the stored final score.

    The line is read from the stored numbers rather than recomputed under today's policy, so it
    says what the decision did; a decision stored before the score followed the grade (final
    equal to the suggested score) explains no move.
    """
    if isinstance(snapshot, str):
        snapshot = json.loads(snapshot)
    suggestion = snapshot.get("suggestion") if isinstance(snapshot, dict) else None
    suggested = suggestion.get("score") if isinstance(suggestion, dict) else None
    if isinstance(suggested, bool) or not isinstance(suggested, (int, float)):
        suggested = None
    line = None
    if (suggested is not None and isinstance(final_score, (int, float))
            and final_grade in {code for code, _ in bands}):
        line = _final(float(suggested), final_grade, float(final_score), bands, decimals).line
    return {"suggested_score": suggested, "final_score_line": line}


def _final(suggested: float, grade: str, final: float, bands, decimals: int) -> FinalScore:
    by_points = next((code for code, minimum in bands if suggested >= minimum), bands[-1][0])
    if final == suggested:
        return FinalScore(suggested, grade, by_points, final, None, None)
    moved = "raised" if final > suggested else "lowered"
    where_vi, where_en = (("thấp nhất", "lowest") if moved == "raised"
                          else ("cao nhất", "highest"))
    s_vi, s_en = score_text(suggested, decimals)
    f_vi, f_en = score_text(final, decimals)
    (by_vi, by_en), (g_vi, g_en) = GRADE_LABELS[by_points], GRADE_LABELS[grade]
    line = {"vi": f"Điểm gợi ý {s_vi} thuộc loại «{by_vi}»; thủ trưởng quyết định «{g_vi}» nên "
                  f"điểm cuối cùng là {f_vi} (mức {where_vi} của loại này)",
            "en": f"The suggested score {s_en} falls in “{by_en}”; the head decided “{g_en}”, "
                  f"so the final score is {f_en} (the {where_en} of that grade)"}
    return FinalScore(suggested, grade, by_points, final, moved, line)


def _decimal(value: float) -> Decimal:
    return Decimal(repr(float(value)))


def score_text(value: float, decimals: int) -> tuple[str, str]:
    """(Vietnamese, English) text of a score: no trailing zeros, comma for decimals in
    Vietnamese (glossary-vi.md); scores stay under 1.000, so no thousands separator."""
    text = f"{_decimal(value).quantize(Decimal(1).scaleb(-decimals), ROUND_HALF_UP):f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.replace(".", ","), text
