"""Who may do what to an officer's monthly evaluation.

The rules (issue 5, "Permissions"), for officer X's month:

- self-evaluate: X only;
- review: X's direct leader: `officers.leader_id`, or the responsible head when X has none
  ("a leader reviews only the people they lead");
- decide and reopen: X's responsible head: the head of the nearest unit, walking up from X's
  own, whose head is not X ("a head decides only in their unit"). Nobody decides their own
  grade: a head's evaluation goes to the head above;
- view: X, X's direct leader, and the head of X's unit or of any unit above it;
- a unit's status ("who is late"): the head of that unit or of a unit above it;
- a month's due dates: the head of a top-level unit (the whole organisation's calendar), until
  issue 6 brings an administrator role.

The rules are pure functions of `OfficerFacts` and the actor; two reads give the facts:
`officer_facts(db, id)`, the officer as they stand now (over collector/org/organisation.py's
`direct_leader` and `responsible_head`), and `month_facts(db, id, month, today)`, the officer
as one evaluation period stands; `month_facts_many` gives the latter for many officers at once
(a unit's status: issue 13). A refusal is a `Permission` that is false and says why in
Vietnamese and English.

A period with a stored place (issue 12: the review stores `evaluations.unit_id`,
`deciding_unit_id`, `post_group`; the decision stores them again; a reopening keeps them) is
governed by that place, not by where the officer is now, so a move, a new head or a
re-parented unit never hands an old period to someone else's unit:

- its unit is the stored unit; its `deciding_unit` (the quota's pool) the stored deciding unit;
- its head (decides and reopens): the head of the stored deciding unit as it is now, or, when
  that unit has no head now or its head is the officer, the nearest head above it who is not
  the officer (a stored deciding unit of None: the walk starts at the stored unit);
- its leader (reviews): the stored reviewer (`reviewed_by`) while in office — within their
  active dates on `today` (any date when `today` is None) — else the head above;
- who may view it: the officer, that leader, and the heads of the stored unit, of the stored
  deciding unit and of every unit above either (not the heads or leaders of the officer's
  unit now, unless they are among these).

A period without one (never reviewed) follows the officer's unit now: `officer_facts`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Callable, NamedTuple

import sqlite_utils

from collector.org.organisation import direct_leader, responsible_head, unit_chain


@dataclass(frozen=True)
class Permission:
    allowed: bool
    vi: str = ""
    en: str = ""

    def __bool__(self) -> bool:
        return self.allowed

    @property
    def reason(self) -> str:
        return "" if self.allowed else f"{self.vi} / {self.en}"


ALLOWED = Permission(True)


@dataclass(frozen=True)
class OfficerFacts:
    """What the rules need to know about officer X."""
    officer_id: str
    unit_id: str
    leader: str | None  # direct leader: leader_id, else the responsible head
    head: str | None  # responsible head: decides X's grade
    deciding_unit: str | None  # the unit `head` heads on the way up: the quota's unit
    heads_over: frozenset[str]  # heads of X's unit and every unit above it, X excluded
    placed: bool = False  # the facts of a period with a stored place (`month_facts`)


def may_self_evaluate(facts: OfficerFacts, actor: str) -> Permission:
    if actor == facts.officer_id:
        return ALLOWED
    return Permission(False, f"Chỉ cán bộ {facts.officer_id} được tự đánh giá tháng của mình",
                      f"Only {facts.officer_id} may write their own self-evaluation")


def may_review(facts: OfficerFacts, actor: str) -> Permission:
    if facts.leader is None:
        return Permission(False, f"Cán bộ {facts.officer_id} chưa có lãnh đạo trực tiếp hay "
                                 "thủ trưởng phụ trách để nhận xét, đánh giá",
                          f"{facts.officer_id} has no direct leader or head to review them")
    if actor == facts.leader:
        return ALLOWED
    return Permission(False, f"Chỉ lãnh đạo trực tiếp của {facts.officer_id} ({facts.leader}) "
                             "được nhận xét, đánh giá",
                      f"Only {facts.officer_id}'s direct leader ({facts.leader}) may review "
                      "them")


def may_decide(facts: OfficerFacts, actor: str) -> Permission:
    if facts.head is None:
        return Permission(False, f"Không có thủ trưởng nào phụ trách {facts.officer_id} (cấp "
                                 "cao nhất của tổ chức): chưa ai quyết định được",
                          f"No head is responsible for {facts.officer_id} (the top of the "
                          "organisation): nobody can decide")
    if actor == facts.head:
        return ALLOWED
    if actor == facts.officer_id:
        return Permission(False, "Không ai tự quyết định xếp loại của mình: việc này thuộc thủ "
                                 f"trưởng cấp trên ({facts.head})",
                          "Nobody decides their own grade: it goes to the head above "
                          f"({facts.head})")
    return Permission(False, f"Chỉ thủ trưởng phụ trách {facts.officer_id} ({facts.head}) được "
                             "quyết định xếp loại: thủ trưởng chỉ quyết định trong đơn vị mình",
                      f"Only {facts.officer_id}'s responsible head ({facts.head}) may decide: "
                      "a head decides only in their unit")


def may_reopen(facts: OfficerFacts, actor: str) -> Permission:
    return may_decide(facts, actor)


def may_view(facts: OfficerFacts, actor: str) -> Permission:
    if actor in (facts.officer_id, facts.leader) or actor in facts.heads_over:
        return ALLOWED
    return Permission(False, f"Chỉ cán bộ {facts.officer_id}, lãnh đạo trực tiếp và thủ "
                             "trưởng cấp trên được xem đánh giá này",
                      f"Only {facts.officer_id}, their direct leader and the heads above them "
                      "may see this evaluation")


def may_view_unit(actor: str, unit_id: str, heads_over_unit: frozenset[str]) -> Permission:
    if actor in heads_over_unit:
        return ALLOWED
    return Permission(False, f"Chỉ thủ trưởng đơn vị {unit_id} hoặc đơn vị cấp trên được xem "
                             "tình hình đánh giá của đơn vị",
                      f"Only the head of unit {unit_id} or of a unit above it may see the "
                      "unit's evaluation status")


def may_set_calendar(actor: str, top_heads: frozenset[str]) -> Permission:
    if actor in top_heads:
        return ALLOWED
    return Permission(False, "Chỉ thủ trưởng đơn vị cấp cao nhất được đặt lịch đánh giá tháng",
                      "Only the head of a top-level unit may set the monthly due dates")


def may_plan_task(facts: OfficerFacts, actor: str) -> Permission:
    """Add a task to X's work plan or update its progress: X, X's direct leader (who assigns
    the work) or a head over X."""
    if actor in (facts.officer_id, facts.leader) or actor in facts.heads_over:
        return ALLOWED
    return Permission(False, f"Chỉ cán bộ {facts.officer_id}, lãnh đạo trực tiếp hoặc thủ "
                             "trưởng cấp trên được ghi nhiệm vụ của cán bộ này",
                      f"Only {facts.officer_id}, their direct leader or a head above them may "
                      "record this officer's tasks")


def may_judge_task(facts: OfficerFacts, actor: str) -> Permission:
    """Record a major quality error or excuse a delay: X's leader or a head over X, never X."""
    if actor != facts.officer_id and (actor == facts.leader or actor in facts.heads_over):
        return ALLOWED
    return Permission(False, f"Chỉ lãnh đạo trực tiếp hoặc thủ trưởng của {facts.officer_id} "
                             "được ghi lỗi chất lượng hay chấp nhận lý do chậm",
                      f"Only {facts.officer_id}'s direct leader or a head above them may record "
                      "a quality error or excuse a delay")


