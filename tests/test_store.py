"""The store: dedup, rejection with raw bytes, roster attribution, time placement, migrations."""

from __future__ import annotations

import json
import sqlite3

import pytest
from factories import T0, incoming, rating_bytes

from collector.queries import open_reader, recent_rejections, totals
from collector.store import MIGRATIONS, Store, UnknownEntity, migrate


def ratings(store):
    return [dict(row) for row in store.db.query("SELECT * FROM ratings ORDER BY id")]


def test_a_redelivered_rating_is_stored_once(store):
    first = store.record_batch([incoming(rating_bytes())])
    again = store.record_batch([incoming(rating_bytes()), incoming(rating_bytes())])
    assert first["stored"] == 1 and again == {"stored": 0, "duplicate": 2, "rejected": 0,
                                              "status": 0}
    assert len(ratings(store)) == 1
    assert totals(store.db) == {"stored": 1, "duplicate": 2, "rejected": 0}


def test_malformed_and_unknown_are_kept_with_reason_and_exact_bytes(store):
    garbage = b"\xff\xfe not json"
    outcome = store.record_batch([
        incoming(garbage),
        incoming(rating_bytes(device="kiosk-zz-99"), device="kiosk-zz-99"),
        incoming(rating_bytes(seq=2)),
    ])
    assert outcome == {"stored": 1, "duplicate": 0, "rejected": 2, "status": 0}
    rows = list(store.db.query("SELECT reason, payload, device_id FROM rejected ORDER BY id"))
    assert [(r["reason"], r["payload"], r["device_id"]) for r in rows] == [
        ("invalid_json", garbage, "kiosk-hk-01"),
        ("unknown_device", rating_bytes(device="kiosk-zz-99"), "kiosk-zz-99")]
    shown = recent_rejections(store.db)
    assert shown[1]["payload_hex"] == garbage.hex()


def test_rating_goes_to_the_officer_on_the_roster_at_press_time(store):
    store.assign("kiosk-hk-01", "HK-0003", at=T0 + 60_000)
    store.record_batch([incoming(rating_bytes(seq=1, ts=T0 + 30_000)),
                        incoming(rating_bytes(seq=2, ts=T0 + 90_000, officer="HK-0001"))])
    by_id = {row["seq"]: row for row in ratings(store)}
    # The device still showed HK-0001 after the change: the roster decides, the screen is kept.
    assert (by_id[1]["officer_id"], by_id[1]["attribution"]) == ("HK-0001", "roster")
    assert (by_id[2]["officer_id"], by_id[2]["officer_shown"]) == ("HK-0003", "HK-0001")


def test_closed_counter_falls_back_to_the_officer_shown_if_known(store):
    store.assign("kiosk-hk-01", None, at=T0)
    store.record_batch([incoming(rating_bytes(seq=1, ts=T0 + 10)),
                        incoming(rating_bytes(seq=2, ts=T0 + 20, officer="NOBODY"))])
    by_id = {row["seq"]: row for row in ratings(store)}
    assert (by_id[1]["officer_id"], by_id[1]["attribution"]) == ("HK-0001", "device")
    assert (by_id[2]["officer_id"], by_id[2]["attribution"]) == (None, "none")


def test_unsynced_press_is_placed_by_the_boot_status(store):
    status = {"v": 1, "device": "kiosk-hk-01", "state": "online", "fw": "0.1.0", "boot": 9,
              "uptime_ms": 60_000, "mem_free": 1, "rssi": None, "queue": 0, "filtered": 0,
              "dropped": 0}
    store.record_batch([
        incoming(json.dumps(status).encode(), kind="status", received_at=T0),
        incoming(rating_bytes(boot=9, seq=1, ts=None), received_at=T0 + 999_999)])
    row = ratings(store)[0]
    assert (row["pressed_at"], row["time_source"]) == (T0 - 55_000, "uptime")


def test_last_will_keeps_last_known_figures(store):
    online = {"v": 1, "device": "kiosk-hk-01", "state": "online", "fw": "0.1.0", "boot": 9,
              "uptime_ms": 1, "mem_free": 1, "rssi": -50, "queue": 3, "filtered": 2,
              "dropped": 0}
    store.record_batch([incoming(json.dumps(online).encode(), kind="status", received_at=T0)])
    will = b'{"v":1,"device":"kiosk-hk-01","state":"offline"}'
    store.record_batch([incoming(will, kind="status", received_at=T0 + 5)])
    row = dict(next(store.db.query("SELECT * FROM device_status WHERE device_id='kiosk-hk-01'")))
    assert (row["state"], row["queue"], row["status_at"], row["last_seen"]) == \
        ("offline", 3, T0 + 5, T0 + 5)


def test_assign_refuses_unknown_officer(store):
    with pytest.raises(UnknownEntity, match="officer"):
        store.assign("kiosk-hk-01", "NOBODY")


def test_migrations_are_recorded_and_not_repeated(seeded_db):
    db = open_reader(seeded_db)
    assert [row["name"] for row in db["_migrations"].rows] == [name for name, _ in MIGRATIONS]
    assert len(MIGRATIONS) >= 7
    store = Store(seeded_db)
    assert migrate(store.db) == []
    store.close()


def test_a_batch_is_one_transaction(store, monkeypatch):
    """A failure late in a batch leaves nothing of it behind, so the redelivery is clean."""
    def fail(*args):
        raise sqlite3.OperationalError("disk I/O error")
    monkeypatch.setattr(store, "_record_rating", fail)
    with pytest.raises(sqlite3.OperationalError):
        store.record_batch([incoming(b"not json"), incoming(rating_bytes(seq=3))])
    assert store.db.execute("SELECT count(*) FROM rejected").fetchone()[0] == 0
