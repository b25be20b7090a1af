"""A believable past for the demo: weeks of rosters, ratings, tasks and one month's evaluations.

`hailong demo` starts on an empty database, and a monthly evaluation with nothing behind it
shows nothing. `seed_history` writes what the deployment would have recorded over the `days`
days before today (local UTC+7), on working days (Monday to Friday):

- the duty roster of each staffed counter (morning 07:30–11:30, afternoon 13:30–17:00), entered
  every Friday for the next week, with colleagues relieving or swapping with one another;
- device placements from the start of the history to each device's current one: the roster
  attributes a press through the counter the device stood at, and the seed registered the
  devices only now;
- online spans per device and day with short network drops and one device off for a whole
  afternoon, so coverage is below 100 % somewhere;
- 8–25 ratings a shift, levels drawn with a per-officer tendency (one officer clearly weaker,
  one excellent), a reason after most of the lowest ratings, a few repeats the cooldown filtered;
- 6–10 tasks per officer and month (weekly and monthly; late ones, and per ward and month one
  overdue, one with a major quality error, one delay excused);
- the previous month's workflow: Hoàn Kiếm self-evaluated, reviewed and decided by its chairman;
  Ba Đình left half-way, so the status view shows who is late.

Roster, tasks and workflow go through their services (RosterService, TaskService,
WorkflowService), so every check holds and every audit entry exists; all actions run in time
order with the services' clock and "today" set to when they happened, so the audit log reads as
a history and "no completion after today" or "no review before the self-evaluation" hold as
they did then. The service calls are fast enough (about 1 ms a shift). Ratings and online spans
are direct INSERTs, one day at a time: the ingest parses wire messages and builds spans from a
status a minute, which would be slow and add nothing; the attribution is still `store.attribute`,
the single rule.

Idempotent: the roster rows written here carry created_by "demo"; when one exists, the history
was seeded and nothing is written (so devices added on a later run get no past). All of it is
one transaction, so a failed run leaves nothing.
Deterministic for a given seed and today. The history ends before the first current shift or
placement of the demo's counters (the seed's open-ended shifts start at the demo's first run).
"""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any, Callable

from collector.evaluation import month as monthly, tasks
from collector.db import queries
from collector.org.organisation import unit_subtree
from collector.accounts.permissions import officer_facts
from collector.evaluation.policy import GRADE_CODES, GRADE_LABELS, Policy, load_configured
from collector.roster.shifts import RosterService
from collector.evaluation.scoring import check_quota
from collector.demo.seed import OFFICERS
from collector.db.store import MAX_SILENCE_MS, Store, attribute, now_ms, write_transaction
from collector.core.timeline import LOCAL_TZ, local_datetime
from collector.evaluation.workflow.steps import WorkflowService
from collector.evaluation.workflow.calendar import calendar_for
from collector.evaluation.workflow.status import WorkflowConflict, unit_quota

log = logging.getLogger("hailong.demo")

Levels = Callable[[random.Random, float, int], int]  # (rng, tendency 0–1, scale) → level

ACTOR = "demo"  # created_by of the history's roster rows: how a second run knows it ran
DEFAULT_SEED = 1125
MINUTE = 60_000
SHIFTS = ((7, 30, 11, 30), (13, 30, 17, 0))  # local (hour, minute) start and end
FULL_WARD, PARTIAL_WARD = "hk", "bd"  # decided last month / left half-way
# Citizens' tendency (demo.choose_level), the leader's view (share of each criterion's points)
# and the share of tasks done on time; other officers draw theirs between these.
TENDENCY = {"HK-0001": 0.95, "HK-0002": 0.3}
QUALITY = {"HK-0001": 0.96, "HK-0002": 0.72}
DILIGENCE = {"HK-0001": 0.97, "HK-0002": 0.55}
REASONS = ("attitude", "waiting", "guidance", "other")
# The leader's comment for a proposed grade, best first (the last for the two lowest).
REVIEW_COMMENTS = (
    "Thái độ phục vụ tận tình, được người dân đánh giá cao; hoàn thành xuất sắc nhiệm vụ.",
    "Hoàn thành tốt nhiệm vụ; cần chủ động hơn trong hướng dẫn nộp hồ sơ trực tuyến.",
    "Còn để người dân phản ánh về thái độ và thời gian chờ, nhiều nhiệm vụ chậm tiến độ; cần "
    "chấn chỉnh trong tháng tới.")
