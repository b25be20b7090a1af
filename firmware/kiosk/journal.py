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

Recovery: the files there (path, path + ".2", and path + ".tmp" left by firmware before
generations) are tried newest generation first; the first COMPLETE one is used: a header at
offset 0 and at least `count` valid records (a cut compaction leaves fewer). A header
without gen and count (older firmware) is generation 0 and complete. The others are stale
and removed. Frames apply in file order: "R" adds a record, or replaces the queued one with
its key in place; "A" drops its key. Bytes that are no frame are damage: counted once per
run in `corrupt`, stepped over byte by byte, so a torn append loses only the frame being
written and a damaged byte only its own frame. A lost ack brings its record back: sent
twice, never lost (the collector stores each id once). Damage, no header, a lone ".tmp" or
too many dead bytes: compacted at once, so no append is glued onto garbage.

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
compaction; the largest valid ratings ~920 KB and ~1.4 MB (twice that when mirrored).

Errors: a record that cannot be encoded (field type, an int beyond 64 bits, over 255 bytes,
a key that is not two ints) raises ValueError before anything changes. An OSError while
writing is counted in `write_errors` (`last_error` keeps it); the record stays in RAM (it is
still sent while the power lasts) and the journal repairs itself at once by compacting from
RAM, again at every later change while that fails. Damage never raises: it is counted in
`corrupt`. A header of another VERSION raises ValueError (a newer firmware's journal).

RAM: the queued records stay decoded (first() runs every loop step), with officer and reason
strings shared between replayed records; one frame buffer, one read window during replay.

The fs is injected: fs.open(path, mode) for "rb", "wb" and "ab", returning files with
readinto, write, flush and close; fs.rename(src, dst); fs.remove(path); OSError args[0] is
an errno (ENOENT for a missing file); optional fs.journal_copies. On MicroPython: builtin
open, os.rename, os.remove; flush() syncs the file (lfs_file_sync, f_sync). The flash models
the tests cut the power in are described in tests/core/flash_models.py. Constraints:
MicroPython compatible, no os import.
"""

import errno

from kiosk.frame import (CRC_LEN, FIELDS, K_ACK, K_HEAD, K_REC, MAX_BODY, MAX_FRAME,
                         decode_fields, decode_frame, encode_frame, key_of)

try:
    from micropython import const
except ImportError:  # CPython host
    def const(x):
        return x

VERSION = const(1)
COMPACT_MIN = const(32768)

_WINDOW = const(2048)  # replay read window; must hold at least one whole frame
_EXCLUDED = const(7)  # index of `excluded` in a record tuple (kiosk.rating)
_LEGACY = const(2)  # index of path + ".tmp" in the names: only older firmware wrote it
# What a replay found: complete, damaged runs, bytes, gen, valid "R" frames
_COMPLETE = const(0)
_DAMAGE = const(1)
_BYTES = const(2)
_GEN = const(3)


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
            order = (1 if self._slots == [0] else 0,)
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
                for f in self._files:
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
        found = []  # (gen, slot) of the files there
        for slot in range(len(self.names)):
            f = open_existing(self.fs, self.names[slot])
            if f is not None:
                try:
                    found.append((self._peek(f), slot))
                finally:
                    f.close()
        found.sort(key=_newest_first)
        for c in found:
            if c[0] > self.gen:
                self.gen = c[0]
        tried = []
        use = None
        for c in found:
            got = self._load(c[1], True)
            if got[_COMPLETE] and (self.copies == 1 or not got[_DAMAGE]):
                use = c[1]
                break
            tried.append((got, c[1]))
            self._reset()
        if use is None and tried:
            # Nothing complete (or, mirrored, nothing whole): the best there is, counted.
            tried.sort(key=_best_first)
            use = tried[0][1]
            got = self._load(use, True)
        need = use is None or use == _LEGACY or not got[_COMPLETE] or got[_DAMAGE] > 0
        if use is not None:
            self.corrupt += got[_DAMAGE]
            self._size = got[_BYTES]
        if self.copies == 2:
            self._slots = [0, 1]
            if not need:
                other = 1 - use
                check = self._load(other, False) if self._exists(found, other) else None
                if check is not None and (check[_COMPLETE] or check[_GEN] < 0):
                    # Damage found, unless it is the torn end of a cut compaction.
                    self.corrupt += check[_DAMAGE]
                need = (check is None or not check[_COMPLETE] or check[_DAMAGE] > 0
                        or check[_GEN] != got[_GEN] or check[_BYTES] != got[_BYTES])
                self._first = other
            elif use is not None and use != _LEGACY:
                self._first = 1 - use  # keep the one we read until the other is rewritten
            need = need or self._exists(found, _LEGACY)
        elif use is not None:
            self._slots = [use]
        if need or self._due():
            if not self.compact():
                self._broken = True  # counted; every change tries again
            return
        for c in found:
            if c[1] not in self._slots:
                self._drop(c[1])  # the one in use is complete: the rest is stale
        if not self._reopen():
            self.compact()

    def _exists(self, found, slot):
        for c in found:
            if c[1] == slot:
                return True
        return False

    def _reset(self):
        self._items = []
        self._sizes = []
        self._live = 0

    def _peek(self, f):
        """The generation in the file's header: 0 for a header of older firmware, -1 for a
        file that does not start with a header."""
        mv = self._mv
        n = 0
        while n < MAX_FRAME:
            k = f.readinto(mv[n:])
            if not k:
                break
            n += k
        got = decode_frame(self._buf, 0, n, mv) if n else None
        if got is None or got[0] != K_HEAD:
            return -1
        vals = got[1]
        if len(vals) > 2 and type(vals[2]) is int:
            return vals[2]
        return 0

    def _load(self, slot, keep):
        f = self.fs.open(self.names[slot], "rb")
        try:
            return self._replay(f, keep)
        finally:
            f.close()

    def _replay(self, f, keep):
        """Read a whole journal file; with `keep`, its queued records become the journal's.
        Returns (complete, damaged runs, bytes, gen) as indexed by _COMPLETE..._GEN."""
        buf = bytearray(_WINDOW)
        mv = memoryview(buf)
        recs = []  # record fields (bytes) in file order; None once acked
        shared = {}  # equal short strings of the records become one object (RAM)
        sizes = []
        where = {}  # key -> index in recs of the queued version
        base = 0  # file offset of buf[0]
        n = 0  # bytes loaded in buf
        p = 0  # parse position in buf
        eof = False
        damaged = False  # inside a run of bytes that are not a frame
        damage = 0
        head = False
        gen = -1
        count = 0  # records the header says its compaction wrote
        nrec = 0  # valid "R" frames seen
        while True:
            if not eof and n - p < MAX_FRAME:
                # Keep the unparsed rest and refill, so a whole frame is always in view.
                rest = n - p
                if rest:
                    buf[:rest] = buf[p:n]
                base += p
                p = 0
                n = rest
                while n < _WINDOW:
                    k = f.readinto(mv[n:])
                    if not k:
                        eof = True
                        break
                    n += k
            if p >= n:
                break
            # A record is decoded in full only if it is still queued at the end: here its
            # key is enough (acked records are most of a long journal).
            got = decode_frame(buf, p, n, mv, 2)
            vals = None
            if got is not None:
                kind, vals, end = got
                size = end - p
                try:
                    if kind != K_HEAD:
                        key = key_of(vals)
                    elif not vals or type(vals[0]) is not int:
                        raise ValueError("header without a version")
                except ValueError:
                    vals = None  # a frame that is not what its kind says is damage as well
            if vals is None:
                if not damaged:
                    damage += 1
                    damaged = True
                p += 1
                continue
            damaged = False
            if kind == K_HEAD:
                if vals[0] != VERSION:
                    raise ValueError("journal version " + str(vals[0]))
                if base + p == 0:
                    head = True
                    gen = 0
                    if len(vals) > 3 and type(vals[2]) is int and type(vals[3]) is int:
                        gen = vals[2]
                        count = vals[3]
                if len(vals) > 1 and type(vals[1]) is int:
                    self._see(vals[1])
            elif kind == K_REC:
                nrec += 1
                if keep:
                    rec = bytes(mv[p + FIELDS:p + size - CRC_LEN])
                    i = where.get(key)
                    if i is None:
                        where[key] = len(recs)
                        recs.append(rec)
                        sizes.append(size)
                    else:  # a replace(): the new version takes the old one's place
                        recs[i] = rec
                        sizes[i] = size
                self._see(key[0])
            elif kind == K_ACK:
                if keep:
                    i = where.pop(key, None)
                    if i is not None:
                        recs[i] = None
                self._see(key[0])
            else:  # a kind this version does not know: not ours to interpret
                damage += 1
            p += size
        for i in range(len(recs)):
            raw = recs[i]
            if raw is None:
                continue
            try:
                rec = tuple(decode_fields(raw, 0, len(raw), MAX_BODY, shared))
            except ValueError:
                damage += 1  # CRC-valid yet unreadable: damage all the same
                continue
            self._items.append(rec)
            self._sizes.append(sizes[i])
            self._live += sizes[i]
        return (head and nrec >= count, damage, base + n, gen)


def _newest_first(c):
    # (gen, slot): the highest generation first; equal ones in name order (path first).
    return (-c[0], c[1])


def _best_first(t):
    # (replay result, slot) when nothing was complete: complete, then least damage, newest.
    got = t[0]
    return (0 if got[_COMPLETE] else 1, got[_DAMAGE], -got[_GEN], t[1])
