"""The collector's parser and encoders against the golden payloads of docs/protocol.md."""

from __future__ import annotations

import json
import unicodedata

import pytest
from conftest import golden_bytes, golden_cases
from hypothesis import given
from hypothesis import strategies as st

from collector.messages import (
    Rating,
    Rejection,
    Status,
    encode_assignment,
    encode_command,
    encode_session,
    parse_message,
)

INBOUND = golden_cases("rating") + golden_cases("status")


@pytest.mark.parametrize("case", INBOUND, ids=lambda case: case["name"])
def test_inbound_golden_case(case):
    result = parse_message(case["topic"], golden_bytes(case))
    if case["expect"]["ok"]:
        assert not isinstance(result, Rejection), result
        payload = json.loads(golden_bytes(case))
        for key, value in payload.items():
            if key != "v":
                assert getattr(result, key) == value, key
    else:
        assert result == Rejection(reason=case["expect"]["reason"], device=result.device)


def test_rejection_names_the_topic_device_when_it_has_one():
    result = parse_message("hailong/v1/devices/kiosk-hk-01/rating", b"{")
    assert result == Rejection("invalid_json", "kiosk-hk-01")


def valid(kind: str) -> list[dict]:
    """Valid outbound cases; the invalid ones are the device decoder's to refuse."""
    return [case for case in golden_cases(kind) if case["expect"]["ok"]]


@pytest.mark.parametrize("case", valid("assignment"), ids=lambda case: case["name"])
def test_assignment_encoder_matches_golden(case):
    payload = case["payload"]
    encoded = encode_assignment(counter=payload["counter"], scale=payload["scale"],
                                officer=payload["officer"])
    assert encoded == golden_bytes(case)


@pytest.mark.parametrize("case", valid("command"), ids=lambda case: case["name"])
def test_command_encoder_matches_golden(case):
    payload = case["payload"]
    encoded = encode_command(payload["cmd"], text=payload.get("text"),
                             seconds=payload.get("seconds"))
    assert encoded == golden_bytes(case)


@pytest.mark.parametrize("kwargs, message", [
    ({"counter": "Quầy 1", "scale": 6, "officer": None}, "scale"),
    ({"counter": "Q" * 41, "scale": 4, "officer": None}, "counter"),
    ({"counter": "Quầy 1", "scale": 4,
      "officer": {"id": "A", "name": "", "title": "t", "unit": "u"}}, "name"),
])
def test_assignment_encoder_refuses_what_a_device_would_reject(kwargs, message):
    with pytest.raises(ValueError, match=message):
        encode_assignment(**kwargs)


@pytest.mark.parametrize("case", valid("session"), ids=lambda case: case["name"])
def test_session_encoder_matches_golden(case):
    payload = case["payload"]
    encoded = encode_session(dossier=payload.get("dossier"), seconds=payload.get("seconds"))
    assert json.loads(encoded) == {key: value for key, value in payload.items()
                                   if value is not None or key == "seconds"}


@pytest.mark.parametrize("kwargs", [{"dossier": "HS 01; x"}, {"dossier": "A1", "seconds": 5}])
def test_session_encoder_refuses_what_a_device_would_reject(kwargs):
    with pytest.raises(ValueError):
        encode_session(**kwargs)


def test_assignment_sends_names_in_composed_form():
    decomposed = unicodedata.normalize("NFD", "Nguyễn Thị Thu Hường")
    encoded = encode_assignment(counter=unicodedata.normalize("NFD", "Quầy 3"), scale=4,
                                officer={"id": "A", "name": decomposed, "title": "T",
                                         "unit": "U"})
    body = json.loads(encoded)
    assert body["officer"]["name"] == "Nguyễn Thị Thu Hường" != decomposed
    assert body["counter"] == "Quầy 3"


def test_command_encoder_refuses_unknown_command():
    with pytest.raises(ValueError, match="unknown command"):
        encode_command("format_flash")


ratings = st.builds(
    lambda boot, seq, scale, level, ts, officer, reason, dossier, excluded, uptime: {
        "v": 1, "id": f"kiosk-x1:{boot}:{seq}", "device": "kiosk-x1", "boot": boot, "seq": seq,
        "level": min(level, scale), "scale": scale, "officer": officer, "uptime_ms": uptime,
        "ts": ts, "fw": "0.1.0", "reason": reason, "dossier": dossier, "excluded": excluded},
    st.integers(0, 2**31 - 1), st.integers(0, 2**31 - 1), st.sampled_from([3, 4, 5]),
    st.integers(1, 5), st.one_of(st.none(), st.integers(1577836800000, 4102444800000)),
    st.one_of(st.none(), st.text(min_size=1, max_size=32)),
    st.sampled_from([None, "attitude", "waiting", "guidance", "other"]),
    st.one_of(st.none(), st.from_regex(r"[A-Za-z0-9._/-]{1,40}", fullmatch=True)),
    st.sampled_from([None, "cooldown"]), st.integers(0, 2**53 - 1))


@given(ratings)
def test_any_valid_rating_round_trips(payload):
    raw = json.dumps(payload, ensure_ascii=False).encode()
    result = parse_message("hailong/v1/devices/kiosk-x1/rating", raw)
    assert isinstance(result, Rating)
    assert {key: getattr(result, key) for key in payload if key != "v"} == \
        {key: value for key, value in payload.items() if key != "v"}


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(raw):
    result = parse_message("hailong/v1/devices/kiosk-x1/status", raw)
    assert isinstance(result, (Rejection, Status))
