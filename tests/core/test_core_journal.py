"""The flash journal (kiosk.journal): torn writes, damaged bytes, cut compactions, bounds.

Plain functions and asserts: collected by pytest and run under MicroPython by
tests/core/runner.py. MemFS, the in-memory file system that can lose power at any byte
(tests/core/flash_models.py, imported from here by test_core_bootcount.py and
bench/journal_recovery.py), is the flash of these tests; test_core_journal_cuts.py cuts the
power at every step on the littlefs and FAT models as well.
"""

import binascii
import errno
import struct

from core_support import OsFS, TempDir, raises, rename
from flash_models import MemFS, PowerCut
from kiosk.frame import K_REC, decode_frame, encode_frame
from kiosk.journal import MAX_FRAME, Journal, replace
from kiosk.outbox import MemoryStore, Outbox

P = "outbox.jnl"
P2 = P + ".2"  # the other generation's name, and the mirror copy
HEADER_NEW = b"\x11\x01\x00\x11\x01\x10"  # version 1, max_boot None, gen 1, count 0
DOSSIER = "000.00.12.H29-251125-0042"  # 25 characters, the dossier code alphabet


# --- files on the host --------------------------------------------------------------------

def rec(seq, boot=1, excluded=None, officer="HK-0001", reason=None, dossier=None):
    return (boot, seq, 4, 4, officer, 3600500 + seq, 1764064800000 + seq, excluded, reason,
            dossier)


def frame(kind, body):
    """A frame as docs of kiosk.journal describe it, built independently of the module."""
    head = bytes((0xA5, len(body) + 1, ord(kind))) + body
    return head + struct.pack("<I", binascii.crc32(head))


def built(n, **kw):
    """A journal on a fresh MemFS holding n records; returns (fs, records, frame ends)."""
    fs = MemFS()
    j = Journal(fs, P, **kw)
    recs = []
    ends = []
    for i in range(n):
        r = rec(i, dossier=DOSSIER if i % 2 else None, reason="waiting" if i % 3 else None)
        j.append(r)
        recs.append(r)
        ends.append(fs.size(P))
    j.close()
    return fs, recs, ends


def reopen_appends(fs, expected):
    """The journal accepts an append after recovery and keeps it (not glued onto garbage)."""
    j = Journal(fs, P)
    j.append(rec(99, boot=2))
    j.close()
    again = Journal(fs, P)
    assert again.first(100) == expected + [rec(99, boot=2)]
    assert again.corrupt == 0


# --- the store interface -------------------------------------------------------------------

def test_records_survive_reopen_with_their_ids():
    fs = MemFS()
    j = Journal(fs, P)
    assert j.max_boot is None and len(j) == 0
    recs = [
        (7, 0, 4, 4, None, 0, None, None),  # 8 fields, as before reason and dossier
        (7, 1, 1, 5, "Nguyễn Văn Ánh", 86400000, 1764064800000, None, "attitude", DOSSIER),
        (7, 2, 3, 3, "", 2 ** 40, None, "cooldown", None, None),
        (2147483647, 2147483647, -1, 0, "HK-0001", -(2 ** 35), 4102444799999, "no_session",
         None, "A-Z.a_z/0-9"),
    ]
    for r in recs:
        j.append(r)
    j.close()
    again = Journal(fs, P)
    assert again.first(10) == recs
    assert [type(r) for r in again.first(10)] == [tuple] * 4
    assert again.max_boot == 2147483647 and again.corrupt == 0
    j = Journal(MemFS(), P)
    j.append(rec(0))
    j.append(rec(1))
    j.close()
    a, b = Journal(j.fs, P).first(2)
    assert a[4] == "HK-0001" and a[4] is b[4]  # replay shares equal short strings (RAM)


def test_frame_layout_matches_the_documented_format():
    fs = MemFS()
    j = Journal(fs, P)
    j.append((1, 300, 4, 4, "HK", 5, None, None))
    j.remove((1, 300))
    header = frame("H", HEADER_NEW)
    record = frame("R", b"\x11\x01" + b"\x12\x2c\x01" + b"\x11\x04\x11\x04" + b"\x30\x02HK"
                   + b"\x11\x05\x00\x00")
    ack = frame("A", b"\x11\x01\x12\x2c\x01")
    assert bytes(fs.files[P]) == header + record + ack


