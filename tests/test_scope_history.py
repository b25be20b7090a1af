"""Historical evidence stays with the unit it belonged to when it was recorded (issue 10).

A rating belongs to the unit of the counter its device stood at when pressed; a rejected
message to the unit of the device's counter when it arrived. Moving a device to another
counter, or a counter to another unit, must not hand the past to the new unit through
`GET /api/v1/ratings?device=` or `GET /api/v1/rejected`. Also: the reads that scanned the
whole ratings table now use an index.
"""

from __future__ import annotations

import pytest
from accounts_support import admin_headers, as_officer, token_headers
from factories import T0, incoming, rating_bytes
from fastapi.testclient import TestClient

from collector.evaluation.workflow import records
from collector.ratings import overview, received
from collector.app import create_app
from collector.core.settings import Settings
from collector.db.store import Store, now_ms
from collector.ingest.recording import record_batch
from collector.org.registry import register_device

MIN = 60_000
MOVED_AT = T0 + 10 * MIN


def press(store, device, seq, at):
    record_batch(store.db, [incoming(rating_bytes(device=device, seq=seq, ts=at), device=device,
                                     received_at=at + 500)])
    return f"{device}:1:{seq}"


def reject(store, device, at):
    record_batch(store.db, [incoming(b"{not json", device=device, received_at=at)])


@pytest.fixture
def app(seeded_db):
    return create_app(Settings(db_path=seeded_db, broker_url=None))


@pytest.fixture
def moved_device(seeded_db):
    """kiosk-hk-01 rated twice at hk-q1 (Hoàn Kiếm), then moved to bd-q2 (Ba Đình) and rated
    once there; a rejected message before and after the move."""
    store = Store(seeded_db)
    try:
        before = [press(store, "kiosk-hk-01", seq, T0 + seq * MIN) for seq in (1, 2)]
        reject(store, "kiosk-hk-01", T0 + 3 * MIN)
        register_device(store.db, "kiosk-hk-01", "bd-q2", at=MOVED_AT)
        after = [press(store, "kiosk-hk-01", 3, MOVED_AT + 5 * MIN)]
        reject(store, "kiosk-hk-01", MOVED_AT + 6 * MIN)
    finally:
        store.close()
    return before, after


def ids(response):
    assert response.status_code == 200, response.text
    return sorted(row["id"] for row in response.json())


def test_a_moved_device_leaves_its_ratings_with_the_unit_it_stood_in(app, seeded_db,
                                                                     moved_device):
    before, after = moved_device
    hk = TestClient(app, headers=as_officer(seeded_db, "HK-0101"))
    bd = TestClient(app, headers=as_officer(seeded_db, "BD-0101"))
    admin = TestClient(app, headers=admin_headers(seeded_db))
    assert ids(hk.get("/api/v1/ratings?device=kiosk-hk-01")) == before
    assert ids(bd.get("/api/v1/ratings?device=kiosk-hk-01")) == after
    assert ids(admin.get("/api/v1/ratings?device=kiosk-hk-01")) == sorted(before + after)


def test_a_device_never_in_the_callers_units_is_refused(app, seeded_db, moved_device):
    bd = TestClient(app, headers=as_officer(seeded_db, "BD-0101"))
    refused = bd.get("/api/v1/ratings?device=kiosk-hk-02")
    assert refused.status_code == 403
    assert "hk" not in refused.json()["detail"].replace("kiosk-hk-02", "")


def test_a_counter_moved_to_another_unit_keeps_its_past_in_the_old_one(app, seeded_db):
    """A counter handed to another ward (wards were merged in 2025): what was pressed there
    before is the old ward's evidence, what comes after the new one's."""
    yesterday = now_ms() - 86_400_000
    store = Store(seeded_db)
    try:
        register_device(store.db, "kiosk-hk-09", "hk-q2", at=yesterday)
        old = [press(store, "kiosk-hk-09", 1, yesterday + 60 * MIN)]
    finally:
        store.close()
    admin = TestClient(app, headers=admin_headers(seeded_db))
    assert admin.patch("/api/v1/counters/hk-q2", json={"unit_id": "bd-1c"}).status_code == 200
    store = Store(seeded_db)
    try:
        new = [press(store, "kiosk-hk-09", 2, T0 + 30 * MIN)]
    finally:
        store.close()
    hk = TestClient(app, headers=as_officer(seeded_db, "HK-0101"))
    bd = TestClient(app, headers=as_officer(seeded_db, "BD-0101"))
    assert ids(hk.get("/api/v1/ratings?device=kiosk-hk-09")) == old
    assert ids(bd.get("/api/v1/ratings?device=kiosk-hk-09")) == new


def test_rejected_messages_stay_with_the_unit_the_device_stood_in(app, seeded_db, moved_device):
    hk_tech = TestClient(app, headers=token_headers(seeded_db, "kt.hk", "technician",
                                                    unit="hk"))
    bd_tech = TestClient(app, headers=token_headers(seeded_db, "kt.bd", "technician",
                                                    unit="bd"))
    seen_hk = hk_tech.get("/api/v1/rejected").json()
    seen_bd = bd_tech.get("/api/v1/rejected").json()
    assert [r["received_at"] for r in seen_hk] == [T0 + 3 * MIN]
    assert [r["received_at"] for r in seen_bd] == [MOVED_AT + 6 * MIN]
    # The limit counts what the caller may see, not what it may not.
    assert len(bd_tech.get("/api/v1/rejected?limit=1").json()) == 1


# --- the reads that scanned the ratings table --------------------------------------------------

def plans(db, run):
    """EXPLAIN QUERY PLAN of every statement `run(db)` executes."""
    statements: list[str] = []
    db.conn.set_trace_callback(statements.append)
    try:
        run(db)
    finally:
        db.conn.set_trace_callback(None)
    return {sql: [row[3] for row in db.execute("EXPLAIN QUERY PLAN " + sql)]
            for sql in statements if sql.lstrip().upper().startswith("SELECT")}


def full_scans(db, run, table):
    return [(sql, step) for sql, steps in plans(db, run).items() for step in steps
            if step.startswith(f"SCAN {table}") and "INDEX" not in step]


@pytest.mark.parametrize("run", [
    lambda db: overview.officers_overview(db, "2026-03"),
    lambda db: received.recent_ratings(db, limit=50),
], ids=["overview", "recent ratings"])
def test_the_overview_and_recent_ratings_use_an_index(store, run):
    assert full_scans(store.db, run, "ratings") == []


def test_recent_ratings_need_no_sort_of_the_table(store):
    steps = [step for steps in plans(store.db, lambda db: received.recent_ratings(db)).values()
             for step in steps]
    assert not [step for step in steps if "TEMP B-TREE" in step]


def test_a_units_officers_are_found_by_index(store):
    run = lambda db: records.evaluation_unit_officers(db, {"hk-1c"}, "2026-03")  # noqa: E731
    assert full_scans(store.db, run, "officers") == []
