"""What a unit, officer or counter record may say, and the errors of organisation requests.

Pure of writes: the organisation service (collector/org/organisation.py) and the import
(collector/imports/checking.py) check every record with `check_unit`, `check_officer` and
`check_counter`, so a row that the API refuses is refused by an import too.

- A unit has a parent (none for the root, e.g. the city), a kind (city, department, ward,
  commune, office), a head who decides its grades, and the "outstanding" flag that lifts the
  hanoi-3814 quota from 30 % to 40 %.
- An officer's id is their code; their leader and their unit must exist; active dates are
  local ISO dates, inclusive.
- Neither the unit tree nor leadership may loop: `would_cycle` walks up, stopping at a repeat.

Errors a user can cause raise `OrgError` (a ValueError) with a Vietnamese and an English text;
`OrgNotFound` when the record addressed does not exist, `OrgConflict` when its id is taken.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Callable

import sqlite_utils

from collector.core.errors import BilingualError
from collector.core.texts import checked_text

UNIT_KINDS = ("city", "department", "ward", "commune", "office")
# Ids are typed by people and appear in URLs, files and on the wire (the rating's `officer`
# is at most 32 characters, docs/protocol.md); same alphabet as the registry's entity ids.
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\Z")
MAX_UNIT_ID = MAX_COUNTER_ID = 40
MAX_OFFICER_ID = 32
# Limits of the assignment message the device shows (docs/protocol.md, "assignment").
MAX_UNIT_NAME = 80
MAX_OFFICER_NAME = MAX_OFFICER_TITLE = 60
MAX_COUNTER_LABEL = 40
MAX_PHOTO = 300
# A group of similar posts is named like a post ("Một cửa", "Chuyên viên địa chính"), not
# described: a hundred characters is room enough and still fits a report's line.
MAX_POST_GROUP = 100
FIRST_YEAR, LAST_YEAR = 2000, 2100

UNIT_FIELDS = ("id", "name", "parent_id", "kind", "head_id", "outstanding")
OFFICER_FIELDS = ("id", "name", "title", "unit_id", "leader_id", "photo", "active_from",
                  "active_to", "post_group")
COUNTER_FIELDS = ("id", "label", "unit_id")

# The validators' `pending_units` / `pending_officers`: records a file being imported defines
# earlier, not stored yet. A set of ids, or a mapping id → parent_id (units) / id → leader_id
# (officers), which also lets the cycle checks walk through them.


class OrgError(BilingualError):
    """An organisation request that cannot be done; `vi` and `en` say why."""


class OrgNotFound(OrgError):
    """The unit, officer or counter addressed does not exist."""


class OrgConflict(OrgError):
    """A record with this id already exists."""


def would_cycle(node: str, new_parent: str | None,
                parent_of: Callable[[str], str | None]) -> bool:
    """Would linking `node` under `new_parent` close a loop (node reachable from the parent)?"""
    seen: set[str] = set()
    current = new_parent
    while current is not None and current not in seen:
        if current == node:
            return True
        seen.add(current)
        current = parent_of(current)
    return False


# --- validation (pure of writes; import code reuses it) -------------------------------------

def _text(value: Any, field: str, limit: int, *, required: bool = True) -> str | None:
    return checked_text(value, field, limit, OrgError, required=required)


def check_id(value: Any, field: str, limit: int) -> str:
    if not isinstance(value, str) or not ID_PATTERN.match(value) or len(value) > limit:
        raise OrgError(f"{field}: mã {value!r} không hợp lệ: 1 đến {limit} ký tự gồm chữ "
                       "không dấu, số, '.', '_' và '-', bắt đầu bằng chữ hoặc số",
                       f"{field}: bad id {value!r}: 1 to {limit} characters of letters, "
                       "digits, '.', '_' and '-', starting with a letter or digit")
    return value


def check_date(value: Any, field: str) -> str | None:
    """A local ISO date (YYYY-MM-DD, or a date from a spreadsheet cell) → text; None stays."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        parsed = value
    else:
        try:
            if not isinstance(value, str) or len(value.strip()) != 10:
                raise ValueError
            parsed = date.fromisoformat(value.strip())
        except ValueError:
            raise OrgError(f"{field}: ngày không hợp lệ {value!r}, cần dạng YYYY-MM-DD",
                           f"{field}: invalid date {value!r}, expected YYYY-MM-DD") from None
    if not FIRST_YEAR <= parsed.year <= LAST_YEAR:
        raise OrgError(f"{field}: năm phải từ {FIRST_YEAR} đến {LAST_YEAR}",
                       f"{field}: the year must be {FIRST_YEAR} to {LAST_YEAR}")
    return parsed.isoformat()


