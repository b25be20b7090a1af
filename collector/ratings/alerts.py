"""Counter alerts: a burst of negative ratings at one counter, raised once, handled by a leader.

The rule (alert_rule.AlertRule, re-exported here) is the policy's `[alerts]` table, which
collector/evaluation/policy.py reads: a window of `window_minutes` by press time, at least
`min_ratings` counted ratings in it, and a negative share of at least `negative_share`,
"negative" being the answers `negative_answers` names (satisfaction.py: level 1 of a 3- or
4-level device, levels 1–2 of a 5-level one; "Bình thường" is not negative).

- `detect` is pure: one window of a counter's presses and the counter's alert that reaches into
  it → raise, extend or nothing. A window is (newest − window, newest]: two presses exactly
  `window_minutes` apart are not in the same window. Excluded presses never count.
- One alert per burst. While the counter's unacknowledged alert has its last press inside the
  window, a negative press that keeps the window over the threshold extends it (last_at and
  counts) instead of raising another. Presses an alert already covers never count towards a
  new one, so acknowledging does not re-raise on the same evidence: a new alert needs
  `min_ratings` presses after the old one's last.
- `check_after_batch` runs after each committed ingest batch, on a thread of the ingest's own
  (its alert detector), so a slow check never holds the writer. It evaluates the window ending
  at each newly stored counted press, in press-time order, so a device coming back with a
  backlog is judged on when citizens pressed, not when the presses arrived. Such an alert is
  raised now about presses long past: the API marks it `late` when `raised_at − last_at`
  exceeds the rule's `late_after_minutes` (a live press reaches the collector within seconds).
- Handling them (acknowledge, notes) and reading them: collector/ratings/alert_records.py, whose
  names this module re-exports.

The counter of a press is where its device stood when pressed (device_placements), as for
attribution. The alert's `rule` column keeps the rule that raised it, so a later policy change
does not rewrite what an old alert meant; its `unit_id` keeps the unit the counter belonged to
when the burst began (counter_units), so moving a counter to another unit later does not hand
the alert, its notes and its presses to the new unit: who may see and handle it follows that.

The alert names the officer most of its negative presses were attributed to. A roster
correction that re-attributes those presses calls `refresh_officers`, which names the officer
again from the presses as they now stand (collector/roster/shifts.py, in the same transaction).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from itertools import accumulate
from typing import Iterable

import sqlite_utils

from collector.ratings.alert_records import (
    MAX_NOTE,
    MAX_PRESSES,
    STATES,
    AlertConflict,
    AlertError,
    AlertNotFound,
    AlertService,
    alert_view,
    list_alerts,
    rule_of,
)
from collector.protocol.messages import Rating
from collector.ratings.alert_rule import DEFAULT_ALERT_RULE, AlertRule  # noqa: F401
from collector.ratings.satisfaction import answer_of
from collector.db.store import write_transaction
from collector.org.unit_history import counter_unit_at

log = logging.getLogger("hailong.alerts")

KIND = "negative_share"  # the other kind, a device offline in a shift: offline_alerts.py
_ID_CHUNK = 500  # below SQLite's smallest limit on bound parameters (999)


# --- detection (pure) ----------------------------------------------------------------------

@dataclass(frozen=True)
class Press:
    id: str
    pressed_at: int
    scale: int
    level: int
    excluded: str | None = None
    officer_id: str | None = None


@dataclass(frozen=True)
class AlertState:
    """What detection needs of an alert already stored."""
    id: int | None
    first_at: int
    last_at: int
    ratings: int
    negative: int
    acknowledged: bool = False


@dataclass(frozen=True)
class Decision:
    action: str  # "raise", "extend" or "none"
    first_at: int | None = None
    last_at: int | None = None
    ratings: int = 0  # counted ratings the alert covers, after this decision
    negative: int = 0
    officer_id: str | None = None  # "raise" only: who got most of the negative presses


NOTHING = Decision("none")


def window_ms(rule: AlertRule) -> int:
    return rule.window_minutes * 60_000


def is_negative(press: Press, rule: AlertRule) -> bool:
    return answer_of(press.scale, press.level) in rule.negative_answers


def crosses(counted: int, negative: int, rule: AlertRule) -> bool:
    """At least min_ratings, and negative / counted >= negative_share, compared exactly: in
    floating point 0.28 × 25 is above 7, and 7 negative of 25 would not reach 28 %."""
    share = _exact(rule.negative_share)
    return counted >= rule.min_ratings and \
        negative * share.denominator >= share.numerator * counted


@lru_cache(maxsize=16)
def _exact(share: float) -> Fraction:
    # Once per rule, not once per window: the ingest checks a window per stored press.
    return Fraction(str(share))


def detect(presses: Iterable[Press], rule: AlertRule,
           latest: AlertState | None = None) -> Decision:
    """Decide for the window ending at the newest counted press.

    `presses`: the counter's presses of that window (older ones are ignored, excluded ones
    never count); `latest`: the counter's alert reaching into the window (its last press after
    the window's start and its first not after the end), the one ending last, or None.
    """
    counted = sorted((p for p in presses if not p.excluded), key=lambda p: (p.pressed_at, p.id))
    if not counted:
        return NOTHING
    end = counted[-1].pressed_at
    start = end - window_ms(rule)
    window = [p for p in counted if p.pressed_at > start]
    if latest is not None and (latest.last_at <= start or latest.first_at > end):
        latest = None
    if latest is not None and not latest.acknowledged:
        return _extend(window, rule, latest)
    fresh = window if latest is None else [p for p in window if p.pressed_at > latest.last_at]
    negatives = [p for p in fresh if is_negative(p, rule)]
    if not crosses(len(fresh), len(negatives), rule):
        return NOTHING
    return Decision("raise", fresh[0].pressed_at, end, len(fresh), len(negatives),
                    _officer(negatives))


def _extend(window: list[Press], rule: AlertRule, alert: AlertState) -> Decision:
    newest = window[-1]
    if newest.pressed_at <= alert.last_at or not is_negative(newest, rule):
        return NOTHING
    if not crosses(len(window), sum(is_negative(p, rule) for p in window), rule):
        return NOTHING  # a stray negative press after the burst has calmed down
    added = [p for p in window if p.pressed_at > alert.last_at]
    return Decision("extend", alert.first_at, newest.pressed_at, alert.ratings + len(added),
                    alert.negative + sum(is_negative(p, rule) for p in added))


def _officer(negatives: list[Press]) -> str | None:
    """The officer most of the negative presses were attributed to; on a tie the later one
    (a burst across a change of shift belongs to whoever is at the counter now)."""
    counts = Counter(p.officer_id for p in negatives)
    most = max(counts.values())
    return next(p.officer_id for p in reversed(negatives) if counts[p.officer_id] == most)


# --- after each ingest batch ---------------------------------------------------------------

def rating_ids(batch: Iterable[object]) -> list[str]:
    """Rating ids of a batch: items whose `parsed` is a Rating (the ingest's `Incoming`,
    collector/ingest/recording.py, which sits above this module), or ids as text."""
    ids = []
    for item in batch:
        if isinstance(item, str):
            ids.append(item)
        elif isinstance(getattr(item, "parsed", None), Rating):
            ids.append(item.parsed.id)
    return list(dict.fromkeys(ids))


def check_after_batch(db: sqlite_utils.Database, batch: Iterable[object],
                      rule: AlertRule, now: int) -> list[int]:
    """Raise or extend the alerts a committed batch calls for; return their ids.

    `batch`: what the ingest just committed (its `Incoming` items; statuses, rejections and
    unknown ids are skipped, redelivered duplicates change nothing) or rating ids. One
    transaction. Never raises `sqlite3.Error`: the batch is committed and must still be
    acknowledged, so a failed check is logged and those windows go unchecked.
    """
    ids = rating_ids(batch)
    if not ids:
        return []
    try:
        with write_transaction(db):
            return _check(db, ids, rule, now)
    except sqlite3.Error as error:
        log.error("cannot check %d rating(s) for alerts: %s", len(ids), error)
        return []


def _check(db: sqlite_utils.Database, ids: list[str], rule: AlertRule, now: int) -> list[int]:
    span = window_ms(rule)
    ends: dict[str, set[int]] = {}
    for start in range(0, len(ids), _ID_CHUNK):
        chunk = ids[start:start + _ID_CHUNK]
        for counter_id, pressed_at in db.execute(
                "SELECT p.counter_id, r.pressed_at FROM ratings r JOIN device_placements p "
                "ON p.device_id = r.device_id AND p.starts_at <= r.pressed_at "
                "AND (p.ends_at IS NULL OR p.ends_at > r.pressed_at) "
                f"WHERE r.excluded IS NULL AND r.id IN ({', '.join('?' * len(chunk))})", chunk):
            ends.setdefault(counter_id, set()).add(pressed_at)
    touched: list[int] = []
    rule_text = json.dumps(rule.as_dict(), sort_keys=True)
    for counter_id in sorted(ends):
        times = sorted(ends[counter_id])
        presses = _counter_presses(db, counter_id, times[0] - span, times[-1])
        at = [p.pressed_at for p in presses]
        known = _counter_alerts(db, counter_id, times[0] - span, times[-1])
        negative_before = list(accumulate((is_negative(p, rule) for p in presses), initial=0))
        for end in times:
            first, last = bisect_right(at, end - span), bisect_right(at, end)
            latest = _reaching(known, end - span, end)
            # With no alert reaching into it every press of the window is fresh, and a window
            # whose counts do not cross the threshold decides nothing: counted here in O(1)
            # instead of `detect` walking it (a window per stored press: issue 13, P1).
            if latest is None and not crosses(last - first, negative_before[last]
                                              - negative_before[first], rule):
                continue
            decision = detect(presses[first:last], rule, latest)
            if decision.action == "raise":
                alert_id = db.execute(
                    "INSERT INTO alerts (counter_id, unit_id, officer_id, kind, first_at, "
                    "last_at, ratings, negative, rule, raised_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [counter_id, counter_unit_at(db, counter_id, decision.first_at),
                     decision.officer_id, KIND, decision.first_at, decision.last_at,
                     decision.ratings, decision.negative, rule_text, now]).lastrowid
                known.append(AlertState(alert_id, decision.first_at, decision.last_at,
                                         decision.ratings, decision.negative))
            elif decision.action == "extend":
                alert_id = latest.id
                db.execute("UPDATE alerts SET last_at = ?, ratings = ?, negative = ? "
                           "WHERE id = ?", [decision.last_at, decision.ratings,
                                            decision.negative, alert_id])
                known[known.index(latest)] = AlertState(
                    alert_id, latest.first_at, decision.last_at, decision.ratings,
                    decision.negative)
            else:
                continue
            if alert_id not in touched:
                touched.append(alert_id)
    return touched


def _counter_presses(db: sqlite_utils.Database, counter_id: str, after: int,
                     until: int) -> list[Press]:
    """The counter's counted presses with after < pressed_at <= until, oldest first."""
    rows = db.execute(
        "SELECT r.id, r.pressed_at, r.scale, r.level, r.excluded, r.officer_id "
        "FROM device_placements p JOIN ratings r ON r.device_id = p.device_id "
        "AND r.pressed_at >= p.starts_at AND (p.ends_at IS NULL OR r.pressed_at < p.ends_at) "
        "WHERE p.counter_id = ? AND r.pressed_at > ? AND r.pressed_at <= ? "
        "AND r.excluded IS NULL ORDER BY r.pressed_at, r.id", [counter_id, after, until])
    return [Press(*row) for row in rows]


