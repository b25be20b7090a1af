"""Wire codec for protocol v1 (docs/protocol.md): topics, encoders, decoders.

Encoders turn plain values into compact UTF-8 JSON bytes with every field of the protocol
tables (optional rating fields present as null). Decoders validate what the collector sends
(assignment, command, session, ack) and raise ValueError(reason_code) with exactly the reason
codes of the protocol's table, so the device can count and ignore bad messages.

Constraints: MicroPython compatible (json only; no typing, no dataclasses). Encoding runs in
the send path, never in the button path.
"""

import json

try:
    from micropython import const
except ImportError:  # CPython host
    def const(x):
        return x

from kiosk import FW_VERSION

PROTOCOL_VERSION = const(1)
MAX_PAYLOAD = const(1024)
TOPIC_PREFIX = "hailong/v1/devices/"

SCALES = (3, 4, 5)
EXCLUDED_REASONS = ("cooldown", "no_session")
RATING_REASONS = ("attitude", "waiting", "guidance", "other")
COMMANDS = ("reload_config", "show_message")
ASSIGNMENT_STATES = ("open", "closed")
DEFAULT_MESSAGE_SECONDS = const(10)


def _make_dumps():
    # CPython escapes non-ASCII unless told not to; MicroPython's json has no ensure_ascii
    # (it always writes UTF-8 as is) and only knows `separators`. Decide once at import.
    try:
        json.dumps("", separators=(",", ":"), ensure_ascii=False)

        def dumps(obj):
            return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    except TypeError:
        try:
            json.dumps("", separators=(",", ":"))

            def dumps(obj):
                return json.dumps(obj, separators=(",", ":"))
        except TypeError:
            # Very old MicroPython without `separators`: still valid JSON, only not compact.
            dumps = json.dumps
    return dumps


_dumps = _make_dumps()


_ID_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-"


def valid_device_id(device):
    """True when `device` matches ^[a-z0-9][a-z0-9-]{1,31}$ (no `re`: keeps the core small)."""
    if type(device) is not str or not 2 <= len(device) <= 32 or device[0] == "-":
        return False
    for ch in device:
        if ch not in _ID_CHARS:
            return False
    return True


def topic(device, kind):
    """Topic of `kind` (rating, status, assignment, command, session, ack) for `device`."""
    return TOPIC_PREFIX + device + "/" + kind


def rating_id(device, boot, seq):
    """Globally unique rating id `{device}:{boot}:{seq}` (protocol: rating.id)."""
    return device + ":" + str(boot) + ":" + str(seq)


def encode_rating(device, boot, seq, level, scale, officer, uptime_ms, ts,
                  excluded=None, reason=None, dossier=None, fw=FW_VERSION):
    """Rating payload bytes. `ts` is unix ms or None when the clock was not synced."""
    return _dumps({
        "v": PROTOCOL_VERSION,
        "id": rating_id(device, boot, seq),
        "device": device,
        "boot": boot,
        "seq": seq,
        "level": level,
        "scale": scale,
        "officer": officer,
        "uptime_ms": uptime_ms,
        "ts": ts,
        "fw": fw,
        "reason": reason,
        "dossier": dossier,
        "excluded": excluded,
    }).encode("utf-8")


def encode_status(device, boot, uptime_ms, mem_free, rssi, queue, filtered, dropped,
                  ignored=0, fw=FW_VERSION):
    """Online status payload bytes (published retained on connect and every 60 s)."""
    return _dumps({
        "v": PROTOCOL_VERSION,
        "device": device,
        "state": "online",
        "fw": fw,
        "boot": boot,
        "uptime_ms": uptime_ms,
        "mem_free": mem_free,
        "rssi": rssi,
        "queue": queue,
        "filtered": filtered,
        "dropped": dropped,
        "ignored": ignored,
    }).encode("utf-8")


def offline_will(device):
    """Last-will payload bytes: only v, device and state (protocol: status)."""
    return _dumps({"v": PROTOCOL_VERSION, "device": device, "state": "offline"}).encode("utf-8")


# --- decoding (collector -> device) ---------------------------------------------------------

def _load_object(payload):
    # The reason order follows the protocol table: size is checked first (the collector does
    # the same), then UTF-8/JSON, then the object shape and version.
    if len(payload) > MAX_PAYLOAD:
        raise ValueError("too_large")
    try:
        text = payload.decode("utf-8") if isinstance(payload, (bytes, bytearray)) else payload
        obj = json.loads(text)
    except (ValueError, UnicodeError):
        # json errors are ValueError on both runtimes; bad UTF-8 is UnicodeError.
        raise ValueError("invalid_json")
    if not isinstance(obj, dict):
        raise ValueError("not_an_object")
    v = obj.get("v")
    if type(v) is not int or v != PROTOCOL_VERSION:
        # `type(...) is int` rejects booleans, which are ints to isinstance.
        raise ValueError("unsupported_version")
    return obj


