"""XLSX of a unit's month and year, read back with openpyxl."""

from __future__ import annotations

import io
from datetime import date, datetime

import openpyxl
import pytest

from collector.evaluation import year as annual, export_xlsx, month as monthly
from collector.evaluation.policy import load_preset
import test_monthly
from test_monthly import MONTH, NOW, REVIEW, TODAY, at, evaluate

writable = test_monthly.writable  # the shared fixture

DECREE = load_preset("decree-335")


@pytest.fixture
def month_report(writable):
    evaluate(writable, "HK-A", self_scores={**REVIEW, "task_results": 60},
             self_at=at(2, 9, month=4), review_scores=REVIEW, proposed_grade="HTTNV",
             reviewed_by="HK-L", reviewed_at=at(4, 9, month=4), final_grade="HTTNV",
             final_score=79.54, decided_by="HK-H", decided_at=at(6, 15, 30, month=4))
    return monthly.unit_month(writable.db, "hk-1c", MONTH, DECREE, now_ms=NOW, today=TODAY)


def cells_by_header(sheet, header_row: int) -> dict[str, int]:
    return {sheet.cell(row=header_row, column=c).value: c
            for c in range(1, sheet.max_column + 1)}


def test_month_sheet_reads_back(month_report, tmp_path):
    path = tmp_path / "thang.xlsx"
    export_xlsx.unit_month_xlsx(month_report, path)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Tháng 2026-03"]
    sheet = book["Tháng 2026-03"]
    assert sheet["A1"].value == "ĐÁNH GIÁ, XẾP LOẠI HẰNG THÁNG – THÁNG 03/2026"
    assert "Bộ phận Một cửa phường Hoàn Kiếm" in sheet["A2"].value
    assert "Nghị định 335/2025/NĐ-CP" in sheet["A3"].value
    assert sheet["A4"].value.startswith("Lập lúc: 10/04/2026 09:00")
    header = 6  # after four title lines and a blank row; English below it
    columns = cells_by_header(sheet, header)
    assert sheet.cell(row=header + 1, column=columns["Mã cán bộ"]).value == "Code"
    assert sheet.freeze_panes == "D8"

    rows = {sheet.cell(row=r, column=columns["Mã cán bộ"]).value: r
            for r in range(header + 2, header + 2 + len(month_report["officers"]))}
    assert set(rows) == {"HK-A", "HK-B", "HK-C", "HK-D", "HK-F"}
    r = rows["HK-A"]

    def value(name):
        return sheet.cell(row=r, column=columns[name]).value

    assert value("Họ và tên") == "Nguyễn Thị Thu Hường"
    assert (value("Số lượt đánh giá"), value("Chỉ số hài lòng (0–100)"),
            value("Tỷ lệ hài lòng")) == (40, 86.7, 0.9)
    assert value("Khoảng tin cậy 95 %") == "77,0 – 96,0 %"
    assert value("Đủ dữ liệu đánh giá") == "Có / yes"
    assert value("Thời gian thiết bị trực tuyến khi trực") == 0.75
    assert [value(n) for n in ("Nhiệm vụ đăng ký", "Đúng hạn", "Trễ hạn", "Quá hạn",
                               "Chậm do nguyên nhân khách quan")] == [4, 1, 2, 1, 1]
    assert (value("Điểm gợi ý"), value("Xếp loại gợi ý")) == (79.54, "Hoàn thành tốt nhiệm vụ")
    assert value("Điểm tự đánh giá") == 85.5  # 7 + 7.5 + 6 + 5 + 60
    assert value("Lãnh đạo đề xuất xếp loại") == "Hoàn thành tốt nhiệm vụ"
    assert value("Thủ trưởng quyết định xếp loại") == "Hoàn thành tốt nhiệm vụ"
    assert value("Người quyết định") == "Ngô Văn Hùng"
    assert value("Thời điểm quyết định") == datetime(2026, 4, 6, 15, 30)  # local time
    number_formats = {name: sheet.cell(row=r, column=columns[name]).number_format
                      for name in ("Tỷ lệ hài lòng", "Điểm gợi ý", "Thời điểm quyết định")}
    assert number_formats == {"Tỷ lệ hài lòng": "0.0%", "Điểm gợi ý": "0.00",
                              "Thời điểm quyết định": "dd/mm/yyyy hh:mm"}
    d = rows["HK-D"]
    assert sheet.cell(row=d, column=columns["Đủ dữ liệu đánh giá"]).value.startswith("Chưa đủ")
    assert sheet.column_dimensions["C"].width == 26

    # The quota lines and the progress at the bottom.
    last_officer = max(rows.values())
    bottom = [sheet.cell(row=row, column=1).value
              for row in range(last_officer + 1, sheet.max_row + 1)]
    bottom = [text for text in bottom if text]
    assert bottom[0] == ("Tỷ lệ xếp loại (theo quyết định, chưa quyết định thì theo đề xuất): "
                         f"{month_report['quota']['vi']}")
    assert bottom[1].startswith("Quota (decided, else proposed): ")
    assert bottom[4].startswith("Tiến độ: 5 cán bộ; chưa tự đánh giá 4")


def test_several_root_units_get_a_sheet_each(month_report):
    other = {**month_report, "unit": {**month_report["unit"], "id": "bd"}}
    stream = io.BytesIO()
    export_xlsx.unit_month_xlsx([month_report, other], stream)
    book = openpyxl.load_workbook(io.BytesIO(stream.getvalue()))
    assert book.sheetnames == ["Tháng 2026-03 hk-1c", "Tháng 2026-03 bd"]