def _counter_alerts(db: sqlite_utils.Database, counter_id: str, after: int,
                    until: int) -> list[AlertState]:
    rows = db.execute(
        "SELECT id, first_at, last_at, ratings, negative, acknowledged_at IS NOT NULL "
        "FROM alerts WHERE counter_id = ? AND kind = ? AND last_at > ? AND first_at <= ?",
        [counter_id, KIND, after, until])
    return [AlertState(*row[:5], bool(row[5])) for row in rows]


def _reaching(known: list[AlertState], start: int, end: int) -> AlertState | None:
    reaching = [a for a in known if a.last_at > start and a.first_at <= end]
    return max(reaching, key=lambda a: (a.last_at, a.id)) if reaching else None


# --- after a roster correction ---------------------------------------------------------------

def refresh_officers(db: sqlite_utils.Database,
                     windows: Iterable[tuple[str, int, int | None]]) -> dict[str, str]:
    """Name again the officer of every alert at a window's counter whose presses overlap the
    window [start, end) (end None: open): the one most of its negative presses are
    attributed to now. The caller holds the write transaction (a roster change). Returns the
    changes, alert id → "from→to" ("—" for nobody)."""
    changed: dict[str, str] = {}
    for counter_id, start, end in windows:
        rows = db.execute(
            "SELECT id, officer_id, first_at, last_at, rule FROM alerts WHERE counter_id = ? "
            "AND kind = ? AND last_at >= ? AND (? IS NULL OR first_at < ?) ORDER BY id",
            [counter_id, KIND, start, end, end]).fetchall()
        for alert_id, officer, first_at, last_at, rule_text in rows:
            rule = rule_of(rule_text)
            negatives = [p for p in _counter_presses(db, counter_id, first_at - 1, last_at)
                         if is_negative(p, rule)]
            now = _officer(negatives) if negatives else None
            if now != officer:
                db.execute("UPDATE alerts SET officer_id = ? WHERE id = ?", [now, alert_id])
                changed[str(alert_id)] = f"{officer or '—'}→{now or '—'}"
    return changed
