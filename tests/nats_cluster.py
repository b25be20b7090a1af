"""A real NATS Server cluster (JetStream, MQTT) for the tests, on free 127.0.0.1 ports.

The nodes run what `hailong broker-config --target nats` writes (collector.org.natsconf:
one file per node, the registry's accounts and permissions), with only the store folder
substituted: on one machine each node needs its own, where production gives every node the
same path on its own disk. Everything else — replicas, inflight limit, ack wait, payload
limit, the route password — is production's (no friendlier limit, as in tests/mosquitto.py).

- `NatsCluster(db, ...)`: three nodes by default; `start()` starts every node and waits
  until each answers /healthz and listens for MQTT; `kill(i)` is a SIGKILL of node i (0-based),
  `stop(i)` a SIGTERM, `start_node(i)` brings it back on the same ports and store; `restart()`
  stops and starts them all; `reload()` re-reads the files after `regenerate(db)` (SIGHUP);
  `node_of(client_id)` is the node an MQTT client is connected to, as the nodes' monitoring
  (/connz) reports it; `cleanup()` stops them and removes the folder.
- `FailoverProxy(ports)`: one TCP port standing for the cluster's address, as a load balancer
  or a DNS name with every node's address does in production: each new connection goes to the
  first node that accepts it, so devices whose node died reconnect to another one. One thread
  per direction of each connection: enough for the tens of devices of a test.

nats-server missing is an error, never a skip: scripts/test installs Debian's `nats-server`.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx
import sqlite_utils
from mosquitto import free_port

from collector.org.credentials import generate_password
from collector.org.natsconf import CONF_PATTERN, NatsFiles, NatsNode, generate

NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"
MISSING = ("nats-server is not installed: `apt-get install nats-server` (Debian's package, "
           "2.9); scripts/test installs it")


def require_nats_server() -> str:
    if not os.access(NATS_SERVER, os.X_OK):
        raise RuntimeError(MISSING)
    return NATS_SERVER


def nats_version() -> str:
    out = subprocess.run([require_nats_server(), "--version"], capture_output=True, text=True,
                         timeout=10)
    return out.stdout.strip()


class NatsCluster:
    def __init__(self, db: sqlite_utils.Database, *, collector_user: str,
                 collector_password: str, size: int = 3):
        require_nats_server()
        self.dir = Path(tempfile.mkdtemp(prefix="hailong-nats-"))
        self.conf_dir = self.dir / "conf"
        self.collector_user = collector_user
        self.collector_password = collector_password
        self.route_password = generate_password()
        self.nodes = [NatsNode("127.0.0.1", free_port(), free_port(), free_port(), free_port())
                      for _ in range(size)]
        self.processes: list[subprocess.Popen | None] = [None] * size
        self.files: NatsFiles = self.regenerate(db)

    # --- configuration ---------------------------------------------------------------------

    def regenerate(self, db: sqlite_utils.Database) -> NatsFiles:
        """Write the nodes' files from the registry, as the command does (node i's store
        folder substituted); returns what generate() reported."""
        files = generate(db, self.conf_dir, nodes=self.nodes, collector_user=self.collector_user,
                         collector_password=self.collector_password,
                         route_password=self.route_password, store_dir=self.dir / "store",
                         group=None)
        for index in range(len(self.nodes)):
            text = files.confs[index].read_text()
            shared = f'store_dir: "{self.dir / "store"}"'
            assert text.count(shared) == 1, "the store folder line moved"
            self.conf(index).write_text(text.replace(
                shared, f'store_dir: "{self.dir / f"store-{index + 1}"}"'))
        self.files = files
        return files

    def conf(self, index: int) -> Path:
        return self.dir / f"node-{CONF_PATTERN.format(index + 1)}"

    def log(self, index: int) -> Path:
        return self.dir / f"node-{index + 1}.log"

    def log_text(self, index: int) -> str:
        try:
            return self.log(index).read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # --- addresses --------------------------------------------------------------------------

    def mqtt_port(self, index: int) -> int:
        return self.nodes[index].mqtt_port

    def node_of(self, client_id: str) -> int | None:
        """The running node (0-based) holding an MQTT connection with this client id, or
        None. Asked of the broker, not of the client: each node's /connz filtered by it."""
        for index, node in enumerate(self.nodes):
            if not self.running(index):
                continue
            try:
                answer = httpx.get(f"http://127.0.0.1:{node.monitor_port}/connz",
                                   params={"mqtt_client": client_id}, timeout=5).json()
            except (httpx.HTTPError, ValueError):
                continue
            if answer.get("num_connections"):
                return index
        return None

    def url(self, index: int) -> str:
        return f"mqtt://127.0.0.1:{self.mqtt_port(index)}"

    # --- life -------------------------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> "NatsCluster":
        for index in range(len(self.nodes)):
            self._spawn(index)
        for index in range(len(self.nodes)):
            self.wait_ready(index, timeout)
        return self

    def _spawn(self, index: int) -> None:
        assert self.processes[index] is None, f"node {index + 1} is running"
        with open(self.log(index), "ab") as log:
            self.processes[index] = subprocess.Popen(
                [NATS_SERVER, "-c", str(self.conf(index))], stdout=log,
                stderr=subprocess.STDOUT)

    def start_node(self, index: int, timeout: float = 60.0) -> None:
        self._spawn(index)
        self.wait_ready(index, timeout)

    def running(self, index: int) -> bool:
        process = self.processes[index]
        return process is not None and process.poll() is None

    def wait_ready(self, index: int, timeout: float = 60.0) -> None:
        """Until the node is healthy, knows the JetStream leader and accepts MQTT."""
        node = self.nodes[index]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            process = self.processes[index]
            if process is None or process.poll() is not None:
                raise RuntimeError(f"nats-server node {index + 1} exited: "
                                   f"{self.log_text(index)[-3000:]}")
            try:
                monitor = f"http://127.0.0.1:{node.monitor_port}"
                health = httpx.get(f"{monitor}/healthz", timeout=1)
                # JetStream answers MQTT's session and stream requests once the cluster has
                # elected its metadata leader (a single node leads itself).
                meta = httpx.get(f"{monitor}/jsz", timeout=1).json().get("meta_cluster") or {}
                if health.status_code == 200 and (meta.get("leader") or len(self.nodes) == 1):
                    socket.create_connection(("127.0.0.1", node.mqtt_port), timeout=1).close()
                    return
            except (httpx.HTTPError, OSError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"nats-server node {index + 1} not ready after {timeout} s: "
                           f"{self.log_text(index)[-3000:]}")

    def _signal(self, index: int, sig: int, wait: float) -> None:
        process = self.processes[index]
        if process is not None and process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(wait)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes[index] = None

    def kill(self, index: int) -> None:
        """SIGKILL: the node stops at once, whatever it was doing."""
        self._signal(index, signal.SIGKILL, 10)

    def stop(self, index: int) -> None:
        """SIGTERM: the node shuts down cleanly (as `systemctl stop` does)."""
        self._signal(index, signal.SIGTERM, 30)

    def restart(self, timeout: float = 60.0) -> None:
        """Every node stopped, then every node started again on its store."""
        for index in range(len(self.nodes)):
            self.stop(index)
        self.start(timeout)

    def reloads(self, index: int) -> int:
        return self.log_text(index).count("Reloaded server configuration")

    def reload(self, timeout: float = 10.0) -> None:
        """SIGHUP to every running node; returns once each has re-read its file."""
        before = {index: self.reloads(index) for index in range(len(self.nodes))
                  if self.running(index)}
        for index in before:
            self.processes[index].send_signal(signal.SIGHUP)
        deadline = time.monotonic() + timeout
        for index, count in before.items():
            while self.reloads(index) <= count:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"node {index + 1} did not reload: "
                                       f"{self.log_text(index)[-2000:]}")
                time.sleep(0.02)

    def cleanup(self) -> None:
        for index in range(len(self.nodes)):
            self.stop(index)
        shutil.rmtree(self.dir, ignore_errors=True)


class FailoverProxy:
    """One address for the cluster: each connection goes to the first node that accepts it."""

    def __init__(self, ports: list[int]):
        self.ports = list(ports)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.port = self.listener.getsockname()[1]
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False
        self.connections = {port: 0 for port in self.ports}  # upstream -> connections made
        threading.Thread(target=self._accept, name="failover-accept", daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                down, _ = self.listener.accept()
            except OSError:
                return
            up = self._upstream()
            if up is None:
                down.close()
                continue
            with self._lock:
                self._sockets.update((down, up))
            for source, target in ((down, up), (up, down)):
                threading.Thread(target=self._pipe, args=(source, target), daemon=True).start()

    def _upstream(self) -> socket.socket | None:
        for port in self.ports:
            try:
                up = socket.create_connection(("127.0.0.1", port), timeout=2)
            except OSError:
                continue  # that node is down: the next one
            up.settimeout(None)
            self.connections[port] += 1
            return up
        return None

    def _pipe(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                target.sendall(data)
        except OSError:
            pass
        # Either side gone: both go, as a load balancer drops the pair when a node dies.
        for sock in (source, target):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
            with self._lock:
                self._sockets.discard(sock)

    def close(self) -> None:
        self._closed = True
        self.listener.close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
