"""Power-safe outbox store on flash: an append-only journal of CRC'd frames, in generations.

Implements the store interface of kiosk.outbox (append, remove, replace, first,
find_excluded, __len__), so Outbox uses it unchanged. Every change is ONE write() of one
frame, then flush(), before the call returns (once per copy, see Mirror): a press is on flash
before the loop draws the thank-you, and a confirmed record is marked removed before the
next step.

Frames (kiosk.frame, at most MAX_FRAME = 261 bytes, ~74 for a typical rating): "H" the
header (VERSION, max_boot, gen, count), "R" a record (the rating tuple, its key (boot, seq)
first), "A" an ack (the key of a removed record).

Files: the journal is path or path + ".2" (one copy), or both (Mirror). A file starts with a
header: its generation `gen` and the `count` of records written after it by the compaction
that made it; appends follow. A compaction never writes into a file that may be the only
copy: it writes generation gen + 1 into the OTHER name ("wb"), flushes and closes it, and
only then removes the old file. No rename: on FAT (MicroPython's VfsFat) a rename over an
existing file is a remove then a rename, and a cut between leaves only the source.

Recovery: the files there (path, path + ".2", and where path is not, path + ".tmp": older
firmware's compaction left it complete when cut between its remove and its rename; it is
read last, and replaced by path + ".2" first) are read newest generation first, and the
first COMPLETE one is used: a header at offset 0 and
at least the `count` records it announces (a cut compaction holds fewer; a header of older
firmware is generation 0 and complete). The others are stale and removed. Reading a file
(kiosk.replay): frames apply in order, "R" adds or replaces a record, "A" drops one; bytes
that are no frame are damage, counted once per run in `corrupt` and stepped over, so a torn
append loses only the frame being written and a damaged byte only its own frame. A lost ack
brings its record back: sent twice, never lost (the collector stores each id once). Damage,
no header, a lone ".tmp" or too many dead bytes: compacted at once, so no append is glued
onto garbage.

Mirror (copies=2, for FAT on the ESP32's flash): to append, FatFs rewrites the file's last,
partly filled sector, and the block device erases a sector before programming it: a cut
there destroys the synced frames that share the sector. So every frame goes to path, flushed,
then to path + ".2", flushed: a cut tears only the copy being written, the other is whole.
Recovery uses the newest complete copy without damage, checks the other (same generation,
same size, no damage) and else rewrites both, the suspect one first; a compaction rewrites
one copy at a time, so one whole copy always exists. Costs a second write per change and
twice the flash. The fs chooses: `copies` defaults to fs.journal_copies, else 1 (littlefs
commits atomically at flush, so one copy is safe there).

Size policy: dead bytes (acked or replaced records, acks, damage, the header) are compacted
away as soon as they exceed both compact_min (32 KB) and the live bytes, so a file stays
within 2 * max(live, compact_min) + one frame, and a compaction needs the live bytes once
more. For the outbox capacity of 2000: typical ratings ~300 KB of file, ~450 KB during a
compaction; the largest valid ratings ~920 KB and ~1.4 MB. Mirrored: two such files, and
no more during a compaction (it truncates the copy it rewrites, one at a time).

Errors: a record that cannot be encoded (field type, an int beyond 64 bits, over 255 bytes,
a key that is not two ints) raises ValueError before anything changes. An OSError while
writing is counted in `write_errors` (`last_error` keeps it); the record stays in RAM (it is
still sent while the power lasts) and the journal repairs itself at once by compacting from
RAM, again at every later change while that fails. Damage never raises: it is counted in
`corrupt`. A header of another VERSION raises ValueError (a newer firmware's journal).

RAM: the queued records stay decoded (first() runs every loop step), with officer and reason
strings shared between replayed records; one frame buffer, one read window during replay.

The fs is injected: fs.open(path, mode) for "rb", "wb" and "ab", returning files with
readinto, write, flush and close; fs.remove(path); OSError args[0] is an errno (ENOENT for
a missing file); optional fs.journal_copies (fs.rename: kiosk.bootcount, via replace()). On MicroPython: builtin
open, os.rename, os.remove; flush() syncs the file (lfs_file_sync, f_sync). The flash models
the tests cut the power in are described in tests/core/flash_models.py. Constraints:
MicroPython compatible, no os import.
"""

