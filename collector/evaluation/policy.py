"""Scoring policy: every number and threshold of the monthly evaluation, read from a TOML file.

Rules change (docs/domain.md), so nothing the decrees fix lives in code: the points of each
criterion, the grade bands, where citizen satisfaction enters and with what weight, the minimum
number of ratings that counts as evidence, the 25 % deductions of Decree 335 and the quota on
the top grade are all keys of a policy file an administrator can edit, and so are the thresholds
of the counter alerts (``[alerts]``, collector/ratings/alerts.py; optional, the issue's example
otherwise). Two presets ship next to this module (``collector/evaluation/policies/*.toml``):
``hanoi-3814`` and ``decree-335``.

Loading is strict: a missing, mistyped or out-of-range key raises ``ValueError`` naming the key
(``criteria[2].points``), because a policy silently half-read would grade people wrongly. Pure:
reading the file is the only I/O, and ``parse_policy`` takes the already-decoded TOML mapping.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from collector.ratings.alert_rule import DEFAULT_ALERT_RULE, AlertRule
from collector.evaluation.rules.decision import (
    DEFAULT_DECISION_RULE,
    DEFAULT_YEAR_RULE,
    DecisionRule,
    YearRule,
    parse_decision,
    parse_year,
)
from collector.evaluation.rules.grades import GRADE_CODES, GRADE_LABELS, GRADES  # noqa: F401
from collector.evaluation.rules.keys import (
    choice_key,
    get_key,
    no_extra_keys,
    share_key,
    table_key,
)
from collector.evaluation.rules.leadership import UnitScoreRule, parse_unit_score
from collector.evaluation.rules.quota import QuotaRule
from collector.evaluation.rules.offline import DEFAULT_OFFLINE_RULE, OfflineRule, parse_offline
from collector.ratings.satisfaction import ANSWERS, SATISFIED_ANSWERS


SOURCES = ("leader", "tasks")
MEASURES = ("share_satisfied", "index", "wilson_low")
QUOTA_ROUNDING = ("floor",)
# The period evaluated: Hanoi evaluates monthly; Decree 335/2025 allows a month or a quarter.
PERIODS = ("month", "quarter")
PRESETS_DIR = Path(__file__).with_name("policies")
ANSWER_CODES = tuple(code for code, _, _ in ANSWERS)
MAX_ALERT_MINUTES = 24 * 60


@dataclass(frozen=True)
class Criterion:
    code: str
    vi: str
    en: str
    points: float
    source: str  # "leader": the leader scores it; "tasks": computed from task records


@dataclass(frozen=True)
class SatisfactionRule:
    criterion: str  # code of the criterion satisfaction feeds (service attitude)
    weight: float  # share of that criterion's points decided by satisfaction, 0–1
    measure: str  # which evidence figure: share_satisfied, index (/100) or wilson_low
    min_ratings: int  # below this the evidence is insufficient and moves nothing
    zero_at: float  # measure (0–1) at or below which the satisfaction part earns 0
    full_at: float  # measure (0–1) at or above which it earns all its points


@dataclass(frozen=True)
class TaskRule:
    criterion: str
    quantity_weight: float
    quality_weight: float
    progress_weight: float
    major_error_penalty: float  # share of a task's quality points lost per major error
    delay_penalty: float  # share of a task's progress points lost per unexcused delay


@dataclass(frozen=True)
class Policy:
    name: str
    title_vi: str
    title_en: str
    source: str
    max_score: float
    decimals: int
    bands: tuple[tuple[str, float], ...]  # (grade code, minimum score), best first
    letters: dict[str, str]
    discipline_grade: str | None  # grade forced by discipline in the period, regardless of points
    criteria: tuple[Criterion, ...]
    satisfaction: SatisfactionRule
    tasks: TaskRule
    quota: QuotaRule
    alerts: AlertRule = DEFAULT_ALERT_RULE
    period: str = "month"  # "month" or "quarter": the period each evaluation covers
    unit_score: UnitScoreRule | None = None  # leaders scored on their unit (Decree 335)
    decision: DecisionRule = DEFAULT_DECISION_RULE
    year: YearRule = DEFAULT_YEAR_RULE
    offline: OfflineRule = DEFAULT_OFFLINE_RULE

    def criterion(self, code: str) -> Criterion:
        for criterion in self.criteria:
            if criterion.code == code:
                return criterion
        raise KeyError(code)


def load_policy(path: str | Path) -> Policy:
    """Read and validate a policy file; ValueError names the file and the bad key."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML: {exc}") from exc
    try:
        return parse_policy(data)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.toml"))


def load_preset(name: str) -> Policy:
    """A preset shipped with the collector, by name (``hanoi-3814``, ``decree-335``)."""
    if name not in preset_names():
        raise ValueError(f"unknown policy preset {name!r}; presets: {', '.join(preset_names())}")
    return load_policy(PRESETS_DIR / f"{name}.toml")


