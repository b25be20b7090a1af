"""Task records of an officer's weekly and monthly work plan: validation, service, evidence.

The writes of `tasks`, `task_updates` and `task_flags` (`add_task`, `update_task`,
`add_task_flag`: the service's and the import's), a thin service over them and `task_records`
(reads on the same connection). Every write and its audit entry commit in one transaction.
Whatever a caller can get wrong raises `TaskError` (a ValueError) carrying a Vietnamese and an
English message; `TaskNotFound` (a subclass) when the task or officer does not exist.

Dates are local (UTC+7) calendar dates written as ISO text; a task belongs to the period of
its deadline, the date the officer committed to: its month, or its quarter under a quarterly
policy (`kind`, the policy's `period`; collector/core/periods.py). Its status is judged *as
of* the end of that period or today, whichever comes first, so a past period's evidence stays
what it was when the period closed (a task finished after the period ended counts as overdue
in it; within a quarter, a task due in January and finished in February is late, not
overdue):

- completed: a completion date before the period's end; on time if not after the deadline,
  else late;
- overdue: not completed, and the deadline is before the as-of day (the deadline day itself
  is still on time);
- open: neither, i.e. still running in the current month.

Each late or overdue task is one delay (Decree 335: 25 % off its progress points); a leader
can excuse it once, with an objective cause. Major quality errors are counted per task.
`task_evidence` turns the records into `scoring.TaskEvidence`.

What a record may say (issue 10: evidence nobody can forge):
- who assigned it is whoever registers it. A service acting for an officer (`by`, as the API and
  the pages make it) records that officer: an officer's own entry is self-registered, and only
  their leader or a head over them (collector/accounts/permissions.py `may_plan_task`) assigns
  in their own name; naming anyone else is refused (`TaskForbidden`). Only a service without an
  acting officer (an import of past plans, the demo) takes `assigned_by` as given;
- no write reaches a month whose evaluation the head has decided: the decision froze that
  month's evidence and locks it until reopened (`TaskConflict`), checked inside the write's
  transaction (BEGIN IMMEDIATE, like the decision itself), so neither can slip past the other;
- a weight from MIN_WEIGHT to MAX_WEIGHT (docs/evaluation.md says why);
- a completion date not after today, and, when an officer acts, not before the day the task
  was registered. A service without an acting officer records past plans as they were (an
  import of last month's plans, the demo's history), registered today and completed then.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any, Callable, Iterable

import sqlite_utils

from collector.db import audit
from collector.org import directory
from collector.evaluation import task_records
from collector.core.errors import BilingualError
from collector.evaluation.scoring import Task, TaskEvidence
from collector.db.store import Store, UnknownEntity, now_ms, require, write_transaction
from collector.core.texts import checked_text
from collector.core.periods import (
    MONTH, QUARTER, Period, PeriodError, parse_period, period_of)
from collector.core.timeline import LOCAL_TZ, local_datetime

PERIODS = ("week", "month")
MAX_TITLE = 200
MAX_TEXT = 500  # a progress note or a reason
# Weight or converted-product count of one task: from a tenth (a small item beside the usual
# 1) to 100 (a batch of 100 dossiers). A bigger job is split into items with their own
# deadlines; a wider range would let one self-registered item outweigh a whole month's plan.
MIN_WEIGHT, MAX_WEIGHT = 0.1, 100
# Far enough either way for any work plan; refuses typos such as 0226-03-01.
FIRST_YEAR, LAST_YEAR = 2000, 2100


class TaskError(BilingualError):
    """A task request that cannot be done; `vi` and `en` say why."""


class TaskNotFound(TaskError):
    """The task, or the officer it names in the path, does not exist."""


class TaskForbidden(TaskError):
    """The acting officer may not write this: e.g. a task in someone else's name."""


class TaskConflict(TaskError):
    """The task's month is decided and locked."""


