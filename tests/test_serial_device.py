"""The fake MicroPython board on a pseudo-terminal (tests/serialdevice.py, bridge.mjs) behaves
as a board for mpremote, the reference client, and for plain pyserial: raw REPL, raw-paste
with flow control, the board's errno numbers, a flash that survives resets, a UART's rate,
a full filesystem, a device that stops answering, an unplugged cable.

Nothing here is skipped: without socat, Node, the npm package or mpremote the tests fail and
say what to install.
"""

from __future__ import annotations

import errno
import importlib.util
import os
import re
import subprocess
import sys
import time

import pytest
import serial

from serialdevice import SerialDevice, SerialDeviceError

RAW_PROMPT = b"raw REPL; CTRL-B to exit\r\n>"
EXIT_LINE = re.compile(r"bridge: exit: (\d+) raw and (\d+) raw-paste commands")


def mpremote(dev, *args, text=True):
    if importlib.util.find_spec("mpremote") is None:
        pytest.fail("mpremote is needed (a test extra): pip install mpremote")
    return subprocess.run([sys.executable, "-m", "mpremote", "connect", dev.port, *args],
                          capture_output=True, text=text, timeout=60, check=False)


def ok(proc):
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.fixture
def flash(tmp_path):
    return tmp_path / "flash"


@pytest.fixture
def start(flash):
    """start(**options) -> a running SerialDevice on `flash`; all are stopped afterwards."""
    started = []

    def make(**kwargs):
        try:
            dev = SerialDevice(flash, **kwargs).start()
        except SerialDeviceError as e:
            pytest.fail(str(e))
        started.append(dev)
        return dev

    yield make
    for dev in started:
        dev.stop()


@pytest.fixture
def device(start):
    return start()


def commands(dev):
    """(raw, raw-paste) commands the bridge executed; read after stop()."""
    m = EXIT_LINE.search(dev.log)
    assert m, dev.log
    return int(m.group(1)), int(m.group(2))


# -- a raw REPL client on pyserial, as small as possible -----------------------------------

class Link:
    """pyserial with a read buffer, so that reading up to a marker never eats what follows."""

    def __init__(self, dev):
        self.ser = serial.Serial(dev.port, 115200, timeout=0.05)
        self.buf = b""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.ser.close()

    def write(self, data):
        self.ser.write(data)

    def _fill(self, deadline, want):
        assert time.monotonic() < deadline, "waited for %r, got %r" % (want, self.buf[-200:])
        self.buf += self.ser.read(max(1, self.ser.in_waiting))

    def read_until(self, ending, timeout=5.0):
        deadline = time.monotonic() + timeout
        while ending not in self.buf:
            self._fill(deadline, ending)
        end = self.buf.index(ending) + len(ending)
        data, self.buf = self.buf[:end], self.buf[end:]
        return data

    def read(self, n, timeout=5.0):
        deadline = time.monotonic() + timeout
        while len(self.buf) < n:
            self._fill(deadline, n)
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def waiting(self):
        return len(self.buf) + self.ser.in_waiting

    def silent_for(self, seconds):
        """True when nothing at all arrives within `seconds`."""
        self.ser.timeout = seconds
        try:
            return not self.buf and self.ser.read(1) == b""
        finally:
            self.ser.timeout = 0.05


def open_raw(dev):
    link = Link(dev)
    link.write(b"\r\x03")  # Ctrl-C: interrupt, clear the line
    link.write(b"\r\x01")  # Ctrl-A: raw REPL
    link.read_until(RAW_PROMPT)
    return link


def raw_exec(link, code):
    """Standard raw REPL: code, Ctrl-D; returns (output, traceback)."""
    link.write(code + b"\x04")
    assert link.read(2) == b"OK"
    out = link.read_until(b"\x04")[:-1]
    err = link.read_until(b"\x04")[:-1]
    assert link.read(1) == b">"
    return out, err


# -- mpremote --------------------------------------------------------------------------------

def test_mpremote_copies_files_in_and_out_identical(start, flash, tmp_path):
    device = start(baud=0)  # the line rate is tested on its own
    text = "Quầy 3 — xin cảm ơn\nline two\n".encode() * 20
    binary = bytes(range(256)) * 4
    (tmp_path / "t.txt").write_bytes(text)
    (tmp_path / "b.bin").write_bytes(binary)
    proc = mpremote(device, "fs", "cp", str(tmp_path / "t.txt"), ":t.txt",
                    "+", "fs", "cp", str(tmp_path / "b.bin"), ":b.bin",
                    "+", "fs", "ls", "+", "fs", "cat", ":t.txt", text=False)
    assert proc.returncode == 0, proc.stderr
    listing = proc.stdout.decode("utf-8", "replace")
    assert re.search(r"^\s*%d t\.txt$" % len(text), listing, re.M), listing
    assert re.search(r"^\s*%d b\.bin$" % len(binary), listing, re.M), listing
    # cat prints through the board's text stdout, which turns "\n" into "\r\n".
    assert proc.stdout.endswith(b"b.bin\n" + text.replace(b"\n", b"\r\n"))

    ok(mpremote(device, "fs", "cp", ":t.txt", str(tmp_path / "t.back"),
                "+", "fs", "cp", ":b.bin", str(tmp_path / "b.back")))
    assert (tmp_path / "t.back").read_bytes() == text
    assert (tmp_path / "b.back").read_bytes() == binary
    # The device's flash is the host folder.
    assert (flash / "t.txt").read_bytes() == text
    assert (flash / "b.bin").read_bytes() == binary


