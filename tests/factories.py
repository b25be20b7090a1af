"""Builders of protocol messages for the collector tests."""

from __future__ import annotations

import json

from collector.protocol.messages import parse_message
from collector.db.store import now_ms
from collector.ingest.recording import Incoming

T0 = now_ms() + 3_600_000  # after the seed's roster starts


def rating_bytes(device="kiosk-hk-01", boot=1, seq=1, level=4, officer="HK-0001", ts=T0,
                 **extra) -> bytes:
    body = {"v": 1, "id": f"{device}:{boot}:{seq}", "device": device, "boot": boot, "seq": seq,
            "level": level, "scale": 4, "officer": officer, "uptime_ms": 5_000, "ts": ts,
            "fw": "0.1.0", "reason": None, "dossier": None, "excluded": None, **extra}
    return json.dumps(body).encode()


def incoming(payload: bytes, device="kiosk-hk-01", kind="rating", received_at=None):
    """`received_at` by default: a second after the press (after T0 when it has no `ts`), as
    on the wire, where the store distrusts a device clock ahead of its own."""
    topic = f"hailong/v1/devices/{device}/{kind}"
    if received_at is None:
        try:
            ts = json.loads(payload).get("ts")
        except (ValueError, AttributeError):
            ts = None
        received_at = max(T0, ts if isinstance(ts, int) else 0) + 1000
    return Incoming(topic, payload, received_at, parse_message(topic, payload))
