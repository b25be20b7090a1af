"""Dashboard accounts: roles, argon2 password hashes, API tokens, with audit entries.

Roles (glossary-vi.md): officer (cán bộ), leader (lãnh đạo trực tiếp), head (thủ trưởng),
technician (kỹ thuật viên), administrator (quản trị viên). An officer, leader or head account
is linked to their organisation record: what they may see and do follows from it (their unit,
the people they lead, the units they head — collector/accounts/permissions.py). A technician or an
administrator may be scoped to a unit subtree or to everything.

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's second recommended
profile); a hash made with older parameters is replaced on the next successful login. Logins
are compared case-insensitively (stored lower-case). Verification of an unknown login still
runs one hash so that timing does not tell which logins exist.

API tokens are random 32-byte URL-safe strings shown once; only their SHA-256 is stored
(a token is high-entropy, so a fast hash is enough, and lookup by hash stays an index hit).

Login sessions are recorded the same way (table `login_sessions`, the SHA-256 of the id the
signed cookie carries): a session is valid while its row is neither revoked nor expired.
Logging out revokes one; a new password or a disabled account revokes all of the account's
sessions in the same transaction. A new password leaves API tokens alone (a script's token is
not a browser's login); disabling revokes them too.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable

import sqlite_utils
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from collector.db import audit
from collector.core.errors import BilingualError
from collector.db.store import Store, now_ms, write_transaction
from collector.core.texts import checked_text

ROLES = ("officer", "leader", "head", "technician", "administrator")
ROLE_LABELS = {
    "officer": ("Cán bộ", "Officer"),
    "leader": ("Lãnh đạo trực tiếp", "Leader"),
    "head": ("Thủ trưởng đơn vị", "Head of unit"),
    "technician": ("Kỹ thuật viên", "Technician"),
    "administrator": ("Quản trị viên", "Administrator"),
}
# These roles act as a person of the organisation and need that person's record.
PERSON_ROLES = ("officer", "leader", "head")
LOGIN_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{2,39}\Z")
MIN_PASSWORD = 10
MAX_PASSWORD = 200
MAX_NAME = 100
SESSION_KEEP_MS = 90 * 86_400_000  # how long an ended login session stays listed

_hasher = PasswordHasher()


@lru_cache(maxsize=1)
def dummy_hash() -> str:
    """Verified against when the login does not exist, so both paths cost one argon2 run.
    Made on first use, not at import: every `hailong` command imports this module and most
    never check a password (an argon2 run is 0.2–1 s here). The web app makes it at start
    (collector/app.py), so no login attempt pays for it."""
    return _hasher.hash(secrets.token_urlsafe(16))


class AccountError(BilingualError):
    """An account request that cannot be done; `vi` and `en` say why."""


class AccountNotFound(AccountError):
    pass


@dataclass(frozen=True)
class User:
    login: str
    name: str
    role: str
    officer_id: str | None
    unit_id: str | None

    def as_dict(self) -> dict[str, Any]:
        vi, en = ROLE_LABELS[self.role]
        return {"login": self.login, "name": self.name, "role": self.role, "role_vi": vi,
                "role_en": en, "officer_id": self.officer_id, "unit_id": self.unit_id}


def normal_login(login: Any) -> str:
    if not isinstance(login, str) or not LOGIN_PATTERN.match(login.strip().lower()):
        raise AccountError(
            "Tên đăng nhập gồm 3–40 ký tự: chữ không dấu, số, dấu chấm, gạch ngang, gạch dưới",
            "A login is 3–40 characters: unaccented letters, digits, dot, hyphen, underscore")
    return login.strip().lower()


def check_password(password: Any, login: str) -> str:
    """The password if it is acceptable; AccountError says what is wrong.

    Length is what makes a password strong (NIST SP 800-63B): at least MIN_PASSWORD
    characters, no composition rules, but never the login itself.
    """
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise AccountError(f"Mật khẩu cần từ {MIN_PASSWORD} đến {MAX_PASSWORD} ký tự",
                           f"A password needs {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    if login in password.lower():
        raise AccountError("Mật khẩu không được chứa tên đăng nhập",
                           "A password must not contain the login")
    return password


def _user(row: Any) -> User:
    return User(login=row[0], name=row[1], role=row[2], officer_id=row[3], unit_id=row[4])


_USER_COLUMNS = "login, name, role, officer_id, unit_id"


def get_user(db: sqlite_utils.Database, login: str) -> User | None:
    """An active account by login (any case), or None."""
    row = db.execute(f"SELECT {_USER_COLUMNS} FROM users WHERE login = ? AND disabled_at IS NULL",
                     [str(login).strip().lower()]).fetchone()
    return _user(row) if row else None


def list_users(db: sqlite_utils.Database, *, include_disabled: bool = False) -> list[dict]:
    where = "" if include_disabled else "WHERE disabled_at IS NULL "
    return [dict(row) for row in db.query(
        f"SELECT {_USER_COLUMNS}, created_at, password_changed_at, disabled_at FROM users "
        f"{where}ORDER BY login")]


def user_for_token(db: sqlite_utils.Database, token: str) -> User | None:
    digest = hashlib.sha256(token.encode("utf-8")).hexdigest()
    row = db.execute(
        f"SELECT {', '.join('u.' + c for c in _USER_COLUMNS.split(', '))} FROM api_tokens t "
        "JOIN users u ON u.login = t.login WHERE t.token_sha256 = ? AND t.revoked_at IS NULL "
        "AND u.disabled_at IS NULL", [digest]).fetchone()
    return _user(row) if row else None


def _sid_digest(sid: str) -> str:
    return hashlib.sha256(sid.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SessionRecord:
    login: str
    last_seen_at: int
    password_changed_at: int


def session_record(db: sqlite_utils.Database, sid: str, now: int) -> SessionRecord | None:
    """The live session `sid` names (not revoked, not expired, its account active), or None."""
    row = db.execute(
        "SELECT s.login, s.last_seen_at, u.password_changed_at FROM login_sessions s "
        "JOIN users u ON u.login = s.login WHERE s.sid_sha256 = ? AND s.revoked_at IS NULL "
        "AND s.expires_at > ? AND u.disabled_at IS NULL", [_sid_digest(sid), now]).fetchone()
    return SessionRecord(*row) if row else None


def list_sessions(db: sqlite_utils.Database, login: str, now: int) -> list[dict]:
    """The account's sessions still live, newest first (never the id itself)."""
    return [dict(row) for row in db.query(
        "SELECT id, created_at, last_seen_at, expires_at FROM login_sessions WHERE login = ? "
        "AND revoked_at IS NULL AND expires_at > ? ORDER BY id DESC", [login, now])]


