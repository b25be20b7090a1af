"""What the ingest writes: a batch of parsed messages → ratings, statuses, rejections.

Called by the one writer (the ingest thread's committer, or a test). A batch is
one transaction; the ingest acknowledges its messages only after it returns. Every message
gets exactly one outcome — stored, duplicate, status or rejected — and the rules that keep
late or replayed messages from rewriting the past live here:

- A retained status (replayed by the broker at subscribe, possibly days old) is counted and
  nothing else: it moves neither last-seen, the online spans nor the boot's time anchor.
- A boot's epoch (its start on the collector's clock) is the earliest `received - uptime`
  seen (placement.boot_epoch); an online status is placed at its arrival only while fresh
  (placement.place_status) and updates the device's figures only when not older than them.
- A message that breaks the writer (an exception other than a database fault) is isolated by
  the ingest and kept by `record_failure` with reason `internal_error:{ExceptionName}`.

A batch is read and written as a batch (`_Batch`), which is what lets one writer keep up with
the broker (bench/ingest_ceiling.py): the ids already stored are looked up in one query, each
device's registration once, each boot's epoch once until a status of the batch moves it; the
ratings go in with one `executemany`, and each device's last-seen time is moved once, to the
latest of its messages (it only ever moves forward, so the order is the same). Every message
still gets its own outcome in order, and within the batch a second copy of an id is a
duplicate of the first, exactly as one message at a time.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Iterable

import sqlite_utils

from collector.protocol.messages import MAX_PAYLOAD_BYTES, Rating, Rejection, Status
from collector.ingest.placement import BootAnchor, boot_epoch, place_press, place_status

from collector.db.store import now_ms, write_transaction
from collector.org.registry import is_active_device
from collector.ratings import alert_progress, month_counts
from collector.ratings.evidence import MAX_SILENCE_MS
from collector.roster.attribution import attribute_many

OUTCOMES = ("stored", "duplicate", "rejected", "status")


@dataclass(frozen=True)
class Incoming:
    """One message as it came off the wire, with what the pure parser made of it.

    `retained`: the broker replayed a retained message at subscribe (MQTT 3.1.1, 3.3.1.3),
    not something just published. `size` and `sha256` describe the payload as published when
    `payload` holds only a bounded prefix of it (None: `payload` is all of it). `redelivered`:
    the broker's DUP flag, set when it sends a message again that it may have sent before.
    """
    topic: str
    payload: bytes
    received_at: int
    parsed: Rating | Status | Rejection
    retained: bool = False
    size: int | None = None
    sha256: str | None = None
    redelivered: bool = False


def record_batch(db: sqlite_utils.Database, batch: Iterable[Incoming]) -> dict[str, int]:
    """Store a batch in one transaction; return counts of stored/duplicate/rejected/status."""
    items = list(batch)
    outcome = dict.fromkeys(OUTCOMES, 0)
    with write_transaction(db):
        # The clock once per batch, inside its transaction: a batch takes milliseconds and
        # the tolerance for a device clock ahead is minutes (placement.py).
        pending = _Batch(db, now_ms(), [item.parsed.id for item in items
                                        if type(item.parsed) is Rating])
        for item in items:
            outcome[_record_one(pending, item)] += 1
        pending.flush()
        # The month counts follow in the same transaction: reads add only the unfolded tail
        # from `ratings` (collector/ratings/month_counts.py), so it must stay short.
        month_counts.fold(db)
        _add_totals(db, outcome)
    return outcome


class _Batch:
    """What one batch's transaction has read, and the writes it keeps for its end."""

    def __init__(self, db: sqlite_utils.Database, clock_ms: int, rating_ids: list[str]):
        self.db = db
        self.clock_ms = clock_ms
        self.known = _stored_ids(db, rating_ids)  # ids stored before or earlier in the batch
        self.active: dict[str, bool] = {}
        self.epochs: dict[tuple[str, int], int | None] = {}
        self.rows: list[tuple] = []  # RATING_COLUMNS but officer_id and attribution
        self.presses: list[tuple[str, int, str | None]] = []  # to attribute, row by row
        self.seen: dict[str, int] = {}

    def is_active(self, device_id: str) -> bool:
        active = self.active.get(device_id)
        if active is None:
            active = self.active[device_id] = is_active_device(self.db, device_id)
        return active

    def epoch(self, device_id: str, boot: int) -> int | None:
        key = (device_id, boot)
        if key not in self.epochs:
            self.epochs[key] = _epoch(self.db, device_id, boot)
        return self.epochs[key]

    def seen_at(self, device_id: str, at: int) -> None:
        if at > self.seen.get(device_id, at - 1):
            self.seen[device_id] = at

    def flush(self) -> None:
        if self.rows:
            # The roster's rule for the whole batch in one statement (attribution.py).
            attributed = attribute_many(self.db, self.presses)
            self.db.conn.executemany(_INSERT_RATING, [
                row[:7] + who + row[7:] for row, who in zip(self.rows, attributed)])
        if self.seen:
            self.db.conn.executemany(_SEEN, list(self.seen.items()))
        self.rows, self.presses, self.seen = [], [], {}


