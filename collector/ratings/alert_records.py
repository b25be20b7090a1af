"""Counter alerts as leaders handle them: acknowledge once, add notes, list, read one.

Split from collector/ratings/alerts.py (which detects and raises them) along the seam between
raising an alert and handling it; alerts.py re-exports these names (`alerts.AlertService`,
`alerts.list_alerts`, `alerts.alert_view` …).

- `AlertService` acknowledges an alert (once: a second time is `AlertConflict`) and adds notes,
  each with its audit entry in the same transaction. Errors carry Vietnamese and English text.
- Reads: an alert's unit is the one its counter belonged to when the burst began (the
  `unit_id` column), so a viewer's scope and a unit filter follow that, not where the counter
  is today. One alert lists its counter's presses from its first to its last.
"""

from __future__ import annotations

import json
from typing import Any, Callable

import sqlite_utils

from collector.db import audit
from collector.core.errors import BilingualError
from collector.org.organisation import unit_subtree
from collector.ratings import offline_alerts
from collector.ratings.alert_rule import DEFAULT_ALERT_RULE, AlertRule
from collector.ratings.satisfaction import ANSWER_LABELS, answer_of
from collector.db.store import now_ms, write_transaction
from collector.core.texts import checked_text

MAX_NOTE = 1000
MAX_PRESSES = 500  # presses listed with one alert; a burst an hour long has fewer
STATES = ("open", "acknowledged", "all")
# A burst of negative ratings (alerts.py), or a device offline during a roster shift
# (offline_alerts.py, issue 12).
KINDS = ("negative_share", offline_alerts.KIND)


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
    "a.shift_id, a.offline_minutes, "
    # An offline alert's shift cancelled in the roster since (offline_alerts.py); NULL else.
    "(SELECT s.replaced_at IS NOT NULL AND s.replaced_by IS NULL FROM roster_shifts s "
    "WHERE s.id = a.shift_id) AS shift_cancelled, "
    "(SELECT COUNT(*) FROM alert_notes n WHERE n.alert_id = a.id) AS notes_count "
    "FROM alerts a JOIN counters c ON c.id = a.counter_id "
    "LEFT JOIN units u ON u.id = a.unit_id "
    "LEFT JOIN officers o ON o.id = a.officer_id")


def rule_of(text: str) -> AlertRule:
    stored = json.loads(text)
    fields = {**DEFAULT_ALERT_RULE.as_dict(), **stored}
    fields["negative_answers"] = tuple(fields["negative_answers"])
    return AlertRule(**fields)


def _item(row: dict[str, Any]) -> dict[str, Any]:
    if row["kind"] == offline_alerts.KIND:
        return offline_alerts.item(row)
    rule = rule_of(row.pop("rule"))
    delay = row["raised_at"] - row["last_at"]
    return {**row, "rule": rule.as_dict(),
            "state": "open" if row["acknowledged_at"] is None else "acknowledged",
            "negative_share": round(row["negative"] / row["ratings"], 4),
            "delay_ms": delay, "late": delay > rule.late_after_minutes * 60_000,
            "message": None}


def list_alerts(db: sqlite_utils.Database, *, unit_id: str | None = None,
                state: str = "open", since: int | None = None, until: int | None = None,
                limit: int = 50, offset: int = 0,
                within: frozenset[str] | None = None,
                kind: str | None = None) -> dict[str, Any]:
    """One page of alerts, latest burst first: of `unit_id` and the units below it, in
    `state`, whose presses overlap [since, until) (unix ms), of `kind` (KINDS; None: both);
    `within` (a viewer's scope) limits them to those units. An alert's unit is its
    counter's when the burst (or the shift) began."""
    if state not in STATES:
        raise AlertError(f"state: phải là một trong {', '.join(STATES)}",
                         f"state: must be one of {', '.join(STATES)}")
    if kind is not None and kind not in KINDS:
        raise AlertError(f"kind: phải là một trong {', '.join(KINDS)}",
                         f"kind: must be one of {', '.join(KINDS)}")
    where, params = [], []
    if kind is not None:
        where.append("a.kind = ?")
        params.append(kind)
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
    rule = (DEFAULT_ALERT_RULE if alert["kind"] == offline_alerts.KIND
            else rule_of(json.dumps(alert["rule"])))
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
