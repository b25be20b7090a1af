"""Firmware codec against the golden payloads of docs/protocol.md (CPython and MicroPython).

Every case of the golden folder runs in a loop inside one test; a failing assert names the
case. The hypothesis round trip stays in tests/test_fw_codec.py (CPython only).
"""

import json

from core_support import golden_bytes, golden_case, golden_cases, is_compact, raises
from kiosk import FW_VERSION, codec


def ok_cases(kind):
    return [c for c in golden_cases(kind) if c["expect"]["ok"]]


def test_encode_rating_matches_golden():
    cases = ok_cases("rating")
    assert len(cases) >= 5
    for case in cases:
        g = json.loads(golden_bytes(case))
        data = codec.encode_rating(
            g["device"], g["boot"], g["seq"], g["level"], g["scale"], g["officer"],
            g["uptime_ms"], g["ts"], excluded=g["excluded"], reason=g["reason"],
            dossier=g["dossier"], fw=g["fw"])
        assert json.loads(data) == g, case["name"]
        assert is_compact(data), case["name"]
        assert case["topic"] == codec.topic(g["device"], "rating"), case["name"]


def test_encode_status_matches_golden():
    cases = ok_cases("status")
    assert len(cases) >= 3
    for case in cases:
        g = case["payload"]
        if g["state"] == "offline":
            data = codec.offline_will(g["device"])
            expected = g
        else:
            data = codec.encode_status(g["device"], g["boot"], g["uptime_ms"], g["mem_free"],
                                       g["rssi"], g["queue"], g["filtered"], g["dropped"],
                                       ignored=g.get("ignored", 0), fw=g["fw"])
            # A case without `ignored` is what firmware 0.1.0 sent; today's encoder always
            # adds it (0 when nothing was ignored).
            expected = dict(g)
            expected.setdefault("ignored", 0)
        assert json.loads(data) == expected, case["name"]
        assert is_compact(data), case["name"]
        assert case["topic"] == codec.topic(g["device"], "status"), case["name"]


def test_decoders_follow_golden():
    decoders = {"assignment": codec.decode_assignment, "command": codec.decode_command,
                "session": codec.decode_session, "ack": codec.decode_ack}
    cases = []
    for kind in decoders:
        some = golden_cases(kind)
        # Each kind keeps both sides of its contract: accepted and rejected payloads.
        assert [c for c in some if c["expect"]["ok"]] and [c for c in some
                                                           if not c["expect"]["ok"]], kind
        cases += some
    for case in cases:
        decode = decoders[case["kind"]]
        data = golden_bytes(case)
        if case["expect"]["ok"]:
            assert isinstance(decode(data), dict), case["name"]
        else:
            e = raises(ValueError, decode, data)
            assert e.args[0] == case["expect"]["reason"], (case["name"], e.args)


def test_decode_assignment_open_fields():
    a = codec.decode_assignment(golden_bytes(golden_case("assignment_ok_open")))
    assert a == {"state": "open", "counter": "Quầy 3", "scale": 4,
                 "officer": {"id": "HK-0001", "name": "Nguyễn Thị Thu Hường",
                             "title": "Chuyên viên", "unit": "UBND phường Hoàn Kiếm"}}


def test_decode_command_defaults_seconds():
    assert codec.decode_command(b'{"v":1,"cmd":"show_message","text":"x"}') == {
        "cmd": "show_message", "text": "x", "seconds": 10}


def test_decode_command_reasons():
    cases = [
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
    ]
    for payload, reason in cases:
        e = raises(ValueError, codec.decode_command, payload)
        assert e.args[0] == reason, (payload[:40], e.args)


def test_decode_assignment_officer_reasons():
    cases = [
        ("HK-1", "bad_type:officer"),
        ({"name": "A", "title": "B", "unit": "C"}, "missing_field:officer.id"),
        ({"id": "x" * 33, "name": "A", "title": "B", "unit": "C"}, "out_of_range:officer.id"),
        ({"id": "x", "name": 3, "title": "B", "unit": "C"}, "bad_type:officer.name"),
    ]
    for officer, reason in cases:
        data = json.dumps({"v": 1, "state": "open", "counter": "Quầy 1", "scale": 4,
                           "officer": officer}).encode("utf-8")
        e = raises(ValueError, codec.decode_assignment, data)
        assert e.args[0] == reason, (officer, e.args)


def test_rating_defaults_and_id():
    data = codec.encode_rating("kiosk-1", 3, 9, 2, 4, None, 0, None)
    obj = json.loads(data)
    assert obj["id"] == "kiosk-1:3:9"
    assert obj["fw"] == FW_VERSION
    assert obj["reason"] is None and obj["dossier"] is None and obj["excluded"] is None


def test_rating_round_trip_utf8_and_large_numbers():
    # Fixed examples of the hypothesis round trip in tests/test_fw_codec.py, so MicroPython
    # checks them too: Vietnamese text, the largest boot/seq, uptime up to 2**53 - 1 (a
    # long int on a 32-bit MicroPython port).
    for officer, boot, seq, uptime in [(None, 0, 0, 0), ("", 1, 2, 3),
                                       ("Nguyễn Thị Thu Hường", 2**31 - 1, 2**31 - 1,
                                        2**53 - 1),
                                       ("Đỗ \"Q\" \\ ệ", 7, 123456, 1764064800000)]:
        data = codec.encode_rating("kiosk-hk-01", boot, seq, 1, 3, officer, uptime, None)
        obj = json.loads(data.decode("utf-8"))
        assert obj["officer"] == officer and obj["uptime_ms"] == uptime, officer
        assert obj["id"] == "kiosk-hk-01:%d:%d" % (boot, seq)


def test_valid_device_id():
    cases = [
        ("kiosk-hk-01", True), ("k1", True), ("a" * 32, True), ("a" * 33, False),
        ("k", False), ("-kiosk", False), ("Kiosk", False), ("kiosk_1", False),
        ("kiosk hk", False), (None, False),
    ]
    for device, ok in cases:
        assert codec.valid_device_id(device) is ok, device


def test_decode_ack_gives_boot_and_seqs():
    ack = codec.decode_ack(golden_bytes(golden_case("ack_ok_several")))
    assert ack == {"boot": 7, "seq": [42, 43, 45]}
    longest = golden_bytes(golden_case("ack_ok_longest"))
    assert len(longest) <= codec.MAX_PAYLOAD
    assert len(codec.decode_ack(longest)["seq"]) == 90
