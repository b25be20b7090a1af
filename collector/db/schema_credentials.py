"""Migrations of the broker credentials (kept apart: collector/db/schema.py is full)."""

from __future__ import annotations

import sqlite_utils


def migration_bcrypt_hashes(db: sqlite_utils.Database) -> None:
    # NATS Server verifies bcrypt only: a second hash of the same password, made when it is
    # issued (the password itself is never kept). NULL for credentials issued before: such a
    # device needs `hailong devices rotate-credentials` before a NATS broker admits it.
    db.execute("ALTER TABLE device_credentials ADD COLUMN bcrypt_hash TEXT")
