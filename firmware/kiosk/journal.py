"""Power-safe outbox store on flash: an append-only journal of CRC'd frames.

Implements the store interface of kiosk.outbox (append, remove, replace, first,
find_excluded, __len__), so Outbox uses it unchanged. Every change is ONE write() of one
frame, then flush(), before the call returns: a press is on flash before the loop draws the
thank-you, and an acknowledged record is marked removed before the next step.

Frames (magic, length, kind, tagged fields, CRC32; at most MAX_FRAME = 261 bytes, ~74 for a
typical rating) are defined in kiosk.frame: "H" the header (VERSION, max_boot), "R" a record
(the rating tuple, its key (boot, seq) first), "A" an ack (the key of a removed record).

Replay on open: frames apply in file order; "R" adds a record, or for a key already queued
replaces it in place (replace() amends a record with one write); "A" drops its key. Bytes
whose magic, length or CRC do not check are no frame: recovery counts the damaged run once in
`corrupt`, steps one byte and looks for the next valid frame. So a write torn by a power cut
loses only the frame being written, and a damaged byte loses only its own frame. A lost ack
brings its record back: sent twice, never lost (the collector stores each id once; records
keep their original (boot, seq)). After a replay that found damage, or a file without a
header, the journal is compacted at once, so no later append is glued onto garbage.

Compaction (power-safe): the header and the live records go to path + ".tmp", flushed and
closed, then renamed over the journal (littlefs: rename replaces atomically). A cut before
the rename leaves the old journal (the next open deletes the stale temp file), a cut after it
the new one. Where rename refuses an existing target (FAT) the journal is removed first; a
cut between the two leaves only the complete temp file, which the next open adopts.

Size policy: dead bytes (acked or replaced records, acks, damage, the header) are compacted
away as soon as they exceed both compact_min (32 KB) and the live bytes, so the file stays
within 2 * max(live, compact_min) + one frame, and a compaction needs the live bytes once
more. For the outbox capacity of 2000 (beyond it the outbox refuses or drops, counted):
typical ratings ~300 KB of file, ~450 KB during a compaction; the largest valid ratings
~920 KB and ~1.4 MB; any frame (MAX_FRAME) at most 1.05 MB and 1.6 MB.

Errors: a record that cannot be encoded (field type, an int beyond 64 bits, over 255 bytes,
a key that is not two ints) raises ValueError before anything changes. An OSError while
writing is counted in `write_errors` (`last_error` keeps it); the record stays in RAM (it is
still sent while the power lasts) and the journal repairs itself at once by compacting from
RAM, again at every later change while that fails. Damage never raises: it is counted in
`corrupt`. A header of another VERSION raises ValueError (a newer firmware's journal).

RAM: the queued records stay decoded (first() runs every loop step): a tuple, its dossier
and its ts, with officer and reason strings shared between replayed records.

The fs is injected: fs.open(path, mode) for "rb", "wb" and "ab", returning files with
readinto, write, flush and close; fs.rename(src, dst); fs.remove(path); OSError args[0] is
an errno (ENOENT for a missing file). On MicroPython: builtin open, os.rename, os.remove;
flush() syncs the file on littlefs. Constraints: MicroPython compatible, no os import, one
frame buffer allocated once and one read window during replay.
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
    removing dst on an unrelated error could lose the only good copy."""
    try:
        fs.rename(src, dst)
    except OSError as e:
        if _errno(e) != errno.EEXIST:
            raise
        fs.remove(dst)
        fs.rename(src, dst)


class Journal:
    def __init__(self, fs, path, compact_min=COMPACT_MIN):
        self.fs = fs
        self.path = path
        self.tmp = path + ".tmp"
        self.compact_min = compact_min
        self._buf = bytearray(MAX_FRAME)  # every frame is built here: no allocation per write
        self._mv = memoryview(self._buf)
        self._items = []  # live records, oldest first
        self._sizes = []  # their frame sizes, to know the dead bytes
        self._live = 0  # bytes of the live record frames
        self._size = 0  # bytes in the journal file
        self._f = None  # the append handle
        self._broken = False  # the file may not match RAM: the next change compacts
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
    def file_bytes(self):
        """Bytes in the journal file, as far as this journal wrote them."""
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
        """Rewrite the journal as a header and the live records (temp file, then rename).

        True when done. On OSError the old journal stays as it was, the error is counted and
        False is returned; the next change tries again."""
        fs = self.fs
        try:
            f = fs.open(self.tmp, "wb")
            try:
                size = self._put(f, self._frame(K_HEAD, (VERSION, self.max_boot)))
                for rec in self._items:
                    size += self._put(f, self._frame(K_REC, rec))
                f.flush()
            finally:
                f.close()
        except OSError as e:
            self._failed(e, False)  # the journal itself was not touched
            self._drop_tmp()  # give the space back (ENOSPC)
            return False
        try:
            self._close()
            replace(fs, self.tmp, self.path)
            self._f = fs.open(self.path, "ab")
        except OSError as e:
            self._failed(e, True)  # no append handle (or no journal yet): compact again
            return False
        self._size = size
        self._broken = False
        self.compactions += 1
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

    def _commit(self, n):
        """Make the change in RAM durable: one write of the frame, or a compaction when the
        file may not match RAM."""
        if not self._broken:
            try:
                if self._f is None:
                    raise OSError(errno.EBADF, "journal not open")
                self._put(self._f, n)
                self._f.flush()
                self._size += n
                return
            except OSError as e:
                # The file may now end in part of this frame: never append after it again.
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
        f = self._f
        self._f = None
        if f is not None:
            f.close()

    def _drop_tmp(self):
        try:
            self.fs.remove(self.tmp)
        except OSError as e:
            if _errno(e) != errno.ENOENT:
                self._failed(e, False)

    def _recover(self):
        fs = self.fs
        f = open_existing(fs, self.path)
        adopted = False
        if f is None:
            # A cut between remove and rename (FAT) leaves only the complete temp file.
            f = open_existing(fs, self.tmp)
            adopted = f is not None
        clean = False
        if f is not None:
            try:
                clean = self._replay(f)
            finally:
                f.close()
        if clean and not adopted and not self._due():
            self._drop_tmp()  # left by a compaction cut before its rename
            try:
                self._f = fs.open(self.path, "ab")
            except OSError as e:
                self._failed(e, True)
            return
        # New, damaged, headerless, adopted or too much dead weight: write it afresh.
        if not self.compact():
            self._broken = True  # counted; every change tries again

    def _replay(self, f):
        """Read the whole journal; True when it was a header followed by valid frames only."""
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
        corrupt = self.corrupt
        head = False
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
                    self.corrupt += 1
                    damaged = True
                p += 1
                continue
            damaged = False
            if kind == K_HEAD:
                if vals[0] != VERSION:
                    raise ValueError("journal version " + str(vals[0]))
                head = head or (base + p == 0)
                if len(vals) > 1 and vals[1] is not None:
                    self._see(vals[1])
            elif kind == K_REC:
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
                i = where.pop(key, None)
                if i is not None:
                    recs[i] = None
                self._see(key[0])
            else:  # a kind this version does not know: not ours to interpret
                self.corrupt += 1
            p += size
        self._size = base + n
        for i in range(len(recs)):
            raw = recs[i]
            if raw is None:
                continue
            try:
                rec = tuple(decode_fields(raw, 0, len(raw), MAX_BODY, shared))
            except ValueError:
                self.corrupt += 1  # CRC-valid yet unreadable: damage all the same
                continue
            self._items.append(rec)
            self._sizes.append(sizes[i])
            self._live += sizes[i]
        return head and self.corrupt == corrupt
