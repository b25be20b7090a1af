"""Read-only connections: each API request, page, publisher pass or tool opens its own.

The ingest thread (or one CLI command) is the only writer; readers never write, and WAL mode
lets them read while it commits.
"""

from __future__ import annotations

from pathlib import Path

import sqlite_utils

from collector.db.store import connect


def open_reader(path: str | Path) -> sqlite_utils.Database:
    return connect(path, readonly=True)
