"""kiosk.sender alone: what goes out when, and what a confirmation removes (CPython and
MicroPython). The device-level behaviour over a fake broker is in test_core_device."""

from kiosk.outbox import Outbox
from kiosk.sender import Sender


def rec(seq, excluded=None):
    return (7, seq, 4, 4, None, seq * 10, None, excluded)


class Wire:
    """The send boundary: records what was published, hands out packet ids."""

    def __init__(self):
        self.sent = []
        self.up = True

    def send(self, r):
        if not self.up:
            return None
        self.sent.append(r[1])
        return len(self.sent)


def make(n, **limits):
    outbox = Outbox(capacity=limits.pop("capacity", 100))
    for seq in range(n):
        outbox.add(rec(seq))
    sender = Sender(outbox, **limits)
    sender.reset(0)
    return sender, outbox, Wire()


def test_oldest_first_within_the_in_flight_limit_and_the_window():
    sender, outbox, wire = make(8, max_in_flight=2, window=5)
    sender.pump(0, None, wire.send)
    assert wire.sent == [0, 1]
    sender.pump(1, None, wire.send)
    assert wire.sent == [0, 1], "nothing new to look at until a PUBACK"
    for pid in (1, 2):
        sender.puback(pid, 2)
    sender.pump(2, None, wire.send)
    sender.puback(3, 3)
    sender.puback(4, 3)
    sender.pump(3, None, wire.send)
    assert wire.sent == [0, 1, 2, 3, 4], "five sent: the window is full of unconfirmed ones"
    assert sender.awaiting == 4 and len(outbox) == 8


def test_the_held_record_waits_and_those_behind_it_go():
    sender, outbox, wire = make(3)
    sender.pump(0, (7, 0), wire.send)
    assert wire.sent == [1, 2]
    sender.pump(1, None, wire.send)  # its reason chosen: the held key changed
    assert wire.sent == [1, 2, 0]


def test_a_confirmation_removes_only_what_it_names_and_counts_the_rest():
    sender, outbox, wire = make(3)
    sender.pump(0, None, wire.send)
    for pid in (1, 2, 3):
        sender.puback(pid, 1)
    sender.confirm(7, [0, 2, 9], 2)
    assert [r[1] for r in outbox.first(5)] == [1]
    assert (sender.confirmed, sender.stale_confirmations, sender.awaiting) == (2, 1, 1)
    sender.confirm(8, [1], 3)  # another boot's seq 1 is another rating
    assert len(outbox) == 1


def test_a_new_session_sends_every_unconfirmed_record_again():
    sender, outbox, wire = make(2)
    sender.pump(0, None, wire.send)
    sender.puback(1, 1)  # the second never got its PUBACK
    sender.drop()
    sender.reset(5)
    sender.pump(5, None, wire.send)
    assert wire.sent == [0, 1, 0, 1] and sender.awaiting == 0


def test_a_dropped_link_stops_the_pass_and_nothing_counts_as_sent():
    sender, outbox, wire = make(2)
    wire.up = False
    sender.pump(0, None, wire.send)
    assert wire.sent == [] and sender.awaiting == 0


def test_keys_the_outbox_let_go_of_are_forgotten():
    # A full outbox drops its oldest excluded record, sent or not: `_sent` must not keep it.
    sender, outbox, wire = make(0, window=2, capacity=3)
    seq = 0
    for _ in range(3):
        outbox.add(rec(seq, "cooldown"))
        seq += 1
    acked = 0
    for now in (10, 20, 30, 40):
        sender.touch(now)
        sender.pump(now, None, wire.send)
        while acked < len(wire.sent):
            acked += 1
            sender.puback(acked, now)
        for _ in range(2):
            outbox.add(rec(seq, "cooldown"))  # full: the oldest (sent) record is dropped
            seq += 1
    assert acked == 8
    sender.touch(50)
    sender.pump(50, None, wire.send)
    assert sender.awaiting <= 2, "only keys still in the window are remembered"
