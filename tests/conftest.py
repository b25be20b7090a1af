"""Shared fixtures: golden payloads, a real Mosquitto, seeded databases."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"
sys.path.insert(0, str(ROOT / "tests"))
# Firmware modules import as MicroPython sees them: from the firmware folder itself.
sys.path.insert(0, str(ROOT / "firmware"))
# The core tests' helpers, shared with the MicroPython runner (tests/core/runner.py).
sys.path.insert(0, str(ROOT / "tests" / "core"))

from mosquitto import Mosquitto  # noqa: E402


def golden_cases(kind: str | None = None) -> list[dict]:
    cases = []
    for path in sorted(GOLDEN.glob("*.json")):
        case = json.loads(path.read_text(encoding="utf-8"))
        case["name"] = path.stem
        if kind is None or case["kind"] == kind:
            cases.append(case)
    return cases


def golden_bytes(case: dict) -> bytes:
    if "payload" in case:
        return json.dumps(case["payload"], ensure_ascii=False, separators=(",", ":")).encode()
    if "raw" in case:
        return case["raw"].encode("utf-8")
    return bytes.fromhex(case["raw_hex"])


@pytest.fixture
def mosquitto():
    broker = Mosquitto().start()
    yield broker
    broker.cleanup()


@pytest.fixture
def seeded_db(tmp_path):
    from collector.demo.seed import seed_demo
    from collector.db.store import Store
    path = tmp_path / "hailong.db"
    store = Store(path)
    seed_demo(store, 4)
    store.close()
    return path


@pytest.fixture
def store(seeded_db):
    """The seeded database's writer, closed after the test."""
    from collector.db.store import Store
    store = Store(seeded_db)
    yield store
    store.close()
