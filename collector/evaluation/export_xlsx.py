"""XLSX files of a unit's month and year, in the shape an office files (issue 5, item 6).

Display only: every figure comes from `month.unit_month` or `year.unit_year` (the API's
JSON), nothing is computed here but presentation (labels, local times, number formats).
Vietnamese first: the header row is Vietnamese with the English in the row below it. Numbers
are written as numbers with Excel formats, so the office's Excel shows them in its own locale
(`1.234,5` in a Vietnamese one) and they stay sortable and summable. Text is written as text,
never as a formula, whatever it starts with (`_put`), and a character XML cannot carry (a
control character stored before the API refused them) is shown as U+FFFD instead of failing
the whole file (`cell_text`).
"""

from __future__ import annotations

import re
from copy import copy
from datetime import datetime
from typing import IO, Any, Iterable

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.cell.cell import Cell
from openpyxl.worksheet.worksheet import Worksheet

from collector.core.periods import MONTH, QUARTER, parse_period, periods_of_year
from collector.core.timeline import local_datetime

# What an XLSX cell cannot hold: XML 1.0 has no C0 controls but tab, line feed and carriage
# return, no surrogates and no U+FFFE/U+FFFF. openpyxl raises IllegalCharacterError on the
# first, and writes a file Excel calls corrupt with the others.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
REPLACEMENT = "\ufffd"

TITLE_FONT = Font(bold=True, size=14)
HEADER_FONT = Font(bold=True)
EN_FONT = Font(italic=True, color="5B6675", size=9)
HEADER_FILL = PatternFill("solid", fgColor="E8EDF3")
THIN = Side(style="thin", color="D9DEE5")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
DATE_FORMAT = "dd/mm/yyyy hh:mm"

# (Vietnamese header, English header, width, number format or None, value of a row)
MONTH_COLUMNS: list[tuple[str, str, float, str | None, Any]] = [
    ("STT", "No.", 5, "0", None),  # filled with the row's number
    ("Mã cán bộ", "Code", 11, None, lambda r: r["officer_id"]),
    ("Họ và tên", "Name", 26, None, lambda r: r["name"]),
    ("Chức danh", "Title", 16, None, lambda r: r["title"]),
    ("Đơn vị", "Unit", 28, None, lambda r: r["unit_name"]),
    ("Số lượt đánh giá", "Ratings counted", 10, "#,##0", lambda r: r["satisfaction"]["ratings"]),
    ("Chỉ số hài lòng (0–100)", "Satisfaction index", 10, "0.0",
     lambda r: r["satisfaction"]["index"]),
    ("Tỷ lệ hài lòng", "Share satisfied", 10, "0.0%",
     lambda r: r["satisfaction"]["share_satisfied"]),
    ("Khoảng tin cậy 95 %", "95% interval", 15, None,
     lambda r: _interval(r["satisfaction"]["share_interval"])),
    ("Đủ dữ liệu đánh giá", "Sufficient evidence", 12, None, lambda r: _sufficient(r)),
    ("Thời gian thiết bị trực tuyến khi trực", "Coverage (device online on duty)", 12, "0.0%",
     lambda r: r["coverage"]["share"]),
    ("Nhiệm vụ đăng ký", "Tasks registered", 10, "0", lambda r: r["tasks"]["registered"]),
    ("Đúng hạn", "On time", 8, "0", lambda r: r["tasks"]["on_time"]),
    ("Trễ hạn", "Late", 8, "0", lambda r: r["tasks"]["late"]),
    ("Quá hạn", "Overdue", 8, "0", lambda r: r["tasks"]["overdue"]),
    ("Chậm do nguyên nhân khách quan", "Excused", 11, "0", lambda r: r["tasks"]["excused"]),
    ("Điểm gợi ý", "Suggested score", 9, "0.00", lambda r: r["suggested_score"]),
    ("Xếp loại gợi ý", "Suggested grade", 24, None, lambda r: grade_text(r["suggested_grade"])),
    ("Điểm tự đánh giá", "Self-evaluation total", 10, "0.00", lambda r: r["self_total"]),
    ("Lãnh đạo đề xuất xếp loại", "Leader's proposed grade", 24, None,
     lambda r: grade_text(r["proposed_grade"])),
    ("Thủ trưởng quyết định xếp loại", "Head's final grade", 24, None,
     lambda r: grade_text(r["final_grade"])),
    ("Điểm quyết định", "Final score", 9, "0.00", lambda r: r["final_score"]),
    ("Người quyết định", "Decided by", 22, None, lambda r: r["decided_by_name"] or r["decided_by"]),
    ("Thời điểm quyết định", "Decided at (UTC+7)", 16, DATE_FORMAT,
     lambda r: excel_time(r["decided_at"])),
    # What reads differently now from the decided month's frozen evidence (issue 12).
    ("Chứng cứ đã thay đổi sau khi quyết định", "Evidence changed after the decision", 40,
     None, lambda r: "; ".join(line["vi"] for line in r.get("evidence_changes") or []) or None),
]
FROZEN_COLUMNS = 3  # number and name stay in view while scrolling right


