"""The device registry: validation, hashed-only credentials, retirement, rotation, the CLI."""

from __future__ import annotations

import json
import re
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
from collector.fleet.moves import move_device
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


# --- placed from a past day (issue 12) ------------------------------------------------------

NOV_20_10H = 1_795_143_600_000   # 2026-11-20 10:00 ICT
NOV_03 = 1_793_638_800_000       # 2026-11-03 00:00 ICT


@pytest.fixture
def on_nov_20(store):
    return Registry(store, actor="cli:kythuat", clock=lambda: NOV_20_10H)


def audit_count(store):
    return store.db.execute("SELECT count(*) FROM audit_log").fetchone()[0]


def placements(store, device_id):
    return [tuple(row) for row in store.db.execute(
        "SELECT counter_id, starts_at, ends_at FROM device_placements WHERE device_id = ? "
        "ORDER BY starts_at", [device_id])]


def test_add_placed_from_a_day_starts_at_its_local_midnight_and_is_audited(on_nov_20, store):
    before = audit_count(store)
    on_nov_20.add(NEW, "hk-q1", placed_from="2026-11-03")
    assert placements(store, NEW) == [("hk-q1", NOV_03, None)]
    device = on_nov_20.show(NEW)
    assert (device["registered_at"], device["placed_from"]) == (NOV_20_10H, NOV_03)
    assert audit_count(store) == before + 1
    after = store.db.execute("SELECT action, after FROM audit_log ORDER BY id DESC").fetchone()
    assert after[0] == "device.add"
    assert json.loads(after[1]) == {"counter": "hk-q1", "scale": 4, "placed_from": NOV_03}


def test_add_without_a_day_is_placed_now(on_nov_20, store):
    on_nov_20.add(NEW, "hk-q1")
    assert placements(store, NEW) == [("hk-q1", NOV_20_10H, None)]


@pytest.mark.parametrize("day, message", [
    ("2026-11-21", "2026-11-21 is in the future"),
    ("2026-02-30", "the date must look like 2026-11-03 (YYYY-MM-DD)"),
    ("3/11/2026", "the date must look like 2026-11-03 (YYYY-MM-DD)"),
    ("2026-11-03\n", "the date must look like 2026-11-03 (YYYY-MM-DD)"),
    ("2019-12-31", "before 2020"),
])
def test_add_refuses_a_bad_or_future_day_and_writes_nothing(on_nov_20, store, day, message):
    before = (audit_count(store), database_text(store))
    with pytest.raises(RegistryError, match=re.escape(message)) as refused:
        on_nov_20.add(NEW, "hk-q9", counter_label="Quầy 9", unit_id="hk-1c", placed_from=day)
    assert " / " in str(refused.value)  # Vietnamese / English, one line
    assert "\n" not in str(refused.value)
    assert (audit_count(store), database_text(store)) == before  # not even the counter


def test_today_is_not_the_future(on_nov_20, store):
    on_nov_20.add(NEW, "hk-q1", placed_from="2026-11-20")
    assert placements(store, NEW) == [("hk-q1", 1_795_107_600_000, None)]


def test_move_closes_the_old_placement_at_the_new_start(on_nov_20, store):
    on_nov_20.add(NEW, "hk-q1", placed_from="2026-11-03")
    before = audit_count(store)
    moved = move_device(on_nov_20, NEW, "hk-q2", placed_from="2026-11-10")
    nov_10 = 1_794_243_600_000
    assert placements(store, NEW) == [("hk-q1", NOV_03, nov_10), ("hk-q2", nov_10, None)]
    assert moved["placed_from"] == nov_10 and on_nov_20.show(NEW)["placed_from"] == nov_10
    assert audit_count(store) == before + 1
    # Without a day: from now.
    move_device(on_nov_20, NEW, "hk-q1")
    assert placements(store, NEW)[-2:] == [("hk-q2", nov_10, NOV_20_10H),
                                           ("hk-q1", NOV_20_10H, None)]


@pytest.mark.parametrize("counter, day, message", [
    ("hk-q2", "2026-11-03", "already stood at counter 'hk-q1' from 03/11/2026 00:00"),
    ("hk-q2", "2026-11-02", "already stood at counter 'hk-q1' from 03/11/2026 00:00"),
    ("hk-q2", "2026-11-21", "is in the future"),
    ("hk-q2", "20/11/2026", "YYYY-MM-DD"),
    ("hk-q1", None, "already stands at counter 'hk-q1'"),
    ("nowhere", None, "no counter 'nowhere'"),
])
def test_move_refusals_write_nothing(on_nov_20, store, counter, day, message):
    on_nov_20.add(NEW, "hk-q1", placed_from="2026-11-03")
    before = (audit_count(store), database_text(store))
    with pytest.raises(RegistryError, match=re.escape(message)) as refused:
        move_device(on_nov_20, NEW, counter, placed_from=day)
    assert " / " in str(refused.value)
    assert (audit_count(store), database_text(store)) == before


def test_a_retired_or_unknown_device_does_not_move(on_nov_20):
    on_nov_20.retire("kiosk-hk-02")
    with pytest.raises(RegistryError, match="retired"):
        move_device(on_nov_20, "kiosk-hk-02", "hk-q1")
    with pytest.raises(RegistryError, match="no device 'kiosk-zz-99'"):
        move_device(on_nov_20, "kiosk-zz-99", "hk-q1")


def test_cli_add_and_move_with_a_past_day(hailong, seeded_db):
    status, out, _ = hailong("devices", "add", NEW, "--counter", "hk-q1", "--placed-from",
                             "2026-11-03", "--db", seeded_db, "--json")
    assert status == 0 and json.loads(out)["placed_from"] == NOV_03
    status, out, err = hailong("devices", "move", NEW, "--counter", "hk-q2", "--placed-from",
                               "2026-11-10", "--db", seeded_db)
    assert status == 0, err
    assert "Quầy 2 (hk-q2)" in out and "10/11/2026 00:00" in out
    status, out, _ = hailong("devices", "move", NEW, "--counter", "hk-q1", "--db", seeded_db,
                             "--json")
    shown = json.loads(out)
    assert status == 0 and shown["counter"] == "hk-q1"
    assert shown["previous"] == {"counter": "hk-q2", "placed_from": 1_794_243_600_000}
    status, out, _ = hailong("devices", "show", NEW, "--db", seeded_db)
    assert "Tại quầy từ / placed since" in out


@pytest.mark.parametrize("argv, message", [
    (["devices", "add", NEW, "--counter", "hk-q1", "--placed-from", "2999-01-01"],
     "2999-01-01 is in the future"),
    (["devices", "add", NEW, "--counter", "hk-q1", "--placed-from", "01/11/2026"],
     "YYYY-MM-DD"),
    (["devices", "move", "kiosk-hk-01", "--counter", "hk-q2", "--placed-from", "2020-01-01"],
     "already stood at counter 'hk-q1'"),
    (["devices", "move", "kiosk-hk-01", "--counter", "nowhere"], "no counter 'nowhere'"),
    (["devices", "move", "kiosk-zz-99", "--counter", "hk-q2"], "no device 'kiosk-zz-99'"),
])
def test_cli_placement_refusals_are_one_bilingual_line_exit_2(hailong, seeded_db, argv,
                                                               message):
    def dump():
        store = Store(seeded_db)
        try:
            return database_text(store)
        finally:
            store.close()
    before = dump()
    status, out, err = hailong(*argv, "--db", seeded_db)
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and message in err and " / " in err
    assert dump() == before