def _stored_ids(db: sqlite_utils.Database, ids: list[str]) -> set[str]:
    known: set[str] = set()
    for start in range(0, len(ids), _IDS_PER_QUERY):
        chunk = ids[start:start + _IDS_PER_QUERY]
        known.update(row[0] for row in db.conn.execute(
            f"SELECT id FROM ratings WHERE id IN ({', '.join('?' * len(chunk))})", chunk))
    return known


# Within SQLite's default limit of bound parameters (32,766 since 3.32; 999 before).
_IDS_PER_QUERY = 500


def record_failure(db: sqlite_utils.Database, item: Incoming, error: BaseException) -> None:
    """Keep a message whose recording raised `error` as rejected, `internal_error:{Name}`.

    The name of the exception, not its text: the text may quote the offending bytes, which
    the row keeps anyway. If even the topic cannot be stored, its escaped form is kept.
    """
    reason = f"internal_error:{type(error).__name__}"
    with write_transaction(db):
        try:
            with write_transaction(db):  # a savepoint: the fallback below starts clean
                _reject(item, reason, _device_of(item), db=db)
        except (UnicodeError, ValueError, OverflowError):
            topic = item.topic.encode("utf-8", "backslashreplace").decode("ascii", "replace")
            _reject(item, reason, None, db=db, topic=topic)
        _add_totals(db, {"rejected": 1})


def _device_of(item: Incoming) -> str | None:
    return getattr(item.parsed, "device", None)


def _add_totals(db: sqlite_utils.Database, outcome: dict[str, int]) -> None:
    for name in ("stored", "duplicate", "rejected"):
        if outcome.get(name):
            db.execute("INSERT INTO ingest_totals(name, value) VALUES (?, ?) "
                       "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
                       [name, outcome[name]])


def _record_one(batch: _Batch, item: Incoming) -> str:
    parsed = item.parsed
    db = batch.db
    if isinstance(parsed, Rejection):
        return _reject(item, parsed.reason, parsed.device, db=db)
    if not batch.is_active(parsed.device):
        return _reject(item, "unknown_device", parsed.device, db=db)
    if isinstance(parsed, Status):
        if not item.retained:
            _record_status(db, parsed, item.received_at)
            # Its boot's epoch may have moved: the batch's ratings after it read it again.
            batch.epochs.pop((parsed.device, parsed.boot), None)
        return "status"
    batch.seen_at(parsed.device, item.received_at)
    return _record_rating(batch, parsed, item.received_at)


def _reject(item: Incoming, reason: str, device: str | None, *, db: sqlite_utils.Database,
            topic: str | None = None) -> str:
    # (item, reason) first: tests/test_protocol_doc.py finds the reason codes written here.
    # A payload above the limit keeps only a bounded prefix; its length and digest say what
    # it was (the ingest passes both when it has already cut the payload).
    size = item.size if item.size is not None else len(item.payload)
    digest = item.sha256 or hashlib.sha256(item.payload).hexdigest()
    if (item.redelivered or item.retained) and db.execute(
            "SELECT 1 FROM rejected WHERE device_id IS ? AND topic = ? AND payload_sha256 = ? "
            "AND reason = ?",
            [device, item.topic if topic is None else topic, digest, reason]).fetchone():
        # The broker sends again what was committed but not acknowledged (the collector
        # stopped, or the connection changed, in between), and replays a retained message at
        # every subscribe: one row, as for a rating by id. `device_id` first: its index.
        return "duplicate"
    db.execute("INSERT INTO rejected (received_at, topic, device_id, reason, payload, "
               "payload_size, payload_sha256) VALUES (?, ?, ?, ?, ?, ?, ?)",
               [item.received_at, item.topic if topic is None else topic, device, reason,
                bytes(item.payload[:MAX_PAYLOAD_BYTES]), size, digest])
    return "rejected"


_SEEN = ("INSERT INTO device_status(device_id, last_seen) VALUES (?, ?) "
         "ON CONFLICT(device_id) DO UPDATE SET "
         "last_seen = max(coalesce(last_seen, excluded.last_seen), excluded.last_seen)")


