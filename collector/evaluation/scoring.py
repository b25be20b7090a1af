"""Suggested monthly score and grade for one officer, with one explanation line per point.

Pure: no database, no clock. The evidence builder and the workflow call these functions with
plain values; the head of the unit decides the grade, this only suggests and explains.

Inputs (dataclasses below; ``suggest`` also accepts plain dicts with the same keys):

- ``SatisfactionEvidence``: ``total`` counted ratings (filtered presses excluded), ``index``
  0–100 or None, ``share_satisfied`` 0–1 or None, ``interval`` the 95 % Wilson interval of the
  share as (low, high) in 0–1 or None, ``sufficient`` as judged by the evidence builder. The
  engine also treats the evidence as insufficient when ``total`` is below the policy's
  ``satisfaction.min_ratings`` or the policy's measure is None: then satisfaction moves nothing,
  the leader's score for the criterion stands alone, and a line says "chưa đủ dữ liệu đánh giá".
- ``TaskEvidence``: counts shown to the leader (registered, on_time, late, overdue, excused)
  and the ``tasks`` themselves (``Task``: weight or converted-product count, completed?, major
  quality errors, delays, delays excused). Decree 335 definitions, all against *assigned* work
  (W = total weight): quantity % = completed weight / W; quality % = Σ over completed tasks of
  weight × max(0, 1 − penalty × errors) / W; progress % = the same with unexcused delays. An
  unfinished task earns no quality or progress points (its errors and delays are moot); an
  excused delay costs nothing.
- ``leader_scores``: {criterion code: points} for every criterion with source "leader".
- ``disciplined``: disciplined in the period; where the policy names ``discipline_grade`` the
  grade is at best that one, regardless of points.
- ``UnitEvidence`` (optional, Decree 335): the ``subordinates`` the officer directly leads in
  the period with the grade standing for each and whether the head decided it
  (rules/leadership.py: only decisions make the unit's share final). Under ``[unit_score]``,
  weight × the task criterion's points follow the unit's share, (1 − weight) × them the own
  task percentages; without the rule, or leading nobody, the evidence changes nothing.

Arithmetic is decimal, rounded once, at the end: each line, each criterion and the score (the
criteria's exact total) is its exact value rounded half-up to ``policy.decimals``, never a sum
of rounded figures. A "làm tròn / rounding" line carries any gap between a criterion's lines
and its points, a "làm tròn tổng điểm" line (criterion "total") any gap between the criteria
and the score: the lines always sum to the score. ``Suggestion.exact``: unrounded criteria.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Callable, Iterable

from collector.evaluation.policy import GRADE_CODES, GRADE_LABELS, Policy
from collector.evaluation.rules.leadership import Subordinate, UnitResult, explain_unit
from collector.evaluation.rules.leadership import unit_result
from collector.evaluation.rules.quota import QuotaCheck, quota_check  # noqa: F401  (re-exported)


@dataclass(frozen=True)
class SatisfactionEvidence:
    total: int = 0
    index: float | None = None
    share_satisfied: float | None = None
    interval: tuple[float, float] | None = None
    sufficient: bool = False


@dataclass(frozen=True)
class Task:
    weight: float
    completed: bool
    major_errors: int = 0
    delays: int = 0
    delays_excused: int = 0
    title: str = ""


@dataclass(frozen=True)
class TaskEvidence:
    tasks: tuple[Task, ...] = ()
    registered: int = 0
    on_time: int = 0
    late: int = 0
    overdue: int = 0
    excused: int = 0


@dataclass(frozen=True)
class UnitEvidence:
    subordinates: tuple[Subordinate, ...] = ()


@dataclass(frozen=True)
class Line:
    criterion: str
    points: float  # + awarded, − removed, 0 for a note that explains why nothing moved
    vi: str
    en: str


@dataclass(frozen=True)
class Suggestion:
    score: float
    grade: str
    letter: str | None
    grade_vi: str
    grade_en: str
    grade_by_points: str  # before the discipline override
    criteria: dict[str, float]  # points per criterion code
    lines: tuple[Line, ...]
    satisfaction_counted: bool
    exact: dict[str, float] = field(default_factory=dict)  # unrounded points per criterion
    # The citizens' part of the satisfaction criterion, unrounded (0 when not counted): what
    # the evidence alone earns there, whatever the leader scored (month_view.evidence_points).
    citizen: float = 0.0


# --- formatting ------------------------------------------------------------------------------


@lru_cache(maxsize=8192)
def _vi(x) -> str:
    """Vietnamese number: dot for thousands, comma for decimals (glossary-vi.md). Cached:
    a province's month close writes the same few numbers hundreds of thousands of times."""
    text = f"{float(x):,.2f}".rstrip("0").rstrip(".")
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


