"""Importing an organisation and task records from CSV and XLSX: all rows or none.

Good files in every accepted shape apply; every kind of bad row is reported with its sheet,
row, column and reason; a file with any bad row, a dry run, a crash halfway and a repeated
import all leave the database byte-for-byte as it was (every table and the audit log).
"""

from __future__ import annotations

import argparse
import io
import json
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest

from collector.db import audit
from collector.org import directory
from collector.imports import applying, checking, reading
from collector.cli.imports import add_import_commands
from collector.imports.applying import run_import
from collector.imports.reading import COLUMNS, SHEETS, fold
from collector.db.store import Store
from collector.org.organisation import upsert_unit

FIXTURES = Path(__file__).parent / "fixtures" / "import"
ORG_FILES = ("units.csv", "officers.csv", "counters.csv")
TODAY = date(2026, 4, 10)
T = 1_775_000_000_000  # the import's clock


def fixture(name: str) -> tuple[str, bytes]:
    return name, (FIXTURES / name).read_bytes()


def csv_file(name: str, *lines: str, sep: str = "\n") -> tuple[str, bytes]:
    return name, (sep.join(lines) + sep).encode("utf-8")


def xlsx(name: str, sheets: dict[str, list[list]]) -> tuple[str, bytes]:
    """A workbook built here rather than committed: a cell given as (value, format) gets
    that number format, as Excel would store it."""
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row, start=1):
                if isinstance(value, tuple):
                    sheet.cell(r, c, value[0]).number_format = value[1]
                else:
                    sheet.cell(r, c, value)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return name, buffer.getvalue()


def dump(store: Store) -> list[str]:
    """Every table, row and index, the audit log and sqlite_sequence included."""
    return list(store.db.conn.iterdump())


def run(store, kind, *sources, **options):
    return run_import(store, kind, list(sources), today=lambda: TODAY, clock=lambda: T,
                      actor="test", **options)


def where(report) -> list[tuple]:
    return [(r.sheet, r.row, r.column) for r in report.rejected]


@pytest.fixture
def empty(tmp_path):
    store = Store(tmp_path / "org.db")
    yield store
    store.close()


# --- the header table ----------------------------------------------------------------------

@pytest.mark.parametrize("text, key", [
    ("Mã cán bộ", "ma can bo"), ("MÃ  CÁN-BỘ", "ma can bo"), ("ma_can_bo", "ma can bo"),
    ("Tiến độ (%)", "tien do"), ("Đơn vị", "don vi"), ("\u0110o\u0302\u0301i", "doi")])
def test_headers_fold_case_diacritics_and_punctuation(text, key):
    assert fold(text) == key


@pytest.mark.parametrize("kind", list(COLUMNS))
def test_no_two_columns_of_a_kind_share_a_header(kind):
    names = [fold(n) for _, _, en, vi in COLUMNS[kind].values() for n in en + vi]
    assert len(names) == len(set(names))


def test_no_two_tables_share_a_sheet_name():
    names = [fold(n) for names in SHEETS.values() for n in names]
    assert len(names) == len(set(names))


def test_every_header_and_sheet_name_is_documented():
    doc = fold((Path(__file__).parent.parent / "docs" / "import.md").read_text("utf-8"))
    for columns in COLUMNS.values():
        for _, _, en, vi in columns.values():
            for name in en + vi:
                assert f" {fold(name)} " in f" {doc} ", name
    for names in SHEETS.values():
        assert all(fold(name) in doc for name in names)


