"""Free text a person typed (a title, a comment, a reason): checked one way everywhere.

Stripped and NFC-composed (the device's fonts and the catalogues hold composed letters, and
one name must compare equal however it was typed); blank counts as missing. Each service
raises its own error class, so the API maps it as it maps the service's other refusals.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from .errors import BilingualError


def checked_text(value: Any, field: str, limit: int, error: type[BilingualError] = BilingualError,
                 *, required: bool = True,
                 missing: tuple[str, str] | None = None) -> str | None:
    """The cleaned text, None when missing and not `required`; `error` otherwise.

    `missing` replaces the Vietnamese and English reason given when required text is blank.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            vi, en = missing or ("không được để trống", "must not be empty")
            raise error(f"{field}: {vi}", f"{field}: {en}")
        return None
    if not isinstance(value, str):
        raise error(f"{field}: phải là văn bản", f"{field}: must be text")
    value = unicodedata.normalize("NFC", value.strip())
    if len(value) > limit:
        raise error(f"{field}: tối đa {limit} ký tự (hiện có {len(value)})",
                    f"{field}: at most {limit} characters (this has {len(value)})")
    return value