@lru_cache(maxsize=8192)
def _en(x) -> str:
    return f"{float(x):,.2f}".rstrip("0").rstrip(".")


def _pct(share) -> tuple[str, str]:
    return _vi(float(share) * 100) + " %", _en(float(share) * 100) + "%"


# --- grades ----------------------------------------------------------------------------------


def grade_for(policy: Policy, score: float) -> str:
    """The grade code whose band holds `score` (bands are minimums, best first)."""
    if not 0 <= score <= policy.max_score:
        raise ValueError(f"score {score} is outside 0–{policy.max_score}")
    for code, minimum in policy.bands:
        if score >= minimum:
            return code
    raise AssertionError("policy validation guarantees a band starting at 0")


def round_points(policy: Policy, value: float) -> float:
    """`value` rounded half-up to the policy's decimals, as every figure here is."""
    return float(_Lines(policy.decimals).round(value))


def _rank(code: str) -> int:
    return GRADE_CODES.index(code)


# --- the engine ------------------------------------------------------------------------------


class _Lines:
    """The lines and exact points of one suggestion. With `explain` False (a unit's rows,
    which show the score but not its lines) no line is written: each line's text comes as a
    function called only when explaining, so the same arithmetic serves both (issue 13)."""

    def __init__(self, decimals: int, explain: bool = True):
        self.step = _step(decimals)
        self.explain = explain
        self.lines: list[Line] = []
        self.exact: dict[str, Decimal] = {}  # each criterion's unrounded points
        self.citizen = 0.0  # the satisfaction criterion's citizens' part, unrounded

    def round(self, value) -> Decimal:
        return Decimal(repr(float(value))).quantize(self.step, rounding=ROUND_HALF_UP)

    def add(self, criterion: str, value, text: Callable[[], tuple[str, str]]) -> Decimal:
        if not self.explain:  # `text()`: the line's (vi, en)
            return _ZERO
        points = self.round(value)
        self.lines.append(Line(criterion, float(points), *text()))
        return points

    def note(self, criterion: str, text: Callable[[], tuple[str, str]]) -> None:
        if self.explain:  # a line of no points that says why nothing moved
            self.lines.append(Line(criterion, 0.0, *text()))

    def close(self, criterion: str, exact: float, shown: Decimal) -> Decimal:
        """Round the criterion's exact points; a rounding line covers any gap to its lines."""
        self.exact[criterion] = Decimal(repr(float(exact)))
        target = self.round(exact)
        if self.explain and target != shown:
            self.lines.append(Line(criterion, float(target - shown), "Làm tròn", "Rounding"))
        return target


_ZERO = Decimal(0)
# The rounding step and the highest score as Decimals: the same few values for every officer.
_step = lru_cache(maxsize=16)(lambda decimals: Decimal(1).scaleb(-decimals))
_decimal = lru_cache(maxsize=16)(lambda value: Decimal(repr(float(value))))


def _coerce(value, kind):
    if isinstance(value, kind) or value is None:
        return value
    if isinstance(value, dict):
        if kind is TaskEvidence:
            value = dict(value, tasks=tuple(_coerce(t, Task) for t in value.get("tasks", ())))
        if kind is UnitEvidence:
            value = dict(value, subordinates=tuple(_coerce(p, Subordinate)
                                                   for p in value.get("subordinates", ())))
        return kind(**value)
    raise ValueError(f"expected {kind.__name__} or dict, got {type(value).__name__}")