def verify_login(db: sqlite_utils.Database, login: str,
                 password: str) -> tuple[User | None, str | None]:
    """(user, new hash to store if the old one's parameters are outdated) or (None, None)."""
    try:
        login = normal_login(login)
    except AccountError:
        login = ""
    row = db.execute("SELECT password_hash FROM users WHERE login = ? AND disabled_at IS NULL",
                     [login]).fetchone()
    stored = row[0] if row else dummy_hash()
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None, None
    if row is None:
        return None, None
    rehash = _hasher.hash(password) if _hasher.check_needs_rehash(stored) else None
    return get_user(db, login), rehash


class AccountService:
    """Account writes on one `Store`, each with its audit entry."""

    def __init__(self, store: Store, *, actor: str, clock: Callable[[], int] = now_ms):
        self.store = store
        self.db = store.db
        self.actor = actor
        self.clock = clock

    def _audit(self, action: str, login: str, before: Any, after: Any, at: int) -> None:
        audit.append(self.db, actor=self.actor, action=action, subject=f"user:{login}",
                     before=before, after=after, at=at)

    def _exists(self, table: str, key: str | None) -> bool:
        return key is None or self.db.execute(f"SELECT 1 FROM [{table}] WHERE id = ?",
                                              [key]).fetchone() is not None

    def add(self, login: str, *, name: str, role: str, password: str,
            officer_id: str | None = None, unit_id: str | None = None) -> User:
        login = normal_login(login)
        name = checked_text(name, "name", MAX_NAME, AccountError,
                            missing=("Họ tên không được để trống", "Name must not be empty"))
        if role not in ROLES:
            raise AccountError(f"Vai trò phải là một trong: {', '.join(ROLES)}",
                               f"The role must be one of: {', '.join(ROLES)}")
        if role in PERSON_ROLES and officer_id is None:
            raise AccountError(f"Vai trò {role} cần mã cán bộ (--officer)",
                               f"The {role} role needs the officer's code (--officer)")
        if not self._exists("officers", officer_id):
            raise AccountNotFound(f"Không tìm thấy cán bộ {officer_id!r}",
                                  f"No officer {officer_id!r}")
        if not self._exists("units", unit_id):
            raise AccountNotFound(f"Không tìm thấy đơn vị {unit_id!r}", f"No unit {unit_id!r}")
        password_hash = _hasher.hash(check_password(password, login))
        at = self.clock()
        after = {"name": name, "role": role, "officer_id": officer_id, "unit_id": unit_id}
        with write_transaction(self.db):
            if self.db.execute("SELECT 1 FROM users WHERE login = ?", [login]).fetchone():
                raise AccountError(f"Tên đăng nhập {login!r} đã có (kể cả tài khoản đã khoá)",
                                   f"The login {login!r} is taken (disabled accounts count)")
            if officer_id is not None and self.db.execute(
                    "SELECT 1 FROM users WHERE officer_id = ? AND disabled_at IS NULL",
                    [officer_id]).fetchone():
                raise AccountError(f"Cán bộ {officer_id} đã có tài khoản đang hoạt động",
                                   f"Officer {officer_id} already has an active account")
            self.db.execute(
                "INSERT INTO users (login, name, role, officer_id, unit_id, password_hash, "
                "created_at, password_changed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [login, name, role, officer_id, unit_id, password_hash, at, at])
            self._audit("user.add", login, None, after, at)
        return User(login, name, role, officer_id, unit_id)

    def set_password(self, login: str, password: str) -> None:
        login = normal_login(login)
        password_hash = _hasher.hash(check_password(password, login))
        at = self.clock()
        with write_transaction(self.db):
            changed = self.db.execute(
                "UPDATE users SET password_hash = ?, password_changed_at = ? WHERE login = ? "
                "AND disabled_at IS NULL", [password_hash, at, login])
            if changed.rowcount != 1:
                raise AccountNotFound(f"Không có tài khoản đang hoạt động {login!r}",
                                      f"No active account {login!r}")
            ended = self._revoke_sessions(login, at)
            # The hash itself never enters the log: only that it changed.
            self._audit("user.passwd", login, None, {"password_changed_at": at,
                                                     "sessions_ended": ended}, at)

    def rehash(self, login: str, password_hash: str) -> None:
        """Store a stronger hash of the same password after a login (not audited: no change
        of who can log in)."""
        with write_transaction(self.db):
            self.db.execute("UPDATE users SET password_hash = ? WHERE login = ?",
                            [password_hash, login])

    def disable(self, login: str) -> None:
        """Lock an account for good (its login stays taken) and revoke its tokens."""
        login = normal_login(login)
        at = self.clock()
        with write_transaction(self.db):
            changed = self.db.execute("UPDATE users SET disabled_at = ? WHERE login = ? "
                                      "AND disabled_at IS NULL", [at, login])
            if changed.rowcount != 1:
                raise AccountNotFound(f"Không có tài khoản đang hoạt động {login!r}",
                                      f"No active account {login!r}")
            self.db.execute("UPDATE api_tokens SET revoked_at = ? WHERE login = ? "
                            "AND revoked_at IS NULL", [at, login])
            ended = self._revoke_sessions(login, at)
            self._audit("user.disable", login, {"disabled_at": None},
                        {"disabled_at": at, "sessions_ended": ended}, at)

    def _revoke_sessions(self, login: str, at: int) -> int:
        return self.db.execute("UPDATE login_sessions SET revoked_at = ? WHERE login = ? "
                               "AND revoked_at IS NULL", [at, login]).rowcount

    def open_session(self, login: str, sid: str, max_age_ms: int) -> None:
        """Record a session that has just logged in (not audited: the login is not a change
        to any account)."""
        at = self.clock()
        with write_transaction(self.db):
            self.db.execute("INSERT INTO login_sessions (sid_sha256, login, created_at, "
                            "last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                            [_sid_digest(sid), login, at, at, at + max_age_ms])
            # Bounded table: sessions over for SESSION_KEEP_MS say nothing any more.
            self.db.execute("DELETE FROM login_sessions WHERE expires_at < ? AND "
                            "(revoked_at IS NULL OR revoked_at < ?)",
                            [at - SESSION_KEEP_MS, at - SESSION_KEEP_MS])

    def close_session(self, sid: str) -> bool:
        """Log out: revoke the session; False when it had already ended."""
        with write_transaction(self.db):
            return self.db.execute("UPDATE login_sessions SET revoked_at = ? WHERE "
                                   "sid_sha256 = ? AND revoked_at IS NULL",
                                   [self.clock(), _sid_digest(sid)]).rowcount == 1

    def touch_session(self, sid: str) -> None:
        with write_transaction(self.db):
            self.db.execute("UPDATE login_sessions SET last_seen_at = ? WHERE sid_sha256 = ?",
                            [self.clock(), _sid_digest(sid)])

    def end_sessions(self, login: str) -> int:
        """Log the account out everywhere (audited); the number of sessions ended."""
        login = normal_login(login)
        at = self.clock()
        with write_transaction(self.db):
            ended = self._revoke_sessions(login, at)
            self._audit("user.logout_all", login, None, {"sessions_ended": ended}, at)
        return ended

    def issue_token(self, login: str, label: str) -> str:
        """A new API token for `login`, returned once; only its SHA-256 is stored."""
        login = normal_login(login)
        label = unicodedata.normalize("NFC", str(label).strip())[:80] or "token"
        token = secrets.token_urlsafe(32)
        digest = hashlib.sha256(token.encode("utf-8")).hexdigest()
        at = self.clock()
        with write_transaction(self.db):
            if get_user(self.db, login) is None:
                raise AccountNotFound(f"Không có tài khoản đang hoạt động {login!r}",
                                      f"No active account {login!r}")
            cursor = self.db.execute("INSERT INTO api_tokens (login, token_sha256, label, "
                                     "created_at) VALUES (?, ?, ?, ?)",
                                     [login, digest, label, at])
            self._audit("user.token", login, None, {"token_id": cursor.lastrowid,
                                                    "label": label}, at)
        return token
