"""Decree 335/2025's unit score for leaders: a leader is also scored on the unit they lead.

The rule as policy (`[unit_score]`, optional: a policy without it scores leaders like everyone):
`weight` of the points of `criterion` (the task results) follow the results of the people the
leader leads: `all_completed` of them (100 %) when every one of them is graded at least
"completed", `any_not_completed` (50 %) when any is graded in `not_completed`.
"""

from __future__ import annotations

from dataclasses import dataclass

from collector.evaluation.rules.keys import get_key, no_extra_keys, share_key


@dataclass(frozen=True)
class UnitScoreRule:
    criterion: str  # the criterion (source "tasks") part of whose points follow the unit
    weight: float  # share of that criterion's points that follow the unit's results, 0–1
    all_completed: float  # share of those points when every subordinate is at least completed
    any_not_completed: float  # share of those points when any subordinate is not completed
    not_completed: tuple[str, ...]  # the grades that count as "not completed"


def parse_unit_score(table: dict, criteria, grade_codes) -> UnitScoreRule:
    where = "unit_score"
    if not isinstance(table, dict):
        raise ValueError(f"unit_score must be a table, got {table!r}")
    no_extra_keys(table, ("criterion", "weight", "all_completed", "any_not_completed",
                          "not_completed"), where)
    code = get_key(table, "criterion", where, str)
    match = [c for c in criteria if c.code == code]
    if not match or match[0].source != "tasks":
        raise ValueError(f"unit_score.criterion {code!r} must be the criterion with "
                         "source = \"tasks\"")
    weight = share_key(table, "weight", where)
    if weight <= 0:
        raise ValueError("unit_score.weight must be above 0 (leave [unit_score] out instead)")
    grades = get_key(table, "not_completed", where, list)
    if not grades or len(set(grades)) != len(grades) or any(g not in grade_codes
                                                             for g in grades):
        raise ValueError(f"unit_score.not_completed must list distinct grade codes, got "
                         f"{grades!r}")
    all_completed = share_key(table, "all_completed", where)
    any_not_completed = share_key(table, "any_not_completed", where)
    if any_not_completed > all_completed:
        raise ValueError("unit_score.any_not_completed must not be above all_completed")
    return UnitScoreRule(criterion=code, weight=weight, all_completed=all_completed,
                         any_not_completed=any_not_completed, not_completed=tuple(grades))
