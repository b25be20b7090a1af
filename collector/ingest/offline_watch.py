"""The shift watch: roster shifts judged for the time their counter's device was offline.

Issue 12, item 3: an officer rated poorly must not gain by unplugging the counter's device, so
the unit's leaders are told while it happens, with a counter alert of kind 'device_offline'
(collector/ratings/offline_alerts.py). A shift whose counter had no device online, while the
collector was receiving, for more than the policy's `[offline] alert_minutes` in total — a
device offline, unplugged, or none placed there at all — raises one alert, as soon as a running shift passes the threshold and
at the latest when it ends; while open, the alert follows the shift's offline minutes.

Runs beside the burst detection, on the alert detector's thread (collector/ingest/
alerting.py, supervised), every `OFFLINE_EVERY_S` and at stop: `check_offline_shifts`.

- Time-driven, so crash-safe the way the ratings' detection is: `alert_progress.
  offline_through` is the time up to which ended shifts have been judged. A round judges the
  shifts that ended since (and the shifts running now), and raises their alerts and moves
  the mark in one write transaction: a collector stopped for a day judges, at its next
  start, every shift that ended meanwhile, and nothing twice (`raised_for_shifts`, and the
  unique index behind it, whatever the mark says).
- Reads first, without the write lock (a running open-ended shift may reach back weeks of
  online spans); the write transaction only decides against the alerts stored and writes.
- The online time of a counter is its devices' online spans cut to their placements
  (ratings/evidence.placed_online), as for the month's coverage; the arithmetic and the
  threshold are collector/evaluation/rules/offline.py's.
- Only time the collector itself was receiving counts (its spans in ingest_receiving,
  ratings/received.receiving_times): its own downtime leaves no online spans, and a shift
  it missed is unknown, not offline. So the round at a restart, which judges the shifts that
  ended meanwhile before the broker's queued statuses are even stored, blames nobody for
  the outage; those statuses may later add online time, never offline time.
- Limits: an open-ended shift ("until further notice") is one shift, its nights included.
"""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from collector.db.store import write_transaction
from collector.evaluation.rules.offline import (
    OfflineRule,
    offline_action,
    offline_minutes,
    shift_offline_ms,
)
from collector.org.unit_history import counter_unit_at
from collector.ratings import alert_progress, offline_alerts
from collector.ratings.evidence import MAX_SILENCE_MS, placed_online
from collector.ratings.received import receiving_times
from collector.roster.duty import current_shifts, shifts_to_watch

# How often the detector's thread runs a round of the watch: the alert comes within this of
# the threshold being passed. Rounds read every running shift, so not on every wake-up.
OFFLINE_EVERY_S = 30.0


# --- reads ---------------------------------------------------------------------------------

def counter_online(db: sqlite_utils.Database, starts: dict[str, int], end: int,
                   now: int) -> dict[str, list[tuple]]:
    """Per counter of `starts` (counter → from when), the online intervals of the devices
    placed there that may overlap [its start, end) (an open one still open at `now` ends
    None). One query; each counter reads back only as far as its own earliest shift: a
    device's spans never overlap (ingest/recording.py closes one before opening the next),
    so none before the last one begun by then can reach into the shift."""
    rows = db.query(
        "WITH wanted(counter_id, start) AS (SELECT json_extract(value, '$[0]'), "
        "json_extract(value, '$[1]') FROM json_each(:wanted)) "
        "SELECT p.counter_id, p.starts_at AS placed_at, p.ends_at AS removed_at, "
        "s.starts_at, s.last_seen_at, s.ended_at FROM wanted w "
        "JOIN device_placements p ON p.counter_id = w.counter_id "
        "JOIN device_online_spans s ON s.device_id = p.device_id "
        "WHERE p.starts_at < :end AND (p.ends_at IS NULL OR p.ends_at > w.start) "
        "AND s.starts_at >= COALESCE((SELECT max(x.starts_at) FROM device_online_spans x "
        "WHERE x.device_id = p.device_id AND x.starts_at <= w.start), 0) "
        "AND s.starts_at < :end AND COALESCE(s.ended_at, s.last_seen_at + :silence) > w.start "
        "ORDER BY p.counter_id, s.starts_at",
        {"wanted": json.dumps(sorted(starts.items())), "end": end,
         "silence": MAX_SILENCE_MS})
    return placed_online([dict(row) for row in rows], now)


