"""The MicroPython raw REPL, spoken over any pyserial-like port object.

The port needs `write(data)`, `read(n)` (returning early, possibly empty, after `timeout`
seconds), a settable `timeout`, `in_waiting` and `reset_input_buffer()`: a `serial.Serial`,
or the scripted fake of the tests. Everything above this module is built from two
primitives, `exec` and `eval`.

The protocol, as MicroPython's py/pyexec.c implements it; the control bytes:

    0x03 Ctrl-C  interrupt the running program (sent twice: a program may catch the first)
    0x01 Ctrl-A  friendly REPL -> raw REPL; the device prints "raw REPL; CTRL-B to exit\\r\\n>"
    0x04 Ctrl-D  in the raw REPL: end of the code (an empty line: soft reset); in the output:
                 the end of stdout, then of stderr
    0x05 Ctrl-E  followed by "A" and 0x01: ask for raw-paste mode (MicroPython >= 1.14)
    0x02 Ctrl-B  raw REPL -> friendly REPL

Raw-paste mode streams the code into the device's compiler under flow control: the device
answers "R\\x01" (yes) or "R\\x00" (understood, refused), then the window size (2 bytes,
little-endian) and one 0x01; each later 0x01 frees one more window, and a 0x04 from the
device means it stopped reading (a syntax error mid-stream). A device older than raw-paste
takes the 0x01 for Ctrl-A and prints the raw REPL banner again. Without raw-paste the code
goes in chunks at a fixed pace, since the plain raw REPL has no flow control.

Every read has an explicit deadline and either returns exactly what was asked for or raises
`DeviceTimeout`: there is no helper whose caller must guess whether it timed out or matched
(the ambiguity of mpremote's `read_until`).
"""

from __future__ import annotations

import ast
import time
from typing import Callable, Protocol

from collector.fleet.flashing.errors import (
    DeviceError,
    DeviceTimeout,
    NotARepl,
    PortLost,
    ProtocolError,
)

CTRL_A = b"\x01"  # enter the raw REPL (or reset it when already there)
CTRL_B = b"\x02"  # leave the raw REPL for the friendly REPL
CTRL_C = b"\x03"  # keyboard interrupt
CTRL_D = b"\x04"  # end of code / soft reset / end-of-output marker
BANNER = b"raw REPL; CTRL-B to exit\r\n"
PROMPT = b">"
FRIENDLY_PROMPT = b">>> "
SOFT_REBOOT = b"soft reboot\r\n"
# Ctrl-E, then "A" (the raw-paste command), then Ctrl-A (which an old device takes as "enter
# the raw REPL again", so that it answers with the banner and we know to fall back).
RAW_PASTE_REQUEST = b"\x05A\x01"
RAW_PASTE_YES = b"R\x01"
RAW_PASTE_NO = b"R\x00"
# The plain raw REPL has no flow control: pyboard.py and mpremote send 256 bytes every 10 ms,
# which a 115200-baud UART's receive buffer keeps up with.
CHUNK = 256
CHUNK_PAUSE_S = 0.01
# A device that keeps sending without ever printing the banner is not a MicroPython REPL.
BANNER_SEARCH_LIMIT = 64 * 1024


class Port(Protocol):
    timeout: float | None

    def write(self, data: bytes) -> int | None: ...
    def read(self, size: int = 1) -> bytes: ...
    @property
    def in_waiting(self) -> int: ...
    def reset_input_buffer(self) -> None: ...


