"""Vietnamese number and month formatting for the pages (glossary: `1.234,5`, `11/2026`).

Hand-written because the pages need only three shapes; issue 6 brings Babel with the
English switch, and these become its Vietnamese locale.
"""

from __future__ import annotations


def vi_number(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return "—"
    text = f"{value:,.{digits}f}"  # 1,234.5
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".")


def vi_percent(share: float | None, digits: int = 1) -> str:
    return "—" if share is None else f"{vi_number(share * 100, digits)} %"


def vi_month(month: str) -> str:
    year, mon = month.split("-")
    return f"{mon}/{year}"


def previous_month(month: str) -> str:
    year, mon = (int(part) for part in month.split("-"))
    return f"{year - (mon == 1)}-{(mon - 2) % 12 + 1:02d}"


def next_month(month: str) -> str:
    year, mon = (int(part) for part in month.split("-"))
    return f"{year + (mon == 12)}-{mon % 12 + 1:02d}"