def test_missing_file_and_existing_folder_give_mpremote_messages(device):
    """mpremote recognises the board's errno in the traceback (not Emscripten's ENOENT 44)."""
    proc = mpremote(device, "fs", "cat", ":nope.txt")
    assert proc.returncode != 0
    assert "No such file or directory" in proc.stdout + proc.stderr
    proc = mpremote(device, "fs", "mkdir", ":d", "+", "fs", "mkdir", ":d")
    assert proc.returncode != 0
    assert proc.stdout.count("mkdir :d") == 2  # the first one worked
    assert "File exists" in proc.stdout + proc.stderr


def test_file_errors_carry_the_boards_errno_and_traceback(device):
    with open_raw(device) as ser:
        out, err = raw_exec(ser, b"open('nope')")
        assert out == b""
        # Exactly a board's traceback: the board's number and name, no frame of the bridge.
        assert err == (b'Traceback (most recent call last):\r\n'
                       b'  File "<stdin>", line 1, in <module>\r\n'
                       b'OSError: [Errno 2] ENOENT\r\n')
        code = (b"import os, errno\nr = []\nfor f in (lambda: os.mkdir('d'), lambda: os.mkdir('d'),"
                b" lambda: open('d'), lambda: os.listdir('d/x'), lambda: os.stat('nope')):\n"
                b" try:\n  f()\n except OSError as e:\n  r.append(e.args[0])\nprint(r)")
        out, err = raw_exec(ser, code)
        assert err == b""
        assert out == b"[17, 21, 2, 2]\r\n"  # EEXIST, EISDIR, ENOENT, ENOENT as on an ESP32
        # rename replaces an existing file (what an atomic upload relies on).
        out, err = raw_exec(ser, b"for n, t in (('a', 'old'), ('a.tmp', 'new')):\n"
                                 b" with open(n, 'w') as f:\n  f.write(t)\n"
                                 b"os.rename('a.tmp', 'a')\n"
                                 b"print(open('a').read(), sorted(os.listdir()))")
        assert (out, err) == (b"new ['a', 'd']\r\n", b"")


def test_soft_reset_and_power_cycle_keep_files(start, flash):
    dev = start()
    out = ok(mpremote(dev, "exec", "x = 5\nopen('keep.txt', 'w').write('kept')",
                      "soft-reset",
                      "exec", "print(open('keep.txt').read(), 'x' in globals())"))
    assert out == "kept False\n"  # the file stayed, the interpreter is new
    dev.stop()
    assert "bridge: soft reboot" in dev.log
    assert (flash / "keep.txt").read_text() == "kept"

    dev = start()
    assert ok(mpremote(dev, "exec", "print(open('keep.txt').read())")) == "kept\n"


@pytest.mark.parametrize("mode", [True, False, "legacy"])
def test_mpremote_uses_raw_paste_and_falls_back_without_it(start, mode):
    dev = start(raw_paste=mode)
    # The second program is longer than two raw-paste windows (256 bytes): flow control.
    code = "s = '%s'\nprint(len(s))" % ("ab" * 300)
    assert ok(mpremote(dev, "exec", "print(1+1)", "+", "exec", code)) == "2\n600\n"
    dev.stop()
    raw, paste = commands(dev)
    if mode is True:
        assert paste >= 1 and raw == 0, dev.log
    else:
        assert paste == 0 and raw >= 1, dev.log


# -- the protocol, byte by byte -------------------------------------------------------------

def test_raw_paste_answers_as_documented(device):
    """docs/reference/repl.rst: the example exchange, then a long program under flow control."""
    with open_raw(device) as ser:
        ser.write(b"\x05A\x01")
        assert ser.read(5) == b"R\x01\x80\x00\x01"  # window 128, and a second window free
        ser.write(b"print(123)\x04")
        assert ser.read_until(b">") == b"\x04123\r\n\x04\x04>"

        code = b"x = 0\n" + b"x += 1\n" * 300 + b"print(x)"  # 2113 bytes
        ser.write(b"\x05A\x01")
        assert ser.read(2) == b"R\x01"
        window = int.from_bytes(ser.read(2), "little")
        remaining, sent, grants = window, 0, 0
        while sent < len(code):
            while remaining == 0 or ser.waiting():
                byte = ser.read(1)
                assert byte == b"\x01", byte  # only flow control while code is sent
                remaining += window
                grants += 1
            chunk = code[sent:sent + remaining]
            ser.write(chunk)
            sent += len(chunk)
            remaining -= len(chunk)
        ser.write(b"\x04")
        reply = ser.read_until(b">")
        grants += reply.count(b"\x01")
        assert reply.replace(b"\x01", b"") == b"\x04300\r\n\x04\x04>"
        # One grant besides the header, then one each time 128 bytes were consumed.
        assert grants == 1 + len(code) // window


