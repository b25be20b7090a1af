"""Reading an import file: CSV or XLSX bytes → sheets of typed cells, and the report.

Pure: bytes in, `Sheet`s and `Rejection`s out; nothing here touches the database (checking
the rows against the database is `checking`, writing them `applying`). The file
formats are documented in docs/import.md; the one table of accepted headers is `COLUMNS`.

- Headers are matched case- and diacritics-insensitively ("Mã cán bộ" = "ma can bo" = "MÃ
  CÁN BỘ"), in English or Vietnamese; a header this table does not know is an error naming it,
  never a column silently dropped.
- CSV: UTF-8 with or without the BOM Excel writes, `,`, `;` (Excel in a Vietnamese locale,
  where the comma is the decimal separator) or tab, chosen from the header line.
- XLSX: cells keep their type (number, date, bool) so that each column's converter can tell
  what Excel meant: a date stays a date, and a code typed as a number is read as Excel shows
  it, not as the float it is stored as.
- Row numbers are the ones the user sees: header row 1, data from row 2. Blank rows are
  skipped (they carry nothing); at most MAX_ROWS data rows per file.
"""

from __future__ import annotations

import csv
import hashlib
import io
import unicodedata
import zipfile
from dataclasses import asdict, dataclass, field
from typing import Any
from collector.core.errors import BilingualError

MAX_BYTES = 10 * 1024 * 1024  # an upload or file larger than this is refused unread
MAX_ROWS = 100_000  # data rows per file, all sheets together
# A 10 MB XLSX can unpack to far more; refuse zip bombs before openpyxl inflates them.
MAX_UNZIPPED = 200 * 1024 * 1024

# Field types, each with its converter in `checking`: code (an id or a reference to one),
# text, date, bool, number (weight), percent (progress), period (week/month).
# kind → field → (type, required column, English headers, Vietnamese headers). Field names
# are the database's columns; the first header of each language is the one docs/import.md and
# the messages use. Within a kind no two fields may share a header (tests/test_import.py).
COLUMNS: dict[str, dict[str, tuple[str, bool, tuple[str, ...], tuple[str, ...]]]] = {
    "units": {
        "id": ("code", True, ("id", "code", "unit id"), ("Mã đơn vị", "Mã")),
        "name": ("text", True, ("name", "unit name"), ("Tên đơn vị", "Tên")),
        "parent_id": ("code", False, ("parent", "parent id"),
                      ("Đơn vị cấp trên", "Mã đơn vị cấp trên", "Cấp trên")),
        "kind": ("text", False, ("kind", "type"), ("Loại đơn vị", "Loại")),
        "head_id": ("code", False, ("head", "head id"),
                    ("Thủ trưởng", "Mã thủ trưởng", "Người đứng đầu")),
        "outstanding": ("bool", False, ("outstanding",),
                        ("Đơn vị xuất sắc", "Xuất sắc", "Tập thể xuất sắc")),
    },
    "officers": {
        "id": ("code", True, ("id", "code", "officer id"), ("Mã cán bộ", "Mã CB", "Mã")),
        "name": ("text", True, ("name", "full name"), ("Họ và tên", "Họ tên", "Tên")),
        "title": ("text", True, ("title", "position"), ("Chức danh", "Chức vụ")),
        "unit_id": ("code", True, ("unit", "unit id"), ("Đơn vị", "Mã đơn vị")),
        "leader_id": ("code", False, ("leader", "leader id"),
                      ("Lãnh đạo trực tiếp", "Mã lãnh đạo trực tiếp", "Lãnh đạo",
                       "Mã lãnh đạo")),
        "photo": ("text", False, ("photo",), ("Ảnh", "Ảnh chân dung")),
        "active_from": ("date", False, ("active from",),
                        ("Từ ngày", "Ngày bắt đầu", "Ngày bắt đầu công tác")),
        "active_to": ("date", False, ("active to",),
                      ("Đến ngày", "Ngày kết thúc", "Ngày thôi công tác")),
        "post_group": ("text", False, ("post group",), ("Nhóm vị trí việc làm", "Nhóm vị trí")),
    },
    "counters": {
        "id": ("code", True, ("id", "code", "counter id"), ("Mã quầy", "Mã")),
        "label": ("text", True, ("label", "name"), ("Tên quầy", "Quầy", "Nhãn", "Tên")),
        "unit_id": ("code", True, ("unit", "unit id"), ("Đơn vị", "Mã đơn vị")),
    },
    "tasks": {
        "officer_id": ("code", True, ("officer", "officer id"),
                       ("Mã cán bộ", "Cán bộ")),
        "title": ("text", True, ("title", "task"),
                  ("Nhiệm vụ", "Tên nhiệm vụ", "Đầu việc", "Nội dung")),
        "assigned_by": ("code", True, ("assigned by",),
                        ("Người giao", "Người giao việc", "Mã người giao", "Lãnh đạo giao")),
        "period": ("period", True, ("period",), ("Kỳ", "Kỳ kế hoạch", "Kế hoạch")),
        "deadline": ("date", True, ("deadline",),
                     ("Thời hạn", "Hạn", "Thời hạn cam kết", "Hạn hoàn thành")),
        "weight": ("number", False, ("weight",),
                   ("Trọng số", "Số sản phẩm quy đổi", "Sản phẩm quy đổi")),
        "progress": ("percent", False, ("progress",), ("Tiến độ",)),
        "completed_on": ("date", False, ("completed on", "completed"),
                         ("Ngày hoàn thành",)),
    },
}

