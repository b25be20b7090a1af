"""Pure evidence arithmetic for one officer-month: confidence, coverage, unit comparison.

Issue 5, item 4 ("the merge"). The domain brief's fairness rules shape every function here:
few ratings mean little evidence (a Wilson interval and a policy minimum below which the
satisfaction part reads "insufficient evidence"); a counter whose device was offline has
*missing* data, not bad data (coverage: hours on duty with the device online versus offline);
presses a device filtered are shown apart with their reasons, never counted.

No database and no clock: callers pass rows already read and, where it matters, "now".
Times are unix milliseconds; an interval is (start_ms, end_ms) half-open [start, end), and
end None means "still open": until the month's end, or until "now" when that comes first.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from collector.ratings.satisfaction import SATISFIED_ANSWERS, SatisfactionSummary
from collector.core.periods import period_bounds

# The 97.5th percentile of the standard normal: a two-sided 95 % interval.
Z_95 = 1.959964
HOUR_MS = 3_600_000
# Glossary: "insufficient evidence" = "chưa đủ dữ liệu đánh giá".
INSUFFICIENT = {"vi": "chưa đủ dữ liệu đánh giá", "en": "insufficient evidence"}

Interval = tuple  # (start_ms, end_ms | None)


# --- Confidence in a share ---------------------------------------------------------------

def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float] | None:
    """Wilson score interval for a binomial share; None when there is nothing to estimate.

    E. B. Wilson, "Probable inference, the law of succession, and statistical inference",
    J. Amer. Statist. Assoc. 22 (1927) 209–212. With p = successes / n:

        centre = (p + z²/2n) / (1 + z²/n)
        half   = z / (1 + z²/n) · √( p(1 − p)/n + z²/4n² )
        (low, high) = (centre − half, centre + half)

    Chosen over the textbook p ± z·√(p(1−p)/n) because that one collapses to a zero-width
    interval at 0/n and n/n (10 of 10 satisfied would look certain) and leaves [0, 1] for
    small n; Wilson stays inside [0, 1] and is honest about small samples (Brown, Cai and
    DasGupta, Statistical Science 16 (2001) 101–133, recommend it for small n).
    At the edges the bound is exact: 0 successes give low = 0, n give high = 1.
    """
    if isinstance(successes, bool) or isinstance(n, bool):
        raise ValueError("successes and n are counts, not booleans")
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got {successes} of {n}")
    if not z > 0:
        raise ValueError(f"z must be positive, not {z}")
    if n == 0:
        return None
    p = successes / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    # Rounding could leave -1e-17 or 1 - 1e-16 at the edges; the exact values are 0 and 1.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


# --- Interval arithmetic -----------------------------------------------------------------

def _closed(intervals: Iterable[Interval], horizon: int) -> list[tuple[int, int]]:
    """Resolve open ends to `horizon`; refuse reversed intervals; drop empty ones."""
    out = []
    for start, end in intervals:
        if end is None:
            end = horizon  # an open interval starting after the horizon is empty
        elif end < start:
            raise ValueError(f"interval ends before it starts: ({start}, {end})")
        if end > start:
            out.append((start, end))
    return out


def union(intervals: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, disjoint, non-touching intervals covering exactly the same time."""
    merged: list[list[int]] = []
    for start, end in sorted(intervals):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:  # overlapping or touching: one stretch
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(start, end) for start, end in merged]


