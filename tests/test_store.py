"""The store: dedup, rejection with raw bytes, roster attribution, time placement, migrations."""

from __future__ import annotations

import hashlib
import json
import sqlite3

import pytest
from factories import T0, incoming, rating_bytes

from collector.ingest import recording
from collector.protocol.messages import MAX_PAYLOAD_BYTES, Rejection, parse_message
from collector.db.reader import open_reader
from collector.ratings.received import recent_rejections, totals
from collector.db.store import Store, UnknownEntity, migrate
from collector.db.schema import MIGRATIONS
from collector.ingest.recording import Incoming, record_batch, record_failure
from collector.roster.shifts import assign


def ratings(store):
    return [dict(row) for row in store.db.query("SELECT * FROM ratings ORDER BY id")]


def test_a_redelivered_rating_is_stored_once(store):
    first = record_batch(store.db, [incoming(rating_bytes())])
    again = record_batch(store.db, [incoming(rating_bytes()), incoming(rating_bytes())])
    assert first["stored"] == 1 and again == {"stored": 0, "duplicate": 2, "rejected": 0,
                                              "status": 0}
    assert len(ratings(store)) == 1
    assert totals(store.db) == {"stored": 1, "duplicate": 2, "rejected": 0}


def test_malformed_and_unknown_are_kept_with_reason_and_exact_bytes(store):
    garbage = b"\xff\xfe not json"
    outcome = record_batch(store.db, [
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
    assign(store.db, "kiosk-hk-01", "HK-0003", at=T0 + 60_000)
    record_batch(store.db, [incoming(rating_bytes(seq=1, ts=T0 + 30_000)),
                            incoming(rating_bytes(seq=2, ts=T0 + 90_000, officer="HK-0001"))])
    by_id = {row["seq"]: row for row in ratings(store)}
    # The device still showed HK-0001 after the change: the roster decides, the screen is kept.
    assert (by_id[1]["officer_id"], by_id[1]["attribution"]) == ("HK-0001", "roster")
    assert (by_id[2]["officer_id"], by_id[2]["officer_shown"]) == ("HK-0003", "HK-0001")


def test_closed_counter_falls_back_to_the_officer_shown_if_known(store):
    assign(store.db, "kiosk-hk-01", None, at=T0)
    record_batch(store.db, [incoming(rating_bytes(seq=1, ts=T0 + 10)),
                            incoming(rating_bytes(seq=2, ts=T0 + 20, officer="NOBODY"))])
    by_id = {row["seq"]: row for row in ratings(store)}
    assert (by_id[1]["officer_id"], by_id[1]["attribution"]) == ("HK-0001", "device")
    assert (by_id[2]["officer_id"], by_id[2]["attribution"]) == (None, "none")


def test_unsynced_press_is_placed_by_the_boot_status(store):
    status = {"v": 1, "device": "kiosk-hk-01", "state": "online", "fw": "0.1.0", "boot": 9,
              "uptime_ms": 60_000, "mem_free": 1, "rssi": None, "queue": 0, "filtered": 0,
              "dropped": 0}
    record_batch(store.db, [
        incoming(json.dumps(status).encode(), kind="status", received_at=T0),
        incoming(rating_bytes(boot=9, seq=1, ts=None), received_at=T0 + 999_999)])
    row = ratings(store)[0]
    assert (row["pressed_at"], row["time_source"]) == (T0 - 55_000, "uptime")


def test_last_will_keeps_last_known_figures(store):
    online = {"v": 1, "device": "kiosk-hk-01", "state": "online", "fw": "0.1.0", "boot": 9,
              "uptime_ms": 1, "mem_free": 1, "rssi": -50, "queue": 3, "filtered": 2,
              "dropped": 0}
    record_batch(store.db, [incoming(json.dumps(online).encode(), kind="status", received_at=T0)])
    will = b'{"v":1,"device":"kiosk-hk-01","state":"offline"}'
    record_batch(store.db, [incoming(will, kind="status", received_at=T0 + 5)])
    row = dict(next(store.db.query("SELECT * FROM device_status WHERE device_id='kiosk-hk-01'")))
    assert (row["state"], row["queue"], row["status_at"], row["last_seen"]) == \
        ("offline", 3, T0 + 5, T0 + 5)


def test_assign_refuses_unknown_officer(store):
    with pytest.raises(UnknownEntity, match="officer"):
        assign(store.db, "kiosk-hk-01", "NOBODY")


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
    monkeypatch.setattr(recording, "_record_rating", fail)
    with pytest.raises(sqlite3.OperationalError):
        record_batch(store.db, [incoming(b"not json"), incoming(rating_bytes(seq=3))])
    assert store.db.execute("SELECT count(*) FROM rejected").fetchone()[0] == 0


# --- late, replayed and oversized messages (issue 10) ------------------------------------

def online(boot=9, uptime_ms=60_000, **fields) -> bytes:
    return json.dumps({"v": 1, "device": "kiosk-hk-01", "state": "online", "fw": "0.1.0",
                       "boot": boot, "uptime_ms": uptime_ms, "mem_free": 1, "rssi": None,
                       "queue": 0, "filtered": 0, "dropped": 0, **fields}).encode()


def status_row(store):
    return dict(next(store.db.query("SELECT * FROM device_status WHERE device_id = ?",
                                    ["kiosk-hk-01"])))


def unsynced_press(store, seq, received_at, boot=9, uptime_ms=90_000):
    record_batch(store.db, [incoming(rating_bytes(boot=boot, seq=seq, ts=None,
                                                  uptime_ms=uptime_ms), received_at=received_at)])
    row = next(store.db.query("SELECT pressed_at, time_source FROM ratings WHERE id = ?",
                              [f"kiosk-hk-01:{boot}:{seq}"]))
    return row["pressed_at"], row["time_source"]


def test_a_retained_status_is_counted_and_changes_nothing(store):
    record_batch(store.db, [incoming(online(), kind="status", received_at=T0)])
    before = status_row(store)
    replayed = Incoming("hailong/v1/devices/kiosk-hk-01/status", online(uptime_ms=1),
                        T0 + 7_200_000, parse_message("hailong/v1/devices/kiosk-hk-01/status",
                                                      online(uptime_ms=1)), retained=True)
    assert record_batch(store.db, [replayed]) == {"stored": 0, "duplicate": 0, "rejected": 0,
                                              "status": 1}
    assert status_row(store) == before
    assert unsynced_press(store, 1, T0 + 7_300_000) == (T0 - 60_000 + 90_000, "uptime")
    assert store.db.execute("SELECT count(*) FROM device_online_spans").fetchone()[0] == 1


def test_a_retained_status_alone_anchors_nothing(store):
    replayed = Incoming("hailong/v1/devices/kiosk-hk-01/status", online(), T0,
                        parse_message("hailong/v1/devices/kiosk-hk-01/status", online()),
                        retained=True)
    record_batch(store.db, [replayed])
    assert unsynced_press(store, 1, T0 + 5_000) == (T0 + 5_000, "received")
    assert store.db.execute("SELECT count(*) FROM device_online_spans").fetchone()[0] == 0


def test_a_status_from_a_backlog_does_not_move_the_anchor_later(store):
    record_batch(store.db, [incoming(online(uptime_ms=60_000), kind="status", received_at=T0)])
    # The next status of the boot, two hours in a broker's queue: it arrives late.
    late = T0 + 7_200_000
    record_batch(store.db, [incoming(online(uptime_ms=120_000), kind="status", received_at=late)])
    # It sits where its uptime puts it, not at its arrival.
    assert status_row(store)["online_status_at"] == T0 + 60_000
    assert status_row(store)["last_seen"] == T0 + 60_000
    assert unsynced_press(store, 1, late + 1) == (T0 - 60_000 + 90_000, "uptime")


def test_a_less_delayed_status_moves_the_epoch_earlier(store):
    record_batch(store.db, [incoming(online(uptime_ms=60_000), kind="status", received_at=T0)])
    record_batch(store.db, [incoming(online(uptime_ms=120_000), kind="status",
                                     received_at=T0 + 59_000)])
    assert unsynced_press(store, 1, T0 + 60_000) == (T0 - 61_000 + 90_000, "uptime")


def test_an_older_status_keeps_the_newer_figures(store):
    record_batch(store.db, [incoming(online(uptime_ms=120_000, queue=0), kind="status",
                                     received_at=T0)])
    record_batch(store.db, [incoming(online(uptime_ms=60_000, queue=9), kind="status",
                                     received_at=T0 + 1_000)])  # sent before, delivered after
    assert (status_row(store)["queue"], status_row(store)["uptime_ms"]) == (0, 120_000)


def test_a_device_clock_far_ahead_is_not_trusted(store):
    record_batch(store.db, [incoming(online(uptime_ms=60_000), kind="status", received_at=T0)])
    ahead = T0 + 40 * 86_400_000
    record_batch(store.db, [incoming(rating_bytes(boot=9, seq=1, ts=ahead, uptime_ms=90_000),
                                     received_at=T0 + 31_000)])
    row = ratings(store)[0]
    assert (row["pressed_at"], row["time_source"], row["device_ts"]) == \
        (T0 + 30_000, "uptime", ahead)


def test_an_oversized_payload_keeps_a_prefix_its_length_and_digest(store):
    big = b'{"v":1,"pad":"' + b"x" * 70_000 + b'"}'
    record_batch(store.db, [incoming(big)])
    row = dict(next(store.db.query("SELECT * FROM rejected")))
    assert row["reason"] == "too_large"
    assert row["payload"] == big[:MAX_PAYLOAD_BYTES]
    assert (row["payload_size"], row["payload_sha256"]) == (len(big),
                                                            hashlib.sha256(big).hexdigest())


def test_a_cut_payload_keeps_the_length_and_digest_it_came_with(store):
    cut = Incoming("hailong/v1/devices/kiosk-hk-01/rating", b"x" * MAX_PAYLOAD_BYTES, T0,
                   Rejection("too_large", "kiosk-hk-01"), size=5_000_000, sha256="ab" * 32)
    record_batch(store.db, [cut])
    row = dict(next(store.db.query("SELECT * FROM rejected")))
    assert (row["payload_size"], row["payload_sha256"]) == (5_000_000, "ab" * 32)


def test_a_failure_is_kept_as_an_internal_error_with_the_exceptions_name(store):
    item = incoming(rating_bytes(seq=5))
    record_failure(store.db, item, UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates"))
    row = dict(next(store.db.query("SELECT * FROM rejected")))
    assert (row["reason"], row["device_id"], row["payload"]) == \
        ("internal_error:UnicodeEncodeError", "kiosk-hk-01", rating_bytes(seq=5))
    assert totals(store.db)["rejected"] == 1


def test_a_failure_whose_topic_cannot_be_stored_keeps_it_escaped(store):
    item = Incoming("hailong/v1/devices/\ud800/rating", b"{}", T0,
                    Rejection("bad_device_id", None))
    record_failure(store.db, item, UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates"))
    row = dict(next(store.db.query("SELECT * FROM rejected")))
    assert row["topic"] == "hailong/v1/devices/\\ud800/rating"


def test_an_absurd_uptime_does_not_poison_the_boots_epoch(store):
    record_batch(store.db, [incoming(online(uptime_ms=2**53 - 1), kind="status", received_at=T0)])
    assert unsynced_press(store, 1, T0 + 5_000) == (T0 + 5_000, "received")
    record_batch(store.db, [incoming(online(uptime_ms=60_000), kind="status", received_at=T0)])
    assert unsynced_press(store, 2, T0 + 40_000) == (T0 - 60_000 + 90_000, "uptime")


def test_a_redelivered_rejection_already_kept_is_a_duplicate(store):
    first = incoming(b"not json")
    again = Incoming(first.topic, first.payload, T0 + 9_000, first.parsed, redelivered=True)
    assert record_batch(store.db, [first])["rejected"] == 1
    assert record_batch(store.db, [again]) == {"stored": 0, "duplicate": 1, "rejected": 0,
                                           "status": 0}
    # Without the broker's DUP flag the same bytes are a new message, kept again.
    assert record_batch(store.db, [first])["rejected"] == 1
    assert store.db.execute("SELECT count(*) FROM rejected").fetchone()[0] == 2
    fresh = Incoming(first.topic, b"other", T0, first.parsed, redelivered=True)
    assert record_batch(store.db, [fresh])["rejected"] == 1


def test_a_rejected_retained_status_replayed_at_each_connect_is_kept_once(store):
    """A retired device's last will stays retained on the broker and comes again at every
    subscribe: one row in `rejected`, then duplicates, not a row per collector reconnect."""
    topic = "hailong/v1/devices/kiosk-zz-99/status"
    will = b'{"v":1,"device":"kiosk-zz-99","state":"offline"}'
    outcomes = [record_batch(store.db, [Incoming(topic, will, T0 + n, parse_message(topic, will),
                                                 retained=True)]) for n in range(3)]
    assert [o["rejected"] for o in outcomes] == [1, 0, 0]
    assert [o["duplicate"] for o in outcomes] == [0, 1, 1]
    assert store.db.execute("SELECT count(*) FROM rejected WHERE topic = ?",
                            [topic]).fetchone()[0] == 1
