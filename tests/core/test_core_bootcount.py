"""The boot counter (kiosk.bootcount): never a boot number twice, whatever the flash did.

Plain functions and asserts: collected by pytest and run under MicroPython by
tests/core/runner.py. MemFS and PowerCut come from test_core_journal.py.
"""

from core_support import raises
from kiosk.bootcount import FIRST, MAX_BOOT, BootCounter, decode, encode
from test_core_journal import MemFS, PowerCut

B = "boot.bin"
COPIES = (B, B + ".2")


def test_fresh_device_counts_from_one_across_restarts():
    fs = MemFS()
    got = [BootCounter(fs, B).advance() for _ in range(3)]
    assert got == [FIRST, FIRST + 1, FIRST + 2] and FIRST == 1
    c = BootCounter(fs, B)
    assert c.read() == 3 and c.corrupt == 0
    assert decode(fs.files[B]) == 3 and decode(fs.files[B + ".2"]) == 3


def test_copy_layout_is_magic_number_and_crc():
    data = bytes(encode(258))
    assert data[:8] == b"HLBC\x02\x01\x00\x00" and len(data) == 12
    assert decode(data) == 258
    for i in range(12):
        bad = bytearray(data)
        bad[i] ^= 0x04
        assert decode(bad) is None, i
    assert decode(data[:11]) is None and decode(data + b"\x00") is None


def test_a_damaged_copy_is_counted_and_the_other_one_used():
    for damaged in COPIES:
        for how in ("flip", "torn", "missing"):
            fs = MemFS()
            BootCounter(fs, B).advance(seen=9)  # both copies hold 10
            if how == "flip":
                fs.files[damaged][6] ^= 0x01
            elif how == "torn":
                fs.files[damaged] = fs.files[damaged][:5]
            else:
                del fs.files[damaged]
            c = BootCounter(fs, B)
            assert c.advance() == 11, (damaged, how)
            assert c.corrupt == (0 if how == "missing" else 1), (damaged, how)
            assert c.source == "counter"
            assert BootCounter(fs, B).read() == 11  # both copies repaired


def test_copies_that_disagree_resolve_to_the_higher_number():
    # Skipping a number is harmless; reusing one is not.
    for primary, backup in ((20, 7), (7, 20)):
        fs = MemFS({B: encode(primary), B + ".2": encode(backup)})
        assert BootCounter(fs, B).advance() == 21


def test_journal_gives_the_floor_when_both_copies_are_lost():
    fs = MemFS()
    BootCounter(fs, B).advance()
    for path in COPIES:
        fs.files[path] = bytearray(b"garbage")
    c = BootCounter(fs, B)
    assert c.advance(seen=41) == 42 and c.corrupt == 2 and c.source == "journal"
    # ...and when the counter is behind the journal (restored from an old image).
    c = BootCounter(fs, B)
    assert c.advance(seen=100) == 101 and c.source == "journal" and c.corrupt == 0
    c = BootCounter(fs, B)
    assert c.advance(seen=5) == 102 and c.source == "counter"


def test_power_cut_at_every_step_never_reuses_a_number():
    for replaces in (True, False):  # littlefs rename; FAT-like remove then rename
        base = MemFS(replaces=replaces)
        used = BootCounter(base, B).advance()  # 1 is in use by the boot before the cut
        probe = base.clone()
        start = probe.steps
        BootCounter(probe, B).advance()
        total = probe.steps - start
        for k in range(total + 1):
            fs = base.clone()
            fs.budget = k
            try:
                returned = BootCounter(fs, B).advance()
            except PowerCut:
                returned = None  # never returned, so never used
            fs.budget = None
            after = BootCounter(fs, B)
            nxt = after.advance()
            assert nxt > used and (returned is None or nxt > returned), (replaces, k)
            assert after.corrupt == 0, (replaces, k)  # copies are replaced, never torn


def test_storage_failure_raises_and_returns_no_number():
    class Full(MemFS):
        def rename(self, src, dst):
            raise OSError(28, "no space")  # ENOSPC
    fs = Full()
    c = BootCounter(fs, B)
    raises(OSError, c.advance)
    assert c.boot is None


def test_limits():
    fs = MemFS({B: encode(MAX_BOOT)})
    e = raises(ValueError, BootCounter(fs, B).advance)
    assert "exhausted" in str(e)
    raises(ValueError, BootCounter(MemFS(), B).advance, -1)
    raises(ValueError, BootCounter(MemFS(), B).advance, "7")
    c = BootCounter(MemFS(), B)
    assert c.advance(seen=MAX_BOOT - 1) == MAX_BOOT