import errno

from kiosk.frame import K_ACK, K_HEAD, K_REC, MAX_FRAME, encode_frame, key_of
from kiosk.replay import (BYTES, COMPLETE, DAMAGE, GEN, ITEMS, SIZES, VERSION, read_gen,
                          replay)

try:
    from micropython import const
except ImportError:  # CPython host
    def const(x):
        return x

COMPACT_MIN = const(32768)

_EXCLUDED = const(7)  # index of `excluded` in a record tuple (kiosk.rating)
_LEGACY = const(2)  # index of path + ".tmp" in the names: only older firmware wrote it


# --- files ---------------------------------------------------------------------------------

def _errno(e):
    return e.args[0] if e.args else None


def open_existing(fs, path):
    """fs.open(path, "rb"), or None when the file does not exist."""
    try:
        return fs.open(path, "rb")
    except OSError as e:
        if _errno(e) != errno.ENOENT:
            raise
        return None


def replace(fs, src, dst):
    """Rename src over dst: atomic where rename replaces (littlefs); remove + rename where
    rename refuses an existing target (EEXIST, FAT). Any other error is raised as it is:
    removing dst on an unrelated error could lose the only good copy. (kiosk.bootcount; the
    journal itself renames nothing.)"""
    try:
        fs.rename(src, dst)
    except OSError as e:
        if _errno(e) != errno.EEXIST:
            raise
        fs.remove(dst)
        fs.rename(src, dst)