def suggest(policy: Policy, satisfaction, tasks, leader_scores: dict[str, float],
            disciplined: bool = False, unit=None, *, explain: bool = True) -> Suggestion:
    """Suggested score, grade and explanation lines for one officer-month (`unit`: the
    people the officer leads, for the policy's unit score). `explain` False: the same
    figures without the lines (`lines` empty), for a unit's rows."""
    satisfaction = _coerce(satisfaction, SatisfactionEvidence) or SatisfactionEvidence()
    tasks = _coerce(tasks, TaskEvidence) or TaskEvidence()
    result = unit_result_of(policy, unit)
    _check_leader_scores(policy, leader_scores)
    out = _Lines(policy.decimals, explain)
    points: dict[str, Decimal] = {}
    counted = False
    for criterion in policy.criteria:
        if criterion.source == "tasks":
            # The policy has one task criterion, the one [unit_score] names.
            points[criterion.code] = _task_points(policy, criterion, tasks, out, result)
        elif criterion.code == policy.satisfaction.criterion:
            points[criterion.code], counted = _attitude_points(
                policy, criterion, leader_scores[criterion.code], satisfaction, out)
        else:
            given = leader_scores[criterion.code]
            shown = out.add(criterion.code, given, lambda: (
                f"{criterion.vi}: lãnh đạo chấm {_vi(given)}/{_vi(criterion.points)}",
                f"{criterion.en}: leader's score {_en(given)}/{_en(criterion.points)}"))
            points[criterion.code] = out.close(criterion.code, given, shown)
    # Round once: the exact total, not the sum of the rounded criteria (which may differ by
    # a step, enough to cross a band).
    exact = sum(out.exact.values(), _ZERO)
    rounded = out.round(min(max(exact, _ZERO), _decimal(policy.max_score)))
    shown = sum(points.values(), _ZERO)
    if out.explain and rounded != shown:
        out.lines.append(Line("total", float(rounded - shown), "Làm tròn tổng điểm",
                              "Rounding of the total"))
    score = float(rounded)
    by_points = grade_for(policy, score)
    grade = by_points
    forced = policy.discipline_grade
    if disciplined and forced:
        grade = GRADE_CODES[max(_rank(by_points), _rank(forced))]
        out.note("grade", lambda: (
            f"Bị kỷ luật trong kỳ: xếp loại {GRADE_LABELS[forced][0]} không phụ thuộc số điểm",
            f"Disciplined in the period: graded {GRADE_LABELS[forced][1].lower()} "
            "regardless of points"))
    elif disciplined:
        out.note("grade", lambda: (
            "Bị kỷ luật trong kỳ: chính sách này không quy định xếp loại bắt buộc; "
            "thủ trưởng xem xét",
            "Disciplined in the period: this policy forces no grade; for the head to weigh"))
    vi, en = GRADE_LABELS[grade]
    return Suggestion(
        score=score, grade=grade, letter=policy.letters.get(grade), grade_vi=vi, grade_en=en,
        grade_by_points=by_points, criteria={k: float(v) for k, v in points.items()},
        lines=tuple(out.lines), satisfaction_counted=counted,
        exact={k: float(v) for k, v in out.exact.items()}, citizen=out.citizen)


def _check_leader_scores(policy: Policy, leader_scores: dict[str, float]) -> None:
    judged = {c.code: c for c in policy.criteria if c.source == "leader"}
    for code in leader_scores:
        if code not in judged:
            raise ValueError(f"leader score for {code!r}: not a criterion the leader scores")
    for code, criterion in judged.items():
        if code not in leader_scores:
            raise ValueError(f"leader score missing for criterion {code!r}")
        value = leader_scores[code]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            raise ValueError(f"leader score for {code!r} must be a number, got {value!r}")
        if not 0 <= value <= criterion.points:
            raise ValueError(f"leader score for {code!r} must be 0–{criterion.points}, "
                             f"got {value}")


def satisfaction_measure(policy: Policy, evidence: SatisfactionEvidence) -> float | None:
    """The policy's measure as a share 0–1, or None when the evidence does not hold it."""
    measure = policy.satisfaction.measure
    if measure == "share_satisfied":
        return evidence.share_satisfied
    if measure == "index":
        return None if evidence.index is None else evidence.index / 100.0
    return None if evidence.interval is None else evidence.interval[0]