def _require(obj, name, prefix=""):
    if name not in obj:
        raise ValueError("missing_field:" + prefix + name)
    return obj[name]


def _check_str(value, name, max_len, min_len=0):
    if type(value) is not str:
        raise ValueError("bad_type:" + name)
    if len(value) > max_len or len(value) < min_len:
        raise ValueError("out_of_range:" + name)
    return value


INT31_MAX = 2147483647  # boot and seq: 0 ... 2**31 - 1 (protocol: rating)


def _check_int(value, name, lo, hi):
    if type(value) is not int:
        raise ValueError("bad_type:" + name)
    if value < lo or value > hi:
        raise ValueError("out_of_range:" + name)
    return value


def decode_assignment(payload):
    """Validate an assignment payload; return a dict with state, counter, scale, officer.

    `officer` is None or a dict with id, name, title, unit. Raises ValueError(reason).
    """
    obj = _load_object(payload)
    state = _check_str(_require(obj, "state"), "state", 16)
    if state not in ASSIGNMENT_STATES:
        raise ValueError("out_of_range:state")
    counter = _check_str(_require(obj, "counter"), "counter", 40)
    scale = _check_int(_require(obj, "scale"), "scale", 3, 5)
    officer = obj.get("officer")
    if officer is None:
        if state == "open":
            # The protocol makes the officer required when the counter is open; null counts
            # as missing.
            raise ValueError("missing_field:officer")
    else:
        if not isinstance(officer, dict):
            raise ValueError("bad_type:officer")
        officer = {
            "id": _check_str(_require(officer, "id", "officer."), "officer.id", 32),
            "name": _check_str(_require(officer, "name", "officer."), "officer.name", 60),
            "title": _check_str(_require(officer, "title", "officer."), "officer.title", 60),
            "unit": _check_str(_require(officer, "unit", "officer."), "officer.unit", 80),
        }
    return {"state": state, "counter": counter, "scale": scale, "officer": officer}


def decode_command(payload):
    """Validate a command payload; return {"cmd", "text", "seconds"}. Raises ValueError."""
    obj = _load_object(payload)
    cmd = _check_str(_require(obj, "cmd"), "cmd", 32)
    if cmd not in COMMANDS:
        raise ValueError("out_of_range:cmd")
    text = None
    if cmd == "show_message":
        text = _check_str(_require(obj, "text"), "text", 120)
    elif "text" in obj and obj["text"] is not None:
        text = _check_str(obj["text"], "text", 120)
    seconds = DEFAULT_MESSAGE_SECONDS
    if "seconds" in obj and obj["seconds"] is not None:
        seconds = _check_int(obj["seconds"], "seconds", 1, 600)
    return {"cmd": cmd, "text": text, "seconds": seconds}


_DOSSIER_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._/-"
SESSION_ACTIONS = ("open", "close")


def decode_session(payload):
    """Validate a session payload; return {"action", "dossier", "seconds"}. Raises ValueError.

    `dossier` and `seconds` are None for "close"; `seconds` is None when the sender left the
    session's lifetime to the device's configuration.
    """
    obj = _load_object(payload)
    action = _check_str(_require(obj, "action"), "action", 16)
    if action not in SESSION_ACTIONS:
        raise ValueError("out_of_range:action")
    if action == "close":
        return {"action": action, "dossier": None, "seconds": None}
    dossier = _check_str(_require(obj, "dossier"), "dossier", 40, 1)
    for ch in dossier:
        if ch not in _DOSSIER_CHARS:
            raise ValueError("out_of_range:dossier")
    seconds = None
    if obj.get("seconds") is not None:
        seconds = _check_int(obj["seconds"], "seconds", 10, 86400)
    return {"action": action, "dossier": dossier, "seconds": seconds}


def decode_ack(payload):
    """Validate a confirmation from the collector; return {"boot", "seq"}. Raises ValueError.

    `seq` is the non-empty list of the rating seqs of `boot` the collector has committed, in
    ascending order without repeats (protocol: ack). A list the collector could not have
    written is refused whole: acting on part of it could delete a rating never stored.
    """
    obj = _load_object(payload)
    boot = _check_int(_require(obj, "boot"), "boot", 0, INT31_MAX)
    seqs = _require(obj, "seq")
    if type(seqs) is not list:
        raise ValueError("bad_type:seq")
    if not seqs:
        raise ValueError("out_of_range:seq")
    last = -1
    for seq in seqs:
        _check_int(seq, "seq", 0, INT31_MAX)
        if seq <= last:
            raise ValueError("out_of_range:seq")  # not ascending, or repeated
        last = seq
    return {"boot": boot, "seq": seqs}
