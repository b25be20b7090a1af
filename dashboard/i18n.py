"""Languages of the pages: message catalogues and locale formats (Babel).

Vietnamese is the default; English is the switch. Page text lives in gettext catalogues,
`dashboard/locales/<lang>/LC_MESSAGES/*.po` (one per part of the site), whose msgids are the
English text:
English pages show the msgid, Vietnamese pages its translation, and `tests/test_i18n.py`
fails when a string used in a template or a view has no Vietnamese translation. The .po files
are read with Babel at start-up (no compile step, nothing binary in the repository).

Numbers, dates and months follow the locale through Babel, with the shapes Vietnamese
offices write (glossary-vi.md: `1.234,5`, `25/11/2026`, `11/2026`).
"""

from __future__ import annotations

from dataclasses import dataclass
import datetime as dt
from decimal import ROUND_HALF_UP, Decimal, localcontext
from functools import lru_cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

from collector.core.periods import label as period_label

LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"
LOCALES_DIR = Path(__file__).parent / "locales"
LANGUAGE_NAMES = {"vi": "Tiếng Việt", "en": "English"}
# Babel's short Vietnamese date is 25/11/26; offices write the year in full.
DATE_PATTERNS = {"vi": "dd/MM/yyyy", "en": "d MMM yyyy"}
DATETIME_PATTERNS = {"vi": "dd/MM/yyyy HH:mm", "en": "d MMM yyyy, HH:mm"}
MONTH_PATTERNS = {"vi": "MM/yyyy", "en": "MMMM yyyy"}


def N_(message: str) -> str:
    """Marks a msgid defined ahead of translation (a menu label, a table of reasons): the
    catalogue test finds it, and the page translates it when it shows it."""
    return message


@lru_cache(maxsize=None)
def catalogue(language: str) -> dict[str, str]:
    """msgid → translation of one language (English: empty, the msgids are English).

    Every .po file of the language's LC_MESSAGES is read (one per part of the site, so that
    pages can be written side by side); a msgid translated twice must agree.
    """
    merged: dict[str, str] = {}
    for path in sorted((LOCALES_DIR / language / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as file:
            messages = read_po(file, locale=language)
        for message in messages:
            if not (message.id and isinstance(message.id, str) and message.string
                    and not message.fuzzy):
                continue
            if merged.get(message.id, message.string) != message.string:
                raise ValueError(f"{path.name}: {message.id!r} is translated differently "
                                 "in another catalogue")
            merged[message.id] = message.string
    return merged


def negotiate(requested: str | None, accept_language: str | None = None) -> str:
    """The page language: an explicit choice (cookie or ?lang=), else Vietnamese.

    The browser's Accept-Language is deliberately not followed: the pages are Vietnamese
    first for everyone, whatever language an office PC's browser was installed in.
    """
    if requested:
        code = requested.strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return DEFAULT_LANGUAGE


@lru_cache(maxsize=None)
def _locale(language: str) -> Locale:
    # Parsed once: Locale.parse costs ~20 µs, and a page formats hundreds of numbers.
    return Locale.parse("vi_VN" if language == "vi" else "en_GB")


@dataclass(frozen=True)
class Translator:
    language: str

    @property
    def locale(self) -> Locale:
        return _locale(self.language)

    def gettext(self, message: str, **values: object) -> str:
        text = catalogue(self.language).get(message, message)
        return text % values if values else text

    def ngettext(self, singular: str, plural: str, n: int, **values: object) -> str:
        # Vietnamese has one plural form; English two. The catalogue keys the singular.
        message = singular if n == 1 else plural
        text = catalogue(self.language).get(message, message)
        return text % {"num": n, **values}

    def number(self, value: float | int | Decimal | None, digits: int = 0) -> str:
        if value is None:
            return "—"
        # Half-up from the shortest decimal text of the float, as the scoring engine rounds
        # (Babel's default, half-even on the binary value, shows 87.65 as 87,6).
        with localcontext(rounding=ROUND_HALF_UP):
            return format_decimal(Decimal(str(value)),
                                  format=f"#,##0.{'0' * digits}" if digits else "#,##0",
                                  locale=self.locale)

    def percent(self, share: float | None, digits: int = 1) -> str:
        if share is None:
            return "—"
        text = self.number(Decimal(str(share)) * 100, digits)
        # Vietnamese typesetting puts a space before %, English none.
        return f"{text} %" if self.language == "vi" else f"{text}%"

    def date(self, value: dt.date | None) -> str:
        return "—" if value is None else format_date(value, DATE_PATTERNS[self.language],
                                                     locale=self.locale)

    def datetime(self, value: dt.datetime | None) -> str:
        return "—" if value is None else format_datetime(value, DATETIME_PATTERNS[self.language],
                                                         locale=self.locale)

    def month(self, month: str) -> str:
        """'2026-11' → '11/2026' or 'November 2026'; a quarterly policy's period '2026-Q1' →
        'Quý I/2026' or 'Q1 2026' (collector/core/periods.py)."""
        if "Q" in month:
            return period_label(month, self.language)
        year, mon = (int(part) for part in month.split("-"))
        return format_date(dt.date(year, mon, 1), MONTH_PATTERNS[self.language],
                           locale=self.locale)

    def period(self, month: str) -> str:
        """An evaluation period as a title: 'Tháng 11/2026' / 'Month November 2026', or
        'Quý I/2026' / 'Q1 2026' under a quarterly policy."""
        if "Q" in month:
            return period_label(month, self.language)
        return self.gettext("Month %(month)s", month=self.month(month))


def translator(language: str) -> Translator:
    return Translator(negotiate(language))
