"""Outgoing queue: bounded, FIFO, counted drops, removal only after ack; the append-only file
store (CPython and MicroPython, whose WebAssembly port has an in-memory file system)."""

from core_support import TempDir, rename
from kiosk.filestore import FileStore
from kiosk.outbox import Outbox


def rec(seq, excluded=None):
    return (1, seq, 4, 4, None, seq * 10, None, excluded)


def test_fifo_and_removal_only_by_key():
    o = Outbox(capacity=10)
    for i in range(3):
        assert o.add(rec(i))
    assert [r[1] for r in o.first(2)] == [0, 1]
    assert len(o) == 3
    assert o.remove((1, 1)) is True
    assert o.remove((1, 1)) is False
    assert [r[1] for r in o.first(10)] == [0, 2]


def test_full_queue_refuses_new_record_and_counts():
    o = Outbox(capacity=3)
    for i in range(3):
        o.add(rec(i))
    assert o.add(rec(3)) is False
    assert o.dropped == 1
    assert [r[1] for r in o.first(10)] == [0, 1, 2]


def test_full_queue_drops_oldest_excluded_first():
    o = Outbox(capacity=3)
    o.add(rec(0))
    o.add(rec(1, "cooldown"))
    o.add(rec(2, "cooldown"))
    assert o.add(rec(3)) is True
    assert o.dropped == 1
    assert [r[1] for r in o.first(10)] == [0, 2, 3]


def test_default_capacity():
    assert Outbox().capacity == 2000


# --- the append-only file store -------------------------------------------------------------

def test_file_store_survives_reopen():
    with TempDir() as d:
        path = d.file("outbox.log")
        o = Outbox(FileStore(path, rename=rename), capacity=10)
        o.add(rec(0))
        o.add((1, 1, 2, 5, "Nguyễn-1", 10, 1764064800000, "cooldown"))
        o.add(rec(2))
        o.remove((1, 0))
        again = Outbox(FileStore(path, rename=rename), capacity=10)
        assert again.first(10) == [(1, 1, 2, 5, "Nguyễn-1", 10, 1764064800000, "cooldown"),
                                   rec(2)]


def test_file_store_skips_torn_last_line():
    with TempDir() as d:
        path = d.file("outbox.log")
        s = FileStore(path)
        s.append(rec(0))
        with open(path, "a") as f:
            f.write('+[1,1,4,4,nu')  # power cut in the middle of a write
        s2 = FileStore(path)
        assert s2.first(10) == [rec(0)] and s2.corrupt == 1


def test_file_store_compacts():
    with TempDir() as d:
        path = d.file("outbox.log")
        s = FileStore(path, rename=rename)
        for i in range(100):
            s.append(rec(i))
        for i in range(80):
            assert s.remove((1, i))
        with open(path) as f:
            lines = [line for line in f.read().split("\n") if line]
        assert len(lines) < 100  # compacted at least once
        assert FileStore(path).first(100) == [rec(i) for i in range(80, 100)]
