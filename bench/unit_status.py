"""Benchmark: a unit's evaluation status (who is late at which step), before and after issue 13.

    python bench/province.py generate --db /tmp/province.db --scale 0.1
    python bench/unit_status.py --db /tmp/province.db [--runs 5] [--month YYYY-MM ...]
        [--unit ID ...]

In process, on a read-only connection (collector/db/reader.py), for the root unit and the
department with the most officers (or the `--unit`s given), each month given (default: last
month, reviewed and partly decided, and this month): `unit_evaluation_status` as it is now
(month_facts_many), the same status computed officer by officer as it was before
(tests/status_reference.py: month_facts per officer), and the same figures in plain SQL (the
month's place, its reviewer in office and the nearest head who is not the officer, by a
recursive walk per officer; the stage and lateness by CASE; the quota's counts per group).
The three run interleaved, round after round, so that a busy machine slows them alike.
Prints, per unit and month: the officers, and for each way the median wall time and the
median CPU time of this process (steadier than wall time on a shared machine) over RUNS
rounds, after one warm-up.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from status_reference import slow_unit_status  # noqa: E402

from collector.core.periods import parse_period  # noqa: E402
from collector.db.reader import open_reader  # noqa: E402
from collector.evaluation.policy import load_configured  # noqa: E402
from collector.evaluation.workflow.calendar import calendar_for  # noqa: E402
from collector.evaluation.workflow.status import local_today, unit_evaluation_status  # noqa: E402

# The month's people: its place (stored, else the officer's unit now), its stage; the walk up
# from the stored deciding unit (else the unit) to the nearest head who is not the officer;
# the reviewer while in office, else the leader of record (unplaced), else that head. The
# walk goes on only past units without a head or headed by the officer: one head each.
PLAIN = """
WITH RECURSIVE sub(id) AS (SELECT :unit UNION SELECT u.id FROM units u JOIN sub
                           ON u.parent_id = sub.id),
people AS (
  SELECT o.id, COALESCE(e.unit_id, o.unit_id) AS unit_id, e.unit_id IS NOT NULL AS placed,
         COALESCE(e.deciding_unit_id, e.unit_id, o.unit_id) AS start, o.leader_id,
         e.reviewed_by, e.self_at, e.reviewed_at, e.decided_at
  FROM officers o LEFT JOIN evaluations e ON e.officer_id = o.id AND e.month = :month
  WHERE COALESCE(e.unit_id, o.unit_id) IN sub
    AND (o.active_from IS NULL OR o.active_from <= :last)
    AND (o.active_to IS NULL OR o.active_to >= :first)),
up(officer, head, parent, depth) AS (
  SELECT p.id, u.head_id, u.parent_id, 0 FROM people p JOIN units u ON u.id = p.start
  UNION ALL
  SELECT up.officer, u.head_id, u.parent_id, up.depth + 1 FROM up JOIN units u
    ON u.id = up.parent WHERE (up.head IS NULL OR up.head = up.officer) AND up.depth < 50),
heads AS (SELECT officer, head FROM up WHERE head IS NOT NULL AND head <> officer)
SELECT p.id, p.unit_id,
       CASE WHEN p.decided_at IS NOT NULL THEN 'decided'
            WHEN p.reviewed_at IS NOT NULL THEN 'reviewed'
            WHEN p.self_at IS NOT NULL THEN 'self_done' ELSE 'not_started' END AS stage,
       CASE WHEN p.placed AND r.id IS NOT NULL AND p.reviewed_by <> p.id
                 AND (r.active_from IS NULL OR r.active_from <= :today)
                 AND (r.active_to IS NULL OR r.active_to >= :today) THEN p.reviewed_by
            WHEN NOT p.placed AND p.leader_id IS NOT NULL THEN p.leader_id
            ELSE h.head END AS reviewer,
       h.head,
       p.self_at IS NULL AND p.reviewed_at IS NULL AND :today > :self_due AS self_late,
       p.reviewed_at IS NULL AND :today > :review_due AS review_late,
       p.decided_at IS NULL AND :today > :decision_due AS decision_late
