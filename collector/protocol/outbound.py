"""Pure encoding of what the collector publishes to devices (protocol v1, docs/protocol.md).

The retained `assignment` (who staffs the device's counter), a `command`, a `session` for a
session-mode device and the end-to-end confirmation `ack`. No I/O: collector/ingest/outbound.py
publishes these bytes, the API encodes commands and sessions with them before it hands them to
the ingest, and collector/fleet/screens.py draws the very assignment a device would receive.
The limits these encoders check are the protocol's (collector/protocol/messages.py), the same
ones the parser applies to what devices send.
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any, Iterable

from collector.core.texts import code_points, unsafe_characters
from collector.protocol.messages import (
    ACK_MAX_SEQS,
    COMMANDS,
    DOSSIER_PATTERN,
    MAX_INT32,
    MAX_PAYLOAD_BYTES,
    PROTOCOL_VERSION,
    SCALES,
    Rating,
    Rejection,
    Status,
    device_topic,
)


def encode_json(obj: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON: the byte budget on the device is small and Vietnamese stays readable."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def encode_assignment(*, counter: str, scale: int, officer: dict[str, str] | None) -> bytes:
    """The retained message that tells a device who staffs its counter (None: counter closed)."""
    # Composed form: the device's fonts hold precomposed Vietnamese letters, and text typed
    # with combining marks would otherwise draw as boxes (and count more characters).
    counter = unicodedata.normalize("NFC", counter)
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}")
    if len(counter) > 40:
        raise ValueError("counter label longer than 40 characters")
    body: dict[str, Any] = {"v": PROTOCOL_VERSION, "state": "open" if officer else "closed",
                            "counter": counter, "scale": scale, "officer": None}
    if officer:
        limits = {"id": 32, "name": 60, "title": 60, "unit": 80}
        fields = {key: unicodedata.normalize("NFC", officer[key]) for key in limits}
        for key, limit in limits.items():
            if not 0 < len(fields[key]) <= limit:
                raise ValueError(f"officer {key} must be 1 to {limit} characters")
        body["officer"] = fields
    return encode_json(body)


def assignment_payload(row: dict[str, Any]) -> bytes:
    """The assignment message for one device's row of the current duty roster (the keys of
    collector/roster/duty.py's `current_assignments`: counter_label, scale, officer_id,
    officer_name, officer_title, unit_name). ValueError for a row the protocol cannot carry."""
    officer = None
    if row["officer_id"]:
        officer = {"id": row["officer_id"], "name": row["officer_name"],
                   "title": row["officer_title"], "unit": row["unit_name"]}
    return encode_assignment(counter=row["counter_label"], scale=row["scale"], officer=officer)


def encode_command(cmd: str, *, text: str | None = None, seconds: int | None = None) -> bytes:
    if cmd not in COMMANDS:
        raise ValueError(f"unknown command {cmd!r}; known: {', '.join(COMMANDS)}")
    body: dict[str, Any] = {"v": PROTOCOL_VERSION, "cmd": cmd}
    if cmd == "show_message":
        if not text or len(text) > 120:
            raise ValueError("show_message needs a text of 1 to 120 characters")
        if unsafe_characters(text):
            raise ValueError(f"show_message text holds a control character "
                             f"({code_points(unsafe_characters(text))})")
        body["text"] = text
        if seconds is not None:
            if not 1 <= seconds <= 600:
                raise ValueError("seconds must be 1 to 600")
            body["seconds"] = seconds
    return encode_json(body)


def encode_session(*, dossier: str | None, seconds: int | None = None) -> bytes:
    """Open a rating for `dossier` on a session-mode device, or close it (dossier None)."""
    if dossier is None:
        return encode_json({"v": PROTOCOL_VERSION, "action": "close"})
    if not DOSSIER_PATTERN.match(dossier):
        raise ValueError("dossier must be 1 to 40 characters of A-Z a-z 0-9 . _ / -")
    if seconds is not None and not 10 <= seconds <= 86400:
        raise ValueError("seconds must be 10 to 86400")
    return encode_json({"v": PROTOCOL_VERSION, "action": "open", "dossier": dossier,
                        "seconds": seconds})


def encode_ack(boot: int, seqs: list[int]) -> list[bytes]:
    """The confirmations for ratings `{device}:{boot}:{seq}` the collector has committed:
    seqs ascending without repeats, split so each message holds at most ACK_MAX_SEQS seqs
    and MAX_PAYLOAD_BYTES bytes. The device is in the topic, not the payload."""
    if type(boot) is not int or not 0 <= boot <= MAX_INT32:
        raise ValueError("boot must be an integer 0 to 2^31-1")
    if not seqs or any(type(seq) is not int or not 0 <= seq <= MAX_INT32 for seq in seqs):
        raise ValueError("seqs must be one or more integers 0 to 2^31-1")
    ordered = sorted(set(seqs))
    messages: list[bytes] = []
    chunk: list[int] = []
    # The body's length kept as it grows (compact JSON of ints: the digits and a comma each),
    # instead of encoding it again for every seq.
    empty = len(_ack_body(boot, []))
    size = empty
    for seq in ordered:
        added = len(str(seq)) + (1 if chunk else 0)
        if chunk and (len(chunk) == ACK_MAX_SEQS or size + added > MAX_PAYLOAD_BYTES):
            messages.append(_ack_body(boot, chunk))
            chunk, size, added = [], empty, added - 1
        chunk.append(seq)
        size += added
    messages.append(_ack_body(boot, chunk))
    return messages


def _ack_body(boot: int, seqs: list[int]) -> bytes:
    return encode_json({"v": PROTOCOL_VERSION, "boot": boot, "seq": seqs})


def confirmations(committed: Iterable[Rating | Status | Rejection]) -> dict[tuple[str, int],
                                                                             list[int]]:
    """{(device, boot): [seq, ...]} of the ratings among the parsed messages `committed` that
    the collector can name: stored or duplicate ratings, and rejected ones whose topic device
    is valid and whose payload holds integer boot and seq."""
    confirmed: dict[tuple[str, int], list[int]] = {}
    for parsed in committed:
        if isinstance(parsed, Rating):
            confirmed.setdefault((parsed.device, parsed.boot), []).append(parsed.seq)
        elif isinstance(parsed, Rejection) and parsed.device is not None \
                and parsed.boot is not None and parsed.seq is not None:
            confirmed.setdefault((parsed.device, parsed.boot), []).append(parsed.seq)
    return confirmed


def ack_messages(committed: Iterable[Rating | Status | Rejection]) -> list[tuple[str, bytes]]:
    """(topic, payload) of every "ack" message that confirms the ratings among `committed`."""
    return [(device_topic(device, "ack"), payload)
            for (device, boot), seqs in confirmations(committed).items()
            for payload in encode_ack(boot, seqs)]
