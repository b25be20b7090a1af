"""Generated device messages for the live ingest fuzzer, each with the outcome it must get.

A seeded generator (random.Random: the same seed gives the same messages, so a failure is
reproduced by its seed) that mixes valid ratings and statuses with every case of the
protocol's table of malformed messages (docs/protocol.md, "What the collector does with
malformed messages") and the cases of issue 10: lone surrogates in any string field or key,
bytes that are not UTF-8, NaN/Infinity/1e999 in any number, `[` × 1000 and other deep
nesting, `"v":1.0`, trailing newlines and control characters in ids, dossiers and texts,
payloads from 1 KB to 64 KB, wrong types, values out of range, missing fields, repeated keys,
topics whose device is not an id, unknown devices, retained statuses (poison ones included),
redeliveries, device clocks far in the future, and the golden payloads of tests/golden.

Each `Case` says what the collector must do with it: `stored`, `duplicate`, `status`, or
`rejected` with the reason codes the protocol allows for it (a single fault per message, so
the reason is the fault's), or `broker_refused` when its packet is larger than the broker's
`max_packet_size`: the broker closes the sender's connection and it never reaches the
collector.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

PREFIX = "hailong/v1/devices/"
GOLDEN = Path(__file__).resolve().parent.parent / "tests" / "golden"
MAX_PAYLOAD = 1024
DAY_MS = 86_400_000


@dataclass(frozen=True)
class Case:
    name: str
    topic: str
    payload: bytes
    outcome: str  # stored | duplicate | status | rejected | broker_refused
    reasons: frozenset[str] = frozenset()
    retain: bool = False
    rating_id: str | None = None


def packet_size(topic: str, payload: bytes) -> int:
    """Bytes of the QoS 1 PUBLISH packet carrying payload (MQTT 3.1.1, 3.3)."""
    remaining = 2 + len(topic.encode("utf-8")) + 2 + len(payload)
    length_bytes = 1 + (remaining >= 128) + (remaining >= 16384) + (remaining >= 2097152)
    return 1 + length_bytes + remaining


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _swap(obj: dict[str, Any], field: str, raw: str) -> str:
    """The compact JSON of obj with field's value written as the raw JSON text `raw`."""
    marker = "\u2603MARK\u2603"
    text = dumps({**obj, field: marker})
    return text.replace(dumps(marker), raw, 1)


