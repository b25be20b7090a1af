"""Accounts and API tokens for tests that call the API as someone."""

from __future__ import annotations

from pathlib import Path

from collector.accounts.users import AccountService, get_user
from collector.db.store import Store

PASSWORD = "test-password-long"


def officer_role(store: Store, officer_id: str) -> str:
    """The role an officer's account gets: head if they head a unit, leader if they lead
    someone, else officer."""
    db = store.db
    if db.execute("SELECT 1 FROM units WHERE head_id = ?", [officer_id]).fetchone():
        return "head"
    if db.execute("SELECT 1 FROM officers WHERE leader_id = ?", [officer_id]).fetchone():
        return "leader"
    return "officer"


def token_headers(db_path: Path, login: str, role: str | None = None, *,
                  officer: str | None = None, unit: str | None = None) -> dict[str, str]:
    """An `Authorization` header for `login`, creating the account on first use."""
    store = Store(db_path)
    try:
        service = AccountService(store, actor="test")
        if get_user(store.db, login) is None:
            role = role or officer_role(store, officer)
            service.add(login, name=login, role=role, password=PASSWORD, officer_id=officer,
                        unit_id=unit)
        token = service.issue_token(login, "test")
    finally:
        store.close()
    return {"Authorization": f"Bearer {token}"}


def admin_headers(db_path: Path) -> dict[str, str]:
    return token_headers(db_path, "admin", "administrator")


def as_officer(db_path: Path, officer_id: str, role: str | None = None) -> dict[str, str]:
    """Headers acting as the officer `officer_id` (their own account)."""
    return token_headers(db_path, "cb." + officer_id.lower(), role, officer=officer_id)