ACTIONS: dict[str, Callable[[OfficerFacts, str], Permission]] = {
    "view": may_view, "self": may_self_evaluate, "review": may_review,
    "decide": may_decide, "reopen": may_reopen,
}


def permissions_of(facts: OfficerFacts, actor: str) -> dict[str, bool]:
    """What `actor` may do to X's month, by action: for a page to show the right buttons."""
    return {action: bool(rule(facts, actor)) for action, rule in ACTIONS.items()}


# --- the reads --------------------------------------------------------------------------------

def _heads(db: sqlite_utils.Database, unit_ids: list[str]) -> list[str | None]:
    return [db.execute("SELECT head_id FROM units WHERE id = ?", [u]).fetchone()[0]
            for u in unit_ids]


def officer_facts(db: sqlite_utils.Database, officer_id: str) -> OfficerFacts | None:
    """The facts about an officer the rules need; None for an unknown officer."""
    row = db.execute("SELECT unit_id FROM officers WHERE id = ?", [officer_id]).fetchone()
    if row is None:
        return None
    chain = unit_chain(db, row[0])
    heads = _heads(db, chain)
    head = responsible_head(db, officer_id)
    deciding = next((u for u, h in zip(chain, heads) if h is not None and h == head), None)
    return OfficerFacts(officer_id=officer_id, unit_id=row[0],
                        leader=direct_leader(db, officer_id), head=head,
                        deciding_unit=deciding if head is not None else None,
                        heads_over=frozenset(h for h in heads
                                             if h is not None and h != officer_id))


