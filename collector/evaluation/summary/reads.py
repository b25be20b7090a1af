"""The SQL aggregates of a unit's period, per unit of its subtree: never a row per officer.

A province's root holds 154,000 officers; the ranking reads each of them in Python
(collector/evaluation/month.py `unit_month`), and even SQLite, reading them row by row, spends
300 ms. Here the figures come from tables that keep them added up (collector/db/schema_reads.py
`migration_unit_summary`): `member_steps` (each period's evaluations rows by the period's
unit, the officer's current unit and the step reached), `unit_officers` (officers on record
per unit), `rating_levels` (each officer-month's presses by level), and the few officers whose
active dates leave them out. collector/evaluation/summary/unit.py rolls them up per sub-unit.

Membership is the unit month's own: an officer active in the period whose period belongs to
a unit of the subtree, where it was reviewed or decided, else their current unit
(collector/evaluation/sources.py `MONTH_UNIT`, `month_members`, used here as they are).

Ratings are placed per officer (the few thousand with ratings, by index): from the month
counts folded in (`rating_levels`), the tail of ratings not folded yet, or the raw ratings
when that tail is past collector/ratings/month_counts.py TAIL_LIMIT — the same three gated
branches as `month_counts.counts`. With `scan` the officers with ratings in the months are
placed and the units outside the subtree dropped afterwards (a subtree holding much of the
tree); otherwise the subtree's candidates by index, as `unit_month` finds them.
"""

from __future__ import annotations

import json
from typing import Any, Iterable

import sqlite_utils

from collector.core.periods import period_bounds
from collector.db.schema_reads import LOCAL_MONTH, RATING_LEVELS
from collector.evaluation.sources import MONTH_UNIT, month_members
from collector.ratings import month_counts

# The step an evaluations row has reached, as collector/evaluation/month_view.py
# `month_status` reads it (no row: pending); the tests compare the two.
STATUS = ("CASE WHEN e.decided_at IS NOT NULL THEN 'decided' "
          "WHEN e.reviewed_at IS NOT NULL THEN 'reviewed' "
          "WHEN e.self_at IS NOT NULL THEN 'self' ELSE 'pending' END")
ACTIVE = ("(o.active_from IS NULL OR o.active_from <= ?) "
          "AND (o.active_to IS NULL OR o.active_to >= ?)")
# The period's row from the covering index (schema_reads.py): the unit and steps sit after
# the frozen snapshot in the table's rows, an overflow page away.
MONTH_ROW = ("LEFT JOIN evaluations e INDEXED BY evaluations_month_steps "
             "ON e.officer_id = o.id AND e.month = ?")
UNITS = "SELECT value FROM json_each(?)"
# The month counts' bookkeeping (collector/ratings/month_counts.py): ratings above `through`
# are the tail, not folded yet.
THROUGH = "(SELECT through FROM rating_months_state WHERE id = 1)"
TAIL = f"((SELECT COALESCE(MAX(rowid), 0) FROM ratings) - {THROUGH})"
GATE = "(SELECT 1 WHERE {}) AS gate CROSS JOIN "
LEVELS = list(RATING_LEVELS)  # (scale, level) in rating_levels' column order
FILTERED = "filtered"  # the excluded reason the summed filtered presses stand under


def subtree(db: sqlite_utils.Database, unit_id: str) -> list[tuple[str, str | None, str]]:
    """(id, parent_id, name) of the unit and every unit below it (none for an unknown unit);
    UNION stops a cycle in the data, as collector/org/organisation.py `unit_subtree`."""
    return [tuple(row) for row in db.execute(
        "WITH RECURSIVE below(id) AS (SELECT id FROM units WHERE id = ? UNION "
        "SELECT u.id FROM units u JOIN below b ON u.parent_id = b.id) "
        "SELECT u.id, u.parent_id, u.name FROM below b JOIN units u ON u.id = b.id",
        [unit_id]).fetchall()]


def unit_count(db: sqlite_utils.Database) -> int:
    return db.execute("SELECT count(*) FROM units").fetchone()[0]


def member_steps(db: sqlite_utils.Database, units: Iterable[str], period: str, first: str,
                 last: str) -> dict[str, dict[str, int]]:
    """unit → workflow step (pending, self, reviewed, decided) → the period's members whose
    period belongs to the unit, for the units given."""
    wanted = set(units)
    steps: dict[str, dict[str, int]] = {unit: {} for unit in wanted}
    home = dict.fromkeys(wanted, 0)  # rows of officers now in the unit, wherever placed

    def count(unit: str | None, step: str, n: int) -> None:
        if unit in wanted:
            steps[unit][step] = steps[unit].get(step, 0) + n

    for unit, officer_unit, step, n in db.execute(
            "SELECT unit_id, officer_unit_id, step, n FROM member_steps WHERE month = ?",
            [period]):
        count(unit, step, n)
        if officer_unit in wanted:
            home[officer_unit] += n
    on_record = dict.fromkeys(wanted, 0)
    on_record.update((unit, n) for unit, n in db.execute("SELECT unit_id, n FROM unit_officers")
                     if unit in wanted)
    # Officers out of the period by their active dates are in neither.
    for officer_unit, unit, step, has_row in db.execute(
            f"SELECT o.unit_id, {MONTH_UNIT}, {STATUS}, e.officer_id IS NOT NULL "
            f"FROM officers o LEFT JOIN evaluations e ON e.officer_id = o.id AND e.month = ? "
            "WHERE o.active_from > ? OR o.active_to < ?", [period, last, first]):
        if officer_unit in wanted:
            on_record[officer_unit] -= 1
            home[officer_unit] -= has_row
        if has_row:
            count(unit, step, -1)
    for unit in wanted:  # the active officers with no row of the period yet
        count(unit, "pending", on_record[unit] - home[unit])
    return {unit: {step: n for step, n in counts.items() if n}
            for unit, counts in steps.items() if any(counts.values())}