def cell_text(text: str) -> str:
    """`text` with each character an XLSX cannot hold replaced by U+FFFD: visible, so the
    reader knows the stored text differs, and one bad name cannot stop a unit's report."""
    return _NOT_XML.sub(REPLACEMENT, text)


def _put(sheet: Worksheet, row: int, column: int, value: Any) -> Cell:
    """Write one cell. Text is always text: openpyxl would store a string starting with "="
    as a formula, and a name such as "=cmd|' /C calc'!A0" or "=HYPERLINK(…)" typed into the
    organisation would then run in the office's Excel (formula injection)."""
    if isinstance(value, str):
        value = cell_text(value)
    cell = sheet.cell(row=row, column=column, value=value)
    if isinstance(value, str):
        cell.data_type = "s"
    return cell


def grade_text(grade: dict[str, Any] | None) -> str | None:
    if not grade:
        return None
    return f"{grade['vi']} ({grade['letter']})" if grade.get("letter") else grade["vi"]


def excel_time(unix_ms: int | None) -> datetime | None:
    """Local (UTC+7) wall time without a zone: Excel has no time zones."""
    return None if unix_ms is None else local_datetime(unix_ms).replace(tzinfo=None)


def _sufficient(row: dict[str, Any]) -> str:
    """Enough ratings, too few, or too few because the officer's own counter was offline
    (issue 12: missing data, not bad data)."""
    if row["satisfaction"]["sufficient"]:
        return "Có / yes"
    if row.get("insufficient_reason") == "offline":
        return ("Chưa đủ dữ liệu do thiết bị mất kết nối / insufficient: the counter's device "
                "was offline")
    return "Chưa đủ dữ liệu / insufficient"


def _interval(interval) -> str | None:
    if not interval:
        return None
    low, high = (f"{100 * x:.1f}".replace(".", ",") for x in interval)
    return f"{low} – {high} %"


def _vi_month(month: str) -> str:
    """'03/2026' for a month, 'Quý I/2026' for a quarter (a quarterly policy's period)."""
    period = parse_period(month)
    return period.label("vi") if period.kind == QUARTER else f"{month[5:]}/{month[:4]}"


def _period_titles(month: str) -> tuple[str, str, str]:
    """(Vietnamese heading, English heading, sheet name) of a month's or a quarter's report.
    A sheet name cannot hold "/", so a quarter's reads "Quý I năm 2026"."""
    period = parse_period(month)
    if period.kind == QUARTER:
        roman = period.label("vi").split()[1].split("/")[0]
        return (f"ĐÁNH GIÁ, XẾP LOẠI HẰNG QUÝ – QUÝ {roman}/{period.year}",
                f"Quarterly evaluation – {period.label('en')}",
                f"Quý {roman} năm {period.year}")
    return (f"ĐÁNH GIÁ, XẾP LOẠI HẰNG THÁNG – THÁNG {_vi_month(month)}",
            f"Monthly evaluation – {month}", f"Tháng {month}")