def intersect(a: Iterable[tuple[int, int]], b: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Time in both `a` and `b`, as a union (inputs need not be sorted or disjoint)."""
    return _meet(union(a), union(b))


def _meet(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """`intersect` of two unions."""
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if start < end:
            out.append((start, end))
        # Advance whichever ends first; the other may still overlap the next one.
        if a[i][1] <= b[j][1]:
            i += 1
        else:
            j += 1
    return out


def clip(intervals: Iterable[tuple[int, int]], start: int, end: int) -> list[tuple[int, int]]:
    """The part of `intervals` inside [start, end), as a union."""
    return intersect(intervals, [(start, end)] if end > start else [])


def measure(intervals: Iterable[tuple[int, int]]) -> int:
    """Total milliseconds covered, counting overlaps once."""
    return _length(union(intervals))


def _length(merged: list[tuple[int, int]]) -> int:
    """`measure` of a union."""
    return sum(end - start for start, end in merged)


# --- Device online time from status messages ---------------------------------------------

# A device goes quiet this long after an online status before it counts as offline: statuses
# come every 60 s, so two lost ones are tolerated and a third is not. The ingest closes its
# online spans by it, the fleet view calls a device silent by it, the month reads spans by it.
MAX_SILENCE_MS = 180_000


def online_intervals(events: Iterable[tuple[int, str]], max_silence_ms: int,
                     now_ms: int | None = None) -> list[Interval]:
    """Online intervals of one device from its sorted (time_ms, state) status events.

    `state` is "online" (a status: sent on connect and every 60 s) or "offline" (the last
    will, published by the broker). A will is not always stored — the collector may itself
    have been down — so silence counts too: a device that said nothing for `max_silence_ms`
    after an online status is offline from that status + `max_silence_ms` (e.g. 180 s for a
    60 s heartbeat: two lost statuses are tolerated, a third is not).

    The last interval is open (end None) only when `now_ms` is given and the device's last
    word was "online" at most `max_silence_ms` before it: online as far as anyone knows.
    Without `now_ms` a final online status gets its silence allowance and no more.
    """
    if max_silence_ms <= 0:
        raise ValueError(f"max_silence_ms must be positive, not {max_silence_ms}")
    intervals: list[Interval] = []
    start = last_heard = previous = None
    for at, state in events:
        if previous is not None and at < previous:
            raise ValueError(f"status events must be sorted by time: {at} after {previous}")
        previous = at
        if state not in ("online", "offline"):
            raise ValueError(f"unknown device state {state!r}")
        if start is not None and at - last_heard > max_silence_ms:
            # Went quiet in between: offline from the end of its allowance.
            intervals.append((start, last_heard + max_silence_ms))
            start = None
        if state == "online":
            if start is None:
                start = at
            last_heard = at
        elif start is not None:
            if at > start:
                intervals.append((start, at))
            start = None
    if start is not None:
        if now_ms is not None and now_ms - last_heard <= max_silence_ms:
            intervals.append((start, None))
        else:
            intervals.append((start, last_heard + max_silence_ms))
    return intervals


def placed_online(rows: list[dict[str, Any]], now_ms: int,
                  max_silence_ms: int = MAX_SILENCE_MS) -> dict[str, list[tuple]]:
    """Per counter, the time its device(s) were online while placed there.

    A span is [starts_at, ended_at]; an open one ends at last_seen_at + max_silence_ms, or is
    still open (end None) when the device was heard at most max_silence_ms before `now_ms`.
    Each span is cut to its placement, so a device moved to another counter lends its online
    time to the counter it stood at.
    """
    out: dict[str, list[tuple]] = {}
    for row in rows:
        end = row["ended_at"]
        if end is None and now_ms - row["last_seen_at"] > max_silence_ms:
            end = row["last_seen_at"] + max_silence_ms
        start = max(row["starts_at"], row["placed_at"])
        ends = [e for e in (end, row["removed_at"]) if e is not None]
        end = min(ends) if ends else None
        if end is None or end > start:
            out.setdefault(row["counter_id"], []).append((start, end))
    return out


def receiving_intervals(rows: Iterable[tuple[int, int, int | None]], records_begin: int | None,
                        now_ms: int, max_silence_ms: int = MAX_SILENCE_MS) -> list[tuple] | None:
    """When the collector itself was receiving, so that a device not heard was offline.

    `rows`: the collector's receiving spans (started_at, last_alive_at, ended_at), table
    ingest_receiving; `records_begin`: the first span's start ever. With no span ever
    recorded (None) the result is None: every moment counts as received, as before the
    records; time before they began counts as received too. An open span is still open (end None) while
    its last sign of life is at most `max_silence_ms` before `now_ms`, else it ended there (a
    collector killed). Each span counts only from `max_silence_ms` after it began: a device is
    judged offline once the collector has listened as long as a device may be silent (it has
    no fresh status before; the retained one replayed at subscribe changes nothing).
    """
    if records_begin is None:
        return None
    out: list[tuple] = [(0, records_begin)]
    for started, last_alive, ended in rows:
        if ended is None and now_ms - last_alive > max_silence_ms:
            ended = last_alive
        start = started + max_silence_ms
        if ended is None or ended > start:
            out.append((start, ended))
    return out


# --- Coverage ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Coverage:
    """Time on duty in a month, and how much of it the counter's device was online; duty
    time the collector itself was not receiving, and no device was online, is unknown."""

    duty_ms: int
    online_ms: int
    unknown_ms: int = 0

    @property
    def offline_ms(self) -> int:
        return self.duty_ms - self.online_ms - self.unknown_ms

    @property
    def share(self) -> float | None:
        """Online share of the duty time whose state is known; None with none (nothing to
        cover, or nothing known: not 0 %)."""
        known = self.duty_ms - self.unknown_ms
        return self.online_ms / known if known else None

    def as_dict(self) -> dict:
        share = self.share
        return {
            "duty_hours": round(self.duty_ms / HOUR_MS, 2),
            "online_hours": round(self.online_ms / HOUR_MS, 2),
            # Offline is missing data, not bad data: shown, never scored against the officer.
            "offline_hours": round(self.offline_ms / HOUR_MS, 2),
            "share": None if share is None else round(share, 4),
            # The collector's own downtime: neither online nor offline (issue 12).
            "unknown_hours": round(self.unknown_ms / HOUR_MS, 2),
        }


def coverage(duty: Iterable[tuple[str, int, int | None]],
             online: Mapping[str, Iterable[Interval]], month: str,
             now_ms: int | None = None,
             receiving: Iterable[Interval] | None = None) -> Coverage:
    """Coverage of an officer's month.

    `duty` holds (counter, start_ms, end_ms | None) shifts from the roster; `online` maps each
    counter to the online intervals of the device that served it (see `online_intervals`);
    a counter missing from `online` had no device online at all. Everything is clipped to the
    local month, or quarter (periods.period_bounds), and, when given, to `now_ms`: a shift
    later this month has not happened yet. Overlapping shifts count once; time at a counter
    counts as online only while that counter's own device was online.

    `receiving` (receiving_intervals; None: no record, all received): duty time outside them
    and not online is unknown, neither online nor offline. Online stays online there: a
    status from the broker's queue may have placed it after the collector came back.
    """
    return Coverages(online, month, now_ms, receiving).of(duty)


class Coverages:
    """`coverage` of many officers' duty in one period against the same counters' online time
    and receiving record: those are closed and merged once, not once per officer (a unit's
    month, issue 13). `of(duty)` is `coverage(duty, online, month, now_ms, receiving)`."""

    def __init__(self, online: Mapping[str, Iterable[Interval]], month: str,
                 now_ms: int | None = None, receiving: Iterable[Interval] | None = None):
        self.start, month_end = period_bounds(month)
        self.horizon = month_end if now_ms is None else max(self.start, min(month_end, now_ms))
        self.online = online
        self._devices: dict[str, list[tuple[int, int]]] = {}
        self.receiving = None if receiving is None else union(_closed(receiving, self.horizon))

    def _device(self, counter: str) -> list[tuple[int, int]]:
        merged = self._devices.get(counter)
        if merged is None:
            merged = self._devices[counter] = union(
                _closed(self.online.get(counter, ()), self.horizon))
        return merged

    def of(self, duty: Iterable[tuple[str, int, int | None]]) -> Coverage:
        start, horizon = self.start, self.horizon
        shifts: dict[str, list[tuple[int, int]]] = {}
        for counter, begins, ends in duty:  # each shift as _closed resolves it
            if ends is None:
                ends = horizon
            elif ends < begins:
                raise ValueError(f"interval ends before it starts: ({begins}, {ends})")
            if ends > begins:
                shifts.setdefault(counter, []).append((begins, ends))
        if len(shifts) == 1:  # one counter, as most officers: its duty merged once
            (counter, intervals), = shifts.items()
            merged, window = union(intervals), [(start, horizon)] if horizon > start else []
            all_duty = _meet(merged, window)
            covered = _meet(_meet(merged, self._device(counter)), window)
        else:
            all_duty = clip([iv for ivs in shifts.values() for iv in ivs], start, horizon)
            covered = []
            for counter, intervals in shifts.items():
                covered.extend(_meet(union(intervals), self._device(counter)))
            # Union again: overlapping shifts at two counters both online count once.
            covered = clip(covered, start, horizon)
        duty_ms, online_ms = _length(all_duty), _length(covered)
        unknown = 0
        if self.receiving is not None:
            unknown = duty_ms - measure(covered + _meet(all_duty, self.receiving))
        return Coverage(duty_ms=duty_ms, online_ms=online_ms, unknown_ms=unknown)


# --- Satisfaction evidence ---------------------------------------------------------------

def satisfaction_evidence(summary: SatisfactionSummary, min_ratings: int,
                          z: float = Z_95) -> dict:
    """The satisfaction part of an officer-month, with its weight of evidence.

    Below `min_ratings` (the policy's minimum) `sufficient` is False and `reason` carries the
    Vietnamese and English text; the numbers stay visible to leaders but a scorer must not
    let them move the score. Filtered presses are reported apart, by reason, never counted.
    """
    if isinstance(min_ratings, bool) or not isinstance(min_ratings, int) or min_ratings < 1:
        raise ValueError(f"min_ratings must be a whole number >= 1, not {min_ratings!r}")
    satisfied = sum(summary.counts.get(code, 0) for code in SATISFIED_ANSWERS)
    interval = wilson_interval(satisfied, summary.total, z)
    sufficient = summary.total >= min_ratings
    return {
        "total": summary.total,
        "counts": dict(summary.counts),
        "index": summary.index,
        "satisfied": satisfied,
        "share_satisfied": summary.share_satisfied,
        "share_interval": None if interval is None
        else (round(interval[0], 4), round(interval[1], 4)),
        "min_ratings": min_ratings,
        "sufficient": sufficient,
        "reason": None if sufficient else dict(INSUFFICIENT),
        "citizen_reasons": dict(summary.reasons),
        "filtered": {"total": summary.filtered, "by_reason": dict(summary.filtered_by_reason)},
    }


# --- Comparison with the unit ------------------------------------------------------------

def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def unit_comparison(officer: str, unit: Mapping[str, dict]) -> dict:
    """Where `officer` stands among the unit's officers with sufficient evidence.

    `unit` maps each officer of the unit (including `officer`) to {"sufficient", "index"}
    (as `satisfaction_evidence` has them). Round once: give unrounded indexes
    (`unit_comparisons` does), the median, difference and rank are computed from them and
    only the median and the difference are rounded, at the end. Only sufficient evidence enters the median: an officer with
    three ratings must not drag the yardstick. `median` is None when nobody qualifies;
    `difference` (officer − median, index points) and `rank` (1 = highest index; ties
    share a rank, "1224") are None when the officer's own evidence is insufficient or
    nobody else qualifies — comparing one officer with themselves says nothing.
    """
    if officer not in unit:
        raise ValueError(f"officer {officer!r} is not in the unit given")
    indexes = {code: ev["index"] for code, ev in unit.items()
               if ev["sufficient"] and ev["index"] is not None}
    result = {"median": None, "compared": len(indexes), "difference": None, "rank": None}
    if not indexes:
        return result
    median = _median(list(indexes.values()))
    result["median"] = round(median, 1)
    own = indexes.get(officer)
    if own is not None and len(indexes) > 1:
        result["difference"] = round(own - median, 1)
        result["rank"] = 1 + sum(1 for value in indexes.values() if value > own)
    return result


def unit_comparisons(summaries: Mapping[str, SatisfactionSummary],
                     min_ratings: int) -> dict[str, dict]:
    """`unit_comparison` for each member (one unit's officers), judged on the unrounded
    indexes (`SatisfactionSummary.exact_index`): a median of rounded indexes, a difference of
    rounded figures or a tie at 0.1 would each round twice (issue 12)."""
    indexes = {officer: summary.exact_index for officer, summary in summaries.items()
               if summary.total >= min_ratings and summary.exact_index is not None}
    # What unit_comparison gives each member, with the median and the order computed once
    # for the unit rather than once per member (quadratic in a unit of thousands, issue 13).
    ordered = sorted(indexes.values())
    compared = len(ordered)
    median = _median(ordered) if ordered else None
    out = {}
    for officer in summaries:
        result = {"median": None if median is None else round(median, 1),
                  "compared": compared, "difference": None, "rank": None}
        own = indexes.get(officer)
        if own is not None and compared > 1:
            result["difference"] = round(own - median, 1)
            result["rank"] = 1 + compared - bisect_right(ordered, own)
        out[officer] = result
    return out


def exact_share(sat: Mapping) -> tuple[float | None, tuple[float, float] | None]:
    """The share satisfied and its Wilson interval, unrounded, recomputed from the counts a
    `satisfaction_evidence` dict shows rounded: what a score is computed from."""
    total, satisfied = sat["total"], sat.get("satisfied")
    if not total or satisfied is None:
        return sat["share_satisfied"], sat["share_interval"]
    return satisfied / total, wilson_interval(satisfied, total)
