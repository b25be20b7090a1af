"""A simple append-only file store for the outbox (interface of kiosk.outbox.MemoryStore).

Stopgap until the CRC'd, power-safe journal (issue 3): it keeps the queue across a restart
but gives weaker guarantees. One line per change:
    +[boot,seq,level,scale,officer,uptime_ms,ts,excluded]   a record was queued
    -boot,seq                                               a record was acknowledged
On open the lines are replayed; a line that does not parse (a write torn by a power cut can
only be the last one) is skipped and counted in `corrupt`. When removals outnumber the live
records the file is compacted: written to path + ".tmp" then renamed over the original when a
rename function is given (atomic on littlefs), otherwise rewritten in place.

Constraints: MicroPython compatible. Only the builtin open() is used; rename is injected by the
hardware layer (os.rename), so the module imports no os. Writes happen in the main loop's
step, never in the button path.
"""

import json

from kiosk.outbox import MemoryStore

try:
    from micropython import const
except ImportError:  # CPython host
    def const(x):
        return x

_COMPACT_MIN = const(64)  # do not rewrite the file for a handful of removals


class FileStore(MemoryStore):
    """The RAM list of MemoryStore, mirrored to a file on every change."""

    def __init__(self, path, rename=None):
        MemoryStore.__init__(self)
        self.path = path
        self._rename = rename
        self._removed = 0
        self.corrupt = 0
        self._load()

    def _load(self):
        try:
            f = open(self.path, "r")
        except OSError:
            return  # no file yet: empty queue
        live = {}
        order = []
        with f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    if line[0] == "+":
                        rec = tuple(json.loads(line[1:]))
                        if len(rec) not in (8, 10):
                            raise ValueError("record length")
                        key = (rec[0], rec[1])
                        if key not in live:
                            order.append(key)
                        live[key] = rec
                    elif line[0] == "-":
                        b, s = line[1:].split(",")
                        live.pop((int(b), int(s)), None)
                        self._removed += 1
                    else:
                        raise ValueError("line kind")
                except (ValueError, IndexError):
                    self.corrupt += 1
        self._items = [live.pop(k) for k in order if k in live]

    def _write(self, line):
        with open(self.path, "a") as f:
            f.write(line)
            f.write("\n")

    def append(self, rec):
        self._write("+" + json.dumps(list(rec)))
        self._items.append(rec)

    def replace(self, key, rec):
        # A later "+" line with the same key wins on replay, so one append amends a record.
        if not MemoryStore.replace(self, key, rec):
            return False
        self._write("+" + json.dumps(list(rec)))
        return True

    def remove(self, key):
        if not MemoryStore.remove(self, key):
            return False
        self._write("-" + str(key[0]) + "," + str(key[1]))
        self._removed += 1
        if self._removed >= _COMPACT_MIN and self._removed > len(self._items):
            self.compact()
        return True

    def compact(self):
        target = self.path + ".tmp" if self._rename is not None else self.path
        with open(target, "w") as f:
            for rec in self._items:
                f.write("+" + json.dumps(list(rec)) + "\n")
        if self._rename is not None:
            self._rename(target, self.path)
        self._removed = 0