def _title_block(sheet: Worksheet, lines: list[tuple[str, str]]) -> int:
    """Write (Vietnamese, English) lines from row 1, the first as the title; return the next
    free row after one blank row."""
    for i, (vi, en) in enumerate(lines, start=1):
        _put(sheet, i, 1, vi).font = TITLE_FONT if i == 1 else HEADER_FONT
        _put(sheet, i, FROZEN_COLUMNS + 3, en).font = EN_FONT
    return len(lines) + 2


def _header(sheet: Worksheet, row: int, columns: Iterable[tuple]) -> None:
    for col, (vi, en, width, *_rest) in enumerate(columns, start=1):
        for r, text, font in ((row, vi, HEADER_FONT), (row + 1, en, EN_FONT)):
            cell = _put(sheet, r, col, text)
            cell.font, cell.fill, cell.border = font, HEADER_FILL, BOX
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        sheet.column_dimensions[get_column_letter(col)].width = width


def _row(sheet: Worksheet, row: int, values: list, formats: list,
         styles: dict[tuple, Any] | None = None) -> None:
    """One row of a table. `styles` (one per workbook) keeps the style each column's cells
    end up with, by column and kind of value, and gives later rows a copy of it: openpyxl
    hashes every style object anew on each assignment, which was most of the time of a
    unit's file (issue 13)."""
    for col, (value, number_format) in enumerate(zip(values, formats), start=1):
        cell = _put(sheet, row, col, value)
        key = (col, number_format, type(value))
        if styles is not None and key in styles:
            cell._style = copy(styles[key])
            continue
        cell.border = BOX
        if number_format:
            cell.number_format = number_format
        if styles is not None:
            styles[key] = copy(cell._style)


def _generated(unix_ms: int | None) -> tuple[str, str]:
    when = excel_time(unix_ms)
    text = when.strftime("%d/%m/%Y %H:%M") if when else ""
    return f"Lập lúc: {text} (giờ Việt Nam)", f"Generated at {text} (UTC+7)"


def _month_sheet(workbook: Workbook, report: dict[str, Any], title: str) -> Worksheet:
    sheet = workbook.create_sheet(title)
    unit, policy = report["unit"], report["policy"]
    heading_vi, heading_en, _name = _period_titles(report["month"])
    top = _title_block(sheet, [
        (heading_vi, heading_en),
        (f"Đơn vị: {unit['name']} ({unit['id']})", f"Unit: {unit['name']}"),
        (f"Chính sách chấm điểm: {policy['title_vi']}", f"Scoring policy: {policy['title_en']}"),
        _generated(report.get("generated_at")),
    ])
    _header(sheet, top, MONTH_COLUMNS)
    formats = [column[3] for column in MONTH_COLUMNS]
    styles: dict[tuple, Any] = {}
    row = top + 2
    for number, officer in enumerate(report["officers"], start=1):
        values = [number] + [column[4](officer) for column in MONTH_COLUMNS[1:]]
        _row(sheet, row, values, formats, styles)
        row += 1
    sheet.freeze_panes = sheet.cell(row=top + 2, column=FROZEN_COLUMNS + 1)
    row = _quota_lines(sheet, row + 1, report)
    progress = report["progress"]
    _put(sheet, row, 1, (
        f"Tiến độ: {progress['officers']} cán bộ; chưa tự đánh giá {progress['pending']}, "
        f"đã tự đánh giá {progress['self']}, lãnh đạo đã đánh giá {progress['reviewed']}, "
        f"thủ trưởng đã quyết định {progress['decided']}"))
    _put(sheet, row + 1, 1, (
        f"Progress: {progress['officers']} officers; pending {progress['pending']}, "
        f"self-evaluated {progress['self']}, reviewed {progress['reviewed']}, "
        f"decided {progress['decided']}")).font = EN_FONT
    changed = report.get("evidence_changed")
    if changed:  # decided months whose evidence reads differently now (issue 12)
        _put(sheet, row + 2, 1, f"Chứng cứ đã thay đổi sau khi quyết định: {changed} cán bộ"
             ).font = Font(bold=True, color="B3261E")
        _put(sheet, row + 3, 1, f"Evidence changed after the decision: {changed} "
             f"officer{'' if changed == 1 else 's'}").font = EN_FONT
    return sheet