def test_year_sheet_reads_back(writable, tmp_path):
    for month, score in (("2026-01", 92), ("2026-03", 80)):
        evaluate(writable, "HK-A", month, final_grade="HTTNV", final_score=score,
                 decided_by="HK-H", decided_at=at(5, 9, month=int(month[5:]) + 1))
    report = annual.unit_year(writable.db, "hk-1c", 2026, DECREE, today=date(2026, 4, 10))
    path = tmp_path / "nam.xlsx"
    export_xlsx.annual_xlsx(report, path)
    sheet = openpyxl.load_workbook(path)["Năm 2026"]
    assert sheet["A1"].value == "TỔNG HỢP KẾT QUẢ ĐÁNH GIÁ, XẾP LOẠI NĂM 2026"
    columns = cells_by_header(sheet, 6)
    row = next(r for r in range(8, sheet.max_row + 1)
               if sheet.cell(row=r, column=columns["Mã cán bộ"]).value == "HK-A")

    def value(name):
        return sheet.cell(row=row, column=columns[name]).value

    assert (value("T1"), value("T2"), value("T3"), value("T4")) == (92, None, 80, None)
    # (92 + 80) / 2 = 86 → good; February is missing.
    assert (value("Số tháng được tính"), value("Tháng chưa có quyết định"),
            value("Điểm bình quân"), value("Xếp loại năm")) == (
        2, "02/2026", 86, "Hoàn thành tốt nhiệm vụ")


FORMULAS = ["=cmd|' /C calc'!A0", '=HYPERLINK("x")', "=1+2"]


def every_cell(book):
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            yield from row


def test_text_that_looks_like_a_formula_is_written_as_text(month_report, writable, tmp_path):
    """Reviewer item 5: an officer named "=cmd|' /C calc'!A0" became a formula cell (DDE)."""
    officers = [{**officer, "name": name, "title": name}
                for officer, name in zip(month_report["officers"], FORMULAS)]
    report = {**month_report, "officers": officers,
              "unit": {**month_report["unit"], "name": "=1+2"}}
    path = tmp_path / "thang.xlsx"
    export_xlsx.unit_month_xlsx(report, path)
    sheet = openpyxl.load_workbook(path).active
    columns = cells_by_header(sheet, 6)
    names = [sheet.cell(row=r, column=columns["Họ và tên"]) for r in range(8, 11)]
    assert [(c.value, c.data_type) for c in names] == [(f, "s") for f in FORMULAS]
    assert sheet["A2"].value == "Đơn vị: =1+2 (hk-1c)"
    year = annual.unit_year(writable.db, "hk-1c", 2026, DECREE, today=date(2026, 4, 10))
    year["officers"][0]["officer"]["name"] = FORMULAS[0]
    year_path = tmp_path / "nam.xlsx"
    export_xlsx.annual_xlsx(year, year_path)
    year_book = openpyxl.load_workbook(year_path)
    name = year_book.active.cell(row=8, column=cells_by_header(year_book.active, 6)["Họ và tên"])
    assert (name.value, name.data_type) == (FORMULAS[0], "s")
    for book in (openpyxl.load_workbook(path), year_book):
        cells = list(every_cell(book))
        assert not [c.coordinate for c in cells if c.data_type == "f"]
        assert all(c.data_type == "s" for c in cells if isinstance(c.value, str))


def test_a_stored_control_character_cannot_stop_a_unit_s_files(writable, tmp_path):
    """Issue 10: one BEL in an officer's title (accepted before texts.py refused it) made every
    monthly and yearly XLSX of the unit and the units above it fail (IllegalCharacterError)."""
    with writable.db.conn:
        writable.db.execute("UPDATE officers SET title = ? WHERE id = 'HK-A'",
                            ["Chuyên\x07viên\x00"])
        writable.db.execute("UPDATE units SET name = ? WHERE id = 'hk-1c'",
                            ["Một cửa\x1b[31m\ufffe"])
    month = monthly.unit_month(writable.db, "hk-1c", MONTH, DECREE, now_ms=NOW, today=TODAY)
    export_xlsx.unit_month_xlsx(month, tmp_path / "thang.xlsx")
    year = annual.unit_year(writable.db, "hk-1c", 2026, DECREE, today=date(2026, 4, 10))
    export_xlsx.annual_xlsx(year, tmp_path / "nam.xlsx")
    for name in ("thang.xlsx", "nam.xlsx"):
        sheet = openpyxl.load_workbook(tmp_path / name).active
        texts = [c.value for c in every_cell(sheet.parent) if isinstance(c.value, str)]
        assert "Chuyên\ufffdviên\ufffd" in texts
        assert any("Một cửa\ufffd[31m\ufffd" in t for t in texts)


@pytest.mark.parametrize("text, shown", [
    ("a\x00b\x08c", "a\ufffdb\ufffdc"), ("tab\tline\nreturn\r", "tab\tline\nreturn\r"),
    ("x\ud800\uffff", "x\ufffd\ufffd"), ("Nguyễn Văn A", "Nguyễn Văn A"),
])
def test_cell_text_keeps_what_xml_can_carry(text, shown):
    assert export_xlsx.cell_text(text) == shown
