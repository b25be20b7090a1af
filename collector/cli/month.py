"""`hailong month report` and `hailong year report`: the monthly and annual outputs for scripts.

    hailong month report --month 2026-03 [--unit hk-1c] [--db hailong.db]
                         [--policy hanoi-3814|decree-335|FILE.toml] --format json|xlsx --out FILE
    hailong year report --year 2026 [--unit hk-1c] ... --format json|xlsx --out FILE

Each opens the database read-only, calls `monthly.unit_month` / `annual.unit_year` for the
unit asked for, or for every root unit (the whole tree) without `--unit`, and writes the file.
The JSON file is always {"month"|"year", "policy", "units": [one report per unit]}, each
report exactly what the API returns for that unit, written compact (one line; `python -m
json.tool` indents it); `--out -` prints the JSON. What the user
can get wrong (no database, unknown unit, bad policy, unwritable file) is one line, exit 2.
Wired into the main parser with `add_month_commands(subparsers)`.
"""

from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path
from typing import Any, Callable

import orjson

from collector.evaluation import year as annual, export_xlsx, month as monthly, tasks
from collector.db import store
from collector.evaluation import sources
from collector.cli.common import UsageError, open_database
from collector.evaluation.policy import Policy, load_configured
from collector.core.periods import QUARTER_PATTERN
from collector.core.timeline import MONTH_PATTERN


def month_arg(text: str) -> str:
    """A month, or a quarter YYYY-Qn (a quarterly policy's period: the policy decides which
    it takes, and the report refuses the other kind with its reason)."""
    if not MONTH_PATTERN.match(text) and not QUARTER_PATTERN.match(text):
        raise argparse.ArgumentTypeError(f"expected a month as YYYY-MM (or a quarter as "
                                         f"YYYY-Qn under a quarterly policy), got {text!r}")
    return text


def year_arg(text: str) -> int:
    if not text.isdigit() or not annual.FIRST_YEAR <= int(text) <= annual.LAST_YEAR:
        raise argparse.ArgumentTypeError(
            f"expected a year {annual.FIRST_YEAR}–{annual.LAST_YEAR}, got {text!r}")
    return int(text)


def read_policy(name: str) -> Policy:
    """A preset name or a TOML file, read as `hailong serve --policy` reads it."""
    try:
        return load_configured(name)
    except ValueError as error:
        raise UsageError(f"policy {name!r}: {error}") from None


def _units(db, unit: str | None) -> list[str]:
    if unit is not None:
        return [unit]
    roots = sources.evidence_root_units(db)
    if not roots:
        raise UsageError("the database holds no units yet")
    return roots


def _report(args: argparse.Namespace, build: Callable[..., dict],
            write_xlsx: Callable[[Any, Any], None], period: dict[str, Any]) -> int:
    policy = read_policy(args.policy)
    # A province's report is millions of small dicts that refer to no cycle, built and written
    # once by a process that ends: the cyclic collector would walk them all again at every
    # full collection (a third of a province's close, issue 13) and could never free one.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _build_and_write(args, build, write_xlsx, period, policy)
    finally:
        if collecting:
            gc.enable()


def _build_and_write(args: argparse.Namespace, build: Callable[..., dict],
                     write_xlsx: Callable[[Any, Any], None], period: dict[str, Any],
                     policy: Policy) -> int:
    with open_database(args.db) as db:
        try:
            reports = [build(db, unit, policy) for unit in _units(db, args.unit)]
        except monthly.MonthlyError as error:
            raise UsageError(str(error)) from None
    try:
        if args.format == "xlsx":
            if str(args.out) == "-":
                raise UsageError("an XLSX report needs a file: --out FILE.xlsx")
            write_xlsx(reports if len(reports) > 1 else reports[0], args.out)
        else:
            # Compact UTF-8, what json.dumps(ensure_ascii=False, separators=(",", ":"))
            # writes, by orjson: eleven times faster than json's C encoder on a province's
            # 170 MB (issue 13; json's `indent` would fall back to its pure Python encoder).
            # `python -m json.tool` indents it.
            data = orjson.dumps({**period, "policy": policy.name, "units": reports})
            if str(args.out) == "-":
                sys.stdout.flush()
                sys.stdout.buffer.write(data)  # not data + b"\n": 170 MB to copy
                sys.stdout.buffer.write(b"\n")
                sys.stdout.buffer.flush()
            else:
                with open(args.out, "wb") as out:
                    out.write(data)
                    out.write(b"\n")
    except OSError as error:
        raise UsageError(f"cannot write {args.out}: {error.strerror or error}") from None
    if str(args.out) != "-":
        print(f"{args.out}: {len(reports)} đơn vị / unit(s), "
              f"{sum(len(r['officers']) for r in reports)} cán bộ / officers")
    return 0


def cmd_month_report(args: argparse.Namespace) -> int:
    now, day = store.now_ms(), tasks.local_today()
    return _report(args, lambda db, unit, policy: monthly.unit_month(
        db, unit, args.month, policy, now_ms=now, today=day),
        export_xlsx.unit_month_xlsx, {"month": args.month})


def cmd_year_report(args: argparse.Namespace) -> int:
    day = tasks.local_today()
    return _report(args, lambda db, unit, policy: annual.unit_year(
        db, unit, args.year, policy, today=day), export_xlsx.annual_xlsx, {"year": args.year})


def add_month_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add `month report` and `year report`."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--unit", default=None, metavar="CODE",
                        help="unit id; the units below it are included (default: every root "
                             "unit, i.e. the whole tree)")
    common.add_argument("--db", type=Path, default=Path("hailong.db"),
                        help="the collector's SQLite file (default: hailong.db)")
    common.add_argument("--policy", default="hanoi-3814", metavar="NAME|FILE",
                        help="scoring policy: a preset (hanoi-3814, decree-335) or a .toml file "
                             "(default hanoi-3814)")
    common.add_argument("--format", choices=["json", "xlsx"], default="json",
                        help="json (default) or xlsx")
    common.add_argument("--out", required=True, metavar="FILE",
                        help="file to write; '-' prints the JSON")

    month = subparsers.add_parser("month", help="monthly evaluation of a unit: report")
    month_actions = month.add_subparsers(dest="month_command", required=True, metavar="ACTION")
    report = month_actions.add_parser(
        "report", parents=[common],
        help="evidence, suggested score, self, leader and final grade of every officer")
    report.add_argument("--month", type=month_arg, required=True, metavar="YYYY-MM|YYYY-Qn")
    report.set_defaults(handler=cmd_month_report)

    year = subparsers.add_parser("year", help="annual roll-up of a unit: report")
    year_actions = year.add_subparsers(dest="year_command", required=True, metavar="ACTION")
    report = year_actions.add_parser(
        "report", parents=[common],
        help="average of the decided monthly scores, months counted, grade")
    report.add_argument("--year", type=year_arg, required=True, metavar="YYYY")
    report.set_defaults(handler=cmd_year_report)