# Sheet (or CSV file) names of an organisation import; the first is the canonical one.
SHEETS = {
    "units": ("units", "Đơn vị", "unit"),
    "officers": ("officers", "Cán bộ", "officer"),
    "counters": ("counters", "Quầy", "counter"),
    "tasks": ("tasks", "Nhiệm vụ", "task", "Đầu việc"),
}
ORG_SHEETS = ("units", "officers", "counters")


def fold(text: str) -> str:
    """Case- and diacritics-insensitive key: 'Mã  Cán-bộ (%)' → 'ma can bo'."""
    text = unicodedata.normalize("NFD", str(text).replace("đ", "d").replace("Đ", "D"))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    return " ".join("".join(ch if ch.isalnum() else " " for ch in text).split())


HEADER_INDEX = {kind: {fold(name): field for field, (_, _, en, vi) in columns.items()
                       for name in en + vi} for kind, columns in COLUMNS.items()}
SHEET_INDEX = {fold(name): kind for kind, names in SHEETS.items() for name in names}


def column_label(kind: str, field_name: str) -> str:
    """'deadline / Thời hạn': how messages name a column."""
    _, _, en, vi = COLUMNS[kind][field_name]
    return f"{en[0]} / {vi[0]}"


# --- the report --------------------------------------------------------------------------

@dataclass
class Rejection:
    """Why one row (or, with row None or 1, the whole file or a sheet) cannot be imported."""
    vi: str
    en: str
    sheet: str | None = None  # the worksheet, or the CSV file's name
    row: int | None = None  # as the user sees it: header 1, data from 2
    column: str | None = None  # the header as written in the file
    value: str | None = None  # the cell as read, as text


@dataclass
class ImportReport:
    """What an import read, what it would do (or did), and every row it refused."""
    kind: str
    file_name: str
    sha256: str  # the file's; for several files, of their "sha256  name" lines
    files: list[dict[str, str]] = field(default_factory=list)  # [{name, sha256}]
    rows_read: int = 0
    would_create: int = 0
    would_update: int = 0
    unchanged: int = 0
    by_table: dict[str, dict[str, int]] = field(default_factory=dict)
    rejected: list[Rejection] = field(default_factory=list)
    dry_run: bool = True
    applied: bool = False  # True once the rows are committed (or there was nothing to write)

    @property
    def ok(self) -> bool:
        return not self.rejected

    def reject(self, vi: str, en: str, **where: Any) -> None:
        self.rejected.append(Rejection(vi, en, **where))

    def count(self, table: str, action: str) -> None:
        """One checked row of `table` that would be "create"d, "update"d or left "unchanged"."""
        counts = self.by_table.setdefault(table, {"create": 0, "update": 0, "unchanged": 0})
        counts[action] += 1
        if action == "create":
            self.would_create += 1
        elif action == "update":
            self.would_update += 1
        else:
            self.unchanged += 1

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data


