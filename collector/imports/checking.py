"""Checking an import: cells → values, rows → records checked against the database, a plan.

Reads the database, never writes it. Each row is checked with the validators the API uses
(`validation.check_unit/check_officer/check_counter`, the task rules of `tasks`), so a row
the file may import is exactly a record the API would accept. Every refusal goes to the
report with its sheet, row, column and value; the plan is what `applying` writes, all or
nothing.

- Organisation rows are upserts: a stored id is updated, and only in the columns the file
  has (a column the file lacks keeps its stored value; an empty cell in a column the file has
  clears an optional value). A row equal to what is stored is "unchanged" and not written.
- References within the file work in any order (a parent unit or a leader defined further
  down): the validators see the file's records as pending, with their parents and leaders, so
  their loop checks walk through the file as well as the database.
- A repeated id (or, for tasks, the same officer, title and deadline) is refused on its
  second row, naming the first. A task equal to a stored one is refused too: importing the
  same plan twice must not double anyone's work.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, Callable

import sqlite_utils

from collector.org import validation
from collector.org import directory
from collector.evaluation import tasks
from collector.core.errors import BilingualError
from collector.imports.reading import COLUMNS, ImportReport, Sheet, fold
from collector.core.texts import code_points, unsafe_characters

ORG_TABLES = ("units", "officers", "counters")
CHECKS: dict[str, Callable[..., dict[str, Any]]] = {
    "units": validation.check_unit, "officers": validation.check_officer,
    "counters": validation.check_counter}
# A new record's value of an optional column the file does not have.
DEFAULTS: dict[str, dict[str, Any]] = {
    "units": {"parent_id": None, "kind": None, "head_id": None, "outstanding": False},
    "officers": {"leader_id": None, "photo": None, "active_from": None, "active_to": None,
                 "post_group": None},
    "counters": {}}


class CellError(BilingualError):
    """A refusal with its Vietnamese and English reason."""


@dataclass
class Planned:
    """One record the import would write: its final values and, for an update, the stored."""
    table: str
    sheet: str
    row: int
    action: str  # "create", "update" or "unchanged"
    values: dict[str, Any]
    stored: dict[str, Any] | None = None

    def changed(self) -> dict[str, tuple[Any, Any]]:
        """Field → (stored, new) for the fields an update changes."""
        stored = self.stored or {}
        return {k: (stored.get(k), v) for k, v in self.values.items() if stored.get(k) != v}


@dataclass
class ImportPlan:
    kind: str
    records: dict[str, list[Planned]] = field(default_factory=dict)  # table → planned rows

    def of(self, table: str) -> list[Planned]:
        return self.records.get(table, [])


# --- cells -------------------------------------------------------------------------------

def _shown(value: Any) -> str | None:
    """A cell as the report shows it."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _number_text(value: Any, number_format: str | None) -> str:
    """An integer cell of a code column as Excel shows it: General → '42', '0000' → '0042'.

    A code typed into a General column loses its leading zeros in Excel itself; what the
    sheet shows is what is imported, so the user sees the same code they will get. Anything
    else (decimals, dates, other formats) could not be the code they meant.
    """
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    fmt = (number_format or "General").strip()
    if isinstance(value, int) and value >= 0:
        if fmt in ("General", "@", "0"):
            return str(value)
        if re.fullmatch(r"0+", fmt):
            return str(value).zfill(len(fmt))
    raise CellError("mã đang ở dạng số; hãy định dạng cột là Văn bản (Text) rồi gõ lại mã "
                    "(ví dụ 0001)", "the code is stored as a number; format the column as "
                    "Text and type the code again (e.g. 0001)")


_DMY = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})")


def _date(value: Any) -> str:
    if isinstance(value, datetime):
        if value.time() != time(0, 0):
            raise CellError("ô có cả giờ; cần một ngày", "the cell has a time of day; "
                            "expected a date")
        value = value.date()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        match = _DMY.fullmatch(value)
        if match:  # Vietnamese dates are day first: 25/11/2026
            day, month, year = (int(g) for g in match.groups())
            try:
                return date(year, month, day).isoformat()
            except ValueError:
                pass
        elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            try:
                return date.fromisoformat(value).isoformat()  # the year's range: validators
            except ValueError:
                pass
    raise CellError(f"ngày không hợp lệ {_shown(value)!r}; cần dạng 25/11/2026 hoặc "
                    "2026-11-25 (hoặc ô định dạng Ngày)",
                    f"invalid date {_shown(value)!r}; expected 25/11/2026 or 2026-11-25 "
                    "(or a cell formatted as Date)")


