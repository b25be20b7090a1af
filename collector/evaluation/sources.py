"""The rows a month (and a year) is computed from: officers, units, presses, shifts, spans.

Bulk reads behind collector/evaluation/month.py, year.py and team.py: one query per kind of
evidence for a whole set of officers, so a unit's month costs a handful of queries rather than
a handful per officer. Id sets go in chunks (SQLite caps a statement's parameters). Reads only.
A `month` argument is the evaluation period's key: a month or, under a quarterly policy, a
quarter ("2026-Q1", collector/core/periods.py), whose evidence spans its three months.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import sqlite_utils

from collector.org.directory import officer_order
from collector.core.periods import period_bounds
from collector.ratings import month_counts
from collector.ratings.received import receiving_times

_EVIDENCE_CHUNK = 500
# A set of officers this large, and most of everyone (a province's close), has a period's rows
# read for everyone and kept for the set: one pass over the period's rows rather than an
# index search per officer (issue 13).
_BY_PERIOD = 2_000


def most_of_everyone(db: sqlite_utils.Database, wanted: set[str]) -> bool:
    """Whether these officers are so many, and most of everyone, that a period's rows are
    better read for everyone and kept for them."""
    return (len(wanted) > _BY_PERIOD
            and 2 * len(wanted) > db.execute("SELECT count(*) FROM officers").fetchone()[0])


def _evidence_chunks(ids: Iterable[str]) -> Iterator[tuple[list[str], str]]:
    """(chunk, "?, ?, …") pairs over the sorted distinct ids."""
    ordered = sorted(set(ids))
    for i in range(0, len(ordered), _EVIDENCE_CHUNK):
        chunk = ordered[i:i + _EVIDENCE_CHUNK]
        yield chunk, ", ".join("?" * len(chunk))


def _dicts(db: sqlite_utils.Database, sql: str, params: Any) -> list[dict[str, Any]]:
    """The rows as dicts, read in one pass: `db.query`'s savepoint and generator cost as much
    as the row itself at a province's scale (a month close reads 150,000 of each, issue 13).
    Reads only, and only statements whose columns have distinct names."""
    cursor = db.execute(sql, params)
    keys = [column[0] for column in cursor.description]
    return [dict(zip(keys, row)) for row in cursor]


def evidence_officer(db: sqlite_utils.Database, officer_id: str) -> dict[str, Any] | None:
    """An officer with their unit, direct leader and active dates."""
    rows = evidence_officers_by_id(db, [officer_id])
    return rows.get(officer_id)


_EVIDENCE_OFFICER_SELECT = (
    "SELECT o.id, o.name, o.title, o.unit_id, u.name AS unit_name, o.leader_id, "
    "l.name AS leader_name, o.active_from, o.active_to, o.post_group FROM officers o "
    "LEFT JOIN units u ON u.id = o.unit_id LEFT JOIN officers l ON l.id = o.leader_id ")

# Where an officer's month belongs (issue 12): the unit stored with its review or decision,
# else their current unit; and the group of similar posts its quota counts it in: the one
# stored with the first review (kept by every later step, a reopening and a new decision
# included: a regrouping, like a move, does not reach back), else their current one. One
# expression each for every query of a unit's month (here and
# collector/evaluation/workflow/records.py), so the reports, the unit's quota lines and a
# decision's check agree on who is in.
MONTH_UNIT = "COALESCE(e.unit_id, o.unit_id)"
QUOTA_GROUP = "CASE WHEN e.unit_id IS NOT NULL THEN e.post_group ELSE o.post_group END"


def month_members(marks: str) -> str:
    """WHERE clause (parameters: the unit ids, the month, the unit ids, the unit ids) of the
    officers `o` whose month (`e`, LEFT JOINed on it) belongs to these units. The candidates
    come by index — officers now in the units (officers_unit), months stored under them
    (evaluations_month_unit) — and MONTH_UNIT decides; a scan of every officer joined to the
    month would not use either."""
    return (f"o.id IN (SELECT id FROM officers WHERE unit_id IN ({marks}) UNION "
            f"SELECT officer_id FROM evaluations WHERE month = ? AND unit_id IN ({marks})) "
            f"AND {MONTH_UNIT} IN ({marks})")


def evidence_officers_by_id(db: sqlite_utils.Database,
                            officer_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    out = {}
    for chunk, marks in _evidence_chunks(officer_ids):
        for row in _dicts(db, _EVIDENCE_OFFICER_SELECT + f"WHERE o.id IN ({marks})", chunk):
            out[row["id"]] = row
    return out


def evidence_officers(db: sqlite_utils.Database, unit_ids: Iterable[str], first_day: str,
                      last_day: str, *, month: str | None = None) -> list[dict[str, Any]]:
    """Officers of these units active at some time between two local ISO dates (inclusive;
    NULL active dates are open), by unit name then officer in Vietnamese order.

    With `month` (a unit's month), "of these units" is where that month belongs
    (MONTH_UNIT): an officer reviewed or decided here who moved since is still listed, under
    this unit, and one who moved in after the review is not; `unit_id`, `unit_name` and
    `post_group` (QUOTA_GROUP) are the month's. Without, the officer's current unit and group.
    """
    rows: list[dict[str, Any]] = []
    for chunk, marks in _evidence_chunks(unit_ids):
        if month is None:
            sql, params = _EVIDENCE_OFFICER_SELECT + f"WHERE o.unit_id IN ({marks}) ", chunk
        else:
            sql = _MONTH_OFFICER_SELECT + f"WHERE {month_members(marks)} "
            params = [month, *chunk, month, *chunk, *chunk]
        rows.extend(_dicts(db, sql + "AND (o.active_from IS NULL OR o.active_from <= ?) "
                           "AND (o.active_to IS NULL OR o.active_to >= ?)",
                           [*params, last_day, first_day]))
    return sorted(rows, key=officer_order)


_MONTH_OFFICER_SELECT = (
    f"SELECT o.id, o.name, o.title, {MONTH_UNIT} AS unit_id, u.name AS unit_name, "
    "o.leader_id, l.name AS leader_name, o.active_from, o.active_to, "
    f"{QUOTA_GROUP} AS post_group FROM officers o "
    "LEFT JOIN evaluations e ON e.officer_id = o.id AND e.month = ? "
    f"LEFT JOIN units u ON u.id = {MONTH_UNIT} LEFT JOIN officers l ON l.id = o.leader_id ")

# A unit's lines (issue 13): each officer as the lines show them and, from the row the month's
# place is read from anyway, their workflow row as `evidence_evaluations_brief` reads it.
_LINE_OFFICER = ("id", "name", "title", "unit_id", "unit_name", "post_group")
_MONTH_LINE_SELECT = (
    f"SELECT o.id, o.name, o.title, {MONTH_UNIT} AS unit_id, u.name AS unit_name, "
    f"{QUOTA_GROUP} AS post_group, e.officer_id, e.self_scores, e.self_at, e.review_scores, "
    "e.proposed_grade, e.reviewed_at, e.disciplined, e.final_grade, e.final_score, "
    "e.decided_by, d.name AS decided_by_name, e.decided_at, e.snapshot FROM officers o "
    "LEFT JOIN evaluations e ON e.officer_id = o.id AND e.month = ? "
    f"LEFT JOIN units u ON u.id = {MONTH_UNIT} LEFT JOIN officers d ON d.id = e.decided_by ")


def evidence_month_lines(db: sqlite_utils.Database, unit_ids: Iterable[str], first_day: str,
                         last_day: str, month: str
                         ) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """`evidence_officers(…, month=month)` with only the fields a unit's lines show (id,
    name, title, unit_id, unit_name, post_group), and their workflow rows of the month as
    `evidence_evaluations_brief` gives them, in one statement per 500 units."""
    officers: list[dict[str, Any]] = []
    evaluations: dict[str, dict[str, Any]] = {}
    width = len(_LINE_OFFICER)
    units = set(unit_ids)
    active = ("(o.active_from IS NULL OR o.active_from <= ?) "
              "AND (o.active_to IS NULL OR o.active_to >= ?)")
    if 2 * len(units) > db.execute("SELECT count(*) FROM units").fetchone()[0]:
        # Most of the tree (a province's close): every officer read once, kept when the
        # month's unit (MONTH_UNIT, the `unit_id` column) is one of these: what
        # month_members selects, without its index searches per unit.
        statements = [([month, last_day, first_day], f"WHERE {active}")]
    else:
        statements = [([month, *chunk, month, *chunk, *chunk, last_day, first_day],
                       f"WHERE {month_members(marks)} AND {active}")
                      for chunk, marks in _evidence_chunks(units)]
    for params, where in statements:
        cursor = db.execute(_MONTH_LINE_SELECT + where, params)
        keys = [column[0] for column in cursor.description][width:]
        for row in cursor:
            if row[3] not in units:
                continue
            officers.append(dict(zip(_LINE_OFFICER, row)))
            if row[width] is not None:
                evaluations[row[0]] = dict(zip(keys, row[width:]))
    return sorted(officers, key=officer_order), evaluations


def evidence_led(db: sqlite_utils.Database, leader_ids: Iterable[str], first_day: str,
                 last_day: str, *, month: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """The officers each of these leads directly and who are active at some time between two
    local ISO dates: leader → officer rows (as `evidence_officers`, in the same order).

    Decree 335's unit score counts them. "Directly" as collector/org/organisation.py `led_by`
    decides, in one query per chunk of leaders instead of a walk per officer: `leader_id`,
    or, for an officer without one, the head of the nearest unit walking up from their own
    whose head is not themself (`responsible_head`). The walk starts only in the subtrees of
    the units these leaders head, and UNION stops it at a repeat, as the Python walk does.

    With `month` (the period's key), the period's own organisation wins where it is stored
    (issue 12): an officer whose period is placed (reviewed: `evaluations.unit_id`) was led
    by its reviewer (`reviewed_by`), whatever their leader of record or unit says now; only
    the others follow the rule above. So neither a head editing a leader of record before
    their own decision nor a later move changes whom a leader led in a past period.
    """
    out: dict[str, list[dict[str, Any]]] = {}
    # Each with the unit their period belongs to, as a unit's month lists them.
    officers = (_EVIDENCE_OFFICER_SELECT if month is None
                else _MONTH_OFFICER_SELECT.replace("e.month = ?", "e.month = :month"))
    for chunk, _marks in _evidence_chunks(leader_ids):
        values = ", ".join(f"(:l{i})" for i in range(len(chunk)))
        placed = ("" if month is None else
                  " WHERE NOT EXISTS (SELECT 1 FROM evaluations e WHERE e.officer_id = "
                  "n.officer_id AND e.month = :month AND e.unit_id IS NOT NULL) "
                  "UNION SELECT reviewed_by, officer_id FROM evaluations WHERE month = :month "
                  "AND unit_id IS NOT NULL AND reviewed_by IN (SELECT id FROM leaders)")
        rows = db.query(
            f"WITH RECURSIVE leaders(id) AS (VALUES {values}), "
            "below(id) AS (SELECT id FROM units WHERE head_id IN (SELECT id FROM leaders) "
            "UNION SELECT u.id FROM units u JOIN below b ON u.parent_id = b.id), "
            # Up from the unit of each officer without a leader of record, past units without
            # a head (or headed by the officer), to the first unit whose head is someone else.
            "walk(officer_id, unit_id) AS (SELECT o.id, o.unit_id FROM officers o "
            "WHERE o.leader_id IS NULL AND o.unit_id IN (SELECT id FROM below) "
            "UNION SELECT w.officer_id, u.parent_id FROM walk w JOIN units u ON u.id = w.unit_id "
            "WHERE (u.head_id IS NULL OR u.head_id = w.officer_id) AND u.parent_id IS NOT NULL), "
            "led_now(leader, officer_id) AS (SELECT leader_id, id FROM officers "
            "WHERE leader_id IN (SELECT id FROM leaders) "
            "UNION SELECT u.head_id, w.officer_id FROM walk w JOIN units u ON u.id = w.unit_id "
            "WHERE u.head_id IN (SELECT id FROM leaders) AND u.head_id != w.officer_id), "
            f"pairs(leader, officer_id) AS (SELECT leader, officer_id FROM led_now n{placed}) "
            f"SELECT p.leader AS led_by, x.* FROM pairs p JOIN ({officers}) x "
            "ON x.id = p.officer_id WHERE p.leader != x.id "
            "AND (x.active_from IS NULL OR x.active_from <= :last) "
            "AND (x.active_to IS NULL OR x.active_to >= :first)",
            {**{f"l{i}": leader for i, leader in enumerate(chunk)}, "month": month,
             "last": last_day, "first": first_day})
        for row in rows:
            leader = row.pop("led_by")
            out.setdefault(leader, []).append(row)
    return {leader: sorted(rows, key=officer_order) for leader, rows in out.items()}


def evidence_unit(db: sqlite_utils.Database, unit_id: str) -> dict[str, Any] | None:
    """A unit with its kind, head (id and name) and whether it is recognised outstanding."""
    rows = list(db.query(
        "SELECT u.id, u.name, u.parent_id, u.kind, u.head_id, h.name AS head_name, "
        "u.outstanding FROM units u LEFT JOIN officers h ON h.id = u.head_id WHERE u.id = ?",
        [unit_id]))
    return rows[0] if rows else None


def evidence_unit_tree(db: sqlite_utils.Database) -> dict[str, dict[str, Any]]:
    """Every unit in one read: id → {id, name, parent_id, head_id, outstanding}, for walks over
    many officers (the year's quota pools, year.py) without a query per step."""
    return {row["id"]: row for row in db.query(
        "SELECT id, name, parent_id, head_id, outstanding FROM units")}


def evidence_root_units(db: sqlite_utils.Database) -> list[str]:
    """Units at the top of the tree: no parent, or a parent that is not stored."""
    return [row[0] for row in db.execute(
        "SELECT u.id FROM units u LEFT JOIN units p ON p.id = u.parent_id "
        "WHERE p.id IS NULL ORDER BY u.id")]


def evidence_counters(db: sqlite_utils.Database,
                      counter_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    out = {}
    for chunk, marks in _evidence_chunks(counter_ids):
        for row in db.query("SELECT c.id, c.label, c.unit_id, u.name AS unit_name FROM counters c "
                            f"LEFT JOIN units u ON u.id = c.unit_id WHERE c.id IN ({marks})",
                            chunk):
            out[row["id"]] = row
    return out


def evidence_presses(db: sqlite_utils.Database, officer_ids: Iterable[str],
                     month: str) -> dict[str, list[tuple]]:
    """Presses attributed to each officer in the local month (or the quarter's months),
    filtered ones included, counted by kind: officer → [(scale, level, excluded, reason,
    attribution, count)], in GROUP BY order. From the month counts
    (collector/ratings/month_counts.py): a dozen rows per officer-month, not one per press."""
    wanted = set(officer_ids)
    if most_of_everyone(db, wanted):  # everyone's counts, kept for these
        counted = month_counts.by_officer(
            month_counts.counts(db, None, month_counts.period_months(month)), 5)
        return {officer: kinds for officer, kinds in counted.items() if officer in wanted}
    return month_counts.by_officer(
        month_counts.counts(db, wanted, month_counts.period_months(month)), 5)


def evidence_shifts(db: sqlite_utils.Database, officer_ids: Iterable[str],
                    month: str) -> dict[str, list[tuple[str, int, int | None]]]:
    """Each officer's current roster shifts (corrections applied) overlapping the month:
    officer → [(counter, starts_at, ends_at | None)], in time order."""
    start, end = period_bounds(month)
    out: dict[str, list[tuple[str, int, int | None]]] = {}
    wanted = set(officer_ids)
    overlapping = ("replaced_at IS NULL AND starts_at < ? AND (ends_at IS NULL OR ends_at > ?) "
                   "ORDER BY starts_at, id")
    if most_of_everyone(db, wanted):  # the period's shifts by time, kept for these
        for officer_id, counter, starts_at, ends_at in db.execute(
                "SELECT officer_id, counter_id, starts_at, ends_at FROM roster_shifts "
                f"WHERE {overlapping}", [end, start]):
            if officer_id in wanted:
                out.setdefault(officer_id, []).append((counter, starts_at, ends_at))
        return out
    for chunk, marks in _evidence_chunks(wanted):
        for officer_id, counter, starts_at, ends_at in db.execute(
                "SELECT officer_id, counter_id, starts_at, ends_at FROM roster_shifts "
                f"WHERE officer_id IN ({marks}) AND {overlapping}", [*chunk, end, start]):
            out.setdefault(officer_id, []).append((counter, starts_at, ends_at))
    return out


def evidence_online_spans(db: sqlite_utils.Database, counter_ids: Iterable[str], month: str,
                          max_silence_ms: int) -> list[dict[str, Any]]:
    """Online spans of the devices placed at these counters that may overlap both the
    placement and the month: one row per (placement, span) pair, with both.

    An open span (ended_at NULL) can last at most until last_seen_at + max_silence_ms; whether
    it is still open "now" is for the caller, who knows the clock.
    """
    start, end = period_bounds(month)
    rows: list[dict[str, Any]] = []
    for chunk, marks in _evidence_chunks(counter_ids):
        rows.extend(db.query(
            "SELECT p.counter_id, p.device_id, p.starts_at AS placed_at, p.ends_at AS removed_at, "
            "s.starts_at, s.last_seen_at, s.ended_at FROM device_placements p "
            "JOIN device_online_spans s ON s.device_id = p.device_id "
            f"WHERE p.counter_id IN ({marks}) "
            "AND p.starts_at < ? AND (p.ends_at IS NULL OR p.ends_at > ?) "
            "AND s.starts_at < ? AND COALESCE(s.ended_at, s.last_seen_at + ?) > ? "
            "ORDER BY p.counter_id, s.starts_at",
            [*chunk, end, start, end, max_silence_ms, start]))
    return rows


def evidence_receiving(db: sqlite_utils.Database, month: str,
                       now_ms: int) -> list[tuple] | None:
    """When the collector itself was receiving in the period (ratings/received.py; None: no
    record kept, all of it): duty time outside, with no device online, is unknown."""
    return receiving_times(db, *period_bounds(month), now_ms)


_EVIDENCE_EVALUATION_SELECT = (
    "SELECT e.*, r.name AS reviewed_by_name, d.name AS decided_by_name FROM evaluations e "
    "LEFT JOIN officers r ON r.id = e.reviewed_by LEFT JOIN officers d ON d.id = e.decided_by ")


def evidence_evaluations(db: sqlite_utils.Database, officer_ids: Iterable[str],
                         month: str) -> dict[str, dict[str, Any]]:
    """The workflow row of each officer for the month (JSON columns left as text)."""
    return _evaluations_by_officer(db, _EVIDENCE_EVALUATION_SELECT, officer_ids, month)


def _evaluations_by_officer(db: sqlite_utils.Database, select: str,
                            officer_ids: Iterable[str], month: str) -> dict[str, dict[str, Any]]:
    out = {}
    for chunk, marks in _evidence_chunks(officer_ids):
        for row in _dicts(db, select + f"WHERE e.officer_id IN ({marks}) AND e.month = ?",
                          [*chunk, month]):
            out[row["officer_id"]] = row
    return out


# What a unit's lines read of each workflow row (collector/evaluation/unit_rows/row.py, the
# quota's standing grades): no comments, notes or reviewer, which only an officer's month shows.
_BRIEF_EVALUATION_SELECT = (
    "SELECT e.officer_id, e.self_scores, e.self_at, e.review_scores, e.proposed_grade, "
    "e.reviewed_at, e.disciplined, e.final_grade, e.final_score, e.decided_by, "
    "d.name AS decided_by_name, e.decided_at, e.snapshot FROM evaluations e "
    "LEFT JOIN officers d ON d.id = e.decided_by ")


def evidence_evaluations_brief(db: sqlite_utils.Database, officer_ids: Iterable[str],
                               month: str) -> dict[str, dict[str, Any]]:
    """`evidence_evaluations` with only the columns a unit's lines read (issue 13)."""
    return _evaluations_by_officer(db, _BRIEF_EVALUATION_SELECT, officer_ids, month)


def evidence_evaluation_events(db: sqlite_utils.Database, officer_id: str,
                               month: str) -> list[dict[str, Any]]:
    """The officer-month's workflow history, oldest first, with the actor's name."""
    return [dict(row) for row in db.query(
        "SELECT ev.id, ev.step, ev.actor, o.name AS actor_name, ev.at, ev.data "
        "FROM evaluation_events ev LEFT JOIN officers o ON o.id = ev.actor "
        "WHERE ev.officer_id = ? AND ev.month = ? ORDER BY ev.id", [officer_id, month])]


def evidence_year_evaluations(db: sqlite_utils.Database, officer_ids: Iterable[str],
                              year: int) -> dict[str, list[dict[str, Any]]]:
    """Each officer's workflow rows of a calendar year, by month: officer → rows."""
    out: dict[str, list[dict[str, Any]]] = {}
    for chunk, marks in _evidence_chunks(officer_ids):
        for row in db.query(
                "SELECT e.officer_id, e.month, e.final_grade, e.final_score, e.disciplined, "
                "e.decided_by, d.name AS decided_by_name, e.decided_at FROM evaluations e "
                "LEFT JOIN officers d ON d.id = e.decided_by "
                f"WHERE e.officer_id IN ({marks}) AND e.month >= ? AND e.month < ? "
                # "YYYY-MM" and "YYYY-Qn" keys of the year alike ("2026-Q1" > "2026-12")
                "ORDER BY e.month", [*chunk, f"{year:04d}-", f"{year + 1:04d}-"]):
            out.setdefault(row["officer_id"], []).append(row)
    return out