def _quota_font(quota: dict[str, Any]) -> Font:
    return Font(bold=True, color="B3261E" if quota["exceeded"] else "1B2330")


def _quota_lines(sheet: Worksheet, row: int, report: dict[str, Any]) -> int:
    """The quota under the table; the next free row. With one group of similar posts the
    unit's line; with several one line per group (Decree 335/2025 counts the cap within each
    group), the default group named ("Cả đơn vị"), then the decisions' headline line."""
    standing = ("Tỷ lệ xếp loại (theo quyết định, chưa quyết định thì theo đề xuất)",
                "Quota (decided, else proposed)")
    groups = report.get("quotas") or []
    if len(groups) > 1:
        _put(sheet, row, 1, f"{standing[0]}, theo nhóm vị trí việc làm tương đồng:").font = \
            HEADER_FONT
        _put(sheet, row + 1, 1, f"{standing[1]}, per group of similar posts:").font = EN_FONT
        row += 2
        for quota in groups:
            vi, en = quota["vi"], quota["en"]
            if quota["post_group"] is None:  # a named group's text names it already
                vi, en = f"{quota['label_vi']}: {vi}", f"{quota['label_en']}: {en}"
            _put(sheet, row, 1, vi).font = _quota_font(quota)
            _put(sheet, row + 1, 1, en).font = EN_FONT
            row += 2
        lines = [("quota_final", "Tỷ lệ xếp loại (theo quyết định)", "Quota (decisions)")]
    else:
        lines = [("quota", *standing),
                 ("quota_final", "Tỷ lệ xếp loại (theo quyết định)", "Quota (decisions)")]
    for key, vi_label, en_label in lines:
        quota = report[key]
        _put(sheet, row, 1, f"{vi_label}: {quota['vi']}").font = _quota_font(quota)
        _put(sheet, row + 1, 1, f"{en_label}: {quota['en']}").font = EN_FONT
        row += 2
    return row


def unit_month_xlsx(report: dict[str, Any] | list[dict[str, Any]],
                    path_or_stream: str | IO[bytes]) -> None:
    """Write a unit's month (`month.unit_month`) as sheet "Tháng YYYY-MM" (a quarter's as
    "Quý I năm 2026"); given a list of such reports (several root units), one sheet each,
    named with the unit's id."""
    reports = report if isinstance(report, list) else [report]
    workbook = Workbook()
    workbook.remove(workbook.active)
    for one in reports:
        title = _period_titles(one["month"])[2]
        if len(reports) > 1:
            title = f"{title} {one['unit']['id']}"[:31]  # Excel's limit on sheet names
        _month_sheet(workbook, one, title)
    workbook.save(path_or_stream)


def annual_xlsx(report: dict[str, Any] | list[dict[str, Any]],
                path_or_stream: str | IO[bytes]) -> None:
    """Write a unit's year (`year.unit_year`) as sheet "Năm YYYY": monthly final scores,
    months counted and missing, average and grade; a list gives one sheet per unit."""
    reports = report if isinstance(report, list) else [report]
    workbook = Workbook()
    workbook.remove(workbook.active)
    for one in reports:
        title = f"Năm {one['year']}"
        if len(reports) > 1:
            title = f"{title} {one['unit']['id']}"[:31]
        _year_sheet(workbook, one, title)
    workbook.save(path_or_stream)