# --- cells ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kind, field, value, fmt, expected", [
    ("officers", "id", "  HK-0001 ", None, "HK-0001"),
    ("officers", "id", 42, "General", "42"),
    ("officers", "id", 42.0, "0000", "0042"),  # shown as 0042 in Excel: imported as shown
    ("officers", "name", "Nguyê\u0303n", None, "Nguyễn"),  # NFC
    ("officers", "name", "", None, None),
    ("counters", "label", 3, "General", "3"),
    ("officers", "active_from", "25/11/2026", None, "2026-11-25"),
    ("officers", "active_from", "5.1.2026", None, "2026-01-05"),
    ("officers", "active_from", "2026-11-25", None, "2026-11-25"),
    ("officers", "active_from", datetime(2026, 11, 25), "dd/mm/yyyy", "2026-11-25"),
    ("officers", "active_from", date(2026, 11, 25), None, "2026-11-25"),
    ("units", "outstanding", "Có", None, True),
    ("units", "outstanding", "KHÔNG", None, False),
    ("units", "outstanding", "x", None, True),
    ("units", "outstanding", "", None, False),
    ("units", "outstanding", True, None, True),
    ("units", "kind", "Phường", None, "ward"),
    ("units", "kind", "Ward", None, "ward"),
    ("units", "kind", "Bộ phận", None, "office"),
    ("tasks", "weight", "2,5", None, 2.5),
    ("tasks", "weight", "2.5", None, 2.5),
    ("tasks", "weight", "1000", None, 1000.0),
    ("tasks", "weight", 3, "General", 3.0),
    ("tasks", "progress", "60 %", None, 60),
    ("tasks", "progress", 0.6, "0%", 60),
    ("tasks", "progress", 60, "General", 60),
    ("tasks", "period", "Tuần", None, "week"),
    ("tasks", "period", "THÁNG", None, "month"),
    ("tasks", "period", "monthly", None, "month"),
])
def test_cells_convert_as_the_user_meant(kind, field, value, fmt, expected):
    assert checking.convert(kind, field, value, fmt) == expected


@pytest.mark.parametrize("kind, field, value, fmt, words", [
    ("officers", "id", 12.5, "General", "format the column as Text"),
    ("officers", "id", 42, "0.00", "format the column as Text"),
    ("officers", "id", datetime(2026, 1, 1), "dd/mm/yyyy", "expected text"),
    ("officers", "active_from", "31/02/2026", None, "invalid date"),
    ("officers", "active_from", "2026-13-01", None, "invalid date"),
    ("officers", "active_from", "11/2026", None, "invalid date"),
    ("officers", "active_from", 46000, "General", "invalid date"),  # a date serial, unformatted
    ("officers", "active_from", datetime(2026, 1, 1, 8, 30), "General", "time of day"),
    ("units", "outstanding", "maybe", None, "expected yes/no"),
    ("tasks", "weight", "1.000", None, "thousand or a decimal"),
    ("tasks", "weight", "1,000", None, "thousand or a decimal"),
    ("tasks", "weight", "two", None, "not a number"),
    ("tasks", "progress", "60,5", None, "whole percentage"),
    ("tasks", "period", "year", None, "week or month"),
    # Issue 10: a control character imported into a title broke the unit's every XLSX.
    ("officers", "title", "Chuyên\x07viên", None, "control or invalid character U+0007"),
    ("units", "name", "Một\ncửa", None, "a line break inside a cell counts"),
    ("counters", "label", "Quầy\x1b1", None, "U+001B"),
    ("officers", "id", "HK\x00-1", None, "U+0000"),
])
def test_cells_that_cannot_mean_one_thing_are_refused(kind, field, value, fmt, words):
    with pytest.raises(checking.CellError) as caught:
        checking.convert(kind, field, value, fmt)
    assert words in caught.value.en and caught.value.vi


# --- reading files -------------------------------------------------------------------------

@pytest.mark.parametrize("data", [
    b"\xef\xbb\xbfid,name\r\nhn,H\xc3\xa0 N\xe1\xbb\x99i\r\n",
    b"id;name\nhn;H\xc3\xa0 N\xe1\xbb\x99i\n",
    b"id\tname\nhn\tH\xc3\xa0 N\xe1\xbb\x99i\n",
])
def test_csv_with_or_without_bom_and_any_of_three_delimiters(data):
    sheet = reading.read_csv(data, "units.csv")
    assert sheet.headers == ["id", "name"]
    assert [[c.value for c in cells] for _, cells in sheet.rows] == [["hn", "Hà Nội"]]


