"""A MicroPython board on a pseudo-terminal, for tests of anything that talks to a device over
a serial port (pyserial, mpremote, `hailong flash`).

tests/micropython/bridge.mjs runs MicroPython 1.27 (its WebAssembly port, in Node) and speaks
the board's REPL protocol on stdin/stdout: friendly REPL, raw REPL, raw-paste with flow
control, soft reset, the board's errno numbers, a UART's byte rate. socat links it to a
pseudo-terminal; `port` is a symlink to that terminal, opened like /dev/ttyACM0:

    with SerialDevice(tmp_path / "flash") as dev:
        serial.Serial(dev.port, 115200, timeout=1)   # or: mpremote connect <dev.port> ...

The device's filesystem is the host folder `flash_dir`: what is there at start is on the
device, and everything the device writes is copied back after every command it executes,
so files survive soft resets and stop()/start() (a power cycle).

Modem-control lines: a pseudo-terminal has none. pyserial's open() sets DTR and RTS and
ignores the failure, but setting `ser.dtr` or `ser.rts` afterwards raises
OSError(errno.ENOTTY) ("Inappropriate ioctl for device"); mpremote's close() tolerates that.

Needs socat (Debian: apt-get install socat), Node.js and `npm ci --prefix tests/micropython`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent / "micropython"
BRIDGE = HERE / "bridge.mjs"
PACKAGE = HERE / "node_modules" / "@micropython" / "micropython-webassembly-pyscript"
READY_LINE = re.compile(r"^bridge: ready \(pid (\d+)\)")
# socat's address syntax gives ':' ',' '!' quotes, brackets and spaces a meaning.
SAFE_PATH = re.compile(r"^[A-Za-z0-9_./+-]+$")


class SerialDeviceError(RuntimeError):
    """The fake device could not be started."""


class SerialDevice:
    """One fake board on its own pseudo-terminal.

    baud: the modelled UART rate (8N1, baud/10 bytes per second each way); 0 = unthrottled.
    raw_paste: True (MicroPython 1.27), False (refuses with b"R\\x00", the host falls back to
      the standard raw REPL) or "legacy" (firmware older than 1.14: does not know raw-paste).
    stall_after: stop answering for good after receiving that many bytes from the host.
    fs_limit: bytes of file data the filesystem holds; writes beyond raise OSError(28).
    boot: run boot.py and main.py after each reset, as a board does (off: Ctrl-C cannot stop
      a program on this device).
    """

    def __init__(self, flash_dir, baud=115200, raw_paste=True, stall_after=None,
                 fs_limit=None, boot=False, ready_timeout=20.0):
        if raw_paste not in (True, False, "legacy"):
            raise ValueError("raw_paste must be True, False or 'legacy'")
        self.flash_dir = str(Path(flash_dir).resolve())
        self.baud = baud
        self.raw_paste = raw_paste
        self.stall_after = stall_after
        self.fs_limit = fs_limit
        self.boot = boot
        self.ready_timeout = ready_timeout
        self.port: str | None = None
        self._dir: str | None = None
        self._proc: subprocess.Popen | None = None
        self._reader: threading.Thread | None = None
        self._lines: list[str] = []
        self._ready = threading.Event()
        self._bridge_pid: int | None = None

    # -- life cycle ---------------------------------------------------------------------

    def start(self) -> "SerialDevice":
        if self._proc is not None:
            raise SerialDeviceError("already started")
        socat, node = shutil.which("socat"), shutil.which("node")
        if socat is None:
            raise SerialDeviceError("socat is needed for the fake serial device: "
                                    "apt-get install socat")
        if node is None:
            raise SerialDeviceError("Node.js is needed for the fake serial device: "
                                    "apt-get install nodejs npm")
        if not PACKAGE.exists():
            raise SerialDeviceError("the MicroPython WebAssembly port is not installed; run: "
                                    "npm ci --prefix tests/micropython")
        os.makedirs(self.flash_dir, exist_ok=True)
        self._dir = tempfile.mkdtemp(prefix="hl-serial-")
        link = os.path.join(self._dir, "ttyMP")
        for p in (link, node):
            if not SAFE_PATH.match(p):
                self._cleanup()
                raise SerialDeviceError("path unsafe in a socat address: %r" % p)

        args = ["--flash", self.flash_dir, "--baud", str(self.baud),
                "--raw-paste", {True: "yes", False: "refuse", "legacy": "legacy"}[self.raw_paste]]
        if self.stall_after is not None:
            args += ["--stall-after", str(self.stall_after)]
        if self.fs_limit is not None:
            args += ["--fs-limit", str(self.fs_limit)]
        if self.boot:
            args.append("--boot")
        # The bridge's options go by environment: socat's EXEC splits its command on spaces
        # and gives ':' and ',' a meaning, and the flash folder may hold any of them.
        env = dict(os.environ, HAILONG_BRIDGE_ARGS=json.dumps(args))
        self._lines = []
        self._ready.clear()
        # -t 0.05: once the bridge has exited, socat closes the terminal without delay.
        self._proc = subprocess.Popen(
            [socat, "-d", "-d", "-t", "0.05", "pty,raw,echo=0,link=" + link,
             "EXEC:%s bridge.mjs" % node],
            cwd=str(HERE), env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True, errors="replace")
        self._reader = threading.Thread(target=self._read_log, daemon=True)
        self._reader.start()
        if not self._ready.wait(self.ready_timeout) or self._proc.poll() is not None:
            log = self.log
            self.stop()
            raise SerialDeviceError("the fake device did not start:\n" + log)
        if not os.path.exists(link):
            log = self.log
            self.stop()
            raise SerialDeviceError("socat made no pseudo-terminal at %s:\n%s" % (link, log))
        self.port = link
        return self

    def stop(self) -> None:
        """Shut down cleanly: the bridge writes the flash back and exits."""
        self._end(signal.SIGTERM)

    def unplug(self) -> None:
        """Pull the cable: the bridge is killed (SIGKILL, no last write-back of the flash),
        socat exits, the port disappears and an open connection fails on its next read or
        write."""
        self._end(signal.SIGKILL)

    def __enter__(self) -> "SerialDevice":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- what happened ------------------------------------------------------------------

    @property
    def log(self) -> str:
        """socat's and the bridge's messages (stderr) so far."""
        return "\n".join(self._lines)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -- internals ----------------------------------------------------------------------

    def _read_log(self):
        proc = self._proc
        for line in proc.stderr:
            line = line.rstrip("\n")
            self._lines.append(line)
            m = READY_LINE.match(line)
            if m:
                self._bridge_pid = int(m.group(1))
                self._ready.set()
        self._ready.set()  # ended: let start() see it instead of waiting for the timeout

    def _end(self, sig):
        """Signal the bridge; socat, its parent, reaps it and exits (the pseudo-terminal
        goes with it). socat is signalled only if it lingers or the bridge never started."""
        proc = self._proc
        if proc is not None:
            if proc.poll() is None:
                try:
                    if self._bridge_is_running(proc.pid):
                        os.kill(self._bridge_pid, sig)
                    else:
                        proc.send_signal(sig)
                except ProcessLookupError:
                    pass
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
            if self._reader is not None:
                self._reader.join(timeout=5)
            proc.stderr.close()
        self._proc = None
        self._reader = None
        self._bridge_pid = None
        self._cleanup()

    def _bridge_is_running(self, socat_pid):
        """The bridge pid still names socat's child (not a reused pid)."""
        if self._bridge_pid is None:
            return False
        try:
            with open("/proc/%d/stat" % self._bridge_pid) as f:
                # pid (comm) state ppid ...: comm may hold spaces, so split after ")".
                return int(f.read().rsplit(")", 1)[1].split()[1]) == socat_pid
        except (OSError, ValueError, IndexError):
            return False

    def _cleanup(self):
        self.port = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
