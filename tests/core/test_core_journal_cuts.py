"""The flash journal (kiosk.journal) under power cuts at every step, on every flash model.

The models (tests/core/flash_models.py): "prefix" (every byte durable as written, torn
mid-frame), littlefs (copy-on-write, atomic commit at sync) and FAT as MicroPython's VfsFat
behaves on the ESP32 (size only at sync, rename over a file = remove + rename, and, with
torn sectors, an append that destroys the synced bytes sharing its sector). The journal runs
single-copy where the model lets one copy be safe, mirrored (copies=2) on torn FAT; the
mirror is also run on the other models.

The invariant, checked after every cut and after every second cut during the recovery of
the first: the journal holds exactly the records it held before the interrupted call or
exactly those after it, in outbox order. So every record whose append() returned is there
unless its remove() returned; a record whose remove() returned never comes back; a cut
during remove() may bring its record back (sent again: the collector stores each id once);
a record is never lost. After the recovery the journal reopens clean and takes appends.

Plain functions and asserts: collected by pytest and run under MicroPython by
tests/core/runner.py.
"""

import sys

from flash_models import FatFS, LfsFS, MemFS, PowerCut
from kiosk.frame import K_HEAD, K_REC, MAX_FRAME, encode_frame
from kiosk.journal import Journal

P = "outbox.jnl"
DOSSIER = "000.00.12.H29-251125-0042"

# Under MicroPython (WebAssembly, ~30x slower than CPython) the matrix is lighter: the
# prefix model, whose steps are bytes, is cut at every 7th byte (at every byte of an append
# in test_core_journal.py), a sector is programmed in one step after its erase, and second
# cuts are walked on the two configurations the device runs (littlefs, FAT mirrored) and on
# FAT without torn sectors. CPython walks everything at every step.
MP = sys.implementation.name == "micropython"
BYTE_STRIDE = 7 if MP else 1
PROGRAM_STEPS = 1 if MP else 2

# (name, make the fs, copies, walk second cuts too, steps between cuts)
MODELS = (
    ("prefix", MemFS, 1, False, BYTE_STRIDE),
    ("prefix-mirror", MemFS, 2, False, BYTE_STRIDE),
    ("littlefs", LfsFS, 1, True, 1),
    ("littlefs-mirror", LfsFS, 2, not MP, 1),
    ("fat", lambda: FatFS(tear=False), 1, True, 1),
    ("fat-torn-mirror", lambda: FatFS(program_steps=PROGRAM_STEPS), 2, True, 1),
    ("fat-torn-size-first-mirror",
     lambda: FatFS(size_first=True, program_steps=PROGRAM_STEPS), 2, not MP, 1),
)


def rec(seq, boot=1, reason=None, dossier=DOSSIER):
    return (boot, seq, 4, 4, "HK-0001", 3600500 + seq, 1764064800000 + seq, None, reason,
            dossier)


def opened(fs, copies, compact_min=0):
    if copies == 1:
        return Journal(fs, P, compact_min=compact_min)
    return Journal(fs, P, compact_min=compact_min, copies=copies)


def put_file(fs, name, data):
    f = fs.open(name, "wb")
    f.write(data)
    f.close()


def base(make, copies, n=6, removed=2):
    """A journal of n records, the first `removed` of them removed; returns (fs, queued)."""
    fs = make()
    j = opened(fs, copies)
    for i in range(n):
        j.append(rec(i))
    for i in range(removed):
        assert j.remove((1, i))
    queued = j.first(100)
    j.close()
    return fs, queued


def recovered(fs, copies, allowed, where):
    """Open after a cut: one of `allowed`; reopens clean with it and takes an append."""
    j = opened(fs, copies)
    got = j.first(100)
    assert got in allowed, (where, got)
    j.append(rec(99, boot=2))
    j.close()
    again = opened(fs, copies)
    assert again.first(100) == got + [rec(99, boot=2)], where
    assert again.corrupt == 0, where
    again.close()
    return got


def walk(make, copies, cut, setup, op, before, after, label):
    """Cut at every step of op(journal) on a copy of the flash that setup() made (op None:
    of opening the journal, its recovery); cut = (double, stride): with `double`, also cut
    at every step of the recovery that follows each cut. Returns the outcomes seen."""
    double, stride = cut
    fs0 = setup()
    allowed = (before, after)
    seen = []
    k = 0
    while True:
        fs = fs0.clone()
        j = None if op is None else opened(fs, copies)
        fs.budget = k
        try:
            if op is None:
                j = opened(fs, copies)
            else:
                op(j)
            done = True
        except PowerCut:
            done = False
        fs.power_on()
        where = (label, k)
        if done:
            assert j.first(100) == after, where
        if double and not done:
            k2 = 0
            while True:
                fs2 = fs.clone()
                fs2.budget = k2
                try:
                    opened(fs2, copies)
                    finished = True
                except PowerCut:
                    finished = False
                fs2.power_on()
                j2 = opened(fs2, copies)
                assert j2.first(100) in allowed, (label, k, k2, j2.first(100))
                j2.close()
                j2 = opened(fs2, copies)  # the recovery's repair was whole
                assert j2.first(100) in allowed and j2.corrupt == 0, (label, k, k2)
                if finished:
                    break
                k2 += 1
        got = recovered(fs, copies, (after,) if done else allowed, where)
        if got not in seen:
            seen.append(got)
        if done:
            return seen
        k += stride