def _attitude_points(policy, criterion, given, evidence, out):
    rule = policy.satisfaction
    measure = satisfaction_measure(policy, evidence)
    enough = (evidence.sufficient and evidence.total >= rule.min_ratings
              and measure is not None)
    if not enough:
        shown = out.add(criterion.code, given, lambda: (
            f"{criterion.vi}: lãnh đạo chấm {_vi(given)}/{_vi(criterion.points)}",
            f"{criterion.en}: leader's score {_en(given)}/{_en(criterion.points)}"))
        out.note(criterion.code, lambda: (
            f"Mức độ hài lòng: chưa đủ dữ liệu đánh giá ({evidence.total} lượt, cần tối thiểu "
            f"{rule.min_ratings}); không làm thay đổi điểm, giữ điểm của lãnh đạo",
            f"Satisfaction: insufficient evidence ({evidence.total} ratings, at least "
            f"{rule.min_ratings} needed); does not move the score, the leader's score stands"))
        return out.close(criterion.code, given, shown), False
    leader_max = criterion.points * (1 - rule.weight)
    citizen_max = criterion.points * rule.weight
    leader_part = given * (1 - rule.weight)
    mapped = min(1.0, max(0.0, (measure - rule.zero_at) / (rule.full_at - rule.zero_at)))
    citizen_part = citizen_max * mapped
    out.citizen = citizen_part

    def leader_text() -> tuple[str, str]:
        wvi, wen = _pct(1 - rule.weight)
        return (f"{criterion.vi}: lãnh đạo chấm {_vi(given)}/{_vi(criterion.points)}, "
                f"tính {wvi} → tối đa {_vi(leader_max)}",
                f"{criterion.en}: leader's score {_en(given)}/{_en(criterion.points)}, "
                f"counted at {wen} → at most {_en(leader_max)}")

    def citizen_text() -> tuple[str, str]:
        pvi, pen = _pct(measure)
        label_vi = {"share_satisfied": "tỷ lệ hài lòng", "index": "chỉ số hài lòng",
                    "wilson_low": "cận dưới khoảng tin cậy 95 % của tỷ lệ hài lòng"}[rule.measure]
        label_en = {"share_satisfied": "share satisfied", "index": "satisfaction index",
                    "wilson_low": "95% lower bound of the share satisfied"}[rule.measure]
        return (f"Mức độ hài lòng của người dân: {label_vi} {pvi} trên {evidence.total} lượt "
                f"đánh giá → tối đa {_vi(citizen_max)}",
                f"Citizen satisfaction: {label_en} {pen} of {evidence.total} ratings "
                f"→ at most {_en(citizen_max)}")

    shown = out.add(criterion.code, leader_part, leader_text)
    shown += out.add(criterion.code, citizen_part, citizen_text)
    return out.close(criterion.code, leader_part + citizen_part, shown), True


def _task_points(policy, criterion, evidence, out, unit: UnitResult | None = None):
    """The task criterion: the officer's own task percentages, and for a leader under the
    policy's unit score, (1 − weight) of the points from those and weight from the unit."""
    code = criterion.code
    for i, task in enumerate(evidence.tasks):
        _check_task(task, i)
    if unit is None:
        exact, shown = _own_task_points(policy, criterion, criterion.points, evidence, out)
        return out.close(code, exact, shown)
    # The split as a note of 0 points, then the own tasks' lines, then the unit's line:
    # month_view.unit_score_part shows the same two lines in the unit-score block.
    told = explain_unit(policy.unit_score, unit, criterion.vi, criterion.en, criterion.points)
    out.note(code, lambda: (told.split_vi, told.split_en))
    exact, shown = _own_task_points(policy, criterion, told.own_max, evidence, out)
    shown += out.add(code, told.points, lambda: (told.vi, told.en))
    return out.close(code, exact + told.points, shown)


def unit_result_of(policy: Policy, unit) -> UnitResult | None:
    """The unit's result under the policy's rule; None without the rule or anyone led."""
    unit = _coerce(unit, UnitEvidence)
    if unit is None or policy.unit_score is None:
        return None
    return unit_result(policy.unit_score, unit.subordinates)