def load_configured(spec: str | Path) -> Policy:
    """The deployment's policy: a preset name, or the path of a TOML file (ends in .toml)."""
    text = str(spec)
    if text.endswith(".toml") or "/" in text:
        try:
            return load_policy(text)
        except OSError as exc:
            raise ValueError(f"cannot read the policy file {text}: {exc.strerror or exc}") from None
    return load_preset(text)


# --- validation ------------------------------------------------------------------------------


def parse_policy(data: dict) -> Policy:
    """Validate a decoded TOML mapping into a Policy (ValueError naming the key otherwise)."""
    no_extra_keys(data, ("policy", "grades", "letters", "criteria", "satisfaction", "tasks",
                     "quota", "alerts", "unit_score", "decision", "year", "offline"), "")
    head = table_key(data, "policy")
    no_extra_keys(head, ("name", "title_vi", "title_en", "source", "max_score", "decimals",
                     "discipline_grade", "period"), "policy")
    max_score = get_key(head, "max_score", "policy", float)
    decimals = get_key(head, "decimals", "policy", int)
    if max_score <= 0:
        raise ValueError("policy.max_score must be positive")
    if not 0 <= decimals <= 4:
        raise ValueError("policy.decimals must be between 0 and 4")

    grades = table_key(data, "grades")
    bands = []
    for code in GRADE_CODES:
        minimum = get_key(grades, code, "grades", float)
        if not 0 <= minimum <= max_score:
            raise ValueError(f"grades.{code} must be between 0 and {max_score}, got {minimum}")
        bands.append((code, minimum))
    for (code, low), (_, lower) in zip(bands, bands[1:]):
        if low <= lower:
            raise ValueError(f"grades.{code} must be above the next grade's minimum ({lower})")
    if bands[-1][1] != 0:
        raise ValueError("grades.KHTNV must be 0: every score needs a grade")
    no_extra_keys(grades, GRADE_CODES, "grades")

    letters = get_key(data, "letters", "", dict, {})
    no_extra_keys(letters, GRADE_CODES, "letters")
    for code, letter in letters.items():
        if not isinstance(letter, str):
            raise ValueError(f"letters.{code} must be str, got {letter!r}")

    discipline = get_key(head, "discipline_grade", "policy", str, None)
    if discipline is not None and discipline not in GRADE_CODES:
        raise ValueError(f"policy.discipline_grade must be a grade code, got {discipline!r}")

    criteria = _criteria(data, max_score)
    satisfaction = _satisfaction(table_key(data, "satisfaction"), criteria)
    tasks = _tasks(table_key(data, "tasks"), criteria)
    quota = _quota(table_key(data, "quota"))
    alerts = _alerts(data["alerts"]) if "alerts" in data else DEFAULT_ALERT_RULE
    unit_score = (parse_unit_score(data["unit_score"], criteria, GRADE_CODES)
                  if "unit_score" in data else None)
    return Policy(
        name=get_key(head, "name", "policy", str),
        title_vi=get_key(head, "title_vi", "policy", str),
        title_en=get_key(head, "title_en", "policy", str),
        source=get_key(head, "source", "policy", str, ""),
        max_score=max_score,
        decimals=decimals,
        bands=tuple(bands),
        letters=dict(letters),
        discipline_grade=discipline,
        criteria=criteria,
        satisfaction=satisfaction,
        tasks=tasks,
        quota=quota,
        alerts=alerts,
        period=choice_key(head, "period", "policy", PERIODS, "month"),
        unit_score=unit_score,
        decision=(parse_decision(data["decision"]) if "decision" in data
                  else DEFAULT_DECISION_RULE),
        year=parse_year(data["year"]) if "year" in data else DEFAULT_YEAR_RULE,
        offline=parse_offline(data["offline"]) if "offline" in data else DEFAULT_OFFLINE_RULE,
    )


def _criteria(data: dict, max_score: float) -> tuple[Criterion, ...]:
    rows = get_key(data, "criteria", "", list)
    if not rows:
        raise ValueError("criteria must list at least one criterion")
    criteria = []
    for i, row in enumerate(rows):
        where = f"criteria[{i}]"
        if not isinstance(row, dict):
            raise ValueError(f"{where} must be a table")
        points = get_key(row, "points", where, float)
        if points <= 0:
            raise ValueError(f"{where}.points must be positive, got {points}")
        no_extra_keys(row, ("code", "vi", "en", "points", "source"), where)
        criteria.append(Criterion(
            code=get_key(row, "code", where, str),
            vi=get_key(row, "vi", where, str),
            en=get_key(row, "en", where, str),
            points=points,
            source=choice_key(row, "source", where, SOURCES),
        ))
    codes = [c.code for c in criteria]
    if len(set(codes)) != len(codes):
        raise ValueError(f"criteria codes must be unique, got {codes}")
    total = sum(c.points for c in criteria)
    if abs(total - max_score) > 1e-9:
        raise ValueError(f"criteria points add up to {total}, policy.max_score is {max_score}")
    if sum(c.source == "tasks" for c in criteria) != 1:
        raise ValueError("criteria must have exactly one criterion with source = \"tasks\"")
    return tuple(criteria)