def each_model(check):
    for name, make, copies, double, stride in MODELS:
        check(name, make, copies, (double, stride))


# --- every change, cut at every step ---------------------------------------------------------

def test_cut_during_append():
    def check(name, make, copies, cut):
        fs, queued = base(make, copies)
        seen = walk(make, copies, cut, lambda: fs, lambda j: j.append(rec(6)),
                    queued, queued + [rec(6)], name)
        assert queued in seen, name  # the walk did cut before the record was written
    each_model(check)


def test_cut_during_remove_that_compacts():
    def check(name, make, copies, cut):
        fs, queued = base(make, copies)
        probe = opened(fs.clone(), copies)
        n = probe.compactions
        probe.remove((1, 2))
        assert probe.compactions == n + 1, name  # dead bytes overtake live ones
        seen = walk(make, copies, cut, lambda: fs, lambda j: j.remove((1, 2)),
                    queued, queued[1:], name)
        assert seen == [queued, queued[1:]], (name, seen)
    each_model(check)


def test_cut_during_replace():
    def check(name, make, copies, cut):
        fs, queued = base(make, copies, removed=0)
        new = rec(3, reason="attitude", dossier=None)
        after = queued[:3] + [new] + queued[4:]
        walk(make, copies, cut, lambda: fs, lambda j: j.replace((1, 3), new),
             queued, after, name)
    each_model(check)


def test_cut_during_compaction():
    def check(name, make, copies, cut):
        fs, queued = base(make, copies, removed=1)
        walk(make, copies, cut, lambda: fs, lambda j: j.compact(), queued, queued, name)
    each_model(check)


def test_cut_during_recovery_of_damage():
    # A torn frame at the end (prefix model) makes the next open compact at once.
    def check(name, make, copies, cut):
        fs, queued = base(make, copies)

        def setup():
            torn = fs.clone()
            for path in torn.names():
                data = torn.visible(path)
                put_file(torn, path, data + encode_frame_bytes(K_REC, rec(7))[:20])
            return torn
        walk(make, copies, cut, setup, None, queued, queued, name)
    each_model(check)


# --- files left by the firmware before generations -------------------------------------------

def encode_frame_bytes(kind, values):
    buf = bytearray(MAX_FRAME)
    n = encode_frame(kind, values, buf)
    return bytes(buf[:n])


def legacy_journal(recs, max_boot=1):
    """A journal as the firmware before generations wrote it: header (VERSION, max_boot)."""
    out = encode_frame_bytes(K_HEAD, (1, max_boot))
    for r in recs:
        out += encode_frame_bytes(K_REC, r)
    return out


def test_leftover_temp_file_alone_survives_two_cuts():
    # Issue 10: the old compaction on FAT removed the journal, then was cut before its rename:
    # only outbox.jnl.tmp is left, complete. Adopting it must never truncate it.
    recs = [rec(i) for i in range(5)]

    def check(name, make, copies, cut):
        def setup():
            fs = make()
            put_file(fs, P + ".tmp", legacy_journal(recs))
            return fs
        walk(make, copies, cut, setup, None, recs, recs, name)
    each_model(check)


def test_leftover_temp_file_beside_the_journal_is_stale():
    recs = [rec(i) for i in range(4)]

    def check(name, make, copies, cut):
        def setup():
            fs = make()
            put_file(fs, P, legacy_journal(recs))
            put_file(fs, P + ".tmp", legacy_journal(recs[:2]))  # a compaction cut midway
            return fs
        walk(make, copies, cut, setup, None, recs, recs, name)
        fs = setup()
        opened(fs, copies).close()
        assert P + ".tmp" not in fs.names(), name
    each_model(check)


# --- why FAT needs the mirror ---------------------------------------------------------------

def test_single_copy_on_torn_fat_loses_synced_records_so_fat_mirrors():
    """On FAT with torn sectors one copy is not enough: a cut while an append rewrites the
    last sector destroys records appended before it. The model is strict enough to show it,
    and the mirror (copies=2) is what the FAT boundary must ask for."""
    fs, queued = base(FatFS, 1)
    lost = False
    k = 0
    while True:
        cut = fs.clone()
        j = opened(cut, 1)
        cut.budget = k
        try:
            j.append(rec(6))
            break
        except PowerCut:
            pass
        cut.power_on()
        got = opened(cut, 1).first(100)
        if got not in (queued, queued + [rec(6)]):
            lost = True
        k += 1
    assert lost


