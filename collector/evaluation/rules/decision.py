"""What the head's decision does to the score, and what the year's classification respects.

`[decision] final_score`: how the final score follows a decided grade other than the one the
suggested score falls in. The one rule so far, "clamp": the score moves into the decided
grade's band by the least amount (to the band's floor when the head raises the grade, to the
top of the band, one step of `decimals` under the next grade's floor, when the head lowers it),
and stays as suggested when the grade agrees with it. `[year] apply_quota`: the quota on the
top grade applies to the year's grades as to each period's.
"""

from __future__ import annotations

from dataclasses import dataclass

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