def _judged(db: sqlite_utils.Database, since: int, now: int) -> list[dict[str, Any]]:
    """The shifts to judge: ended after `since` (by `now`), running at `now`, or corrected
    from a shift an open alert names (whenever they ended), each with its offline time so
    far and where it ends for the alert."""
    shifts = shifts_to_watch(db, since, now)
    # A correction made after the mark passed its shift: the open alert must follow it.
    watched = {shift["id"] for shift in shifts}
    shifts += [shift for shift in current_shifts(db, offline_alerts.corrected_shifts(db))
                if shift["id"] not in watched and shift["starts_at"] < now]
    if not shifts:
        return []
    starts: dict[str, int] = {}
    for shift in shifts:
        starts[shift["counter_id"]] = min(shift["starts_at"],
                                          starts.get(shift["counter_id"], shift["starts_at"]))
    online = counter_online(db, starts, now, now)
    receiving = receiving_times(db, min(starts.values()), now, now)
    judged = []
    for shift in shifts:
        until = now if shift["ends_at"] is None or shift["ends_at"] > now else shift["ends_at"]
        judged.append({**shift, "until": until, "offline_ms": shift_offline_ms(
            shift["starts_at"], until, online.get(shift["counter_id"], []), receiving)})
    return judged


def _unit_at_start(db: sqlite_utils.Database, shift: dict[str, Any]) -> str | None:
    """The counter's unit when the shift began: its leaders are told (counter_units)."""
    return counter_unit_at(db, shift["counter_id"], shift["starts_at"])


# --- the round -----------------------------------------------------------------------------

def check_offline_shifts(db: sqlite_utils.Database, rule: OfflineRule, now: int) -> list[int]:
    """Judge the shifts ended since the mark and those running at `now`: raise or update
    their alerts and move the mark to `now`, in one write transaction. Returns the ids of
    the alerts raised or updated. A database error propagates, with nothing written."""
    judged = _judged(db, alert_progress.offline_checked_through(db), now)
    touched: list[int] = []
    rule_dict = {"alert_minutes": rule.alert_minutes}
    with write_transaction(db):
        known = offline_alerts.raised_for_shifts(db, [shift["id"] for shift in judged])
        for shift in judged:
            raised = known.get(shift["id"])
            action = offline_action(rule, shift["offline_ms"],
                                    None if raised is None else raised[1:])
            minutes = offline_minutes(shift["offline_ms"])
            if action == "raise":
                touched.append(offline_alerts.raise_alert(
                    db, counter_id=shift["counter_id"], unit_id=_unit_at_start(db, shift),
                    officer_id=shift["officer_id"], shift_id=shift["id"],
                    first_at=shift["starts_at"], last_at=shift["until"], minutes=minutes,
                    rule=rule_dict, now=now))
            elif raised is not None and not raised[2]:
                # Open: it follows its shift (minutes so far, its end, a corrected row —
                # another officer, time or counter, and that counter's unit).
                offline_alerts.update_alert(
                    db, raised[0], shift_id=shift["id"], counter_id=shift["counter_id"],
                    unit_id=_unit_at_start(db, shift), officer_id=shift["officer_id"],
                    first_at=shift["starts_at"], last_at=shift["until"], minutes=minutes)
                if action == "update":
                    touched.append(raised[0])
        # An open alert whose shift was cancelled stays, marked so (offline_alerts.py).
        offline_alerts.follow_cancellations(db)
        alert_progress.mark_offline_checked(db, now)
    return touched