def check_flag(value: Any, field: str) -> bool:
    if isinstance(value, bool) or value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _FLAG_WORDS:
        return _FLAG_WORDS[value.strip().lower()]
    raise OrgError(f"{field}: phải là có/không (true/false)", f"{field}: must be true or false")


_FLAG_WORDS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False,
               "có": True, "không": False, "x": True, "": False}


def check_photo(value: Any) -> str | None:
    """An http(s) URL or a relative path under the deployment's photo folder."""
    photo = _text(value, "photo", MAX_PHOTO, required=False)
    if photo is None:
        return None
    lowered = photo.lower()
    if "://" in photo:
        ok = lowered.startswith(("http://", "https://")) and not any(c.isspace() for c in photo)
    else:
        parts = photo.replace("\\", "/").split("/")
        ok = (not photo.startswith(("/", "\\")) and ":" not in photo and ".." not in parts
              and all(parts))
    if not ok:
        raise OrgError("photo: cần địa chỉ http(s):// hoặc đường dẫn tương đối (ví dụ "
                       "anh/HK-0001.jpg), không có '..'",
                       "photo: expected an http(s):// URL or a relative path (e.g. "
                       "photos/HK-0001.jpg) without '..'")
    return photo


def check_post_group(value: Any) -> str | None:
    """An officer's group of similar posts (nhóm vị trí việc làm tương đồng, Decree 335/2025:
    the quota is counted within it): one line of text, trimmed, at most MAX_POST_GROUP
    characters; empty or None is the default group, the head's whole unit."""
    return _text(value, "post_group", MAX_POST_GROUP, required=False)


def _only(fields: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(fields) - set(allowed))
    if unknown:
        raise OrgError(f"Trường không được hỗ trợ: {', '.join(unknown)}; cho phép: "
                       f"{', '.join(allowed)}",
                       f"Unknown fields: {', '.join(unknown)}; allowed: {', '.join(allowed)}")


def _exists(db: sqlite_utils.Database, table: str, key: str, pending: Any) -> bool:
    return key in pending or db.execute(f"SELECT 1 FROM [{table}] WHERE id = ?",
                                        [key]).fetchone() is not None


def _lookup(db: sqlite_utils.Database, sql: str, pending: Any) -> Callable[[str], str | None]:
    """Parent (or leader) of a record: from the pending mapping if it defines it, else stored."""
    def parent_of(key: str) -> str | None:
        if isinstance(pending, Mapping) and key in pending:
            return pending[key]
        row = db.execute(sql, [key]).fetchone()
        return row[0] if row else None
    return parent_of


def check_unit(fields: Mapping[str, Any], db: sqlite_utils.Database, *,
               pending_units: Any = frozenset(),
               pending_officers: Any = frozenset()) -> dict[str, Any]:
    """One unit record (id, name, parent_id, kind, head_id, outstanding) → cleaned; OrgError."""
    _only(fields, UNIT_FIELDS)
    unit_id = check_id(fields.get("id"), "id", MAX_UNIT_ID)
    clean = {"id": unit_id, "name": _text(fields.get("name"), "name", MAX_UNIT_NAME)}
    parent = fields.get("parent_id") or None
    if parent is not None:
        check_id(parent, "parent_id", MAX_UNIT_ID)
        if not _exists(db, "units", parent, pending_units):
            raise OrgError(f"parent_id: không tìm thấy đơn vị cấp trên {parent!r}",
                           f"parent_id: no parent unit {parent!r}")
        if would_cycle(unit_id, parent,
                       _lookup(db, "SELECT parent_id FROM units WHERE id = ?", pending_units)):
            raise OrgError(f"parent_id: {parent!r} nằm trong đơn vị {unit_id!r}; cây đơn vị "
                           "không được có vòng",
                           f"parent_id: {parent!r} is inside unit {unit_id!r}; the unit tree "
                           "cannot loop")
    kind = fields.get("kind") or None
    if kind is not None and kind not in UNIT_KINDS:
        raise OrgError(f"kind: loại đơn vị phải là một trong {', '.join(UNIT_KINDS)}",
                       f"kind: must be one of {', '.join(UNIT_KINDS)}")
    head = fields.get("head_id") or None
    if head is not None and not _exists(db, "officers", head, pending_officers):
        raise OrgError(f"head_id: không tìm thấy cán bộ {head!r}",
                       f"head_id: no officer {head!r}")
    clean.update(parent_id=parent, kind=kind, head_id=head,
                 outstanding=check_flag(fields.get("outstanding", False), "outstanding"))
    return clean


