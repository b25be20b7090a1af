"""Outgoing queue: bounded, FIFO, counted drops, removal only after ack; the append-only file
store (CPython and MicroPython, whose WebAssembly port has an in-memory file system)."""

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
