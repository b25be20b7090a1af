"""The raw REPL client against a scripted device that records the exact bytes it was sent.

Each script is a list of (bytes the device expects, bytes it answers). Reads that find
nothing advance a fake clock by the port's timeout, so deadlines pass instantly and no test
sleeps. Also: opening real pseudo-terminals (no modem-control lines), busy and missing ports.
"""

from __future__ import annotations

import os

import pytest

from collector.fleet.flashing.errors import (
    DeviceError,
    DeviceTimeout,
    NotARepl,
    PortError,
    ProtocolError,
)
from collector.fleet.flashing.rawrepl import RawRepl
from collector.fleet.flashing.serialport import open_port

BANNER = b"raw REPL; CTRL-B to exit\r\n>"


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class ScriptedPort:
    """A serial port whose device follows a script of (expected bytes, answer)."""

    def __init__(self, script, clock: FakeClock):
        self.script = list(script)
        self.clock = clock
        self.timeout = None
        self.written = bytearray()
        self.writes: list[bytes] = []
        self._unmatched = bytearray()
        self._out = bytearray()
        self._feed()

    def _feed(self):
        while self.script:
            expect, answer = self.script[0]
            n = min(len(expect), len(self._unmatched))
            if bytes(self._unmatched[:n]) != expect[:n]:
                raise AssertionError(f"device expected {expect!r}, got {bytes(self._unmatched)!r}")
            if len(self._unmatched) < len(expect):
                return
            del self._unmatched[:len(expect)]
            self.script.pop(0)
            self._out += answer

    def write(self, data: bytes) -> int:
        self.writes.append(bytes(data))
        self.written += data
        self._unmatched += data
        self._feed()
        return len(data)

    @property
    def in_waiting(self) -> int:
        return len(self._out)

    def read(self, size: int = 1) -> bytes:
        if not self._out:
            self.clock.now += self.timeout or 0.0  # a read that times out, instantly
            return b""
        data = bytes(self._out[:size])
        del self._out[:size]
        return data

    def reset_input_buffer(self) -> None:
        self._out.clear()

    def done(self) -> bool:
        return not self.script and not self._unmatched


def repl_for(script, **kwargs):
    clock = FakeClock()
    port = ScriptedPort(script, clock)
    return RawRepl(port, clock=clock, sleep=lambda s: None, **kwargs), port


ENTER = [
    (b"\r\x03\x03", b"Traceback (most recent call last):\r\nKeyboardInterrupt: \r\n>>> "),
    (b"\r\x01", b"\r\n" + BANNER),
]
SOFT_RESET = [(b"\x04", b"OK\r\nMPY: soft reboot\r\n" + BANNER)]


def test_enter_interrupts_twice_then_enters_the_raw_repl_and_soft_resets():
    repl, port = repl_for(ENTER + SOFT_RESET)
    repl.enter()
    assert bytes(port.written) == b"\r\x03\x03" + b"\r\x01" + b"\x04"
    assert port.done()


def test_enter_without_soft_reset_stops_at_the_prompt():
    repl, port = repl_for(ENTER)
    repl.enter(soft_reset=False)
    assert bytes(port.written) == b"\r\x03\x03\r\x01"


def test_silence_is_not_a_repl():
    repl, _ = repl_for([])
    with pytest.raises(NotARepl, match=r"no raw-REPL prompt within 3 s \(nothing answered\)"):
        repl.enter()


def test_garbage_is_not_a_repl():
    repl, _ = repl_for([(b"\r\x03\x03", b"AT+OK\r\n" * 50)])
    with pytest.raises(NotARepl, match=r"it sent 350 bytes such as b'AT\+OK"):
        repl.enter()


