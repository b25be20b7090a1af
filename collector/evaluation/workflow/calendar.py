"""Due dates of the monthly workflow, and lateness against them.

A month is evaluated in the first days of the following month: the officer's self-evaluation
(open from SELF_OPENS_DAY of the month itself), then the direct leader's review, then the
head's decision, both only once the month is over (`Calendar.review_opens`, the 1st of the
next month): a score decided earlier would count the month's last tasks as not done. The
defaults below are this deployment's choice (the decrees fix no day); a month may carry its
own dates in the `workflow_calendar` table, set by the head of a top-level unit through
`WorkflowService.set_calendar` (steps.py), which writes the row and its audit entry. Dates are
local (UTC+7) ISO dates; a step is late once its due day has passed, the due day itself still
being on time (as for task deadlines, collector/evaluation/tasks.py).

Pure except `calendar_for`, which reads one row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import sqlite_utils

from collector.core.errors import BilingualError
from collector.core.timeline import month_bounds

# The self-evaluation opens on this day of the month itself: late enough that most of the
# month's work is on record, early enough for an officer who is away in the month's last days.
SELF_OPENS_DAY = 25
# Default due days, in the month after the one evaluated.
SELF_DUE_DAY = 3
REVIEW_DUE_DAY = 5
DECISION_DUE_DAY = 7
STEPS = ("self", "review", "decision")
# A month's dates may be set at most this long after the month: enough to catch up on a
# backlog, short enough to refuse a typo in the year.
MAX_LAG = timedelta(days=366)


class CalendarError(BilingualError):
    """Due dates that cannot be set; `vi` and `en` say why."""


@dataclass(frozen=True)
class Calendar:
    month: str
    opens: date  # first day the self-evaluation may be written
    self_due: date
    review_due: date
    decision_due: date
    source: str  # "default" or "set" (a row of workflow_calendar)
    set_by: str | None = None
    set_at: int | None = None

    @property
    def review_opens(self) -> date:
        """First day of the leader's review and the head's decision: the month is over."""
        return next_month_day(self.month, 1)

    def due(self, step: str) -> date:
        return {"self": self.self_due, "review": self.review_due,
                "decision": self.decision_due}[step]

    def as_dict(self) -> dict[str, Any]:
        return {"month": self.month, "opens": self.opens.isoformat(),
                "self_due": self.self_due.isoformat(),
                "review_due": self.review_due.isoformat(),
                "decision_due": self.decision_due.isoformat(), "source": self.source,
                "set_by": self.set_by, "set_at": self.set_at}


def first_day(month: str) -> date:
    """'YYYY-MM' → its first day; ValueError on a malformed month."""
    month_bounds(month)
    return date(int(month[:4]), int(month[5:]), 1)


def next_month_day(month: str, day: int) -> date:
    """Day `day` of the month after `month`."""
    start = first_day(month)
    return date(start.year + (start.month == 12), start.month % 12 + 1, day)


def opens_on(month: str) -> date:
    return first_day(month).replace(day=SELF_OPENS_DAY)


def default_calendar(month: str) -> Calendar:
    return Calendar(month, opens_on(month), next_month_day(month, SELF_DUE_DAY),
                    next_month_day(month, REVIEW_DUE_DAY),
                    next_month_day(month, DECISION_DUE_DAY), "default")


def _date(value: Any, field: str) -> date:
    if isinstance(value, date):
        return value
    try:
        if not isinstance(value, str) or len(value) != 10:
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise CalendarError(f"{field}: ngày không hợp lệ {value!r}, cần dạng YYYY-MM-DD",
                            f"{field}: invalid date {value!r}, expected YYYY-MM-DD") from None


def make_calendar(month: str, self_due: Any, review_due: Any, decision_due: Any, *,
                  set_by: str | None = None, set_at: int | None = None) -> Calendar:
    """A month's own due dates, checked: in step order, none before the self-evaluation opens,
    the review and the decision not before the month is over, none more than MAX_LAG after
    the month's end; CalendarError otherwise."""
    dates = [_date(v, f) for v, f in ((self_due, "self_due"), (review_due, "review_due"),
                                       (decision_due, "decision_due"))]
    opens = opens_on(month)
    if dates[0] < opens:
        raise CalendarError(f"self_due: hạn tự đánh giá không được trước ngày mở "
                            f"{opens.strftime('%d/%m/%Y')}",
                            f"self_due: the self-evaluation cannot be due before it opens "
                            f"on {opens.isoformat()}")
    if not dates[0] <= dates[1] <= dates[2]:
        raise CalendarError("Các hạn phải theo thứ tự: tự đánh giá ≤ nhận xét của lãnh đạo ≤ "
                            "quyết định của thủ trưởng",
                            "Due dates must be in step order: self-evaluation ≤ leader's "
                            "review ≤ head's decision")
    over = next_month_day(month, 1)
    if dates[1] < over:
        raise CalendarError(f"review_due: lãnh đạo chỉ nhận xét khi tháng đã kết thúc, hạn "
                            f"không được trước ngày {over.strftime('%d/%m/%Y')}",
                            f"review_due: the leader reviews once the month is over, so it "
                            f"cannot be due before {over.isoformat()}")
    latest = over + MAX_LAG
    if dates[2] > latest:
        raise CalendarError(f"decision_due: không được sau {latest.strftime('%d/%m/%Y')}",
                            f"decision_due: cannot be after {latest.isoformat()}")
    return Calendar(month, opens, *dates, "set", set_by, set_at)


