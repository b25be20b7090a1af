"""The writer's commit step: database faults retried, failures of the data isolated."""

from __future__ import annotations

import sqlite3
import threading

import pytest
from factories import incoming, rating_bytes

from collector.ingest import committer as committer_module, recording
from collector.ingest.committer import Committer, Stopping, is_database_fault

BOOT = 4242


@pytest.mark.parametrize("error, fault", [
    (sqlite3.OperationalError("database is locked"), True),
    (sqlite3.OperationalError("database or disk is full"), True),
    (sqlite3.OperationalError("attempt to write a readonly database"), True),
    (sqlite3.DatabaseError("database disk image is malformed"), True),
    (sqlite3.IntegrityError("NOT NULL constraint failed"), False),
    (sqlite3.InterfaceError("Error binding parameter"), False),
    (UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"), False),
    (OverflowError("Python int too large to convert to SQLite INTEGER"), False),
    (KeyError("x"), False),
])
def test_database_faults_are_told_from_the_datas(error, fault):
    assert is_database_fault(error) is fault


def poison(monkeypatch, seqs, error=lambda: "\ud800".encode("utf-8")):
    real = recording._record_rating

    def record(db, rating, received_at):
        if rating.seq in seqs:
            error()
        return real(db, rating, received_at)
    monkeypatch.setattr(recording, "_record_rating", record)


def committer(store, faults=None, stopping=None):
    return Committer(store, stopping or threading.Event(), lambda item: item,
                     (faults if faults is not None else []).append)


def batch(seqs):
    return [incoming(rating_bytes(boot=BOOT, seq=seq)) for seq in seqs]


def stored(store):
    return {row[0] for row in store.db.execute("SELECT seq FROM ratings WHERE boot = ?", [BOOT])}


def test_each_failing_message_is_found_and_kept_the_rest_stored(store, monkeypatch):
    poison(monkeypatch, {3, 11, 12})
    items = batch(range(16))
    outcome, committed = committer(store).record(items)
    assert committed == items  # every one has its outcome, in order
    assert outcome == {"stored": 13, "duplicate": 0, "rejected": 3, "status": 0,
                       "internal_errors": 3}
    assert stored(store) == set(range(16)) - {3, 11, 12}
    rows = store.db.execute("SELECT reason, payload FROM rejected ORDER BY id").fetchall()
    assert rows == [("internal_error:UnicodeEncodeError", rating_bytes(boot=BOOT, seq=seq))
                    for seq in (3, 11, 12)]


def test_a_database_fault_is_retried_and_reported_until_it_passes(store, monkeypatch):
    failures = [sqlite3.OperationalError("database is locked")]
    real = recording.record_batch

    def flaky(db, items):
        if failures:
            raise failures.pop()
        return real(db, items)
    monkeypatch.setattr(committer_module, "record_batch", flaky)
    faults = []
    outcome, committed = committer(store, faults).record(batch([1, 2]))
    assert outcome["stored"] == 2 and len(committed) == 2
    assert faults == ["OperationalError: database is locked", None]


def test_stopping_during_a_retry_commits_nothing_more(store, monkeypatch):
    def locked(db, items):
        raise sqlite3.OperationalError("database is locked")
    monkeypatch.setattr(committer_module, "record_batch", locked)
    stopping = threading.Event()
    stopping.set()
    outcome, committed = committer(store, stopping=stopping).record(batch([1]))
    assert committed == [] and outcome["stored"] == 0
    with pytest.raises(Stopping):
        committer(store, stopping=stopping).retrying(lambda: locked(store.db, []))


def test_memory_running_out_is_the_databases_fault_not_the_messages():
    """SQLite's SQLITE_NOMEM reaches Python as MemoryError: a good rating must not be kept as
    rejected (and confirmed to its device) because memory ran short for a moment."""
    assert is_database_fault(MemoryError())


def test_a_message_that_cannot_even_be_kept_as_rejected_holds_the_writer_visibly(
        store, monkeypatch):
    """Skipping it would leave it unacknowledged and unseen (health would stay ok while it held
    a broker in-flight slot): the writer retries, saying why, until it can be kept."""
    poison(monkeypatch, {2})
    attempts = []
    real = recording.record_failure

    def record_failure(db, item, error):
        attempts.append(1)
        if len(attempts) < 3:
            raise KeyError("broken")
        return real(db, item, error)
    monkeypatch.setattr(committer_module, "record_failure", record_failure)
    monkeypatch.setattr(threading.Event, "wait", lambda self, timeout=None: False)
    faults = []
    items = batch(range(4))
    outcome, committed = committer(store, faults).record(items)
    assert committed == items and outcome["rejected"] == 1 and len(attempts) == 3
    assert [f for f in faults if f] == ["KeyError: 'broken'", "KeyError: 'broken'"]
    assert faults[-1] is None
