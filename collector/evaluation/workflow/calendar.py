"""Due dates of the workflow of a month or a quarter, and lateness against them.

A period — a month, or a quarter under a quarterly policy ("2026-Q1", collector/core/periods.py)
— is evaluated in the first days after it: the officer's self-evaluation (open from
SELF_OPENS_DAY of the period's last month), then the direct leader's review, then the head's
decision, both only once the period is over (`Calendar.review_opens`, the day after its last
day: 1 April for 2026-Q1): a score decided earlier would count the period's last tasks as not
done. Default due dates count from the period's end, in the month after it. The defaults
below are this deployment's choice (the decrees fix no day); a period may carry its own dates
in the `workflow_calendar` table (keyed by the period's key), set by the head of a top-level
unit through `WorkflowService.set_calendar` (steps.py), which writes the row and its audit
entry. Dates are local (UTC+7) ISO dates; a step is late once its due day has passed, the due
day itself still being on time (as for task deadlines, collector/evaluation/tasks.py).

Pure except `calendar_for`, which reads one row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import sqlite_utils

from collector.core.errors import BilingualError
from collector.core.periods import Period, PeriodError, parse_period

# The self-evaluation opens on this day of the period's last month (of the month itself):
# late enough that most of the period's work is on record, early enough for an officer who is
# away in its last days.
SELF_OPENS_DAY = 25
# Default due days, in the month after the period evaluated.
SELF_DUE_DAY = 3
REVIEW_DUE_DAY = 5
DECISION_DUE_DAY = 7
STEPS = ("self", "review", "decision")
# A period's dates may be set at most this long after it: enough to catch up on a backlog,
# short enough to refuse a typo in the year.
MAX_LAG = timedelta(days=366)


class CalendarError(BilingualError):
    """Due dates that cannot be set; `vi` and `en` say why."""


@dataclass(frozen=True)
class Calendar:
    month: str  # the period's key: "YYYY-MM" or "YYYY-Qn"
    opens: date  # first day the self-evaluation may be written
    self_due: date
    review_due: date
    decision_due: date
    source: str  # "default" or "set" (a row of workflow_calendar)
    set_by: str | None = None
    set_at: int | None = None

    @property
    def review_opens(self) -> date:
        """First day of the leader's review and the head's decision: the period is over."""
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


def _period(month: str) -> Period:
    try:
        return parse_period(month)
    except PeriodError as error:
        raise CalendarError(error.vi, error.en) from None


def first_day(month: str) -> date:
    """A month's or a quarter's first day; CalendarError (a ValueError) when malformed."""
    return _period(month).first_day


def next_month_day(month: str, day: int) -> date:
    """Day `day` of the month after the period `month` (after a quarter's last month)."""
    return _period(month).end_day.replace(day=day)


def opens_on(month: str) -> date:
    """The self-evaluation's first day: SELF_OPENS_DAY of the period's last month."""
    return _period(month).last_month_first_day.replace(day=SELF_OPENS_DAY)


def _over_words(month: str) -> tuple[str, str]:
    """'the month' / 'the quarter', as the refusals say what must be over first."""
    return ("quý", "quarter") if _period(month).kind == "quarter" else ("tháng", "month")


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
    """A period's own due dates, checked: in step order, none before the self-evaluation
    opens, the review and the decision not before the period is over, none more than MAX_LAG
    after its end; CalendarError otherwise."""
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
        vi, en = _over_words(month)
        raise CalendarError(f"review_due: lãnh đạo chỉ nhận xét khi {vi} đã kết thúc, hạn "
                            f"không được trước ngày {over.strftime('%d/%m/%Y')}",
                            f"review_due: the leader reviews once the {en} is over, so it "
                            f"cannot be due before {over.isoformat()}")
    latest = over + MAX_LAG
    if dates[2] > latest:
        raise CalendarError(f"decision_due: không được sau {latest.strftime('%d/%m/%Y')}",
                            f"decision_due: cannot be after {latest.isoformat()}")
    return Calendar(month, opens, *dates, "set", set_by, set_at)


def calendar_for(db: sqlite_utils.Database, month: str) -> Calendar:
    """The period's due dates: its own row if one was set, else the defaults."""
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