def test_behaves_like_memory_store_across_reopens():
    fs = MemFS()
    j = Journal(fs, P, compact_min=300)
    m = MemoryStore()
    x = 2024
    seq = 0
    compactions = 0
    for step in range(700):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        op = (x >> 4) % 10
        if op < 5:
            r = rec(seq, boot=1 + seq // 50, excluded="cooldown" if x & 0x100 else None)
            seq += 1
            j.append(r)
            m.append(r)
        elif op < 8:
            queued = m.first(1000)
            key = (9, 9) if not queued else queued[(x >> 9) % len(queued)][:2]
            assert j.remove(key) == m.remove(key), step
        elif op == 8:
            queued = m.first(1000)
            if queued:
                old = queued[(x >> 9) % len(queued)]
                new = old[:8] + ("waiting", DOSSIER)
                assert j.replace(old[:2], new) and m.replace(old[:2], new)
            assert not j.replace((8, 8), rec(8, boot=8))
        else:
            compactions += j.compactions
            j.close()
            j = Journal(fs, P, compact_min=300)
            assert j.corrupt == 0
        assert j.first(1000) == m.first(1000), step
        assert len(j) == len(m) and j.find_excluded() == m.find_excluded(), step
        assert j.file_bytes == fs.size(j.paths[0]) and len(fs.files) == 1, step
    assert compactions + j.compactions > 3  # the sequence did exercise compaction


def test_outbox_runs_on_the_journal_unchanged():
    fs = MemFS()
    o = Outbox(Journal(fs, P), capacity=3)
    assert o.add(rec(0)) and o.add(rec(1, excluded="cooldown")) and o.add(rec(2))
    assert o.add(rec(3)) is True  # full: the excluded record made room
    assert o.add(rec(4)) is False and o.dropped == 2
    assert o.remove((1, 0)) and not o.remove((1, 0))
    assert o.replace(rec(2, reason="guidance"))
    o.store.close()
    again = Outbox(Journal(fs, P), capacity=3)
    assert again.first(10) == [rec(2, reason="guidance"), rec(3)]


def test_press_is_one_write_of_at_most_128_bytes_then_a_flush():
    fs = MemFS()
    j = Journal(fs, P)
    worst_typical = (2 ** 31 - 1, 2 ** 31 - 1, 5, 5, "HK-0001", 30 * 86400000, 4102444799999,
                     "no_session", "guidance", DOSSIER)
    for r in (rec(0, reason="attitude", dossier=DOSSIER), worst_typical):
        writes, flushes = len(fs.writes), fs.flushes
        j.append(r)
        assert len(fs.writes) == writes + 1 and fs.flushes == flushes + 1
        assert fs.writes[-1][0] == P and fs.writes[-1][1] <= 128, fs.writes[-1]
    for change in (lambda: j.replace((1, 0), rec(0, reason="other", dossier=DOSSIER)),
                   lambda: j.remove((1, 0))):
        writes = len(fs.writes)
        assert change()
        assert len(fs.writes) == writes + 1 and fs.writes[-1][1] <= 128


def test_unencodable_record_raises_and_changes_nothing():
    fs = MemFS()
    j = Journal(fs, P)
    j.append(rec(0))
    size, writes = fs.size(P), len(fs.writes)
    for bad in ((1, 1, 4.5), (1, 2, "x" * 300), ("1", 3, 4), (1,), (1, 4, b"raw"),
                (1, 5, "ô" * 126),  # 252 bytes of UTF-8 plus the rest is over 255
                (1, 6, 2 ** 64), (1, 7, -(2 ** 64) - 1)):  # beyond 64 bits
        raises(ValueError, j.append, bad)
    raises(ValueError, j.replace, (1, 0), rec(1))  # a replace may not change the key
    assert j.first(10) == [rec(0)] and fs.size(P) == size and len(fs.writes) == writes


# --- power cuts and damage -----------------------------------------------------------------

def test_torn_tail_at_every_offset_loses_only_the_record_being_written():
    fs, recs, ends = built(6)
    data = bytes(fs.files[P])
    for cut in range(ends[2], len(data) + 1):  # every byte of the last three records
        torn = MemFS({P: bytearray(data[:cut])})
        j = Journal(torn, P)
        whole = [recs[i] for i in range(6) if ends[i] <= cut]
        assert j.first(10) == whole, cut
        assert j.corrupt == (0 if cut in ends else 1), cut
        j.close()
        reopen_appends(torn, whole)


def test_cut_during_append_at_every_byte():
    fs, recs, _ = built(3)
    new = rec(3, reason="attitude", dossier=DOSSIER)
    k = 0
    while True:
        cut = fs.clone()
        j = Journal(cut, P)
        cut.budget = k
        try:
            j.append(new)
            done = True
        except PowerCut:
            done = False
        cut.budget = None
        got = Journal(cut, P).first(10)
        assert got == recs + [new] if done else got in (recs, recs + [new]), k
        reopen_appends(cut, got)
        if done:
            break
        k += 1
    assert k > 60  # the cut did walk through the whole frame


def test_damaged_byte_loses_only_its_own_record():
    fs, recs, ends = built(6)
    data = bytes(fs.files[P])
    for i in range(ends[2], len(data)):
        hit = 0
        while ends[hit] <= i:
            hit += 1
        expected = recs[:hit] + recs[hit + 1:]
        for mask in (0x01, 0xFF):
            bad = bytearray(data)
            bad[i] ^= mask
            damaged = MemFS({P: bad})
            j = Journal(damaged, P)
            assert j.first(10) == expected, (i, mask)
            assert j.corrupt == 1, (i, mask)
            j.close()
        reopen_appends(damaged, expected)


def test_damaged_ack_brings_its_record_back_never_another():
    fs, recs, ends = built(3)
    j = Journal(fs, P)
    assert j.remove((1, 1))
    j.close()
    data = bytes(fs.files[P])
    for i in range(ends[-1], len(data)):
        bad = bytearray(data)
        bad[i] ^= 0x10
        j = Journal(MemFS({P: bad}), P)
        assert j.first(10) == recs and j.corrupt == 1, i  # sent again; the collector dedups


def test_compaction_cut_at_every_step_leaves_old_or_new():
    # The journal renames nothing, so a rename that refuses an existing target (FatFs)
    # changes nothing either; both are walked. More models: test_core_journal_cuts.py.
    for replaces in (True, False):
        base = MemFS(replaces=replaces)
        j = Journal(base, P, compact_min=0)
        recs = [rec(i, dossier=DOSSIER) for i in range(6)]
        for r in recs:
            j.append(r)
        assert j.remove((1, 0)) and j.remove((1, 1))
        assert j.compactions == 1  # only the one that created the file
        j.close()
        before = recs[2:]
        after = recs[3:]
        # The third removal tips dead bytes over live ones: ack, then a compaction.
        probe = base.clone()
        j = Journal(probe, P, compact_min=0)
        start = probe.steps
        j.remove((1, 2))
        assert j.compactions == 1
        total = probe.steps - start
        seen = []
        for k in range(total + 1):
            cut = base.clone()
            j = Journal(cut, P, compact_min=0)
            cut.budget = k
            try:
                j.remove((1, 2))
            except PowerCut:
                pass
            cut.budget = None
            j = Journal(cut, P, compact_min=0)
            got = j.first(10)
            assert got in (before, after), (replaces, k)
            assert j.corrupt <= 1 and (got == before or j.corrupt == 0), (replaces, k)
            assert cut.names() == j.paths, (replaces, k)  # the stale generation is gone
            if got not in seen:
                seen.append(got)
            j.close()
            reopen_appends(cut, got)
        assert seen == [before, after], replaces


def test_file_stays_bounded_and_dead_bytes_are_compacted():
    fs = MemFS()
    j = Journal(fs, P, compact_min=1000)
    j.append(rec(0))
    s = fs.writes[-1][1]  # every record here has the same frame size
    seq = 1
    for phase in range(6):
        grow = phase % 2 == 0
        for _ in range(60):
            if grow:
                j.append(rec(seq))
                seq += 1
            elif len(j):
                j.remove(j.first(1)[0][:2])
            live = len(j) * s
            size = fs.size(j.paths[0])
            assert size == j.file_bytes and len(fs.files) == 1
            assert size <= 2 * max(live, 1000) + MAX_FRAME, (phase, size, live)
    assert j.compactions >= 3


def test_write_error_is_counted_and_repaired_from_ram():
    fs, recs, _ = built(2)
    j = Journal(fs, P)
    fs.fail_writes = 1  # the append tears; the compaction that follows works
    j.append(rec(2))
    assert j.write_errors == 1 and j.first(10) == recs + [rec(2)]
    fs.fail_writes = 2  # the append and the repair fail: kept in RAM, retried next change
    j.append(rec(3))
    assert j.write_errors == 3 and j.first(10) == recs + [rec(2), rec(3)]
    assert j.last_error.args[0] == errno.EIO
    assert P + ".tmp" not in fs.files  # the failed repair gave its space back
    assert j.remove((1, 0))
    assert j.write_errors == 3
    again = Journal(fs, P)
    assert again.first(10) == [recs[1], rec(2), rec(3)] and again.corrupt == 0


def test_unwritable_flash_at_open_keeps_ratings_in_ram_and_retries():
    class ReadOnly(MemFS):
        def open(self, path, mode):
            if self.read_only and "r" not in mode:
                raise OSError(errno.EIO, path)
            return MemFS.open(self, path, mode)
    fs = ReadOnly()
    fs.read_only = True
    j = Journal(fs, P)
    assert j.write_errors == 1 and P not in fs.files
    j.append(rec(0))  # kept in RAM, counted
    assert j.write_errors == 2 and j.first(10) == [rec(0)]
    fs.read_only = False
    j.append(rec(1))  # the repair writes both
    assert j.write_errors == 2
    assert Journal(fs, P).first(10) == [rec(0), rec(1)]


def test_max_boot_survives_compaction_of_an_empty_queue():
    fs = MemFS()
    j = Journal(fs, P, compact_min=0)
    for i in range(4):
        j.append(rec(i, boot=41))
    for i in range(4):
        j.remove((41, i))
    assert j.compactions >= 2 and len(j) == 0
    j.close()
    again = Journal(fs, P)
    assert len(again) == 0 and again.max_boot == 41


def test_foreign_or_damaged_file_is_counted_and_rewritten():
    fs = MemFS({P: bytearray(b'+[1,0,4,4,null,0,null,null]\n-1,0\n')})  # the old FileStore
    j = Journal(fs, P)
    assert len(j) == 0 and j.corrupt == 1
    j.append(rec(0))
    j.close()
    again = Journal(fs, P)
    assert again.first(10) == [rec(0)] and again.corrupt == 0
    # A damaged header costs nothing but a count: the records after it are found.
    data = bytearray(fs.files[again.paths[0]])
    data[3] ^= 0x01
    j = Journal(MemFS({P: data}), P)
    assert j.first(10) == [rec(0)] and j.corrupt == 1


def test_frames_with_a_valid_crc_but_unreadable_fields_count_as_damage():
    good = frame("R", b"\x11\x01\x11\x07\x00")  # (1, 7, None)
    for bad in (frame("R", b"\x11\x01\x11\x02\x09"),  # unknown field tag after the key
                frame("R", b"\x11\x01\x11\x02\x19" + b"\x00" * 9),  # int of 9 bytes
                frame("R", b"\x30\x01a\x11\x02"),  # key is not two ints
                frame("A", b"\x11\x01"),  # ack without a seq
                frame("R", b"\x11\x01\x11\x03\x30\x09ab"),  # string longer than the frame
                frame("H", b""),  # a header without a version
                frame("Z", b"\x11\x01\x11\x04")):  # a kind this version does not know
        data = bytearray(frame("H", b"\x11\x01\x00") + bad + good)
        j = Journal(MemFS({P: data}), P)
        assert j.first(10) == [(1, 7, None)] and j.corrupt == 1, bad


def header_of(data):
    """(version, max_boot, gen, count) of a journal file's header frame."""
    kind, vals, _ = decode_frame(bytearray(data), 0, len(data))
    assert kind == ord("H")
    return tuple(vals)


def test_compaction_writes_the_next_generation_under_the_other_name():
    fs = MemFS()
    j = Journal(fs, P, compact_min=0)
    assert j.paths == [P] and header_of(fs.files[P]) == (1, None, 1, 0)
    for i in range(4):
        j.append(rec(i, boot=3))
    names = []
    for i in range(3):
        j.remove((3, i))  # from the second on, dead bytes overtake live ones: compaction
        names.append(tuple(fs.names()))
    assert names == [(P,), (P2,), (P,)] and j.paths == [P] and j.gen == 3
    assert header_of(fs.files[P]) == (1, 3, 3, 1)  # one record after the header
    j.append(rec(4, boot=3))
    assert j.compact() and fs.names() == [P2] and header_of(fs.files[P2])[2:] == (4, 2)
    j.close()
    again = Journal(fs, P)
    assert again.first(10) == [rec(3, boot=3), rec(4, boot=3)] and again.gen == 4
    assert again.corrupt == 0 and again.compactions == 0


def generation(gen, recs, count=None, max_boot=1):
    data = frame("H", b"\x11\x01\x11" + bytes((max_boot,)) + b"\x11" + bytes((gen,)) + b"\x11"
                 + bytes((len(recs) if count is None else count,)))
    for r in recs:
        data += record_frame(r)
    return bytearray(data)


def record_frame(r):
    buf = bytearray(MAX_FRAME)
    return bytes(buf[:encode_frame(K_REC, r, buf)])


def test_newest_complete_generation_is_used_and_the_rest_removed():
    old = [rec(i) for i in range(3)]
    # A compaction cut after two of its three records: the older generation is used.
    fs = MemFS({P: generation(4, old), P2: generation(5, old[:2], count=3)})
    j = Journal(fs, P)
    assert j.first(10) == old and j.paths == [P] and fs.names() == [P]
    assert j.corrupt == 0 and j.compactions == 0 and j.gen == 5
    j.append(rec(3))
    assert j.compact() and j.paths == [P2] and header_of(fs.files[P2])[2] == 6
    # A complete newer generation wins over an older file, whatever the names.
    fs = MemFS({P: generation(7, old[1:]), P2: generation(6, old)})
    j = Journal(fs, P)
    assert j.first(10) == old[1:] and fs.names() == [P] and j.compactions == 0
    fs = MemFS({P: generation(6, old), P2: generation(7, old[1:])})
    assert Journal(fs, P).first(10) == old[1:] and fs.names() == [P2]


def test_journal_of_older_firmware_is_read_and_rewritten_with_a_generation():
    recs = [rec(0, boot=9), rec(1, boot=9)]
    data = frame("H", b"\x11\x01\x11\x09")  # (VERSION, max_boot) only
    for r in recs:
        data += record_frame(r)
    fs = MemFS({P: bytearray(data)})
    j = Journal(fs, P)
    assert j.first(10) == recs and j.max_boot == 9 and j.corrupt == 0
    assert j.compactions == 0 and fs.names() == [P]  # appended to as it is
    j.append(rec(2, boot=9))
    assert j.compact() and fs.names() == [P2] and header_of(fs.files[P2]) == (1, 9, 1, 3)


def test_mirror_writes_each_change_to_both_copies_in_order():
    fs = MemFS()
    j = Journal(fs, P, copies=2)
    assert j.paths == [P, P2] and fs.files[P] == fs.files[P2]
    for change in (lambda: j.append(rec(0, dossier=DOSSIER)),
                   lambda: j.replace((1, 0), rec(0, reason="other")),
                   lambda: j.remove((1, 0))):
        writes, flushes = len(fs.writes), fs.flushes
        change()
        assert [w[0] for w in fs.writes[writes:]] == [P, P2] and fs.flushes == flushes + 2
        assert fs.files[P] == fs.files[P2]
    j.append(rec(1))
    j.close()
    again = Journal(fs, P, copies=2)
    assert again.first(10) == [rec(1)] and again.corrupt == 0 and again.compactions == 0


def test_mirror_loses_nothing_to_a_damaged_byte_in_one_copy():
    fs = MemFS()
    j = Journal(fs, P, copies=2)
    recs = [rec(i, dossier=DOSSIER) for i in range(3)]
    for r in recs:
        j.append(r)
    j.close()
    for name in (P, P2):
        for i in range(0, fs.size(name), 7):
            bad = fs.clone()
            bad.files[name][i] ^= 0x21
            j = Journal(bad, P, copies=2)
            assert j.first(10) == recs and j.corrupt == 1, (name, i)
            assert bad.files[P] == bad.files[P2], (name, i)  # rewritten from the whole one
    # A copy missing or cut short is rewritten as well, and counts as no damage.
    for name in (P, P2):
        short = fs.clone()
        del short.files[name]
        j = Journal(short, P, copies=2)
        assert j.first(10) == recs and short.files[P] == short.files[P2] and j.corrupt == 0
        short.files[name] = short.files[name][:-30]
        assert Journal(short, P, copies=2).first(10) == recs


def test_mirror_write_error_is_repaired_from_ram():
    fs = MemFS()
    j = Journal(fs, P, copies=2)
    j.append(rec(0))
    fs.fail_writes = 1  # the first copy tears; the compaction that follows works
    j.append(rec(1))
    assert j.write_errors == 1 and fs.files[P] == fs.files[P2]
    assert Journal(fs, P, copies=2).first(10) == [rec(0), rec(1)]


def test_stale_temp_file_is_removed_and_a_lone_one_adopted():
    fs, recs, _ = built(2)
    fs.files[P + ".tmp"] = bytearray(b"\xa5\x10half a compaction")
    j = Journal(fs, P)
    assert j.first(10) == recs and j.corrupt == 0 and P + ".tmp" not in fs.files
    j.close()
    # Older firmware cut between remove and rename (FAT): only its complete temp file is
    # left. It is adopted by writing path + ".2": path beside it would make it stale.
    fs.files[P + ".tmp"] = fs.files.pop(P)
    j = Journal(fs, P)
    assert j.first(10) == recs and fs.names() == [P2] and j.compactions == 1
    # While path + ".2" is incomplete, the temp file still counts.
    fs.files[P + ".tmp"] = bytearray(fs.files[P2])
    fs.files[P2] = fs.files[P2][:40]
    j = Journal(fs, P)
    assert j.first(10) == recs and fs.names() == [P2] and j.corrupt == 0


def test_replace_removes_the_target_only_when_rename_refuses_an_existing_one():
    class Failing(MemFS):
        def rename(self, src, dst):
            raise OSError(errno.EIO, src)
    fs = Failing({"a": bytearray(b"new"), "b": bytearray(b"old")})
    e = raises(OSError, replace, fs, "a", "b")
    assert e.args[0] == errno.EIO and bytes(fs.files["b"]) == b"old"  # the only good copy
    fs = MemFS({"a": bytearray(b"new"), "b": bytearray(b"old")}, replaces=False)
    replace(fs, "a", "b")
    assert bytes(fs.files["b"]) == b"new" and "a" not in fs.files


def test_journal_of_a_newer_version_is_refused():
    fs = MemFS({P: bytearray(frame("H", b"\x11\x02\x00"))})
    e = raises(ValueError, Journal, fs, P)
    assert "version" in str(e)


def test_missing_file_is_a_new_empty_journal_but_other_errors_are_raised():
    class Failing(MemFS):
        def open(self, path, mode):
            raise OSError(errno.EIO, path)
    e = raises(OSError, Journal, Failing(), P)
    assert e.args[0] == errno.EIO
    fs = MemFS()
    j = Journal(fs, P)
    assert len(j) == 0 and j.corrupt == 0 and bytes(fs.files[P]) == frame("H", HEADER_NEW)


def test_journal_on_real_files():
    with TempDir() as d:
        path = d.file("outbox.jnl")
        j = Journal(OsFS(), path, compact_min=0)
        for i in range(5):
            j.append(rec(i, dossier=DOSSIER))
        assert j.remove((1, 0)) and j.replace((1, 1), rec(1, reason="other"))
        for i in range(2, 5):
            j.remove((1, i))  # dead bytes overtake live ones: compaction renames on disk
        assert j.compactions >= 2
        j.close()
        again = Journal(OsFS(), path)
        assert again.first(10) == [rec(1, reason="other")] and again.corrupt == 0
        again.close()
