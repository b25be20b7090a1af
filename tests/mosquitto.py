"""A real Mosquitto broker for the tests, on a free 127.0.0.1 port, stopped afterwards.

Started as root, Mosquitto drops to the `mosquitto` user, so its configuration lives in a
directory that user can read. Persistence is on, in that directory, so a test may restart the
broker and keep sessions.

Anonymous clients are allowed unless a test gives a password file (then `allow_anonymous
false`) and optionally an ACL file; such files must be readable by `mosquitto`, which re-reads
them as that user on `reload()` (SIGHUP). The pid is in `pid_file`, as a packaged broker's is.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Mosquitto:
    def __init__(self, *, extra_config: str = "", password_file: Path | None = None,
                 acl_file: Path | None = None):
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="hailong-mosquitto-"))
        os.chmod(self.dir, 0o777)  # the broker, running as `mosquitto`, writes its store here
        self.config = self.dir / "mosquitto.conf"
        self.pid_file = self.dir / "mosquitto.pid"
        security = "allow_anonymous true\n"
        if password_file is not None:
            security = f"allow_anonymous false\npassword_file {password_file}\n"
        if acl_file is not None:
            security += f"acl_file {acl_file}\n"
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\n"
            + security +
            f"pid_file {self.pid_file}\n"
            "persistence true\n"
            f"persistence_location {self.dir}/\n"
            "max_queued_messages 100000\n"
            "log_dest stderr\n"
            + extra_config)
        os.chmod(self.config, 0o644)
        self.log = self.dir / "mosquitto.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> "Mosquitto":
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen([MOSQUITTO, "-c", str(self.config)],
                                            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.log.read_text()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start listening")

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def reloads(self) -> int:
        """How many times the broker has started re-reading its configuration."""
        return self.log_text().count("Reloading config.")

    def wait_reloaded(self, previous: int, timeout: float = 5.0) -> None:
        """Wait until the broker logs a reload beyond `previous` (from `reloads()`).

        Mosquitto logs the line and then reloads in the same step of its single-threaded
        loop, before it handles any further packet: a connection made after this returns
        meets the new password file and ACL.
        """
        deadline = time.monotonic() + timeout
        while self.reloads() <= previous:
            if time.monotonic() > deadline:
                raise RuntimeError(f"mosquitto did not reload: {self.log_text()}")
            time.sleep(0.02)

    def reload(self, timeout: float = 5.0) -> None:
        """SIGHUP: re-read the password file and ACL; returns once the broker has."""
        assert self.process is not None
        previous = self.reloads()
        self.process.send_signal(signal.SIGHUP)
        self.wait_reloaded(previous, timeout)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
