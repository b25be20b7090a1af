"""Firmware codec: rating round trip over generated values (hypothesis, CPython only).

The golden-payload tests run on CPython and MicroPython from tests/core/test_core_codec.py.
"""

import json

from hypothesis import given
from hypothesis import strategies as st
from kiosk import codec


@given(officer=st.one_of(st.none(), st.text(max_size=32)),
       boot=st.integers(0, 2**31 - 1), seq=st.integers(0, 2**31 - 1),
       uptime=st.integers(0, 2**53 - 1))
def test_rating_round_trip_utf8(officer, boot, seq, uptime):
    data = codec.encode_rating("kiosk-hk-01", boot, seq, 1, 3, officer, uptime, None)
    obj = json.loads(data.decode("utf-8"))
    assert obj["officer"] == officer and obj["uptime_ms"] == uptime
    assert obj["id"] == "kiosk-hk-01:%d:%d" % (boot, seq)