def test_exec_streams_raw_paste_in_windows_the_device_grants():
    code = b"print('hello, world!')"  # 22 bytes; the device grants 8-byte windows
    repl, port = repl_for([
        (b"\x05A\x01", b"R\x01" + b"\x08\x00" + b"\x01"),  # yes; window 8; one more free
        (code[:16], b"\x01"),                              # consumed 8: one window free
        (code[16:], b"\x01"),
        (b"\x04", b"\x04" + b"hello, world!\r\n\x04\x04>"),  # end acknowledged, then output
    ])
    assert repl.exec(code) == b"hello, world!\r\n"
    assert port.writes == [b"\x05A\x01", code[:16], code[16:], b"\x04"]
    assert repl.raw_paste is True and repl.window == 8
    assert port.done()


def test_exec_reports_bytes_sent_as_they_go():
    code = b"x = 1 + 2 + 3 + 4 + 5"
    repl, _ = repl_for([
        (b"\x05A\x01", b"R\x01\x08\x00\x01"),
        (code[:16], b"\x01"),
        (code[16:] + b"\x04", b"\x04\x04\x04>"),
    ])
    seen = []
    repl.exec(code, on_sent=seen.append)
    assert seen == [16, len(code)]


def test_refused_raw_paste_falls_back_to_chunked_writes_and_is_not_asked_again():
    code = b"a" * 300 + b"\n"
    repl, port = repl_for([
        (b"\x05A\x01", b"R\x00"),                   # understood, not supported
        (code + b"\x04", b"OK" + b"first\x04\x04>"),
        (code + b"\x04", b"OK" + b"second\x04\x04>"),
    ])
    assert repl.exec(code) == b"first"
    assert repl.exec(code) == b"second"
    assert port.writes == [b"\x05A\x01", code[:256], code[256:], b"\x04",
                           code[:256], code[256:], b"\x04"]
    assert repl.raw_paste is False


def test_device_older_than_raw_paste_prints_the_banner_again_and_we_fall_back():
    repl, port = repl_for([
        (b"\x05A\x01", BANNER),                      # took 0x01 as Ctrl-A
        (b"1\x04", b"OK1\r\n\x04\x04>"),
    ])
    assert repl.exec("1") == b"1\r\n"
    assert repl.raw_paste is False
    assert port.done()


def test_forced_chunked_mode_never_asks_for_raw_paste():
    repl, port = repl_for([(b"pass\x04", b"OK\x04\x04>")])
    repl = RawRepl(port, raw_paste=False, clock=repl._clock, sleep=lambda s: None)
    repl.exec("pass")
    assert bytes(port.written) == b"pass\x04"


def paste(code: bytes, answer: bytes):
    return [(b"\x05A\x01", b"R\x01\x00\x01\x01"), (code + b"\x04", b"\x04" + answer)]


TRACEBACK = (b'Traceback (most recent call last):\r\n  File "<stdin>", line 3, in <module>\r\n'
             b"%s\r\n")


@pytest.mark.parametrize("last_line, exc_type, errno, name", [
    (b"OSError: [Errno 2] ENOENT", "OSError", 2, "ENOENT"),
    (b"OSError: [Errno 28] ENOSPC", "OSError", 28, "ENOSPC"),
    (b"OSError: 28", "OSError", 28, "ENOSPC"),          # a port built without errno names
    (b"OSError: [Errno 17] EEXIST", "OSError", 17, "EEXIST"),
    (b"ValueError: hash mismatch", "ValueError", None, None),
    (b"MemoryError: memory allocation failed", "MemoryError", None, None),
])
def test_a_device_traceback_becomes_a_device_error(last_line, exc_type, errno, name):
    repl, _ = repl_for(paste(b"f()", b"partial\x04" + TRACEBACK % last_line + b"\x04>"))
    with pytest.raises(DeviceError) as caught:
        repl.exec("f()")
    error = caught.value
    assert (error.exc_type, error.errno, error.errno_name) == (exc_type, errno, name)
    assert 'line 3, in <module>' in error.traceback
    assert "\n" not in str(error)


def test_exec_raw_returns_both_streams_without_judging():
    repl, _ = repl_for(paste(b"f()", b"out\x04" + TRACEBACK % b"OSError: 28" + b"\x04>"))
    out, err = repl.exec_raw("f()")
    assert out == b"out" and err.endswith(b"OSError: 28\r\n")


