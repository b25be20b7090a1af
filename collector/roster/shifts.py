"""The duty roster: who staffs which counter when, with history, and re-attribution of ratings.

A shift puts one officer at one counter over [starts_at, ends_at) in unix ms; ends_at None
means "until further notice". Rules, checked inside the write's transaction (which holds the
write lock from its first statement, so two writers cannot both pass them):

- a shift ends after it starts, within 2020–2100 like the ratings' clock;
- no two current shifts overlap on one counter, and no officer is at two counters at once;
- an officer with active dates is rostered only within them (an open-ended shift for an
  officer who leaves on a known day is refused: it must end by then).

Nothing is overwritten: a correction gives the old row replaced_at/replaced_by and writes a new
row with the change; a cancellation sets replaced_at with replaced_by NULL. `shifts(...,
include_history=True)` shows both.

Every change re-attributes, in the same transaction, the ratings it can affect: those pressed
within the old or the new shift window on a device that stood at the affected counter(s) then,
each decided again (`attribution.reattribute`, by `attribute`, the single rule the ingest
uses) from the corrected roster alone: where no shift covers a press any more it belongs to
nobody ("none"). The officer the device showed is the ingest's fallback for a press the roster
never covered; once the roster has been corrected, what the device showed then (it showed what
the mistaken roster told it) does not keep the ratings with that officer. The audit entry
(actions roster.add / roster.correct / roster.cancel, subject "shift:ID") says how many moved
from whom to whom, e.g. {"reattributed": {"HK-0001→HK-0003": 12}} ("—" = nobody).

Scope (issue 10). A service given the account's `Scope` refuses (`RosterForbidden`) any
change that touches a unit outside it: the counter's and the officer's, of the shift as it was
and as it becomes, and every officer whose ratings the re-attribution would move (checked
after the moves, inside the transaction, so a refusal leaves everything as it was). Its
refusals and conflicts name only what the caller's scope covers: a clash with a shift of
another unit's officer or counter says so without naming them. Without a scope (the CLI, the
demo) everything is in scope.

Every write of `roster_shifts` is in this module: the service's, and `assign`, a seeding
shortcut (the demo, the simulator) that ends shifts in place and re-attributes nothing; the
service does not use it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

import sqlite_utils

from collector.ratings import alerts
from collector.db import audit
from collector.org import directory
from collector.roster import duty
from collector.core.errors import BilingualError
from collector.protocol.messages import TS_MAX_MS, TS_MIN_MS
from collector.accounts.scope import Scope
from collector.db.store import Store, now_ms, require, write_transaction
from collector.roster.attribution import Window, moved_officers, reattribute
from collector.core.texts import checked_text
from collector.core.timeline import LOCAL_TZ, local_datetime

MAX_TEXT = 500  # a note or a reason
_KEEP: Any = object()  # correct_shift: this field stays as it is


class RosterError(BilingualError):
    """A roster request that cannot be done; `vi` and `en` say why."""


class RosterNotFound(RosterError):
    """The shift addressed does not exist."""


class RosterConflict(RosterError):
    """The change would break the roster: overlapping shifts, or a shift already replaced."""


class RosterForbidden(RosterError):
    """The change touches a counter, an officer or ratings outside the caller's scope."""


# --- time ----------------------------------------------------------------------------------

def parse_time(value: Any, field: str) -> int:
    """An ISO 8601 date-time (local UTC+7 when it has no offset) or unix ms → unix ms."""
    if isinstance(value, int) and not isinstance(value, bool):
        at = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise RosterError(f"{field}: thời điểm không hợp lệ {value!r}, cần dạng ISO 8601 "
                              "(ví dụ 2026-03-02T07:30, giờ Việt Nam)",
                              f"{field}: invalid time {value!r}, expected ISO 8601 (e.g. "
                              "2026-03-02T07:30, Vietnam time)") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=LOCAL_TZ)
        at = int(moment.timestamp() * 1000)
    else:
        raise RosterError(f"{field}: cần thời điểm dạng ISO 8601",
                          f"{field}: expected an ISO 8601 time")
    if not TS_MIN_MS <= at < TS_MAX_MS:
        raise RosterError(f"{field}: thời điểm phải trong khoảng 2020–2099",
                          f"{field}: the time must be within 2020–2099")
    return at


