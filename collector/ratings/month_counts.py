"""Each officer's presses per local month, counted by kind: what months, quarters and trends
are computed from at a province's scale (issue 13).

A month of a busy counter officer is hundreds of presses but a dozen kinds (scale, level,
filter reason, citizen's reason, attribution). `rating_months` keeps those counts
(collector/db/schema_reads.py); the reads here return exactly what grouping the raw `ratings`
would, from the counts plus the tail of ratings not folded in yet:

- `fold` folds the ratings stored since the last fold (rowid above `through`) into the counts.
  The ingest calls it in the transaction that stores a batch, so the tail stays a batch long;
  any writer that inserts ratings may call it. Not calling it costs speed, never a figure.
- a rating already folded that changes or goes (a roster correction, a device's move: both
  re-attribute through collector/roster/attribution.py) moves its count by the schema's
  triggers, in the writer's transaction, whoever the writer is;
- a tail longer than TAIL_LIMIT (a writer that never folds) is not read row by row: the reads
  then group `ratings` by officer and time, as before the counts existed.

Ratings are never deleted and their rowids only grow (as alert_progress.py relies on too).
Rows: (officer, month, scale, level, excluded, reason, attribution, count) with NULL for ''.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

import sqlite_utils

from collector.core.periods import parse_period, period_bounds

TAIL_LIMIT = 200_000
_LOCAL_MONTH = "strftime('%Y-%m', pressed_at / 1000 + 25200, 'unixepoch')"
_KIND = "scale, level, NULLIF(excluded, ''), NULLIF(reason, ''), NULLIF(attribution, '')"
_STORED_KIND = ("scale, level, COALESCE(excluded, ''), COALESCE(reason, ''), "
                "COALESCE(attribution, '')")
_CHUNK = 500
_THROUGH = "(SELECT through FROM rating_months_state WHERE id = 1)"
_TAIL = f"((SELECT COALESCE(MAX(rowid), 0) FROM ratings) - {_THROUGH})"

Row = tuple  # (officer_id, month, scale, level, excluded, reason, attribution, count)


def fold(db: sqlite_utils.Database) -> int:
    """Fold the ratings stored since the last fold into the month counts, in the caller's
    transaction; returns how many ratings were folded."""
    through = db.execute("SELECT through FROM rating_months_state WHERE id = 1").fetchone()[0]
    last = db.execute("SELECT COALESCE(MAX(rowid), 0) FROM ratings").fetchone()[0]
    if last <= through:
        return 0
    db.execute(f"INSERT INTO rating_months SELECT officer_id, {_LOCAL_MONTH}, {_STORED_KIND}, "
               "count(*) FROM ratings WHERE rowid > ? AND rowid <= ? AND officer_id IS NOT NULL "
               "GROUP BY 1, 2, 3, 4, 5, 6, 7 ON CONFLICT DO UPDATE SET n = n + excluded.n",
               [through, last])
    db.execute("UPDATE rating_months_state SET through = ? WHERE id = 1", [last])
    return last - through


def _order(row: Row) -> tuple:
    # SQLite's GROUP BY order (NULL first), so the figures' dicts fill in the same order.
    return (row[0], row[1], row[2], row[3], *((v is not None, v or "") for v in row[4:7]))


def period_months(period: str) -> tuple[str, ...]:
    """The local months of an evaluation period: a month, or a quarter's three."""
    return tuple(parse_period(period).months())


def by_officer(rows: Iterable[Row], width: int) -> dict[str, list[tuple]]:
    """officer → [(kind…, count)] summed over the months of `rows` (`counts`' order) and over
    the kind's columns past `width` of scale, level, excluded, reason, attribution, in
    GROUP BY order."""
    summed: dict[str, dict[tuple, int]] = {}
    months: dict[str, str] = {}
    several = False
    for row in rows:
        kinds = summed.setdefault(row[0], {})
        several = several or months.setdefault(row[0], row[1]) != row[1]
        kind = row[2:2 + width]
        kinds[kind] = kinds.get(kind, 0) + row[7]
    # Within one month the rows come in order, and so do their first `width` columns; over
    # several (a quarter) each officer's kinds are put in order again.
    return {officer: [(*kind, n) for kind, n in (sorted(
        kinds.items(), key=lambda item: _order(("", "", *item[0], *[None] * (5 - width))))
        if several else kinds.items())] for officer, kinds in summed.items()}


def counts(db: sqlite_utils.Database, officer_ids: Iterable[str] | None,
           months: Iterable[str]) -> list[Row]:
    """The month counts of these officers (None: every officer) in these local months, as
    grouping the raw ratings would give them, in that order. One statement per 500
    officers: the counts folded in, the tail, or, past TAIL_LIMIT, the raw ratings alone
    (the branch whose condition on the tail's length fails returns nothing)."""
    months = sorted(set(months))
    wanted = set(months)
    if not months:
        return []
    ids = None if officer_ids is None else sorted(set(officer_ids))
    start, end = period_bounds(months[0])[0], period_bounds(months[-1])[1]
    out: list[Row] = []
    for chunk in _chunks(ids):
        who = "IS NOT NULL" if chunk is None else "IN (SELECT value FROM json_each(:ids))"
        # In the tail by rowid only (the unary + keeps the officer and time indexes out).
        # Each branch behind a gate of one row or none, joined first (CROSS JOIN keeps the
        # order): a branch whose gate is closed reads nothing at all.
        gate = "(SELECT 1 WHERE {}) AS gate CROSS JOIN"
        rows = db.execute(
            f"SELECT officer_id, month, {_KIND}, n FROM {gate.format(f'{_TAIL} <= :limit')} "
            f"rating_months WHERE officer_id {who} "
            "AND month IN (SELECT value FROM json_each(:months)) "
            f"UNION ALL SELECT officer_id, {_LOCAL_MONTH}, {_KIND}, count(*) "
            f"FROM {gate.format(f'{_TAIL} BETWEEN 1 AND :limit')} ratings "
            f"WHERE ratings.rowid > {_THROUGH} AND +officer_id {who} "
            "AND +pressed_at >= :start AND +pressed_at < :end GROUP BY 1, 2, 3, 4, 5, 6, 7 "
            f"UNION ALL SELECT officer_id, {_LOCAL_MONTH}, {_KIND}, count(*) "
            f"FROM {gate.format(f'{_TAIL} > :limit')} ratings "
            f"WHERE officer_id {who} AND pressed_at >= :start AND pressed_at < :end "
            "GROUP BY 1, 2, 3, 4, 5, 6, 7 ORDER BY 1, 2, 3, 4, 5, 6, 7",
            {"ids": json.dumps(chunk), "months": json.dumps(months), "limit": TAIL_LIMIT,
             "start": start, "end": end})
        # Sorted as GROUP BY sorts (NULL first): a key folded and in the tail is counted
        # once, adding its two consecutive rows.
        for row in rows:
            if row[1] not in wanted:
                continue
            if out and out[-1][:7] == row[:7]:
                out[-1] = (*row[:7], out[-1][7] + row[7])
            else:
                out.append(tuple(row))
    return [row for row in out if row[7]]


def _chunks(ids: list[str] | None) -> Iterator[list[str] | None]:
    if ids is None:
        yield None
        return
    for first in range(0, len(ids), _CHUNK):
        yield ids[first:first + _CHUNK]