def calendar_for(db: sqlite_utils.Database, month: str) -> Calendar:
    """The month's due dates: its own row if one was set, else the defaults."""
    row = db.execute("SELECT self_due, review_due, decision_due, set_by, set_at "
                     "FROM workflow_calendar WHERE month = ?", [month]).fetchone()
    if row is None:
        return default_calendar(month)
    return Calendar(month, opens_on(month), date.fromisoformat(row[0]),
                    date.fromisoformat(row[1]), date.fromisoformat(row[2]), "set",
                    row[3], row[4])


def is_late(due: date, done: bool, today: date) -> bool:
    """Not done and its due day is over."""
    return not done and today > due


def stage_of(self_at: int | None, reviewed_at: int | None, decided_at: int | None) -> str:
    """How far an officer-month got: not_started, self_done, reviewed or decided."""
    if decided_at is not None:
        return "decided"
    if reviewed_at is not None:
        return "reviewed"
    return "self_done" if self_at is not None else "not_started"


def progress(self_at: int | None, reviewed_at: int | None, decided_at: int | None,
             calendar: Calendar, today: date) -> dict[str, Any]:
    """Stage, the steps now awaited, and which steps are late, as of `today`.

    Awaited: the self-evaluation from its opening day until the leader reviews; the review once
    the month is over and the self-evaluation is done or its due day is over; the decision
    once reviewed. Late: not
    done and its due day is over; except that a self-evaluation the leader went ahead without
    (allowed once it was due) is "skipped" rather than late, since it can no longer be done.
    """
    stage = stage_of(self_at, reviewed_at, decided_at)
    awaiting = []
    if stage == "not_started" and today >= calendar.opens:
        awaiting.append("self")
    if today >= calendar.review_opens and (
            stage == "self_done" or (stage == "not_started" and today > calendar.self_due)):
        awaiting.append("review")
    if stage == "reviewed":
        awaiting.append("decision")
    late = {"self": self_at is None and reviewed_at is None
            and is_late(calendar.self_due, False, today),
            "review": is_late(calendar.review_due, reviewed_at is not None, today),
            "decision": is_late(calendar.decision_due, decided_at is not None, today)}
    return {"stage": stage, "open": today >= calendar.opens, "awaiting": awaiting,
            "late": late, "late_steps": [step for step in STEPS if late[step]],
            "self_skipped": reviewed_at is not None and self_at is None}