class Generator:
    def __init__(self, seed: int, devices: list[str], unknown: list[str],
                 broker_limit: int = 0, golden: bool = True):
        self.rng = random.Random(seed)
        self.devices = devices
        self.unknown = unknown
        self.broker_limit = broker_limit  # the broker's max_packet_size; 0: none
        self.boot = {d: self.rng.randrange(1, 1000) for d in devices + unknown}
        self.seq = {d: 0 for d in devices + unknown}
        self.stored_ids: set[str] = set()
        self.valid: list[tuple[str, bytes, str]] = []  # (topic, payload, id) of good ratings
        self.now = int(time.time() * 1000)
        self._device = devices[0]  # the device of the last message made
        self.golden = self._golden() if golden else []
        kinds: list[tuple[float, Callable[[], Case]]] = [
            (34, self.valid_rating), (8, self.duplicate), (8, self.status),
            (3, self.retained_status), (6, self.lone_surrogate), (2, self.not_utf8),
            (5, self.non_finite), (3, self.deep), (3, self.version), (4, self.newline),
            (3, self.control), (2, self.oversized), (7, self.wrong_value), (3, self.missing),
            (2, self.not_object), (2, self.broken_json), (2, self.duplicate_key),
            (2, self.mismatch), (2, self.unknown_device), (2, self.bad_topic),
            (2, self.future), (1, self.bad_status), (1, self.soup),
            (1 if self.golden else 0, self.golden_case),
        ]
        self._weights = [w for w, _ in kinds]
        self._makers = [m for _, m in kinds]

    def __next__(self) -> Case:
        return self.rng.choices(self._makers, self._weights)[0]()

    def __iter__(self):
        return self

    # --- building blocks -----------------------------------------------------------------

    def _rating(self, device: str | None = None) -> dict[str, Any]:
        rng = self.rng
        device = device or rng.choice(self.devices)
        self._device = device
        seq = self.seq[device]
        self.seq[device] = seq + 1
        boot = self.boot[device]
        scale = rng.choice((3, 4, 4, 4, 5))
        obj: dict[str, Any] = {
            "v": 1, "id": f"{device}:{boot}:{seq}", "device": device, "boot": boot,
            "seq": seq, "level": rng.randint(1, scale), "scale": scale,
            "officer": rng.choice((None, "HK-0001", "BD-0003", "Nguyễn-01")),
            "uptime_ms": rng.randrange(0, 2**40),
            "ts": rng.choice((None, self.now - rng.randrange(0, 30 * DAY_MS))),
            "fw": rng.choice(("0.1.0", "0.2.0", "1.0.0-rc1")),
        }
        if rng.random() < 0.3:
            obj["reason"] = rng.choice(("attitude", "waiting", "guidance", "other", None))
        if rng.random() < 0.3:
            obj["dossier"] = rng.choice(("H26.1125.0007", "000.00.12.H26-251125-0001", None))
        if rng.random() < 0.2:
            obj["excluded"] = rng.choice(("cooldown", "no_session", None))
        return obj

    def _status(self, device: str | None = None) -> dict[str, Any]:
        rng = self.rng
        device = device or rng.choice(self.devices)
        self._device = device
        if rng.random() < 0.15:
            return {"v": 1, "device": device, "state": "offline"}
        return {"v": 1, "device": device, "state": "online", "fw": "0.2.0",
                "boot": self.boot[device], "uptime_ms": rng.randrange(0, 2**32),
                "mem_free": rng.randrange(0, 200_000), "rssi": rng.choice((None, -60, -127, 0)),
                "queue": rng.randrange(0, 2000), "filtered": rng.randrange(0, 99),
                "dropped": 0, "ignored": rng.randrange(0, 9)}

    @staticmethod
    def topic(device: str, kind: str = "rating") -> str:
        return f"{PREFIX}{device}/{kind}"

    def _bad(self, name: str, obj: dict[str, Any], payload: str | bytes, *reasons: str,
             kind: str = "rating", retain: bool = False) -> Case:
        """A message that must be rejected, on the topic of the device `obj` was made for
        (before any mutation of its fields)."""
        data = payload.encode("utf-8", "surrogatepass") if isinstance(payload, str) else payload
        return Case(name, self.topic(self._device, kind), data, "rejected",
                    frozenset(reasons), retain)

    def _sized(self, case: Case) -> Case:
        if self.broker_limit and packet_size(case.topic, case.payload) > self.broker_limit:
            return Case(case.name, case.topic, case.payload, "broker_refused",
                        case.reasons, case.retain)
        return case

    # --- valid traffic -------------------------------------------------------------------

    def valid_rating(self, obj: dict[str, Any] | None = None, name: str = "valid") -> Case:
        obj = obj or self._rating()
        payload = dumps(obj).encode()
        topic = self.topic(obj["device"])
        self.valid.append((topic, payload, obj["id"]))
        del self.valid[:-500]
        return Case(name, topic, payload, "stored", rating_id=obj["id"])

    def duplicate(self) -> Case:
        if not self.valid:
            return self.valid_rating()
        topic, payload, rating_id = self.rng.choice(self.valid)
        if self.rng.random() < 0.3:  # the same id with other content is still that rating
            obj = json.loads(payload)
            obj["level"] = 1
            obj["scale"] = 3
            payload = dumps(obj).encode()
        return Case("duplicate", topic, payload, "duplicate", rating_id=rating_id)

    def future(self) -> Case:
        obj = self._rating()
        obj["ts"] = self.rng.choice((self.now + 40 * DAY_MS, 4102444799999, self.now + 60_000))
        return self.valid_rating(obj, "future_ts")

    def status(self, retain: bool = False, name: str = "status") -> Case:
        obj = self._status()
        return Case(name, self.topic(obj["device"], "status"), dumps(obj).encode(), "status",
                    retain=retain)

    def retained_status(self) -> Case:
        if self.rng.random() < 0.5:
            return self.status(retain=True, name="retained_status")
        bad = self.rng.choice((self.lone_surrogate, self.non_finite, self.control,
                               self.bad_status))
        case = bad(kind="status")
        return Case("retained_" + case.name, case.topic, case.payload, case.outcome,
                    case.reasons, True)

    # --- text that is not text -----------------------------------------------------------

    def lone_surrogate(self, kind: str = "rating") -> Case:
        rng = self.rng
        obj = self._rating() if kind == "rating" else self._status()
        escape = rng.choice(("\\ud800", "\\udc00", "\\udfff\\ud800", "x\\udbff", "\\ud83d"))
        fields = [f for f, v in obj.items() if isinstance(v, str) or v is None]
        if rng.random() < 0.2:
            text = dumps(obj)[:-1] + f',"{escape}k":1}}'  # in a key
            return self._bad("lone_surrogate:key", obj, text, "invalid_unicode", kind=kind)
        field = rng.choice(fields)
        return self._bad(f"lone_surrogate:{field}", obj, _swap(obj, field, f'"{escape}"'),
                         "invalid_unicode", kind=kind)

    def not_utf8(self) -> Case:
        obj = self._rating()
        raw = self.rng.choice((b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80",
                               b"\xc0\xaf"))
        text = _swap(obj, "fw", '"FWBYTES"').encode()
        return self._bad("not_utf8", obj, text.replace(b"FWBYTES", raw), "invalid_json")

    def non_finite(self, kind: str = "rating") -> Case:
        obj = self._rating() if kind == "rating" else self._status()
        numeric = [f for f, v in obj.items() if isinstance(v, int) or f in ("ts", "rssi")]
        if not numeric:  # an offline will: put the number where the version goes
            numeric = ["v"]
        field = self.rng.choice(numeric)
        value = self.rng.choice(("NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1E400"))
        return self._bad(f"non_finite:{field}", obj, _swap(obj, field, value), "invalid_json",
                         kind=kind)

    def deep(self) -> Case:
        rng = self.rng
        obj = self._rating()
        choice = rng.randrange(4)
        if choice == 0:
            return self._bad("deep:[x1000", obj, "[" * rng.choice((1000, 1024)), "invalid_json")
        if choice == 1:
            return self._bad("deep:{x200", obj, '{"a":' * 200, "invalid_json")
        if choice == 2:  # closed, so valid JSON if the parser goes that deep
            n = rng.choice((100, 400, 510))
            return self._bad("deep:closed", obj, "[" * n + "]" * n, "invalid_json",
                             "not_an_object")
        n = rng.choice((50, 300))
        return self._bad("deep:in_field", obj, _swap(obj, "officer", "[" * n + "]" * n),
                         "invalid_json", "bad_type:officer", "too_large")

    # --- fields wrong in one way ---------------------------------------------------------

    def version(self) -> Case:
        obj = self._rating()
        raw = self.rng.choice(("1.0", "true", '"1"', "2", "0", "null", "1e0", "[1]"))
        return self._bad(f"version:{raw}", obj, _swap(obj, "v", raw), "unsupported_version")

    def newline(self) -> Case:
        obj = self._rating()
        field = self.rng.choice(("id", "device", "dossier", "officer", "fw", "reason"))
        if field == "dossier":
            obj["dossier"] = "H26.1125.0007\n"
        elif field == "reason":
            obj["reason"] = "waiting\n"
        else:
            obj[field] = (obj[field] or "HK-0001") + self.rng.choice(("\n", "\r\n", "\r"))
        mismatch = {"id": "id_mismatch", "device": "device_mismatch"}.get(field)
        reasons = [f"out_of_range:{field}"] + ([mismatch] if mismatch else [])
        return self._bad(f"newline:{field}", obj, dumps(obj), *reasons)

    def control(self, kind: str = "rating") -> Case:
        obj = self._rating() if kind == "rating" else self._status()
        fields: list[str] = [f for f in ("officer", "fw") if f in obj] or ["state"]
        field = self.rng.choice(fields)
        char = self.rng.choice(("\u0000", "\u001f", "\u007f", "\u0085", "\u009f", "\t"))
        obj[field] = "HK" + char + "1"
        return self._bad(f"control:{field}", obj, dumps(obj), f"out_of_range:{field}",
                         kind=kind)

    def oversized(self) -> Case:
        rng = self.rng
        obj = self._rating()
        # Clear of the broker's packet limit (8 KiB as broker-config writes it) either way.
        size = rng.choice((MAX_PAYLOAD + 1, 2048, rng.randrange(1025, 6000), 16384, 65536))
        base = dumps({**obj, "pad": ""})
        obj["pad"] = "x" * max(0, size - len(base.encode()))
        case = self._bad("oversized", obj, dumps(obj), "too_large")
        return self._sized(case)

    def wrong_value(self) -> Case:
        rng = self.rng
        obj = self._rating()
        changes: list[tuple[str, Any, str]] = [
            ("level", "4", "bad_type"), ("level", 4.0, "bad_type"), ("level", True, "bad_type"),
            ("level", 0, "out_of_range"), ("level", 9, "out_of_range"),
            ("scale", 6, "out_of_range"), ("scale", "4", "bad_type"),
            ("boot", -1, "out_of_range"), ("boot", 2**70, "out_of_range"),
            ("boot", 1.5, "bad_type"), ("seq", 2**31, "out_of_range"),
            ("seq", [1], "bad_type"), ("uptime_ms", -1, "out_of_range"),
            ("uptime_ms", 2**53, "out_of_range"), ("ts", "now", "bad_type"),
            ("ts", 10**12, "out_of_range"), ("ts", 4102444800001, "out_of_range"),
            ("officer", 5, "bad_type"), ("officer", "x" * 33, "out_of_range"),
            ("officer", "", "out_of_range"), ("fw", "", "out_of_range"),
            ("fw", None, "bad_type"), ("fw", "x" * 17, "out_of_range"),
            ("reason", "rude", "out_of_range"), ("excluded", "spam", "out_of_range"),
            ("dossier", "H26 0001", "out_of_range"), ("dossier", "x" * 41, "out_of_range"),
            ("id", None, "bad_type"), ("id", 7, "bad_type"), ("device", None, "bad_type"),
        ]
        field, value, kind = rng.choice(changes)
        obj[field] = value
        return self._bad(f"{kind}:{field}", obj, dumps(obj), f"{kind}:{field}")

    def missing(self) -> Case:
        obj = self._rating()
        field = self.rng.choice(("id", "device", "boot", "seq", "level", "scale", "officer",
                                 "uptime_ms", "ts", "fw", "v"))
        del obj[field]
        reason = "unsupported_version" if field == "v" else f"missing_field:{field}"
        return self._bad(f"missing:{field}", obj, dumps(obj), reason)

    def not_object(self) -> Case:
        obj = self._rating()
        raw = self.rng.choice(("[]", "[1,2]", '"rating"', "42", "null", "true", "-0.5",
                               f"[{dumps(obj)}]"))
        return self._bad("not_object", obj, raw, "not_an_object")

    def broken_json(self) -> Case:
        obj = self._rating()
        text = dumps(obj)
        cut = self.rng.choice((b"", text[: self.rng.randrange(1, len(text))].encode(),
                               text.replace(":", "=", 1).encode(), b"{'v':1}", b"\x00" * 8))
        return self._bad("broken_json", obj, cut, "invalid_json")

    def duplicate_key(self) -> Case:
        obj = self._rating()
        text = dumps(obj)
        key = self.rng.choice(("v", "level", "id", "device"))
        text = text[:-1] + f',"{key}":{dumps(obj[key])}}}'
        return self._bad(f"duplicate_key:{key}", obj, text, "duplicate_key")

    def mismatch(self) -> Case:
        obj = self._rating()
        if self.rng.random() < 0.5:
            other = self.rng.choice([d for d in self.devices if d != obj["device"]])
            topic = self.topic(other)
            return Case("device_mismatch", topic, dumps(obj).encode(), "rejected",
                        frozenset({"device_mismatch"}))
        obj["id"] = f"{obj['device']}:{obj['boot']}:{obj['seq'] + 1}"
        return self._bad("id_mismatch", obj, dumps(obj), "id_mismatch")

    def unknown_device(self) -> Case:
        device = self.rng.choice(self.unknown)
        if self.rng.random() < 0.3:
            obj = self._status(device)
            return self._bad("unknown_device:status", obj, dumps(obj), "unknown_device",
                             kind="status")
        obj = self._rating(device)
        return self._bad("unknown_device", obj, dumps(obj), "unknown_device")

    def bad_topic(self) -> Case:
        rng = self.rng
        device = rng.choice(("", "KIOSK-HK-01", "kiosk_hk", "k", "kiosk-é", "a" * 33, "-kiosk",
                             "kiosk hk", "kiosk-hk-01 ", "kiosk-hk-01."))
        kind = rng.choice(("rating", "status"))
        obj = self._rating() if kind == "rating" else self._status()
        return Case(f"bad_topic:{kind}", self.topic(device, kind), dumps(obj).encode(),
                    "rejected", frozenset({"bad_device_id"}))

    def bad_status(self, kind: str = "status") -> Case:
        obj = self._status()
        change = self.rng.choice((("state", "sleeping", "out_of_range:state"),
                                  ("state", None, "bad_type:state"),
                                  ("rssi", 5, "out_of_range:rssi"),
                                  ("queue", -1, "out_of_range:queue"),
                                  ("boot", None, "bad_type:boot")))
        field, value, reason = change
        if obj["state"] == "offline" and field != "state":
            obj = self._status()
            while obj["state"] == "offline":
                obj = self._status()
        obj[field] = value
        return self._bad(f"bad_status:{field}", obj, dumps(obj), reason, kind="status")

    def soup(self) -> Case:
        obj = self._rating()
        data = self.rng.randbytes(self.rng.randrange(1, 300))
        return self._bad("random_bytes", obj, data, "invalid_json", "not_an_object",
                         "unsupported_version", "invalid_unicode")

    # --- the project's own golden payloads -----------------------------------------------

    def _golden(self) -> list[dict[str, Any]]:
        cases = []
        for path in sorted(GOLDEN.glob("*.json")):
            case = json.loads(path.read_text(encoding="utf-8"))
            topic = case.get("topic", "")
            parts = topic[len(PREFIX):].split("/") if topic.startswith(PREFIX) else []
            # Only what the collector's subscriptions deliver: {device}/rating|status. A topic
            # with a control character never gets that far: Mosquitto disconnects the client
            # that publishes it (MQTT 3.1.1, 1.5.3), so it cannot reach the collector.
            if case["kind"] in ("rating", "status") and len(parts) == 2 \
                    and parts[1] in ("rating", "status") and "+" not in topic \
                    and "#" not in topic and not any(ord(c) < 32 or 127 <= ord(c) < 160
                                                     for c in topic):
                case["name"] = path.stem
                cases.append(case)
        return cases

    def golden_case(self) -> Case:
        case = self.rng.choice(self.golden)
        if "payload" in case:
            data = dumps(case["payload"]).encode()
        elif "raw" in case:
            data = case["raw"].encode("utf-8", "surrogatepass")
        else:
            data = bytes.fromhex(case["raw_hex"])
        expect = case["expect"]
        name = "golden:" + case["name"]
        if not expect["ok"]:
            return self._sized(Case(name, case["topic"], data, "rejected",
                                    frozenset({expect["reason"]})))
        if case["kind"] == "status":
            return Case(name, case["topic"], data, "status")
        rating_id = json.loads(data)["id"]
        outcome = "duplicate" if rating_id in self.stored_ids else "stored"
        self.stored_ids.add(rating_id)
        return Case(name, case["topic"], data, outcome, rating_id=rating_id)

    def golden_devices(self) -> set[str]:
        return {c["topic"][len(PREFIX):].split("/")[0] for c in self.golden}