def test_syntax_error_mid_paste_is_acknowledged_and_reported():
    code = b"x = (" + b"1" * 40
    repl, port = repl_for([
        (b"\x05A\x01", b"R\x01\x08\x00\x01"),
        (code[:16], b"\x04"),  # the device stopped reading: compile error
        (b"\x04", b"\x04" + TRACEBACK % b"SyntaxError: invalid syntax" + b"\x04>"),
    ])
    with pytest.raises(DeviceError, match="SyntaxError"):
        repl.exec(code)
    assert port.writes[-1] == b"\x04" and port.done()


def test_eval_reads_back_a_literal():
    repl, _ = repl_for(paste(b"print(repr(1 + 1, ))",
                                b"(2, 'h\\u1ea1', b'\\x00')\r\n\x04\x04>"))
    assert repl.eval("1 + 1, ") == (2, "hạ", b"\x00")


def test_a_device_that_stops_granting_windows_times_out():
    code = b"y" * 40
    repl, _ = repl_for([(b"\x05A\x01", b"R\x01\x08\x00\x01")])  # then silence
    with pytest.raises(DeviceTimeout, match="stopped answering: no raw-paste flow control"):
        repl.exec(code, timeout=2.0)


def test_a_device_that_never_finishes_its_output_times_out():
    repl, _ = repl_for(paste(b"loop()", b"partial output"))
    with pytest.raises(DeviceTimeout, match="no end of the device's output") as caught:
        repl.exec("loop()")
    assert caught.value.received == b"partial output"


def test_unexpected_bytes_during_raw_paste_are_a_protocol_error():
    repl, _ = repl_for([(b"\x05A\x01", b"R\x01\x08\x00?")])
    with pytest.raises(ProtocolError, match=r"unexpected b'\?'"):
        repl.exec("pass")


def test_control_bytes_in_code_are_refused_before_sending():
    repl, port = repl_for([])
    with pytest.raises(ValueError):
        repl.exec(b"x = '\x04'")
    assert port.written == b""


def test_reset_to_firmware_leaves_the_raw_repl_then_soft_resets():
    repl, port = repl_for([
        (b"\r\x02", b"\r\nMicroPython v1.27.0 on 2025-12-10; ESP32S3\r\nType \"help()\".\r\n>>> "),
        (b"\x04", b"MPY: soft reboot\r\n"),
    ])
    repl.reset_to_firmware()
    assert bytes(port.written) == b"\r\x02\x04"


def test_output_split_across_reads_is_reassembled():
    repl, port = repl_for(paste(b"p()", b"ab\x04\x04>"))
    reads = []
    original = port.read

    def one_byte_at_a_time(size=1):
        data = original(1)
        reads.append(data)
        return data
    port.read = one_byte_at_a_time
    assert repl.exec("p()") == b"ab"
    assert len(reads) > 5


# --- real ports ---------------------------------------------------------------------------

@pytest.fixture
def pty():
    controller, device = os.openpty()
    yield os.ttyname(device)
    os.close(controller)
    os.close(device)


def test_a_pseudo_terminal_without_modem_lines_opens_and_takes_dtr_rts(pty):
    port = open_port(pty)
    try:
        assert port.modem_control is False
        port.dtr = False  # pyserial alone raises ENOTTY here
        port.rts = False
    finally:
        port.close()


def test_a_port_held_by_another_program_is_busy(pty):
    holder = open_port(pty)
    try:
        with pytest.raises(PortError, match=f"^port busy: {pty} is open in another program"):
            open_port(pty)
    finally:
        holder.close()


def test_a_missing_port_is_named(tmp_path):
    missing = str(tmp_path / "ttyUSB9")
    with pytest.raises(PortError, match=f"^no such port: {missing} "):
        open_port(missing)


def test_a_pty_with_nothing_behind_it_is_not_a_repl(pty):
    port = open_port(pty)
    try:
        with pytest.raises(NotARepl, match="nothing answered"):
            RawRepl(port).enter(timeout=0.3)
    finally:
        port.close()
