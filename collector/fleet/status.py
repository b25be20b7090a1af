"""The device fleet as technicians watch it: state, health figures and what each screen shows.

    page = fleet(db, now_ms=now, unit_ids=None, limit=50, offset=0, state="offline",
                 search="hoàn kiếm")
    device = fleet_device(db, "kiosk-hk-01", now_ms=now)     # one item, or None
    site_session_mode(db_path)      # whether the site's screens rest on "waiting"

States (STATES), one per device:
- "retired":    taken out of service (the registry's retired_at), whatever it last said;
- "never_seen": registered, but no message from it ever reached the collector;
- "offline":    its last will said so ("offline_reason": "will"), or nothing came for more
                than evidence.MAX_SILENCE_MS ("silent": statuses come every 60 s, so three missed
                ones are not a hiccup) — the same rule as the evidence's online spans;
- "online":     anything else.

What the device shows ("shown"): the assignment the collector publishes, at the time the
device last took one in — now for an online device (the collector republishes within 10 s of
a roster change) and for a device never seen (what it will get on connecting), the
last-seen time for an offline or retired one (a disconnected device keeps the last
assignment it received). `assignments_at` gives those rows in the shape of
`collector.roster.duty.current_assignments`, which `collector.fleet.screens` draws. The
device's counter is its current one: a device moved while offline is shown at its new counter.

Figures from the status (fw, queue, filtered, dropped, rssi, mem_free, ...) are those of the
device's last online status, as of `status_at`: the last will carries none. `ratings_today`
and `filtered_today` count presses placed in today's local (UTC+7) day; `last_rating_at` is
the newest press of any kind.

Order: problems first (offline, never seen, online, retired), then unit and device id.
`summary` counts each state over the unit scope and the search, before the state filter, so a
page can show the counts of every tab. Search folds case and Vietnamese diacritics
("hoan kiem" finds "Hoàn Kiếm") over the device id, counter, unit, firmware version and the
officer shown; every word of the search must begin a word there ("-" and "_" split words).

Cost: one light query over every device (plain tuples) decides state, scope, order and page;
the page's full rows, assignments and rating figures come after, for its devices only. A
search also needs the officer shown by every device in scope: one more query.
Read-only and pure apart from the queries; `now_ms` is an argument so tests pin time.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import sqlite_utils

from collector.org.directory import ON_DUTY
from collector.ratings.evidence import MAX_SILENCE_MS
from collector.fleet.provisioning import PROFILE_NAME, load_profile
from collector.core.timeline import LOCAL_TZ

STATES = ("offline", "never_seen", "online", "retired")  # also the sort order
MAX_LIMIT = 200
_WORD = re.compile(r"[^\s\-_]+")

_FROM = ("FROM devices d LEFT JOIN counters c ON c.id = d.counter_id "
         "LEFT JOIN units u ON u.id = c.unit_id "
         "LEFT JOIN device_status s ON s.device_id = d.id ")
_BRIEF = ("SELECT d.id, c.unit_id, d.retired_at, s.last_seen, s.state, c.label, u.name, s.fw "
          + _FROM)
_FULL = (
    "SELECT d.id, d.counter_id, c.label AS counter_label, c.unit_id, u.name AS unit_name, "
    "d.scale, d.registered_at, d.retired_at, s.state AS reported_state, s.fw, s.boot, "
    "s.uptime_ms, s.mem_free, s.rssi, s.queue, s.filtered, s.dropped, s.ignored, s.status_at, "
    "s.last_seen " + _FROM)

# roster.duty.current_assignments' rows, each device at its own time (a JSON object device → ms),
# retired devices included (they still show what they had). The roster rule is the one the
# collector publishes by (ON_DUTY); tests/test_fleet.py checks the two agree.
_ASSIGNMENTS_AT = (
    "WITH wanted(device_id, at) AS (SELECT key, value FROM json_each(:wanted)) "
    "SELECT d.id AS device_id, d.scale, c.label AS counter_label, r.officer_id, "
    "o.name AS officer_name, o.title AS officer_title, u.name AS unit_name "
    "FROM wanted w JOIN devices d ON d.id = w.device_id JOIN counters c ON c.id = d.counter_id "
    f"LEFT JOIN roster_shifts r ON r.counter_id = d.counter_id AND "
    f"{ON_DUTY.replace(':at', 'w.at')} "
    "LEFT JOIN officers o ON o.id = r.officer_id "
    "LEFT JOIN units u ON u.id = o.unit_id ORDER BY d.id, r.starts_at")


class _Brief(NamedTuple):
    id: str
    unit_id: str | None
    retired_at: int | None
    last_seen: int | None
    reported_state: str | None
    counter_label: str | None
    unit_name: str | None
    fw: str | None


def device_state(*, retired_at: int | None, last_seen: int | None,
                 reported_state: str | None, now_ms: int) -> str:
    """One of STATES (see the module's docstring)."""
    if retired_at is not None:
        return "retired"
    if last_seen is None:
        return "never_seen"
    if reported_state == "offline" or now_ms - last_seen > MAX_SILENCE_MS:
        return "offline"
    return "online"


def shown_at(state: str, *, last_seen: int | None, retired_at: int | None,
             now_ms: int) -> int:
    """When the device last took in an assignment: the time its screen is drawn for."""
    if state in ("offline", "retired") and last_seen is not None:
        return last_seen
    if state == "retired" and retired_at is not None:
        return retired_at
    return now_ms


def assignments_at(db: sqlite_utils.Database,
                   wanted: dict[str, int]) -> dict[str, dict[str, Any]]:
    """{device id: its assignment row at its time} for {device id: unix ms}; one query.
    A device without a counter, or unknown, is left out."""
    if not wanted:
        return {}
    cursor = db.execute(_ASSIGNMENTS_AT, {"wanted": json.dumps(wanted)})
    keys = [column[0] for column in cursor.description]
    rows: dict[str, dict[str, Any]] = {}
    for row in cursor:
        rows[row[0]] = dict(zip(keys, row))  # ordered by start: the latest shift wins
    return rows


def assignment_at(db: sqlite_utils.Database, device_id: str,
                  at: int) -> dict[str, Any] | None:
    """One device's assignment row (roster.duty.current_assignments' keys) at `at`, or None."""
    return assignments_at(db, {device_id: at}).get(device_id)


def fold(text: str | None) -> str:
    """Lower case without diacritics (đ → d), for search: "Hường" → "huong"."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


@lru_cache(maxsize=8192)
def words(text: str | None) -> tuple[str, ...]:
    """Folded words of `text`; "-" and "_" split too, so "hk-02" finds "kiosk-hk-02".
    Cached: a search folds every device's unit and counter, which repeat from row to row."""
    return tuple(_WORD.findall(fold(text)))


def local_day(now_ms: int) -> tuple[int, int]:
    """[start, end) in unix ms of the local (UTC+7) day holding now_ms."""
    day = datetime.fromtimestamp(now_ms / 1000, LOCAL_TZ).replace(hour=0, minute=0, second=0,
                                                                 microsecond=0)
    start = int(day.timestamp() * 1000)
    return start, int((day + timedelta(days=1)).timestamp() * 1000)


def _state(brief: _Brief, now_ms: int) -> str:
    return device_state(retired_at=brief.retired_at, last_seen=brief.last_seen,
                        reported_state=brief.reported_state, now_ms=now_ms)


def _shown_times(briefs: Iterable[tuple[_Brief, str]], now_ms: int) -> dict[str, int]:
    return {b.id: shown_at(state, last_seen=b.last_seen, retired_at=b.retired_at,
                           now_ms=now_ms) for b, state in briefs}


def _officer(assignment: dict[str, Any] | None) -> dict[str, Any] | None:
    if assignment is None or not assignment["officer_id"]:
        return None
    return {"id": assignment["officer_id"], "name": assignment["officer_name"],
            "title": assignment["officer_title"]}


def _matches(query: tuple[str, ...], brief: _Brief, officer: dict[str, Any] | None) -> bool:
    # Every word of the query starts a word of the device: "2" is "Quầy 2", not firmware
    # "0.2.0", and "huong" is the name "Hường", not every "phường".
    officer = officer or {}
    haystack = [word for part in (brief.id, brief.counter_label, brief.unit_name,
                                  brief.unit_id, brief.fw, officer.get("name"),
                                  officer.get("id"))
                for word in words(part)]
    return all(any(word.startswith(q) for word in haystack) for q in query)


def _items(db: sqlite_utils.Database, page: list[tuple[_Brief, str]],
           now_ms: int) -> list[dict[str, Any]]:
    """The full items of a page of (brief, state), in that order."""
    if not page:
        return []
    ids = [b.id for b, _ in page]
    marks = ", ".join("?" * len(ids))
    full = {row["id"]: dict(row) for row in db.query(
        _FULL + f"WHERE d.id IN ({marks})", ids)}
    times = _shown_times(page, now_ms)
    assignments = assignments_at(db, times)
    start, end = local_day(now_ms)
    # (device_id, pressed_at) is indexed: a range per device.
    today = {row[0]: (row[1], row[2]) for row in db.execute(
        "SELECT device_id, sum(excluded IS NULL), sum(excluded IS NOT NULL) FROM ratings "
        f"WHERE device_id IN ({marks}) AND pressed_at >= ? AND pressed_at < ? "
        "GROUP BY device_id", [*ids, start, end])}
    items = []
    for brief, state in page:
        item = full[brief.id]
        officer = _officer(assignments.get(brief.id))
        item.update(
            state=state, retired=item["retired_at"] is not None,
            offline_reason=(None if state != "offline" else
                            "will" if item["reported_state"] == "offline" else "silent"),
            silent_ms=None if item["last_seen"] is None else now_ms - item["last_seen"],
            shown={"at": times[brief.id], "live": state == "online",
                   "counter_open": officer is not None, "officer": officer,
                   "screen_url": f"/api/v1/devices/{brief.id}/screen.png"})
        item["ratings_today"], item["filtered_today"] = today.get(brief.id, (0, 0))
        # One query per device: SQLite answers a lone max() from the index in one step,
        # where a GROUP BY would walk every press of every device.
        item["last_rating_at"] = db.execute(
            "SELECT max(pressed_at) FROM ratings WHERE device_id = ?", [brief.id]).fetchone()[0]
        items.append(item)
    return items


def fleet(db: sqlite_utils.Database, *, now_ms: int, unit_ids: Iterable[str] | None = None,
          limit: int = 50, offset: int = 0, state: str | None = None,
          search: str | None = None) -> dict[str, Any]:
    """One page of the fleet: {"items", "total", "limit", "offset", "summary", "now",
    "max_silence_ms"}. `unit_ids` (e.g. organisation.unit_subtree) keeps the devices whose
    counter is in one of those units; None keeps all. ValueError for a bad state or page."""
    if state is not None and state not in STATES:
        raise ValueError(f"state must be one of {', '.join(STATES)}")
    if not 1 <= limit <= MAX_LIMIT or offset < 0:
        raise ValueError(f"limit must be 1 to {MAX_LIMIT} and offset at least 0")
    units = None if unit_ids is None else set(unit_ids)
    devices = [(b, _state(b, now_ms)) for b in map(_Brief._make, db.execute(_BRIEF))
               if units is None or b.unit_id in units]
    query = words(search)
    if query:
        # The officer shown is part of what a technician searches by ("where is Hường?").
        shown = assignments_at(db, _shown_times(devices, now_ms))
        devices = [(b, s) for b, s in devices if _matches(query, b, _officer(shown.get(b.id)))]
    summary = {name: 0 for name in STATES}
    for _, device_state_ in devices:
        summary[device_state_] += 1
    summary["total"] = len(devices)
    if state is not None:
        devices = [(b, s) for b, s in devices if s == state]
    devices.sort(key=lambda d: (STATES.index(d[1]), d[0].unit_id or "", d[0].id))
    return {"items": _items(db, devices[offset:offset + limit], now_ms),
            "total": len(devices), "limit": limit, "offset": offset, "summary": summary,
            "now": now_ms, "max_silence_ms": MAX_SILENCE_MS}


def fleet_device(db: sqlite_utils.Database, device_id: str, *,
                 now_ms: int) -> dict[str, Any] | None:
    """One device as a fleet item (retired ones included), or None when unknown."""
    row = db.execute(_BRIEF + "WHERE d.id = ?", [device_id]).fetchone()
    if row is None:
        return None
    brief = _Brief._make(row)
    return _items(db, [(brief, _state(brief, now_ms))], now_ms)[0]


def site_session_mode(db_path: Path) -> bool:
    """Whether the site's devices rate dossiers one session at a time (`session_mode` in the
    profile `hailong flash` writes into every board's /config.json, provisioning.json beside
    the database): their resting screen is then "waiting", not the officer's card. An
    unreadable profile makes flashing fail loudly; for a picture the card is the better guess
    than an error."""
    try:
        profile = load_profile(Path(db_path).parent / PROFILE_NAME)
    except ValueError:
        return False
    return bool(profile.get("session_mode"))