def _counts(r: str) -> str:
    """One press of `ratings` {r} in rating_levels' columns."""
    excluded = f"NULLIF({r}.excluded, '')"  # as month_counts.py groups it
    return ", ".join([f"count(CASE WHEN {excluded} IS NULL AND {r}.scale = {scale} "
                      f"AND {r}.level = {level} THEN 1 END)" for scale, level in LEVELS]
                     + [f"count({excluded})"])


def rating_kinds(db: sqlite_utils.Database, units: Iterable[str], period: str, first: str,
                 last: str, months: Iterable[str], *, scan: bool
                 ) -> dict[tuple[str, str], list[tuple]]:
    """(unit, local month) → [(scale, level, excluded | None, count)]: the presses attributed
    to the period's members of each unit, in these months, as grouping the raw ratings would
    count them (the filtered ones summed under FILTERED)."""
    wanted = set(units)
    months = sorted(set(months))
    start, end = period_bounds(months[0])[0], period_bounds(months[-1])[1]
    limit = month_counts.TAIL_LIMIT
    folded, tail, raw = (GATE.format(f"{TAIL} <= ?"), GATE.format(f"{TAIL} BETWEEN 1 AND ?"),
                         GATE.format(f"{TAIL} > ?"))
    in_months = f"month IN ({UNITS})"
    members = f"{MONTH_ROW} WHERE {ACTIVE}"
    params: list[Any] = [period, last, first]
    if scan:
        # Only the officers with ratings in the months, not the whole province, are placed.
        among = (f"rated(id) AS (SELECT officer_id FROM rating_levels WHERE {in_months} "
                 f"UNION SELECT officer_id FROM {tail}ratings WHERE ratings.rowid > {THROUGH} "
                 f"UNION SELECT officer_id FROM {raw}ratings WHERE pressed_at >= ? "
                 "AND pressed_at < ?), ")
        members = f"FROM rated r JOIN officers o ON o.id = r.id {members}"
        params = [json.dumps(months), limit, limit, start, end, *params]
    else:
        among = ""
        units_json = json.dumps(sorted(wanted))
        members = f"FROM officers o {members} AND {month_members(UNITS)}"
        params += [units_json, period, units_json, units_json]
    local = LOCAL_MONTH.format(t="r.pressed_at")
    rows = db.execute(
        f"WITH {among}placed(id, unit) AS MATERIALIZED (SELECT o.id, {MONTH_UNIT} {members}) "
        # Each placed officer's months by key, not every officer's month (CROSS JOIN keeps
        # that order).
        f"SELECT p.unit, x.month, {', '.join(f'sum({c})' for c in RATING_LEVELS.values())}, "
        f"sum(x.filtered) FROM {folded}placed p CROSS JOIN rating_levels x "
        f"ON x.{in_months} AND x.officer_id = p.id GROUP BY 1, 2 "
        # The tail by rowid only (the unary + keeps the officer and time indexes out).
        f"UNION ALL SELECT p.unit, {local}, {_counts('r')} FROM {tail}ratings r "
        f"JOIN placed p ON p.id = r.officer_id WHERE r.rowid > {THROUGH} "
        "AND +r.pressed_at >= ? AND +r.pressed_at < ? GROUP BY 1, 2 "
        f"UNION ALL SELECT p.unit, {local}, {_counts('r')} FROM {raw}placed p "
        "JOIN ratings r ON r.officer_id = p.id AND r.pressed_at >= ? AND r.pressed_at < ? "
        "GROUP BY 1, 2",
        [*params, limit, json.dumps(months), limit, start, end, limit, start, end])
    summed: dict[tuple[str, str], list[int]] = {}
    for unit, month, *counts in rows:
        if unit in wanted and month in months:
            total = summed.setdefault((unit, month), [0] * len(counts))
            for i, n in enumerate(counts):
                total[i] += n
    return {key: [(*kind, None, n) for kind, n in zip(LEVELS, counts) if n]
            + ([(0, 0, FILTERED, counts[-1])] if counts[-1] else [])
            for key, counts in summed.items()}


def open_alerts(db: sqlite_utils.Database, units: Iterable[str]) -> dict[str, int]:
    """unit → open alerts raised at its counters (an alert's unit: its counter's when it was
    raised), as collector/ratings/alert_records.py `list_alerts` counts them."""
    wanted = set(units)
    return {unit: n for unit, n in db.execute(
        "SELECT a.unit_id, count(*) FROM alerts a JOIN counters c ON c.id = a.counter_id "
        "WHERE a.acknowledged_at IS NULL GROUP BY 1") if unit in wanted}