def format_time(at: int | None) -> str | None:
    """Unix ms → local ISO 8601 with its offset, e.g. 2026-03-02T07:30:00+07:00."""
    return None if at is None else local_datetime(at).isoformat(timespec="seconds")


def _local_text(at: int | None) -> str:
    """For messages: 02/03/2026 07:30, or "until further notice" in both languages."""
    return "không thời hạn" if at is None else local_datetime(at).strftime("%d/%m/%Y %H:%M")


def _text(value: Any, field: str, *, required: bool) -> str | None:
    return checked_text(value, field, MAX_TEXT, RosterError, required=required,
                        missing=("cần ghi rõ lý do", "a reason is required"))


def describe(shift: dict[str, Any]) -> dict[str, Any]:
    """A stored shift as the API shows it: plus local times and whether it is current."""
    return {**shift, "starts": format_time(shift["starts_at"]),
            "ends": format_time(shift["ends_at"]), "current": shift["replaced_at"] is None}


def _audit_view(shift: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "counter_id", "officer_id", "starts_at", "ends_at", "note")
    return {**{k: shift[k] for k in keys}, "starts": format_time(shift["starts_at"]),
            "ends": format_time(shift["ends_at"])}


# --- the seeding shortcut --------------------------------------------------------------------

def open_assignment(db: sqlite_utils.Database, device_id: str) -> dict | None:
    """The roster shift on duty now at the device's counter, or None (closed)."""
    at = now_ms()
    rows = list(db.query(
        "SELECT r.officer_id, r.starts_at FROM roster_shifts r JOIN devices d "
        "ON d.counter_id = r.counter_id WHERE d.id = ? AND r.replaced_at IS NULL "
        "AND r.starts_at <= ? AND (r.ends_at IS NULL OR r.ends_at > ?) "
        "ORDER BY r.starts_at DESC LIMIT 1", [device_id, at, at]))
    return rows[0] if rows else None


def assign(db: sqlite_utils.Database, device_id: str, officer_id: str | None,
           at: int | None = None, *, actor: str = "system") -> None:
    """Staff the device's counter with `officer_id` from `at` until further notice.

    The shift open at `at` ends there; None leaves the counter closed. A shortcut over the
    roster for seeding and the simulator: it ends shifts in place, checks none of the
    service's rules, writes no audit entry and re-attributes nothing (`RosterService` does
    all of that for corrections of the past).
    """
    at = now_ms() if at is None else at
    with write_transaction(db):
        require(db, "devices", device_id)
        if officer_id is not None:
            require(db, "officers", officer_id)
        counter_id = db.execute("SELECT counter_id FROM devices WHERE id = ?",
                                [device_id]).fetchone()[0]
        db.execute("UPDATE roster_shifts SET ends_at = ? WHERE counter_id = ? "
                   "AND replaced_at IS NULL AND starts_at < ? "
                   "AND (ends_at IS NULL OR ends_at > ?)", [at, counter_id, at, at])
        if officer_id is not None:
            db.execute("INSERT INTO roster_shifts (counter_id, officer_id, starts_at, "
                       "created_at, created_by) VALUES (?, ?, ?, ?, ?)",
                       [counter_id, officer_id, at, now_ms(), actor])


# --- the service ---------------------------------------------------------------------------

