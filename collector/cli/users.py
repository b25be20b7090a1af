"""`hailong users add|passwd|disable|list|token|sessions|logout`: dashboard accounts on the
command line.

A password is never an argument (it would show in `ps` and the shell history): it is asked
twice on a terminal, or read from the first line of `--password-file` (use `-` for standard
input, for scripts). Wired into the main parser with `add_user_commands(subparsers)`.
"""

from __future__ import annotations

import argparse
import getpass
import sqlite3
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from collector.accounts.users import (
    ROLE_LABELS,
    ROLES,
    AccountError,
    AccountService,
    list_sessions,
    list_users,
    normal_login,
)
from collector.cli.common import UsageError, print_json, table
from collector.org.registry import format_time
from collector.db.store import Store, now_ms


@contextmanager
def open_accounts(path: Path) -> Iterator[AccountService]:
    if not path.exists():
        raise UsageError(f"no database at {path}; give the collector's database with --db PATH")
    try:
        store = Store(path)
    except sqlite3.Error as error:
        raise UsageError(f"cannot open the database {path}: {error}") from None
    try:
        yield AccountService(store, actor=f"cli:{getpass.getuser()}")
    except AccountError as error:
        raise UsageError(str(error)) from None
    finally:
        store.close()


def read_password(source: Path | None) -> str:
    if source is not None:
        try:
            text = sys.stdin.read() if str(source) == "-" else source.read_text(encoding="utf-8")
        except OSError as error:
            raise UsageError(f"cannot read the password file: {error.strerror}") from None
        return text.splitlines()[0] if text else ""
    if not sys.stdin.isatty():
        raise UsageError("no terminal to ask the password on; use --password-file FILE (or -)")
    first = getpass.getpass("Mật khẩu / Password: ")
    if first != getpass.getpass("Nhập lại / Again: "):
        raise UsageError("the two passwords differ / hai mật khẩu không khớp")
    return first


def cmd_add(args: argparse.Namespace) -> int:
    password = read_password(args.password_file)
    with open_accounts(args.db) as accounts:
        user = accounts.add(args.login, name=args.name, role=args.role, password=password,
                            officer_id=args.officer, unit_id=args.unit)
    vi, en = ROLE_LABELS[user.role]
    print(f"Đã tạo tài khoản / account created: {user.login} ({vi} / {en})")
    return 0


def cmd_passwd(args: argparse.Namespace) -> int:
    password = read_password(args.password_file)
    with open_accounts(args.db) as accounts:
        accounts.set_password(args.login, password)
    print(f"Đã đổi mật khẩu / password changed: {args.login}")
    return 0


def cmd_disable(args: argparse.Namespace) -> int:
    with open_accounts(args.db) as accounts:
        accounts.disable(args.login)
    print(f"Đã khoá tài khoản / account disabled: {args.login}")
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    with open_accounts(args.db) as accounts:
        token = accounts.issue_token(args.login, args.label)
    print(token)
    print("Mã này chỉ hiện MỘT LẦN / this token is shown ONCE: "
          "Authorization: Bearer <token>", file=sys.stderr)
    return 0


def cmd_sessions(args: argparse.Namespace) -> int:
    with open_accounts(args.db) as accounts:
        sessions = list_sessions(accounts.db, normal_login(args.login), now_ms())
    if args.json:
        print_json(sessions)
        return 0
    rows = [["#", "Đăng nhập lúc / since", "Dùng gần nhất / last seen", "Hết hạn / expires"]]
    rows += [[str(s["id"]), format_time(s["created_at"]), format_time(s["last_seen_at"]),
              format_time(s["expires_at"])] for s in sessions]
    print(table(rows))
    return 0


def cmd_logout(args: argparse.Namespace) -> int:
    with open_accounts(args.db) as accounts:
        ended = accounts.end_sessions(args.login)
    print(f"Đã kết thúc {ended} phiên đăng nhập / {ended} session(s) ended: {args.login}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    with open_accounts(args.db) as accounts:
        users = list_users(accounts.db, include_disabled=args.all)
    if args.json:
        print_json(users)
        return 0
    rows = [["Tên đăng nhập / login", "Họ tên / name", "Vai trò / role", "Cán bộ / officer",
             "Đơn vị / unit", "Trạng thái / state"]]
    for user in users:
        state = ("khoá / disabled " + format_time(user["disabled_at"])
                 if user["disabled_at"] else "hoạt động / active")
        rows.append([user["login"], user["name"], user["role"], user["officer_id"] or "",
                     user["unit_id"] or "", state])
    print(table(rows))
    return 0


def add_user_commands(subparsers: argparse._SubParsersAction) -> None:
    database = argparse.ArgumentParser(add_help=False)
    database.add_argument("--db", type=Path, default=Path("hailong.db"),
                          help="the collector's SQLite file (default: hailong.db)")
    secret = argparse.ArgumentParser(add_help=False)
    secret.add_argument("--password-file", type=Path, metavar="FILE",
                        help="read the password from FILE's first line (- for stdin) "
                             "instead of asking")
    users = subparsers.add_parser("users", help="dashboard accounts: add, passwd, disable, "
                                                "list, token, sessions, logout")
    actions = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")

    add = actions.add_parser("add", parents=[database, secret], help="create an account")
    add.add_argument("login", help="3–40 characters: a-z 0-9 . _ -")
    add.add_argument("--name", required=True, help="the person's full name")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--officer", metavar="CODE",
                     help="the officer record (required for officer, leader and head)")
    add.add_argument("--unit", metavar="UNIT_ID",
                     help="limit a technician or administrator to this unit and below")
    add.set_defaults(handler=cmd_add)

    passwd = actions.add_parser("passwd", parents=[database, secret], help="set a new password")
    passwd.add_argument("login")
    passwd.set_defaults(handler=cmd_passwd)

    disable = actions.add_parser("disable", parents=[database],
                                 help="lock an account for good, revoke its tokens and "
                                      "end its sessions")
    disable.add_argument("login")
    disable.set_defaults(handler=cmd_disable)

    token = actions.add_parser("token", parents=[database],
                               help="issue an API token for scripts (printed once)")
    token.add_argument("login")
    token.add_argument("--label", default="script", help="what the token is for")
    token.set_defaults(handler=cmd_token)

    sessions = actions.add_parser("sessions", parents=[database],
                                  help="the account's live login sessions")
    sessions.add_argument("login")
    sessions.add_argument("--json", action="store_true", help="print JSON")
    sessions.set_defaults(handler=cmd_sessions)

    logout = actions.add_parser("logout", parents=[database],
                                help="end every login session of the account (audited)")
    logout.add_argument("login")
    logout.set_defaults(handler=cmd_logout)

    listing = actions.add_parser("list", parents=[database], help="list accounts")
    listing.add_argument("--all", action="store_true", help="include disabled accounts")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=cmd_list)
