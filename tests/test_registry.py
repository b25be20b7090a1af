"""The device registry: validation, hashed-only credentials, retirement, rotation, the CLI."""

from __future__ import annotations

import json
import unicodedata

import pytest
from factories import incoming, rating_bytes

from collector.cli import main as cli
from collector.db import store as store_module
from collector.cli.devices import add_device_commands
from collector.org.credentials import verify_password
from collector.db.reader import open_reader
from collector.org.devices import broker_accounts
from collector.roster.duty import counter_officer, current_assignments
from collector.org.registry import Registry, RegistryError
from collector.db.store import Store
from collector.db.schema import MIGRATIONS
from collector.ingest.recording import record_batch

NEW = "kiosk-hk-09"


@pytest.fixture
def registry(store):
    return Registry(store)


def stored_hash(store, device_id):
    row = store.db.execute("SELECT password_hash FROM device_credentials WHERE device_id = ?",
                           [device_id]).fetchone()
    return row[0] if row else None


def database_text(store) -> str:
    """Every statement that would rebuild the database: what a stolen file reveals."""
    return "\n".join(store.db.conn.iterdump())


# --- add ----------------------------------------------------------------------------------

def test_add_issues_a_password_that_is_stored_only_as_its_hash(registry, store):
    issued = registry.add(NEW, "hk-q1")
    assert (issued.device_id, issued.username) == (NEW, NEW)
    hashed = stored_hash(store, NEW)
    assert hashed.startswith("$7$") and verify_password(issued.password, hashed)
    assert issued.password not in database_text(store)


@pytest.mark.parametrize("device_id", ["Kiosk-01", "k", "-kiosk", "kiosk_01", "kiosk 01",
                                       "k" * 33, "kiosk-hà-01", "hailong-collector"])
def test_add_refuses_ids_outside_the_protocol_pattern_or_reserved(registry, device_id):
    with pytest.raises(RegistryError, match="device id"):
        registry.add(device_id, "hk-q1")


def test_adding_an_existing_id_is_a_clear_error(registry):
    with pytest.raises(RegistryError, match="'kiosk-hk-01' is already registered"):
        registry.add("kiosk-hk-01", "hk-q1")


def test_a_retired_id_is_never_reused(registry):
    registry.retire("kiosk-hk-02")
    with pytest.raises(RegistryError, match="never reused"):
        registry.add("kiosk-hk-02", "hk-q2")


@pytest.mark.parametrize("options, message", [
    ({}, "no counter 'hk-q9'; give --counter-label and --unit"),
    ({"counter_label": "Quầy 9", "unit_id": "zz"}, "no unit 'zz'; give --unit-name"),
    ({"counter_label": "Q" * 41, "unit_id": "hk-1c"}, "1 to 40 characters"),
    ({"counter_label": "Quầy 9", "unit_id": "hk 1c"}, "bad unit id"),
    ({"scale": 6}, "scale must be one of 3, 4, 5"),
])
def test_add_explains_what_is_missing(registry, options, message):
    with pytest.raises(RegistryError, match=message):
        registry.add(NEW, "hk-q9", **options)


def test_add_creates_the_counter_and_unit_with_composed_labels(registry):
    decomposed = unicodedata.normalize("NFD", "Quầy 9")
    registry.add(NEW, "hk-q9", counter_label=decomposed, unit_id="tt",
                 unit_name="Trung tâm Phục vụ hành chính công", scale=5)
    device = registry.show(NEW)
    assert device["counter_label"] == unicodedata.normalize("NFC", "Quầy 9")
    assert (device["unit_id"], device["unit_name"], device["scale"]) == \
        ("tt", "Trung tâm Phục vụ hành chính công", 5)


