"""Alert detection is crash-safe: its progress lives in the database (issue 11).

The writer commits ratings, then wakes the alert detector (collector/ingest/alerting.py); what is
left to check is whatever lies past the mark in `alert_progress`
(collector/ratings/alert_progress.py), which moves in the transaction that raises the alerts.
A collector killed between the two, or during the check, checks those ratings at its next
start; nothing is checked, nor raised, twice; an upgrade and the demo's past raise nothing.
"""

from __future__ import annotations

import sqlite3

import pytest
from factories import T0, incoming, rating_bytes
from waiting import wait_for

from collector.db.store import Store, connect
from collector.ingest.alerting import AlertDetector
from collector.ingest.recording import RATING_COLUMNS, add_past_ratings, record_batch
from collector.ratings import alert_progress, alerts
from collector.ratings.alert_rule import DEFAULT_ALERT_RULE

DEVICE = "kiosk-hk-01"
BOOT = 6262  # a boot the seeded database has no ratings of
MIN = 60_000
MIGRATION = "alerts_0001_detection_progress"


def negative_presses(count: int, first_seq: int = 1, boot: int = BOOT):
    """`count` negative presses a minute apart, the first (seq 1) at T0."""
    at = [T0 + (first_seq - 1 + n) * MIN for n in range(count)]
    return [incoming(rating_bytes(boot=boot, seq=first_seq + n, level=1, ts=at[n]),
                     received_at=at[n] + 500) for n in range(count)]


def alert_rows(path) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT id, first_at, last_at, ratings, negative FROM alerts "
                            "ORDER BY id").fetchall()


def mark(path) -> tuple[int, int]:
    """(checked_through, the highest ratings rowid)."""
    db = connect(path)
    try:
        return alert_progress.checked_through(db), alert_progress.last_stored(db)
    finally:
        db.conn.close()


def run_detector(path, **options) -> AlertDetector:
    """A collector's detector from start to stop: its round at start, then its last round."""
    detector = AlertDetector(str(path), DEFAULT_ALERT_RULE, **options)
    detector.start()
    detector.finish(10)
    assert not detector.alive()
    return detector


# --- a kill between the writer's commit and the check --------------------------------------------

def test_ratings_committed_by_a_collector_killed_before_its_check_raise_the_alert(
        store, seeded_db):
    # The writer committed the burst, and the collector died before any detector saw it.
    record_batch(store.db, negative_presses(4))
    assert alert_rows(seeded_db) == []
    checked, stored = mark(seeded_db)
    assert checked < stored
    # The next start checks exactly those ratings.
    detector = run_detector(seeded_db)
    assert detector.checked == 4 and detector.failing is None
    assert len(alert_rows(seeded_db)) == 1
    assert mark(seeded_db)[0] == stored


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_kill_during_the_check_leaves_neither_the_alert_nor_the_mark(store, seeded_db,
                                                                       monkeypatch):
    record_batch(store.db, negative_presses(4))
    real = alerts.check_after_batch

    def killed(*args):
        real(*args)  # the alert is written ...
        raise SystemExit  # ... and the thread dies before the transaction commits
    monkeypatch.setattr(alerts, "check_after_batch", killed)
    detector = AlertDetector(str(seeded_db), DEFAULT_ALERT_RULE)
    detector.start()
    wait_for(lambda: not detector.alive(), what="the detector to die in its check")
    assert alert_rows(seeded_db) == [] and mark(seeded_db)[0] < mark(seeded_db)[1]
    monkeypatch.undo()
    run_detector(seeded_db)
    assert len(alert_rows(seeded_db)) == 1


# --- nothing twice ----------------------------------------------------------------------------

def test_checked_ratings_are_not_checked_again_and_a_rerun_raises_nothing(store, seeded_db):
    batch = negative_presses(4)
    record_batch(store.db, batch)
    run_detector(seeded_db)
    raised = alert_rows(seeded_db)
    assert len(raised) == 1
    # Another start: the mark is past them.
    assert run_detector(seeded_db).checked == 0
    # The check itself over the same ratings again (a redelivery, or a round whose mark did
    # not commit) finds the burst already raised: nothing new, nothing extended.
    ids = alerts.rating_ids(batch)
    assert alerts.check_after_batch(store.db, ids, DEFAULT_ALERT_RULE, T0 + 10 * MIN) == []
    assert alert_rows(seeded_db) == raised


def test_the_burst_going_on_after_a_restart_extends_its_alert(store, seeded_db):
    record_batch(store.db, negative_presses(4))
    run_detector(seeded_db)
    record_batch(store.db, negative_presses(2, first_seq=5))
    run_detector(seeded_db)
    [(_, first_at, last_at, ratings, negative)] = alert_rows(seeded_db)
    assert (first_at, last_at, ratings, negative) == (T0, T0 + 5 * MIN, 6, 6)


