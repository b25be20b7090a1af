"""Firmware codec against the golden payloads of docs/protocol.md."""

import glob
import json
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kiosk import FW_VERSION, codec

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")


def load_cases(kind):
    cases = []
    for path in sorted(glob.glob(os.path.join(GOLDEN, kind + "_*.json"))):
        with open(path, encoding="utf-8") as f:
            case = json.load(f)
        cases.append(pytest.param(case, id=os.path.basename(path)[:-5]))
    return cases


def payload_bytes(case):
    if "payload" in case:
        return json.dumps(case["payload"], ensure_ascii=False, separators=(",", ":")).encode()
    if "raw" in case:
        return case["raw"].encode("utf-8")
    return bytes.fromhex(case["raw_hex"])


def is_compact(data):
    obj = json.loads(data)
    return data == json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def ok(case):
    return case["expect"]["ok"]


@pytest.mark.parametrize("case", [c for c in load_cases("rating") if ok(c.values[0])])
def test_encode_rating_matches_golden(case):
    g = json.loads(payload_bytes(case))
    data = codec.encode_rating(
        g["device"], g["boot"], g["seq"], g["level"], g["scale"], g["officer"],
        g["uptime_ms"], g["ts"], excluded=g["excluded"], reason=g["reason"],
        dossier=g["dossier"], fw=g["fw"])
    assert json.loads(data) == g
    assert is_compact(data)
    assert case["topic"] == codec.topic(g["device"], "rating")


@pytest.mark.parametrize("case", [c for c in load_cases("status") if ok(c.values[0])])
def test_encode_status_matches_golden(case):
    g = case["payload"]
    if g["state"] == "offline":
        data = codec.offline_will(g["device"])
    else:
        data = codec.encode_status(g["device"], g["boot"], g["uptime_ms"], g["mem_free"],
                                   g["rssi"], g["queue"], g["filtered"], g["dropped"],
                                   fw=g["fw"])
    assert json.loads(data) == g
    assert is_compact(data)
    assert case["topic"] == codec.topic(g["device"], "status")


DECODERS = {"assignment": codec.decode_assignment, "command": codec.decode_command}


@pytest.mark.parametrize("case", load_cases("assignment") + load_cases("command"))
def test_decoders_follow_golden(case):
    decode = DECODERS[case["kind"]]
    data = payload_bytes(case)
    if ok(case):
        result = decode(data)
        assert isinstance(result, dict)
    else:
        with pytest.raises(ValueError) as e:
            decode(data)
        assert e.value.args[0] == case["expect"]["reason"]


def test_decode_assignment_open_fields():
    a = codec.decode_assignment(payload_bytes(
        json.load(open(os.path.join(GOLDEN, "assignment_ok_open.json"), encoding="utf-8"))))
    assert a == {"state": "open", "counter": "Quầy 3", "scale": 4,
                 "officer": {"id": "HK-0001", "name": "Nguyễn Thị Thu Hường",
                             "title": "Chuyên viên", "unit": "UBND phường Hoàn Kiếm"}}


def test_decode_command_defaults_seconds():
    assert codec.decode_command(b'{"v":1,"cmd":"show_message","text":"x"}') == {
        "cmd": "show_message", "text": "x", "seconds": 10}


@pytest.mark.parametrize("payload, reason", [
    (b"\xff\xfe", "invalid_json"),
    (b"[1]", "not_an_object"),
    (b'{"cmd":"reload_config"}', "unsupported_version"),
    (b'{"v":true,"cmd":"reload_config"}', "unsupported_version"),
    (b'{"v":2,"cmd":"reload_config"}', "unsupported_version"),
    (b'{"v":1}', "missing_field:cmd"),
    (b'{"v":1,"cmd":5}', "bad_type:cmd"),
    (b'{"v":1,"cmd":"show_message","text":"x","seconds":0}', "out_of_range:seconds"),
    (b'{"v":1,"cmd":"show_message","text":"x","seconds":true}', "bad_type:seconds"),
    (b'{"v":1,"cmd":"show_message","text":"' + b"x" * 121 + b'"}', "out_of_range:text"),
    (b'{"v":1,"cmd":"reload_config","pad":"' + b"x" * 1100 + b'"}', "too_large"),
])
def test_decode_command_reasons(payload, reason):
    with pytest.raises(ValueError) as e:
        codec.decode_command(payload)
    assert e.value.args[0] == reason


@pytest.mark.parametrize("officer, reason", [
    ("HK-1", "bad_type:officer"),
    ({"name": "A", "title": "B", "unit": "C"}, "missing_field:officer.id"),
    ({"id": "x" * 33, "name": "A", "title": "B", "unit": "C"}, "out_of_range:officer.id"),
    ({"id": "x", "name": 3, "title": "B", "unit": "C"}, "bad_type:officer.name"),
])
def test_decode_assignment_officer_reasons(officer, reason):
    data = json.dumps({"v": 1, "state": "open", "counter": "Quầy 1", "scale": 4,
                       "officer": officer}).encode()
    with pytest.raises(ValueError) as e:
        codec.decode_assignment(data)
    assert e.value.args[0] == reason


def test_rating_defaults_and_id():
    data = codec.encode_rating("kiosk-1", 3, 9, 2, 4, None, 0, None)
    obj = json.loads(data)
    assert obj["id"] == "kiosk-1:3:9"
    assert obj["fw"] == FW_VERSION
    assert obj["reason"] is None and obj["dossier"] is None and obj["excluded"] is None


@given(officer=st.one_of(st.none(), st.text(max_size=32)),
       boot=st.integers(0, 2**31 - 1), seq=st.integers(0, 2**31 - 1),
       uptime=st.integers(0, 2**53 - 1))
def test_rating_round_trip_utf8(officer, boot, seq, uptime):
    data = codec.encode_rating("kiosk-hk-01", boot, seq, 1, 3, officer, uptime, None)
    obj = json.loads(data.decode("utf-8"))
    assert obj["officer"] == officer and obj["uptime_ms"] == uptime
    assert obj["id"] == "kiosk-hk-01:%d:%d" % (boot, seq)


@pytest.mark.parametrize("device, ok", [
    ("kiosk-hk-01", True), ("k1", True), ("a" * 32, True), ("a" * 33, False), ("k", False),
    ("-kiosk", False), ("Kiosk", False), ("kiosk_1", False), ("kiosk hk", False), (None, False),
])
def test_valid_device_id(device, ok):
    assert codec.valid_device_id(device) is ok