def test_options_for_an_existing_counter_must_agree_with_it(registry):
    registry.add(NEW, "hk-q1", counter_label="Quầy 1", unit_id="hk-1c")  # agrees: fine
    with pytest.raises(RegistryError, match="exists as 'Quầy 1'"):
        registry.add("kiosk-hk-10", "hk-q1", counter_label="Quầy 7")
    with pytest.raises(RegistryError, match="belongs to unit 'hk-1c'"):
        registry.add("kiosk-hk-10", "hk-q1", unit_id="bd-1c")


def test_a_replacement_board_shows_the_counters_officer_at_once(registry):
    registry.add(NEW, "hk-q1")  # kiosk-hk-01 stands there, staffed by HK-0001
    assert registry.show(NEW)["officer_id"] == "HK-0001"


def test_adding_a_device_leaves_the_counters_roster_alone(store):
    """Reviewer item 4: adding a second device at bd-q2 cut BD-0002's bounded shift in place
    (no history, no audit) and restarted it "until further notice". The roster belongs to
    the counter: the new device just follows it."""
    from collector.roster.shifts import RosterService
    hour = 3_600_000
    now = store_module.now_ms()  # the registry asks the roster who is on duty *now*
    roster = RosterService(store, actor="test", clock=lambda: now)
    roster.add_shift("bd-q2", "BD-0002", now - hour, now + 2 * hour)

    def shifts():
        return store.db.execute("SELECT * FROM roster_shifts ORDER BY id").fetchall()

    def audit_actions():
        return [row[0] for row in store.db.execute("SELECT action FROM audit_log ORDER BY id")]

    before, actions = shifts(), audit_actions()
    Registry(store, clock=lambda: now).add("kiosk-bd-09", "bd-q2")
    assert shifts() == before
    assert audit_actions() == [*actions, "device.add"]
    for seq, at in ((1, now + hour), (2, now + 3 * hour)):
        record_batch(store.db, [incoming(rating_bytes(device="kiosk-bd-09", seq=seq, ts=at,
                                                      officer=None), device="kiosk-bd-09")])
    owners = dict(store.db.execute("SELECT seq, officer_id FROM ratings "
                                   "WHERE device_id = 'kiosk-bd-09'").fetchall())
    assert owners == {1: "BD-0002", 2: None}  # the shift ends where the roster says


# --- show / list never print a hash -------------------------------------------------------

def test_show_and_list_never_carry_a_hash(registry):
    registry.add(NEW, "hk-q1")
    shown = [registry.show(NEW), *registry.devices(include_retired=True)]
    text = json.dumps(shown)
    assert "$7$" not in text and "password_hash" not in text
    assert registry.show(NEW)["credentials_issued_at"] is not None


def test_list_leaves_retired_devices_out_unless_asked(registry):
    registry.retire("kiosk-hk-02")
    assert "kiosk-hk-02" not in [d["id"] for d in registry.devices()]
    assert "kiosk-hk-02" in [d["id"] for d in registry.devices(include_retired=True)]


# --- retire -------------------------------------------------------------------------------

def test_retire_keeps_history_and_refuses_the_devices_messages(registry, store):
    issued = registry.rotate_credentials("kiosk-hk-01")
    record_batch(store.db, [incoming(rating_bytes(seq=1))])
    retired = registry.retire("kiosk-hk-01")
    assert retired["retired_at"] is not None and retired["ratings_stored"] == 1
    kept = dict(next(store.db.query("SELECT officer_id FROM ratings WHERE device_id = ?",
                                    ["kiosk-hk-01"])))
    assert kept["officer_id"] == "HK-0001"
    outcome = record_batch(store.db, [incoming(rating_bytes(seq=2))])
    assert outcome["rejected"] == 1
    assert store.db.execute("SELECT reason FROM rejected").fetchone()[0] == "unknown_device"
    # No login any more, and the roster no longer points at it.
    assert stored_hash(store, "kiosk-hk-01") is None and not registry.check_password(
        "kiosk-hk-01", issued.password)
    assert "kiosk-hk-01" not in [device for device, _ in broker_accounts(store.db)]
    assert "kiosk-hk-01" not in [row["device_id"] for row in current_assignments(store.db)]
    assert counter_officer(store.db, "hk-q1") == "HK-0001"