def new_report(kind: str, sources: list[tuple[str, bytes]], *, dry_run: bool) -> ImportReport:
    """The empty report of importing `sources` ([(file name, bytes)])."""
    files = [{"name": name, "sha256": hashlib.sha256(data).hexdigest()}
             for name, data in sources]
    if len(files) == 1:
        digest = files[0]["sha256"]
    else:  # the same lines `sha256sum` prints, so the figure can be checked by hand
        lines = "".join(f"{f['sha256']}  {f['name']}\n" for f in files)
        digest = hashlib.sha256(lines.encode("utf-8")).hexdigest()
    return ImportReport(kind=kind, file_name=", ".join(f["name"] for f in files), sha256=digest,
                        files=files, dry_run=dry_run)


# --- sheets ------------------------------------------------------------------------------

@dataclass
class Cell:
    """A cell as read: text from a CSV; the typed value and number format from XLSX."""
    value: Any
    number_format: str | None = None


@dataclass
class Sheet:
    """One table of the file: a CSV file or an XLSX worksheet, its header row apart."""
    name: str  # the worksheet's name, or the CSV file's name
    kind: str | None  # units, officers, counters or tasks; None until recognised
    headers: list[str]
    rows: list[tuple[int, list[Cell]]]  # (row number as the user sees it, cells)
    columns: dict[int, str] = field(default_factory=dict)  # position → field, once mapped

    def header_of(self, field_name: str) -> str:
        """The header the file gave `field_name`, as written."""
        for position, name in self.columns.items():
            if name == field_name:
                return clean_header(self.headers[position])
        return field_name


class FileError(BilingualError):
    """The file as a whole cannot be read; vi and en say why."""


def too_many_rows() -> FileError:
    return FileError(f"Tệp có quá {MAX_ROWS} dòng dữ liệu; hãy chia thành nhiều tệp",
                     f"The file has more than {MAX_ROWS} data rows; split it into several files")


def clean_header(text: Any) -> str:
    return "" if text is None else unicodedata.normalize("NFC", str(text).strip())


def is_xlsx(data: bytes) -> bool:
    return data[:4] == b"PK\x03\x04"  # a zip archive, which is what an XLSX file is


def _blank(cells: list[Cell]) -> bool:
    return all(c.value is None or (isinstance(c.value, str) and not c.value.strip())
               for c in cells)


def read_csv(data: bytes, name: str, budget: int = MAX_ROWS) -> Sheet:
    """One CSV file as a sheet of text cells (its kind not yet known); FileError."""
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":  # OLE2: the old binary Excel format
        raise FileError("Không đọc được tệp Excel 97-2003 (.xls); hãy lưu thành .xlsx hoặc "
                        "CSV UTF-8", "Excel 97-2003 files (.xls) cannot be read; save as "
                        ".xlsx or CSV UTF-8")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise FileError(f"Tệp CSV không ở mã UTF-8 (byte {error.start}); trong Excel hãy chọn "
                        "Lưu thành → 'CSV UTF-8 (Comma delimited)'",
                        f"The CSV file is not UTF-8 (byte {error.start}); in Excel choose "
                        "Save As → 'CSV UTF-8 (Comma delimited)'") from None
    first_line = text.split("\n", 1)[0]
    # The header names the columns, so the delimiter that splits it into most fields is the
    # file's; csv.Sniffer also weighs data rows and is fooled by Vietnamese decimal commas.
    delimiter = max((",", ";", "\t"),
                    key=lambda d: len(next(csv.reader([first_line], delimiter=d), [])))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[int, list[Cell]]] = []
    try:
        headers = next(reader, [])
        # Rows are numbered by record as a spreadsheet shows them, not by line: a quoted cell
        # spanning lines is still one row there. Blank rows keep their numbers.
        for number, values in enumerate(reader, start=2):
            cells = [Cell(value) for value in values]
            if _blank(cells):
                continue
            if len(rows) >= budget:
                raise too_many_rows()
            rows.append((number, cells))
    except csv.Error as error:
        raise FileError(f"Tệp CSV hỏng ở dòng {reader.line_num}: {error}",
                        f"Malformed CSV at line {reader.line_num}: {error}") from None
    return Sheet(name=name, kind=None, headers=[clean_header(h) for h in headers], rows=rows)