def check_officer(fields: Mapping[str, Any], db: sqlite_utils.Database, *,
                  pending_units: Any = frozenset(),
                  pending_officers: Any = frozenset()) -> dict[str, Any]:
    """One officer record (id, name, title, unit_id, leader_id, photo, active_from,
    active_to, post_group) → cleaned; OrgError."""
    _only(fields, OFFICER_FIELDS)
    officer_id = check_id(fields.get("id"), "id", MAX_OFFICER_ID)
    clean = {"id": officer_id,
             "name": _text(fields.get("name"), "name", MAX_OFFICER_NAME),
             "title": _text(fields.get("title"), "title", MAX_OFFICER_TITLE)}
    unit = fields.get("unit_id") or None
    if unit is None or not _exists(db, "units", unit, pending_units):
        raise OrgError(f"unit_id: không tìm thấy đơn vị {unit!r}", f"unit_id: no unit {unit!r}")
    leader = fields.get("leader_id") or None
    if leader is not None:
        if leader == officer_id:
            raise OrgError("leader_id: cán bộ không thể là lãnh đạo trực tiếp của chính mình",
                           "leader_id: an officer cannot lead themself")
        if not _exists(db, "officers", leader, pending_officers):
            raise OrgError(f"leader_id: không tìm thấy cán bộ {leader!r}",
                           f"leader_id: no officer {leader!r}")
        if would_cycle(officer_id, leader, _lookup(
                db, "SELECT leader_id FROM officers WHERE id = ?", pending_officers)):
            raise OrgError(f"leader_id: {leader!r} do {officer_id!r} lãnh đạo (trực tiếp hoặc "
                           "gián tiếp); quan hệ lãnh đạo không được có vòng",
                           f"leader_id: {leader!r} is led, directly or not, by {officer_id!r}; "
                           "leadership cannot loop")
    active_from = check_date(fields.get("active_from"), "active_from")
    active_to = check_date(fields.get("active_to"), "active_to")
    if active_from and active_to and active_from > active_to:
        raise OrgError("active_to: ngày thôi công tác phải không trước ngày bắt đầu",
                       "active_to: the last active day cannot be before the first")
    clean.update(unit_id=unit, leader_id=leader, photo=check_photo(fields.get("photo")),
                 active_from=active_from, active_to=active_to,
                 post_group=check_post_group(fields.get("post_group")))
    return clean


def check_counter(fields: Mapping[str, Any], db: sqlite_utils.Database, *,
                  pending_units: Any = frozenset(),
                  pending_officers: Any = frozenset()) -> dict[str, Any]:
    """One counter record (id, label, unit_id) → cleaned; OrgError."""
    _only(fields, COUNTER_FIELDS)
    clean = {"id": check_id(fields.get("id"), "id", MAX_COUNTER_ID),
             "label": _text(fields.get("label"), "label", MAX_COUNTER_LABEL)}
    unit = fields.get("unit_id") or None
    if unit is None or not _exists(db, "units", unit, pending_units):
        raise OrgError(f"unit_id: không tìm thấy đơn vị {unit!r}", f"unit_id: no unit {unit!r}")
    clean["unit_id"] = unit
    return clean
