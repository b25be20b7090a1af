"""Dashboard accounts: roles, argon2 hashes, tokens, audit entries, the `users` command."""

from __future__ import annotations

import io

import pytest
from argon2 import PasswordHasher

from collector.accounts import users as accounts
from collector.db import audit
from collector.accounts.users import AccountError, AccountNotFound, AccountService
from collector.cli.main import main

PASSWORD = "đúng-mật-khẩu-dài"


@pytest.fixture
def service(store):
    return AccountService(store, actor="test", clock=lambda: 1_800_000_000_000)


def test_an_account_logs_in_with_its_password_only(service):
    service.add("Thu.Huong", name="Nguyễn Thị Thu Hường", role="officer", password=PASSWORD,
                officer_id="HK-0001")
    user, rehash = accounts.verify_login(service.db, "THU.HUONG", PASSWORD)
    assert user.login == "thu.huong" and user.officer_id == "HK-0001" and rehash is None
    assert accounts.verify_login(service.db, "thu.huong", PASSWORD + "x") == (None, None)
    assert accounts.verify_login(service.db, "nobody", PASSWORD) == (None, None)
    stored = service.db.execute("SELECT password_hash FROM users").fetchone()[0]
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_an_outdated_hash_is_replaced_after_login(service):
    service.add("tech01", name="Kỹ thuật", role="technician", password=PASSWORD)
    weak = PasswordHasher(time_cost=1, memory_cost=8192).hash(PASSWORD)
    service.db.execute("UPDATE users SET password_hash = ?", [weak])
    user, rehash = accounts.verify_login(service.db, "tech01", PASSWORD)
    assert user is not None and rehash and rehash != weak
    service.rehash("tech01", rehash)
    assert accounts.verify_login(service.db, "tech01", PASSWORD)[1] is None


@pytest.mark.parametrize("kwargs, message", [
    ({"login": "ab"}, "3–40"),
    ({"login": "Bad Login"}, "3–40"),
    ({"role": "chairman"}, "role"),
    ({"password": "short"}, "10"),
    ({"password": "xx-headhk-xx"}, "login"),
    ({"role": "head", "officer_id": None}, "--officer"),
    ({"officer_id": "NOBODY"}, "NOBODY"),
    ({"unit_id": "nowhere"}, "nowhere"),
    ({"name": "  "}, "Name"),
    ({"name": "Chủ tịch\x1b[2J"}, "U\\+001B"),
    ({"name": "Chủ\ntịch"}, "U\\+000A"),
    ({"name": "x" * 101}, "100"),
])
def test_bad_accounts_are_refused_and_nothing_is_written(service, kwargs, message):
    fields = {"login": "headhk", "name": "Chủ tịch", "role": "head", "password": PASSWORD,
              "officer_id": "HK-0002", "unit_id": None, **kwargs}
    login = fields.pop("login")
    with pytest.raises(AccountError, match=message):
        service.add(login, **fields)
    assert service.db.execute("SELECT count(*) FROM users").fetchone()[0] == 0
    assert audit.head(service.db) is None


def test_a_login_and_an_officer_each_have_one_active_account(service):
    service.add("huong", name="Hường", role="officer", password=PASSWORD, officer_id="HK-0001")
    with pytest.raises(AccountError, match="taken"):
        service.add("HUONG", name="Khác", role="technician", password=PASSWORD)
    with pytest.raises(AccountError, match="already has an active account"):
        service.add("huong2", name="Hường", role="leader", password=PASSWORD,
                    officer_id="HK-0001")
    service.disable("huong")
    # Disabled: the officer may get a new account, the old login stays taken.
    service.add("huong2", name="Hường", role="leader", password=PASSWORD, officer_id="HK-0001")
    with pytest.raises(AccountError, match="taken"):
        service.add("huong", name="Hường", role="technician", password=PASSWORD)


def test_disable_locks_the_account_and_revokes_its_tokens(service):
    service.add("admin1", name="Quản trị", role="administrator", password=PASSWORD)
    token = service.issue_token("admin1", "báo cáo")
    assert accounts.user_for_token(service.db, token).login == "admin1"
    assert accounts.user_for_token(service.db, token + "x") is None
    service.disable("admin1")
    assert accounts.user_for_token(service.db, token) is None
    assert accounts.verify_login(service.db, "admin1", PASSWORD) == (None, None)
    with pytest.raises(AccountNotFound):
        service.set_password("admin1", PASSWORD + "!")
    with pytest.raises(AccountNotFound):
        service.disable("admin1")


def test_every_change_is_audited_without_secrets(service):
    service.add("admin1", name="Quản trị", role="administrator", password=PASSWORD)
    service.set_password("admin1", "một-mật-khẩu-mới")
    token = service.issue_token("admin1", "script")
    service.disable("admin1")
    entries = audit.recent(service.db, limit=None)
    assert sorted((e.id, e.action) for e in entries) == [
        (1, "user.add"), (2, "user.passwd"), (3, "user.token"), (4, "user.disable")]
    text = " ".join(e.before + e.after for e in entries)
    assert PASSWORD not in text and token not in text and "argon2" not in text
    assert audit.verify(service.db).ok


def test_users_command_adds_lists_and_disables(seeded_db, tmp_path, capsys, monkeypatch):
    secret = tmp_path / "pw"
    secret.write_text(PASSWORD + "\n", encoding="utf-8")
    db = ["--db", str(seeded_db)]
    assert main(["users", "add", "chutich.hk", "--name", "Chủ tịch phường", "--role", "head",
                 "--officer", "HK-0002", "--password-file", str(secret), *db]) == 0
    assert "chutich.hk" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("mật-khẩu-qua-stdin\n"))
    assert main(["users", "passwd", "chutich.hk", "--password-file", "-", *db]) == 0
    capsys.readouterr()
    assert main(["users", "list", *db]) == 0
    assert "chutich.hk" in capsys.readouterr().out
    assert main(["users", "disable", "chutich.hk", *db]) == 0
    capsys.readouterr()
    assert main(["users", "disable", "chutich.hk", *db]) == 2
    err = capsys.readouterr().err
    assert "No active account" in err and err.count("\n") == 1
    assert main(["users", "list", "--all", "--json", *db]) == 0
    assert '"disabled_at": ' in capsys.readouterr().out


def test_users_command_never_takes_a_password_without_a_terminal(seeded_db, capsys,
                                                                  monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["users", "add", "tech01", "--name", "KTV", "--role", "technician",
                 "--db", str(seeded_db)]) == 2
    assert "--password-file" in capsys.readouterr().err