def read_xlsx(data: bytes, budget: int = MAX_ROWS) -> list[Sheet]:
    """Every worksheet of an XLSX workbook, cells typed as openpyxl reads them; FileError."""
    import openpyxl  # here, not at the top: reading a CSV does not need it
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
        if unpacked > MAX_UNZIPPED:
            raise FileError("Tệp XLSX giải nén ra quá lớn", "The XLSX file unpacks too large")
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except FileError:
        raise
    except Exception as error:  # a damaged file raises many types (zip, XML, KeyError)
        raise FileError(f"Không đọc được tệp XLSX: {error}",
                        f"Cannot read the XLSX file: {error}") from None
    sheets = []
    try:
        for worksheet in workbook.worksheets:
            rows_iter = worksheet.iter_rows()
            headers = [clean_header(c.value) for c in next(rows_iter, ())]
            rows = []
            for number, row in enumerate(rows_iter, start=2):
                cells = [Cell(c.value, getattr(c, "number_format", None)) for c in row]
                if _blank(cells):
                    continue
                if budget == 0:
                    raise too_many_rows()
                budget -= 1
                rows.append((number, cells))
            while headers and not headers[-1]:
                headers.pop()  # formatting alone makes trailing empty header cells
            sheets.append(Sheet(name=worksheet.title, kind=None, headers=headers, rows=rows))
    finally:
        workbook.close()
    return sheets


def read_file(name: str, data: bytes, budget: int = MAX_ROWS) -> list[Sheet]:
    """The sheets of one file, XLSX or CSV told apart by content, not by name; FileError."""
    if len(data) > MAX_BYTES:
        raise FileError(f"Tệp lớn hơn {MAX_BYTES // 2**20} MB",
                        f"The file is larger than {MAX_BYTES // 2**20} MB")
    if not data.strip():
        raise FileError("Tệp rỗng", "The file is empty")
    if is_xlsx(data):
        return read_xlsx(data, budget)
    return [read_csv(data, name, budget)]


# --- which table, which columns ------------------------------------------------------------

