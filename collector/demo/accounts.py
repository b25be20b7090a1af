"""The demo's accounts: one per role, all with one password printed when the demo starts.

A demo convenience only: `hailong serve` never creates accounts (use `hailong users add`).
Idempotent: an account that exists is left as it is.
"""

from __future__ import annotations

from collector.accounts.users import AccountService, get_user
from collector.db.store import Store

DEMO_PASSWORD = "hailong-demo-2026"

# (login, name, role, officer, unit scope); the people are the seed's (collector/demo/seed.py).
ACCOUNTS = [
    ("quantri", "Quản trị viên hệ thống", "administrator", None, None),
    ("kythuat", "Kỹ thuật viên", "technician", None, None),
    ("chutich.hn", "Phan Quang Huy", "head", "HN-0001", None),
    ("chutich.hk", "Ngô Thanh Sơn", "head", "HK-0100", None),
    ("lanhdao.hk", "Đặng Thị Mai Lan", "leader", "HK-0101", None),
    ("canbo.hk1", "Nguyễn Thị Thu Hường", "officer", "HK-0001", None),
    ("chutich.bd", "Lương Văn Khánh", "head", "BD-0100", None),
]


def seed_accounts(store: Store) -> list[tuple[str, str, str]]:
    """Create the demo accounts that are missing; return (login, role, name) of all."""
    service = AccountService(store, actor="demo")
    for login, name, role, officer, unit in ACCOUNTS:
        if get_user(store.db, login) is None:
            service.add(login, name=name, role=role, password=DEMO_PASSWORD,
                        officer_id=officer, unit_id=unit)
    return [(login, role, name) for login, name, role, _, _ in ACCOUNTS]