def _criterion_ref(table: dict, where: str, criteria, source: str) -> str:
    code = get_key(table, "criterion", where, str)
    match = [c for c in criteria if c.code == code]
    if not match:
        raise ValueError(f"{where}.criterion {code!r} is not a criterion code")
    if match[0].source != source:
        raise ValueError(f"{where}.criterion {code!r} must have source = {source!r}")
    return code


def _satisfaction(table: dict, criteria) -> SatisfactionRule:
    where = "satisfaction"
    no_extra_keys(table, ("criterion", "weight", "measure", "min_ratings", "zero_at", "full_at"), where)
    min_ratings = get_key(table, "min_ratings", where, int)
    if min_ratings < 1:
        raise ValueError("satisfaction.min_ratings must be at least 1")
    zero_at = share_key(table, "zero_at", where)
    full_at = share_key(table, "full_at", where)
    if full_at <= zero_at:
        raise ValueError("satisfaction.full_at must be above satisfaction.zero_at")
    return SatisfactionRule(
        criterion=_criterion_ref(table, where, criteria, "leader"),
        weight=share_key(table, "weight", where),
        measure=choice_key(table, "measure", where, MEASURES),
        min_ratings=min_ratings,
        zero_at=zero_at,
        full_at=full_at,
    )


def _tasks(table: dict, criteria) -> TaskRule:
    where = "tasks"
    no_extra_keys(table, ("criterion", "quantity_weight", "quality_weight", "progress_weight",
                      "major_error_penalty", "delay_penalty"), where)
    weights = [get_key(table, k, where, float) for k in
               ("quantity_weight", "quality_weight", "progress_weight")]
    if min(weights) < 0 or sum(weights) <= 0:
        raise ValueError("tasks.*_weight must be non-negative and not all zero")
    return TaskRule(
        criterion=_criterion_ref(table, where, criteria, "tasks"),
        quantity_weight=weights[0],
        quality_weight=weights[1],
        progress_weight=weights[2],
        major_error_penalty=share_key(table, "major_error_penalty", where),
        delay_penalty=share_key(table, "delay_penalty", where),
    )


def _quota(table: dict) -> QuotaRule:
    where = "quota"
    no_extra_keys(table, ("grade", "share", "share_outstanding", "of_grades", "rounding"), where)
    of_grades = get_key(table, "of_grades", where, list)
    if not of_grades or any(g not in GRADE_CODES for g in of_grades):
        raise ValueError(f"quota.of_grades must list grade codes, got {of_grades!r}")
    grade = choice_key(table, "grade", where, GRADE_CODES)
    return QuotaRule(
        grade=grade,
        share=share_key(table, "share", where),
        share_outstanding=share_key(table, "share_outstanding", where, None),
        of_grades=tuple(of_grades),
        rounding=choice_key(table, "rounding", where, QUOTA_ROUNDING),
    )


def _minutes(table: dict, key: str, where: str) -> int:
    value = get_key(table, key, where, int)
    if not 1 <= value <= MAX_ALERT_MINUTES:
        raise ValueError(f"{where}.{key} must be 1 to {MAX_ALERT_MINUTES} minutes, got {value}")
    return value


def _alerts(table) -> AlertRule:
    # Optional as a whole (DEFAULT_ALERT_RULE), but once present every key must be: a table
    # half-filled by hand would otherwise alert on thresholds nobody chose.
    where = "alerts"
    if not isinstance(table, dict):
        raise ValueError(f"alerts must be a table, got {table!r}")
    no_extra_keys(table, ("window_minutes", "min_ratings", "negative_share", "negative_answers",
                      "late_after_minutes"), where)
    min_ratings = get_key(table, "min_ratings", where, int)
    if min_ratings < 1:
        raise ValueError("alerts.min_ratings must be at least 1")
    share = share_key(table, "negative_share", where)
    if share <= 0:
        raise ValueError("alerts.negative_share must be above 0: at 0 every rating would alert")
    answers = get_key(table, "negative_answers", where, list)
    if not answers or len(set(answers)) != len(answers) or any(
            a not in ANSWER_CODES or a in SATISFIED_ANSWERS for a in answers):
        allowed = [a for a in ANSWER_CODES if a not in SATISFIED_ANSWERS]
        raise ValueError(f"alerts.negative_answers must list distinct answers among "
                         f"{', '.join(allowed)}, got {answers!r}")
    return AlertRule(
        window_minutes=_minutes(table, "window_minutes", where),
        min_ratings=min_ratings,
        negative_share=share,
        negative_answers=tuple(answers),
        late_after_minutes=_minutes(table, "late_after_minutes", where),
    )
