"""Migrations of the evaluations' tables that no longer fit collector/db/schema.py.

Appended to schema.py's MIGRATIONS, in order, like every other migration, and never edited
once released.
"""

from __future__ import annotations

import sqlite_utils


def migration_evaluation_reviewers(db: sqlite_utils.Database) -> None:
    # Whom a leader led in a past period is read from the placed rows they reviewed
    # (collector/evaluation/sources.py `evidence_led`): without this a unit's month scans the
    # whole period's evaluations (a province: 150,000 rows a month) for every leader.
    db.execute("CREATE INDEX evaluations_month_reviewer ON evaluations(month, reviewed_by) "
               "WHERE unit_id IS NOT NULL")
