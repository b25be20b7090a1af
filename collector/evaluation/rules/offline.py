"""Evidence that cannot be gamed by switching the counter's device off (issue 12, item 3).

`[offline]` (optional; the defaults below otherwise):
- `alert_minutes`: a device offline or unplugged for longer than this, in total, within one
  roster shift at its counter raises an alert to the unit's leaders (the counter alerts'
  machinery, acknowledged with a note);
- `coverage_below`: on the month, ratings fewer than the policy's minimum *and* the officer's
  shifts covered by an online device for less than this share mean the evidence is
  insufficient because the officer's own counter was offline, and the month says so;
- `attitude_reason`: then the leader must write a reason to score the satisfaction criterion
  above the share of its points that the available ratings show (any score at all when there
  are none).

The collector's own downtime (not connected to the broker, or not running: outside its
receiving spans, ratings/evidence.receiving_intervals) blames no counter: a device not heard
then is neither online nor offline but unknown. The alert counts only offline minutes the
collector received; the month's share is judged over the duty time whose state is known, and
the unknown hours are said apart (`unknown_note`).

Pure: the arithmetic and the texts of those three rules are below; the shift watch that
raises the alerts is collector/ingest/offline_watch.py, the month's flag
collector/evaluation/month.py, the review's refusal collector/evaluation/workflow/steps.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from collector.evaluation.rules.keys import get_key, no_extra_keys, share_key
from collector.ratings.evidence import HOUR_MS, clip, exact_share, intersect, measure

MAX_OFFLINE_MINUTES = 24 * 60
# The review form's field (dashboard/locales offline.po): the refusal names what the leader
# fills in on the page, not the API's field.
REASON_VI = "Lý do chấm điểm cao hơn mức các lượt đánh giá cho thấy"


@dataclass(frozen=True)
class OfflineRule:
    alert_minutes: int = 30
    coverage_below: float = 0.8
    attitude_reason: bool = True


DEFAULT_OFFLINE_RULE = OfflineRule()


def parse_offline(table: dict) -> OfflineRule:
    where = "offline"
    if not isinstance(table, dict):
        raise ValueError(f"offline must be a table, got {table!r}")
    no_extra_keys(table, ("alert_minutes", "coverage_below", "attitude_reason"), where)
    minutes = get_key(table, "alert_minutes", where, int)
    if not 1 <= minutes <= MAX_OFFLINE_MINUTES:
        raise ValueError(f"offline.alert_minutes must be 1 to {MAX_OFFLINE_MINUTES} minutes, "
                         f"got {minutes}")
    return OfflineRule(alert_minutes=minutes,
                       coverage_below=share_key(table, "coverage_below", where),
                       attitude_reason=get_key(table, "attitude_reason", where, bool))


# --- pure arithmetic and texts (issue 12, item 3) ---------------------------------------------
# Callers pass rows already read and the rule dataclasses (SatisfactionRule and the criterion
# satisfaction feeds, from the policy): this module imports no other evaluation module.

MINUTE_MS = 60_000
# Scores and the points the ratings show are compared with this much slack: in binary
# floating point a product such as 0.1 × 3 × 7.5 comes out 2.2500000000000004 or 2.2499…,
# and a leader typing the points shown must not be asked for a reason, nor let through above.
_SLACK = 1e-9


def _vi_number(value: float) -> str:
    """Vietnamese number: dot for thousands, comma for decimals (glossary-vi.md)."""
    text = f"{float(value):,.2f}".rstrip("0").rstrip(".")
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def _en_number(value: float) -> str:
    return f"{float(value):,.2f}".rstrip("0").rstrip(".")


def _percent(share: float) -> tuple[str, str]:
    return _vi_number(share * 100) + " %", _en_number(share * 100) + "%"


def shift_offline_ms(start: int, end: int, online: Iterable[tuple[int, int | None]],
                     receiving: Iterable[tuple[int, int | None]] | None = None) -> int:
    """Time of [start, end) that the collector received and no online interval covers.

    `online`: the counter's online intervals (ratings/evidence.placed_online: a device's spans
    cut to its placements, so time with no device placed at the counter is offline too); an
    open end (None) means "online as far as anyone knows", i.e. through `end`.
    `receiving`: when the collector itself was receiving (ratings/evidence.
    receiving_intervals; None: no record kept, all of it): the rest is unknown, not offline.
    """
    if end <= start:
        return 0
    closed = [(s, end if e is None else e) for s, e in online]
    heard = ([(start, end)] if receiving is None else
             clip([(s, end if e is None else e) for s, e in receiving], start, end))
    return measure(heard) - measure(intersect(heard, closed))


def offline_minutes(offline_ms: int) -> int:
    """Whole minutes, half up: what the alert says."""
    return (offline_ms + MINUTE_MS // 2) // MINUTE_MS


def offline_alert_due(rule: OfflineRule, offline_ms: int) -> bool:
    """More than `alert_minutes` offline in total within one shift (exactly that is not)."""
    return offline_ms > rule.alert_minutes * MINUTE_MS


def offline_action(rule: OfflineRule, offline_ms: int,
                   raised: tuple[int | None, bool] | None) -> str:
    """What one shift's offline time calls for: "raise", "update" or "none".

    `raised`: (minutes, acknowledged) of the alert already raised for the shift (or a shift it
    was corrected from), None when there is none. One alert per shift: while it is open its
    minutes follow the shift (a running shift's grow until it ends); an acknowledged one stays
    as the leader saw it.
    """
    if raised is None:
        return "raise" if offline_alert_due(rule, offline_ms) else "none"
    minutes, acknowledged = raised
    if not acknowledged and minutes != offline_minutes(offline_ms):
        return "update"
    return "none"


def _measure(sat: Mapping[str, Any], name: str) -> float | None:
    """The policy's measure of the ratings available, unrounded (scoring.satisfaction_measure
    on the figures month.py shows): the share and its interval recomputed from the counts."""
    share, interval = exact_share(sat)
    if name == "share_satisfied":
        return share
    if name == "index":
        return None if sat.get("index") is None else sat["index"] / 100.0
    return None if interval is None else interval[0]


def attitude_ceiling(satisfaction: Any, points: float, sat: Mapping[str, Any]) -> float:
    """The points of the satisfaction criterion the available ratings show: the policy's
    measure mapped onto the criterion's points as the scoring maps it (linearly, 0 at
    `zero_at`, all at `full_at`); 0 with no rating at all.

    `satisfaction`: the policy's SatisfactionRule (measure, zero_at, full_at)."""
    if not sat.get("total"):
        return 0.0
    value = _measure(sat, satisfaction.measure)
    if value is None:
        return 0.0
    span = satisfaction.full_at - satisfaction.zero_at
    mapped = min(1.0, max(0.0, (value - satisfaction.zero_at) / span))
    return points * mapped


