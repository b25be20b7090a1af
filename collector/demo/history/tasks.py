"""The seeded past's tasks: 6–10 per officer and month, set by their leader and reported on.

Weekly and monthly tasks, most done on time, some late; per ward and month one overdue, one
with a major quality error and one delay excused. Every change goes through TaskService as
the officer or the leader who would make it, at the moment they would; a change the service
refuses (the head has decided that month meanwhile) is left out and counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import partial
from typing import Any, Callable

from collector.accounts.permissions import officer_facts
from collector.core.timeline import local_datetime
from collector.demo.history.simulation import MINUTE, WARDS, Simulation, ms, workdays
from collector.evaluation.tasks import TaskConflict, TaskService

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


@dataclass
class PlannedTask:
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


class Tasks:
    """Plans every month's tasks on the simulation, and takes the steps when played."""

    def __init__(self, sim: Simulation):
        self.sim, self.rng, self.db = sim, sim.rng, sim.db

    def plan(self, first: date) -> None:
        sim = self.sim
        month = first.replace(day=1)
        while month <= sim.today_real:
            for ward in WARDS:
                specs = [t for o in sim.ward_officers(ward) for t in self._task_specs(o, month)]
                self._mark_specials(specs)
                for spec in specs:
                    self._schedule_task(spec)
            month = (month + timedelta(days=32)).replace(day=1)

    def _task_specs(self, officer: str, month: date) -> list[PlannedTask]:
        sim, rng = self.sim, self.rng
        after = (month + timedelta(days=32)).replace(day=1)
        days = workdays(month, after - timedelta(1))
        fridays = [d for d in days if d.weekday() == 4]
        count = rng.randint(6, 10)
        weekly = rng.randint(count // 2, count - 2)
        leader = officer_facts(self.db, officer).leader or officer  # a chairman plans his own
        titles = COUNTER_TASKS if sim.at_counter(officer) else LEAD_TASKS
        specs = []
        for n, title in enumerate(rng.sample(titles, count)):
            if n < weekly:
                deadline = rng.choice(fridays)
                created = deadline - timedelta(4)
                period, weight = "week", rng.choice((1, 1, 2))
            else:
                deadline, created = rng.choice(days[-5:]), days[0]
                period, weight = "month", rng.choice((2, 3, 4, 5))
            if deadline >= sim.today_real:
                outcome = "open"
            else:
                outcome = "on_time" if rng.random() < sim.diligence[officer] else "late"
            specs.append(PlannedTask(officer, leader, title, period, deadline, float(weight),
                                     ms(created, 8, rng.randint(0, 50)), outcome))
        return specs

    def _mark_specials(self, specs: list[PlannedTask]) -> None:
        """One overdue task (the weakest officer's when they have one), one major quality
        error and one excused delay among the tasks whose deadline has passed."""
        due = sorted((t for t in specs if t.outcome != "open"),
                     key=lambda t: (self.sim.diligence[t.officer], t.deadline, t.title))
        if len(due) < 3:
            return
        due[0].outcome = "overdue"
        rest = due[1:]
        excused = self.rng.choice(rest)
        excused.outcome, excused.excused = "late", True
        self.rng.choice([t for t in rest if t is not excused]).error = True

    def _service(self, actor: str) -> TaskService:
        return TaskService(self.sim.store, actor=f"officer:{actor}", clock=self.sim.clock,
                           today=self.sim.today)

    def _schedule_task(self, task: PlannedTask) -> None:
        sim, rng = self.sim, self.rng
        if not sim.later(task.created, partial(self._create_task, task)):
            return  # not registered yet
        deadline = ms(task.deadline, 17)
        if task.period == "month" or task.outcome in ("overdue", "open"):
            progress = rng.randint(30, 80)
            sim.later(task.created + (deadline - task.created) // 2, partial(
                self._update, task, task.officer, {"progress": progress,
                                                   "note": "Đang thực hiện"}))
        done = None
        if task.outcome == "on_time":
            done = max(task.deadline - timedelta(rng.randint(0, 3)),
                       local_datetime(task.created).date())
        elif task.outcome == "late":
            done = task.deadline + timedelta(rng.randint(1, 6))
            if done >= sim.today_real:
                done, task.outcome = None, "overdue"
        if done is not None:
            done = done if done.weekday() < 5 else done + timedelta(7 - done.weekday())
            at = max(ms(done, 15) + rng.randint(0, 90) * MINUTE, task.created + 30 * MINUTE)
            if not sim.later(at, partial(self._update, task, task.officer,
                                         {"completed_on": local_datetime(at).date().isoformat(),
                                          "note": "Đã hoàn thành"})):
                return
        finished = at if done is not None else deadline
        if task.excused:
            sim.later(finished + 18 * 3_600_000, partial(
                self._flag, task, "excuse_delay", "Chậm do chờ kết quả xác minh của cơ quan "
                "liên quan (nguyên nhân khách quan)"))
        if task.error and done is not None:
            sim.later(finished + 20 * 3_600_000, partial(
                self._flag, task, "flag_error", "Sai sót trong kết quả giải quyết, phải thu hồi "
                "và cấp lại cho người dân"))

    def _create_task(self, task: PlannedTask) -> None:
        task.id = self._service(task.leader).create(
            task.officer, title=task.title, assigned_by=task.leader, period=task.period,
            deadline=task.deadline.isoformat(), weight=task.weight)["id"]
        self.sim.counts["tasks"] += 1

    def _update(self, task: PlannedTask, actor: str, changes: dict[str, Any]) -> None:
        self._unless_decided(lambda: self._service(actor).update(task.id, changes))

    def _flag(self, task: PlannedTask, how: str, reason: str) -> None:
        self._unless_decided(lambda: getattr(self._service(task.leader), how)(task.id, reason))

    def _unless_decided(self, change: Callable[[], Any]) -> None:
        """Make a planned change unless the head has decided its month meanwhile: the service
        refuses it then, as it would a person's (a late completion after the decision stays
        unrecorded in the locked month, which is what the decision froze)."""
        try:
            change()
        except TaskConflict:
            self.sim.counts["task_changes_refused"] += 1