def _seen(db: sqlite_utils.Database, device_id: str, at: int) -> None:
    """Last heard of the device at `at` at the latest; a late message never pulls it back."""
    db.execute(_SEEN, [device_id, at])


def _epoch(db: sqlite_utils.Database, device_id: str, boot: int) -> int | None:
    row = db.execute("SELECT epoch_ms FROM boot_epochs WHERE device_id = ? AND boot = ?",
                     [device_id, boot]).fetchone()
    return row[0] if row else None


def _record_status(db: sqlite_utils.Database, status: Status, received_at: int) -> None:
    at = received_at
    if status.state == "online":
        epoch = _epoch(db, status.device, status.boot)
        at = place_status(uptime_ms=status.uptime_ms, received_at=received_at, epoch=epoch)
        new_epoch = boot_epoch(received_at, status.uptime_ms, epoch)
        if new_epoch is not None:
            db.execute("INSERT INTO boot_epochs (device_id, boot, epoch_ms) VALUES (?, ?, ?) "
                       "ON CONFLICT(device_id, boot) DO UPDATE SET "
                       "epoch_ms = min(epoch_ms, excluded.epoch_ms)",
                       [status.device, status.boot, new_epoch])
    _seen(db, status.device, at)
    _record_online_span(db, status.device, status.state == "online", at)
    latest = db.execute("SELECT status_at, boot, uptime_ms FROM device_status "
                        "WHERE device_id = ?", [status.device]).fetchone()
    if latest and latest[0] is not None:
        kept_at, kept_boot, kept_uptime = latest
        same_boot = status.boot is not None and status.boot == kept_boot
        if kept_at > at or (same_boot and kept_uptime is not None
                            and kept_uptime > status.uptime_ms):
            return  # older than the figures already kept: they stay
    if status.state == "online":
        row = {k: v for k, v in asdict(status).items() if k != "device"}
        row.update(status_at=at, online_status_at=at)
    else:
        # The last will carries only the state; keep the last known figures beside it.
        row = {"state": "offline", "status_at": at}
    sets = ", ".join(f"{key} = :{key}" for key in row)
    db.execute(f"UPDATE device_status SET {sets} WHERE device_id = :device_id",
               {**row, "device_id": status.device})


def _record_online_span(db: sqlite_utils.Database, device_id: str, online: bool,
                        at: int) -> None:
    """Extend, close or open the device's online stretch (see evidence.MAX_SILENCE_MS)."""
    span = db.execute("SELECT id, last_seen_at FROM device_online_spans "
                      "WHERE device_id = ? AND ended_at IS NULL", [device_id]).fetchone()
    if span is not None:
        span_id, last_seen = span
        silent_end = last_seen + MAX_SILENCE_MS
        if online and at <= silent_end:
            db.execute("UPDATE device_online_spans SET last_seen_at = max(last_seen_at, ?) "
                       "WHERE id = ?", [at, span_id])
            return
        # A will ends the stretch when it came; silence ends it at the allowance.
        db.execute("UPDATE device_online_spans SET ended_at = max(last_seen_at, ?) "
                   "WHERE id = ?", [min(at, silent_end), span_id])
    if online:
        db.execute("INSERT INTO device_online_spans (device_id, starts_at, last_seen_at) "
                   "VALUES (?, ?, ?)", [device_id, at, at])


def _record_rating(batch: _Batch, rating: Rating, received_at: int) -> str:
    """Place, attribute and keep one rating for the batch's insert; "duplicate" if its id is
    stored already (or earlier in the batch)."""
    if rating.id in batch.known:
        return "duplicate"
    epoch = batch.epoch(rating.device, rating.boot)
    pressed_at, time_source = place_press(
        ts=rating.ts, boot=rating.boot, uptime_ms=rating.uptime_ms,
        anchor=None if epoch is None else BootAnchor(rating.boot, 0, epoch),
        received_at=received_at, clock_ms=max(received_at, batch.clock_ms))
    batch.known.add(rating.id)
    batch.presses.append((rating.device, pressed_at, rating.officer))
    batch.rows.append((
        rating.id, rating.device, rating.boot, rating.seq, rating.level, rating.scale,
        rating.officer, rating.uptime_ms, rating.ts, pressed_at, time_source, received_at,
        rating.fw, rating.reason, rating.dossier, rating.excluded))
    return "stored"


# --- a past no device sent (the demo's seeded history) ---------------------------------------

