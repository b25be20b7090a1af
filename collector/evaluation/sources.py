"""The rows a month (and a year) is computed from: officers, units, presses, shifts, spans.

Bulk reads behind collector/evaluation/month.py, year.py and team.py: one query per kind of
evidence for a whole set of officers, so a unit's month costs a handful of queries rather than
a handful per officer. Id sets go in chunks (SQLite caps a statement's parameters). Reads only.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import sqlite_utils

from collector.org.directory import officer_order
from collector.core.timeline import month_bounds

_EVIDENCE_CHUNK = 500


def _evidence_chunks(ids: Iterable[str]) -> Iterator[tuple[list[str], str]]:
    """(chunk, "?, ?, …") pairs over the sorted distinct ids."""
    ordered = sorted(set(ids))
    for i in range(0, len(ordered), _EVIDENCE_CHUNK):
        chunk = ordered[i:i + _EVIDENCE_CHUNK]
        yield chunk, ", ".join("?" * len(chunk))


def evidence_officer(db: sqlite_utils.Database, officer_id: str) -> dict[str, Any] | None:
    """An officer with their unit, direct leader and active dates."""
    rows = evidence_officers_by_id(db, [officer_id])
    return rows.get(officer_id)


_EVIDENCE_OFFICER_SELECT = (
    "SELECT o.id, o.name, o.title, o.unit_id, u.name AS unit_name, o.leader_id, "
    "l.name AS leader_name, o.active_from, o.active_to FROM officers o "
    "LEFT JOIN units u ON u.id = o.unit_id LEFT JOIN officers l ON l.id = o.leader_id ")


def evidence_officers_by_id(db: sqlite_utils.Database,
                            officer_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    out = {}
    for chunk, marks in _evidence_chunks(officer_ids):
        for row in db.query(_EVIDENCE_OFFICER_SELECT + f"WHERE o.id IN ({marks})", chunk):
            out[row["id"]] = row
    return out


def evidence_officers(db: sqlite_utils.Database, unit_ids: Iterable[str], first_day: str,
                      last_day: str) -> list[dict[str, Any]]:
    """Officers of these units active at some time between two local ISO dates (inclusive;
    NULL active dates are open), by unit name then officer in Vietnamese order."""
    rows: list[dict[str, Any]] = []
    for chunk, marks in _evidence_chunks(unit_ids):
        rows.extend(db.query(
            _EVIDENCE_OFFICER_SELECT + f"WHERE o.unit_id IN ({marks}) "
            "AND (o.active_from IS NULL OR o.active_from <= ?) "
            "AND (o.active_to IS NULL OR o.active_to >= ?)", [*chunk, last_day, first_day]))
    return sorted(rows, key=officer_order)


def evidence_unit(db: sqlite_utils.Database, unit_id: str) -> dict[str, Any] | None:
    """A unit with its kind, head (id and name) and whether it is recognised outstanding."""
    rows = list(db.query(
        "SELECT u.id, u.name, u.parent_id, u.kind, u.head_id, h.name AS head_name, "
        "u.outstanding FROM units u LEFT JOIN officers h ON h.id = u.head_id WHERE u.id = ?",
        [unit_id]))
    return rows[0] if rows else None


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
    """Presses attributed to each officer in the local month, filtered ones included, counted
    by kind: officer → [(scale, level, excluded, reason, attribution, count)]. Grouping in
    SQL keeps a busy month to a few dozen rows per officer instead of one per press."""
    start, end = month_bounds(month)
    out: dict[str, list[tuple]] = {}
    for chunk, marks in _evidence_chunks(officer_ids):
        for row in db.execute(
                "SELECT officer_id, scale, level, excluded, reason, attribution, count(*) "
                f"FROM ratings WHERE officer_id IN ({marks}) AND pressed_at >= ? "
                "AND pressed_at < ? GROUP BY officer_id, scale, level, excluded, reason, "
                "attribution", [*chunk, start, end]):
            out.setdefault(row[0], []).append(tuple(row[1:]))
    return out


def evidence_shifts(db: sqlite_utils.Database, officer_ids: Iterable[str],
                    month: str) -> dict[str, list[tuple[str, int, int | None]]]:
    """Each officer's current roster shifts (corrections applied) overlapping the month:
    officer → [(counter, starts_at, ends_at | None)], in time order."""
    start, end = month_bounds(month)
    out: dict[str, list[tuple[str, int, int | None]]] = {}
    for chunk, marks in _evidence_chunks(officer_ids):
        for officer_id, counter, starts_at, ends_at in db.execute(
                "SELECT officer_id, counter_id, starts_at, ends_at FROM roster_shifts "
                f"WHERE officer_id IN ({marks}) AND replaced_at IS NULL "
                "AND starts_at < ? AND (ends_at IS NULL OR ends_at > ?) "
                "ORDER BY starts_at, id", [*chunk, end, start]):
            out.setdefault(officer_id, []).append((counter, starts_at, ends_at))
    return out


def evidence_online_spans(db: sqlite_utils.Database, counter_ids: Iterable[str], month: str,
                          max_silence_ms: int) -> list[dict[str, Any]]:
    """Online spans of the devices placed at these counters that may overlap both the
    placement and the month: one row per (placement, span) pair, with both.

    An open span (ended_at NULL) can last at most until last_seen_at + max_silence_ms; whether
    it is still open "now" is for the caller, who knows the clock.
    """
    start, end = month_bounds(month)
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


_EVIDENCE_EVALUATION_SELECT = (
    "SELECT e.*, r.name AS reviewed_by_name, d.name AS decided_by_name FROM evaluations e "
    "LEFT JOIN officers r ON r.id = e.reviewed_by LEFT JOIN officers d ON d.id = e.decided_by ")


def evidence_evaluations(db: sqlite_utils.Database, officer_ids: Iterable[str],
                         month: str) -> dict[str, dict[str, Any]]:
    """The workflow row of each officer for the month (JSON columns left as text)."""
    out = {}
    for chunk, marks in _evidence_chunks(officer_ids):
        for row in db.query(_EVIDENCE_EVALUATION_SELECT +
                            f"WHERE e.officer_id IN ({marks}) AND e.month = ?", [*chunk, month]):
            out[row["officer_id"]] = row
    return out


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
                f"WHERE e.officer_id IN ({marks}) AND e.month >= ? AND e.month <= ? "
                "ORDER BY e.month", [*chunk, f"{year:04d}-01", f"{year:04d}-12"]):
            out.setdefault(row["officer_id"], []).append(row)
    return out