def test_fs_boundary_chooses_the_number_of_copies():
    class FatBoundary(FatFS):
        journal_copies = 2
    fs = FatBoundary()
    j = Journal(fs, P)
    j.append(rec(0))
    assert j.copies == 2 and sorted(j.paths) == [P, P + ".2"]
    assert fs.visible(P) == fs.visible(P + ".2")
    assert Journal(LfsFS(), P).copies == 1


# --- a long life of random changes and cuts ---------------------------------------------------

def test_a_life_of_random_changes_and_cuts_loses_nothing():
    """Appends, removes and replaces in a pseudo-random order, through many compactions and
    generations, with the power cut at a pseudo-random step of one change in three (and of
    the recovery after one cut in four)."""
    ops = 120 if MP else 400
    for name, make, copies, _, _ in MODELS:
        fs = make()
        j = opened(fs, copies, compact_min=200)
        queued = []
        x = 7
        seq = 0
        cuts = 0
        for step in range(ops):
            x = (x * 1103515245 + 12345) & 0x7FFFFFFF
            op = (x >> 4) % 8
            if op < 4 or not queued:
                new = rec(seq, reason="waiting" if x & 0x200 else None)
                seq += 1
                after = queued + [new]
                change = (lambda j, new=new: j.append(new))
            elif op < 7:
                key = queued[(x >> 8) % len(queued)][:2]
                after = [r for r in queued if r[:2] != key]
                change = (lambda j, key=key: j.remove(key))
            else:
                i = (x >> 8) % len(queued)
                new = queued[i][:8] + ("attitude", None)
                after = queued[:i] + [new] + queued[i + 1:]
                change = (lambda j, new=new: j.replace(new[:2], new))
            if (x >> 12) % 3:
                change(j)
                queued = after
                continue
            fs.budget = (x >> 14) % (60 if make is MemFS else 8)  # steps: bytes or blocks
            try:
                change(j)
                queued = after
                fs.budget = None
                continue
            except PowerCut:
                cuts += 1
            fs.power_on()
            if (x >> 20) % 4 == 0:
                fs.budget = (x >> 22) % (60 if make is MemFS else 8)
                try:
                    opened(fs, copies, compact_min=200)
                except PowerCut:
                    pass
                fs.power_on()
            j = opened(fs, copies, compact_min=200)
            got = j.first(1000)
            assert got == queued or got == after, (name, step)
            queued = got
        assert cuts >= ops // 12 and j.gen >= ops // 60, (name, cuts, j.gen)  # it did cut
        j.close()
        assert opened(fs, copies, compact_min=200).first(1000) == queued, name


# --- the models themselves --------------------------------------------------------------------

def cut_after(fs, steps, action):
    """Run action() with the power cut after `steps` steps; True when it was cut."""
    fs.budget = steps
    try:
        action()
        cut = False
    except PowerCut:
        cut = True
    fs.power_on()
    return cut


def test_flash_models_keep_no_more_than_the_real_file_systems():
    # littlefs: nothing written shows before the commit at flush, then all of it.
    fs = LfsFS()
    put_file(fs, "a", b"old")
    f = fs.open("a", "ab")
    f.write(b"new")
    assert fs.visible("a") == b"old"
    f.flush()
    assert fs.visible("a") == b"oldnew"
    f = fs.open("a", "wb")  # the truncation too waits for the commit
    assert fs.visible("a") == b"oldnew"
    # FAT: the size moves only at sync; unsynced full sectors are lost with the size.
    fs = FatFS(sector=4, tear=False)
    put_file(fs, "a", b"abcdef")
    f = fs.open("a", "ab")
    f.write(b"ghij")  # fills a sector, which reaches flash beyond the old size
    assert fs.visible("a") == b"abcdef"
    # FAT: a rename over an existing file is a remove, then a rename.
    put_file(fs, "b", b"B")
    assert cut_after(fs, 1, lambda: fs.rename("a", "b"))
    assert fs.names() == ["a"]
    # FAT: a torn rewrite of the last sector destroys what was synced in it before.
    fs = FatFS(sector=4)
    put_file(fs, "a", b"abcdef")
    f = fs.open("a", "ab")
    f.write(b"g")
    assert cut_after(fs, 1, f.flush)  # erased, not yet programmed
    assert fs.visible("a") == b"abcd\xff\xff"
    # FAT, size first: the size can cover bytes that never got written.
    fs = FatFS(sector=4, size_first=True, tear=False)
    put_file(fs, "a", b"ab")
    f = fs.open("a", "ab")
    f.write(b"c")
    assert cut_after(fs, 1, f.flush)
    assert fs.visible("a") == b"ab\x00"