FROM people p LEFT JOIN heads h ON h.officer = p.id
LEFT JOIN officers r ON r.id = p.reviewed_by
ORDER BY p.unit_id, p.id
"""


# The quota's counts per group of similar posts over the same people: graded (final, else
# proposed), the capped grade decided, not graded yet.
PLAIN_QUOTA = """
WITH RECURSIVE sub(id) AS (SELECT :unit UNION SELECT u.id FROM units u JOIN sub
                           ON u.parent_id = sub.id)
SELECT CASE WHEN e.unit_id IS NOT NULL THEN e.post_group ELSE o.post_group END AS post_group,
       COALESCE(e.final_grade, e.proposed_grade) AS grade, e.final_grade IS NOT NULL, count(*)
FROM officers o LEFT JOIN evaluations e ON e.officer_id = o.id AND e.month = :month
WHERE COALESCE(e.unit_id, o.unit_id) IN sub
  AND (o.active_from IS NULL OR o.active_from <= :last)
  AND (o.active_to IS NULL OR o.active_to >= :first)
GROUP BY 1, 2, 3
"""


def plain_status(db, unit: str, month: str, today: date) -> tuple[list[tuple], list[tuple]]:
    period, calendar = parse_period(month), calendar_for(db, month)
    values = {"unit": unit, "month": month, "first": period.first_day.isoformat(),
              "last": period.last_day.isoformat(), "today": today.isoformat(),
              "self_due": calendar.self_due.isoformat(),
              "review_due": calendar.review_due.isoformat(),
              "decision_due": calendar.decision_due.isoformat()}
    return (db.execute(PLAIN, values).fetchall(),
            db.execute(PLAIN_QUOTA, {k: values[k] for k in ("unit", "month", "first", "last")}
                       ).fetchall())


def biggest_department(db) -> str:
    """The department (or any unit below the root) with the most officers in its subtree."""
    return db.execute(
        "WITH RECURSIVE sub(root, id) AS (SELECT id, id FROM units WHERE parent_id IN "
        "(SELECT id FROM units WHERE parent_id IS NULL) UNION SELECT s.root, u.id FROM units "
        "u JOIN sub s ON u.parent_id = s.id) SELECT s.root FROM sub s JOIN officers o "
        "ON o.unit_id = s.id GROUP BY s.root ORDER BY count(*) DESC LIMIT 1").fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--policy", default="hanoi-3814")
    parser.add_argument("--month", action="append")
    parser.add_argument("--unit", action="append")
    args = parser.parse_args()
    db = open_reader(args.db)
    policy, today = load_configured(args.policy), local_today()
    this = today.strftime("%Y-%m")
    last = date(today.year - (today.month == 1), (today.month - 2) % 12 + 1, 1).strftime("%Y-%m")
    root = db.execute("SELECT id FROM units WHERE parent_id IS NULL ORDER BY id").fetchone()[0]
    ways = {"after": lambda u, m: unit_evaluation_status(db, policy, u, m, today),
            "before": lambda u, m: slow_unit_status(db, policy, u, m, today),
            "plain SQL": lambda u, m: plain_status(db, u, m, today)}
    for unit in args.unit or [root, biggest_department(db)]:
        for month in args.month or [last, this]:
            size = len(ways["after"](unit, month)["officers"])
            assert len(ways["plain SQL"](unit, month)[0]) == size
            ways["before"](unit, month)  # the warm-up of each way
            times: dict[str, list[tuple[float, float]]] = {way: [] for way in ways}
            for _ in range(args.runs):
                for way, read in ways.items():
                    wall, cpu = time.perf_counter(), time.process_time()
                    read(unit, month)
                    times[way].append((time.perf_counter() - wall, time.process_time() - cpu))
            line = "  ".join(
                f"{way} {statistics.median(w for w, _ in runs) * 1000:6.0f} ms "
                f"(CPU {statistics.median(c for _, c in runs) * 1000:5.0f})"
                for way, runs in times.items())
            print(f"{unit:>6} {month} {size:6d} officers  {line}", flush=True)


if __name__ == "__main__":
    main()
