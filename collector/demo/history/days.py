"""The seeded past's working days: the weeks of duty rosters, each device's online spans and
the citizens' ratings.

The roster of each staffed counter (morning 07:30–11:30, afternoon 13:30–17:00) is entered
every Friday for the next week through RosterService, with colleagues relieving or swapping
with one another. Each evening the day's online spans (short network drops, one device off
for a whole afternoon) and ratings (8–25 a shift, a reason after most of the lowest, a few
repeats the cooldown filtered) are stored in bulk (the ingest's `add_past_online_spans` and
`add_past_ratings`), attributed by the roster's `attribute`, the single rule: the ingest would
parse wire messages and build spans from a status a minute, which would be slow and add
nothing.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import partial

from collector.demo.history.simulation import ACTOR, MINUTE, Simulation, ms
from collector.ingest.recording import add_past_online_spans, add_past_ratings
from collector.ratings.evidence import MAX_SILENCE_MS
from collector.roster.attribution import attribute
from collector.roster.shifts import RosterService

SHIFTS = ((7, 30, 11, 30), (13, 30, 17, 0))  # local (hour, minute) start and end
REASONS = ("attitude", "waiting", "guidance", "other")


class Days:
    """Plans the working days' actions on the simulation, and takes them when played."""

    def __init__(self, sim: Simulation):
        self.sim, self.rng, self.db = sim, sim.rng, sim.db

    def plan(self, workdays: list[date]) -> None:
        sim, rng, by_section = self.sim, self.rng, {}
        for station in sim.stations:
            by_section.setdefault(station.section, []).append(station)
        previous = sim.today_real.replace(day=1) - timedelta(1)
        last_month = [d for d in workdays if (d.year, d.month) == (previous.year, previous.month)]
        last_month = last_month or workdays
        blackout = ((rng.choice(sim.stations).device, rng.choice(last_month))
                    if sim.stations and last_month else None)
        weeks: dict[date, list[tuple]] = {}
        for day in workdays:
            shifts = []
            for section, stations in by_section.items():
                duty = {s.counter: s.holder for s in stations}
                if len(duty) > 1 and rng.random() < 0.1:  # two colleagues swap for the day
                    a, b = rng.sample(sorted(duty), 2)
                    duty[a], duty[b] = duty[b], duty[a]
                free = [o for o in sim.pool[section] if o not in duty.values()]
                if free and rng.random() < 0.3:  # on leave or training: a colleague relieves
                    duty[rng.choice(sorted(duty))] = rng.choice(free)
                for h1, m1, h2, m2 in SHIFTS:
                    shifts += [(counter, officer, ms(day, h1, m1), ms(day, h2, m2))
                               for counter, officer in sorted(duty.items())]
            weeks.setdefault(day - timedelta(day.weekday()), []).extend(shifts)
            dark = blackout[0] if blackout and blackout[1] == day else None
            sim.later(ms(day, 18), partial(self._record_day, day, shifts, dark))
        for monday, shifts in weeks.items():  # the next week's roster, entered on Friday
            friday = monday - timedelta(3)
            sim.later(ms(friday, 16) + rng.randint(0, 50) * MINUTE,
                      partial(self._enter_roster, shifts))

    def _enter_roster(self, shifts: list[tuple]) -> None:
        service = RosterService(self.sim.store, actor=ACTOR, clock=self.sim.clock)
        for counter, officer, starts_at, ends_at in shifts:
            service.add_shift(counter, officer, starts_at, ends_at)
            self.sim.counts["shifts"] += 1

    def _spans(self, day: date, blackout: bool) -> list[tuple[int, int, int]]:
        """(starts_at, last_seen_at, ended_at) of one device's day: switched on before the
        morning shift, off after the afternoon's; a drop ends a span MAX_SILENCE_MS after the
        device was last heard (as the store does), and it comes back minutes later."""
        rng = self.rng
        on = ms(day, 7, 30) - rng.randint(3, 15) * MINUTE
        off = ms(day, 17) + rng.randint(2, 20) * MINUTE
        cuts: list[tuple[int, int | None]] = []
        if blackout:  # unplugged over lunch and not back until the next morning
            cuts.append((ms(day, 11, 40) + rng.randint(0, 90) * MINUTE, None))
        for h1, m1, h2, m2 in SHIFTS:
            if rng.random() < 0.2:
                heard = rng.randint(ms(day, h1, m1) + 10 * MINUTE, ms(day, h2, m2) - 40 * MINUTE)
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
        sim, rng, boot = self.sim, self.rng, (day - date(2020, 1, 1)).days  # a boot each morning
        for station in sim.stations:
            mine = [s for s in shifts if s[0] == station.counter]
            if not mine:
                continue
            spans = self._spans(day, station.device == blackout_device)
            add_past_online_spans(self.db, [(station.device, *span) for span in spans])
            rows, seq = [], 0
            for _, officer, start, end in mine:
                heard = [(max(a, start), min(b, end)) for a, b, _ in spans
                         if min(b, end) > max(a, start)]
                online = sum(b - a for a, b in heard)
                citizens = round(rng.randint(8, 25) * online / (end - start))
                for pressed in sorted(self._instant(heard, online) for _ in range(citizens)):
                    level = sim.levels(rng, sim.tendency[officer], station.scale)
                    reason = None
                    if level == 1 and rng.random() < 0.8:  # the device asks; most answer
                        weights = (4, 3, 2, 1) if sim.tendency[officer] < 0.5 else (1, 4, 3, 2)
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
                                     at + rng.randint(80, 1500), sim.fw, why, None, excluded))
                        seq += 1
            add_past_ratings(self.db, rows)  # in recording.RATING_COLUMNS order
            sim.counts["ratings"] += len(rows)

    def _instant(self, intervals: list[tuple[int, int]], total: int) -> int:
        """A moment drawn evenly over the intervals' time."""
        offset = self.rng.randrange(total)
        for a, b in intervals:
            if offset < b - a:
                return a + offset
            offset -= b - a
        raise AssertionError("offset beyond the intervals")
