"""Vietnamese order for every list of names: ICU's collation for `vi`, through PyICU.

SQLite and Python compare code points, so "Đặng" came after "Vũ" (U+0110 is past "Z") and
"Nguyễn" before "Ngô" (U+00F4 "ô" is past every unaccented letter, "u" included). The
Vietnamese alphabet is not a hand-written table here: ICU's CLDR data for `vi` is what office
software uses — a < ă < â, d < đ, e < ê, o < ô < ơ, u < ư as letters, and the tones (none,
grave, hook, tilde, acute, dot below) weigh only when the letters are equal. Digits compare
as numbers, ICU's numeric collation ("Quầy 2" before "Quầy 10").

`name_key` orders any name as a whole (units, counters, titles); `person_key` orders people
the Vietnamese way, by the given name (the last word) and then by the whole name, as lists
of officers are printed in Vietnam (docs/evaluation.md). Both accept None and "" (sorting
first); the text is NFC-composed first, so a name typed decomposed sorts where it reads.
"""

from __future__ import annotations

import threading
import unicodedata

import icu

_LOCALE = "vi_VN"
_collator: icu.Collator | None = None
# One collator per process, created on first use. ICU's collators are not documented as safe
# to share between threads through PyICU, so every use holds the lock (a sort key is
# microseconds; the lists sorted here are an organisation's, not the ratings').
_lock = threading.Lock()


def _make() -> icu.Collator:
    collator = icu.Collator.createInstance(icu.Locale(_LOCALE))
    collator.setAttribute(icu.UCollAttribute.NUMERIC_COLLATION, icu.UCollAttributeValue.ON)
    return collator


def name_key(text: str | None) -> bytes:
    """The sort key of a name in Vietnamese order; None and "" give the smallest key."""
    global _collator
    if not text:
        return b""
    composed = unicodedata.normalize("NFC", text)
    with _lock:
        if _collator is None:
            _collator = _make()
        return bytes(_collator.getSortKey(composed))


def person_key(name: str | None) -> tuple[bytes, bytes]:
    """A person's sort key: the given name (last word) first, then the whole name."""
    words = (name or "").split()
    return name_key(words[-1] if words else ""), name_key(name)