def month_facts(db: sqlite_utils.Database, officer_id: str, month: str,
                today: date | None = None) -> OfficerFacts | None:
    """The facts of officer X's evaluation period `month` (a month or a quarter key): those of
    its stored place when it has one (the module's docstring says how), else `officer_facts`.
    None for an unknown officer."""
    row = db.execute("SELECT e.unit_id, e.deciding_unit_id, e.reviewed_by FROM officers o "
                     "LEFT JOIN evaluations e ON e.officer_id = o.id AND e.month = ? "
                     "WHERE o.id = ?", [month, officer_id]).fetchone()
    if row is None or row[0] is None or not unit_chain(db, row[0]):
        return officer_facts(db, officer_id)
    unit_id, stored_deciding, reviewer = row
    chain = unit_chain(db, stored_deciding or unit_id) or unit_chain(db, unit_id)
    heads = _heads(db, chain)
    found = next(((u, h) for u, h in zip(chain, heads) if h is not None and h != officer_id),
                 None)
    head = found[1] if found else None
    deciding = (stored_deciding or found[0]) if found else None
    over = [h for h in _heads(db, unit_chain(db, unit_id)) + heads
            if h is not None and h != officer_id]
    leader = reviewer if (reviewer is not None and reviewer != officer_id
                          and _in_office(db, reviewer, today)) else head
    return OfficerFacts(officer_id=officer_id, unit_id=unit_id, leader=leader, head=head,
                        deciding_unit=deciding, heads_over=frozenset(over), placed=True)


class Place(NamedTuple):
    """What the facts of an officer's period are made of (`month_facts`): the officer now
    (`unit_now`, `leader_id`: officers.unit_id, leader_id) and the period's stored place, if
    any (`unit_id`, `deciding_unit_id`, `reviewed_by`: those of its evaluations row)."""
    officer_id: str
    unit_now: str | None
    leader_id: str | None
    unit_id: str | None
    deciding_unit_id: str | None
    reviewed_by: str | None


def month_facts_many(db: sqlite_utils.Database, officer_ids: Iterable[str], month: str,
                     today: date | None = None) -> dict[str, OfficerFacts]:
    """`month_facts` of each of these officers for the period `month`, by officer (unknown
    ones left out), in three statements at most however many they are (officer by officer,
    about ten statements each, a province's status took seconds: issue 13). The ids travel
    as one JSON array (json_each): an IN list of a province's officers would pass SQLite's
    limit of bound variables."""
    rows = db.execute("SELECT o.id, o.unit_id, o.leader_id, e.unit_id, e.deciding_unit_id, "
                      "e.reviewed_by FROM officers o LEFT JOIN evaluations e ON "
                      "e.officer_id = o.id AND e.month = ? "
                      "WHERE o.id IN (SELECT value FROM json_each(?))",
                      [month, json.dumps(list(set(officer_ids)))]).fetchall()
    return facts_of_places(db, [Place(*row) for row in rows], today)


def officer_facts_many(db: sqlite_utils.Database,
                       officer_ids: Iterable[str]) -> dict[str, OfficerFacts]:
    """`officer_facts` of each of these officers, by officer (unknown ones left out), in
    two statements however many they are: the facts of a period never placed."""
    rows = db.execute("SELECT id, unit_id, leader_id FROM officers "
                      "WHERE id IN (SELECT value FROM json_each(?))",
                      [json.dumps(list(set(officer_ids)))]).fetchall()
    return facts_of_places(db, [Place(*row, None, None, None) for row in rows])


def facts_of_places(db: sqlite_utils.Database, places: Iterable[Place],
                    today: date | None = None) -> dict[str, OfficerFacts]:
    """`month_facts` from places a caller has read with its own rows, by officer, in two
    statements: the units above theirs and the reviewers' active dates. What a chain of units
    decides is worked out once per unit, not per officer (a province's root has 150,000
    officers on 3,000 units)."""
    return {facts[0]: OfficerFacts(*facts) for facts in _facts_rows(db, places, today)}


def reviewers_and_heads(db: sqlite_utils.Database, places: Iterable[Place],
                        today: date | None = None) -> dict[str, tuple[str | None, str | None]]:
    """officer → (leader, head) of `facts_of_places`, the two a unit's status shows (who
    reviews, who decides), without the dataclass per officer a province's root would build."""
    return {facts[0]: (facts[2], facts[3]) for facts in _facts_rows(db, places, today)}