def _year_sheet(workbook: Workbook, report: dict[str, Any], title: str) -> Worksheet:
    sheet = workbook.create_sheet(title)
    year, unit, policy = report["year"], report["unit"], report["policy"]
    # A quarterly policy's year averages its quarters: one column per quarter, not per month.
    quarterly = policy.get("period") == QUARTER
    unit_vi, unit_en = ("quý", "quarter") if quarterly else ("tháng", "month")
    top = _title_block(sheet, [
        (f"TỔNG HỢP KẾT QUẢ ĐÁNH GIÁ, XẾP LOẠI NĂM {year}", f"Annual roll-up {year}"),
        (f"Đơn vị: {unit['name']} ({unit['id']})", f"Unit: {unit['name']}"),
        (f"Chính sách chấm điểm: {policy['title_vi']}", f"Scoring policy: {policy['title_en']}"),
        (f"Điểm năm = bình quân điểm các {unit_vi} đã được thủ trưởng quyết định",
         f"Year score = average of the {unit_en}ly scores the head decided"),
    ])
    periods = periods_of_year(year, QUARTER if quarterly else MONTH)
    months = [period.key for period in periods]
    columns = [("STT", "No.", 5, "0"), ("Mã cán bộ", "Code", 11, None),
               ("Họ và tên", "Name", 26, None), ("Chức danh", "Title", 16, None),
               ("Đơn vị", "Unit", 28, None)]
    columns += [(period.label("vi").split("/")[0] if quarterly else f"T{period.number}",
                 period.key, 7, "0.00") for period in periods]
    columns += [(f"Số {unit_vi} được tính", f"{unit_en.capitalize()}s counted", 9, "0"),
                (f"{unit_vi.capitalize()} chưa có quyết định", f"{unit_en.capitalize()}s missing",
                 16, None),
                ("Điểm bình quân", "Average", 9, "0.00"),
                ("Xếp loại theo điểm", "Grade by points", 24, None),
                ("Xếp loại năm", "Year grade (discipline, quota)", 24, None),
                (f"Bị kỷ luật ({unit_vi})", f"Disciplined ({unit_en}s)", 12, None),
                # the pool: deciding unit and group of similar posts (year.year_quota)
                ("Nhóm xét tỷ lệ", "Quota pool", 28, None),
                ("Ghi chú về tỷ lệ", "Quota note", 60, None)]
    _header(sheet, top, columns)
    formats = [column[3] for column in columns]
    styles: dict[tuple, Any] = {}
    row = top + 2
    for number, item in enumerate(report["officers"], start=1):
        officer = item["officer"]
        scores = {cell["month"]: cell["final_score"] for cell in item["months"]}
        values = [number, officer["id"], officer["name"], officer["title"], officer["unit_name"]]
        values += [scores.get(m) for m in months]
        values += [item["months_counted"], ", ".join(_vi_month(m) for m in item["months_missing"]),
                   item["average"], grade_text(item.get("grade_by_points")),
                   grade_text(item["grade"]),
                   ", ".join(_vi_month(m) for m in item["disciplined_months"]) or None,
                   (item.get("quota_pool") or {}).get("label", {}).get("vi")
                   or officer.get("post_group"), _both(item.get("quota_note"))]
        _row(sheet, row, values, formats, styles)
        row += 1
    sheet.freeze_panes = sheet.cell(row=top + 2, column=FROZEN_COLUMNS + 1)
    row += 1
    # The year's quota, one line per pool: deciding unit and group (year.year_quota).
    for quota in report.get("quotas") or []:
        _put(sheet, row, 1, quota["vi"]).font = Font(
            bold=True, color="B3261E" if quota["exceeded"] else "1B2330")
        _put(sheet, row + 1, 1, quota["en"]).font = EN_FONT
        row += 2
    return sheet


def _both(text: dict[str, str] | None) -> str | None:
    """A {vi, en} line in one cell, Vietnamese first."""
    return f"{text['vi']} / {text['en']}" if text else None
