"""Migrations of the ingest's own bookkeeping that no longer fit collector/db/schema.py.

schema.py reached the 450 lines a module may have; these are appended to its MIGRATIONS, in
order, like every other migration, and never edited once released.
"""

from __future__ import annotations

import sqlite_utils


def migration_ingest_receiving(db: sqlite_utils.Database) -> None:
    # When the collector itself was receiving from the broker (issue 12): a span from each
    # subscription, its last sign of life (`last_alive_at`, beaten while connected) and its
    # end (the broker lost, or the collector stopped). A collector killed leaves its span
    # open: it ended at its last sign of life. Time outside every span is unknown, neither
    # online nor offline, for the devices' evidence (collector/ingest/recording.py writes,
    # ratings/evidence.receiving_intervals reads). No span is made up for the past: time
    # before the first one is judged as before (as received).
    db.execute("""CREATE TABLE ingest_receiving (
        id INTEGER PRIMARY KEY, client_id TEXT NOT NULL, started_at INTEGER NOT NULL,
        last_alive_at INTEGER NOT NULL, ended_at INTEGER)""")
    db.execute("CREATE INDEX ingest_receiving_starts ON ingest_receiving(started_at)")
    db.execute("CREATE INDEX ingest_receiving_open ON ingest_receiving(client_id) "
               "WHERE ended_at IS NULL")
