"""The seeded past's shared state: the simulated clock, the queue of planned actions, the
staffed counters and each officer's drawn character.

The planners (days.py, tasks.py, evaluations.py) schedule actions with `Simulation.later`;
seeding.py plays them in time order, setting `Simulation.at` to each action's moment, which
the services read as their clock and "today". Also the calendar helpers every planner uses.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Callable

from collector.core.timeline import LOCAL_TZ, local_datetime
from collector.db.store import Store
from collector.roster.shifts import open_assignment
from collector.demo.seed import OFFICERS
from collector.evaluation.policy import Policy
from collector.org.organisation import unit_subtree

Levels = Callable[[random.Random, float, int], int]  # (rng, tendency 0–1, scale) → level

ACTOR = "demo"  # created_by of the history's roster rows: how a second run knows it ran
MINUTE = 60_000
FULL_WARD, PARTIAL_WARD = "hk", "bd"  # decided last month / left half-way
WARDS = (FULL_WARD, PARTIAL_WARD)
# Citizens' tendency (citizens.choose_level), the leader's view (share of each criterion's
# points) and the share of tasks done on time; other officers draw theirs between these.
TENDENCY = {"HK-0001": 0.95, "HK-0002": 0.3}
QUALITY = {"HK-0001": 0.96, "HK-0002": 0.72}
DILIGENCE = {"HK-0001": 0.97, "HK-0002": 0.55}


def ms(day: date, hour: int, minute: int = 0) -> int:
    """Unix ms of a local (UTC+7) time of `day`."""
    return int(datetime(day.year, day.month, day.day, hour, minute,
                        tzinfo=LOCAL_TZ).timestamp() * 1000)


def workdays(first: date, last: date) -> list[date]:
    """Monday to Friday from `first` to `last`, both included."""
    return [first + timedelta(n) for n in range((last - first).days + 1)
            if (first + timedelta(n)).weekday() < 5]


@dataclass(frozen=True)
class Station:
    device: str
    counter: str
    section: str  # the counter's unit, whose officers staff it
    scale: int
    holder: str  # on duty now: the history's usual officer of this counter


class Simulation:
    """One seeding's state: who is there, what is planned, and what time it is."""

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
        self.stations: list[Station] = []
        for device in device_ids:
            row = self.db.execute("SELECT d.counter_id, c.unit_id, d.scale FROM devices d JOIN "
                                  "counters c ON c.id = d.counter_id WHERE d.id = ? AND "
                                  "d.retired_at IS NULL", [device]).fetchone()
            holder = open_assignment(store.db, device)
            if row and holder:  # a closed counter has no history either
                self.stations.append(Station(device, *row, holder["officer_id"]))
        known = {row[0] for row in self.db.execute("SELECT id FROM officers")}
        self.officers = [o[0] for o in OFFICERS if o[0] in known]
        self.pool = {s.section: [o for o in self.officers if self.unit(o) == s.section]
                     for s in self.stations}
        # Drawn for every officer of the wards, in a fixed order: deterministic. The city's
        # head has no counter, tasks or evaluation in the history, so draws nothing.
        draw = {o: (rng.uniform(0.55, 0.85), rng.uniform(0.8, 0.9), rng.uniform(0.75, 0.92))
                for ward in WARDS for o in self.ward_officers(ward)}
        self.tendency = {o: TENDENCY.get(o, d[0]) for o, d in draw.items()}
        self.quality = {o: QUALITY.get(o, d[1]) for o, d in draw.items()}
        self.diligence = {o: DILIGENCE.get(o, d[2]) for o, d in draw.items()}

    def unit(self, officer: str) -> str:
        return self.db.execute("SELECT unit_id FROM officers WHERE id = ?", [officer]).fetchone()[0]

    def ward_officers(self, ward: str) -> list[str]:
        """The officers of the ward and the units below it, in the seed's order."""
        units = unit_subtree(self.db, ward)
        return [o for o in self.officers if self.unit(o) in units]

    def at_counter(self, officer: str) -> bool:
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

    def horizon(self) -> int:
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
