"""Counter alerts: a burst of negative ratings at one counter, raised once, handled by a leader.

The rule is the policy's `[alerts]` table (policy.AlertRule): a window of `window_minutes` by
press time, at least `min_ratings` counted ratings in it, and a negative share of at least
`negative_share`, "negative" being the answers `negative_answers` names (satisfaction.py: level
1 of a 3- or 4-level device, levels 1–2 of a 5-level one; "Bình thường" is not negative).

- `detect` is pure: one window of a counter's presses and the counter's alert that reaches into
  it → raise, extend or nothing. A window is (newest − window, newest]: two presses exactly
  `window_minutes` apart are not in the same window. Excluded presses never count.
- One alert per burst. While the counter's unacknowledged alert has its last press inside the
  window, a negative press that keeps the window over the threshold extends it (last_at and
  counts) instead of raising another. Presses an alert already covers never count towards a
  new one, so acknowledging does not re-raise on the same evidence: a new alert needs
  `min_ratings` presses after the old one's last.
- `check_after_batch` runs after each committed ingest batch. It evaluates the window ending at
  each newly stored counted press, in press-time order, so a device coming back with a backlog
  is judged on when citizens pressed, not when the presses arrived. Such an alert is raised
  now about presses long past: the API marks it `late` when `raised_at − last_at` exceeds the
  rule's `late_after_minutes` (a live press reaches the collector within seconds).
- `AlertService` acknowledges an alert (once: a second time is `AlertConflict`) and adds notes,
  each with its audit entry in the same transaction. Errors carry Vietnamese and English text.

The counter of a press is where its device stood when pressed (device_placements), as for
attribution. The alert's `rule` column keeps the rule that raised it, so a later policy change
does not rewrite what an old alert meant; its `unit_id` keeps the unit the counter belonged to
when the burst began (counter_units), so moving a counter to another unit later does not hand
the alert, its notes and its presses to the new unit: who may see and handle it follows that.

The alert names the officer most of its negative presses were attributed to. A roster
correction that re-attributes those presses calls `refresh_officers`, which names the officer
again from the presses as they now stand (collector/roster.py, in the same transaction).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable, Iterable

import sqlite_utils

from . import audit, queries
from .errors import BilingualError
from .messages import Rating
from .organisation import unit_subtree
from .policy import DEFAULT_ALERT_RULE, AlertRule
from .satisfaction import ANSWER_LABELS, answer_of
from .store import Incoming, now_ms, write_transaction
from .texts import checked_text

log = logging.getLogger("hailong.alerts")

KIND = "negative_share"  # the only kind so far; the column leaves room for others
MAX_NOTE = 1000
MAX_PRESSES = 500  # presses listed with one alert; a burst an hour long has fewer
STATES = ("open", "acknowledged", "all")
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
    share = Fraction(str(rule.negative_share))
    return counted >= rule.min_ratings and negative >= share * counted


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

def rating_ids(batch: Iterable[Incoming | str]) -> list[str]:
    """Rating ids of a batch: `Incoming` items carrying a parsed Rating, or ids as text."""
    ids = []
    for item in batch:
        if isinstance(item, str):
            ids.append(item)
        elif isinstance(item, Incoming) and isinstance(item.parsed, Rating):
            ids.append(item.parsed.id)
    return list(dict.fromkeys(ids))


def check_after_batch(db: sqlite_utils.Database, batch: Iterable[Incoming | str],
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
        for end in times:
            window = presses[bisect_right(at, end - span):bisect_right(at, end)]
            latest = _reaching(known, end - span, end)
            decision = detect(window, rule, latest)
            if decision.action == "raise":
                alert_id = db.execute(
                    "INSERT INTO alerts (counter_id, unit_id, officer_id, kind, first_at, "
                    "last_at, ratings, negative, rule, raised_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [counter_id, queries.counter_unit_at(db, counter_id, decision.first_at),
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
            "AND last_at >= ? AND (? IS NULL OR first_at < ?) ORDER BY id",
            [counter_id, start, end, end]).fetchall()
        for alert_id, officer, first_at, last_at, rule_text in rows:
            rule = _rule_of(rule_text)
            negatives = [p for p in _counter_presses(db, counter_id, first_at - 1, last_at)
                         if is_negative(p, rule)]
            now = _officer(negatives) if negatives else None
            if now != officer:
                db.execute("UPDATE alerts SET officer_id = ? WHERE id = ?", [now, alert_id])
                changed[str(alert_id)] = f"{officer or '—'}→{now or '—'}"
    return changed


# --- service: acknowledge and notes --------------------------------------------------------

class AlertError(BilingualError):
    """An alert request that cannot be done; `vi` and `en` say why."""


class AlertNotFound(AlertError):
    """No alert (or unit, in a filter) with that id."""


class AlertConflict(AlertError):
    """The alert is already acknowledged."""


def _text(value: Any, field: str) -> str:
    return checked_text(value, field, MAX_NOTE, AlertError)


def _not_found(alert_id: Any) -> AlertNotFound:
    return AlertNotFound(f"Không có cảnh báo số {alert_id}", f"No alert with id {alert_id}")


class AlertService:
    """Writes of a leader on alerts; `db` is a writable connection, `clock` gives unix ms."""

    def __init__(self, db: sqlite_utils.Database, *, clock: Callable[[], int] = now_ms):
        self.db = db
        self.clock = clock

    def acknowledge(self, alert_id: int, actor: str,
                    comment: str | None = None) -> dict[str, Any]:
        """Mark the alert as seen and handled by `actor`, with an optional comment (a note)."""
        actor = _text(actor, "actor")
        if isinstance(comment, str) and not comment.strip():
            comment = None  # an empty comment box is no comment
        if comment is not None:
            comment = _text(comment, "comment")
        at = self.clock()
        with write_transaction(self.db):
            row = self.db.execute("SELECT acknowledged_by, acknowledged_at FROM alerts "
                                  "WHERE id = ?", [alert_id]).fetchone()
            if row is None:
                raise _not_found(alert_id)
            if row[1] is not None:
                raise AlertConflict(f"Cảnh báo số {alert_id} đã được {row[0]} xác nhận",
                                    f"Alert {alert_id} was already acknowledged by {row[0]}")
            self.db.execute("UPDATE alerts SET acknowledged_by = ?, acknowledged_at = ? "
                            "WHERE id = ?", [actor, at, alert_id])
            note_id = self._insert_note(alert_id, actor, at, comment) if comment else None
            audit.append(self.db, actor=actor, action="alert.acknowledge",
                         subject=f"alert:{alert_id}",
                         before={"acknowledged_by": None, "acknowledged_at": None},
                         after={"acknowledged_by": actor, "acknowledged_at": at,
                                "comment": comment, "note_id": note_id}, at=at)
        return alert_view(self.db, alert_id)

    def add_note(self, alert_id: int, actor: str, text: str) -> dict[str, Any]:
        """Add a note (what was found, what was done); open or acknowledged alike."""
        actor, text = _text(actor, "actor"), _text(text, "text")
        at = self.clock()
        with write_transaction(self.db):
            if not self.db.execute("SELECT 1 FROM alerts WHERE id = ?", [alert_id]).fetchone():
                raise _not_found(alert_id)
            note_id = self._insert_note(alert_id, actor, at, text)
            audit.append(self.db, actor=actor, action="alert.note",
                         subject=f"alert:{alert_id}", before=None,
                         after={"note_id": note_id, "text": text}, at=at)
        return {"id": note_id, "alert_id": alert_id, "actor": actor, "at": at, "text": text}

    def _insert_note(self, alert_id: int, actor: str, at: int, text: str) -> int:
        return self.db.execute("INSERT INTO alert_notes (alert_id, actor, at, text) "
                               "VALUES (?, ?, ?, ?)", [alert_id, actor, at, text]).lastrowid


# --- reads ---------------------------------------------------------------------------------

_SELECT = (
    "SELECT a.id, a.counter_id, c.label AS counter_label, a.unit_id, u.name AS unit_name, "
    "a.officer_id, o.name AS officer_name, a.kind, a.first_at, a.last_at, a.ratings, "
    "a.negative, a.rule, a.raised_at, a.acknowledged_by, a.acknowledged_at, "
    "(SELECT COUNT(*) FROM alert_notes n WHERE n.alert_id = a.id) AS notes_count "
    "FROM alerts a JOIN counters c ON c.id = a.counter_id "
    "LEFT JOIN units u ON u.id = a.unit_id "
    "LEFT JOIN officers o ON o.id = a.officer_id")


def _rule_of(text: str) -> AlertRule:
    stored = json.loads(text)
    fields = {**DEFAULT_ALERT_RULE.as_dict(), **stored}
    fields["negative_answers"] = tuple(fields["negative_answers"])
    return AlertRule(**fields)


def _item(row: dict[str, Any]) -> dict[str, Any]:
    rule = _rule_of(row.pop("rule"))
    delay = row["raised_at"] - row["last_at"]
    return {**row, "rule": rule.as_dict(),
            "state": "open" if row["acknowledged_at"] is None else "acknowledged",
            "negative_share": round(row["negative"] / row["ratings"], 4),
            "delay_ms": delay, "late": delay > rule.late_after_minutes * 60_000}


def list_alerts(db: sqlite_utils.Database, *, unit_id: str | None = None,
                state: str = "open", since: int | None = None, until: int | None = None,
                limit: int = 50, offset: int = 0,
                within: frozenset[str] | None = None) -> dict[str, Any]:
    """One page of alerts, latest burst first: of `unit_id` and the units below it, in
    `state`, whose presses overlap [since, until) (unix ms); `within` (a viewer's scope)
    limits them to those units. An alert's unit is its counter's when the burst began."""
    if state not in STATES:
        raise AlertError(f"state: phải là một trong {', '.join(STATES)}",
                         f"state: must be one of {', '.join(STATES)}")
    where, params = [], []
    if unit_id is not None:
        units = unit_subtree(db, unit_id)
        if not units:
            raise AlertNotFound(f"Không có đơn vị {unit_id}", f"No unit with id {unit_id}")
        where.append(f"a.unit_id IN ({', '.join('?' * len(units))})")
        params += sorted(units)
    if within is not None:
        where.append(f"a.unit_id IN ({', '.join('?' * len(within)) or 'NULL'})")
        params += sorted(within)
    if state != "all":
        where.append(f"a.acknowledged_at IS {'' if state == 'open' else 'NOT '}NULL")
    if since is not None:
        where.append("a.last_at >= ?")
        params.append(since)
    if until is not None:
        where.append("a.first_at < ?")
        params.append(until)
    sql = _SELECT + (" WHERE " + " AND ".join(where) if where else "")
    total = db.execute(f"SELECT COUNT(*) FROM ({sql})", params).fetchone()[0]
    rows = db.query(sql + " ORDER BY a.last_at DESC, a.id DESC LIMIT ? OFFSET ?",
                    params + [limit, offset])
    return {"items": [_item(row) for row in rows], "total": total, "limit": limit,
            "offset": offset}


def alert_view(db: sqlite_utils.Database, alert_id: int) -> dict[str, Any]:
    """One alert with its notes and the counter's presses from its first to its last,
    excluded ones included (marked, with their reason), at most MAX_PRESSES."""
    rows = list(db.query(_SELECT + " WHERE a.id = ?", [alert_id]))
    if not rows:
        raise _not_found(alert_id)
    alert = _item(rows[0])
    rule = _rule_of(json.dumps(alert["rule"]))
    alert["notes"] = list(db.query("SELECT id, actor, at, text FROM alert_notes "
                                   "WHERE alert_id = ? ORDER BY id", [alert_id]))
    span = ("FROM device_placements p JOIN ratings r ON r.device_id = p.device_id "
            "AND r.pressed_at >= p.starts_at AND (p.ends_at IS NULL OR r.pressed_at < p.ends_at) "
            "WHERE p.counter_id = ? AND r.pressed_at >= ? AND r.pressed_at <= ?")
    params = [alert["counter_id"], alert["first_at"], alert["last_at"]]
    alert["presses_total"] = db.execute(f"SELECT COUNT(*) {span}", params).fetchone()[0]
    alert["presses"] = [_press(row, rule) for row in db.query(
        "SELECT r.id, r.device_id, r.pressed_at, r.received_at, r.scale, r.level, r.excluded, "
        f"r.reason, r.officer_id {span} ORDER BY r.pressed_at, r.id LIMIT ?",
        params + [MAX_PRESSES])]
    return alert


def _press(row: dict[str, Any], rule: AlertRule) -> dict[str, Any]:
    answer = answer_of(row["scale"], row["level"])
    vi, en = ANSWER_LABELS[answer]
    return {**row, "answer": answer, "answer_vi": vi, "answer_en": en,
            "counted": row["excluded"] is None,
            "negative": row["excluded"] is None and answer in rule.negative_answers}