def _stem(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[0] if "." in base else base


def _headers_fit(kind: str, headers: list[str]) -> bool:
    index = HEADER_INDEX[kind]
    fields = {index.get(fold(h)) for h in headers if h}
    required = {f for f, spec in COLUMNS[kind].items() if spec[1]}
    return None not in fields and required <= fields


def classify(kind: str, sheets: list[Sheet], *, csv_file: bool, report: ImportReport) -> None:
    """Say which table each sheet holds: by its name (a CSV: its file name), else by headers.

    An org workbook names its sheets units/officers/counters (or Đơn vị/Cán bộ/Quầy) and any
    other sheet is an error, so data in a sheet nobody reads is never silently left out. A CSV
    whose name says nothing is recognised by its headers; a tasks file may have one sheet of
    any name.
    """
    wanted = ORG_SHEETS if kind == "org" else ("tasks",)
    for sheet in sheets:
        found = SHEET_INDEX.get(fold(_stem(sheet.name) if csv_file else sheet.name))
        if found in wanted:
            sheet.kind = found
        elif csv_file or (kind == "tasks" and len(sheets) == 1):
            fitting = [k for k in wanted if _headers_fit(k, sheet.headers)]
            if len(fitting) == 1 or kind == "tasks":
                sheet.kind = fitting[0] if fitting else "tasks"
    names = ", ".join(f"{SHEETS[k][0]} / {SHEETS[k][1]}" for k in wanted)
    seen: dict[str, str] = {}
    for sheet in sheets:
        if sheet.kind is None:
            report.reject(f"Không rõ bảng '{sheet.name}' chứa gì; tên bảng phải là một trong: "
                          f"{names}", f"Cannot tell what '{sheet.name}' holds; name it one of: "
                          f"{names}", sheet=sheet.name)
        elif sheet.kind in seen:
            table = f"{SHEETS[sheet.kind][0]} / {SHEETS[sheet.kind][1]}"
            report.reject(f"Có hai bảng {table}: '{seen[sheet.kind]}' và '{sheet.name}'",
                          f"Two {table} tables: '{seen[sheet.kind]}' and '{sheet.name}'",
                          sheet=sheet.name)
        else:
            seen[sheet.kind] = sheet.name


def column_letter(position: int) -> str:
    """0 → 'A', 26 → 'AA': how a spreadsheet names the column at `position`."""
    letters = ""
    position += 1
    while position:
        position, rest = divmod(position - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def map_columns(sheet: Sheet, report: ImportReport) -> bool:
    """Fill `sheet.columns` (position → field) from the header row; False (with rejections)
    when a header is unknown or repeated, a required column is missing, or data has no
    header."""
    assert sheet.kind is not None
    index, columns = HEADER_INDEX[sheet.kind], COLUMNS[sheet.kind]
    before = len(report.rejected)
    unknown: list[str] = []
    first: dict[str, str] = {}
    headed = {position for position, header in enumerate(sheet.headers) if header}
    stray = sorted({position for _, cells in sheet.rows for position, cell in enumerate(cells)
                    if position not in headed and not _blank([cell])})
    if stray:
        letters = ", ".join(column_letter(position) for position in stray)
        report.reject(f"Cột {letters} có dữ liệu nhưng không có tiêu đề ở dòng 1",
                      f"Column {letters} has data but no header in row 1",
                      sheet=sheet.name, row=1)
    for position, header in enumerate(sheet.headers):
        if not header:
            continue
        found = index.get(fold(header))
        if found is None:
            unknown.append(header)
        elif found in first:
            report.reject(f"Hai cột cùng là {column_label(sheet.kind, found)}: "
                          f"'{first[found]}' và '{header}'",
                          f"Two columns are {column_label(sheet.kind, found)}: "
                          f"'{first[found]}' and '{header}'",
                          sheet=sheet.name, row=1, column=header)
        else:
            first[found] = header
            sheet.columns[position] = found
    if unknown:
        accepted = "; ".join(column_label(sheet.kind, f) for f in columns)
        report.reject(f"Cột không nhận ra: {', '.join(unknown)}. Các cột dùng được: {accepted}",
                      f"Unknown columns: {', '.join(unknown)}. Columns accepted: {accepted}",
                      sheet=sheet.name, row=1, column=", ".join(unknown))
    missing = [column_label(sheet.kind, f) for f, spec in columns.items()
               if spec[1] and f not in first]
    if missing:
        report.reject(f"Thiếu cột bắt buộc: {', '.join(missing)}",
                      f"Missing required columns: {', '.join(missing)}", sheet=sheet.name, row=1)
    return len(report.rejected) == before


def read_sources(kind: str, sources: list[tuple[str, bytes]],
                 report: ImportReport) -> list[Sheet]:
    """The sheets of every file, recognised and with their columns mapped.

    Any problem with the structure (an unreadable file, an unknown sheet or column, a missing
    column) goes to the report and the result is empty: the rows are checked only once the
    structure is right, so the user is not buried in errors one fix would clear.
    """
    if kind not in ("org", "tasks"):
        raise ValueError(f"unknown import kind {kind!r}")
    sheets: list[Sheet] = []
    budget = MAX_ROWS
    for name, data in sources:
        try:
            found = read_file(name, data, budget)
        except FileError as error:
            report.reject(error.vi, error.en, sheet=name)
            continue
        budget -= sum(len(sheet.rows) for sheet in found)
        if budget < 0:
            limit = too_many_rows()
            report.reject(limit.vi, limit.en, sheet=name)
            continue
        classify(kind, found, csv_file=not is_xlsx(data), report=report)
        sheets.extend(found)
    report.rows_read = sum(len(sheet.rows) for sheet in sheets)
    if not sheets and not report.rejected:
        report.reject("Không có tệp nào", "No file given")
    for sheet in sheets:
        if sheet.kind is not None:
            map_columns(sheet, report)
    return [] if report.rejected else sheets