def test_csv_rows_are_numbered_as_a_spreadsheet_shows_them():
    data = 'id,name\n\na,"two\nlines"\n,\nb,B\n'.encode()
    sheet = reading.read_csv(data, "units.csv")
    assert [number for number, _ in sheet.rows] == [3, 5]


def test_xlsx_sheets_keep_typed_cells_and_skip_blank_rows():
    _, data = xlsx("org.xlsx", {"Cán bộ": [["Mã cán bộ", "Từ ngày"], [None, None],
                                           [("42", "@"), datetime(2026, 1, 5)]]})
    [sheet] = reading.read_xlsx(data)
    assert (sheet.name, sheet.headers) == ("Cán bộ", ["Mã cán bộ", "Từ ngày"])
    [(number, cells)] = sheet.rows
    assert number == 3 and cells[0].value == "42" and cells[1].value == datetime(2026, 1, 5)


# --- good files apply ----------------------------------------------------------------------

def test_org_csv_files_apply_with_references_in_any_order(empty):
    report = run(empty, "org", *map(fixture, ORG_FILES))
    assert report.ok and report.applied, report.rejected
    assert report.by_table == {t: {"create": n, "update": 0, "unchanged": 0}
                               for t, n in (("units", 3), ("officers", 3), ("counters", 2))}
    units = {u["id"]: u for u in empty.db["units"].rows}
    assert units["cn"] == {"id": "cn", "name": "UBND phường Cửa Nam", "parent_id": "hn",
                           "kind": "ward", "head_id": "CN-0001", "outstanding": 1}
    assert units["cn-1c"]["head_id"] == "CN-0002"  # a head defined in the officers file
    officer = directory.org_record(empty.db, "officers", "CN-0003")
    assert officer == {"id": "CN-0003", "name": "Lê Thị Mai", "title": "Chuyên viên",
                       "unit_id": "cn-1c", "leader_id": "CN-0002", "photo": None,
                       "active_from": "2026-03-01", "active_to": None, "post_group": None}
    assert directory.org_record(empty.db, "counters", "cn-q2")["label"] == "Quầy 2"
    [entry] = audit.recent(empty.db, None)
    assert (entry.actor, entry.action, entry.subject, entry.at) == (
        "test", "import.org", f"import:{report.sha256[:12]}", T)
    after = entry.after_value
    assert after["files"] == report.files and after["created"] == 8
    assert after["created_ids"]["officers"] == ["CN-0003", "CN-0002", "CN-0001"]
    assert audit.verify(empty.db).ok


def test_org_xlsx_with_vietnamese_sheets_and_headers_applies(empty):
    source = xlsx("to-chuc.xlsx", {
        "Đơn vị": [["MÃ ĐƠN VỊ", "Tên đơn vị", "Đơn vị cấp trên", "Loại", "Thủ trưởng",
                    "Xuất sắc"],
                   ["hn", "UBND Thành phố Hà Nội", None, "Thành phố", None, None],
                   ["cn", "UBND phường Cửa Nam", "hn", "Phường", ("7", "@"), True]],
        "Cán bộ": [["Mã cán bộ", "ho va ten", "Chức danh", "Đơn vị", "Lãnh đạo trực tiếp",
                    "Ảnh", "Từ ngày", "Đến ngày"],
                   [(42, "0000"), "Lê Thị Mai", "Chuyên viên", "cn", "7", "anh/0042.jpg",
                    datetime(2026, 3, 1), None],
                   [("7", "@"), "Nguyễn Thị Lan", "Chủ tịch", "cn", None, None, "01/07/2025",
                    "31/12/2030"]],
        "Quầy": [["Mã quầy", "Tên quầy", "Đơn vị"], ["cn-q1", 1, "cn"]]})
    report = run(empty, "org", source)
    assert report.ok and report.applied, report.rejected
    assert report.rows_read == 5 and report.would_create == 5
    assert directory.org_record(empty.db, "officers", "0042") == {
        "id": "0042", "name": "Lê Thị Mai", "title": "Chuyên viên", "unit_id": "cn",
        "leader_id": "7", "photo": "anh/0042.jpg", "active_from": "2026-03-01",
        "active_to": None, "post_group": None}
    assert directory.org_record(empty.db, "units", "cn") == {
        "id": "cn", "name": "UBND phường Cửa Nam", "parent_id": "hn", "kind": "ward",
        "head_id": "7", "outstanding": True}
    assert directory.org_record(empty.db, "counters", "cn-q1")["label"] == "1"


