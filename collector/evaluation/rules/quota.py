"""The cap on the top grade over one unit's (or group's) grades: pure counting and its words.

cap = floor(share × base), where base counts the officers whose grade is in ``of_grades``
(hanoi-3814: everyone rated; decree-335: those rated good only). Exact arithmetic (0.3 × 10 is
3, not 2.9999…). The check never changes a grade; the workflow decides what a refusal is
(collector/evaluation/workflow/status.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterable

from collector.evaluation.rules.grades import GRADE_CODES, GRADE_LABELS


@dataclass(frozen=True)
class QuotaRule:
    grade: str  # the capped grade
    share: float
    share_outstanding: float | None  # None: no exception for an outstanding unit
    of_grades: tuple[str, ...]  # the cap is share × the number of officers in these grades
    rounding: str  # how a fractional cap becomes a head count ("floor")


@dataclass(frozen=True)
class QuotaCheck:
    grade: str
    rated: int  # officers with a proposed grade
    base: int  # those the cap is a share of (policy quota.of_grades)
    share: float
    cap: int
    proposed: int  # officers counted with the capped grade, decided or proposed
    exceeded: bool
    over_by: int
    outstanding_unit: bool
    vi: str
    en: str
    decided: int = 0  # of `proposed`, those whose capped grade the head has decided


def _number_vi(x) -> str:
    text = f"{float(x):,.2f}".rstrip("0").rstrip(".")
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def _number_en(x) -> str:
    return f"{float(x):,.2f}".rstrip("0").rstrip(".")


def quota_check(rule: QuotaRule, letters: dict[str, str], grades_in_unit: Iterable[str],
                outstanding_unit: bool = False, *, decided: int = 0) -> QuotaCheck:
    """Do the grades of one unit exceed the cap on the top grade? Never changes them.

    `grades_in_unit` holds one grade per officer rated (codes, or the policy's `letters`).
    `decided` says how many of the capped grades counted are the head's decisions rather than
    leaders' proposals: the text says "decided" for those and "proposed" for the rest.
    """
    by_letter = {letter: code for code, letter in letters.items()}
    codes = []
    for grade in grades_in_unit:
        code = by_letter.get(grade, grade)
        if code not in GRADE_CODES:
            raise ValueError(f"unknown grade {grade!r}")
        codes.append(code)
    share = rule.share
    if outstanding_unit and rule.share_outstanding is not None:
        share = rule.share_outstanding
    base = sum(code in rule.of_grades for code in codes)
    cap = math.floor(Fraction(str(share)) * base)
    proposed = codes.count(rule.grade)
    over_by = max(0, proposed - cap)
    gvi, gen = GRADE_LABELS[rule.grade]
    svi, sen = _number_vi(share * 100) + " %", _number_en(share * 100) + "%"
    if rule.of_grades == GRADE_CODES or set(rule.of_grades) == set(GRADE_CODES):
        of_vi, of_en = "số được đánh giá", "those rated"
    else:
        names = [GRADE_LABELS[g] for g in rule.of_grades]
        of_vi = "số được xếp loại " + ", ".join(vi for vi, _ in names)
        of_en = "those rated " + ", ".join(en.lower() for _, en in names)
    if not 0 <= decided <= proposed:
        raise ValueError(f"decided ({decided}) must be from 0 to the {proposed} counted")
    if not proposed:  # neither decided nor proposed: no word that would be wrong for one
        who_vi, who_en = "0 người", "none"
    elif decided == proposed:
        who_vi, who_en = f"{decided} đã quyết định", f"{decided} decided"
    elif decided:
        who_vi = f"{decided} đã quyết định và {proposed - decided} đề xuất"
        who_en = f"{decided} decided and {proposed - decided} proposed"
    else:
        who_vi, who_en = f"{proposed} đề xuất", f"{proposed} proposed"
    facts_vi = (f"{who_vi} «{gvi}»; tối đa {svi} × {base} ({of_vi}) = {cap} "
                f"(làm tròn xuống); {len(codes)} người được đánh giá")
    facts_en = (f"{who_en} “{gen}”; at most {sen} × {base} ({of_en}) = {cap} "
                f"(rounded down); {len(codes)} rated")
    if over_by:
        vi = f"Cảnh báo: vượt tỷ lệ {over_by} người. {facts_vi}. Thủ trưởng quyết định."
        en = f"Warning: {over_by} over the quota. {facts_en}. The head decides."
    else:
        vi, en = f"Trong tỷ lệ. {facts_vi}.", f"Within the quota. {facts_en}."
    return QuotaCheck(grade=rule.grade, rated=len(codes), base=base, share=share, cap=cap,
                      proposed=proposed, exceeded=over_by > 0, over_by=over_by,
                      outstanding_unit=outstanding_unit, vi=vi, en=en, decided=decided)
