"""A believable past for the demo: weeks of rosters, ratings, tasks and one month's evaluations.

`seed_history` (seeding.py) is the door; simulation.py holds the clock and the plan the parts
share, days.py the rosters, online spans and ratings, tasks.py the officers' tasks and
evaluations.py the previous month's workflow.
"""

from collector.demo.history.seeding import ACTOR, HistorySummary, seed_history

__all__ = ["ACTOR", "HistorySummary", "seed_history"]