@pytest.mark.parametrize("device_id, message", [("kiosk-zz-99", "no device 'kiosk-zz-99'"),
                                                ("kiosk-hk-02", "already retired")])
def test_retire_explains_refusals(registry, device_id, message):
    registry.retire("kiosk-hk-02")
    with pytest.raises(RegistryError, match=message):
        registry.retire(device_id)


# --- rotate -------------------------------------------------------------------------------

def test_rotation_makes_a_new_password_and_invalidates_the_old(registry, store):
    old = registry.add(NEW, "hk-q1").password
    new = registry.rotate_credentials(NEW).password
    assert new != old
    hashed = stored_hash(store, NEW)
    assert verify_password(new, hashed) and not verify_password(old, hashed)
    assert registry.check_password(NEW, new) and not registry.check_password(NEW, old)
    assert old not in database_text(store) and new not in database_text(store)


def test_a_retired_device_gets_no_new_credentials(registry):
    registry.retire("kiosk-hk-02")
    with pytest.raises(RegistryError, match="retired"):
        registry.rotate_credentials("kiosk-hk-02")


# --- migration ----------------------------------------------------------------------------

def test_a_database_from_before_the_registry_is_upgraded(tmp_path, monkeypatch):
    path = tmp_path / "old.db"
    monkeypatch.setattr(store_module, "MIGRATIONS", MIGRATIONS[:2])
    Store(path).close()
    monkeypatch.undo()
    store = Store(path)
    try:
        names = [row["name"] for row in open_reader(path)["_migrations"].rows]
        assert "0003_device_credentials" in names
        assert store.db["device_credentials"].exists()
    finally:
        store.close()


# --- command line -------------------------------------------------------------------------

@pytest.fixture
def hailong(monkeypatch, capsys):
    """Run `hailong ARGS` through collector.cli.main.main, with the device commands wired in."""
    build = cli.build_parser

    def build_with_devices():
        parser = build()
        subparsers = parser._subparsers._group_actions[0]
        if "devices" not in subparsers.choices:  # until cli.build_parser adds them itself
            add_device_commands(subparsers)
        return parser

    monkeypatch.setattr(cli, "build_parser", build_with_devices)

    def run(*argv):
        status = cli.main([str(arg) for arg in argv])
        out, err = capsys.readouterr()
        return status, out, err
    return run


def test_cli_add_prints_the_password_once_with_a_warning(hailong, seeded_db):
    status, out, err = hailong("devices", "add", NEW, "--counter", "hk-q1", "--db", seeded_db)
    assert status == 0 and err == ""
    password = out.split("Mật khẩu / Password")[1].split(":", 1)[1].split()[0]
    assert out.count(password) == 1
    assert "CẢNH BÁO" in out and "shown ONCE" in out
    status, out, _ = hailong("devices", "show", NEW, "--db", seeded_db)
    assert status == 0 and password not in out and "$7$" not in out
    assert "Nguyễn Thị Thu Hường (HK-0001)" in out


def test_cli_json_outputs(hailong, seeded_db):
    status, out, err = hailong("devices", "add", NEW, "--counter", "hk-q1", "--db", seeded_db,
                               "--json")
    issued = json.loads(out)
    assert status == 0 and issued["username"] == NEW and "shown ONCE" in err
    status, out, _ = hailong("devices", "list", "--db", seeded_db, "--json")
    listed = json.loads(out)
    assert NEW in [d["id"] for d in listed] and "$7$" not in out
    status, out, _ = hailong("devices", "rotate-credentials", NEW, "--db", seeded_db, "--json")
    assert json.loads(out)["password"] != issued["password"]
    status, out, _ = hailong("devices", "retire", NEW, "--db", seeded_db, "--json")
    assert json.loads(out)["retired_at"] is not None


