"""`seed_history`: plan the demo's past, then play it in time order in one transaction.

`hailong demo` starts on an empty database, and a monthly evaluation with nothing behind it
shows nothing. `seed_history` writes what the deployment would have recorded over the `days`
days before today (local UTC+7), on working days (Monday to Friday):

- the duty roster of each staffed counter, online spans and ratings (days.py);
- device placements from the start of the history to each device's current one: the roster
  attributes a press through the counter the device stood at, and the seed registered the
  devices only now (here);
- 6–10 tasks per officer and month (tasks.py);
- the previous month's workflow: Hoàn Kiếm self-evaluated, reviewed and decided by its chairman;
  Ba Đình left half-way, so the status view shows who is late (evaluations.py).

Roster, tasks and workflow go through their services (RosterService, TaskService,
WorkflowService), so every check holds and every audit entry exists; all actions run in time
order with the services' clock and "today" set to when they happened (simulation.py), so the
audit log reads as a history and "no completion after today" or "no review before the
self-evaluation" hold as they did then. The service calls are fast enough (about 1 ms a shift).

Idempotent: the roster rows written here carry created_by "demo"; when one exists, the history
was seeded and nothing is written (so devices added on a later run get no past). All of it is
one transaction, so a failed run leaves nothing.
Deterministic for a given seed and today. The history ends before the first current shift or
placement of the demo's counters (the seed's open-ended shifts start at the demo's first run).
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, replace
from datetime import timedelta

from collector.db.store import Store, now_ms, write_transaction
from collector.demo.citizens import choose_level
from collector.demo.history.days import Days
from collector.demo.history.evaluations import PreviousMonth
from collector.demo.history.simulation import ACTOR, Levels, Simulation, ms, workdays
from collector.demo.history.tasks import Tasks
from collector.evaluation.policy import Policy, load_configured
from collector.org.registry import add_past_placement

log = logging.getLogger("hailong.demo")

DEFAULT_SEED = 1125


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


def seed_history(store: Store, device_ids: list[str], days: int = 60, *,
                 policy: Policy | str = "hanoi-3814", seed: int | None = None,
                 now: int | None = None, levels: Levels | None = None) -> HistorySummary:
    """Seed the past of the demo's staffed counters (see the module's docstring) and say what
    was written. `now` (unix ms) fixes the present for tests; `seed` the random draws;
    `levels(rng, tendency, scale)` draws a citizen's answer, by default as the demo's simulated
    citizens do (`citizens.choose_level`). Writes nothing for days <= 0 or when already
    seeded."""
    if days <= 0:
        return HistorySummary(skipped="disabled")
    started = time.perf_counter()
    policy = policy if isinstance(policy, Policy) else load_configured(policy)
    with write_transaction(store.db):
        if store.db.execute("SELECT 1 FROM roster_shifts WHERE created_by = ? LIMIT 1",
                            [ACTOR]).fetchone():
            return HistorySummary(skipped="already seeded")
        sim = Simulation(store, device_ids, policy, random.Random(
            DEFAULT_SEED if seed is None else seed), now_ms() if now is None else now,
            levels or choose_level)
        summary = _play(sim, days)
    summary = replace(summary, seconds=round(time.perf_counter() - started, 3))
    log.info("demo history: %s", summary)
    return summary


def _play(sim: Simulation, days: int) -> HistorySummary:
    """Place the devices, plan every part, then take the actions in time order."""
    first = sim.today_real - timedelta(days=days)
    start = ms(first, 0)
    horizon = sim.horizon()
    if horizon <= start + 24 * 3_600_000:
        return HistorySummary(skipped="no room before the current roster")
    working = [d for d in workdays(first, sim.today_real - timedelta(1)) if ms(d, 18) <= horizon]
    for station in sim.stations:  # placed at its counter from the history's start
        add_past_placement(sim.db, station.device, station.counter, start)
    # In this order: each planner draws from the one random stream, so the order is the data.
    Days(sim).plan(working)
    Tasks(sim).plan(first)
    PreviousMonth(sim).plan()
    sim.at = 0
    for at, _, action in sorted(sim.actions, key=lambda a: a[:2]):
        # Never back in time, even where an action's own steps ran past the next one's start.
        sim.at = max(at, sim.at)
        action()
    return HistorySummary(days=len(working), **sim.counts)
