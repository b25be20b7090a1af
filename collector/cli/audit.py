"""`hailong audit verify|list`: the audit log's face on the command line.

Both commands open the database read-only: checking the log must never change it. `verify`
exits 0 when the chain is intact and 1 naming the first broken entry; what the user can get
wrong (no database, a malformed anchor) is a `UsageError` (one line, exit 2). Wired into the
main parser with `add_audit_commands(subparsers)`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from collector.db import audit
from collector.cli.common import UsageError, open_database, print_json, table
from collector.org.registry import format_time

REASONS_VI = {
    "missing": "không có bảng nhật ký kiểm toán",
    "gap": "có mục bị xoá ngay trước mục này",
    "edited": "nội dung không khớp mã băm (đã bị sửa hoặc bị chuyển chỗ)",
    "unlinked": "liên kết không khớp mục liền trước (mục đó đã bị viết lại)",
    "truncated": "các mục cuối đã bị xoá",
    "anchor": "mã băm khác mốc đã ghi (nhật ký đã bị viết lại đến đây)",
}


def anchor_arg(text: str) -> tuple[int, str]:
    try:
        return audit.parse_anchor(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def cmd_verify(args: argparse.Namespace) -> int:
    with open_database(args.db) as db:
        result = audit.verify(db, anchor=args.anchor)
    if not result.ok:
        where = f"mục / entry #{result.broken_id}" if result.broken_id else "bảng / table"
        print(f"Nhật ký kiểm toán BỊ HỎNG / audit log BROKEN at {where}: "
              f"{REASONS_VI[result.reason]} / {result.detail}")
        print(f"{result.entries} mục trước đó hợp lệ / entries before it are intact")
        return 1
    if result.head is None:
        print("Nhật ký kiểm toán hợp lệ / audit log intact: 0 entries")
        return 0
    last_id, last_hash = result.head
    print(f"Nhật ký kiểm toán hợp lệ / audit log intact: {result.entries} entries, "
          f"last hash {last_hash}")
    if args.anchor is None:
        print("Ghi lại mốc này để phát hiện việc xoá các mục cuối / write this anchor down to "
              f"detect deletion of the last entries: --anchor {last_id}:{last_hash}")
    else:
        print(f"Khớp mốc / matches the anchor {args.anchor[0]}:{args.anchor[1]}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    with open_database(args.db) as db:
        if not db[audit.TABLE].exists():
            raise UsageError(f"no audit log in {args.db} (run `hailong audit verify`)")
        entries = audit.recent(db, args.limit)
    if args.json:
        print_json([entry.as_dict() for entry in entries])
        return 0
    if not entries:
        print("Nhật ký kiểm toán trống / the audit log is empty")
        return 0
    rows = [["#", "Thời điểm / at", "Người / actor", "Việc / action", "Đối tượng / subject"]]
    rows += [[str(e.id), format_time(e.at), e.actor, e.action, e.subject] for e in entries]
    print(table(rows))
    return 0


def positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return int(text)


def add_audit_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add `audit verify` and `audit list`."""
    database = argparse.ArgumentParser(add_help=False)
    database.add_argument("--db", type=Path, default=Path("hailong.db"),
                          help="the collector's SQLite file (default: hailong.db)")
    audit_parser = subparsers.add_parser(
        "audit", help="audit log of evaluations, roster changes and imports: verify, list")
    actions = audit_parser.add_subparsers(dest="audit_command", required=True,
                                          metavar="ACTION")

    verify = actions.add_parser("verify", parents=[database],
                                help="check the hash chain; exit 1 naming the first broken "
                                     "entry")
    verify.add_argument("--anchor", type=anchor_arg, default=None, metavar="ID:HASH",
                        help="an anchor printed by an earlier verify: also detects deletion "
                             "of the last entries and a rewritten log")
    verify.set_defaults(handler=cmd_verify)

    listing = actions.add_parser("list", parents=[database], help="the latest entries")
    listing.add_argument("--limit", type=positive_int, default=20, metavar="N",
                         help="how many, newest first (default 20)")
    listing.add_argument("--json", action="store_true",
                         help="print JSON, with before and after, instead of text")
    listing.set_defaults(handler=cmd_list)
