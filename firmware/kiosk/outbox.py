"""Outgoing queue of rating records waiting for the collector's confirmation.

Records are tuples (see kiosk.rating: boot, seq, level, scale, officer, uptime_ms, ts,
excluded); their key is (boot, seq). The queue is FIFO, bounded, and a record leaves it only
when the collector confirmed it committed it (remove(key) on the protocol's `ack`, see
kiosk.sender; the broker's PUBACK is not enough), so a rating survives any number of
reconnects and broker faults and may be delivered more than once (the collector
de-duplicates by id).

Policy when full (capacity from config, default 2000):
1. drop the oldest *excluded* record (a press filtered by the cooldown: it is kept as evidence
   but never counted, so it is the least valuable record), then store the new one;
2. if no excluded record is queued, refuse the new record.
Either way the loss is counted in `dropped`, which the device reports in its status, so no
rating is lost silently. Refusing the newest rather than dropping the oldest counted rating
keeps the earliest evidence, which is the part the officer's month is most likely built on.

Storage sits behind a small interface: MemoryStore (RAM; the simulator's default) or the
power-safe flash journal (kiosk.journal, what the device uses):
    append(record)        add at the tail
    remove(key) -> bool   remove the record with that key
    replace(key, rec)     put a new version of a queued record in its place (same key)
    first(n) -> list      the n oldest records
    find_excluded()->key  key of the oldest excluded record, or None
    __len__()
"""

try:
    from micropython import const
except ImportError:  # CPython host
    def const(x):
        return x

DEFAULT_CAPACITY = const(2000)
_EXCLUDED = const(7)  # index of `excluded` in a record tuple (kiosk.rating)


def record_key(rec):
    return (rec[0], rec[1])


class MemoryStore:
    """RAM store, lost on power cycle: the simulator and tests (the device uses kiosk.journal)."""

    def __init__(self):
        self._items = []

    def append(self, rec):
        self._items.append(rec)

    def remove(self, key):
        items = self._items
        for i in range(len(items)):
            if items[i][0] == key[0] and items[i][1] == key[1]:
                del items[i]
                return True
        return False

    def replace(self, key, rec):
        items = self._items
        for i in range(len(items)):
            if items[i][0] == key[0] and items[i][1] == key[1]:
                items[i] = rec
                return True
        return False

    def first(self, n):
        return self._items[:n]

    def find_excluded(self):
        for rec in self._items:
            if rec[_EXCLUDED] is not None:
                return record_key(rec)
        return None

    def __len__(self):
        return len(self._items)


class Outbox:
    def __init__(self, store=None, capacity=DEFAULT_CAPACITY):
        self.store = store if store is not None else MemoryStore()
        self.capacity = capacity
        self.dropped = 0

    def add(self, rec):
        """Queue a record. Returns False (and counts a drop) when it had to be refused."""
        if len(self.store) >= self.capacity:
            key = self.store.find_excluded()
            if key is None:
                self.dropped += 1
                return False
            self.store.remove(key)
            self.dropped += 1
        self.store.append(rec)
        return True

    def remove(self, key):
        """Remove a confirmed record; False when it was already gone."""
        return self.store.remove(key)

    def replace(self, rec):
        """Amend a queued record (e.g. the reason chosen after the press); same key, one write."""
        return self.store.replace(record_key(rec), rec)

    def first(self, n):
        return self.store.first(n)

    def __len__(self):
        return len(self.store)