class RosterService:
    """Roster writes on one `Store`, each with its audit entry. Not thread-safe."""

    def __init__(self, store: Store, *, actor: str = "api", clock: Callable[[], int] = now_ms,
                 scope: Scope | None = None):
        self.store = store
        self.db = store.db
        self.actor = actor
        self.clock = clock
        self.scope = scope  # None: everything (the CLI, the demo)

    # reads
    def shift(self, shift_id: int) -> dict[str, Any]:
        row = duty.get_shift(self.db, shift_id)
        if row is None:
            raise RosterNotFound(f"Không tìm thấy ca trực {shift_id}", f"No shift {shift_id}")
        return describe(row)

    def shifts(self, counter_id: str | None = None, officer_id: str | None = None,
               start: int | None = None, end: int | None = None,
               include_history: bool = False) -> list[dict[str, Any]]:
        """Shifts overlapping [start, end), by start; replaced and cancelled ones on request."""
        return [describe(row) for row in duty.roster_shifts(
            self.db, counter_id=counter_id, officer_id=officer_id, start=start, end=end,
            include_history=include_history)]

    # writes
    def add_shift(self, counter_id: str, officer_id: str, starts_at: int,
                  ends_at: int | None = None, note: str | None = None) -> dict[str, Any]:
        """Put `officer_id` at `counter_id` over [starts_at, ends_at) (None: until further
        notice) and re-attribute the ratings pressed there in that window."""
        note = _text(note, "note", required=False)
        at = self.clock()
        with write_transaction(self.db):
            shift = self._check(counter_id, officer_id, starts_at, ends_at, replacing=None)
            shift_id = self._insert({**shift, "note": note}, at)
            windows = [(counter_id, shift["starts_at"], shift["ends_at"])]
            moves = self._reattribute(windows)
            new = self.shift(shift_id)
            audit.append(self.db, actor=self.actor, action="roster.add",
                         subject=f"shift:{shift_id}", before=None,
                         after={**_audit_view(new), "reattributed": moves,
                                **self._alerts(windows)}, at=at)
        return new

    def correct_shift(self, shift_id: int, *, officer_id: str = _KEEP, starts_at: int = _KEEP,
                      ends_at: int | None = _KEEP, counter_id: str = _KEEP,
                      note: str | None = _KEEP, reason: str) -> dict[str, Any]:
        """Replace a current shift by a corrected one (fields not given stay); the old row is
        kept as history. Returns the new shift."""
        reason = _text(reason, "reason", required=True)
        at = self.clock()
        with write_transaction(self.db):
            old = self._current(shift_id)
            wanted = {"counter_id": counter_id, "officer_id": officer_id,
                      "starts_at": starts_at, "ends_at": ends_at}
            merged = {k: old[k] if v is _KEEP else v for k, v in wanted.items()}
            shift = self._check(**merged, replacing=shift_id)
            shift["note"] = old["note"] if note is _KEEP else _text(note, "note",
                                                                    required=False)
            if all(shift[k] == old[k] for k in shift):
                raise RosterError("Không có thay đổi nào so với ca trực hiện tại",
                                  "Nothing differs from the current shift")
            new_id = self._insert(shift, at)
            self.db.execute("UPDATE roster_shifts SET replaced_at = ?, replaced_by = ? "
                            "WHERE id = ?", [at, new_id, shift_id])
            windows = [(old["counter_id"], old["starts_at"], old["ends_at"]),
                       (shift["counter_id"], shift["starts_at"], shift["ends_at"])]
            moves = self._reattribute(windows)
            new = self.shift(new_id)
            audit.append(self.db, actor=self.actor, action="roster.correct",
                         subject=f"shift:{shift_id}", before=_audit_view(old),
                         after={**_audit_view(new), "reason": reason, "reattributed": moves,
                                **self._alerts(windows)}, at=at)
        return new

    def cancel_shift(self, shift_id: int, reason: str) -> dict[str, Any]:
        """Withdraw a current shift (kept as history); its ratings go to whoever the roster
        then names, else to nobody. Returns the cancelled shift."""
        reason = _text(reason, "reason", required=True)
        at = self.clock()
        with write_transaction(self.db):
            old = self._current(shift_id)
            self.db.execute("UPDATE roster_shifts SET replaced_at = ?, replaced_by = NULL "
                            "WHERE id = ?", [at, shift_id])
            windows = [(old["counter_id"], old["starts_at"], old["ends_at"])]
            moves = self._reattribute(windows)
            audit.append(self.db, actor=self.actor, action="roster.cancel",
                         subject=f"shift:{shift_id}", before=_audit_view(old),
                         after={"cancelled": True, "reason": reason, "reattributed": moves,
                                **self._alerts(windows)}, at=at)
            return self.shift(shift_id)

    # machinery
    def _current(self, shift_id: int) -> dict[str, Any]:
        shift = self.shift(shift_id)
        if not self._sees_shift(shift):
            raise RosterForbidden(
                "Ca trực này thuộc quầy hoặc cán bộ ngoài phạm vi tài khoản của bạn",
                "This shift is at a counter or of an officer outside your account's scope")
        if not shift["current"]:
            successor = shift["replaced_by"]
            if successor is not None and not self._sees_shift(self.shift(successor)):
                successor = None  # the correction moved it out of the caller's scope
            raise RosterConflict(
                f"Ca trực {shift_id} đã được thay thế hoặc hủy lúc "
                f"{_local_text(shift['replaced_at'])}; hãy sửa ca hiện hành "
                f"{successor or ''}".rstrip(),
                f"Shift {shift_id} was already replaced or cancelled at "
                f"{format_time(shift['replaced_at'])}; correct the current one "
                f"{successor or ''}".rstrip())
        return shift

    # scope: what the caller may touch (everything without a scope)
    def _sees_counter(self, unit_id: str | None) -> bool:
        return self.scope is None or self.scope.sees_unit(unit_id)

    def _sees_officer(self, officer_id: str | None) -> bool:
        if self.scope is None or officer_id is None:
            return True
        row = self.db.execute("SELECT unit_id FROM officers WHERE id = ?",
                              [officer_id]).fetchone()
        return self.scope.sees_officer(officer_id, row[0] if row else None)

    def _sees_shift(self, shift: dict[str, Any]) -> bool:
        return self._sees_counter(shift["unit_id"]) and self._sees_officer(shift["officer_id"])

    def _reattribute(self, windows: list[Window]) -> dict[str, int]:
        """`reattribute`, refused when it would move ratings of someone outside the scope
        (raised inside the write's transaction: nothing moves)."""
        moves = reattribute(self.db, windows)
        if not all(self._sees_officer(officer) for officer in moved_officers(moves)):
            raise RosterForbidden(
                "Thay đổi này sẽ chuyển các lượt đánh giá của một cán bộ ngoài phạm vi tài "
                "khoản của bạn; hãy đề nghị cấp có thẩm quyền thực hiện",
                "This change would move ratings of an officer outside your account's scope; "
                "ask someone whose scope covers them")
        return moves

    def _alerts(self, windows: list[Window]) -> dict[str, Any]:
        """Name again the officer of the alerts the windows reach; for the audit entry."""
        changed = alerts.refresh_officers(self.db, windows)
        return {"alerts_reattributed": changed} if changed else {}

    def _insert(self, shift: dict[str, Any], at: int) -> int:
        return self.db.execute(
            "INSERT INTO roster_shifts (counter_id, officer_id, starts_at, ends_at, note, "
            "created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [shift["counter_id"], shift["officer_id"], shift["starts_at"], shift["ends_at"],
             shift["note"], at, self.actor]).lastrowid

    def _check(self, counter_id: Any, officer_id: Any, starts_at: Any, ends_at: Any, *,
               replacing: int | None) -> dict[str, Any]:
        """The shift's fields, checked against the rules and the other current shifts."""
        counter = (directory.get_counter(self.db, counter_id)
                   if isinstance(counter_id, str) else None)
        if counter is None:
            raise RosterError(f"counter_id: không tìm thấy quầy {counter_id!r}",
                              f"counter_id: no counter {counter_id!r}")
        if not self._sees_counter(counter["unit_id"]):
            # Like collector/web/auth.py, a scope refusal names nothing, not even the id asked
            # for: it is another unit's.
            raise RosterForbidden("counter_id: quầy này ngoài phạm vi tài khoản của bạn",
                                  "counter_id: this counter is outside your account's scope")
        officer = (directory.org_record(self.db, "officers", officer_id)
                   if isinstance(officer_id, str) else None)
        if officer is None:
            raise RosterError(f"officer_id: không tìm thấy cán bộ {officer_id!r}",
                              f"officer_id: no officer {officer_id!r}")
        if not self._sees_officer(officer_id):
            raise RosterForbidden("officer_id: cán bộ này ngoài phạm vi tài khoản của bạn",
                                  "officer_id: this officer is outside your account's scope")
        starts_at = parse_time(starts_at, "starts_at")
        ends_at = None if ends_at is None else parse_time(ends_at, "ends_at")
        if ends_at is not None and ends_at <= starts_at:
            raise RosterError("ends_at: ca trực phải kết thúc sau khi bắt đầu",
                              "ends_at: a shift must end after it starts")
        self._check_active(officer, starts_at, ends_at)
        for column, value in (("counter_id", counter_id), ("officer_id", officer_id)):
            clash = self.db.execute(
                f"SELECT id, counter_id, officer_id, starts_at, ends_at FROM roster_shifts "
                f"WHERE {column} = ? AND replaced_at IS NULL AND id IS NOT ? "
                "AND starts_at < ? AND (ends_at IS NULL OR ends_at > ?) ORDER BY starts_at "
                "LIMIT 1", [value, replacing, TS_MAX_MS if ends_at is None else ends_at,
                            starts_at]).fetchone()
            if clash:
                self._refuse_overlap(column, *clash)
        return {"counter_id": counter_id, "officer_id": officer_id, "starts_at": starts_at,
                "ends_at": ends_at}

    @staticmethod
    def _check_active(officer: dict[str, Any], starts_at: int, ends_at: int | None) -> None:
        first, last = officer["active_from"], officer["active_to"]
        if first and local_datetime(starts_at).date().isoformat() < first:
            raise RosterError(f"starts_at: cán bộ {officer['id']} chỉ công tác từ ngày {first}",
                              f"starts_at: officer {officer['id']} is active from {first}")
        # ends_at is exclusive: a shift ending at midnight ends on the day before.
        if last and (ends_at is None
                     or local_datetime(ends_at - 1).date().isoformat() > last):
            raise RosterError(f"ends_at: cán bộ {officer['id']} công tác đến hết ngày {last}; "
                              "ca trực phải kết thúc trước đó",
                              f"ends_at: officer {officer['id']} is active until {last}; the "
                              "shift must end by then")

    def _refuse_overlap(self, column: str, shift_id: int, counter_id: str, officer_id: str,
                        starts_at: int, ends_at: int | None) -> None:
        """A conflict naming the clashing shift only as far as the caller's scope covers it:
        the counter asked about and the officer asked about are the caller's own words."""
        span_vi = f"{_local_text(starts_at)} – {_local_text(ends_at)}"
        span_en = f"{format_time(starts_at)} – {format_time(ends_at) or 'until further notice'}"
        counter = directory.get_counter(self.db, counter_id)
        shown = self._sees_counter(counter and counter["unit_id"]) and \
            self._sees_officer(officer_id)
        if column == "counter_id":
            if not shown:
                raise RosterConflict(
                    f"Quầy {counter_id} đã có ca trực của một cán bộ ngoài phạm vi tài khoản "
                    f"của bạn ({span_vi}); hãy đề nghị cấp có thẩm quyền điều chỉnh",
                    f"Counter {counter_id} already has a shift of an officer outside your "
                    f"account's scope ({span_en}); ask someone whose scope covers it")
            raise RosterConflict(
                f"Quầy {counter_id} đã có ca trực {shift_id} của {officer_id} ({span_vi}); "
                "hãy sửa hoặc hủy ca đó trước",
                f"Counter {counter_id} already has shift {shift_id} of {officer_id} "
                f"({span_en}); correct or cancel it first")
        if not shown:
            raise RosterConflict(
                f"Cán bộ {officer_id} đang trực tại một quầy ngoài phạm vi tài khoản của bạn "
                f"({span_vi}); một người không trực hai quầy cùng lúc",
                f"Officer {officer_id} is on shift at a counter outside your account's scope "
                f"({span_en}); nobody staffs two counters at once")
        raise RosterConflict(
            f"Cán bộ {officer_id} đang trực quầy {counter_id} trong ca {shift_id} ({span_vi}); "
            "một người không trực hai quầy cùng lúc",
            f"Officer {officer_id} is on shift {shift_id} at counter {counter_id} ({span_en}); "
            "nobody staffs two counters at once")