def test_cli_list_is_a_readable_table(hailong, seeded_db):
    hailong("devices", "add", NEW, "--counter", "hk-q1", "--db", seeded_db)
    status, out, _ = hailong("devices", "list", "--db", seeded_db)
    lines = out.splitlines()
    assert status == 0 and lines[0].startswith("Thiết bị/device")
    row = next(line for line in lines if line.startswith(NEW))
    assert "Quầy 1 (hk-q1)" in row and "đang dùng / active" in row


def test_cli_broker_config_writes_the_files(hailong, seeded_db, tmp_path):
    hailong("devices", "add", NEW, "--counter", "hk-q1", "--db", seeded_db)
    status, out, err = hailong("broker-config", "--db", seeded_db, "--out", tmp_path / "conf")
    assert status == 0, err
    secret = (seeded_db.parent / "collector.password").read_text().strip()
    assert "just created" in out and secret not in out
    passwd = (tmp_path / "conf" / "hailong.passwd").read_text()
    assert passwd.startswith("hailong-collector:$7$") and f"\n{NEW}:$7$" in passwd
    assert "kiosk-hk-01" in out  # named: registered without credentials, so refused


@pytest.mark.parametrize("argv, message", [
    (["devices", "add", "Bad_ID", "--counter", "hk-q1"], "bad device id 'Bad_ID'"),
    (["devices", "add", "kiosk-hk-01", "--counter", "hk-q1"], "already registered"),
    (["devices", "add", NEW, "--counter", "nowhere"], "no counter 'nowhere'"),
    (["devices", "show", "kiosk-zz-99"], "no device 'kiosk-zz-99'"),
    (["devices", "retire", "kiosk-zz-99"], "no device 'kiosk-zz-99'"),
    (["devices", "rotate-credentials", "kiosk-zz-99"], "no device 'kiosk-zz-99'"),
    (["devices", "list", "--db", "{tmp}/missing.db"], "no database at"),
    (["broker-config", "--out", "{tmp}/conf", "--collector-user", "a b"],
     "bad collector user name"),
    (["broker-config", "--out", "{tmp}/conf", "--reload", "{tmp}/none.pid"],
     "files written, broker not reloaded: no pid file"),
    (["broker-config", "--out", "{tmp}/conf", "--collector-password-file", "{tmp}/short"],
     "shorter than 16 characters"),
])
def test_cli_user_errors_are_one_line_and_exit_2(hailong, seeded_db, tmp_path, argv, message):
    (tmp_path / "short").write_text("1234\n")
    argv = [arg.replace("{tmp}", str(tmp_path)) for arg in argv]
    if "--db" not in argv:
        argv += ["--db", str(seeded_db)]
    status, _, err = hailong(*argv)
    *before, last = err.splitlines()
    assert status == 2 and message in last and last.startswith("hailong ")
    # Only warnings may come before (e.g. not root, so the files could not get their group).
    assert all(line.startswith("cảnh báo / warning:") for line in before)


def test_registry_changes_are_in_the_audit_log_without_secrets(tmp_path):
    from collector.db import audit
    store = Store(tmp_path / "audit.db")
    try:
        registry = Registry(store, actor="cli:kythuat")
        issued = registry.add("kiosk-au-01", "q1", counter_label="Quầy 1", unit_id="u1",
                              unit_name="UBND phường")
        registry.rotate_credentials("kiosk-au-01")
        registry.retire("kiosk-au-01")
        entries = list(reversed(audit.recent(store.db)))
        assert [(e.actor, e.action, e.subject) for e in entries] == [
            ("cli:kythuat", "device.add", "device:kiosk-au-01"),
            ("cli:kythuat", "device.rotate_credentials", "device:kiosk-au-01"),
            ("cli:kythuat", "device.retire", "device:kiosk-au-01")]
        assert issued.password not in " ".join(e.before + e.after for e in entries)
        assert "$7$" not in " ".join(e.before + e.after for e in entries)
        assert audit.verify(store.db).ok
    finally:
        store.close()
