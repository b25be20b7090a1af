"""Power-safe outbox store on flash: an append-only journal of CRC'd frames.

Implements the store interface of kiosk.outbox (append, remove, replace, first,
find_excluded, __len__), so Outbox uses it unchanged. Every change is ONE write() of one
frame, then flush(), before the call returns: a press is on flash before the loop draws the
thank-you, and an acknowledged record is marked removed before the next step.

Frame (integers little-endian):
    0      MAGIC 0xA5       lets recovery find the next frame after a damaged one
    1      L                body length, 1..255
    2      kind             "H" header, "R" record, "A" ack (the record was removed)
    3..    fields           L - 1 bytes
    2+L    CRC32            of bytes 0 .. 2+L-1 (magic, length and body)
Fields: a variable tuple, each field a tag byte and its data: 0x00 None; 0x10|w an int >= 0
in w bytes little-endian (w 0..8; 0 bytes is zero); 0x20|w an int < 0 stored as -1-n; 0x30
a str: one byte of length, then UTF-8. A record is the rating tuple itself (kiosk.rating, 8
or 10 fields, or more later); an ack is (boot, seq); the header is (VERSION, max_boot). A
typical rating (officer "HK-0001", a 25-char dossier, a reason) frames to ~74 bytes, the
largest protocol-valid one to 230; no frame exceeds MAX_FRAME (261).

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

import binascii
import errno
import struct

try:
    from micropython import const
except ImportError:  # CPython host
    def const(x):
        return x

VERSION = const(1)
MAGIC = const(0xA5)
K_HEAD = const(0x48)  # "H"
K_REC = const(0x52)  # "R"
K_ACK = const(0x41)  # "A"
MAX_BODY = const(255)  # one length byte: also bounds what a damaged length can make us skip
MAX_FRAME = const(261)  # magic + length + body + CRC
COMPACT_MIN = const(32768)

_T_NONE = const(0x00)
_T_INT = const(0x10)  # | width: int >= 0, `width` bytes little-endian (0 bytes: zero)
_T_NEG = const(0x20)  # | width: int < 0, stored as -1 - n
_T_STR = const(0x30)  # then one length byte and the UTF-8 bytes
_BODY_END = const(257)  # buffer offset where the largest body ends (2 header bytes + 255)
_WINDOW = const(2048)  # replay read window; must hold at least one whole frame
_EXCLUDED = const(7)  # index of `excluded` in a record tuple (kiosk.rating)
_SHARE_LEN = const(16)  # replay shares equal strings up to this length (officer, reason)...
_SHARE_SLOTS = const(64)  # ...remembering at most this many distinct ones


# --- encoding ------------------------------------------------------------------------------

def _byte(buf, p, b):
    if p >= _BODY_END:
        raise ValueError("record too long")
    buf[p] = b
    return p + 1


def _put_int(buf, p, tag, n):
    w = 0
    m = n
    while m:
        w += 1
        m >>= 8
    if w > 8:
        raise ValueError("int beyond 64 bits")
    p = _byte(buf, p, tag | w)
    while n:
        p = _byte(buf, p, n & 0xFF)
        n >>= 8
    return p


def _put_field(buf, p, v):
    if v is None:
        return _byte(buf, p, _T_NONE)
    t = type(v)
    if t is int:
        if v >= 0:
            return _put_int(buf, p, _T_INT, v)
        return _put_int(buf, p, _T_NEG, -1 - v)
    if t is str:
        data = v.encode("utf-8")
        n = len(data)
        if n > MAX_BODY:
            raise ValueError("record too long")
        p = _byte(buf, _byte(buf, p, _T_STR), n)
        if p + n > _BODY_END:
            raise ValueError("record too long")
        buf[p:p + n] = data
        return p + n
    raise ValueError("field type " + str(t))


def _fields(buf, p, end, limit=MAX_BODY, shared=None):
    """Decode the fields buf[p:end] (at most `limit` of them) into a list; ValueError when
    they do not parse. `shared` (a dict) makes equal short strings one object."""
    out = []
    add = out.append
    while p < end and limit:
        limit -= 1
        t = buf[p]
        p += 1
        if t == _T_NONE:
            add(None)
            continue
        w = t & 0x0F
        if t == _T_STR:
            if p >= end:
                raise ValueError("truncated string")
            n = buf[p]
            p += 1
            if p + n > end:
                raise ValueError("truncated string")
            raw = bytes(buf[p:p + n])
            p += n
            if shared is None or n > _SHARE_LEN:
                add(raw.decode("utf-8"))
                continue
            s = shared.get(raw)
            if s is None:
                s = raw.decode("utf-8")
                if len(shared) < _SHARE_SLOTS:
                    shared[raw] = s
            add(s)
            continue
        kind = t & 0xF0
        if (kind != _T_INT and kind != _T_NEG) or w > 8 or p + w > end:
            raise ValueError("field tag")
        if w == 1:
            v = buf[p]
        elif w == 0:
            v = 0
        else:
            # from_bytes makes an exactly sized long int; shifts and ors would leave
            # MicroPython's long ints with spare digits.
            v = int.from_bytes(buf[p:p + w], "little")
        p += w
        add(v if kind == _T_INT else -1 - v)
    return out


def _frame_size(buf, mv, p, n):
    """Size of the valid frame at buf[p] (n bytes are loaded), or 0 when there is none."""
    if buf[p] != MAGIC or p + 1 >= n:
        return 0
    length = buf[p + 1]
    end = p + 2 + length
    if length == 0 or end + 4 > n:
        return 0
    if binascii.crc32(mv[p:end]) != struct.unpack_from("<I", buf, end)[0]:
        return 0
    return length + 6


def _key_of(vals):
    if len(vals) < 2 or type(vals[0]) is not int or type(vals[1]) is not int:
        raise ValueError("record key must be two ints")
    return (vals[0], vals[1])


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
        buf = self._buf
        if kind != K_HEAD:
            _key_of(values)
        buf[0] = MAGIC
        buf[2] = kind
        p = 3
        for v in values:
            p = _put_field(buf, p, v)
        buf[1] = p - 2
        struct.pack_into("<I", buf, p, binascii.crc32(self._mv[:p]))
        return p + 4

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
            size = _frame_size(buf, mv, p, n)
            vals = None
            if size:
                try:
                    kind = buf[p + 2]
                    # A record is decoded in full only if it is still queued at the end:
                    # here its key is enough (acked records are most of a long journal).
                    vals = _fields(buf, p + 3, p + size - 4, 2 if kind == K_REC else MAX_BODY)
                    if kind != K_HEAD:
                        key = _key_of(vals)
                    elif not vals or type(vals[0]) is not int:
                        raise ValueError("header without a version")
                except ValueError:
                    vals = None  # a CRC-valid frame we cannot read is damage as well
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
                rec = bytes(mv[p + 3:p + size - 4])
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
                rec = tuple(_fields(raw, 0, len(raw), MAX_BODY, shared))
            except ValueError:
                self.corrupt += 1  # CRC-valid yet unreadable: damage all the same
                continue
            self._items.append(rec)
            self._sizes.append(sizes[i])
            self._live += sizes[i]
        return head and self.corrupt == corrupt
