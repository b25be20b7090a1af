"""Page languages: catalogues and locale formats."""

from __future__ import annotations

from datetime import date, datetime

from dashboard.i18n import catalogue, negotiate, translator


def test_vietnamese_is_the_default_and_english_the_switch():
    assert negotiate(None) == "vi"
    assert negotiate(None, "en-US,en;q=0.9") == "vi"
    assert negotiate("en") == "en" and negotiate("EN-gb") == "en"
    assert negotiate("fr") == "vi"


def test_messages_are_translated_and_english_is_the_msgid():
    vi, en = translator("vi"), translator("en")
    assert vi.gettext("Log in") == "Đăng nhập"
    assert en.gettext("Log in") == "Log in"
    assert vi.gettext("Not in the catalogue") == "Not in the catalogue"
    assert vi.ngettext("%(num)d rating", "%(num)d ratings", 3) == "3 lượt đánh giá"
    assert en.ngettext("%(num)d rating", "%(num)d ratings", 1) == "1 rating"
    assert en.ngettext("%(num)d rating", "%(num)d ratings", 2) == "2 ratings"


def test_catalogue_entries_are_composed_vietnamese():
    import unicodedata
    for msgid, text in catalogue("vi").items():
        assert text == unicodedata.normalize("NFC", text), msgid


def test_numbers_dates_and_months_follow_the_locale():
    vi, en = translator("vi"), translator("en")
    assert vi.number(1234.5, 1) == "1.234,5" and en.number(1234.5, 1) == "1,234.5"
    assert vi.number(1234567) == "1.234.567" and vi.number(None) == "—"
    assert vi.percent(0.8765) == "87,7 %" and en.percent(0.8765) == "87.7%"
    assert vi.number(2.5) == "3" and vi.number(0.125, 2) == "0,13"  # half-up, as scored
    assert vi.date(date(2026, 11, 25)) == "25/11/2026"
    assert en.date(date(2026, 11, 25)) == "25 Nov 2026"
    assert vi.datetime(datetime(2026, 11, 25, 14, 3)) == "25/11/2026 14:03"
    assert vi.month("2026-11") == "11/2026" and en.month("2026-11") == "November 2026"


def page_messages():
    """Every msgid the dashboard's templates and modules ask to translate."""
    from babel.messages.extract import extract_from_dir

    from dashboard import i18n
    method_map = [("**/templates/**.html", "jinja2.ext:babel_extract"),
                  ("**.py", "python")]
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    found = []
    for filename, lineno, message, _, _ in extract_from_dir(
            i18n.LOCALES_DIR.parent, method_map, keywords=keywords,
            options_map={"**/templates/**.html": {"trimmed": "true"}}):
        for msgid in message if isinstance(message, tuple) else (message,):
            if msgid:
                found.append((filename, lineno, msgid))
    return found


def test_every_page_string_has_a_vietnamese_translation():
    messages = page_messages()
    assert {"Log in", "My team"} <= {msgid for _, _, msgid in messages}
    vi = catalogue("vi")
    missing = sorted({f"{name}:{line}: {msgid}" for name, line, msgid in messages
                      if msgid not in vi})
    assert not missing, "add these to dashboard/locales/vi/LC_MESSAGES:\n" + "\n".join(missing)
