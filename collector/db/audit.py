"""The audit log: who did what to which record, before and after, in a hash chain.

Every evaluation action, roster change and import appends one entry with `append`, inside the
transaction that makes the change, so the entry commits or rolls back with what it records.
Each entry's hash covers its own fields and the previous entry's hash; `verify` recomputes the
chain and names the first entry that does not fit.

What the chain proves, and what it cannot:
- Editing any field of an entry, deleting an entry in the middle or at the start, and moving
  entries are detected at the first entry affected.
- Deleting the LAST entries leaves a shorter chain that is still valid. SQLite's record of the
  highest id ever used (`sqlite_sequence`, kept because the table is AUTOINCREMENT) catches
  this unless it is edited too. Only an anchor kept outside the database is proof: `head()`
  gives (last id, last hash) for a head of unit to write down or print, and
  `verify(db, anchor=...)` then detects the truncation.
- The hash is unkeyed SHA-256, so someone with write access who knows this file can rewrite an
  entry and every entry after it with fresh hashes. That too is caught only by an anchor taken
  before the rewrite (its hash no longer matches). A keyed hash (HMAC with a secret the
  collector holds) would add nothing against someone who can also read that secret.

Writes go to the `audit_log` table (migration 0004_audit_log), which refuses UPDATE and DELETE
by trigger; this module is the only one that writes it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import sqlite_utils

from collector.db.store import write_transaction

TABLE = "audit_log"
GENESIS = "0" * 64  # prev_hash of the first entry
# Part of every hashed record, so a future change of format cannot pass for this one.
FORMAT = "hailong-audit-1"
COLUMNS = ("id", "at", "actor", "action", "subject", "before", "after", "prev_hash", "hash")
MAX_AT = 2**63 - 1


class AuditError(ValueError):
    """An entry could not be written: empty names, values that are not JSON, a bad time."""


def canonical_json(value: Any) -> str:
    """JSON text with sorted keys, no spaces, UTF-8 as is: one text for one value."""
    try:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False)
        text.encode("utf-8")
    except (TypeError, ValueError) as error:  # UnicodeEncodeError is a ValueError
        raise AuditError(f"not recordable as JSON: {error}") from None
    return text


@dataclass(frozen=True)
class AuditEntry:
    """One row of the log; `before` and `after` are the canonical JSON texts as stored."""
    id: int
    at: int
    actor: str
    action: str
    subject: str
    before: str
    after: str
    prev_hash: str
    hash: str

    @property
    def before_value(self) -> Any:
        return json.loads(self.before)

    @property
    def after_value(self) -> Any:
        return json.loads(self.after)

    def as_dict(self) -> dict[str, Any]:
        """The entry with before/after decoded, for JSON output."""
        row = asdict(self)
        row["before"], row["after"] = self.before_value, self.after_value
        return row


def entry_hash(id: int, at: int, actor: str, action: str, subject: str, before: str,
               after: str, prev_hash: str) -> str:
    """SHA-256 over a JSON array of the fields: no separator can be forged inside a field."""
    record = [FORMAT, id, at, actor, action, subject, before, after, prev_hash]
    text = json.dumps(record, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _check_name(field: str, value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise AuditError(f"audit {field} must be a non-empty text, not {value!r}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise AuditError(f"audit {field} is not valid text: {value!r}") from None


def append(db: sqlite_utils.Database, *, actor: str, action: str, subject: str,
           before: Any, after: Any, at: int | None = None) -> AuditEntry:
    """Add one entry at the end of the chain and return it.

    `actor` is who did it ("cli:nguyenvana", "system"), `action` what ("roster.change"),
    `subject` to what ("officer:HK-0001/2026-11"); `before`/`after` are any JSON values
    (None for "did not exist"). Call it inside the transaction that makes the change.
    """
    for field, value in (("actor", actor), ("action", action), ("subject", subject)):
        _check_name(field, value)
    at = int(time.time() * 1000) if at is None else at
    if isinstance(at, bool) or not isinstance(at, int) or not 0 <= at <= MAX_AT:
        raise AuditError(f"audit time must be unix milliseconds, not {at!r}")
    before_text, after_text = canonical_json(before), canonical_json(after)
    # The caller's transaction decides; alone, the lock is taken before the last hash is
    # read, so the chain never forks (and prev_hash is UNIQUE besides).
    with write_transaction(db):
        last = db.execute(f"SELECT id, hash FROM {TABLE} ORDER BY id DESC LIMIT 1").fetchone()
        used = db.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", [TABLE]).fetchone()
        # Past the highest id ever used, not just the highest present: after the last entries
        # were deleted, the next one leaves a gap that `verify` reports.
        new_id = max(last[0] if last else 0, used[0] if used else 0) + 1
        prev_hash = last[1] if last else GENESIS
        digest = entry_hash(new_id, at, actor, action, subject, before_text, after_text,
                            prev_hash)
        entry = AuditEntry(new_id, at, actor, action, subject, before_text, after_text,
                           prev_hash, digest)
        db.execute(f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES "
                   f"({', '.join('?' * len(COLUMNS))})", list(asdict(entry).values()))
    return entry


def head(db: sqlite_utils.Database) -> tuple[int, str] | None:
    """(id, hash) of the last entry, the anchor to keep outside the database; None if empty."""
    row = db.execute(f"SELECT id, hash FROM {TABLE} ORDER BY id DESC LIMIT 1").fetchone()
    return (row[0], row[1]) if row else None


def recent(db: sqlite_utils.Database, limit: int | None = 20) -> list[AuditEntry]:
    """The last `limit` entries (all if None), newest first."""
    sql = f"SELECT {', '.join(COLUMNS)} FROM {TABLE} ORDER BY id DESC"
    params: list[int] = []
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return [AuditEntry(*row) for row in db.execute(sql, params)]


@dataclass(frozen=True)
class Verification:
    """What `verify` found. `entries` and `head` count the sound part before any break.

    `reason` is None when intact, else one of:
    "missing" (no audit_log table), "gap" (entries before `broken_id` deleted), "edited" (the
    entry's content does not match its hash: edited, or moved from another position),
    "unlinked" (its link does not match the entry before: that one was rewritten with a fresh
    hash), "truncated" (entries from `broken_id` on deleted), "anchor" (the anchor's entry has
    another hash: the log was rewritten up to there).
    """
    entries: int
    head: tuple[int, str] | None
    broken_id: int | None = None
    reason: str | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.reason is None


def verify(db: sqlite_utils.Database,
           anchor: tuple[int, str] | None = None) -> Verification:
    """Recompute the chain; stop at the first entry that does not fit.

    `anchor` is an (id, hash) written down earlier from `head()`: the entry with that id must
    still carry that hash, and must still exist.
    """
    if not db[TABLE].exists():
        return Verification(0, None, None, "missing",
                            f"there is no {TABLE} table: dropped, or the collector has never "
                            "migrated this database")
    with _read_snapshot(db):
        return _walk(db, anchor)


@contextmanager
def _read_snapshot(db: sqlite_utils.Database) -> Iterator[None]:
    """Rows and sqlite_sequence read from one snapshot, so a concurrent append cannot look
    like a truncation."""
    if db.conn.in_transaction:
        yield
        return
    db.conn.execute("BEGIN")
    try:
        yield
    finally:
        db.conn.rollback()


def _walk(db: sqlite_utils.Database, anchor: tuple[int, str] | None) -> Verification:
    count, last_id, last_hash = 0, 0, GENESIS

    def broken(broken_id: int, reason: str, detail: str) -> Verification:
        return Verification(count, (last_id, last_hash) if count else None, broken_id, reason,
                            detail)

    for row in db.execute(f"SELECT {', '.join(COLUMNS)} FROM {TABLE} ORDER BY id"):
        entry = AuditEntry(*row)
        if entry.id != last_id + 1:
            missing = (f"entry {last_id + 1} is" if entry.id == last_id + 2
                       else f"entries {last_id + 1} to {entry.id - 1} are")
            return broken(entry.id, "gap", f"{missing} missing (deleted)")
        fields = asdict(entry)
        del fields["hash"]
        if entry_hash(**fields) != entry.hash:
            return broken(entry.id, "edited", "its content does not match its hash "
                                              "(edited, or moved from another position)")
        if entry.prev_hash != last_hash:
            return broken(entry.id, "unlinked",
                          f"its link does not match entry {last_id}'s hash (that entry was "
                          "rewritten with a fresh hash)" if last_id else
                          "the first entry does not start the chain (entries before it were "
                          "deleted and ids renumbered)")
        if anchor is not None and entry.id == anchor[0] and entry.hash != anchor[1]:
            return broken(entry.id, "anchor", "its hash is not the anchor's (the log was "
                                              "rewritten up to here)")
        count, last_id, last_hash = count + 1, entry.id, entry.hash
    used = db.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", [TABLE]).fetchone()
    end = max(used[0] if used and used[0] is not None else 0,
              anchor[0] if anchor is not None else 0)
    if end > last_id:
        missing = (f"entry {end} was" if end == last_id + 1
                   else f"entries {last_id + 1} to {end} were")
        return broken(last_id + 1, "truncated", f"{missing} deleted from the end")
    return Verification(count, (last_id, last_hash) if count else None)


def parse_anchor(text: str) -> tuple[int, str]:
    """"ID:HASH" as printed by `hailong audit verify` → (id, hash)."""
    id_text, sep, digest = text.strip().partition(":")
    digest = digest.lower()
    if (not sep or not id_text.isdigit() or int(id_text) < 1 or len(digest) != 64
            or any(c not in "0123456789abcdef" for c in digest)):
        raise ValueError(f"expected an anchor ID:HASH (e.g. 12:{'ab' * 32}), got {text!r}")
    return int(id_text), digest