def check_not_locked(db, officer_id: str, month: str) -> None:
    """TaskConflict when the head has decided the period holding `month` (YYYY-MM, a task's
    deadline month) for the officer: the month itself, or its quarter under a quarterly policy
    (both keys are looked up, so no policy is needed). The decision froze the period's
    evidence, so no task write (service or import) may reach it until reopened."""
    quarter = period_of(parse_period(month).first_day, QUARTER).key
    row = db.execute("SELECT month FROM evaluations WHERE officer_id = ? AND month IN (?, ?) "
                     "AND decided_at IS NOT NULL", [officer_id, month, quarter]).fetchone()
    if row is not None:
        key = row[0]
        if key == month:
            vi, en = f"Tháng {month}", month
        else:
            vi, en = parse_period(key).label("vi"), key
        raise TaskConflict(
            f"{vi} của cán bộ {officer_id} đã được thủ trưởng quyết định và khoá: "
            f"không ghi thêm hay sửa nhiệm vụ của kỳ này; muốn sửa phải mở lại (thủ "
            "trưởng, có lý do)",
            f"{en} of {officer_id} is decided by the head and locked: its tasks cannot "
            "be added or changed; that needs a reopening (by the head, with a reason)")


def local_today() -> date:
    return datetime.now(LOCAL_TZ).date()


# --- validation ----------------------------------------------------------------------------

def parse_date(value: Any, field: str) -> date:
    """An ISO date (YYYY-MM-DD) → date; TaskError otherwise."""
    try:
        if not isinstance(value, str) or len(value) != 10:
            raise ValueError
        parsed = date.fromisoformat(value)
    except ValueError:
        raise TaskError(f"{field}: ngày không hợp lệ {value!r}, cần dạng YYYY-MM-DD "
                        "(ví dụ 2026-03-31)",
                        f"{field}: invalid date {value!r}, expected YYYY-MM-DD "
                        "(e.g. 2026-03-31)") from None
    if not FIRST_YEAR <= parsed.year <= LAST_YEAR:
        raise TaskError(f"{field}: năm phải từ {FIRST_YEAR} đến {LAST_YEAR}",
                        f"{field}: the year must be {FIRST_YEAR} to {LAST_YEAR}")
    return parsed


def clean_text(value: Any, field: str, limit: int) -> str:
    """Stripped, NFC-composed text of 1..limit characters; TaskError otherwise."""
    return checked_text(value, field, limit, TaskError)


def check_weight(value: Any) -> float:
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or not math.isfinite(value) or not MIN_WEIGHT <= value <= MAX_WEIGHT):
        raise TaskError(f"weight: trọng số phải là số lớn hơn 0, từ "
                        f"{str(MIN_WEIGHT).replace('.', ',')} đến {MAX_WEIGHT}",
                        f"weight: must be a number above 0, from {MIN_WEIGHT} to {MAX_WEIGHT}")
    return float(value)


