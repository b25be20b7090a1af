"""The organisation: the tree and who leads and decides, record validation, audited writes.

The seed: hn (city, headed by its chairman HN-0001) → hk, bd (wards, headed by their
chairmen HK-0100, BD-0100) → hk-1c, bd-1c (one-stop sections, no head of their own). The vice-chairmen HK-0101/BD-0101 sit in the
ward unit and lead the section's four officers.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from collector.db import audit
from collector.org.organisation import (
    OrganisationService,
    direct_leader,
    led_by,
    responsible_head,
    unit_chain,
    unit_subtree,
)
from collector.org.validation import (
    OrgConflict,
    OrgError,
    OrgNotFound,
    check_counter,
    check_officer,
    check_unit,
)

AT = 1_772_400_000_000


@pytest.fixture
def org(store):
    return OrganisationService(store, actor="test:HK-0100", clock=lambda: AT)


def last_audit(store):
    entry = audit.recent(store.db, None)[0]
    return entry.actor, entry.action, entry.subject, entry.before_value, entry.after_value


def officer(**fields):
    return {"id": "HK-0005", "name": "Nguyễn Văn An", "title": "Chuyên viên",
            "unit_id": "hk-1c", **fields}


# --- the tree, leaders and heads ---------------------------------------------------------

def test_subtree_and_chain_follow_the_parents(store):
    assert unit_subtree(store.db, "hn") == {"hn", "hk", "hk-1c", "bd", "bd-1c"}
    assert unit_subtree(store.db, "hk") == {"hk", "hk-1c"}
    assert unit_subtree(store.db, "hk-1c") == {"hk-1c"}
    assert unit_subtree(store.db, "nowhere") == set()
    assert unit_chain(store.db, "hk-1c") == ["hk-1c", "hk", "hn"]


def test_walks_end_even_when_the_stored_tree_loops(store):
    # Written behind the service's back, as a broken import might: reads must still end.
    store.db.execute("UPDATE units SET parent_id = 'hk-1c' WHERE id = 'hn'")
    assert unit_chain(store.db, "hk-1c") == ["hk-1c", "hk", "hn"]
    assert unit_subtree(store.db, "hk") == {"hk", "hk-1c", "hn", "bd", "bd-1c"}
    assert responsible_head(store.db, "HK-0100") == "HN-0001"
    assert responsible_head(store.db, "HN-0001") == "HK-0100"  # round the loop, and it ends


def test_the_head_who_decides_is_the_nearest_above_who_is_not_oneself(store, org):
    # The section names no head: its officers and its leader go to the ward chairman.
    assert responsible_head(store.db, "HK-0001") == "HK-0100"
    assert responsible_head(store.db, "HK-0101") == "HK-0100"
    # The chairman heads his own unit: decided one level up, by the city's chairman, whose
    # own month goes above the deployment (no head over him).
    assert responsible_head(store.db, "HK-0100") == "HN-0001"
    assert responsible_head(store.db, "HN-0001") is None
    # Where the city names nobody, the ward chairman has nobody to decide his month.
    org.update_unit("hn", {"head_id": None})
    assert responsible_head(store.db, "HK-0100") is None
    org.update_unit("hn", {"head_id": "HN-0001"})
    # A head named for the section itself takes over its officers.
    org.update_unit("hk-1c", {"head_id": "HK-0101"})
    assert responsible_head(store.db, "HK-0001") == "HK-0101"
    assert responsible_head(store.db, "NOBODY") is None


def test_the_direct_leader_is_the_leader_of_record_else_the_responsible_head(store):
    assert direct_leader(store.db, "HK-0001") == "HK-0101"
    assert direct_leader(store.db, "HK-0101") == "HK-0100"  # no leader of record
    assert direct_leader(store.db, "HK-0100") == "HN-0001"  # no leader of record either
    assert direct_leader(store.db, "HN-0001") is None
    assert direct_leader(store.db, "NOBODY") is None
    assert led_by(store.db, "HK-0101") == ["HK-0001", "HK-0002", "HK-0003", "HK-0004"]
    assert led_by(store.db, "HK-0100") == ["HK-0101"]
    assert led_by(store.db, "HK-0001") == []


# --- validation ----------------------------------------------------------------------------

@pytest.mark.parametrize("fields, words", [
    ({"id": "x y", "name": "A"}, "bad id"),
    ({"id": "a" * 41, "name": "A"}, "bad id"),
    ({"id": "u1", "name": "   "}, "name: must not be empty"),
    ({"id": "u1", "name": "A" * 81}, "at most 80"),
    ({"id": "u1", "name": "A", "parent_id": "nowhere"}, "no parent unit"),
    ({"id": "u1", "name": "A", "kind": "village"}, "kind: must be one of"),
    ({"id": "u1", "name": "A", "head_id": "NOBODY"}, "head_id: no officer"),
    ({"id": "u1", "name": "A", "outstanding": "maybe"}, "true or false"),
    ({"id": "u1", "name": "A", "colour": "red"}, "Unknown fields: colour"),
    ({"id": "hn", "name": "A", "parent_id": "hk-1c"}, "cannot loop"),
    ({"id": "hn", "name": "A", "parent_id": "hn"}, "cannot loop"),
])
def test_bad_units_are_refused_in_both_languages(store, fields, words):
    with pytest.raises(OrgError, match=words) as raised:
        check_unit(fields, store.db)
    assert raised.value.vi and raised.value.vi != raised.value.en


def test_a_unit_is_cleaned_and_may_name_records_defined_earlier_in_a_file(store):
    assert check_unit({"id": "hk-vp", "name": "  Văn phòng  ", "parent_id": "hk",
                       "kind": "office", "outstanding": "có", "head_id": ""}, store.db) == \
        {"id": "hk-vp", "name": "Văn phòng", "parent_id": "hk", "kind": "office",
         "head_id": None, "outstanding": True}
    pending = check_unit({"id": "x2", "name": "B", "parent_id": "x1", "head_id": "X-1"},
                         store.db, pending_units={"x1"}, pending_officers={"X-1"})
    assert (pending["parent_id"], pending["head_id"]) == ("x1", "X-1")
    # A mapping of the file's parents lets the cycle check walk through unsaved units.
    with pytest.raises(OrgError, match="cannot loop"):
        check_unit({"id": "hn", "name": "A", "parent_id": "x1"}, store.db,
                   pending_units={"x1": "x2", "x2": "hk"})


def test_names_are_stored_composed(store):
    decomposed = "Nguye\u0302\u0303n"  # "Nguyễn" typed with combining marks
    assert check_officer(officer(name=decomposed), store.db)["name"] == "Nguyễn"


@pytest.mark.parametrize("fields, words", [
    (officer(id="HK 5"), "bad id"),
    (officer(id="H" * 33), "bad id"),  # the rating's `officer` holds 32
    (officer(title=""), "title: must not be empty"),
    (officer(name="N" * 61), "at most 60"),
    (officer(unit_id="nowhere"), "unit_id: no unit"),
    (officer(unit_id=None), "unit_id: no unit"),
    (officer(leader_id="HK-0005"), "cannot lead themself"),
    (officer(leader_id="NOBODY"), "leader_id: no officer"),
    (officer(id="HK-0101", leader_id="HK-0001"), "leadership cannot loop"),
    (officer(active_from="2026-02-30"), "invalid date"),
    (officer(active_from="1999-12-31"), "2000 to 2100"),
    (officer(active_from="2026-03-02", active_to="2026-03-01"), "cannot be before"),
    (officer(photo="/etc/passwd"), "relative path"),
    (officer(photo="../secret.jpg"), "relative path"),
    (officer(photo="javascript://x"), "http"),
    (officer(photo="C:\\anh\\a.jpg"), "relative path"),
])
def test_bad_officers_are_refused(store, fields, words):
    with pytest.raises(OrgError, match=words):
        check_officer(fields, store.db)


def test_an_officer_is_cleaned(store):
    clean = check_officer(officer(leader_id="HK-0101", photo="anh/HK-0005.jpg",
                                  active_from=date(2026, 1, 1),
                                  active_to=datetime(2026, 12, 31, 0, 0)), store.db)
    assert clean == {"id": "HK-0005", "name": "Nguyễn Văn An", "title": "Chuyên viên",
                     "unit_id": "hk-1c", "leader_id": "HK-0101", "photo": "anh/HK-0005.jpg",
                     "active_from": "2026-01-01", "active_to": "2026-12-31",
                     "post_group": None}
    assert check_officer(officer(photo="https://hoankiem.hanoi.gov.vn/a.jpg"),
                         store.db)["photo"] == "https://hoankiem.hanoi.gov.vn/a.jpg"
    # leader and unit defined earlier in the same file; a leadership loop through them is seen
    assert check_officer(officer(unit_id="new", leader_id="X-1"), store.db,
                         pending_units={"new"}, pending_officers={"X-1"})["leader_id"] == "X-1"
    with pytest.raises(OrgError, match="cannot loop"):
        check_officer(officer(id="HK-0001", leader_id="X-1"), store.db,
                      pending_officers={"X-1": "HK-0001"})


def test_counters_are_checked(store):
    assert check_counter({"id": "hk-q5", "label": " Quầy 5 ", "unit_id": "hk-1c"},
                         store.db) == {"id": "hk-q5", "label": "Quầy 5", "unit_id": "hk-1c"}
    with pytest.raises(OrgError, match="at most 40"):
        check_counter({"id": "hk-q5", "label": "Q" * 41, "unit_id": "hk-1c"}, store.db)
    with pytest.raises(OrgError, match="no unit"):
        check_counter({"id": "hk-q5", "label": "Q", "unit_id": "zz"}, store.db)


# --- the service ---------------------------------------------------------------------------

def test_creates_are_audited_with_what_was_stored(store, org):
    unit = org.create_unit({"id": "hk-vp", "name": "Văn phòng HĐND và UBND", "parent_id": "hk",
                            "kind": "office"})
    assert unit == {"id": "hk-vp", "name": "Văn phòng HĐND và UBND", "parent_id": "hk",
                    "kind": "office", "head_id": None, "outstanding": False}
    assert last_audit(store) == ("test:HK-0100", "unit.create", "unit:hk-vp", None, unit)
    created = org.create_officer(officer(unit_id="hk-vp", photo="anh/a.jpg"))
    assert last_audit(store)[1:4] == ("officer.create", "officer:HK-0005", None)
    assert created["photo"] == "anh/a.jpg"
    org.create_counter({"id": "hk-q5", "label": "Quầy 5", "unit_id": "hk-1c"})
    assert last_audit(store)[1:3] == ("counter.create", "counter:hk-q5")
    with pytest.raises(OrgConflict, match="already exists"):
        org.create_unit({"id": "hk", "name": "again"})
    with pytest.raises(OrgConflict):
        org.create_officer(officer(id="HK-0001"))
    assert audit.verify(store.db).ok
    assert audit.recent(store.db, None)[0].at == AT


def test_an_update_changes_only_what_it_names(store, org):
    org.update_officer("HK-0001", {"photo": "anh/HK-0001.jpg", "active_from": "2025-07-01"})
    org.update_officer("HK-0001", {"title": "Chuyên viên chính"})
    row = org.officer("HK-0001")
    assert (row["title"], row["photo"], row["active_from"], row["leader_id"]) == \
        ("Chuyên viên chính", "anh/HK-0001.jpg", "2025-07-01", "HK-0101")
    assert last_audit(store)[1:] == ("officer.update", "officer:HK-0001",
                                     {"title": "Chuyên viên"}, {"title": "Chuyên viên chính"})
    org.update_unit("hk-1c", {"outstanding": True})
    unit = org.unit("hk-1c")
    assert (unit["outstanding"], unit["kind"], unit["parent_id"]) == (True, "office", "hk")
    org.update_counter("hk-q1", {"label": "Quầy 1A"})
    assert org.counter("hk-q1") == {"id": "hk-q1", "label": "Quầy 1A", "unit_id": "hk-1c"}
    # null clears an optional field
    org.update_officer("HK-0001", {"leader_id": None})
    assert org.officer("HK-0001")["leader_id"] is None
    assert direct_leader(store.db, "HK-0001") == "HK-0100"


def test_an_update_that_changes_nothing_writes_nothing(store, org):
    entries = len(audit.recent(store.db, None))
    org.update_officer("HK-0001", {"title": "Chuyên viên"})
    assert len(audit.recent(store.db, None)) == entries


def test_bad_updates_change_nothing(store, org):
    entries = len(audit.recent(store.db, None))
    with pytest.raises(OrgNotFound, match="No unit 'zz'"):
        org.update_unit("zz", {"name": "x"})
    with pytest.raises(OrgNotFound):
        org.update_officer("NOBODY", {"name": "x"})
    with pytest.raises(OrgError, match="cannot loop"):
        org.update_unit("hk", {"parent_id": "hk-1c"})
    with pytest.raises(OrgError, match="leadership cannot loop"):
        org.update_officer("HK-0101", {"leader_id": "HK-0002"})
    with pytest.raises(OrgError, match="an id cannot change"):
        org.update_counter("hk-q1", {"id": "hk-q9"})
    with pytest.raises(OrgError, match="Nothing to change"):
        org.update_unit("hk", {})
    with pytest.raises(OrgError, match="cannot be before"):
        org.update_officer("HK-0001", {"active_from": "2026-05-01", "active_to": "2026-04-30"})
    assert len(audit.recent(store.db, None)) == entries
    assert org.unit("hk")["parent_id"] == "hn"
    assert not store.db.conn.in_transaction


def test_a_write_and_its_audit_entry_commit_together(store, org, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")
    monkeypatch.setattr(audit, "append", broken)
    with pytest.raises(RuntimeError):
        org.update_unit("hk", {"name": "Đổi tên"})
    monkeypatch.undo()
    assert org.unit("hk")["name"] == "UBND phường Hoàn Kiếm"


def test_seeding_again_changes_nothing(store):
    from collector.demo.seed import seed_demo

    def snapshot():
        return [list(map(tuple, store.db.execute(sql).fetchall())) for sql in (
            "SELECT * FROM units ORDER BY id", "SELECT * FROM officers ORDER BY id",
            "SELECT counter_id, officer_id, starts_at, ends_at FROM roster_shifts ORDER BY id",
            "SELECT * FROM device_placements ORDER BY id")]
    before = snapshot()
    assert seed_demo(store, 4) == ["kiosk-hk-01", "kiosk-bd-01", "kiosk-hk-02", "kiosk-bd-02"]
    assert snapshot() == before
    assert {row[0]: row[1] for row in store.db.execute("SELECT id, head_id FROM units")} == \
        {"hn": "HN-0001", "hk": "HK-0100", "hk-1c": None, "bd": "BD-0100", "bd-1c": None}
