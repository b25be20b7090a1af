"""A real Mosquitto broker for the tests, on a free 127.0.0.1 port, stopped afterwards.

The broker runs what production runs: Debian's /etc/mosquitto/mosquitto.conf (DEBIAN_CONF)
including the configuration `hailong broker-config` writes (collector.org.brokerconf.conf_text),
with only the port, the paths and the security files substituted — never a friendlier limit
(a test suite that queues more than production hides the losses production would have).

- port: a free one, on 127.0.0.1 only;
- paths: pid file, persistence location and include folder in a fresh directory; the log goes
  to stderr, which lands in `log` (`log_text()`);
- security: without a password file, anonymous clients are allowed (`allow_anonymous true`, no
  password_file or acl_file lines); with one, the generated lines point at the test's files
  (the ACL line only when an ACL is given). The one friendlier setting, and why it is kept
  apart: tests of the ingest, the parser and the kiosk run anonymous so that any topic can be
  published; what production's accounts and ACL change — who may publish, read and confirm
  what — is proven with them in tests/test_broker_acl.py, and the fault-injection run
  (tools/faults.py, tests/test_faults_short.py) runs the whole chain with the password file
  and ACL that `hailong broker-config` wrote from the registry.

`extra_config` is appended after the include, so a test may make a limit *stricter* to show
what happens at that limit; nothing else should use it.

Started as root, Mosquitto drops to the `mosquitto` user, so its directory is world-writable
and its files world-readable; a password file and ACL must be readable by `mosquitto`, which
re-reads them as that user on `reload()` (SIGHUP). The pid is in `pid_file`, as a packaged
broker's is. `stop()` and `start()` again keep the port and the store; `kill()` is a SIGKILL
(nothing saved since the last autosave); `store_path` is the persistence file.
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

from collector.org.brokerconf import CONF_NAME, conf_text

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"

# /etc/mosquitto/mosquitto.conf of Debian 12's mosquitto 2.0.11 package, as installed
# (tests/test_broker_conf.py checks it against the installed file).
DEBIAN_CONF = """\
# Place your local configuration in /etc/mosquitto/conf.d/
#
# A full description of the configuration file is at
# /usr/share/doc/mosquitto/examples/mosquitto.conf.example

pid_file /run/mosquitto/mosquitto.pid

persistence true
persistence_location /var/lib/mosquitto/

log_dest file /var/log/mosquitto/mosquitto.log

include_dir /etc/mosquitto/conf.d
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main_conf(directory: Path) -> str:
    """Debian's main configuration with its paths moved into `directory`."""
    text = DEBIAN_CONF
    for debian, ours in [("pid_file /run/mosquitto/mosquitto.pid",
                          f"pid_file {directory / 'mosquitto.pid'}"),
                         ("persistence_location /var/lib/mosquitto/",
                          f"persistence_location {directory}/"),
                         ("log_dest file /var/log/mosquitto/mosquitto.log", "log_dest stderr"),
                         ("include_dir /etc/mosquitto/conf.d",
                          f"include_dir {directory / 'conf.d'}")]:
        assert debian in text, debian
        text = text.replace(debian, ours)
    return text


def substituted_conf(port: int, password_file: Path | None, acl_file: Path | None) -> str:
    """brokerconf's configuration with only the listener and the security files substituted."""
    placeholder = Path("/nonexistent")
    text = conf_text(password_file or placeholder, acl_file or placeholder, port=port,
                     address="127.0.0.1")
    lines = []
    for line in text.splitlines():
        if password_file is None and line == "allow_anonymous false":
            line = "allow_anonymous true"
        elif password_file is None and line.startswith("password_file "):
            continue
        elif acl_file is None and line.startswith("acl_file "):
            continue
        lines.append(line)
    return "\n".join(lines) + "\n"


class Mosquitto:
    def __init__(self, *, extra_config: str = "", password_file: Path | None = None,
                 acl_file: Path | None = None):
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="hailong-mosquitto-"))
        os.chmod(self.dir, 0o777)  # the broker, running as `mosquitto`, writes its store here
        include = self.dir / "conf.d"
        include.mkdir()
        os.chmod(include, 0o755)
        self.config = self.dir / "mosquitto.conf"
        self.pid_file = self.dir / "mosquitto.pid"
        self.hailong_conf = include / CONF_NAME
        self.hailong_conf.write_text(substituted_conf(self.port, password_file, acl_file))
        self.config.write_text(main_conf(self.dir) + extra_config)
        os.chmod(self.config, 0o644)
        os.chmod(self.hailong_conf, 0o644)
        self.log = self.dir / "mosquitto.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def store_path(self) -> Path:
        """The persistence file (Mosquitto's default name in persistence_location)."""
        return self.dir / "mosquitto.db"

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
        """SIGTERM: Mosquitto saves its store, then exits."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        """SIGKILL: whatever changed since the last autosave is lost, as in a power cut."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
