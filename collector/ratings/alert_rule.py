"""The rule that turns a counter's recent ratings into an alert (collector/ratings/alerts.py).

Its thresholds are policy: a policy file's optional `[alerts]` table
(collector/evaluation/policy.py reads and checks it) overrides DEFAULT_ALERT_RULE. The rule
lives here, beside the alerts that apply it, so ratings never reach up into the evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AlertRule:
    """When a counter's recent ratings raise an alert (collector/ratings/alerts.py)."""
    window_minutes: int  # presses less than this far apart (by press time) share a window
    min_ratings: int  # counted ratings a window needs before it can raise anything
    negative_share: float  # raise when negative / counted >= this (0 < share <= 1)
    negative_answers: tuple[str, ...]  # answer codes (collector/ratings/satisfaction.py) that count
    late_after_minutes: int  # raised this long after its last press: marked late (a backlog)

    def as_dict(self) -> dict:
        """The rule as stored with each alert, so an alert keeps the rule that raised it."""
        return {"window_minutes": self.window_minutes, "min_ratings": self.min_ratings,
                "negative_share": self.negative_share,
                "negative_answers": list(self.negative_answers),
                "late_after_minutes": self.late_after_minutes}


# The example, used when a policy file has no [alerts] table (a site's copy made before
# alerts existed must still grade people): at least half of at least 4 ratings negative within
# 15 minutes. "Bình thường" (neutral) is not negative.
DEFAULT_ALERT_RULE = AlertRule(window_minutes=15, min_ratings=4, negative_share=0.5,
                               negative_answers=("dissatisfied", "very_dissatisfied"),
                               late_after_minutes=5)
