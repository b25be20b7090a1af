"""Reading a journal file back (kiosk.journal's recovery): its generation, its records.

    gen = read_gen(f, buf, mv)              # from the header frame at offset 0
    got = replay(f, keep, see)              # the whole file, frame by frame

The file format is kiosk.journal's (frames of kiosk.frame): a header "H" (VERSION,
max_boot, gen, count) at offset 0, then records "R" and acks "A". replay() applies the
frames in file order: "R" adds a record, or replaces the queued one with its key in place;
"A" drops its key. Bytes that are no frame are damage: one count per run, stepped over byte
by byte, so a torn frame loses only itself. A file is COMPLETE when it starts with a header
and holds at least the `count` records the header announces (a cut compaction holds fewer);
a header of older firmware, (VERSION, max_boot) only, is generation 0 and announces none.

Constraints: MicroPython compatible; one read window; while reading, a record is kept as
its bytes, and decoded only if it is still queued at the end (acked records are most of a
long journal); equal short strings of the records become one object.
"""

from kiosk.frame import (CRC_LEN, FIELDS, K_ACK, K_HEAD, K_REC, MAX_BODY, MAX_FRAME,
                         decode_fields, decode_frame, key_of)

try:
    from micropython import const
except ImportError:  # CPython host
    def const(x):
        return x

VERSION = const(1)

_WINDOW = const(2048)  # read window; must hold at least one whole frame

# replay() returns a tuple, indexed by these
COMPLETE = const(0)  # header at offset 0 and the records it announces
DAMAGE = const(1)  # damaged runs
BYTES = const(2)  # file size
GEN = const(3)  # generation in the header; -1 without a header at offset 0
ITEMS = const(4)  # with keep: the queued records (tuples), oldest first
SIZES = const(5)  # with keep: their frame sizes


def read_gen(f, buf, mv):
    """The generation in the header of the file open in f: 0 for a header of older firmware,
    -1 when the file does not start with a header. buf (MAX_FRAME bytes) is scratch."""
    n = 0
    while n < MAX_FRAME:
        k = f.readinto(mv[n:])
        if not k:
            break
        n += k
    got = decode_frame(buf, 0, n, mv) if n else None
    if got is None or got[0] != K_HEAD:
        return -1
    vals = got[1]
    if len(vals) > 3 and type(vals[2]) is int:
        return vals[2]
    return 0


def replay(f, keep, see):
    """Read the whole file open in f. see(boot) is called with every boot number found (the
    header's max_boot, every key). Without keep, only checks: ITEMS and SIZES are empty.
    ValueError for a header of another VERSION (a newer firmware's journal)."""
    buf = bytearray(_WINDOW)
    mv = memoryview(buf)
    recs = []  # record fields (bytes) in file order; None once acked
    shared = {}
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
    count = 0  # records the header announces
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
        got = decode_frame(buf, p, n, mv, 2)  # a record's key is enough here
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
                see(vals[1])
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
            see(key[0])
        elif kind == K_ACK:
            if keep:
                i = where.pop(key, None)
                if i is not None:
                    recs[i] = None
            see(key[0])
        else:  # a kind this version does not know: not ours to interpret
            damage += 1
        p += size
    items = []
    kept = []
    for i in range(len(recs)):
        raw = recs[i]
        if raw is None:
            continue
        recs[i] = None  # give the bytes back as we go
        try:
            rec = tuple(decode_fields(raw, 0, len(raw), MAX_BODY, shared))
        except ValueError:
            damage += 1  # CRC-valid yet unreadable: damage all the same
            continue
        items.append(rec)
        kept.append(sizes[i])
    return (head and nrec >= count, damage, base + n, gen, items, kept)
