"""The audit log: the chain, every kind of tampering found at its entry, CLI exit codes."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlite_utils
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.db import audit
from collector.cli.common import UsageError
from collector.cli.audit import add_audit_commands
from collector.db.store import Store, connect, migrate

T0 = 1_764_000_000_000


@pytest.fixture
def db():
    db = sqlite_utils.Database(memory=True)
    migrate(db)
    yield db
    db.conn.close()


def fill(db, n):
    return [audit.append(db, actor=f"cli:user{i % 3}", action="roster.change",
                         subject=f"device:kiosk-hk-0{i % 4 + 1}",
                         before={"officer": f"HK-000{i}"}, after={"officer": f"HK-000{i + 1}"},
                         at=T0 + i * 1000) for i in range(1, n + 1)]


def tamper(db, sql, params=()):
    """What someone with the database file can do: drop the append-only triggers, then edit."""
    db.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
    db.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    with db.atomic():
        db.execute(sql, list(params))


def row(db, entry_id):
    return dict(next(db.query("SELECT * FROM audit_log WHERE id = ?", [entry_id])))


# --- the chain ---------------------------------------------------------------------------

def test_appending_builds_a_chain_from_64_zeros(db):
    entries = fill(db, 3)
    assert [e.id for e in entries] == [1, 2, 3]
    assert entries[0].prev_hash == "0" * 64
    assert [e.prev_hash for e in entries[1:]] == [e.hash for e in entries[:-1]]
    result = audit.verify(db)
    assert result.ok and result.entries == 3 and result.head == (3, entries[-1].hash)
    assert audit.head(db) == (3, entries[-1].hash)


def test_the_hash_is_sha256_of_a_documented_serialisation(db):
    """Written out, so that anyone can re-check an entry with nothing but sha256."""
    entry = audit.append(db, actor="cli:lan", action="evaluation.review",
                         subject="officer:HK-0001/2026-11", before=None,
                         after={"điểm": 92, "grade": "A"}, at=T0)
    assert (entry.before, entry.after) == ("null", '{"grade":"A","điểm":92}')
    text = ('["hailong-audit-1",1,1764000000000,"cli:lan","evaluation.review",'
            '"officer:HK-0001/2026-11","null","{\\"grade\\":\\"A\\",\\"điểm\\":92}",'
            '"' + "0" * 64 + '"]')
    assert entry.hash == hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert row(db, 1)["hash"] == entry.hash


def test_before_and_after_are_canonical_json(db):
    one = audit.append(db, actor="system", action="import.organisation", subject="unit:hk",
                       before={"b": [1, 2], "a": "Hoàn Kiếm"}, after={"a": 1.5}, at=T0)
    assert one.before == '{"a":"Hoàn Kiếm","b":[1,2]}'
    assert one.before_value == {"a": "Hoàn Kiếm", "b": [1, 2]} and one.after_value == {"a": 1.5}


def test_an_empty_log_verifies(db):
    result = audit.verify(db)
    assert result.ok and result.entries == 0 and result.head is None
    assert audit.head(db) is None


@pytest.mark.parametrize("bad", [
    {"actor": ""}, {"action": "  "}, {"subject": None}, {"at": -1}, {"at": True},
    {"before": float("nan")}, {"after": {1, 2}}, {"after": "\ud800"}, {"actor": "\udc00"},
])
def test_bad_entries_are_refused_and_nothing_is_written(db, bad):
    fields = {"actor": "system", "action": "device.retire", "subject": "device:kiosk-hk-01",
              "before": None, "after": None, "at": T0} | bad
    with pytest.raises(audit.AuditError):
        audit.append(db, **fields)
    assert audit.head(db) is None


def test_the_table_refuses_update_and_delete(db):
    fill(db, 2)
    for sql in ("UPDATE audit_log SET actor = 'x' WHERE id = 1", "DELETE FROM audit_log"):
        with pytest.raises(Exception, match="append-only"):
            db.execute(sql)
    assert audit.verify(db).ok


# --- transactions ------------------------------------------------------------------------

def test_a_rolled_back_change_leaves_no_audit_entry(db):
    fill(db, 1)
    with pytest.raises(RuntimeError), db.atomic():
        db.execute("INSERT INTO units(id, name) VALUES ('hk', 'Hoàn Kiếm')")
        audit.append(db, actor="system", action="import.organisation", subject="unit:hk",
                     before=None, after={"name": "Hoàn Kiếm"})
        raise RuntimeError("import failed half way")
    assert db.execute("SELECT count(*) FROM units").fetchone()[0] == 0
    assert audit.head(db)[0] == 1
    assert audit.append(db, actor="system", action="x.y", subject="s", before=None,
                        after=None).id == 2
    assert audit.verify(db).ok


def test_an_entry_commits_with_the_change_it_records(tmp_path):
    store = Store(tmp_path / "h.db")
    with store.db.atomic():
        store.db.execute("INSERT INTO units(id, name) VALUES ('hk', 'Hoàn Kiếm')")
        audit.append(store.db, actor="cli:lan", action="import.organisation", subject="unit:hk",
                     before=None, after={"name": "Hoàn Kiếm"})
    store.close()
    reader = connect(tmp_path / "h.db", readonly=True)
    assert reader.execute("SELECT count(*) FROM units").fetchone()[0] == 1
    assert audit.verify(reader).entries == 1
    reader.conn.close()


def test_concurrent_writers_keep_one_chain(tmp_path):
    path = tmp_path / "h.db"
    Store(path).close()

    def writer(name):
        db = connect(path)
        try:
            for i in range(40):
                audit.append(db, actor=f"cli:{name}", action="roster.change",
                             subject=f"n:{i}", before=i, after=i + 1)
        finally:
            db.conn.close()

    with ThreadPoolExecutor(3) as pool:
        for done in [pool.submit(writer, name) for name in "abc"]:
            done.result(timeout=30)  # re-raises a writer's error here
    db = connect(path, readonly=True)
    result = audit.verify(db)
    db.conn.close()
    assert result.ok and result.entries == 120


# --- tampering ---------------------------------------------------------------------------

EDITS = {
    "at": "at = at + 1",
    "actor": "actor = 'cli:someone-else'",
    "action": "action = 'evaluation.approve'",
    "subject": "subject = 'officer:HK-0009/2026-11'",
    "before": """before = '{"officer":"HK-0042"}'""",
    "after": "after = 'null'",
    "prev_hash": "prev_hash = '" + "f" * 64 + "'",
    "hash": "hash = '" + "e" * 64 + "'",
}


@pytest.mark.parametrize("field", sorted(EDITS))
@pytest.mark.parametrize("target", [1, 3, 5])
def test_editing_any_field_of_any_entry_is_found_at_that_entry(db, field, target):
    fill(db, 5)
    tamper(db, f"UPDATE audit_log SET {EDITS[field]} WHERE id = ?", [target])
    result = audit.verify(db)
    assert (result.broken_id, result.reason) == (target, "edited")
    assert result.entries == target - 1


def test_rewriting_an_entry_with_a_fresh_hash_is_found_at_the_next(db):
    fill(db, 4)
    old = audit.AuditEntry(**row(db, 2))
    fields = {k: v for k, v in row(db, 2).items() if k != "hash"} | {"actor": "cli:forger"}
    tamper(db, "UPDATE audit_log SET actor = ?, hash = ? WHERE id = 2",
           ["cli:forger", audit.entry_hash(**fields)])
    result = audit.verify(db)
    assert (result.broken_id, result.reason) == (3, "unlinked")
    assert result.head == (2, row(db, 2)["hash"]) != (2, old.hash)


@pytest.mark.parametrize("deleted, broken", [(3, 4), (1, 2), ([2, 3], 4)])
def test_deleting_entries_is_found_at_the_gap(db, deleted, broken):
    fill(db, 5)
    ids = deleted if isinstance(deleted, list) else [deleted]
    tamper(db, f"DELETE FROM audit_log WHERE id IN ({','.join('?' * len(ids))})", ids)
    result = audit.verify(db)
    assert (result.broken_id, result.reason) == (broken, "gap")
    assert str(ids[0]) in result.detail


def test_deleting_the_first_entry_and_renumbering_is_found(db):
    fill(db, 3)
    tamper(db, "DELETE FROM audit_log WHERE id = 1")
    tamper(db, "UPDATE audit_log SET id = id - 1")
    result = audit.verify(db)
    assert (result.broken_id, result.reason) == (1, "edited")


def test_swapping_two_entries_is_found_at_the_first(db):
    fill(db, 5)
    two, four = row(db, 2), row(db, 4)
    tamper(db, "DELETE FROM audit_log WHERE id IN (2, 4)")
    for target, source in ((2, four), (4, two)):
        db["audit_log"].insert(source | {"id": target})
    result = audit.verify(db)
    assert (result.broken_id, result.reason) == (2, "edited")


def test_truncating_the_tail_is_found_by_sqlite_sequence(db):
    fill(db, 5)
    tamper(db, "DELETE FROM audit_log WHERE id >= 4")
    result = audit.verify(db)
    assert (result.broken_id, result.reason, result.entries) == (4, "truncated", 3)
    # and the next append does not paper over it: the gap stays visible
    audit.append(db, actor="system", action="x.y", subject="s", before=None, after=None)
    assert (audit.verify(db).broken_id, audit.verify(db).reason) == (6, "gap")


def test_truncating_the_tail_is_found_by_an_anchor_when_the_sequence_is_edited_too(db):
    fill(db, 5)
    anchor = audit.head(db)
    tamper(db, "DELETE FROM audit_log WHERE id >= 4")
    tamper(db, "UPDATE sqlite_sequence SET seq = 3 WHERE name = 'audit_log'")
    assert audit.verify(db).ok  # what cannot be seen without an anchor
    result = audit.verify(db, anchor=anchor)
    assert (result.broken_id, result.reason) == (4, "truncated")
    assert "4 to 5" in result.detail


def test_an_anchor_catches_a_rewritten_log(db):
    fill(db, 3)
    anchor = audit.head(db)
    tamper(db, "DELETE FROM audit_log")
    tamper(db, "DELETE FROM sqlite_sequence WHERE name = 'audit_log'")
    for i in range(4):  # a forged history, its hashes all fresh and consistent
        audit.append(db, actor="cli:forger", action="roster.change", subject=f"n:{i}",
                     before=None, after=None, at=T0)
    assert audit.verify(db).ok
    result = audit.verify(db, anchor=anchor)
    assert (result.broken_id, result.reason) == (3, "anchor")
    assert audit.verify(db, anchor=audit.head(db)).ok


def test_a_dropped_table_is_broken(db):
    fill(db, 1)
    tamper(db, "DROP TABLE audit_log")
    assert audit.verify(db).reason == "missing"


# --- properties --------------------------------------------------------------------------

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12).filter(
    str.strip)
JSON = st.recursive(st.none() | st.booleans() | st.integers() | TEXT
                    | st.floats(allow_nan=False, allow_infinity=False),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(TEXT, inner, max_size=3), max_leaves=6)
ENTRY = st.fixed_dictionaries({"actor": TEXT, "action": TEXT, "subject": TEXT, "before": JSON,
                               "after": JSON, "at": st.integers(0, 2**63 - 1)})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ENTRY, max_size=8))
def test_any_sequence_of_appends_verifies_and_round_trips(entries):
    db = sqlite_utils.Database(memory=True)
    migrate(db)
    for fields in entries:
        audit.append(db, **fields)
    result = audit.verify(db)
    assert result.ok and result.entries == len(entries)
    stored = list(reversed(audit.recent(db, None)))
    assert [(e.actor, e.before_value, e.after_value) for e in stored] == [
        (f["actor"], json.loads(json.dumps(f["before"])), json.loads(json.dumps(f["after"])))
        for f in entries]


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 6), data=st.data())
def test_any_single_edit_is_found_at_its_entry(n, data):
    db = sqlite_utils.Database(memory=True)
    migrate(db)
    fill(db, n)
    target = data.draw(st.integers(1, n))
    field = data.draw(st.sampled_from(sorted(EDITS)))
    tamper(db, f"UPDATE audit_log SET {EDITS[field]} WHERE id = ?", [target])
    assert audit.verify(db).broken_id == target


# --- command line ------------------------------------------------------------------------

def run(argv, capsys):
    """`hailong audit …` as collector.cli.main.main runs it: UsageError is one line, exit 2."""
    parser = argparse.ArgumentParser(prog="hailong")
    add_audit_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        code = args.handler(args)
    except UsageError as error:
        print(f"hailong {args.command}: {error}", file=sys.stderr)
        code = 2
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def db_file(tmp_path):
    path = tmp_path / "hailong.db"
    store = Store(path)
    fill(store.db, 3)
    store.close()
    return path


def test_cli_verify_intact_prints_count_hash_and_anchor(db_file, capsys):
    code, out, _ = run(["audit", "verify", "--db", str(db_file)], capsys)
    db = connect(db_file, readonly=True)
    last_id, last_hash = audit.head(db)
    db.conn.close()
    assert code == 0
    assert f"Nhật ký kiểm toán hợp lệ / audit log intact: 3 entries, last hash {last_hash}" in out
    assert f"--anchor {last_id}:{last_hash}" in out
    code, out, _ = run(["audit", "verify", "--db", str(db_file),
                        "--anchor", f"{last_id}:{last_hash}"], capsys)
    assert code == 0 and "matches the anchor" in out


def test_cli_verify_names_the_first_broken_entry_and_exits_1(db_file, capsys):
    db = connect(db_file)
    tamper(db, "UPDATE audit_log SET after = 'null' WHERE id = 2")
    db.conn.close()
    code, out, _ = run(["audit", "verify", "--db", str(db_file)], capsys)
    assert code == 1
    assert "BỊ HỎNG / audit log BROKEN at mục / entry #2" in out and "edited" in out


def test_cli_verify_with_an_anchor_finds_a_truncated_tail(db_file, capsys):
    db = connect(db_file)
    anchor = audit.head(db)
    tamper(db, "DELETE FROM audit_log WHERE id = 3")
    tamper(db, "DELETE FROM sqlite_sequence")
    db.conn.close()
    assert run(["audit", "verify", "--db", str(db_file)], capsys)[0] == 0
    code, out, _ = run(["audit", "verify", "--db", str(db_file), "--anchor",
                        f"{anchor[0]}:{anchor[1]}"], capsys)
    assert code == 1 and "entry #3" in out and "các mục cuối đã bị xoá" in out


def test_cli_verify_does_not_write_to_the_database(db_file, capsys):
    before = db_file.read_bytes()
    run(["audit", "verify", "--db", str(db_file)], capsys)
    assert db_file.read_bytes() == before


def test_cli_list_newest_first_and_json(db_file, capsys):
    code, out, _ = run(["audit", "list", "--db", str(db_file), "--limit", "2"], capsys)
    lines = out.splitlines()
    assert code == 0 and len(lines) == 3 and lines[1].startswith("3 ") and "cli:user" in out
    code, out, _ = run(["audit", "list", "--db", str(db_file), "--json"], capsys)
    listed = json.loads(out)
    assert [e["id"] for e in listed] == [3, 2, 1]
    assert listed[0]["after"] == {"officer": "HK-0004"}


@pytest.mark.parametrize("argv, message", [
    (["audit", "verify", "--db", "{tmp}/none.db"], "no database at"),
    (["audit", "list", "--db", "{tmp}/none.db"], "no database at"),
])
def test_cli_user_errors_are_one_line_and_exit_2(argv, message, tmp_path, capsys):
    argv = [arg.replace("{tmp}", str(tmp_path)) for arg in argv]
    code, _, err = run(argv, capsys)
    assert code == 2 and message in err and err.count("\n") == 1


@pytest.mark.parametrize("anchor", ["12", "x:" + "a" * 64, "0:" + "a" * 64, "3:abc",
                                    "3:" + "g" * 64])
def test_cli_refuses_a_malformed_anchor(anchor, db_file, capsys):
    with pytest.raises(SystemExit) as exit_:
        run(["audit", "verify", "--db", str(db_file), "--anchor", anchor], capsys)
    assert exit_.value.code == 2