RATING_COLUMNS = ("id", "device_id", "boot", "seq", "level", "scale", "officer_shown",
                  "officer_id", "attribution", "uptime_ms", "device_ts", "pressed_at",
                  "time_source", "received_at", "fw", "reason", "dossier", "excluded")
_INSERT_RATING = (f"INSERT INTO ratings ({', '.join(RATING_COLUMNS)}) "
                  f"VALUES ({', '.join('?' * len(RATING_COLUMNS))})")


def add_past_ratings(db: sqlite_utils.Database, rows: Iterable[tuple]) -> None:
    """Store ratings already placed in time and attributed (`attribution.attribute`), as
    tuples in RATING_COLUMNS order; an id already stored is skipped. For a past made up in
    bulk: parsing wire messages one by one would add nothing there. Alert detection passes
    over them: a past raises no alert (collector/ratings/alert_progress.py)."""
    with write_transaction(db):
        stored_before = alert_progress.last_stored(db)
        db.conn.executemany(f"INSERT OR IGNORE INTO ratings ({', '.join(RATING_COLUMNS)}) "
                            f"VALUES ({', '.join('?' * len(RATING_COLUMNS))})", rows)
        month_counts.fold(db)
        alert_progress.pass_over(db, stored_before)


def add_past_online_spans(db: sqlite_utils.Database,
                          spans: Iterable[tuple[str, int, int, int]]) -> None:
    """Store closed online stretches (device, starts_at, last_seen_at, ended_at) of a past
    made up in bulk, instead of building them from a status a minute."""
    with write_transaction(db):
        db.conn.executemany("INSERT INTO device_online_spans (device_id, starts_at, "
                            "last_seen_at, ended_at) VALUES (?, ?, ?, ?)", spans)


# --- the collector's broker session (health: broker_session_lost) --------------------------

def ingest_session(db: sqlite_utils.Database, client_id: str) -> dict | None:
    """What the database knows of this client id's broker session, or None (never subscribed)."""
    rows = list(db.query("SELECT * FROM ingest_sessions WHERE client_id = ?", [client_id]))
    return rows[0] if rows else None


def note_session(db: sqlite_utils.Database, client_id: str, event: str, at: int) -> None:
    """Record that the collector subscribed (`subscribed`: it receives from `at`), found its
    session gone (`lost`) or lost the broker (`disconnected`: it received until `at`)."""
    with write_transaction(db):
        if event == "disconnected":
            # Not a span silent for longer than a reader allows (one a killed collector
            # left, seen by a connection that failed before it subscribed): its last mark.
            db.execute("UPDATE ingest_receiving SET ended_at = CASE WHEN ? - last_alive_at "
                       "> ? THEN last_alive_at ELSE max(started_at, ?) END "
                       "WHERE client_id = ? AND ended_at IS NULL",
                       [at, MAX_SILENCE_MS, at, client_id])
            return
        db.execute("INSERT INTO ingest_sessions (client_id, first_subscribed_at, "
                   "last_subscribed_at) VALUES (?, ?, ?) ON CONFLICT(client_id) DO NOTHING",
                   [client_id, at, at])
        if event == "subscribed":
            db.execute("UPDATE ingest_sessions SET last_subscribed_at = ? WHERE client_id = ?",
                       [at, client_id])
            # A span still open was left by a collector killed (or a connection dropped
            # unseen): it ended at its last sign of life.
            db.execute("UPDATE ingest_receiving SET ended_at = last_alive_at "
                       "WHERE client_id = ? AND ended_at IS NULL", [client_id])
            db.execute("INSERT INTO ingest_receiving (client_id, started_at, last_alive_at) "
                       "VALUES (?, ?, ?)", [client_id, at, at])
        elif event == "lost":
            db.execute("UPDATE ingest_sessions SET lost_count = lost_count + 1, "
                       "last_lost_at = ? WHERE client_id = ?", [at, client_id])
        else:
            raise ValueError(f"unknown session event {event!r}")


# --- when the collector was receiving (the devices' evidence: unknown outside it) ------------

# How often the writer marks its open span alive while connected: a reader takes a span whose
# last sign of life is older than evidence.MAX_SILENCE_MS for one a killed collector left.
RECEIVING_BEAT_S = 30.0


def note_receiving(db: sqlite_utils.Database, client_id: str, at: int) -> None:
    """The collector, connected and subscribed, is still receiving at `at`."""
    with write_transaction(db):
        db.execute("UPDATE ingest_receiving SET last_alive_at = max(last_alive_at, ?) "
                   "WHERE client_id = ? AND ended_at IS NULL", [at, client_id])
