"""The collector's parser and encoders against the golden payloads of docs/protocol.md."""

from __future__ import annotations

import json
import unicodedata

import pytest
from conftest import golden_bytes, golden_cases
from hypothesis import given
from hypothesis import strategies as st

from collector.protocol.messages import (
    ACK_MAX_SEQS,
    MAX_PAYLOAD_BYTES,
    Rating,
    Rejection,
    Status,
    parse_message,
)
from collector.protocol.outbound import (
    encode_ack,
    encode_assignment,
    encode_command,
    encode_session,
)

INBOUND = golden_cases("rating") + golden_cases("status")


def valid_cases(kind: str) -> list[dict]:
    return [case for case in golden_cases(kind) if case["expect"]["ok"]]


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
        assert isinstance(result, Rejection) and result.reason == case["expect"]["reason"]


def test_rejection_names_the_topic_device_when_it_has_one():
    result = parse_message("hailong/v1/devices/kiosk-hk-01/rating", b"{")
    assert result == Rejection("invalid_json", "kiosk-hk-01")


@pytest.mark.parametrize("payload, named", [
    (b'{"v":1,"boot":7,"seq":42,"level":"x"}', (7, 42)),
    (b'{"v":2,"boot":7,"seq":42}', (7, 42)),
    (b'{"v":1,"boot":7,"seq":true}', (None, None)),
    (b'{"v":1,"boot":7,"seq":4.0}', (None, None)),
    (b'{"v":1,"boot":-1,"seq":4}', (None, None)),
    (b'{"v":1,"boot":7,"seq":2147483648}', (None, None)),
    (b'{"v":1,"boot":7}', (None, None)),
    (b'[7, 42]', (None, None)),
])
def test_a_rejected_rating_names_its_boot_and_seq_only_when_readable(payload, named):
    result = parse_message("hailong/v1/devices/kiosk-hk-01/rating", payload)
    assert isinstance(result, Rejection) and (result.boot, result.seq) == named


def test_a_rejected_status_names_no_rating():
    result = parse_message("hailong/v1/devices/kiosk-hk-01/status", b'{"v":1,"boot":7,"seq":1}')
    assert isinstance(result, Rejection) and result.boot is None and result.seq is None


def test_acks_are_ascending_without_repeats():
    assert encode_ack(7, [45, 42, 43, 42]) == [b'{"v":1,"boot":7,"seq":[42,43,45]}']


@pytest.mark.parametrize("seqs", [list(range(1000)), list(range(2**31 - 500, 2**31))])
def test_acks_are_split_by_count_and_by_bytes(seqs):
    messages = encode_ack(2**31 - 1, seqs)
    assert all(len(raw) <= MAX_PAYLOAD_BYTES for raw in messages)
    bodies = [json.loads(raw) for raw in messages]
    assert all(0 < len(body["seq"]) <= ACK_MAX_SEQS for body in bodies)
    assert [seq for body in bodies for seq in body["seq"]] == seqs


@pytest.mark.parametrize("boot, seqs", [(-1, [1]), (2**31, [1]), (True, [1]), (1, []),
                                        (1, [1.0]), (1, [-1]), (1, [2**31])])
def test_acks_refuse_what_a_device_could_not_name(boot, seqs):
    with pytest.raises(ValueError):
        encode_ack(boot, seqs)


@pytest.mark.parametrize("case", [case for case in valid_cases("ack")
                                  if set(case["payload"]) == {"v", "boot", "seq"}],
                         ids=lambda case: case["name"])
def test_ack_encoder_matches_golden(case):
    payload = case["payload"]
    assert encode_ack(payload["boot"], payload["seq"]) == [golden_bytes(case)]


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


@pytest.mark.parametrize("text", ["Tạm nghỉ\x07", "Quầy\u0085 3", "Xin chờ\nít phút"])
def test_a_message_for_the_screen_refuses_control_characters(text):
    """The device draws what it is sent: a control character would show as a box or, on a
    one-line banner, a break the layout never planned."""
    with pytest.raises(ValueError, match="control character"):
        encode_command("show_message", text=text)


ratings = st.builds(
    lambda boot, seq, scale, level, ts, officer, reason, dossier, excluded, uptime: {
        "v": 1, "id": f"kiosk-x1:{boot}:{seq}", "device": "kiosk-x1", "boot": boot, "seq": seq,
        "level": min(level, scale), "scale": scale, "officer": officer, "uptime_ms": uptime,
        "ts": ts, "fw": "0.1.0", "reason": reason, "dossier": dossier, "excluded": excluded},
    st.integers(0, 2**31 - 1), st.integers(0, 2**31 - 1), st.sampled_from([3, 4, 5]),
    st.integers(1, 5), st.one_of(st.none(), st.integers(1577836800000, 4102444800000)),
    st.one_of(st.none(), st.text(st.characters(blacklist_categories=("Cc", "Cs")),
                                 min_size=1, max_size=32)),
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