# --- what the mark starts at -----------------------------------------------------------------

def test_an_upgraded_database_starts_past_its_ratings(store, seeded_db):
    record_batch(store.db, negative_presses(4))
    store.close()
    # The same database as a collector before this migration left it.
    db = connect(seeded_db)
    with db.conn:
        db.execute("DROP TABLE alert_progress")
        db.execute("DELETE FROM _migrations WHERE name = ?", [MIGRATION])
    db.conn.close()
    Store(seeded_db).close()  # the upgrade
    checked, stored = mark(seeded_db)
    assert checked == stored > 0
    assert run_detector(seeded_db).checked == 0 and alert_rows(seeded_db) == []


def test_a_new_database_starts_at_zero(tmp_path):
    Store(tmp_path / "new.db").close()
    assert mark(tmp_path / "new.db") == (0, 0)


def past_rows(count: int, boot: int):
    return [dict(zip(RATING_COLUMNS, (
        f"{DEVICE}:{boot}:{n + 1}", DEVICE, boot, n + 1, 1, 4, "HK-0001", "HK-0001", "shown",
        5_000, T0 + n * MIN, T0 + n * MIN, "device", T0 + n * MIN + 500, "0.1.0", None, None,
        None))) for n in range(count)]


def test_a_past_stored_in_bulk_raises_no_alert(store, seeded_db):
    add_past_ratings(store.db, [tuple(row.values()) for row in past_rows(6, boot=7070)])
    checked, stored = mark(seeded_db)
    assert checked == stored > 0
    assert run_detector(seeded_db).checked == 0 and alert_rows(seeded_db) == []


def test_a_past_stored_in_bulk_does_not_pass_over_ratings_waiting_for_their_check(
        store, seeded_db):
    record_batch(store.db, negative_presses(4))
    add_past_ratings(store.db, [tuple(row.values()) for row in past_rows(2, boot=7070)])
    checked, stored = mark(seeded_db)
    assert checked < stored
    assert run_detector(seeded_db).checked == 6 and len(alert_rows(seeded_db)) == 1


# --- rounds without a wake-up, and database faults -------------------------------------------

def test_a_lost_wake_up_only_delays_the_check(store, seeded_db):
    detector = AlertDetector(str(seeded_db), DEFAULT_ALERT_RULE, poll_s=0.1)
    detector.start()
    try:
        record_batch(store.db, negative_presses(4))  # committed; nobody calls submit
        wait_for(lambda: len(alert_rows(seeded_db)) == 1, what="the alert from a timed round")
    finally:
        detector.finish(10)


def test_a_database_fault_leaves_the_mark_for_the_next_round(store, seeded_db, monkeypatch):
    real = alerts.check_after_batch
    faults = []

    def locked(*args):
        if not faults:
            faults.append(1)
            raise sqlite3.OperationalError("database is locked")
        return real(*args)
    monkeypatch.setattr(alerts, "check_after_batch", locked)
    record_batch(store.db, negative_presses(4))
    detector = AlertDetector(str(seeded_db), DEFAULT_ALERT_RULE, poll_s=0.2)
    detector.start()
    try:
        wait_for(lambda: faults, what="the fault")
        wait_for(lambda: len(alert_rows(seeded_db)) == 1, what="the alert from the next round")
        wait_for(lambda: detector.failing is None, what="the detector well again")
        assert detector.checked == 4
    finally:
        detector.finish(10)


def test_a_check_that_fails_passes_over_its_ratings(store, seeded_db, monkeypatch):
    calls = []

    def failing(db, ids, rule, now):
        calls.append(list(ids))
        raise ValueError("bug")
    monkeypatch.setattr(alerts, "check_after_batch", failing)
    # Every round first reads the mark: counting those reads shows that rounds went on.
    rounds = []
    checked_through = alert_progress.checked_through
    monkeypatch.setattr(alert_progress, "checked_through",
                        lambda db: rounds.append(1) or checked_through(db))
    detector = AlertDetector(str(seeded_db), DEFAULT_ALERT_RULE, poll_s=0.05)
    detector.start()
    try:
        batch = negative_presses(1)
        record_batch(store.db, batch)
        detector.submit(batch)
        wait_for(lambda: detector.failing, what="the failure to be kept")
        seen = len(rounds)
        # Rounds go on; a check failing on these data is not repeated.
        wait_for(lambda: len(rounds) >= seen + 3, what="three more rounds")
        assert detector.alive() and calls == [[f"{DEVICE}:{BOOT}:1"]]
        assert detector.failing == "ValueError: bug"
        assert mark(seeded_db)[0] == mark(seeded_db)[1]
    finally:
        detector.finish(10)