class Journal:
    def __init__(self, fs, path, compact_min=COMPACT_MIN, copies=None):
        if copies is None:
            copies = getattr(fs, "journal_copies", 1)
        if copies != 1 and copies != 2:
            raise ValueError("copies must be 1 or 2")
        self.fs = fs
        self.path = path
        self.copies = copies
        self.names = (path, path + ".2", path + ".tmp")
        self.compact_min = compact_min
        self._buf = bytearray(MAX_FRAME)  # every frame is built here: no allocation per write
        self._mv = memoryview(self._buf)
        self._items = []  # live records, oldest first
        self._sizes = []  # their frame sizes, to know the dead bytes
        self._live = 0  # bytes of the live record frames
        self._size = 0  # bytes in the journal file (each copy)
        self._slots = []  # indices in names of the files appended to, in write order
        self._files = []  # their append handles
        self._first = 1  # mirror: the copy a compaction rewrites first (the suspect one)
        self._broken = False  # the files may not match RAM: the next change compacts
        self.gen = 0  # the highest generation on flash
        self.max_boot = None  # highest boot this journal has seen (kept across compactions)
        self.corrupt = 0  # damaged runs found on open
        self.write_errors = 0
        self.last_error = None
        self.compactions = 0
        self._recover()

    # --- the store interface (kiosk.outbox) ------------------------------------------------

    def append(self, rec):
        n = self._frame(K_REC, rec)  # raises ValueError before anything changes
        self._items.append(rec)
        self._sizes.append(n)
        self._live += n
        self._see(rec[0])
        self._commit(n)

    def remove(self, key):
        i = self._find(key)
        if i < 0:
            return False
        n = self._frame(K_ACK, key)
        self._live -= self._sizes[i]
        del self._items[i]
        del self._sizes[i]
        self._commit(n)
        if self._due():
            self.compact()
        return True

    def replace(self, key, rec):
        """Put a new version of a queued record in its place: one "R" frame with the same key
        (replay keeps the position of the first). False when the key is not queued."""
        n = self._frame(K_REC, rec)
        if rec[0] != key[0] or rec[1] != key[1]:
            raise ValueError("replace must keep the key")
        i = self._find(key)
        if i < 0:
            return False
        self._live += n - self._sizes[i]
        self._items[i] = rec
        self._sizes[i] = n
        self._commit(n)
        if self._due():
            self.compact()
        return True

    def first(self, n):
        return self._items[:n]

    def find_excluded(self):
        for rec in self._items:
            if len(rec) > _EXCLUDED and rec[_EXCLUDED] is not None:
                return (rec[0], rec[1])
        return None

    def __len__(self):
        return len(self._items)

    # --- maintenance -----------------------------------------------------------------------

    @property
    def paths(self):
        """The files the journal is in now: one, or two when mirrored."""
        return [self.names[s] for s in self._slots]

    @property
    def file_bytes(self):
        """Bytes in the journal file (in each copy), as far as this journal wrote them."""
        return self._size

    @property
    def live_bytes(self):
        """Bytes of the queued records' frames."""
        return self._live

    @property
    def dead_bytes(self):
        """Bytes a compaction would free: header, acked or replaced records, acks, damage."""
        return self._size - self._live

    def compact(self):
        """Write the header and the live records as the next generation (one copy at a time,
        never into the only good one), then drop what is stale.

        True when done. On OSError the journal on flash stays whole, the error is counted and
        False is returned; the next change tries again."""
        self._close()
        self.gen += 1  # a cut or failed attempt leaves an incomplete file of this generation
        if self.copies == 2:
            order = (self._first, 1 - self._first)
        else:
            # Never path while a ".tmp" may be in use: that one counts only without path.
            order = (1 if self._slots == [0] or self._slots == [_LEGACY] else 0,)
        for slot in order:
            try:
                size = self._write_copy(slot)
            except OSError as e:
                self._failed(e, True)
                if self.copies == 1:
                    self._drop(slot)  # give the space back (ENOSPC); the live file is whole
                else:
                    self._first = slot  # the other copy is whole: rewrite this one first
                return False
        self._slots = [0, 1] if self.copies == 2 else [order[0]]
        for slot in range(len(self.names)):
            if slot not in self._slots:
                self._drop(slot)  # the new generation is complete: the old one is stale
        self._size = size
        self.compactions += 1
        if not self._reopen():
            return False
        self._broken = False
        return True

    def close(self):
        self._close()

    # --- internals ---------------------------------------------------------------------------

    def _frame(self, kind, values):
        """Build a frame in the shared buffer; returns its size."""
        if kind != K_HEAD:
            key_of(values)
        return encode_frame(kind, values, self._buf, self._mv)

    def _put(self, f, n):
        k = f.write(self._mv[:n])
        if k is not None and k != n:
            raise OSError(errno.EIO, "short write")
        return n

    def _write_copy(self, slot):
        f = self.fs.open(self.names[slot], "wb")
        try:
            size = self._put(f, self._frame(K_HEAD, (VERSION, self.max_boot, self.gen,
                                                     len(self._items))))
            for rec in self._items:
                size += self._put(f, self._frame(K_REC, rec))
            f.flush()
        finally:
            f.close()
        return size

    def _reopen(self):
        try:
            for slot in self._slots:
                self._files.append(self.fs.open(self.names[slot], "ab"))
            return True
        except OSError as e:
            self._close()
            self._failed(e, True)  # no append handle: compact again at the next change
            return False

    def _commit(self, n):
        """Make the change in RAM durable: one write of the frame to each copy, or a
        compaction when the files may not match RAM."""
        if not self._broken:
            try:
                if not self._files:
                    raise OSError(errno.EBADF, "journal not open")
                for i in range(len(self._files)):
                    if self.copies == 2:
                        self._first = self._slots[i]  # if this one fails, it is the suspect
                    f = self._files[i]
                    self._put(f, n)
                    f.flush()
                self._size += n
                return
            except OSError as e:
                # A file may now end in part of this frame: never append after it again.
                self._failed(e, True)
        # Repair now, so the change is on flash before we return whenever the flash allows.
        self.compact()

    def _failed(self, e, broken):
        self.write_errors += 1
        self.last_error = e
        if broken:
            self._broken = True

    def _due(self):
        dead = self._size - self._live
        # Both: a short queue is not rewritten for every few acks, a long one stays <= 2x.
        return dead > self.compact_min and dead > self._live

    def _find(self, key):
        b = key[0]
        s = key[1]
        items = self._items
        for i in range(len(items)):
            r = items[i]
            if r[1] == s and r[0] == b:
                return i
        return -1

    def _see(self, boot):
        if self.max_boot is None or boot > self.max_boot:
            self.max_boot = boot

    def _close(self):
        files = self._files
        self._files = []
        for f in files:
            f.close()

    def _drop(self, slot):
        try:
            self.fs.remove(self.names[slot])
        except OSError as e:
            if _errno(e) != errno.ENOENT:
                self._failed(e, False)

    # --- recovery ----------------------------------------------------------------------------

    def _recover(self):
        found = []  # (gen, slot) of the journal files there, newest first
        for slot in (0, 1, _LEGACY):
            if slot == _LEGACY and _has(found, 0):
                break  # older firmware's temp file beside its journal: a cut compaction
            f = open_existing(self.fs, self.names[slot])
            if f is not None:
                try:
                    found.append((read_gen(f, self._buf, self._mv), slot))
                finally:
                    f.close()
        found.sort(key=_newest_first)
        for c in found:
            if c[0] > self.gen:
                self.gen = c[0]
        tried = []
        use = None
        got = None
        for c in found:
            got = self._load(c[1], True)
            if got[COMPLETE] and (self.copies == 1 or not got[DAMAGE]):
                use = c[1]
                break
            tried.append((0 if got[COMPLETE] else 1, got[DAMAGE], -got[GEN], c[1]))
        if use is None and tried:
            # Nothing complete (or, mirrored, nothing whole): the best there is, counted.
            tried.sort()
            use = tried[0][3]
            got = self._load(use, True)
        need = use is None or use == _LEGACY or not got[COMPLETE] or got[DAMAGE] > 0
        if use is not None:
            self._items = got[ITEMS]
            self._sizes = got[SIZES]
            self._live = sum(got[SIZES])
            self._size = got[BYTES]
            self.corrupt += got[DAMAGE]
        if self.copies == 2:
            self._slots = [0, 1]
            if not need:
                other = 1 - use
                check = self._load(other, False) if _has(found, other) else None
                if check is not None and (check[COMPLETE] or check[GEN] < 0):
                    # Damage found, unless it is the torn end of a cut compaction.
                    self.corrupt += check[DAMAGE]
                need = (check is None or not check[COMPLETE] or check[DAMAGE] > 0
                        or check[GEN] != got[GEN] or check[BYTES] != got[BYTES])
                self._first = other
            elif use is not None and use != _LEGACY:
                self._first = 1 - use  # keep the one we read until the other is rewritten
            else:
                self._first = 1  # path would hide a ".tmp" in use: path + ".2" first
        elif use is not None:
            self._slots = [use]
        if need or self._due():
            if not self.compact():
                self._broken = True  # counted; every change tries again
            return
        for slot in range(len(self.names)):
            if slot not in self._slots:
                self._drop(slot)  # the copy in use is complete: the rest is stale
        if not self._reopen():
            self.compact()

    def _load(self, slot, keep):
        f = self.fs.open(self.names[slot], "rb")
        try:
            return replay(f, keep, self._see)
        finally:
            f.close()


def _has(found, slot):
    for c in found:
        if c[1] == slot:
            return True
    return False


def _newest_first(c):
    # (gen, slot): the highest generation first, equal ones in name order (path first); an
    # older firmware's temp file last (it was complete only where its journal was gone).
    return (c[1] == _LEGACY, -c[0], c[1])
