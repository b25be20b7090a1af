"""Pure parsing and validation of device messages (protocol v1, docs/protocol.md).

One function, `parse_message(topic, payload)`, turns what arrived from the broker into a
`Rating`, a `Status` or a `Rejection` carrying the reason code of the protocol's table. It does
no I/O and knows nothing of the registry: whether the device is known is the store's question.
The topics and the limits of both directions live here; collector/protocol/outbound.py encodes
what the collector sends to devices (assignment, command, session, ack) against the same limits.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

PROTOCOL_VERSION = 1
TOPIC_PREFIX = "hailong/v1/devices/"
MAX_PAYLOAD_BYTES = 1024
# \Z, not $: `$` also matches before a final "\n", so "kiosk-01\n" would pass `.match`
# (callers elsewhere use `.match`; the anchors make that a full match).
DEVICE_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,31}\Z")
DOSSIER_PATTERN = re.compile(r"^[A-Za-z0-9._/-]{1,40}\Z")
# Unicode's control characters, general category Cc: exactly U+0000–U+001F and U+007F–U+009F
# (fixed by Unicode's stability policy; tests/test_ingest_batch.py checks it against
# unicodedata). One regular expression instead of a category lookup per character.
CONTROL_CHARACTER = re.compile("[\x00-\x1f\x7f-\x9f]")
REASONS = ("attitude", "waiting", "guidance", "other")
EXCLUSIONS = ("cooldown", "no_session")
SCALES = (3, 4, 5)
MAX_INT32 = 2**31 - 1
MAX_SAFE_INT = 2**53 - 1
# Wall-clock bounds: anything earlier is an unset RTC (or seconds sent as ms), anything later
# is garbage; both mean "the device clock is not to be trusted", which the sender must say as null.
TS_MIN_MS = 1577836800000  # 2020-01-01T00:00:00Z
TS_MAX_MS = 4102444800000  # 2100-01-01T00:00:00Z
INBOUND_KINDS = ("rating", "status")
OUTBOUND_KINDS = ("assignment", "command", "session", "ack")
# An ack lists at most this many seqs (and never more than MAX_PAYLOAD_BYTES): the device
# decodes it in a fixed budget (docs/protocol.md, "ack").
ACK_MAX_SEQS = 100
COMMANDS = ("reload_config", "show_message")


@dataclass(frozen=True)
class Rating:
    id: str
    device: str
    boot: int
    seq: int
    level: int
    scale: int
    officer: str | None
    uptime_ms: int
    ts: int | None
    fw: str
    reason: str | None
    dossier: str | None
    excluded: str | None


@dataclass(frozen=True)
class Status:
    device: str
    state: str
    fw: str | None = None
    boot: int | None = None
    uptime_ms: int | None = None
    mem_free: int | None = None
    rssi: int | None = None
    queue: int | None = None
    filtered: int | None = None
    dropped: int | None = None
    ignored: int | None = None


@dataclass(frozen=True)
class Rejection:
    """Why a message cannot be stored. `boot` and `seq` are set for a rating whose payload
    still names them as integers in range: the collector confirms such a rating (the "ack")
    so the device stops resending what can never become valid."""
    reason: str
    device: str | None = None
    boot: int | None = None
    seq: int | None = None


class _Invalid(Exception):
    """Internal: carries a reason code out of the field checks."""


def device_topic(device: str, kind: str) -> str:
    return f"{TOPIC_PREFIX}{device}/{kind}"


def split_topic(topic: str) -> tuple[str, str]:
    """Return (device, kind) of an inbound topic or raise _Invalid with the reason code."""
    if not topic.startswith(TOPIC_PREFIX):
        raise _Invalid("unknown_topic")
    parts = topic[len(TOPIC_PREFIX):].split("/")
    if len(parts) != 2 or parts[1] not in INBOUND_KINDS:
        raise _Invalid("unknown_topic")
    if not DEVICE_ID_PATTERN.match(parts[0]):
        raise _Invalid("bad_device_id")
    return parts[0], parts[1]


def _field(obj: dict[str, Any], name: str, kind: type | tuple[type, ...], *, nullable: bool = False,
           required: bool = True) -> Any:
    if name not in obj:
        if required:
            raise _Invalid(f"missing_field:{name}")
        return None
    value = obj[name]
    if value is None:
        if nullable or not required:
            return None
        raise _Invalid(f"bad_type:{name}")
    # bool is a subclass of int in Python; JSON true is never a number on this wire.
    if isinstance(value, bool) or not isinstance(value, kind):
        raise _Invalid(f"bad_type:{name}")
    return value


def _int(obj: dict[str, Any], name: str, low: int, high: int, *, nullable: bool = False,
         required: bool = True) -> int | None:
    value = _field(obj, name, int, nullable=nullable, required=required)
    if value is not None and not low <= value <= high:
        raise _Invalid(f"out_of_range:{name}")
    return value


def _text(obj: dict[str, Any], name: str, low: int, high: int, *, nullable: bool = False,
          required: bool = True, choices: tuple[str, ...] | None = None,
          pattern: re.Pattern[str] | None = None) -> str | None:
    value = _field(obj, name, str, nullable=nullable, required=required)
    if value is None:
        return None
    if not low <= len(value) <= high:
        raise _Invalid(f"out_of_range:{name}")
    if choices is not None and value not in choices:
        raise _Invalid(f"out_of_range:{name}")
    if pattern is not None and not pattern.match(value):
        raise _Invalid(f"out_of_range:{name}")
    if CONTROL_CHARACTER.search(value):
        # A control character is not a name or a version, and breaks reports (XLSX) later.
        raise _Invalid(f"out_of_range:{name}")
    return value


def _refuse_constant(name: str) -> Any:
    # NaN, Infinity and -Infinity are Python's extension, not JSON (RFC 8259, section 6).
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError("number out of range")  # 1e999: JSON grammar, no double holds it
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        # Parsers disagree on which copy wins (first, last, error): evidence must read one way.
        raise _Invalid("duplicate_key")
    return obj


def _check_unicode(value: Any) -> None:
    """Every string (keys included) must encode as UTF-8: a JSON escape such as "\\ud800"
    decodes to a lone surrogate, which no database or file can store as text."""
    pending = [value]
    while pending:  # a loop, not recursion: nesting may be as deep as the payload allows
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise _Invalid("invalid_unicode") from None


# One decoder for every message (json.loads with these hooks would build one per call). It
# keeps no state between calls that could change a result.
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float,
                            object_pairs_hook=_unique_keys)


def load_json(payload: bytes) -> Any:
    """Bytes → a JSON value by RFC 8259, or _Invalid with the reason code."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise _Invalid("too_large")
    try:
        # Not json.loads: `decode` is the same parse without its check for a leading BOM,
        # which the parse refuses all the same ("\ufeff" is not JSON's whitespace).
        value = _DECODER.decode(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        # RecursionError: "[" x 1000 fits the size limit and nests deeper than the parser goes.
        raise _Invalid("invalid_json") from None
    if b"\\u" in payload:
        # Only a \u escape makes a lone surrogate: strict UTF-8 decoding refuses an encoded
        # one, so a payload without the escape needs no walk through its strings.
        _check_unicode(value)
    return value


def check_version(obj: Any) -> None:
    if not isinstance(obj, dict):
        raise _Invalid("not_an_object")
    # type() is int: true and 1.0 equal 1 in Python, and neither is the integer the wire says.
    if type(obj.get("v")) is not int or obj["v"] != PROTOCOL_VERSION:
        raise _Invalid("unsupported_version")


def decode_object(payload: bytes) -> dict[str, Any]:
    """Bytes → JSON object of protocol v1, or _Invalid with the reason code."""
    obj = load_json(payload)
    check_version(obj)
    return obj


def _check_device(obj: dict[str, Any], topic_device: str) -> str:
    device = _text(obj, "device", 2, 32, pattern=DEVICE_ID_PATTERN)
    if device != topic_device:
        raise _Invalid("device_mismatch")
    return device


def _valid_rating(obj: dict[str, Any], topic_device: str) -> Rating | None:
    """A rating that passes every check of `_parse_rating`, checked in one pass; None for
    anything else, which `_parse_rating` then checks field by field to name the first fault.
    The common case of the ingest, at a fraction of the cost (bench/ingest_ceiling.py);
    tests/test_ingest_batch.py compares both on generated and malformed messages."""
    get = obj.get
    device, boot, seq = get("device"), get("boot"), get("seq")
    scale, level, officer = get("scale"), get("level"), get("officer")
    uptime_ms, ts, fw = get("uptime_ms"), get("ts"), get("fw")
    reason, dossier, excluded = get("reason"), get("dossier"), get("excluded")
    # `type(x) is int`: JSON's integers are ints, its true and false bools (an int subclass).
    if (device != topic_device  # the topic's device already matched DEVICE_ID_PATTERN
            or type(boot) is not int or not 0 <= boot <= MAX_INT32
            or type(seq) is not int or not 0 <= seq <= MAX_INT32
            or type(scale) is not int or not SCALES[0] <= scale <= SCALES[-1]
            or type(level) is not int or not 1 <= level <= scale
            or type(uptime_ms) is not int or not 0 <= uptime_ms <= MAX_SAFE_INT
            or (ts is not None and (type(ts) is not int or not TS_MIN_MS <= ts <= TS_MAX_MS))
            or type(fw) is not str or not 1 <= len(fw) <= 16 or CONTROL_CHARACTER.search(fw)
            or (officer is not None and (type(officer) is not str or not 1 <= len(officer) <= 32
                                         or CONTROL_CHARACTER.search(officer)))
            or (reason is not None and reason not in REASONS)
            or (dossier is not None and (type(dossier) is not str
                                         or not DOSSIER_PATTERN.match(dossier)))
            or (excluded is not None and excluded not in EXCLUSIONS)
            or "officer" not in obj or "ts" not in obj  # required, even when null
            or get("id") != f"{device}:{boot}:{seq}"):  # so a text of 5 to 54 characters
        return None
    return Rating(obj["id"], device, boot, seq, level, scale, officer, uptime_ms, ts, fw,
                  reason, dossier, excluded)


def _parse_rating(obj: dict[str, Any], topic_device: str) -> Rating:
    rating = _valid_rating(obj, topic_device)
    if rating is not None:
        return rating
    rating_id = _text(obj, "id", 1, 64)
    device = _check_device(obj, topic_device)
    boot = _int(obj, "boot", 0, MAX_INT32)
    seq = _int(obj, "seq", 0, MAX_INT32)
    scale = _int(obj, "scale", min(SCALES), max(SCALES))
    level = _int(obj, "level", 1, scale)
    officer = _text(obj, "officer", 1, 32, nullable=True)
    uptime_ms = _int(obj, "uptime_ms", 0, MAX_SAFE_INT)
    ts = _int(obj, "ts", TS_MIN_MS, TS_MAX_MS, nullable=True)
    fw = _text(obj, "fw", 1, 16)
    reason = _text(obj, "reason", 1, 16, required=False, choices=REASONS)
    dossier = _text(obj, "dossier", 1, 40, required=False, pattern=DOSSIER_PATTERN)
    excluded = _text(obj, "excluded", 1, 16, required=False, choices=EXCLUSIONS)
    if rating_id != f"{device}:{boot}:{seq}":
        raise _Invalid("id_mismatch")
    return Rating(rating_id, device, boot, seq, level, scale, officer, uptime_ms, ts, fw,
                  reason, dossier, excluded)


def _parse_status(obj: dict[str, Any], topic_device: str) -> Status:
    device = _check_device(obj, topic_device)
    state = _text(obj, "state", 1, 16, choices=("online", "offline"))
    if state == "offline":
        return Status(device=device, state=state)
    return Status(
        device=device,
        state=state,
        fw=_text(obj, "fw", 1, 16),
        boot=_int(obj, "boot", 0, MAX_INT32),
        uptime_ms=_int(obj, "uptime_ms", 0, MAX_SAFE_INT),
        mem_free=_int(obj, "mem_free", 0, MAX_SAFE_INT),
        rssi=_int(obj, "rssi", -127, 0, nullable=True),
        queue=_int(obj, "queue", 0, MAX_SAFE_INT),
        filtered=_int(obj, "filtered", 0, MAX_SAFE_INT),
        dropped=_int(obj, "dropped", 0, MAX_SAFE_INT),
        ignored=_int(obj, "ignored", 0, MAX_SAFE_INT, required=False),
    )


def _readable_id(obj: Any) -> tuple[int | None, int | None]:
    """(boot, seq) of a rejected rating when both are integers in range, else (None, None)."""
    if not isinstance(obj, dict):
        return None, None
    boot, seq = obj.get("boot"), obj.get("seq")
    if all(type(value) is int and 0 <= value <= MAX_INT32 for value in (boot, seq)):
        return boot, seq
    return None, None


def parse_message(topic: str, payload: bytes) -> Rating | Status | Rejection:
    """Parse one inbound message; never raises for bad input, returns a Rejection instead."""
    device = kind = obj = None
    try:
        device, kind = split_topic(topic)
        obj = load_json(payload)
        check_version(obj)
        if kind == "rating":
            return _parse_rating(obj, device)
        return _parse_status(obj, device)
    except _Invalid as invalid:
        boot, seq = _readable_id(obj) if kind == "rating" else (None, None)
        return Rejection(reason=str(invalid), device=device, boot=boot, seq=seq)
