"""Free text a person typed (a title, a comment, a reason): checked one way everywhere.

Stripped and NFC-composed (the device's fonts and the catalogues hold composed letters, and
one name must compare equal however it was typed); blank counts as missing. Each service
raises its own error class, so the API maps it as it maps the service's other refusals.

Control characters are refused at this edge, never stored (issue 10): one BEL in an officer's
title made every XLSX of their unit fail (XML 1.0 cannot carry C0 controls), and a stored
escape sequence would reach terminals through the CLI. Two kinds of field:

- one-line text (names, titles, labels, task titles): no control character at all, not even
  a line break or a tab — a name printed on a form, a sheet or a device's screen is one line;
- multi-line text (notes, comments, reasons, a response's text — `MULTILINE_FIELDS`, by the
  field name the services already pass): line breaks and tabs are kept, a Windows or old Mac
  line end (`\\r\\n`, `\\r`) becomes `\\n`; every other control is refused.

Also refused everywhere: lone surrogates (not Unicode: SQLite cannot store them) and the
noncharacters U+FFFE and U+FFFF (not XML). `unsafe_characters` is the same rule for callers
that must not raise (the import's cells, the XLSX export).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from collector.core.errors import BilingualError

# The field names services pass for text that may span lines (evaluation/workflow/steps.py,
# roster/shifts.py, evaluation/tasks.py, ratings/alert_records.py, evaluation/responses.py).
# Anything else is one line.
MULTILINE_FIELDS = frozenset({"note", "comment", "reason", "text", "discipline_note",
                              "progress_note", "decision_note", "attitude_reason"})

# C0 controls, DEL, C1 controls, surrogates, U+FFFE/U+FFFF. Tab and line feed are matched
# too; multi-line text removes them from the match (`_UNSAFE_MULTILINE`).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_UNSAFE_MULTILINE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def unsafe_characters(value: str, *, multiline: bool = False) -> list[str]:
    """The characters of `value` that text may not hold, each once, in order of appearance."""
    pattern = _UNSAFE_MULTILINE if multiline else _UNSAFE
    return list(dict.fromkeys(pattern.findall(value)))


def code_points(characters: list[str]) -> str:
    """`['\\x07', '\\n']` → 'U+0007, U+000A': how a refusal names what it found."""
    return ", ".join(f"U+{ord(c):04X}" for c in characters)


def checked_text(value: Any, field: str, limit: int, error: type[BilingualError] = BilingualError,
                 *, required: bool = True,
                 missing: tuple[str, str] | None = None,
                 multiline: bool | None = None) -> str | None:
    """The cleaned text, None when missing and not `required`; `error` otherwise.

    `missing` replaces the Vietnamese and English reason given when required text is blank.
    `multiline` overrides the kind the field's name gives (`MULTILINE_FIELDS`).
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            vi, en = missing or ("không được để trống", "must not be empty")
            raise error(f"{field}: {vi}", f"{field}: {en}")
        return None
    if not isinstance(value, str):
        raise error(f"{field}: phải là văn bản", f"{field}: must be text")
    if multiline is None:
        multiline = field in MULTILINE_FIELDS
    if multiline:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    found = unsafe_characters(value, multiline=multiline)
    if found:
        allowed_vi = " (chỉ được xuống dòng và tab)" if multiline else ""
        allowed_en = " (only line breaks and tabs are allowed)" if multiline else ""
        raise error(f"{field}: có ký tự điều khiển hoặc không hợp lệ {code_points(found)}"
                    f"{allowed_vi}; hãy gõ lại",
                    f"{field}: holds a control or invalid character {code_points(found)}"
                    f"{allowed_en}; type it again")
    value = unicodedata.normalize("NFC", value.strip())
    if len(value) > limit:
        raise error(f"{field}: tối đa {limit} ký tự (hiện có {len(value)})",
                    f"{field}: at most {limit} characters (this has {len(value)})")
    return value
