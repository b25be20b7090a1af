"""`hailong import org|tasks FILE…`: importing an organisation or task records from CSV/XLSX.

Each command reads the files, calls `run_import` (collector/imports/applying.py) once and prints
its report: a table of every rejected row (Vietnamese, then English) or what was imported. Exit
status 0 when the import was applied (or, with --dry-run, would be), 1 when any row was rejected
and nothing was written, 2 for what the user got wrong on the command line (no such file, no
database for tasks). Wired into the main parser with `add_import_commands(subparsers)`.
"""

from __future__ import annotations

import argparse
import getpass
import sqlite3
import sys
from pathlib import Path

from collector.cli.common import UsageError, print_json, table
from collector.imports.applying import run_import
from collector.imports.reading import MAX_BYTES, ImportReport
from collector.db.store import Store

TITLES = {"org": "Nhập tổ chức / organisation import",
          "tasks": "Nhập nhiệm vụ / task import"}
MAX_SHOWN = 40  # characters of a cell value in the text table


def read_sources(paths: list[Path]) -> list[tuple[str, bytes]]:
    """(name, bytes) of each file; one byte past the size limit is enough for the importer to
    refuse an oversized file in its report without reading all of it."""
    sources = []
    for path in paths:
        try:
            with path.open("rb") as handle:
                sources.append((path.name, handle.read(MAX_BYTES + 1)))
        except OSError as error:
            raise UsageError(f"cannot read {path}: {error.strerror or error}") from None
    return sources


def open_store(path: Path, kind: str, dry_run: bool) -> Store:
    """The database to import into. An organisation import may be the first thing a new
    deployment does, so it creates the database; a dry run then checks against an empty one
    in memory rather than leave a file behind. Tasks need officers: the database must exist."""
    try:
        if path.exists():
            return Store(path)
        if kind == "tasks":
            raise UsageError(f"no database at {path}; give the collector's database with "
                             "--db PATH (tasks need the officers it holds)")
        if dry_run:
            return Store(":memory:")
        print(f"Tạo cơ sở dữ liệu mới / new database: {path}", file=sys.stderr)
        return Store(path)
    except sqlite3.Error as error:
        raise UsageError(f"cannot open the database {path}: {error}") from None


def _short(value: str | None) -> str:
    if value is None:
        return ""
    value = value.replace("\n", " ")
    return value if len(value) <= MAX_SHOWN else value[:MAX_SHOWN - 1] + "…"


def format_report(report: ImportReport) -> str:
    """The report as text: a summary, the rejected rows (vi, then en), and the outcome."""
    lines = [f"{TITLES[report.kind]}: {report.file_name}",
             f"sha256 {report.sha256}",
             f"Đã đọc / read: {report.rows_read} dòng / rows · tạo mới / create: "
             f"{report.would_create} · cập nhật / update: {report.would_update} · "
             f"không đổi / unchanged: {report.unchanged}"]
    if report.rejected:
        rows = [["Bảng / sheet", "Dòng / row", "Cột / column", "Giá trị / value",
                 "Lý do / reason"]]
        for item in report.rejected:
            rows.append([_short(item.sheet), "" if item.row is None else str(item.row),
                         _short(item.column), _short(item.value), item.vi])
            rows.append(["", "", "", "", item.en])
        lines += ["", table(rows), "",
                  f"TỪ CHỐI: {len(report.rejected)} lỗi, không ghi gì vào cơ sở dữ liệu / "
                  f"REJECTED: {len(report.rejected)} problems, nothing written"]
    elif report.dry_run:
        lines.append("Chạy thử: tệp hợp lệ, chưa ghi gì / dry run: the file is valid, nothing "
                     "written")
    elif report.would_create or report.would_update:
        lines.append(f"Đã nhập / imported (nhật ký kiểm toán / audit: "
                     f"import:{report.sha256[:12]})")
    else:
        lines.append("Không có gì thay đổi, không ghi gì / nothing to change, nothing written")
    return "\n".join(lines)


def cmd_import(args: argparse.Namespace) -> int:
    sources = read_sources(args.files)
    store = open_store(args.db, args.import_kind, args.dry_run)
    try:
        report = run_import(store, args.import_kind, sources, dry_run=args.dry_run,
                            actor=f"cli:{getpass.getuser()}")
    except sqlite3.Error as error:
        raise UsageError(f"database error, nothing imported: {error}") from None
    finally:
        store.close()
    if args.format == "json":
        print_json(report.to_dict())
    else:
        print(format_report(report))
    return 0 if report.ok else 1


def add_import_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add `import org FILE…` and `import tasks FILE`."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--dry-run", action="store_true",
                        help="check and report, write nothing")
    common.add_argument("--db", type=Path, default=Path("hailong.db"),
                        help="the collector's SQLite file (default: hailong.db)")
    common.add_argument("--format", choices=["text", "json"], default="text",
                        help="text (default) or the JSON report")
    parser = subparsers.add_parser(
        "import", help="import an organisation or task records from CSV or XLSX "
                       "(docs/import.md); a file with any bad row changes nothing")
    kinds = parser.add_subparsers(dest="import_kind", required=True, metavar="KIND")
    org = kinds.add_parser("org", parents=[common],
                           help="units, officers and counters: one XLSX workbook, or CSV "
                                "files named units/officers/counters")
    org.add_argument("files", type=Path, nargs="+", metavar="FILE")
    org.set_defaults(handler=cmd_import)
    tasks = kinds.add_parser("tasks", parents=[common],
                             help="task records of officers' work plans: CSV or XLSX")
    tasks.add_argument("files", type=Path, nargs=1, metavar="FILE")
    tasks.set_defaults(handler=cmd_import)