COUNTER_TASKS = (
    "Tiếp nhận, trả kết quả hồ sơ chứng thực bản sao",
    "Giải quyết hồ sơ đăng ký khai sinh, kết hôn",
    "Cập nhật hồ sơ lên Cổng Dịch vụ công quốc gia", "Số hóa hồ sơ, kết quả giải quyết TTHC",
    "Hướng dẫn người dân nộp hồ sơ trực tuyến", "Rà soát hồ sơ trễ hẹn, gửi thư xin lỗi",
    "Trả lời phản ánh, kiến nghị của người dân", "Báo cáo tình hình tiếp nhận hồ sơ trong tuần",
    "Cập nhật niêm yết công khai thủ tục hành chính", "Lưu trữ hồ sơ đã giải quyết",
    "Tổng hợp số liệu kiểm soát thủ tục hành chính", "Phối hợp xác minh hồ sơ đăng ký cư trú")
LEAD_TASKS = (
    "Chủ trì giao ban Bộ phận Một cửa", "Ký duyệt kết quả giải quyết thủ tục hành chính",
    "Báo cáo UBND Thành phố về cải cách hành chính", "Tiếp công dân định kỳ",
    "Kiểm tra việc chấp hành kỷ luật, kỷ cương hành chính", "Xây dựng kế hoạch công tác tháng",
    "Xử lý phản ánh, kiến nghị về thủ tục hành chính", "Chỉ đạo số hóa hồ sơ, kết quả giải quyết",
    "Rà soát, đơn giản hóa thủ tục hành chính", "Họp xử lý hồ sơ tồn đọng, quá hạn",
    "Đánh giá chất lượng phục vụ của Bộ phận Một cửa", "Báo cáo Bộ chỉ số phục vụ người dân")


@dataclass(frozen=True)
class HistorySummary:
    """What `seed_history` wrote; `skipped` says why nothing was written, else None."""
    days: int = 0
    shifts: int = 0
    ratings: int = 0
    tasks: int = 0
    evaluation_steps: int = 0
    task_changes_refused: int = 0  # planned after the head decided the month: left out
    workflow_steps_refused: int = 0  # planned before the workflow allowed them: left out
    seconds: float = 0.0
    skipped: str | None = None


@dataclass(frozen=True)
class _Station:
    device: str
    counter: str
    section: str  # the counter's unit, whose officers staff it
    scale: int
    holder: str  # on duty now: the history's usual officer of this counter


@dataclass
class _Task:
    officer: str
    leader: str
    title: str
    period: str
    deadline: date
    weight: float
    created: int
    outcome: str  # on_time, late, overdue (never completed), open (deadline not passed)
    error: bool = False
    excused: bool = False
    id: int | None = field(default=None, repr=False)


def seed_history(store: Store, device_ids: list[str], days: int = 60, *,
                 policy: Policy | str = "hanoi-3814", seed: int | None = None,
                 now: int | None = None, levels: Levels | None = None) -> HistorySummary:
    """Seed the past of the demo's staffed counters (see the module's docstring) and say what
    was written. `now` (unix ms) fixes the present for tests; `seed` the random draws;
    `levels(rng, tendency, scale)` draws a citizen's answer, by default as the demo's simulated
    citizens do (`demo.choose_level`). Writes nothing for days <= 0 or when already seeded."""
    if days <= 0:
        return HistorySummary(skipped="disabled")
    started = time.perf_counter()
    policy = policy if isinstance(policy, Policy) else load_configured(policy)
    with write_transaction(store.db):
        if store.db.execute("SELECT 1 FROM roster_shifts WHERE created_by = ? LIMIT 1",
                            [ACTOR]).fetchone():
            return HistorySummary(skipped="already seeded")
        if levels is None:
            from collector.demo.run import choose_level as levels  # lazily: demo.py imports this module
        history = _History(store, device_ids, policy, random.Random(
            DEFAULT_SEED if seed is None else seed), now_ms() if now is None else now, levels)
        summary = history.run(days)
    summary = replace(summary, seconds=round(time.perf_counter() - started, 3))
    log.info("demo history: %s", summary)
    return summary