def unknown_note(unknown_ms: int) -> dict[str, str] | None:
    """The line that shows the collector's own downtime during the officer's shifts apart
    (neither online nor offline); None without any."""
    hours = round(unknown_ms / HOUR_MS, 2)
    if not hours:
        return None
    return {"vi": f"{_vi_number(hours)} giờ trong ca không rõ trạng thái thiết bị vì máy chủ "
                  "ngừng nhận dữ liệu",
            "en": f"{_en_number(hours)} hours on shift with the device's state unknown "
                  "because the server was not receiving data"}


def month_offline(rule: OfflineRule, satisfaction: Any, criterion: Any, decimals: int,
                  sat: Mapping[str, Any], coverage_share: float | None,
                  unknown_ms: int = 0) -> dict[str, Any]:
    """What the month's satisfaction block says about a counter switched off.

    Fewer counted ratings than the policy's minimum (`sat["sufficient"]` false) *and* the
    officer's shifts covered by an online device for less than `coverage_below`
    (`coverage_share`, unrounded; None without shifts: nothing was switched off) → the
    evidence is insufficient because the officer's own counter was offline:
    `insufficient_reason` "offline", `insufficient_note` the line, and `attitude_ceiling`:
    the points of the satisfaction criterion the available ratings show and whether the
    leader must write a reason to score above them. Otherwise all three are None.

    `unknown_ms`: duty time the collector itself was not receiving (evidence.Coverage): left
    out of `coverage_share` by the caller, said apart (`unknown_note`) and in the note.
    """
    unknown = unknown_note(unknown_ms)
    if (sat.get("sufficient") or coverage_share is None
            or coverage_share >= rule.coverage_below):
        return {"insufficient_reason": None, "insufficient_note": None,
                "attitude_ceiling": None, "unknown_note": unknown}
    pvi, pen = _percent(1 - coverage_share)
    apart_vi = apart_en = ""
    if unknown is not None:
        hours = round(unknown_ms / HOUR_MS, 2)
        apart_vi = f"; không tính {_vi_number(hours)} giờ máy chủ ngừng nhận dữ liệu"
        apart_en = f"; the {_en_number(hours)} hours the server was not receiving are not counted"
    ceiling = round(attitude_ceiling(satisfaction, criterion.points, sat), decimals)
    hint = None
    if rule.attitude_reason:
        hint = {"vi": f"Chấm «{criterion.vi}» trên {_vi_number(ceiling)} điểm (mức "
                      f"{sat.get('total', 0)} lượt đánh giá hiện có cho thấy) phải ghi lý do",
                "en": f"Scoring “{criterion.en}” above {_en_number(ceiling)} points (what the "
                      f"{sat.get('total', 0)} available ratings show) needs a written reason"}
    return {
        "insufficient_reason": "offline",
        "insufficient_note": {
            "vi": f"Chưa đủ dữ liệu vì thiết bị tại quầy của cán bộ mất kết nối {pvi} thời "
                  f"gian trong ca{apart_vi}",
            "en": "Insufficient evidence because the device at the officer's counter was "
                  f"offline {pen} of the time on shift{apart_en}"},
        "attitude_ceiling": {"criterion": criterion.code, "points": ceiling,
                             "reason_required": rule.attitude_reason, "hint": hint},
        "unknown_note": unknown,
    }


