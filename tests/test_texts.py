"""The one check of typed text shared by every service."""

from __future__ import annotations

import re

import pytest

from collector.core.errors import BilingualError
from collector.core.texts import checked_text


class Refused(BilingualError):
    pass


def test_text_is_stripped_and_composed():
    assert checked_text("  Ho\u0300a  ", "title", 10) == "Hòa"


@pytest.mark.parametrize("value, required, expected", [
    (None, False, None), ("   ", False, None), ("", False, None),
])
def test_blank_is_missing(value, required, expected):
    assert checked_text(value, "note", 10, required=required) is expected


@pytest.mark.parametrize("value, words", [
    (None, "must not be empty"), (" ", "must not be empty"), (7, "must be text"),
    ("x" * 11, "at most 10 characters (this has 11)"),
])
def test_refusals_carry_the_field_and_the_services_error(value, words):
    with pytest.raises(Refused, match=re.escape(words)) as caught:
        checked_text(value, "reason", 10, Refused)
    assert caught.value.vi.startswith("reason: ") and caught.value.en.startswith("reason: ")


def test_a_service_may_say_why_text_is_missing_its_own_way():
    with pytest.raises(Refused, match="a reason is required"):
        checked_text("", "reason", 10, Refused, missing=("cần ghi rõ lý do",
                                                         "a reason is required"))


@pytest.mark.parametrize("value, field, shown", [
    ("Chuyên\x07viên", "title", "U+0007"),          # BEL: broke every XLSX of the unit
    ("Quầy\n1", "label", "U+000A"),                  # a one-line field keeps one line
    ("Tổ\tA", "name", "U+0009"),
    ("x\x1b[31m", "name", "U+001B"),                 # a terminal escape
    ("x\x7f", "name", "U+007F"), ("x\x85", "name", "U+0085"),  # DEL, C1 NEL
    ("x\ud800", "name", "U+D800"),                   # a lone surrogate: not Unicode
    ("x\uffff", "title", "U+FFFF"),                  # not XML
    ("ghi\x00chú", "note", "U+0000"),                # multi-line still refuses NUL
    ("a\x0bb", "comment", "U+000B"),
])
def test_control_characters_are_refused_naming_the_code_point(value, field, shown):
    with pytest.raises(Refused) as caught:
        checked_text(value, field, 100, Refused)
    assert shown in caught.value.vi and shown in caught.value.en
    assert caught.value.en.startswith(f"{field}: ")


@pytest.mark.parametrize("field", ["note", "comment", "reason", "text", "discipline_note"])
def test_multiline_fields_keep_line_breaks_and_tabs(field):
    assert checked_text("dòng 1\r\ndòng 2\rdòng\t3\n", field, 100) == "dòng 1\ndòng 2\ndòng\t3"


def test_the_kind_of_field_can_be_given():
    assert checked_text("a\nb", "title", 10, multiline=True) == "a\nb"
    with pytest.raises(BilingualError, match="U\\+000A"):
        checked_text("a\nb", "note", 10, multiline=False)


def test_ordinary_vietnamese_text_passes_untouched():
    text = "Phó Chủ tịch UBND phường, Trưởng Bộ phận Một cửa – “Quầy 1” (50%)"
    assert checked_text(text, "title", 100) == text
