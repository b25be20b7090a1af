"""Persistent boot counter: one more at every start, never a number used before.

Why it matters: a rating's id is {device}:{boot}:{seq} and the collector stores each id once
(docs/protocol.md). A boot number that came back would make the new boot's ratings collide
with old ids and be dropped as duplicates: ratings lost without a trace.

Storage: two copies, `path` and `path + ".2"`, each 12 bytes: b"HLBC", the boot number
(u32 little-endian) and the CRC32 of those 8 bytes (u32 little-endian). Each copy is written
to `path + ".tmp"`, flushed, closed and renamed over the copy (atomic on littlefs; where
rename refuses an existing target, FAT, the copy is removed first: the other copy still holds
the number). The primary copy is written before the backup.

advance(seen) returns the boot number for this start: max(highest valid copy, seen) + 1,
where `seen` is the highest boot the outbox journal holds (kiosk.journal.Journal.max_boot,
kept in its header across compactions). The number is on flash in both copies BEFORE it is
returned, so a number is only ever used once it is stored: a power cut during advance()
leaves each copy at the old or the new number, and the next start goes past both.
A fresh device starts at 1 (FIRST): 0 is the config default of a device without a counter,
so a counted boot never collides with one from before the counter.

Recovery when copies are missing or damaged:
- one copy bad (damaged, torn, or removed by a cut): the other holds the same number;
- both bad: the journal's `seen` is the floor, and `corrupt` > 0 tells the device to report it;
- both bad and the journal without history (a wiped flash): restarts at FIRST. That is the
  only case where a number may come back; it needs both copies and the journal lost.
`source` says where the previous number came from: "counter", "journal" or "none".

Errors: advance() raises OSError when the new number cannot be stored (nothing is returned,
so no unstored number is used), and ValueError past 2^31-1 (protocol limit; at one start a
minute that is 4,000 years away). A damaged copy never raises: it is counted in `corrupt`.
Constraints: MicroPython compatible; the fs boundary is the one of kiosk.journal.
"""

import binascii
import errno
import struct

from kiosk.journal import open_existing, replace

try:
    from micropython import const
except ImportError:  # CPython host
    def const(x):
        return x

MAGIC = b"HLBC"
FIRST = const(1)
MAX_BOOT = const(0x7FFFFFFF)  # protocol: boot is 0 .. 2^31-1
_SIZE = const(12)


def encode(boot):
    """The 12 bytes of one copy."""
    data = bytearray(_SIZE)
    data[0:4] = MAGIC
    struct.pack_into("<I", data, 4, boot)
    struct.pack_into("<I", data, 8, binascii.crc32(memoryview(data)[:8]))
    return data


def decode(data):
    """The boot number of one copy, or None when it is not a valid copy."""
    if len(data) != _SIZE or bytes(data[0:4]) != MAGIC:
        return None
    boot, crc = struct.unpack_from("<II", data, 4)
    if crc != binascii.crc32(memoryview(data)[:8]) or boot > MAX_BOOT:
        return None
    return boot


class BootCounter:
    def __init__(self, fs, path="boot.bin"):
        self.fs = fs
        self.paths = (path, path + ".2")
        self.tmp = path + ".tmp"
        self.boot = None  # the number advance() returned
        self.corrupt = 0  # damaged copies found (missing ones are not counted)
        self.source = None

    def read(self):
        """Highest boot number in a valid copy, or None."""
        best = None
        for path in self.paths:
            v = self._read_copy(path)
            if v is not None and (best is None or v > best):
                best = v
        return best

    def advance(self, seen=None):
        """Store and return the boot number for this start (see the module docstring)."""
        if seen is not None and (type(seen) is not int or seen < 0):
            raise ValueError("seen must be a boot number")
        last = self.read()
        self.source = "counter" if last is not None else "none"
        if seen is not None and (last is None or seen > last):
            last = seen
            self.source = "journal"
        boot = FIRST if last is None else last + 1
        if boot > MAX_BOOT:
            raise ValueError("boot counter exhausted")
        data = encode(boot)
        for path in self.paths:
            self._write_copy(path, data)
        self.boot = boot
        return boot

    def _read_copy(self, path):
        try:
            f = open_existing(self.fs, path)
            if f is None:
                return None
            try:
                data = f.read(_SIZE + 1)  # one byte more, so a longer file shows up as bad
            finally:
                f.close()
        except OSError:
            # An unreadable copy is a damaged copy: the other one and the journal still
            # give a floor, and refusing to start would lose every rating of this boot.
            self.corrupt += 1
            return None
        v = decode(data)
        if v is None:
            self.corrupt += 1
        return v

    def _write_copy(self, path, data):
        f = self.fs.open(self.tmp, "wb")
        try:
            if f.write(data) not in (None, _SIZE):
                raise OSError(errno.EIO, "short write")
            f.flush()
        finally:
            f.close()
        replace(self.fs, self.tmp, path)
