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
"""

from __future__ import annotations

from dataclasses import dataclass

from collector.evaluation.rules.keys import get_key, no_extra_keys, share_key

MAX_OFFLINE_MINUTES = 24 * 60


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
