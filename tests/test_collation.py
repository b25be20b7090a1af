"""Vietnamese order of names (collector/core/collation.py) and every list of names that uses it.

The expectations come first, from the Vietnamese alphabet (a ă â b c d đ e ê g h i k l m n o ô ơ
p q r s t u ư v x y) with the tones weighing only between otherwise equal words, in ICU's
`vi` order: none, grave (huyền), hook (hỏi), tilde (ngã), acute (sắc), dot below (nặng). Code
point order, what SQLite and Python's `sorted` gave, puts "Đ" after "Z" and "Nguyễn" before
"Ngô".
"""

from __future__ import annotations

import io
import threading
from datetime import date
from types import SimpleNamespace

import openpyxl
import pytest
from fastapi.testclient import TestClient

from accounts_support import admin_headers
from collector.app import create_app
from collector.core.collation import name_key, person_key
from collector.core.settings import Settings
from collector.db.reader import open_reader
from collector.db.store import Store
from collector.evaluation import export_xlsx, month as monthly, team, year as annual
from collector.evaluation.policy import load_preset
from collector.org import directory
from collector.org.organisation import upsert_officer, upsert_unit
from dashboard.pages.leaders import scope_units
from dashboard.views import leaders as leaders_views


def test_letters_of_the_vietnamese_alphabet():
    assert sorted(["Vũ", "Đặng", "Dương", "Bùi", "Ngô", "Nguyễn", "Âm", "Ăn", "An"],
                  key=name_key) == [
        "An", "Ăn", "Âm", "Bùi", "Dương", "Đặng", "Ngô", "Nguyễn", "Vũ"]
    assert sorted(["Ơn", "Ôn", "On", "Ưu", "Uy", "Ê", "E", "Đa", "Dz"], key=name_key) == [
        "Dz", "Đa", "E", "Ê", "On", "Ôn", "Ơn", "Uy", "Ưu"]


def test_tones_weigh_only_when_the_letters_are_equal():
    assert sorted(["Bạ", "Bá", "Bã", "Bả", "Bà", "Ba"], key=name_key) == [
        "Ba", "Bà", "Bả", "Bã", "Bá", "Bạ"]
    # A later letter decides before an earlier tone: "Bá" < "Bach", "Bạ" < "Ba Đình".
    assert sorted(["Bạch", "Bà Đình", "Ba Đình", "Bạ", "Bach", "Bá"], key=name_key) == [
        "Bá", "Bạ", "Ba Đình", "Bà Đình", "Bach", "Bạch"]


def test_numbers_in_names_compare_as_numbers():
    assert sorted(["Quầy 10", "Quầy 2", "Quầy 1"], key=name_key) == [
        "Quầy 1", "Quầy 2", "Quầy 10"]


def test_missing_and_decomposed_names():
    assert name_key(None) == name_key("") == b""
    assert sorted(["An", None, ""], key=name_key) == [None, "", "An"]
    # Typed decomposed (e + combining marks) sorts exactly where the composed name does.
    assert name_key("Nguye\u0302\u0303n") == name_key("Nguyễn")
    assert person_key(None) == person_key("") == (b"", b"")
    assert person_key("  ") == (b"", name_key("  "))


def test_people_by_given_name_then_whole_name():
    names = ["Lê Văn Vinh", "Trần Thị Đào", "Nguyễn Văn Dũng", "Ngô Văn Dũng", "Phạm Thị Ánh"]
    assert sorted(names, key=person_key) == [
        "Phạm Thị Ánh", "Ngô Văn Dũng", "Nguyễn Văn Dũng", "Trần Thị Đào", "Lê Văn Vinh"]
    # The leaders' pages sort people with the same key.
    rows = [{"name": name} for name in names]
    assert [r["name"] for r in leaders_views.sort_rows(rows, "name")] == sorted(names, key=person_key)


def test_one_collator_shared_by_threads_gives_the_same_keys():
    names = [f"Nguyễn Văn {given}" for given in ("Ánh", "Đào", "Dũng", "Vinh", "Ân")] * 50
    expected = [name_key(n) for n in names]
    results: list[list[bytes]] = []

    def work():
        results.append([name_key(n) for n in names])

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [expected] * 8


# --- every list of names, end to end --------------------------------------------------------
# Four wards whose ids, code points and Vietnamese order all differ; in Dịch Vọng a head, a
# leader and five officers whose ids run against their Vietnamese order.

UNITS_IN_ORDER = ["Phường Ba Đình", "Phường Dịch Vọng", "Phường Đống Đa", "Phường Yên Hòa"]
TEAM_IN_ORDER = ["Phạm Thị Ánh", "Ngô Văn Dũng", "Nguyễn Văn Dũng", "Trần Thị Đào",
                 "Lê Văn Vinh"]
