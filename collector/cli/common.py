"""What every command group of `hailong` shares: the one-line user error, argument types and
options used by several groups, and how results are printed.

Each group module (collector/cli/devices.py, serve.py, …) imports from here and from the
library below; nothing here imports a group, and `collector.cli.main` only wires the groups.
A `UsageError` raised by any handler ends as one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

from collector.db.store import connect
from collector.evaluation.policy import load_configured


class UsageError(Exception):
    """A mistake in what the user asked for; printed as one line."""


# --- argument types and shared options --------------------------------------------------

def host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host, int(port)


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("seconds must be more than 0")
    return value


def checked_policy(spec: str) -> str:
    """The --policy value, once it has loaded: a bad file stops the start, not a later page."""
    try:
        load_configured(spec)
    except ValueError as error:
        raise UsageError(str(error)) from None
    return spec


def add_policy_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--policy", default="hanoi-3814", metavar="NAME|FILE.toml",
                        help="scoring policy: preset hanoi-3814 (default) or decree-335, or a "
                             "TOML file (docs/evaluation.md)")


# --- the database, read-only ------------------------------------------------------------

@contextmanager
def open_database(path: Path) -> Iterator[sqlite_utils.Database]:
    """The collector's database at `path`, opened read-only: the reporting commands must never
    change it. A missing or unreadable file is the user's mistake, not a traceback."""
    if not path.exists():
        raise UsageError(f"no database at {path}; give the collector's database with --db PATH")
    try:
        db = connect(path, readonly=True)
    except sqlite3.Error as error:
        raise UsageError(f"cannot open the database {path}: {error}") from None
    try:
        yield db
    except sqlite3.Error as error:
        raise UsageError(f"cannot read the database {path}: {error}") from None
    finally:
        db.conn.close()


# --- output -----------------------------------------------------------------------------

def print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2))


def table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
             for row in rows)
    return "\n".join(line.rstrip() for line in lines)