def test_tasks_csv_applies_with_progress_in_each_tasks_history(store):
    report = run(store, "tasks", fixture("tasks.csv"))
    assert report.ok and report.applied and report.would_create == 3, report.rejected
    rows = list(store.db.query("SELECT id, officer_id, title, assigned_by, period, deadline, "
                               "weight, progress, completed_on FROM tasks ORDER BY id"))
    first = rows[0]["id"]
    assert [{k: v for k, v in r.items() if k != "id"} for r in rows] == [
        {"officer_id": "HK-0001", "title": "Thẩm định 40 hồ sơ đất đai",
         "assigned_by": "HK-0002", "period": "month", "deadline": "2026-03-31", "weight": 2.5,
         "progress": 60, "completed_on": None},
        {"officer_id": "HK-0001", "title": "Báo cáo tuần 1", "assigned_by": "HK-0002",
         "period": "week", "deadline": "2026-03-06", "weight": 1.0, "progress": 100,
         "completed_on": "2026-03-05"},
        {"officer_id": "HK-0003", "title": "Tiếp nhận hồ sơ hộ tịch",
         "assigned_by": "HK-0002", "period": "month", "deadline": "2026-03-31", "weight": 1.0,
         "progress": 0, "completed_on": None}]
    updates = list(store.db.query("SELECT task_id, actor, progress FROM task_updates"))
    assert updates == [{"task_id": first, "actor": "test", "progress": 60},
                       {"task_id": first + 1, "actor": "test", "progress": 100}]
    entries = [e for e in audit.recent(store.db, None) if e.action == "import.tasks"]
    assert len(entries) == 1 and entries[0].after_value["task_ids"] == [first, first + 2]


def test_tasks_xlsx_with_one_sheet_of_any_name(store):
    report = run(store, "tasks", xlsx("ke-hoach.xlsx", {"Tháng 3": [
        ["Cán bộ", "Đầu việc", "Người giao việc", "Kỳ kế hoạch", "Hạn hoàn thành",
         "Tiến độ (%)"],
        ["HK-0001", "Trả kết quả", "HK-0002", "tháng", datetime(2026, 3, 31), (0.25, "0%")]]}))
    assert report.ok and report.applied, report.rejected
    assert store.db.execute("SELECT progress, deadline FROM tasks").fetchall() == [
        (25, "2026-03-31")]


# --- bad rows: each reported where it is, and nothing changes ---------------------------------

UNITS = "id,name,parent,kind,head,outstanding"
OFFICERS = "id,name,title,unit,leader,active from"