_AMBIGUOUS = re.compile(r"[1-9]\d{0,2}[.,]\d{3}")  # 1.000 or 1,000: thousand, or one?


def _number(value: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        text = value.replace(" ", "")
        if _AMBIGUOUS.fullmatch(text):
            raise CellError(f"{value!r} có thể là nghìn hoặc số thập phân; viết không có dấu "
                            "phân cách nghìn (1000) hoặc bớt số 0 (1,5)",
                            f"{value!r} could be a thousand or a decimal; write it without "
                            "thousands separators (1000) or drop trailing zeros (1.5)")
        if re.fullmatch(r"\d+([.,]\d+)?", text):
            return float(text.replace(",", "."))  # decimal comma (Vietnamese) or point
    raise CellError(f"{_shown(value)!r} không phải là số", f"{_shown(value)!r} is not a number")


def _percent(value: Any, number_format: str | None) -> int:
    if isinstance(value, (int, float)) and not isinstance(value, bool) \
            and "%" in (number_format or ""):
        value = value * 100  # a cell formatted as percent holds 0.6 for 60 %
    elif isinstance(value, str):
        value = value.strip().removesuffix("%").strip()
    number = _number(value)
    if abs(number - round(number)) > 1e-9:
        raise CellError("tiến độ phải là số nguyên phần trăm", "progress must be a whole "
                        "percentage")
    return int(round(number))


_PERIODS = {"week": "week", "weekly": "week", "tuan": "week",
            "month": "month", "monthly": "month", "thang": "month"}
# Unit kinds as offices write them → validation.UNIT_KINDS; anything else goes to the
# validator as written, which names the kinds it accepts.
_UNIT_KINDS = {"thanh pho": "city", "tp": "city", "so": "department", "so ban nganh":
               "department", "ban": "department", "phuong": "ward", "xa": "commune",
               "phong": "office", "bo phan": "office", "van phong": "office"}
_FLAGS = {"1": True, "0": False, "true": True, "false": False, "yes": True, "no": False,
          "x": True, "co": True, "khong": False, "dung": True, "sai": False}


def convert(kind: str, field_name: str, value: Any, number_format: str | None = None) -> Any:
    """A cell's value for `field_name`: text NFC and stripped, codes as Excel shows them,
    dates as ISO text, flags as bool; None for an empty cell; CellError."""
    ftype = COLUMNS[kind][field_name][0]
    if isinstance(value, str):
        value = unicodedata.normalize("NFC", value.strip())
        if not value:
            return False if ftype == "bool" else None
        # The API's rule for one-line text (collector/core/texts.py): every column of a file is
        # one line, and a control character would break the unit's XLSX and screens.
        found = unsafe_characters(value)
        if found:
            raise CellError(f"ô có ký tự điều khiển hoặc không hợp lệ {code_points(found)} "
                            "(kể cả xuống dòng trong ô); hãy gõ lại",
                            f"the cell holds a control or invalid character "
                            f"{code_points(found)} (a line break inside a cell counts); "
                            "type it again")
    elif value is None:
        return False if ftype == "bool" else None
    if ftype in ("code", "text") and isinstance(value, (int, float)) \
            and not isinstance(value, bool):
        return _number_text(value, number_format) if ftype == "code" else _shown(value)
    if ftype in ("code", "text"):
        if isinstance(value, (datetime, date)) or isinstance(value, bool):
            raise CellError("cần văn bản", "expected text")
        if kind == "units" and field_name == "kind":
            key = fold(value)
            return _UNIT_KINDS.get(key, key if key in validation.UNIT_KINDS else value)
        return value  # length and alphabet: the validators
    if ftype == "date":
        return _date(value)
    if ftype == "number":
        return _number(value)
    if ftype == "percent":
        return _percent(value, number_format)
    if ftype == "bool":
        if isinstance(value, bool) or value in (0, 1):
            return bool(value)
        if fold(str(value)) in _FLAGS:
            return _FLAGS[fold(str(value))]
        raise CellError("cần có/không (hoặc 1/0, x/để trống)",
                        "expected yes/no (or 1/0, x/empty)")
    assert ftype == "period"
    period = _PERIODS.get(fold(str(value)))
    if period is None:
        raise CellError("kỳ kế hoạch phải là tuần hoặc tháng (week/month)",
                        "the period must be week or month (tuần/tháng)")
    return period


def read_rows(sheet: Sheet, report: ImportReport) -> list[tuple[int, dict[str, Any]]]:
    """(row number, field → value) for each row whose cells all convert; the rest reported."""
    assert sheet.kind is not None
    out = []
    for number, cells in sheet.rows:
        values, bad = {}, False
        for position, field_name in sheet.columns.items():
            cell = cells[position] if position < len(cells) else None
            raw = None if cell is None else cell.value
            try:
                values[field_name] = convert(sheet.kind, field_name, raw,
                                             None if cell is None else cell.number_format)
                if values[field_name] is None and COLUMNS[sheet.kind][field_name][1]:
                    raise CellError("không được để trống", "must not be empty")
            except CellError as error:
                bad = True
                report.reject(error.vi, error.en, sheet=sheet.name, row=number,
                              column=sheet.header_of(field_name), value=_shown(raw))
        if not bad:
            out.append((number, values))
    return out


def _reject_record(report: ImportReport, sheet: Sheet, number: int, values: dict[str, Any],
                   vi: str, en: str) -> None:
    """A validator's refusal; its messages start with the field they are about."""
    field_name = en.split(":", 1)[0]
    if ":" in en and field_name in sheet.columns.values():
        report.reject(vi, en, sheet=sheet.name, row=number, column=sheet.header_of(field_name),
                      value=_shown(values.get(field_name)))
    else:
        report.reject(vi, en, sheet=sheet.name, row=number)


def _first_seen(report: ImportReport, seen: dict[Any, tuple[str, int]], key: Any, sheet: Sheet,
                number: int, what_vi: str, what_en: str, column: str | None,
                value: str | None) -> bool:
    """Record the first row of `key`; refuse a later one naming it. True when new."""
    if key not in seen:
        seen[key] = (sheet.name, number)
        return True
    first_sheet, first_row = seen[key]
    where_vi = f"dòng {first_row}" + (f" bảng {first_sheet}" if first_sheet != sheet.name else "")
    where_en = f"row {first_row}" + (f" of {first_sheet}" if first_sheet != sheet.name else "")
    report.reject(f"{what_vi} đã có ở {where_vi}", f"{what_en} already appears in {where_en}",
                  sheet=sheet.name, row=number, column=column, value=value)
    return False


# --- organisation ------------------------------------------------------------------------

def _ids(sheet: Sheet | None) -> dict[str, None]:
    """Every id a sheet's rows give, readable or not the rest of their cells."""
    if sheet is None:
        return {}
    position = next(p for p, f in sheet.columns.items() if f == "id")
    ids: dict[str, None] = {}
    for _, cells in sheet.rows:
        cell = cells[position] if position < len(cells) else None
        try:
            key = None if cell is None else convert(sheet.kind or "", "id", cell.value,
                                                     cell.number_format)
        except CellError:
            continue
        if isinstance(key, str):
            ids[key] = None
    return ids


def check_org(db: sqlite_utils.Database, sheets: list[Sheet], report: ImportReport) -> ImportPlan:
    """Check the units, officers and counters of an organisation file against `db`."""
    plan = ImportPlan("org")
    by_table = {sheet.kind: sheet for sheet in sheets}
    rows: dict[str, list[tuple[int, dict[str, Any], dict[str, Any] | None]]] = {}
    for table in ORG_TABLES:
        sheet = by_table.get(table)
        if sheet is None:
            continue
        seen: dict[Any, tuple[str, int]] = {}
        rows[table] = []
        for number, values in read_rows(sheet, report):
            key = values.get("id")
            if key is not None and not _first_seen(
                    report, seen, key, sheet, number, f"Mã {key!r}", f"Id {key!r}",
                    sheet.header_of("id"), key):
                continue
            stored = directory.org_record(db, table, key) if isinstance(key, str) else None
            merged = {**DEFAULTS[table], **(stored or {}), **values}
            rows[table].append((number, merged, stored))
    # The file's records as the validators' pending ones: id → parent (units) or leader.
    # A row refused for a bad cell still defines its id, so rows naming it are not refused
    # too: one mistake, one message.
    pending_units = {**_ids(by_table.get("units")),
                     **{m["id"]: m.get("parent_id") for _, m, _ in rows.get("units", [])}}
    pending_officers = {**_ids(by_table.get("officers")),
                        **{m["id"]: m.get("leader_id") for _, m, _ in rows.get("officers", [])}}
    for table, table_rows in rows.items():
        sheet = by_table[table]
        planned = plan.records.setdefault(table, [])
        for number, merged, stored in table_rows:
            try:
                values = CHECKS[table](merged, db, pending_units=pending_units,
                                       pending_officers=pending_officers)
            except validation.OrgError as error:
                _reject_record(report, sheet, number, merged, error.vi, error.en)
                continue
            action = "create" if stored is None else (
                "unchanged" if all(stored.get(k) == v for k, v in values.items())
                else "update")
            planned.append(Planned(table, sheet.name, number, action, values, stored))
            report.count(table, action)
    return plan


# --- tasks -------------------------------------------------------------------------------

def check_tasks(db: sqlite_utils.Database, sheets: list[Sheet], report: ImportReport, *,
                today: date) -> ImportPlan:
    """Check the rows of a tasks file against `db`: every one would be a new task."""
    plan = ImportPlan("tasks")
    planned = plan.records.setdefault("tasks", [])
    officers: dict[str, bool] = {}
    stored: dict[str, set[tuple[str, str]]] = {}  # officer → (title, deadline) of their tasks

    def officer(value: Any, name: str) -> str:
        if value not in officers:
            officers[value] = directory.get_officer(db, value) is not None
        if not officers[value]:
            raise tasks.TaskError(f"{name}: không tìm thấy cán bộ {value!r}",
                                  f"{name}: no officer {value!r}")
        return value

    def exists(officer_id: str, title: str, deadline: str) -> bool:
        # One query per officer of the file, not per row: a plan of 100,000 rows names a few
        # thousand officers at most.
        if officer_id not in stored:
            stored[officer_id] = set(db.execute(
                "SELECT title, deadline FROM tasks WHERE officer_id = ?", [officer_id]))
        return (title, deadline) in stored[officer_id]

    for sheet in sheets:
        seen: dict[Any, tuple[str, int]] = {}
        for number, values in read_rows(sheet, report):
            try:
                row = _check_task(values, officer, today)
            except tasks.TaskError as error:
                _reject_record(report, sheet, number, values, error.vi, error.en)
                continue
            key = (row["officer_id"], row["title"], row["deadline"])
            if not _first_seen(report, seen, key, sheet, number,
                               "Nhiệm vụ cùng cán bộ, tên và thời hạn",
                               "A task with the same officer, title and deadline",
                               sheet.header_of("title"), row["title"]):
                continue
            try:
                tasks.check_not_locked(db, row["officer_id"], row["deadline"][:7])
            except tasks.TaskConflict as locked:
                report.reject(locked.vi, locked.en, sheet=sheet.name, row=number,
                              column=sheet.header_of("deadline"), value=row["deadline"])
                continue
            if exists(*key):
                report.reject("Đã có nhiệm vụ này (cùng cán bộ, tên và thời hạn); nhập lại "
                              "cùng kế hoạch sẽ tạo trùng",
                              "This task already exists (same officer, title and deadline); "
                              "importing the same plan again would duplicate it",
                              sheet=sheet.name, row=number, column=sheet.header_of("title"),
                              value=row["title"])
                continue
            planned.append(Planned("tasks", sheet.name, number, "create", row))
            report.count("tasks", "create")
    return plan


def _check_task(values: dict[str, Any], officer: Callable[[Any, str], str],
                today: date) -> dict[str, Any]:
    """One task row → the values `tasks.add_task` and `update_task` take; TaskError.

    The same rules as TaskService.create and .update: a completion date not after today,
    and a completed task at 100 % (an empty progress becomes 100).
    """
    row: dict[str, Any] = {
        "officer_id": officer(values.get("officer_id"), "officer_id"),
        "title": tasks.clean_text(values.get("title"), "title", tasks.MAX_TITLE),
        "assigned_by": officer(values.get("assigned_by"), "assigned_by")}
    if values.get("period") not in tasks.PERIODS:
        raise tasks.TaskError("period: không được để trống (tuần/tháng)",
                              "period: must not be empty (week/month)")
    row["period"] = values["period"]
    row["deadline"] = tasks.parse_date(values.get("deadline"), "deadline").isoformat()
    weight = values.get("weight")
    row["weight"] = tasks.check_weight(1.0 if weight is None else weight)
    completed_on = values.get("completed_on")
    if completed_on is not None:
        done = tasks.parse_date(completed_on, "completed_on")
        if done > today:
            raise tasks.TaskError("completed_on: ngày hoàn thành không được sau hôm nay",
                                  "completed_on: the completion date cannot be after today")
        completed_on = done.isoformat()
    progress = values.get("progress")
    if progress is None:
        progress = 100 if completed_on else 0
    progress = tasks.check_progress(progress)
    if completed_on is not None and progress != 100:
        raise tasks.TaskError("progress: nhiệm vụ đã hoàn thành có tiến độ 100 %",
                              "progress: a completed task is at 100 %")
    row.update(progress=progress, completed_on=completed_on)
    return row


def check(db: sqlite_utils.Database, kind: str, sheets: list[Sheet], report: ImportReport, *,
          today: date) -> ImportPlan:
    """The plan of an import whose file structure `reading.read_sources` accepted."""
    if kind == "org":
        return check_org(db, sheets, report)
    return check_tasks(db, sheets, report, today=today)

