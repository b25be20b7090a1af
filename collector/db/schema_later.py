"""The migrations after collector/db/schema.py reached the 450 lines a module may have, in the
order they run (schema.py appends this list to its MIGRATIONS). Each lives in the schema module
of its subject; a released one is never edited, a new one is appended here."""

from __future__ import annotations

from typing import Callable

import sqlite_utils

from collector.db import schema_credentials, schema_evaluations, schema_ingest, schema_reads

MIGRATIONS: list[tuple[str, Callable[[sqlite_utils.Database], None]]] = [
    ("ingest_0002_receiving_spans", schema_ingest.migration_ingest_receiving),
    ("broker_0001_bcrypt_hashes", schema_credentials.migration_bcrypt_hashes),
    ("reads_0001_rating_months", schema_reads.migration_rating_months),
    ("evaluations_0002_reviewer_index", schema_evaluations.migration_evaluation_reviewers),
    ("reads_0002_unit_summary", schema_reads.migration_unit_summary),
    ("reads_0003_online_spans_cover", schema_reads.migration_online_spans_cover),
]
