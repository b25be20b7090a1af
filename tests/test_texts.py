"""The one check of typed text shared by every service."""

from __future__ import annotations

import re

import pytest

from collector.errors import BilingualError
from collector.texts import checked_text


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
