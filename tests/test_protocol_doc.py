"""docs/protocol.md must name every topic, field and reason code the code uses."""

from __future__ import annotations

import json
import re
from dataclasses import fields

import pytest
from conftest import ROOT
from kiosk import codec

from collector.protocol import messages, outbound

DOC = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
SOURCES = sorted((ROOT / "collector").rglob("*.py")) + sorted((ROOT / "firmware").rglob("*.py"))


def documented(name: str) -> bool:
    return f"`{name}`" in DOC


def topic_kinds_in_code() -> set[str]:
    kinds = set()
    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        kinds |= set(re.findall(r"topic\([^)]*?,\s*\"([a-z_]+)\"\)", text))
        kinds |= set(re.findall(r"hailong/v1/devices/\+/([a-z_]+)", text))
    return kinds


def test_the_scan_finds_topics_at_all():
    assert {"rating", "status", "assignment", "command", "session"} <= topic_kinds_in_code()


@pytest.mark.parametrize("kind", sorted(topic_kinds_in_code()))
def test_every_topic_in_code_is_documented(kind):
    assert documented(f"hailong/v1/devices/{{device}}/{kind}")


def payload_keys() -> set[str]:
    keys = set()
    encoded = [
        codec.encode_rating("kiosk-x1", 1, 1, 4, 4, "A", 0, None),
        codec.encode_status("kiosk-x1", 1, 0, 0, None, 0, 0, 0),
        codec.offline_will("kiosk-x1"),
        outbound.encode_assignment(counter="Q", scale=4,
                                   officer={"id": "A", "name": "N", "title": "T", "unit": "U"}),
        outbound.encode_command("show_message", text="x", seconds=5),
        outbound.encode_session(dossier="A1", seconds=60),
    ]
    for raw in encoded:
        body = json.loads(raw)
        keys |= set(body)
        if isinstance(body.get("officer"), dict):
            keys |= {f"officer.{key}" for key in body["officer"]}
    keys |= {f.name for f in fields(messages.Rating)} | {f.name for f in fields(messages.Status)}
    return keys


@pytest.mark.parametrize("key", sorted(payload_keys()))
def test_every_payload_field_is_documented(key):
    assert documented(key)


def reason_codes_in_code() -> set[str]:
    codes = set()
    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        codes |= set(re.findall(r"_Invalid\(f?\"([a-z_]+)", text))
        codes |= set(re.findall(r"ValueError\(\"([a-z_]+)[\":]", text))
        codes |= set(re.findall(r"_reject\(item, \"([a-z_]+)\"", text))
    return codes


def test_the_scan_finds_reason_codes_at_all():
    assert {"invalid_json", "unknown_device", "missing_field"} <= reason_codes_in_code()


@pytest.mark.parametrize("code", sorted(reason_codes_in_code()))
def test_every_reason_code_is_documented(code):
    assert f"`{code}`" in DOC or f"`{code}:" in DOC