BAD_ORG = {
    "repeated id names the first row": (
        [csv_file("units.csv", UNITS, "hn,Hà Nội,,city,,", "hn,Hà Nội 2,,city,,")],
        [("units.csv", 3, "id")], "already appears in row 2"),
    "unknown parent": (
        [csv_file("units.csv", UNITS, "cn,Cửa Nam,xx,ward,,")],
        [("units.csv", 2, "parent")], "no parent unit 'xx'"),
    "parents that loop": (
        [csv_file("units.csv", UNITS, "a,A,b,,,", "b,B,a,,,")],
        [("units.csv", 2, "parent"), ("units.csv", 3, "parent")], "cannot loop"),
    "unknown kind of unit": (
        [csv_file("units.csv", UNITS, "hn,Hà Nội,,galaxy,,")],
        [("units.csv", 2, "kind")], "must be one of"),
    "outstanding neither yes nor no": (
        [csv_file("units.csv", UNITS, "hn,Hà Nội,,city,,maybe")],
        [("units.csv", 2, "outstanding")], "expected yes/no"),
    "head who is nobody": (
        [csv_file("units.csv", UNITS, "hn,Hà Nội,,city,NOBODY,")],
        [("units.csv", 2, "head")], "no officer 'NOBODY'"),
    "empty name": (
        [csv_file("units.csv", UNITS, "hn, ,,city,,")],
        [("units.csv", 2, "name")], "must not be empty"),
    "id with spaces and diacritics": (
        [csv_file("units.csv", UNITS, "hà nội,Hà Nội,,city,,")],
        [("units.csv", 2, "id")], "bad id"),
    "officer of an unknown unit, another leading themself": (
        [csv_file("units.csv", UNITS, "hn,Hà Nội,,city,,"),
         csv_file("officers.csv", OFFICERS, "X-1,An,CV,zz,,", "X-2,Bình,CV,hn,X-2,")],
        [("officers.csv", 2, "unit"), ("officers.csv", 3, "leader")], "no unit 'zz'"),
    "leaders that loop": (
        [csv_file("units.csv", UNITS, "hn,Hà Nội,,city,,"),
         csv_file("officers.csv", OFFICERS, "X-1,An,CV,hn,X-2,", "X-2,Bình,CV,hn,X-1,")],
        [("officers.csv", 2, "leader"), ("officers.csv", 3, "leader")], "cannot loop"),
    "impossible date": (
        [csv_file("units.csv", UNITS, "hn,Hà Nội,,city,,"),
         csv_file("officers.csv", OFFICERS, "X-1,An,CV,hn,,31/02/2026")],
        [("officers.csv", 2, "active from")], "invalid date '31/02/2026'"),
    "counter of an unknown unit": (
        [csv_file("counters.csv", "id,label,unit", "q1,Quầy 1,zz")],
        [("counters.csv", 2, "unit")], "no unit 'zz'"),
    "code typed as a decimal number": (
        [xlsx("org.xlsx", {"units": [["id", "name"], [12.5, "Mười hai rưỡi"]]})],
        [("units", 2, "id")], "format the column as Text"),
    "a bad unit row refused once, not again where officers name it": (
        [csv_file("units.csv", UNITS, "hn,Hà Nội,,city,,maybe"),
         csv_file("officers.csv", OFFICERS, "X-1,An,CV,hn,,")],
        [("units.csv", 2, "outstanding")], "expected yes/no"),
    "one error per bad cell of a row": (
        [csv_file("units.csv", UNITS, "hn,,,city,,maybe")],
        [("units.csv", 2, "name"), ("units.csv", 2, "outstanding")], "must not be empty"),
    # The structure of the file: reported once, rows not checked.
    "unknown column": (
        [csv_file("units.csv", "id,name,email", "hn,Hà Nội,a@b.vn")],
        [("units.csv", 1, "email")], "Unknown columns: email"),
    "missing required columns, one error": (
        [csv_file("officers.csv", "Mã cán bộ,Họ và tên", "X-1,An")],
        [("officers.csv", 1, None)],
        "Missing required columns: title / Chức danh, unit / Đơn vị"),
    "two columns for one field": (
        [csv_file("units.csv", "id,Mã đơn vị,name", "hn,hn,Hà Nội")],
        [("units.csv", 1, "Mã đơn vị")], "Two columns are id / Mã đơn vị"),
    "data under an empty header": (
        [csv_file("units.csv", "id,name,", "hn,Hà Nội,?")],
        [("units.csv", 1, None)], "Column C has data but no header"),
    "data beyond the last header": (
        [xlsx("org.xlsx", {"units": [["id", "name"], ["hn", "Hà Nội", None, "ghi chú"]]})],
        [("units", 1, None)], "Column D has data but no header"),
    "two sheets of one table": (
        [xlsx("org.xlsx", {"units": [["id", "name"], ["a", "A"]],
                           "Đơn vị": [["id", "name"], ["b", "B"]]})],
        [("Đơn vị", None, None)], "Two units / Đơn vị tables: 'units' and 'Đơn vị'"),
    "a sheet nobody would read": (
        [xlsx("org.xlsx", {"Đơn vị": [["id", "name"], ["hn", "Hà Nội"]],
                           "Sheet1": [["id", "name"], ["x", "X"]]})],
        [("Sheet1", None, None)], "Cannot tell what 'Sheet1' holds"),
    "a CSV whose name and headers say nothing": (
        [csv_file("data.csv", "id,name,title", "x,X,Y")],
        [("data.csv", None, None)], "Cannot tell what 'data.csv' holds"),
    "not UTF-8": (
        [("units.csv", "id,name\nhn,Hà Nam\n".encode("cp1258"))],
        [("units.csv", None, None)], "not UTF-8"),
    "old binary Excel": (
        [("org.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100))],
        [("org.xls", None, None)], ".xls"),
    "damaged XLSX": (
        [("org.xlsx", b"PK\x03\x04 not really a zip")],
        [("org.xlsx", None, None)], "Cannot read the XLSX file"),
}


@pytest.mark.parametrize("sources, expected, words", BAD_ORG.values(), ids=BAD_ORG.keys())
def test_bad_org_rows_are_reported_and_change_nothing(empty, sources, expected, words):
    upsert_unit(empty.db, "keep", "Đơn vị có sẵn")
    before = dump(empty)
    report = run(empty, "org", *sources)
    assert where(report) == expected
    assert words in report.rejected[0].en and report.rejected[0].vi
    assert not report.ok and not report.applied
    assert dump(empty) == before


BAD_TASKS = {
    "unknown officer": ("HK-9999;Việc;HK-0002;tháng;31/03/2026;;;", "Mã cán bộ",
                        "no officer 'HK-9999'"),
    "unknown assigner": ("HK-0001;Việc;HK-9999;tháng;31/03/2026;;;", "Người giao",
                         "no officer 'HK-9999'"),
    "bad period": ("HK-0001;Việc;HK-0002;năm;31/03/2026;;;", "Kỳ", "week or month"),
    "no deadline": ("HK-0001;Việc;HK-0002;tháng;;;;", "Thời hạn", "must not be empty"),
    "year out of range": ("HK-0001;Việc;HK-0002;tháng;31/03/1999;;;", "Thời hạn",
                          "the year must be"),
    "weight zero": ("HK-0001;Việc;HK-0002;tháng;31/03/2026;0;;", "Trọng số",
                    "must be a number above 0"),
    "progress over 100": ("HK-0001;Việc;HK-0002;tháng;31/03/2026;;150;", "Tiến độ",
                          "from 0 to 100"),
    "completed after today": ("HK-0001;Việc;HK-0002;tháng;31/03/2026;;;11/04/2026",
                              "Ngày hoàn thành", "cannot be after today"),
    "completed below 100 %": ("HK-0001;Việc;HK-0002;tháng;31/03/2026;;50;01/04/2026",
                              "Tiến độ", "a completed task is at 100 %"),
    "control character in the title": ("HK-0001;Việc\x07;HK-0002;tháng;31/03/2026;;;",
                                        "Nhiệm vụ", "U+0007"),
    "title too long": ("HK-0001;" + "x" * 201 + ";HK-0002;tháng;31/03/2026;;;", "Nhiệm vụ",
                       "at most 200 characters"),
}
TASKS = "Mã cán bộ;Nhiệm vụ;Người giao;Kỳ;Thời hạn;Trọng số;Tiến độ;Ngày hoàn thành"


@pytest.mark.parametrize("line, column, words", BAD_TASKS.values(), ids=BAD_TASKS.keys())
def test_bad_task_rows_are_reported_and_change_nothing(store, line, column, words):
    before = dump(store)
    good = "HK-0001;Việc tốt;HK-0002;tháng;31/03/2026;;;"
    report = run(store, "tasks", csv_file("tasks.csv", TASKS, good, line))
    assert where(report) == [("tasks.csv", 3, column)]
    assert words in report.rejected[0].en and report.rejected[0].vi
    assert report.would_create == 1 and not report.applied
    assert dump(store) == before


def test_a_repeated_task_is_refused_in_the_file_and_against_the_database(store):
    line = "HK-0001;Báo cáo;HK-0002;tháng;31/03/2026;;;"
    report = run(store, "tasks", csv_file("tasks.csv", TASKS, line, "HK-0002;Khác;HK-0001;"
                                          "tuần;06/03/2026;;;", line))
    assert where(report) == [("tasks.csv", 4, "Nhiệm vụ")]
    assert "already appears in row 2" in report.rejected[0].en
    assert run(store, "tasks", fixture("tasks.csv")).applied
    before = dump(store)
    again = run(store, "tasks", fixture("tasks.csv"))
    assert where(again) == [("tasks.csv", n, "Nhiệm vụ") for n in (2, 3, 4)]
    assert "already exists" in again.rejected[0].en
    assert dump(store) == before


def test_too_many_rows_is_one_clear_error(empty, monkeypatch):
    monkeypatch.setattr(reading, "MAX_ROWS", 2)
    report = run(empty, "org", csv_file("units.csv", UNITS, "a,A,,,,", "b,B,,,,", "c,C,,,,"))
    assert where(report) == [("units.csv", None, None)]
    assert "more than 2 data rows" in report.rejected[0].en


def test_a_file_over_the_size_limit_is_refused_unread(empty):
    report = run(empty, "org", ("units.csv", b"id,name\n" + b"x" * reading.MAX_BYTES))
    assert "larger than 10 MB" in report.rejected[0].en


# --- all or nothing ------------------------------------------------------------------------

def test_a_crash_halfway_rolls_everything_back(empty, monkeypatch):
    assert run(empty, "org", csv_file("units.csv", "id,name", "old,Old")).applied
    before = dump(empty)
    calls = []
    original = applying.upsert_officer

    def crash_on_second(db, *args, **kwargs):
        calls.append(args[0])
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return original(db, *args, **kwargs)

    monkeypatch.setattr(applying, "upsert_officer", crash_on_second)
    with pytest.raises(RuntimeError, match="disk full"):
        run(empty, "org", *map(fixture, ORG_FILES))
    assert len(calls) == 2  # units and one officer were written before the crash
    assert dump(empty) == before
    monkeypatch.undo()
    assert run(empty, "org", *map(fixture, ORG_FILES)).applied  # nothing left locked


def test_a_dry_run_reports_and_writes_nothing(empty):
    before = dump(empty)
    report = run(empty, "org", *map(fixture, ORG_FILES), dry_run=True)
    assert report.ok and report.dry_run and not report.applied
    assert (report.rows_read, report.would_create, report.would_update) == (8, 8, 0)
    assert dump(empty) == before


def test_importing_the_same_file_again_changes_nothing_and_is_not_audited(empty):
    assert run(empty, "org", *map(fixture, ORG_FILES)).applied
    before = dump(empty)
    again = run(empty, "org", *map(fixture, ORG_FILES))
    assert again.ok and again.applied
    assert (again.would_create, again.would_update, again.unchanged) == (0, 0, 8)
    assert dump(empty) == before  # no row rewritten, no audit entry


def test_an_update_sets_only_the_columns_the_file_has(empty):
    assert run(empty, "org", *map(fixture, ORG_FILES)).applied
    # No leader, photo or date columns: those stay; the title changes; head cleared by an
    # empty cell in a column the file has.
    report = run(empty, "org",
                 csv_file("officers.csv", "id,name,title,unit",
                          "CN-0003,Lê Thị Mai,Chuyên viên chính,cn-1c"),
                 csv_file("units.csv", "id,name,head", "cn-1c,Bộ phận Một cửa phường Cửa Nam,"))
    assert report.ok and (report.would_update, report.unchanged) == (2, 0), report.rejected
    assert directory.org_record(empty.db, "officers", "CN-0003") == {
        "id": "CN-0003", "name": "Lê Thị Mai", "title": "Chuyên viên chính",
        "unit_id": "cn-1c", "leader_id": "CN-0002", "photo": None,
        "active_from": "2026-03-01", "active_to": None, "post_group": None}
    unit = directory.org_record(empty.db, "units", "cn-1c")
    assert (unit["parent_id"], unit["kind"], unit["head_id"]) == ("cn", "office", None)
    entry = audit.recent(empty.db, 1)[0]
    assert entry.before_value == {"officers": {"CN-0003": {"title": "Chuyên viên"}},
                                  "units": {"cn-1c": {"head_id": "CN-0002"}}}
    assert entry.after_value["updated_fields"] == {
        "officers": {"CN-0003": {"title": "Chuyên viên chính"}},
        "units": {"cn-1c": {"head_id": None}}}


def test_a_unit_can_move_under_a_unit_the_same_file_creates(empty):
    assert run(empty, "org", *map(fixture, ORG_FILES)).applied
    report = run(empty, "org", csv_file("units.csv", "id,name,parent",
                                        "cn,UBND phường Cửa Nam,kv",
                                        "kv,Khu vực trung tâm,hn"))
    assert report.applied and (report.would_create, report.would_update) == (1, 1)
    assert directory.org_record(empty.db, "units", "cn")["parent_id"] == "kv"


# --- command line --------------------------------------------------------------------------

def cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="hailong")
    add_import_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.handler(args)


@pytest.mark.parametrize("position, letter", [(0, "A"), (2, "C"), (25, "Z"), (26, "AA"),
                                              (701, "ZZ"), (702, "AAA")])
def test_columns_are_named_by_letter(position, letter):
    assert reading.column_letter(position) == letter


def test_cli_imports_reports_and_exits_by_outcome(tmp_path, capsys):
    db = tmp_path / "new.db"
    files = [str(FIXTURES / name) for name in ORG_FILES]
    assert cli("import", "org", *files, "--db", str(db), "--dry-run") == 0
    assert "dry run" in capsys.readouterr().out and not db.exists()
    assert cli("import", "org", *files, "--db", str(db)) == 0
    out = capsys.readouterr().out
    assert "create: 8" in out and "imported" in out
    assert cli("import", "org", *files, "--db", str(db)) == 0
    assert "nothing to change" in capsys.readouterr().out

    bad = tmp_path / "officers.csv"
    bad.write_text("id,name,title,unit\nX-1,An,CV,zz\n", encoding="utf-8")
    assert cli("import", "org", str(bad), "--db", str(db)) == 1
    out = capsys.readouterr().out
    assert "không tìm thấy đơn vị 'zz'" in out and "no unit 'zz'" in out
    assert "REJECTED: 1 problems, nothing written" in out
    assert cli("import", "org", str(bad), "--db", str(db), "--format", "json") == 1
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False and data["rejected"][0]["row"] == 2


def test_cli_usage_errors(tmp_path):
    from collector.cli.common import UsageError
    with pytest.raises(UsageError, match="cannot read"):
        cli("import", "org", str(tmp_path / "missing.csv"), "--db", str(tmp_path / "x.db"))
    with pytest.raises(UsageError, match="no database"):
        cli("import", "tasks", str(FIXTURES / "tasks.csv"), "--db", str(tmp_path / "x.db"))
    assert not (tmp_path / "x.db").exists()


def test_a_task_into_a_decided_month_is_refused_as_the_service_refuses_it(store):
    """The head's decision froze the month's evidence (issue 10): an import may no more add to
    it than an officer may."""
    store.db.execute("INSERT INTO evaluations (officer_id, month, final_grade, decided_by, "
                     "decided_at, updated_at) VALUES ('HK-0001', '2026-03', 'B', 'HK-0002', ?, ?)",
                     [T, T])
    store.db.conn.commit()
    before = dump(store)
    report = run(store, "tasks", csv_file("tasks.csv", TASKS,
                                          "HK-0001;Báo cáo;HK-0002;tháng;31/03/2026;;;",
                                          "HK-0002;Khác;HK-0001;tuần;06/03/2026;;;"))
    assert where(report) == [("tasks.csv", 2, "Thời hạn")]
    assert "decided by the head and locked" in report.rejected[0].en
    assert report.rejected[0].vi and not report.applied
    assert dump(store) == before