def _own_task_points(policy, criterion, points, evidence, out) -> tuple[float, Decimal]:
    """The officer's own tasks out of `points`: (exact points, sum of the lines shown)."""
    rule = policy.tasks
    code = criterion.code
    total_weight = sum(t.weight for t in evidence.tasks)
    if not evidence.tasks:
        out.note(code, lambda: (f"{criterion.vi}: không có nhiệm vụ nào được ghi nhận trong kỳ",
                                f"{criterion.en}: no task recorded in the period"))
        return 0.0, _ZERO
    weights = rule.quantity_weight + rule.quality_weight + rule.progress_weight
    c_quantity = points * rule.quantity_weight / weights
    c_quality = points * rule.quality_weight / weights
    c_progress = points * rule.progress_weight / weights
    done = [t for t in evidence.tasks if t.completed]
    done_weight = sum(t.weight for t in done)
    done_share = done_weight / total_weight
    svi, sen = _pct(done_share) if out.explain else ("", "")
    exact = c_quantity * done_share
    shown = out.add(code, exact, lambda: (
        f"Số lượng: hoàn thành {_vi(done_weight)}/{_vi(total_weight)} khối lượng "
        f"được giao ({svi}) → tối đa {_vi(c_quantity)}",
        f"Quantity: completed {_en(done_weight)} of {_en(total_weight)} assigned "
        f"({sen}) → at most {_en(c_quantity)}"))
    for task in evidence.tasks:
        if not task.completed and task.delays_excused:
            # The excuse forgives the delay, not the work left undone (a policy choice, see
            # docs/evaluation.md): said in a line, or the task would earn 0 with no reason.
            out.note(code, lambda: (
                f"Nhiệm vụ «{task.title}» chưa hoàn thành: chậm tiến độ do nguyên nhân khách "
                f"quan được chấp nhận, nhưng phần việc chưa làm không được tính điểm",
                f"Task “{task.title}” not completed: its delay is excused as objective, but "
                f"work not done earns no points"))
    for c_part, vi_name, en_name, penalty, count_of in (
        (c_quality, "Chất lượng", "Quality", rule.major_error_penalty,
         lambda t: (t.major_errors, "lỗi lớn về chất lượng", "major quality error(s)")),
        (c_progress, "Tiến độ", "Progress", rule.delay_penalty,
         lambda t: (t.delays - t.delays_excused, "lần chậm tiến độ", "unexcused delay(s)")),
    ):
        award = c_part * done_share
        exact += award
        shown += out.add(code, award, lambda: (
            f"{vi_name}: nhiệm vụ đã hoàn thành ({svi} khối lượng được giao) "
            f"→ tối đa {_vi(c_part)}",
            f"{en_name}: completed tasks ({sen} of assigned work) → at most {_en(c_part)}"))
        for task in done:
            count, vi_what, en_what = count_of(task)
            if count > 0:
                loss = min(1.0, penalty * count)
                removed = c_part * task.weight * loss / total_weight
                exact -= removed
                shown += out.add(code, -removed, lambda: (
                    f"{vi_name} – nhiệm vụ «{task.title}»: {count} {vi_what} "
                    f"× {_pct(penalty)[0]} điểm {vi_name.lower()} của nhiệm vụ",
                    f"{en_name} – task “{task.title}”: {count} {en_what} "
                    f"× {_pct(penalty)[1]} of its {en_name.lower()} points"))
            if vi_name == "Tiến độ" and task.delays_excused:
                out.note(code, lambda: (
                    f"Tiến độ – nhiệm vụ «{task.title}»: {task.delays_excused} lần chậm do "
                    f"nguyên nhân khách quan, không trừ điểm",
                    f"Progress – task “{task.title}”: {task.delays_excused} delay(s) excused "
                    f"as objective, no points removed"))
    return max(0.0, exact), shown


def _check_task(task: Task, i: int) -> None:
    where = f"tasks[{i}]"
    if not (isinstance(task.weight, (int, float)) and task.weight > 0
            and math.isfinite(task.weight)):
        raise ValueError(f"{where}.weight must be a positive number, got {task.weight!r}")
    for name in ("major_errors", "delays", "delays_excused"):
        value = getattr(task, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{where}.{name} must be a non-negative integer, got {value!r}")
    if task.delays_excused > task.delays:
        raise ValueError(f"{where}.delays_excused ({task.delays_excused}) exceeds "
                         f"delays ({task.delays})")


# --- quota ---------------------------------------------------------------------------------


def check_quota(policy: Policy, grades_in_unit: Iterable[str],
                outstanding_unit: bool = False, *, decided: int = 0) -> QuotaCheck:
    """The policy's quota over one unit's grades (collector/evaluation/rules/quota.py)."""
    return quota_check(policy.quota, policy.letters, grades_in_unit, outstanding_unit,
                       decided=decided)