def _ms(day: date, hour: int, minute: int = 0) -> int:
    return int(datetime(day.year, day.month, day.day, hour, minute,
                        tzinfo=LOCAL_TZ).timestamp() * 1000)


def _workdays(first: date, last: date) -> list[date]:
    return [first + timedelta(n) for n in range((last - first).days + 1)
            if (first + timedelta(n)).weekday() < 5]


def _half_points(value: float) -> float:
    return round(value * 2) / 2


class _History:
    """One seeding: plans the actions, then runs them in time order on a simulated clock."""

    def __init__(self, store: Store, device_ids: list[str], policy: Policy, rng: random.Random,
                 now: int, levels: Levels):
        from kiosk import FW_VERSION  # the firmware core is on the path wherever the demo runs
        self.store, self.db, self.policy, self.rng, self.now = store, store.db, policy, rng, now
        self.fw, self.levels = FW_VERSION, levels
        self.today_real = local_datetime(now).date()
        self.at = now  # the simulated clock: set to each action's time as it runs
        self.actions: list[tuple[int, int, Callable[[], None]]] = []
        self.counts = {"shifts": 0, "ratings": 0, "tasks": 0, "evaluation_steps": 0,
                       "task_changes_refused": 0, "workflow_steps_refused": 0}
        self.stations: list[_Station] = []
        for device in device_ids:
            row = self.db.execute("SELECT d.counter_id, c.unit_id, d.scale FROM devices d JOIN "
                                  "counters c ON c.id = d.counter_id WHERE d.id = ? AND "
                                  "d.retired_at IS NULL", [device]).fetchone()
            holder = store.open_assignment(device)
            if row and holder:  # a closed counter has no history either
                self.stations.append(_Station(device, *row, holder["officer_id"]))
        known = {row[0] for row in self.db.execute("SELECT id FROM officers")}
        self.officers = [o[0] for o in OFFICERS if o[0] in known]
        self.pool = {s.section: [o for o in self.officers if self._unit(o) == s.section]
                     for s in self.stations}
        draw = {o: (rng.uniform(0.55, 0.85), rng.uniform(0.8, 0.9), rng.uniform(0.75, 0.92))
                for o in self.officers}  # drawn for all, in a fixed order: deterministic
        self.tendency = {o: TENDENCY.get(o, d[0]) for o, d in draw.items()}
        self.quality = {o: QUALITY.get(o, d[1]) for o, d in draw.items()}
        self.diligence = {o: DILIGENCE.get(o, d[2]) for o, d in draw.items()}

    def _unit(self, officer: str) -> str:
        return self.db.execute("SELECT unit_id FROM officers WHERE id = ?", [officer]).fetchone()[0]

    def _at_counter(self, officer: str) -> bool:
        """An officer of a one-stop section (unit kind "office"), not a ward's leadership."""
        return self.db.execute("SELECT kind FROM units u JOIN officers o ON o.unit_id = u.id "
                               "WHERE o.id = ?", [officer]).fetchone()[0] == "office"

    def clock(self) -> int:
        return self.at

    def today(self) -> date:
        return local_datetime(self.at).date()

    def later(self, at: int, action: Callable[[], None]) -> bool:
        """Schedule `action` at `at` unless that is still to come."""
        if at > self.now:
            return False
        self.actions.append((at, len(self.actions), action))
        return True

    def run(self, days: int) -> HistorySummary:
        first = self.today_real - timedelta(days=days)
        start = _ms(first, 0)
        horizon = self._horizon()
        if horizon <= start + 24 * 3_600_000:
            return HistorySummary(skipped="no room before the current roster")
        workdays = [d for d in _workdays(first, self.today_real - timedelta(1))
                    if _ms(d, 18) <= horizon]
        for station in self.stations:  # placed at its counter from the history's start
            placed = self.db.execute("SELECT min(starts_at) FROM device_placements WHERE "
                                     "device_id = ?", [station.device]).fetchone()[0]
            self.db.execute("INSERT INTO device_placements (device_id, counter_id, starts_at, "
                            "ends_at) VALUES (?, ?, ?, ?)",
                            [station.device, station.counter, start, placed])
        self._plan_days(workdays)
        self._plan_tasks(first)
        self._plan_workflow()
        self.at = 0
        for at, _, action in sorted(self.actions, key=lambda a: a[:2]):
            # Never back in time, even where an action's own steps ran past the next one's start.
            self.at = max(at, self.at)
            action()
        return HistorySummary(days=len(workdays), **self.counts)

    def _horizon(self) -> int:
        """Now, or earlier: the first current shift or placement the history must end before."""
        devices = [s.device for s in self.stations]
        counters = [s.counter for s in self.stations]
        officers = [o for pool in self.pool.values() for o in pool]
        firsts = [self.now]
        for sql, keys in (
                ("SELECT min(starts_at) FROM device_placements WHERE device_id IN ({})", devices),
                ("SELECT min(starts_at) FROM roster_shifts WHERE replaced_at IS NULL AND "
                 "counter_id IN ({})", counters),
                ("SELECT min(starts_at) FROM roster_shifts WHERE replaced_at IS NULL AND "
                 "officer_id IN ({})", officers)):
            if keys:
                value = self.db.execute(sql.format(", ".join("?" * len(keys))), keys).fetchone()[0]
                firsts += [value] if value is not None else []
        return min(firsts)

    # --- roster, online spans, ratings -------------------------------------------------------

    def _plan_days(self, workdays: list[date]) -> None:
        rng, by_section = self.rng, {}
        for station in self.stations:
            by_section.setdefault(station.section, []).append(station)
        previous = self.today_real.replace(day=1) - timedelta(1)
        last_month = [d for d in workdays if (d.year, d.month) == (previous.year, previous.month)]
        last_month = last_month or workdays
        blackout = ((rng.choice(self.stations).device, rng.choice(last_month))
                    if self.stations and last_month else None)
        weeks: dict[date, list[tuple]] = {}
        for day in workdays:
            shifts = []
            for section, stations in by_section.items():
                duty = {s.counter: s.holder for s in stations}
                if len(duty) > 1 and rng.random() < 0.1:  # two colleagues swap for the day
                    a, b = rng.sample(sorted(duty), 2)
                    duty[a], duty[b] = duty[b], duty[a]
                free = [o for o in self.pool[section] if o not in duty.values()]
                if free and rng.random() < 0.3:  # on leave or training: a colleague relieves
                    duty[rng.choice(sorted(duty))] = rng.choice(free)
                for h1, m1, h2, m2 in SHIFTS:
                    shifts += [(counter, officer, _ms(day, h1, m1), _ms(day, h2, m2))
                               for counter, officer in sorted(duty.items())]
            weeks.setdefault(day - timedelta(day.weekday()), []).extend(shifts)
            dark = blackout[0] if blackout and blackout[1] == day else None
            self.later(_ms(day, 18), partial(self._record_day, day, shifts, dark))
        for monday, shifts in weeks.items():  # the next week's roster, entered on Friday
            friday = monday - timedelta(3)
            self.later(_ms(friday, 16) + self.rng.randint(0, 50) * MINUTE,
                       partial(self._enter_roster, shifts))

    def _enter_roster(self, shifts: list[tuple]) -> None:
        service = RosterService(self.store, actor=ACTOR, clock=self.clock)
        for counter, officer, starts_at, ends_at in shifts:
            service.add_shift(counter, officer, starts_at, ends_at)
            self.counts["shifts"] += 1

    def _spans(self, day: date, blackout: bool) -> list[tuple[int, int, int]]:
        """(starts_at, last_seen_at, ended_at) of one device's day: switched on before the
        morning shift, off after the afternoon's; a drop ends a span MAX_SILENCE_MS after the
        device was last heard (as the store does), and it comes back minutes later."""
        rng = self.rng
        on = _ms(day, 7, 30) - rng.randint(3, 15) * MINUTE
        off = _ms(day, 17) + rng.randint(2, 20) * MINUTE
        cuts: list[tuple[int, int | None]] = []
        if blackout:  # unplugged over lunch and not back until the next morning
            cuts.append((_ms(day, 11, 40) + rng.randint(0, 90) * MINUTE, None))
        for h1, m1, h2, m2 in SHIFTS:
            if rng.random() < 0.2:
                heard = rng.randint(_ms(day, h1, m1) + 10 * MINUTE, _ms(day, h2, m2) - 40 * MINUTE)
                cuts.append((heard, heard + rng.randint(6, 30) * MINUTE))
        spans, begin = [], on
        for heard, back in sorted(cuts, key=lambda c: c[0]):
            if heard <= begin:
                continue
            spans.append((begin, heard, heard + MAX_SILENCE_MS))
            if back is None:
                return spans
            begin = max(back, heard + MAX_SILENCE_MS + MINUTE)
        return spans + [(begin, max(begin, off - rng.randint(0, 59_000)), off)]

    def _record_day(self, day: date, shifts: list[tuple], blackout_device: str | None) -> None:
        rng, boot = self.rng, (day - date(2020, 1, 1)).days  # a boot each morning
        for station in self.stations:
            mine = [s for s in shifts if s[0] == station.counter]
            if not mine:
                continue
            spans = self._spans(day, station.device == blackout_device)
            self.db.conn.executemany("INSERT INTO device_online_spans (device_id, starts_at, "
                                "last_seen_at, ended_at) VALUES (?, ?, ?, ?)",
                                [(station.device, *span) for span in spans])
            rows, seq = [], 0
            for _, officer, start, end in mine:
                heard = [(max(a, start), min(b, end)) for a, b, _ in spans
                         if min(b, end) > max(a, start)]
                online = sum(b - a for a, b in heard)
                citizens = round(rng.randint(8, 25) * online / (end - start))
                for pressed in sorted(self._instant(heard, online) for _ in range(citizens)):
                    level = self.levels(rng, self.tendency[officer], station.scale)
                    reason = None
                    if level == 1 and rng.random() < 0.8:  # the device asks; most answer
                        weights = (4, 3, 2, 1) if self.tendency[officer] < 0.5 else (1, 4, 3, 2)
                        reason = rng.choices(REASONS, weights)[0]
                    presses = [(pressed, reason, None)]
                    repeat = pressed + rng.randint(1500, 6000)
                    if rng.random() < 0.06 and repeat < end:  # impatient: the cooldown filters it
                        presses.append((repeat, None, "cooldown"))
                    for at, why, excluded in presses:
                        who, how = attribute(self.db, station.device, at, officer)
                        rows.append((f"demo:{station.device}:{day.isoformat()}:{seq}",
                                     station.device, boot, seq, level, station.scale, officer,
                                     who, how, at - spans[0][0], at, at, "device",
                                     at + rng.randint(80, 1500), self.fw, why, None, excluded))
                        seq += 1
            self.db.conn.executemany(
                "INSERT OR IGNORE INTO ratings (id, device_id, boot, seq, level, scale, "
                "officer_shown, officer_id, attribution, uptime_ms, device_ts, pressed_at, "
                "time_source, received_at, fw, reason, dossier, excluded) VALUES "
                f"({', '.join('?' * 18)})", rows)
            self.counts["ratings"] += len(rows)

    def _instant(self, intervals: list[tuple[int, int]], total: int) -> int:
        """A moment drawn evenly over the intervals' time."""
        offset = self.rng.randrange(total)
        for a, b in intervals:
            if offset < b - a:
                return a + offset
            offset -= b - a
        raise AssertionError("offset beyond the intervals")

    # --- tasks -------------------------------------------------------------------------------

    def _plan_tasks(self, first: date) -> None:
        month = first.replace(day=1)
        while month <= self.today_real:
            for ward in (FULL_WARD, PARTIAL_WARD):
                units = unit_subtree(self.db, ward)
                members = [o for o in self.officers if self._unit(o) in units]
                specs = [t for o in members for t in self._task_specs(o, month)]
                self._mark_specials(specs)
                for spec in specs:
                    self._schedule_task(spec)
            month = (month + timedelta(days=32)).replace(day=1)

    def _task_specs(self, officer: str, month: date) -> list[_Task]:
        rng = self.rng
        after = (month + timedelta(days=32)).replace(day=1)
        days = _workdays(month, after - timedelta(1))
        fridays = [d for d in days if d.weekday() == 4]
        count = rng.randint(6, 10)
        weekly = rng.randint(count // 2, count - 2)
        leader = officer_facts(self.db, officer).leader or officer  # a chairman plans his own
        titles = COUNTER_TASKS if self._at_counter(officer) else LEAD_TASKS
        specs = []
        for n, title in enumerate(rng.sample(titles, count)):
            if n < weekly:
                deadline = rng.choice(fridays)
                created = deadline - timedelta(4)
                period, weight = "week", rng.choice((1, 1, 2))
            else:
                deadline, created = rng.choice(days[-5:]), days[0]
                period, weight = "month", rng.choice((2, 3, 4, 5))
            if deadline >= self.today_real:
                outcome = "open"
            else:
                outcome = "on_time" if rng.random() < self.diligence[officer] else "late"
            specs.append(_Task(officer, leader, title, period, deadline, float(weight),
                               _ms(created, 8, rng.randint(0, 50)), outcome))
        return specs

    def _mark_specials(self, specs: list[_Task]) -> None:
        """One overdue task (the weakest officer's when they have one), one major quality
        error and one excused delay among the tasks whose deadline has passed."""
        due = sorted((t for t in specs if t.outcome != "open"),
                     key=lambda t: (self.diligence[t.officer], t.deadline, t.title))
        if len(due) < 3:
            return
        due[0].outcome = "overdue"
        rest = due[1:]
        excused = self.rng.choice(rest)
        excused.outcome, excused.excused = "late", True
        self.rng.choice([t for t in rest if t is not excused]).error = True

    def _service(self, actor: str) -> tasks.TaskService:
        return tasks.TaskService(self.store, actor=f"officer:{actor}", clock=self.clock,
                                 today=self.today)

    def _schedule_task(self, task: _Task) -> None:
        rng = self.rng
        if not self.later(task.created, partial(self._create_task, task)):
            return  # not registered yet
        deadline = _ms(task.deadline, 17)
        if task.period == "month" or task.outcome in ("overdue", "open"):
            progress = rng.randint(30, 80)
            self.later(task.created + (deadline - task.created) // 2, partial(
                self._update, task, task.officer, {"progress": progress,
                                                   "note": "Đang thực hiện"}))
        done = None
        if task.outcome == "on_time":
            done = max(task.deadline - timedelta(rng.randint(0, 3)),
                       local_datetime(task.created).date())
        elif task.outcome == "late":
            done = task.deadline + timedelta(rng.randint(1, 6))
            if done >= self.today_real:
                done, task.outcome = None, "overdue"
        if done is not None:
            done = done if done.weekday() < 5 else done + timedelta(7 - done.weekday())
            at = max(_ms(done, 15) + rng.randint(0, 90) * MINUTE, task.created + 30 * MINUTE)
            if not self.later(at, partial(self._update, task, task.officer,
                                          {"completed_on": local_datetime(at).date().isoformat(),
                                           "note": "Đã hoàn thành"})):
                return
        finished = at if done is not None else deadline
        if task.excused:
            self.later(finished + 18 * 3_600_000, partial(
                self._flag, task, "excuse_delay", "Chậm do chờ kết quả xác minh của cơ quan "
                "liên quan (nguyên nhân khách quan)"))
        if task.error and done is not None:
            self.later(finished + 20 * 3_600_000, partial(
                self._flag, task, "flag_error", "Sai sót trong kết quả giải quyết, phải thu hồi "
                "và cấp lại cho người dân"))

    def _create_task(self, task: _Task) -> None:
        task.id = self._service(task.leader).create(
            task.officer, title=task.title, assigned_by=task.leader, period=task.period,
            deadline=task.deadline.isoformat(), weight=task.weight)["id"]
        self.counts["tasks"] += 1

    def _update(self, task: _Task, actor: str, changes: dict[str, Any]) -> None:
        self._unless_decided(lambda: self._service(actor).update(task.id, changes))

    def _flag(self, task: _Task, how: str, reason: str) -> None:
        self._unless_decided(lambda: getattr(self._service(task.leader), how)(task.id, reason))

    def _unless_decided(self, change: Callable[[], Any]) -> None:
        """Make a planned change unless the head has decided its month meanwhile: the service
        refuses it then, as it would a person's (a late completion after the decision stays
        unrecorded in the locked month, which is what the decision froze)."""
        try:
            change()
        except tasks.TaskConflict:
            self.counts["task_changes_refused"] += 1

    # --- the previous month's workflow -------------------------------------------------------

    def _plan_workflow(self) -> None:
        this_month = self.today_real.replace(day=1)
        self.month = (this_month - timedelta(1)).strftime("%Y-%m")
        calendar = calendar_for(self.db, self.month)
        self_days = _workdays(calendar.opens, calendar.self_due)[-3:] or [calendar.self_due]
        review_day = next(iter(_workdays(self_days[-1] + timedelta(1), calendar.review_due)),
                          self_days[-1])
        decision_day = next(iter(_workdays(review_day + timedelta(1), calendar.decision_due)),
                            review_day)
        full = self._evaluated(FULL_WARD)
        partial_ward = self._evaluated(PARTIAL_WARD)
        sections = [o for o in partial_ward if self._at_counter(o)]
        writers = full + sections[:-1] if len(sections) > 1 else full  # one officer is late
        moments = [_ms(self_days[n % len(self_days)], 8, 40) + n * 23 * MINUTE
                   for n in range(len(writers))]
        moments += [_ms(review_day, 9), _ms(review_day, 10, 30), _ms(decision_day, 10)]
        # Early in a month the usual days are still to come: the same steps, pressed into the
        # time since the self-evaluation opened (the status then shows nobody late yet). The
        # margin leaves room for the reviews and decisions, minutes apart, to end before now.
        origin, limit = _ms(calendar.opens, 8), self.now - 120 * MINUTE
        if moments[-1] > limit:
            moments = [origin + (m - origin) * (limit - origin) // (moments[-1] - origin)
                       for m in moments]
        # Reviews and decisions open only once the month is over: on its first days the
        # pressed steps wait for midnight, or for the next run when that is still to come.
        over = _ms(this_month, 0)
        moments[-3:] = [max(m, over + (n + 1) * 20 * MINUTE) for n, m in enumerate(moments[-3:])]
        for writer, at in zip(writers, moments):
            self.later(at, partial(self._self_evaluate, writer))
        self.later(moments[-3], partial(self._step, self._reviews, full, True))
        if len(sections) > 1:  # the first section officer wrote a self-evaluation
            self.later(moments[-2], partial(self._step, self._reviews, sections[:1], False))
        self.later(moments[-1], partial(self._step, self._decisions, full))

    def _step(self, step: Callable[..., None], *args: Any) -> None:
        """Take a planned workflow step unless the workflow refuses it at that moment (a step
        pressed into the first days of a month can come before its due date); the refusal
        is the service's, as a person would get it, and the demo goes on without the step."""
        try:
            step(*args)
        except WorkflowConflict as refused:
            self.counts["workflow_steps_refused"] += 1
            log.info("demo history: a planned step was refused: %s", refused.en)

    def _evaluated(self, ward: str) -> list[str]:
        """The ward's officers someone decides for (a chairman's grade is the city's)."""
        units = unit_subtree(self.db, ward)
        return [o for o in self.officers
                if self._unit(o) in units and officer_facts(self.db, o).head is not None]

    def _workflow(self) -> WorkflowService:
        def evidence_of(officer_id: str, month: str) -> dict[str, Any]:
            return monthly.officer_month(self.db, officer_id, month, self.policy,
                                         now_ms=self.at, today=self.today())
        return WorkflowService(self.store, self.policy, clock=self.clock, today=self.today,
                               evidence_of=evidence_of)

    def _scores(self, officer: str, bonus: float = 0.0) -> dict[str, float]:
        share = min(1.0, self.quality[officer] + bonus)
        return {c.code: _half_points(c.points * share)
                for c in self.policy.criteria if c.source == "leader"}

    def _self_evaluate(self, officer: str) -> None:
        comment = ("Hoàn thành các nhiệm vụ được giao; tiếp nhận và trả kết quả đúng hẹn, "
                   "hướng dẫn người dân tận tình.")
        self._workflow().self_evaluate(officer, self.month, officer, self._scores(officer, 0.05),
                                       comment)
        self.counts["evaluation_steps"] += 1

    def _over_quota(self, unit: str, grades: dict[str, str], whole: bool) -> bool:
        """Over the cap on the top grade as the head's decision will count it (colleagues not
        graded yet at their most favourable), or, when `grades` are the whole unit's, as the
        month's report counts the grades alone once all are decided."""
        if unit_quota(self.db, self.policy, unit, self.month, grades).exceeded:
            return True
        outstanding = self.db.execute("SELECT outstanding FROM units WHERE id = ?",
                                      [unit]).fetchone()[0]
        return whole and check_quota(self.policy, grades.values(), bool(outstanding)).exceeded

    def _reviews(self, officers: list[str], whole: bool) -> None:
        """The leaders' reviews of `officers` (`whole`: all the unit will grade), proposing the
        grade the evidence and their scores suggest, lowered where the unit's quota on the top
        grade would be exceeded."""
        service, grades, scores = self._workflow(), {}, {}
        for officer in officers:
            view = monthly.officer_month(self.db, officer, self.month, self.policy,
                                         now_ms=self.at, today=self.today())
            evidence = tasks.task_evidence(queries.officer_tasks(self.db, officer, self.month),
                                           self.month, today=self.today())
            suggestion = monthly.suggestion_for(
                self.policy, view["satisfaction"], evidence,
                {"review_scores": json.dumps(self._scores(officer))})["suggestion"]
            grades[officer], scores[officer] = suggestion["grade"]["code"], suggestion["score"]
        top, lowered = self.policy.quota.grade, set()
        unit = officer_facts(self.db, officers[0]).deciding_unit
        while unit and self._over_quota(unit, grades, whole):
            holder = min((o for o in grades if grades[o] == top), key=scores.__getitem__)
            grades[holder] = GRADE_CODES[GRADE_CODES.index(top) + 1]
            lowered.add(holder)
        for n, officer in enumerate(officers):
            self.at += 9 * MINUTE * bool(n)
            rank = GRADE_CODES.index(grades[officer])
            comment = REVIEW_COMMENTS[min(rank, len(REVIEW_COMMENTS) - 1)]
            if officer in lowered:
                comment += (f" Điểm đạt mức «{GRADE_LABELS[top][0]}» nhưng đơn vị đã đủ tỷ lệ "
                            "xếp loại này, nên đề xuất mức liền kề.")
            service.review(officer, self.month, officer_facts(self.db, officer).leader,
                           self._scores(officer), comment, grades[officer])
            self.counts["evaluation_steps"] += 1

    def _decisions(self, officers: list[str]) -> None:
        service = self._workflow()
        for n, officer in enumerate(officers):
            self.at += 6 * MINUTE * bool(n)
            row = queries.evaluation_row(self.db, officer, self.month)
            service.decide(officer, self.month, officer_facts(self.db, officer).head,
                           row["proposed_grade"],
                           "Nhất trí với đề xuất của lãnh đạo trực tiếp.")
            self.counts["evaluation_steps"] += 1