def attitude_refusal(rule: OfflineRule, satisfaction: Any, criterion: Any,
                     sat: Mapping[str, Any] | None, scores: Mapping[str, Any],
                     reason: str | None) -> tuple[str, str] | None:
    """(vi, en) when the leader's review must be refused for want of `attitude_reason`:
    the policy asks for it, the month is flagged "offline" (`month_offline`), the score for
    the satisfaction criterion (`scores[criterion.code]`) is above the points the available
    ratings show (compared unrounded) and no reason is written. None otherwise."""
    score = scores.get(criterion.code)
    if (not rule.attitude_reason or sat is None or reason
            or sat.get("insufficient_reason") != "offline"
            or isinstance(score, bool) or not isinstance(score, (int, float))):
        return None
    ceiling = attitude_ceiling(satisfaction, criterion.points, sat)
    if score <= ceiling + _SLACK:
        return None
    share = (sat.get("coverage") or {}).get("share")
    pvi, pen = _percent(1 - share) if share is not None else ("?", "?")
    total = sat.get("total", 0)
    shown_vi, shown_en = _vi_number(round(ceiling, 2)), _en_number(round(ceiling, 2))
    return (f"Thiết bị tại quầy của cán bộ mất kết nối {pvi} thời gian trong ca và chưa đủ "
            f"lượt đánh giá: chấm «{criterion.vi}» {_vi_number(score)} điểm, trên mức "
            f"{shown_vi} điểm mà {total} lượt đánh giá hiện có cho thấy, phải ghi «{REASON_VI}»",
            f"The device at the officer's counter was offline {pen} of the time on shift and "
            f"the ratings are too few: scoring “{criterion.en}” {_en_number(score)} points, "
            f"above the {shown_en} points the {total} available ratings show, needs a "
            "written reason (attitude_reason)")