class RawRepl:
    """A session in the raw REPL of one device.

    `timeout` is the default deadline, in seconds, of each wait for the device (a window of
    raw-paste, the end of the output of `exec`); `raw_paste=False` forces chunked writes.
    """

    def __init__(self, port: Port, *, timeout: float = 5.0, raw_paste: bool = True,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.port = port
        self.timeout = timeout
        self.raw_paste: bool | None = None if raw_paste else False  # None: not asked yet
        self.window = 0  # raw-paste window the device announced
        self._clock = clock
        self._sleep = sleep
        self._pending = bytearray()  # read from the port beyond what a caller asked for

    # --- reading with deadlines ------------------------------------------------------------

    def _deadline(self, timeout: float | None) -> float:
        return self._clock() + (self.timeout if timeout is None else timeout)

    def _fill(self, deadline: float, want: int) -> bool:
        """Read at least one more byte into the buffer; False when the deadline passed."""
        remaining = deadline - self._clock()
        if remaining <= 0:
            return False
        try:
            self.port.timeout = remaining
            data = self.port.read(max(1, min(want, self.port.in_waiting)))
        except OSError as error:  # serial.SerialException is one too
            raise PortLost(f"the port failed: {error} (board unplugged?)") from None
        if not data:
            return False
        self._pending += data
        return True

    def read_exact(self, n: int, deadline: float, what: str) -> bytes:
        while len(self._pending) < n:
            if not self._fill(deadline, n - len(self._pending)):
                raise self._timeout(what)
        data = bytes(self._pending[:n])
        del self._pending[:n]
        return data

    def read_until(self, marker: bytes, deadline: float, what: str,
                   limit: int | None = None) -> bytes:
        """Everything up to and including `marker`; what follows stays buffered."""
        start = 0
        while True:
            at = self._pending.find(marker, start)
            if at >= 0:
                end = at + len(marker)
                data = bytes(self._pending[:end])
                del self._pending[:end]
                return data
            if limit is not None and len(self._pending) > limit:
                raise self._timeout(what)
            start = max(0, len(self._pending) - len(marker) + 1)
            if not self._fill(deadline, 4096):
                raise self._timeout(what)

    def _timeout(self, what: str) -> DeviceTimeout:
        received = bytes(self._pending)
        self._pending.clear()
        return DeviceTimeout(f"the device stopped answering: no {what} in time", received)

    def _waiting(self) -> bool:
        if self._pending:
            return True
        try:
            return self.port.in_waiting > 0
        except OSError as error:
            raise PortLost(f"the port failed: {error} (board unplugged?)") from None

    def _write(self, data: bytes) -> None:
        try:
            self.port.write(data)
        except OSError as error:
            raise PortLost(f"the port failed: {error} (board unplugged?)") from None

    # --- entering and leaving --------------------------------------------------------------

    def enter(self, *, soft_reset: bool = True, timeout: float = 3.0) -> None:
        """Interrupt whatever runs and enter the raw REPL; optionally soft-reset in it.

        The soft reset (which in the raw REPL does not run main.py) frees what the
        interrupted firmware held and stops its timers and interrupts before we write flash.
        """
        try:
            self.port.reset_input_buffer()  # stale bytes from an earlier session would desync us
        except OSError as error:
            raise PortLost(f"the port failed: {error} (board unplugged?)") from None
        self._pending.clear()
        # "\r" ends a half-typed friendly-REPL line; Ctrl-C twice interrupts a program, even
        # one that caught the first KeyboardInterrupt; Ctrl-A then enters the raw REPL.
        self._write(b"\r" + CTRL_C + CTRL_C)
        self._write(b"\r" + CTRL_A)
        deadline = self._deadline(timeout)
        try:
            self.read_until(BANNER + PROMPT, deadline, "raw REPL prompt",
                            limit=BANNER_SEARCH_LIMIT)
        except DeviceTimeout as error:
            seen = (f"it sent {len(error.received)} bytes such as {error.received[:40]!r}"
                    if error.received else "nothing answered")
            raise NotARepl(f"not a MicroPython REPL: no raw-REPL prompt within {timeout:g} s "
                           f"({seen})") from None
        if soft_reset:
            self.soft_reset()

    def soft_reset(self, timeout: float = 10.0) -> None:
        """Soft-reset from the raw REPL and come back to it (main.py does not run)."""
        self._write(CTRL_D)  # Ctrl-D on an empty raw-REPL line: soft reset
        deadline = self._deadline(timeout)
        self.read_until(SOFT_REBOOT, deadline, "soft reboot")
        self.read_until(BANNER + PROMPT, deadline, "raw REPL prompt after the soft reboot")

    def reset_to_firmware(self, timeout: float = 5.0) -> None:
        """Leave the raw REPL and soft-reset from the friendly REPL, so that main.py runs."""
        deadline = self._deadline(timeout)
        self._write(b"\r" + CTRL_B)  # Ctrl-B: back to the friendly REPL, which prints ">>> "
        self.read_until(FRIENDLY_PROMPT, deadline, "friendly REPL prompt")
        self._write(CTRL_D)  # Ctrl-D in the friendly REPL: soft reset, then main.py runs
        self.read_until(SOFT_REBOOT, deadline, "soft reboot")

    # --- running code ----------------------------------------------------------------------

    def exec_raw(self, code: str | bytes, *, timeout: float | None = None,
                 on_sent: Callable[[int], None] | None = None) -> tuple[bytes, bytes]:
        """Run `code` on the device; return its (stdout, stderr) without judging them.

        `timeout` bounds each wait (a flow-control window, the end of the output);
        `on_sent(n)` hears how many bytes of the code have gone out so far.
        """
        data = code.encode("utf-8") if isinstance(code, str) else code
        if CTRL_D in data or CTRL_C in data:
            raise ValueError("code must not contain Ctrl-C or Ctrl-D bytes")
        pasted = False
        if self.raw_paste is not False:
            pasted = self._try_raw_paste(data, timeout, on_sent)
        if not pasted:
            self._write_chunked(data, timeout, on_sent)
        deadline = self._deadline(timeout)
        out = self.read_until(CTRL_D, deadline, "end of the device's output")[:-1]
        err = self.read_until(CTRL_D, deadline, "end of the device's error output")[:-1]
        self.read_until(PROMPT, deadline, "raw REPL prompt after the output")
        return out, err

    def exec(self, code: str | bytes, **kwargs) -> bytes:
        """Run `code`; return its stdout, or raise DeviceError with the device's traceback."""
        out, err = self.exec_raw(code, **kwargs)
        if err:
            raise DeviceError(err.decode("utf-8", "replace"))
        return out

    def eval(self, expression: str, **kwargs) -> object:
        """The value of a Python literal expression evaluated on the device."""
        out = self.exec("print(repr(" + expression + "))", **kwargs)
        return ast.literal_eval(out.decode("utf-8").strip())

    def _try_raw_paste(self, data: bytes, timeout: float | None,
                       on_sent: Callable[[int], None] | None) -> bool:
        self._write(RAW_PASTE_REQUEST)
        deadline = self._deadline(timeout)
        reply = self.read_exact(2, deadline, "answer to the raw-paste request")
        if reply == RAW_PASTE_YES:
            self.raw_paste = True
            self._paste(data, timeout, on_sent)
            return True
        self.raw_paste = False
        if reply != RAW_PASTE_NO:
            # An older device appended Ctrl-E and "A" to its line, then took the 0x01 as
            # Ctrl-A: it cleared the line and printed the banner, whose start we just read.
            self._pending[:0] = reply
            self.read_until(BANNER + PROMPT, deadline, "raw REPL prompt after raw-paste")
        return False

    def _paste(self, data: bytes, timeout: float | None,
               on_sent: Callable[[int], None] | None) -> None:
        deadline = self._deadline(timeout)
        self.window = int.from_bytes(self.read_exact(2, deadline, "raw-paste window size"),
                                     "little")
        if self.window == 0:
            raise ProtocolError("the device announced a raw-paste window of 0 bytes")
        remain = self.window
        sent = 0
        while sent < len(data):
            while remain == 0 or self._waiting():
                flow = self.read_exact(1, self._deadline(timeout), "raw-paste flow control")
                if flow == CTRL_A:  # 0x01: the device freed one more window
                    remain += self.window
                elif flow == CTRL_D:  # 0x04: the device stopped reading (e.g. syntax error)
                    self._write(CTRL_D)  # acknowledge; its traceback follows as output
                    return
                else:
                    raise ProtocolError(f"unexpected {flow!r} from the device during raw-paste")
            piece = data[sent:sent + remain]
            self._write(piece)
            sent += len(piece)
            remain -= len(piece)
            if on_sent:
                on_sent(sent)
        self._write(CTRL_D)  # Ctrl-D: end of the code
        # The device acknowledges with 0x04 once it has read everything; window grants (0x01)
        # may still come before it.
        while True:
            flow = self.read_exact(1, self._deadline(timeout), "end of raw-paste")
            if flow == CTRL_D:
                return
            if flow != CTRL_A:
                raise ProtocolError(f"unexpected {flow!r} from the device ending raw-paste")

    def _write_chunked(self, data: bytes, timeout: float | None,
                       on_sent: Callable[[int], None] | None) -> None:
        for start in range(0, len(data), CHUNK):
            self._write(data[start:start + CHUNK])
            if on_sent:
                on_sent(min(start + CHUNK, len(data)))
            self._sleep(CHUNK_PAUSE_S)  # pacing, not waiting: the raw REPL has no flow control
        self._write(CTRL_D)  # Ctrl-D: end of the code; the device answers "OK" and runs it
        reply = self.read_exact(2, self._deadline(timeout), "OK from the raw REPL")
        if reply != b"OK":
            raise ProtocolError(f"the raw REPL did not accept the code (answered {reply!r})")