def _facts_rows(db: sqlite_utils.Database, places: Iterable[Place],
                today: date | None) -> Iterator[tuple]:
    """The fields of `OfficerFacts`, in order, for each place (`month_facts`'s rules)."""
    places = places if isinstance(places, list) else list(places)
    tree = _Tree(db, {unit for place in places
                      for unit in (place.unit_now, place.unit_id, place.deciding_unit_id)
                      if unit is not None})
    in_office = _in_office_many(db, {p.reviewed_by for p in places} - {None}, today)
    for officer_id, unit_now, leader_id, unit_id, stored_deciding, reviewer in places:
        if unit_id is None or unit_id not in tree.units:  # not placed: officer_facts
            head, deciding, over = tree.above(unit_now, officer_id)
            yield (officer_id, unit_now, leader_id if leader_id is not None else head, head,
                   deciding, over, False)
            continue
        start = stored_deciding if stored_deciding in tree.units else unit_id
        head, found, over = tree.above(start, officer_id)
        if start != unit_id:
            over = over | tree.above(unit_id, officer_id)[2]
        yield (officer_id, unit_id,
               reviewer if (reviewer != officer_id and reviewer in in_office) else head, head,
               (stored_deciding or found) if head is not None else None, over, True)


def _in_office_many(db: sqlite_utils.Database, officer_ids: set[str],
                    today: date | None) -> set[str]:
    """Those of these officers `_in_office` on `today`, in one statement (none for none)."""
    if not officer_ids:
        return set()
    day = None if today is None else today.isoformat()
    return {officer_id for officer_id, first, last in db.execute(
        "SELECT id, active_from, active_to FROM officers "
        "WHERE id IN (SELECT value FROM json_each(?))", [json.dumps(sorted(officer_ids))])
        if day is None or ((first is None or first <= day) and (last is None or last >= day))}


class _Tree:
    """The units above some units, read in one statement, and what each chain decides (as
    organisation.unit_chain walks it: nearest first, cut at a unit not stored or a repeat)."""

    def __init__(self, db: sqlite_utils.Database, units: set[str]):
        # UNION (not UNION ALL) drops repeats, so a cycle in the data ends the recursion.
        self.units = {unit: (parent, head) for unit, parent, head in db.execute(
            "WITH RECURSIVE up(id) AS (SELECT value FROM json_each(?) UNION "
            "SELECT u.parent_id FROM units u JOIN up ON u.id = up.id "
            "WHERE u.parent_id IS NOT NULL) "
            "SELECT id, parent_id, head_id FROM units WHERE id IN (SELECT id FROM up)",
            [json.dumps(sorted(units))])}
        self.heads: dict[str | None, tuple[list[tuple[str, str]], frozenset[str]]] = {}

    def above(self, unit_id: str | None,
              officer_id: str) -> tuple[str | None, str | None, frozenset[str]]:
        """(head, unit) of the nearest unit of the chain whose head is not the officer, and
        the chain's heads but the officer ((None, None, empty) for a unit not stored)."""
        if unit_id not in self.heads:
            headed, seen, unit = [], set(), unit_id
            while unit in self.units and unit not in seen:
                seen.add(unit)
                parent, head = self.units[unit]
                if head is not None:
                    headed.append((head, unit))
                unit = parent
            self.heads[unit_id] = (headed, frozenset(head for head, _ in headed))
        headed, over = self.heads[unit_id]
        if officer_id not in over:
            return (*headed[0], over) if headed else (None, None, over)
        head, unit = next(((h, u) for h, u in headed if h != officer_id), (None, None))
        return head, unit, over - {officer_id}


def _in_office(db: sqlite_utils.Database, officer_id: str, today: date | None) -> bool:
    """The officer exists and, with `today`, is within their active dates (both included)."""
    row = db.execute("SELECT active_from, active_to FROM officers WHERE id = ?",
                     [officer_id]).fetchone()
    if row is None or today is None:
        return row is not None
    day = today.isoformat()
    return (row[0] is None or row[0] <= day) and (row[1] is None or row[1] >= day)


def unit_heads_over(db: sqlite_utils.Database, unit_id: str) -> frozenset[str]:
    """Heads of the unit and of every unit above it."""
    return frozenset(h for h in _heads(db, unit_chain(db, unit_id)) if h is not None)


def top_unit_heads(db: sqlite_utils.Database) -> frozenset[str]:
    """Heads of the units without a parent."""
    return frozenset(row[0] for row in db.execute(
        "SELECT head_id FROM units WHERE parent_id IS NULL AND head_id IS NOT NULL"))
