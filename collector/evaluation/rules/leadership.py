"""Decree 335/2025's unit score for leaders: a leader is also scored on the unit they lead.

The rule as policy (`[unit_score]`, optional: a policy without it scores leaders like everyone):
`weight` of the points of `criterion` (the task results) follow the results of the people the
leader leads: `all_completed` of them (100 %) when every one of them is graded at least
"completed", `any_not_completed` (50 %) when any is graded in `not_completed`.

Pure (no database, no other evaluation module): `unit_result` reads the unit's share from the
grades standing for the people a leader directly leads in the period (the head's decision, else
the leader's proposal; none yet: not graded), and `explain_unit` splits the criterion's points
and words the lines collector/evaluation/scoring.py shows. Only the head's decisions are
final: while anyone led is not decided (not graded, or only proposed) the share is
provisional — that of the grades standing, which may still rise or fall — unless a DECIDED
grade is "not completed": the lower share is then certain whatever the rest are decided. A
proposed "not completed" makes nothing certain (the head may decide another grade), and the
decision of a leader's month waits for the unit's (collector/evaluation/workflow/status.py
`unit_acknowledgement`): the text saying who is awaited is `awaiting_text`'s, and what the
refused head is to do first — decide those that are theirs, wait for the heads of the others —
`decide_first`'s.
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


# --- the unit's result -------------------------------------------------------------------------

@dataclass(frozen=True)
class Subordinate:
    """One person the leader directly leads in the period, with the grade standing for them:
    the head's decision when `decided`, else the leader's proposal; None: not graded yet."""
    officer_id: str
    name: str
    grade: str | None = None
    decided: bool = False


@dataclass(frozen=True)
class UnitResult:
    share: float  # the rule's all_completed or any_not_completed
    subordinates: tuple[Subordinate, ...]
    completed: tuple[Subordinate, ...]  # graded, and not in the rule's not_completed
    not_completed: tuple[Subordinate, ...]
    ungraded: tuple[Subordinate, ...]
    undecided: tuple[Subordinate, ...]  # not graded, or graded by a proposal only
    # Someone is not decided yet and no decided grade is "not completed": the share is that
    # of the grades standing and may still change as the head decides the rest.
    provisional: bool
    # Someone is not decided yet but a decided grade is already "not completed": the lower
    # share cannot change whatever the rest are decided.
    certain: bool


def unit_result(rule: UnitScoreRule, subordinates) -> UnitResult | None:
    """The unit's share of the points that follow it; None for a leader who leads nobody in
    the period (scored like everyone else)."""
    people = tuple(subordinates)
    if not people:
        return None
    ungraded = tuple(p for p in people if p.grade is None)
    not_completed = tuple(p for p in people
                          if p.grade is not None and p.grade in rule.not_completed)
    completed = tuple(p for p in people
                      if p.grade is not None and p.grade not in rule.not_completed)
    undecided = tuple(p for p in people if not (p.decided and p.grade is not None))
    share = rule.any_not_completed if not_completed else rule.all_completed
    # A proposal binds nobody: only a decided "not completed" fixes the lower share.
    fixed = any(p.decided for p in not_completed)
    return UnitResult(share=share, subordinates=people, completed=completed,
                      not_completed=not_completed, ungraded=ungraded, undecided=undecided,
                      provisional=bool(undecided) and not fixed,
                      certain=bool(undecided) and fixed)


# --- how the points are explained ------------------------------------------------------------

@dataclass(frozen=True)
class UnitExplanation:
    own_max: float  # (1 − weight) × the criterion's points: from the leader's own tasks
    unit_max: float  # weight × the criterion's points: from the unit
    points: float  # exact: unit_max × the unit's share
    split_vi: str  # the split, a note of 0 points
    split_en: str
    vi: str  # the unit's result and its points
    en: str


_NAMED = 5  # names listed in the line; the unit-score block lists everybody


def _number(x, vi: bool) -> str:
    """2 decimals at most; in Vietnamese a dot for thousands, a comma for decimals."""
    text = f"{float(x):,.2f}".rstrip("0").rstrip(".")
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".") if vi else text


def _percent(share: float, vi: bool) -> str:
    return _number(share * 100, vi) + (" %" if vi else "%")


def _names(people: tuple[Subordinate, ...], vi: bool, marked: bool = True) -> str:
    """The first names of `people`, a grade only proposed marked so when `marked`."""
    shown = [p.name + ("" if p.decided or p.grade is None or not marked else
                       (" – đề xuất" if vi else " – proposed")) for p in people[:_NAMED]]
    if len(people) > _NAMED:
        rest = len(people) - _NAMED
        shown.append(f"và {rest} người khác" if vi else f"and {rest} others")
    return ", ".join(shown)


def _result_text(result: UnitResult, unit_max: float, points: float, vi: bool) -> str:
    done, total = len(result.completed), len(result.subordinates)
    if vi:
        text = (f"Kết quả đơn vị{' (tạm tính)' if result.provisional else ''}: {done}/{total} "
                "người do mình phụ trách hoàn thành nhiệm vụ trở lên")
        parts = ((result.not_completed, "không hoàn thành"),
                 (result.ungraded, "chưa được xếp loại"))
    else:
        text = (f"Unit result{' (provisional)' if result.provisional else ''}: {done} of "
                f"{total} people led at least completed their tasks")
        parts = ((result.not_completed, "not completed"), (result.ungraded, "not graded yet"))
    for people, what in parts:
        if people:
            text += f", {len(people)} {what} ({_names(people, vi)})"
    share = _percent(result.share, vi)
    text += (f" → {share} × {_number(unit_max, vi)} = {_number(points, vi)} "
             + ("điểm" if vi else "points"))
    awaited = _awaited(result.undecided, vi, marked=True)
    if result.provisional:
        text += (f"; còn chờ quyết định đối với {awaited}: điểm này có thể thay đổi" if vi
                 else f"; awaiting the decision on {awaited}: these points may change")
    if result.certain:
        text += (f"; mức {share} đã chắc chắn dù còn chờ quyết định đối với {awaited}" if vi
                 else f"; {share} is certain, although still awaiting the decision on {awaited}")
    return text


def _awaited(people: tuple[Subordinate, ...], vi: bool, marked: bool) -> str:
    """"2 người (Nguyễn Văn A, Trần Thị B)" / "2 people (…)"."""
    count = len(people)
    noun = "người" if vi else ("person" if count == 1 else "people")
    return f"{count} {noun} ({_names(people, vi, marked)})"


def awaiting_text(result: UnitResult) -> tuple[str, str] | None:
    """Who the leader's unit result still waits for, when it is provisional (Vietnamese,
    English): what the decision of the leader's month says before it freezes the result;
    None when it is final or its lower share certain."""
    if not result.provisional:
        return None
    return (("Kết quả đơn vị của cán bộ này còn tạm tính: chờ quyết định đối với "
             + _awaited(result.undecided, True, marked=False)),
            ("This officer's unit result is still provisional: awaiting the decision on "
             + _awaited(result.undecided, False, marked=False)))


def decide_first(awaited, deciders: dict[str, tuple[str | None, str | None]],
                 actor: str) -> tuple[str, str]:
    """What a head refused a leader's decision (the unit result provisional) is asked to do
    first, by who decides each person `awaited` ((officer id, name) pairs): decide those
    that are theirs, wait for the others' heads — the leader's head is often not the head
    of the people the leader leads. `deciders`: officer → (head id, head name), (None, None)
    for someone decided outside hailong. (Vietnamese, English), without the full stop."""
    own: list[Subordinate] = []
    others: dict[str | None, list[Subordinate]] = {}
    for officer_id, name in awaited:
        head, head_name = deciders.get(officer_id, (None, None))
        (own if head == actor else others.setdefault(head_name, [])).append(
            Subordinate(officer_id, name))
    if not others:
        return (("Quyết định người này trước", "Decide this person first") if len(own) == 1
                else ("Quyết định những người này trước", "Decide them first"))
    wait_vi = "; ".join(_wait(head, people, True) for head, people in others.items())
    wait_en = "; ".join(_wait(head, people, False) for head, people in others.items())
    if not own:
        return f"Chờ quyết định {wait_vi}", f"Wait for {wait_en}"
    mine_vi, mine_en = _names(tuple(own), True), _names(tuple(own), False)
    return (f"Quyết định đối với {mine_vi} trước và chờ quyết định {wait_vi}",
            f"Decide on {mine_en} first and wait for {wait_en}")


def _wait(head: str | None, people: list[Subordinate], vi: bool) -> str:
    """"của Ngô Thị Hạnh đối với …" / "Ngô Thị Hạnh's decision on …"."""
    names = _names(tuple(people), vi)
    if vi:
        return f"của {head} đối với {names}" if head else f"ngoài hệ thống đối với {names}"
    return f"{head}'s decision on {names}" if head else f"the decision outside hailong on {names}"


def explain_unit(rule: UnitScoreRule, result: UnitResult, criterion_vi: str,
                 criterion_en: str, criterion_points: float) -> UnitExplanation:
    """The split of the criterion's points and the unit's part, with the lines that say so
    (Vietnamese first, then English), e.g. "Kết quả đơn vị: 11/12 người do mình phụ trách
    hoàn thành nhiệm vụ trở lên, 1 không hoàn thành (Nguyễn Văn A) → 50 % × 35 = 17,5 điểm"."""
    own_max = criterion_points * (1 - rule.weight)
    unit_max = criterion_points * rule.weight
    points = unit_max * result.share
    own = (_percent(1 - rule.weight, True), _percent(1 - rule.weight, False))
    unit = (_percent(rule.weight, True), _percent(rule.weight, False))
    return UnitExplanation(
        own_max=own_max, unit_max=unit_max, points=points,
        split_vi=(f"{criterion_vi} của người lãnh đạo: {own[0]} ({_number(own_max, True)} "
                  f"điểm) theo nhiệm vụ của bản thân, {unit[0]} ({_number(unit_max, True)} "
                  "điểm) theo kết quả của những người do mình phụ trách"),
        split_en=(f"{criterion_en} of a leader: {own[1]} ({_number(own_max, False)} points) "
                  f"from their own tasks, {unit[1]} ({_number(unit_max, False)} points) from "
                  "the results of the people they lead"),
        vi=_result_text(result, unit_max, points, True),
        en=_result_text(result, unit_max, points, False))