DICH_VONG_IN_ORDER = ["Phạm Thị Ánh", "Ngô Văn Dũng", "Nguyễn Văn Dũng", "Trần Thị Đào",
                      "Võ Minh Hải", "Hoàng Văn Long", "Lê Văn Vinh"]
MONTH, TODAY = "2026-03", date(2026, 4, 10)
NOW = 1_775_786_400_000  # 2026-04-10 09:00 local


@pytest.fixture
def world(tmp_path):
    path = tmp_path / "hailong.db"
    store = Store(path)
    try:
        db = store.db
        for unit_id, name in (("p1", "Phường Đống Đa"), ("p2", "Phường Yên Hòa"),
                              ("p3", "Phường Dịch Vọng"), ("p4", "Phường Ba Đình")):
            upsert_unit(db, unit_id, name, None, kind="ward")
        upsert_officer(db, "p3-h", "Võ Minh Hải", "Chủ tịch", "p3")
        upsert_unit(db, "p3", "Phường Dịch Vọng", None, kind="ward", head_id="p3-h")
        upsert_officer(db, "p3-l", "Hoàng Văn Long", "Trưởng bộ phận", "p3", leader_id="p3-h")
        for officer_id, name in zip(("p3-1", "p3-2", "p3-3", "p3-4", "p3-5"),
                                    reversed(TEAM_IN_ORDER)):
            upsert_officer(db, officer_id, name, "Chuyên viên", "p3", leader_id="p3-l")
        upsert_officer(db, "p1-1", "Đỗ Thị Mai", "Chuyên viên", "p1")
        upsert_officer(db, "p4-1", "Bùi Văn Cường", "Chuyên viên", "p4")
    finally:
        store.close()
    return path


@pytest.fixture
def reader(world):
    db = open_reader(world)
    yield db
    db.conn.close()


def test_api_officers_by_unit_then_person(world):
    app = create_app(Settings(db_path=world, broker_url=None))
    with TestClient(app, headers=admin_headers(world)) as client:
        officers = client.get("/api/v1/officers").json()
        unit = client.get("/api/v1/units/p3").json()
    assert [o["name"] for o in unit["officers"]] == DICH_VONG_IN_ORDER
    assert [(o["unit_name"], o["name"]) for o in officers] == [
        ("Phường Ba Đình", "Bùi Văn Cường"),
        *[("Phường Dịch Vọng", name) for name in DICH_VONG_IN_ORDER],
        ("Phường Đống Đa", "Đỗ Thị Mai")]


def test_api_unit_tree_and_the_unit_selectors(world, reader):
    app = create_app(Settings(db_path=world, broker_url=None))
    with TestClient(app, headers=admin_headers(world)) as client:
        tree = client.get("/api/v1/units").json()
    assert [unit["name"] for unit in tree] == UNITS_IN_ORDER
    assert [unit["name"] for unit in directory.list_units(reader)] == UNITS_IN_ORDER
    # The leaders' pages' unit selector, for an account that sees every unit.
    everyone = SimpleNamespace(scope=SimpleNamespace(sees_unit=lambda unit_id: True))
    assert [unit["name"] for unit in scope_units(reader, everyone)] == UNITS_IN_ORDER


def test_unit_month_its_xlsx_and_year_list_people_in_vietnamese_order(reader):
    policy = load_preset("decree-335")
    report = monthly.unit_month(reader, "p3", MONTH, policy, now_ms=NOW, today=TODAY)
    assert [row["name"] for row in report["officers"]] == DICH_VONG_IN_ORDER

    stream = io.BytesIO()
    export_xlsx.unit_month_xlsx(report, stream)
    sheet = openpyxl.load_workbook(io.BytesIO(stream.getvalue())).active
    header = next(r for r in range(1, 20) if sheet.cell(row=r, column=1).value is not None
                  and any(sheet.cell(row=r, column=c).value == "Họ và tên"
                          for c in range(1, sheet.max_column + 1)))
    column = next(c for c in range(1, sheet.max_column + 1)
                  if sheet.cell(row=header, column=c).value == "Họ và tên")
    names = [sheet.cell(row=r, column=column).value
             for r in range(header + 2, header + 2 + len(DICH_VONG_IN_ORDER))]
    assert names == DICH_VONG_IN_ORDER

    year = annual.unit_year(reader, "p3", 2026, policy, today=TODAY)
    assert [row["officer"]["name"] for row in year["officers"]] == DICH_VONG_IN_ORDER


def test_a_leader_s_team_in_vietnamese_order(reader):
    members = team.team_month(reader, "p3-l", MONTH, TODAY)["members"]
    assert [member["name"] for member in members] == TEAM_IN_ORDER