def test_refused_raw_paste_answers_r0_and_the_raw_repl_goes_on(start):
    with open_raw(start(raw_paste=False)) as ser:
        ser.write(b"\x05A\x01")
        assert ser.read(2) == b"R\x00"
        assert raw_exec(ser, b"print(7)") == (b"7\r\n", b"")


def test_legacy_firmware_resets_the_raw_repl_on_a_raw_paste_request(start):
    with open_raw(start(raw_paste="legacy")) as ser:
        ser.write(b"\x05A\x01")
        assert ser.read_until(RAW_PROMPT) == RAW_PROMPT  # read as b"ra" + b"w REPL..."
        assert raw_exec(ser, b"print(8)") == (b"8\r\n", b"")


def test_soft_reset_in_raw_repl_then_the_bytes_sent_meanwhile(start):
    # Unthrottled, the reset request and the next command arrive together: the bytes after
    # Ctrl-D wait for the new interpreter, as in a board's receive buffer.
    with open_raw(start(baud=0)) as ser:
        raw_exec(ser, b"y = 1")
        ser.write(b"\x04" + b"print('y' in globals())\x04")  # Ctrl-D on an empty line
        assert ser.read_until(RAW_PROMPT) == b"OK\r\nMPY: soft reboot\r\n" + RAW_PROMPT
        assert ser.read_until(b">") == b"OKFalse\r\n\x04\x04>"


# -- the line, the flash, failures -----------------------------------------------------------

def test_throttle_models_115200_baud(start):
    """At 115200 baud, 8N1, a byte takes 1/11520 s each way; lower bounds only."""
    with open_raw(start(baud=115200)) as ser:
        code = b"s = '" + b"x" * 11500 + b"'"  # 11.5 kB to the device
        t0 = time.monotonic()
        ser.write(code + b"\x04")
        ser.read_until(b"OK", timeout=10)
        assert time.monotonic() - t0 >= 0.95 * (len(code) + 1) / 11520
        ser.read_until(b">")

        t0 = time.monotonic()
        ser.write(b"print('y' * 2880)\x04")  # 2.9 kB back
        assert ser.read_until(b"\x04>", timeout=10).count(b"y") == 2880
        assert time.monotonic() - t0 >= 0.95 * 2880 / 11520


def test_full_filesystem_raises_enospc(start, flash, tmp_path):
    dev = start(fs_limit=8192, baud=0)
    (tmp_path / "big.bin").write_bytes(b"\xaa" * 9000)
    proc = mpremote(dev, "fs", "cp", str(tmp_path / "big.bin"), ":big.bin")
    assert proc.returncode != 0
    assert "No space left on device" in proc.stdout + proc.stderr
    # mpremote writes 256 bytes at a time: 32 writes fit, the 33rd failed whole.
    assert os.path.getsize(flash / "big.bin") == 8192
    out = ok(mpremote(dev, "exec", "import os\nprint(os.statvfs('/')[:4])"))
    assert out == "(4096, 4096, 2, 0)\n"  # block size, fragment size, blocks, free blocks


def test_stall_after_stops_answering(start):
    dev = start(stall_after=300)
    with open_raw(dev) as ser:  # 4 bytes to enter the raw REPL
        ser.write(b"# " + b"x" * 400 + b"\x04")
        assert ser.silent_for(0.5)  # no "OK": the device no longer answers
    assert "bridge: stalled after 300 bytes" in dev.log


def test_unplug_removes_the_port_and_breaks_the_connection(start):
    dev = start()
    port = dev.port
    with open_raw(dev) as link:
        dev.unplug()
        assert not os.path.exists(port)
        with pytest.raises(serial.SerialException):
            link.write(b"print(1)\x04")
            link.read(2)
    with pytest.raises(serial.SerialException):
        serial.Serial(port, 115200)


def test_pseudo_terminal_has_no_modem_lines(device):
    """What a client meets on a pty: open() works, setting DTR/RTS raises ENOTTY."""
    with serial.Serial(device.port, 115200, timeout=0.1) as ser:
        for line in ("dtr", "rts"):
            with pytest.raises(OSError) as info:
                setattr(ser, line, False)
            assert info.value.errno == errno.ENOTTY
