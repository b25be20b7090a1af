"""Officers' written responses to a month's evaluation (ý kiến phản hồi của cán bộ): appeals.

An officer may attach a written response to any month up to the current one: to contest the
evidence (a counter that was offline, presses attributed to the wrong person), the leader's
review or the head's decision. Responses are appended and never edited or deleted (the table
has no update path here): what was said stays as it was said, with when. Each one commits in
one transaction with its audit entry (action "evaluation.response", actor "officer:ID",
subject "evaluation:ID/YYYY-MM", as the workflow names an officer-month).

Who: only the officer themself writes (`may_respond`, pure); anyone who may see the officer
reads (the caller checks the account's scope). Writes go through `ResponseService` on a
writer's connection, reads through `list_responses` on any connection. Like
collector/evaluation/workflow/steps.py this module writes its own table (migration 0009 in
schema.py), under `store.write_transaction` so the row and its audit entry commit together or
not at all.
Errors carry Vietnamese and English text: `ResponseError` (bad input, 422), `ResponseNotFound`
(404), `ResponseForbidden` (403).
"""

from __future__ import annotations

from datetime import date
from typing import Any, Callable

import sqlite_utils

from collector.db import audit
from collector.org import directory
from collector.accounts.permissions import ALLOWED, Permission
from collector.db.store import now_ms, write_transaction
from collector.core.texts import checked_text
from collector.core.periods import MONTH, PeriodError, check_period
from collector.evaluation.workflow.status import local_today

ACTION = "evaluation.response"
# Long enough for a reasoned appeal (about a page); short enough that a pasted document or a
# runaway script does not fill the audit log.
MAX_TEXT = 4000
MAX_PAGE = 200


class ResponseError(ValueError):
    """A response that cannot be written or read; `vi` and `en` say why."""

    def __init__(self, vi: str, en: str):
        super().__init__(f"{vi} / {en}")
        self.vi, self.en = vi, en


class ResponseNotFound(ResponseError):
    """The officer named does not exist."""


class ResponseForbidden(ResponseError):
    """The acting officer may not respond for this officer."""


# --- pure checks ----------------------------------------------------------------------------

def may_respond(officer_id: str, actor: str | None) -> Permission:
    """Only the officer themself writes a response to their month: a leader's or head's view
    already has its own place (the review's comment, the decision's note)."""
    if actor is not None and actor == officer_id:
        return ALLOWED
    return Permission(False, f"Chỉ cán bộ {officer_id} được gửi ý kiến phản hồi về tháng đánh "
                             "giá của mình",
                      f"Only {officer_id} may attach a response to their own month")


def check_month(month: Any, today: date, period: str = MONTH) -> str:
    """'YYYY-MM' (a quarter 'YYYY-Qn' when `period`, the policy's, is "quarter") that has
    started by `today`."""
    try:
        checked = check_period(month, period)
    except PeriodError as error:
        raise ResponseError(error.vi, error.en) from None
    if checked.first_day > today:
        raise ResponseError(f"{checked.label('vi')} chưa bắt đầu: chưa thể gửi ý kiến phản hồi",
                            f"{month} has not started: there is nothing to respond to yet")
    return month


def check_text(value: Any) -> str:
    """Stripped, NFC-composed text of 1..MAX_TEXT characters."""
    return checked_text(value, "text", MAX_TEXT, ResponseError,
                        missing=("ý kiến phản hồi không được để trống",
                                 "the response must not be empty"))


def _officer_or_404(db: sqlite_utils.Database, officer_id: Any) -> str:
    if not isinstance(officer_id, str) or directory.get_officer(db, officer_id) is None:
        raise ResponseNotFound(f"Không tìm thấy cán bộ {officer_id!r}",
                               f"No officer {officer_id!r}")
    return officer_id


# --- reads ----------------------------------------------------------------------------------

def list_responses(db: sqlite_utils.Database, officer_id: str, month: str, *,
                   limit: int = 50, offset: int = 0, period: str = MONTH) -> dict[str, Any]:
    """The officer-month's (or quarter's: `period`, the policy's) responses, oldest first:
    {"officer_id", "month", "items", "total", "limit", "offset"}; each item {id, officer_id,
    month, actor, actor_name, at, text}."""
    _officer_or_404(db, officer_id)
    try:
        check_period(month, period)
    except PeriodError as error:
        raise ResponseError(error.vi, error.en) from None
    if not 1 <= limit <= MAX_PAGE or offset < 0:
        raise ResponseError(f"limit từ 1 đến {MAX_PAGE}, offset không âm",
                            f"limit must be 1 to {MAX_PAGE} and offset not negative")
    total = db.execute("SELECT COUNT(*) FROM evaluation_responses WHERE officer_id = ? "
                       "AND month = ?", [officer_id, month]).fetchone()[0]
    items = [dict(row) for row in db.query(
        "SELECT r.id, r.officer_id, r.month, r.actor, o.name AS actor_name, r.at, r.text "
        "FROM evaluation_responses r LEFT JOIN officers o ON o.id = r.actor "
        "WHERE r.officer_id = ? AND r.month = ? ORDER BY r.id LIMIT ? OFFSET ?",
        [officer_id, month, limit, offset])]
    return {"officer_id": officer_id, "month": month, "items": items, "total": total,
            "limit": limit, "offset": offset}


# --- the service ----------------------------------------------------------------------------

class ResponseService:
    """Appends responses on a writer's connection, each with its audit entry."""

    def __init__(self, db: sqlite_utils.Database, *, clock: Callable[[], int] = now_ms,
                 today: Callable[[], date] = local_today, period: str = MONTH):
        self.db = db
        self.period = period  # the policy's: responses attach to a month or a quarter
        self.clock = clock
        self.today = today

    def add(self, officer_id: str, month: str, actor: str | None, text: Any) -> dict[str, Any]:
        """Append `actor`'s response to `officer_id`'s month; the stored response."""
        _officer_or_404(self.db, officer_id)
        permission = may_respond(officer_id, actor)
        if not permission:
            raise ResponseForbidden(permission.vi, permission.en)
        month = check_month(month, self.today(), self.period)
        text = check_text(text)
        at = self.clock()
        with write_transaction(self.db):
            cursor = self.db.execute(
                "INSERT INTO evaluation_responses (officer_id, month, actor, at, text) "
                "VALUES (?, ?, ?, ?, ?)", [officer_id, month, actor, at, text])
            response_id = cursor.lastrowid
            audit.append(self.db, actor=f"officer:{actor}", action=ACTION,
                         subject=f"evaluation:{officer_id}/{month}", before=None,
                         after={"response_id": response_id, "text": text, "at": at}, at=at)
        row = self.db.execute("SELECT name FROM officers WHERE id = ?", [actor]).fetchone()
        return {"id": response_id, "officer_id": officer_id, "month": month, "actor": actor,
                "actor_name": row[0] if row else None, "at": at, "text": text}