def check_progress(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise TaskError("progress: tiến độ phải là số nguyên từ 0 đến 100 (%)",
                        "progress: must be a whole number from 0 to 100 (%)")
    return value


# --- status and evidence (pure) ------------------------------------------------------------

def task_status(task: dict[str, Any], today: date, kind: str = MONTH) -> str:
    """"on_time", "late", "overdue" or "open", as of the end of the deadline's period (month or
    quarter: `kind`) or today."""
    deadline = date.fromisoformat(task["deadline"])
    return _status(deadline, task.get("completed_on"), period_of(deadline, kind).end_day, today)


def _status(deadline: date, completed_on: str | None, end: date, today: date) -> str:
    """`task_status` of a task due `deadline` in the period ending before `end`."""
    if completed_on is not None:
        completed = date.fromisoformat(completed_on)
        if completed < end:
            return "on_time" if completed <= deadline else "late"
    return "overdue" if deadline < min(end, today) else "open"


def describe(task: dict[str, Any], today: date, kind: str = MONTH) -> dict[str, Any]:
    """The stored task plus its month, its evaluation period (the month, or its quarter under
    a quarterly `kind`) and its status in that period, as the API shows it."""
    status = task_status(task, today, kind)
    return {**task, "month": task["deadline"][:7],
            "period": period_of(date.fromisoformat(task["deadline"]), kind).key,
            "status": status, "delayed": status in ("late", "overdue")}


def task_evidence(tasks: Iterable[dict[str, Any]], month: str | Period, *,
                  today: date | None = None, titles: bool = True) -> TaskEvidence:
    """Decree-335 task inputs for one officer's period: `month` is a month "YYYY-MM" or a
    quarter "YYYY-Qn" (or that period parsed: a unit's month asks for every officer), and each
    task's status is judged as of that period's end. `titles` False: each Task's title left
    empty (only explanation lines read it).

    `tasks` are task dicts (`deadline`, `completed_on`, `weight`, `title`, `major_errors`,
    `delay_excused`), e.g. from `task_records.officer_tasks`; those whose deadline falls outside
    the period are left out. Counts: registered; on_time, late, overdue (each task in one of
    them, or still open); excused counts the late or overdue tasks whose delay was excused.
    """
    today = local_today() if today is None else today
    period = month if isinstance(month, Period) else parse_period(month)
    if not tasks:
        return _NO_TASKS
    first, last, end = period.first_day, period.last_day, period.end_day
    counts = {"on_time": 0, "late": 0, "overdue": 0, "open": 0}
    excused = 0
    items = []
    for task in tasks:
        deadline = date.fromisoformat(task["deadline"])
        if not first <= deadline <= last:
            continue
        # The deadline's period is this one: its status is judged as of this period's end.
        status = _status(deadline, task.get("completed_on"), end, today)
        counts[status] += 1
        delays = int(status in ("late", "overdue"))
        delays_excused = int(bool(delays and task.get("delay_excused")))
        excused += delays_excused
        items.append(Task(weight=float(task["weight"]), completed=status in ("on_time", "late"),
                          major_errors=int(task.get("major_errors", 0)), delays=delays,
                          delays_excused=delays_excused,
                          title=task.get("title", "") if titles else ""))
    return TaskEvidence(tasks=tuple(items), registered=len(items), on_time=counts["on_time"],
                        late=counts["late"], overdue=counts["overdue"], excused=excused)


_NO_TASKS = TaskEvidence()


def evidence_dict(evidence: TaskEvidence) -> dict[str, int]:
    """The counts a leader sees; `open` are tasks still running."""
    counts = {"registered": evidence.registered, "on_time": evidence.on_time,
              "late": evidence.late, "overdue": evidence.overdue, "excused": evidence.excused}
    counts["open"] = evidence.registered - evidence.on_time - evidence.late - evidence.overdue
    return counts


# --- the writes of tasks, their updates and flags ------------------------------------------

def add_task(db: sqlite_utils.Database, *, officer_id: str, title: str, assigned_by: str,
             period: str, deadline: str, weight: float, at: int) -> int:
    """Store a new task as given (the service and the import check it first); its id."""
    with write_transaction(db):
        require(db, "officers", officer_id)
        require(db, "officers", assigned_by)
        return db.execute(
            "INSERT INTO tasks (officer_id, title, assigned_by, period, deadline, weight, "
            "progress, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?)",
            [officer_id, title, assigned_by, period, deadline, weight, at, at]).lastrowid


def update_task(db: sqlite_utils.Database, task_id: int, *, progress: int, note: str | None,
                completed_on: str | None, actor: str, at: int) -> None:
    """Set a task's progress, note and completion date; keep the update in its history."""
    with write_transaction(db):
        updated = db.execute(
            "UPDATE tasks SET progress = ?, progress_note = ?, completed_on = ?, "
            "updated_at = ? WHERE id = ?", [progress, note, completed_on, at, task_id])
        if updated.rowcount != 1:
            raise UnknownEntity(f"no task with id {task_id!r}")
        db.execute("INSERT INTO task_updates (task_id, at, actor, progress, note, "
                   "completed_on) VALUES (?, ?, ?, ?, ?, ?)",
                   [task_id, at, actor, progress, note, completed_on])


def add_task_flag(db: sqlite_utils.Database, task_id: int, kind: str, reason: str, *,
                  actor: str, at: int) -> int:
    """Record a major quality error or an excused delay on a task; return the flag's id."""
    with write_transaction(db):
        require(db, "tasks", task_id)
        flag_id = db.execute(
            "INSERT INTO task_flags (task_id, kind, reason, actor, at) VALUES (?, ?, ?, ?, ?)",
            [task_id, kind, reason, actor, at]).lastrowid
        db.execute("UPDATE tasks SET updated_at = ? WHERE id = ?", [at, task_id])
        return flag_id


# --- the service ---------------------------------------------------------------------------

class TaskService:
    """Task writes on one `Store`, each with its audit entry. Not thread-safe, like the store."""

    def __init__(self, store: Store, *, actor: str = "api", clock: Callable[[], int] = now_ms,
                 today: Callable[[], date] = local_today, by: str | None = None,
                 period: str = MONTH):
        self.store = store
        self.period = period  # the policy's: a task's status is judged in its month or quarter
        self.db = store.db
        self.actor = actor  # who the audit log names
        self.clock = clock
        self.today = today
        self.by = by  # the officer acting (API, pages); None: an import or the demo

    def get(self, task_id: int) -> dict[str, Any]:
        return task_view(self.db, task_id, self.today(), self.period)

    def _officer(self, officer_id: Any, field: str, missing: type[TaskError]) -> str:
        if not isinstance(officer_id, str) or directory.get_officer(self.db, officer_id) is None:
            raise missing(f"{field}: không tìm thấy cán bộ {officer_id!r}",
                          f"{field}: no officer {officer_id!r}")
        return officer_id

    def _audit(self, action: str, task_id: int, before: Any, after: Any, at: int) -> None:
        audit.append(self.db, actor=self.actor, action=action, subject=f"task:{task_id}",
                     before=before, after=after, at=at)

    def _assigner(self, assigned_by: Any) -> str:
        """Who the record says assigned the task: the acting officer, whatever is claimed."""
        if self.by is None:
            return self._officer(assigned_by, "assigned_by", TaskError)
        if assigned_by is not None and assigned_by != self.by:
            raise TaskForbidden(
                f"assigned_by: người giao việc là người ghi nhiệm vụ ({self.by}); không ghi "
                "nhiệm vụ dưới tên người khác",
                f"assigned_by: whoever registers a task is recorded as assigning it "
                f"({self.by}); a task cannot be filed in someone else's name")
        return self.by

    def _not_locked(self, officer_id: str, month: str) -> None:
        """Refuse a write into an officer-month the head has decided (call it inside the
        write's transaction)."""
        check_not_locked(self.db, officer_id, month)

    def create(self, officer_id: str, *, title: str, period: str, deadline: str,
               weight: float = 1, assigned_by: str | None = None) -> dict[str, Any]:
        """Register a task in the officer's work plan; the deadline is their commitment.
        `assigned_by`: see the module docstring (the acting officer, when there is one)."""
        self._officer(officer_id, "officer_id", TaskNotFound)
        row = {"officer_id": officer_id, "title": clean_text(title, "title", MAX_TITLE),
               "assigned_by": self._assigner(assigned_by)}
        if period not in PERIODS:
            raise TaskError("period: kỳ kế hoạch phải là 'week' (tuần) hoặc 'month' (tháng)",
                            "period: must be 'week' or 'month'")
        row.update(period=period, deadline=parse_date(deadline, "deadline").isoformat(),
                   weight=check_weight(weight))
        at = self.clock()
        with write_transaction(self.db):
            self._not_locked(officer_id, row["deadline"][:7])
            task_id = add_task(self.db, **row, at=at)
            self._audit("task.create", task_id, None, row, at)
        return self.get(task_id)

    def update(self, task_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        """Progress (0–100), note and completion date; `completed_on: None` reopens the task.

        A completed task is at 100 %: completing sets it unless another figure is given (then
        refused); lowering a completed task's progress needs it reopened in the same update.
        """
        unknown = set(changes) - {"progress", "note", "completed_on"}
        if unknown or not changes:
            raise TaskError("Cần ít nhất một trong: progress, note, completed_on",
                            "Give at least one of: progress, note, completed_on")
        task = self.get(task_id)
        before = {k: task[k] for k in ("progress", "progress_note", "completed_on")}
        after = dict(before)
        if "completed_on" in changes:
            value = changes["completed_on"]
            if value is not None:
                done = parse_date(value, "completed_on")
                if done > self.today():
                    raise TaskError("completed_on: ngày hoàn thành không được sau hôm nay",
                                    "completed_on: the completion date cannot be after today")
                registered = local_datetime(task["created_at"]).date()
                if self.by is not None and done < registered:
                    raise TaskError(
                        "completed_on: ngày hoàn thành không được trước ngày nhiệm vụ được ghi "
                        f"nhận ({registered.strftime('%d/%m/%Y')})",
                        "completed_on: the completion date cannot be before the task was "
                        f"registered ({registered.isoformat()})")
                value = done.isoformat()
                after["progress"] = 100
            after["completed_on"] = value
        if "progress" in changes:
            after["progress"] = check_progress(changes["progress"])
        if after["completed_on"] is not None and after["progress"] != 100:
            raise TaskError("progress: nhiệm vụ đã hoàn thành có tiến độ 100 %; muốn giảm thì "
                            "mở lại (completed_on: null)",
                            "progress: a completed task is at 100 %; to lower it, reopen it "
                            "(completed_on: null)")
        if "note" in changes:
            note = changes["note"]
            after["progress_note"] = None if note is None else clean_text(note, "note",
                                                                          MAX_TEXT)
        at = self.clock()
        with write_transaction(self.db):
            self._not_locked(task["officer_id"], task["month"])
            update_task(self.db, task_id, progress=after["progress"],
                        note=after["progress_note"], completed_on=after["completed_on"],
                        actor=self.actor, at=at)
            self._audit("task.update", task_id, before, after, at)
        return self.get(task_id)

    def flag_error(self, task_id: int, reason: str) -> dict[str, Any]:
        """A leader's finding of one major quality error (25 % off the task's quality points)."""
        task = self.get(task_id)
        reason = clean_text(reason, "reason", MAX_TEXT)
        at = self.clock()
        with write_transaction(self.db):
            self._not_locked(task["officer_id"], task["month"])
            add_task_flag(self.db, task_id, "major_error", reason, actor=self.actor, at=at)
            self._audit("task.quality_error", task_id, {"major_errors": task["major_errors"]},
                        {"major_errors": task["major_errors"] + 1, "reason": reason}, at)
        return self.get(task_id)

    def excuse_delay(self, task_id: int, reason: str) -> dict[str, Any]:
        """Accept the objective cause of a late or overdue task: its delay then costs nothing."""
        task = self.get(task_id)
        reason = clean_text(reason, "reason", MAX_TEXT)
        if not task["delayed"]:
            raise TaskError(f"Nhiệm vụ {task_id} không chậm tiến độ (trạng thái "
                            f"{task['status']}), không có gì để miễn trừ",
                            f"Task {task_id} is not delayed (status {task['status']}); "
                            "there is no delay to excuse")
        if task["delay_excused"]:
            raise TaskError(f"Việc chậm tiến độ của nhiệm vụ {task_id} đã được miễn trừ",
                            f"The delay of task {task_id} is already excused")
        at = self.clock()
        with write_transaction(self.db):
            self._not_locked(task["officer_id"], task["month"])
            add_task_flag(self.db, task_id, "delay_excused", reason, actor=self.actor, at=at)
            self._audit("task.excuse_delay", task_id,
                        {"status": task["status"], "delay_excused": False},
                        {"status": task["status"], "delay_excused": True, "reason": reason},
                        at)
        return self.get(task_id)


def task_view(db: sqlite_utils.Database, task_id: int, today: date,
              kind: str = MONTH) -> dict[str, Any]:
    """One task with its flags, history and status (in its month or quarter: `kind`);
    TaskNotFound."""
    task = task_records.get_task(db, task_id)
    if task is None:
        raise TaskNotFound(f"Không tìm thấy nhiệm vụ {task_id}", f"No task {task_id}")
    return describe(task, today, kind)


def officer_month(db: sqlite_utils.Database, officer_id: str, month: str,
                  today: date, kind: str = MONTH) -> dict[str, Any]:
    """An officer's tasks of one month or quarter (`month`, either key) with the counts of
    `task_evidence`, each task's status judged in its period of `kind` (the policy's; a
    quarter key is judged as a quarter); TaskNotFound, TaskError when malformed."""
    if directory.get_officer(db, officer_id) is None:
        raise TaskNotFound(f"Không tìm thấy cán bộ {officer_id!r}",
                           f"No officer {officer_id!r}")
    try:
        period = parse_period(month)
    except PeriodError as error:
        raise TaskError(error.vi, error.en) from None
    kind = QUARTER if period.kind == QUARTER else kind
    tasks = task_records.officer_tasks(db, officer_id, month)
    # A month's list under a quarterly policy counts each task as its quarter judges it.
    judged_in = period_of(period.first_day, kind).key
    return {"officer_id": officer_id, "month": month,
            "summary": evidence_dict(task_evidence(tasks, judged_in, today=today)),
            "tasks": [describe(task, today, kind) for task in tasks]}

