"""A TCP proxy per simulated device whose link can be cut, for the fault-injection runs.

Each device connects to its own listening port here instead of the broker's, so the run can
take one device's network away without touching the others or the device's code. Two kinds
of cut, as a counter's network really fails:

- "reset": every connection of the device is closed at once and new ones are closed as soon
  as they are accepted (a switch port going down, a router rebooting): the device sees a
  socket error and reconnects with its backoff;
- "blackhole": the connections stay open but nothing is forwarded either way, new ones are
  accepted and held silent (Wi-Fi out of range, a dead upstream): the device notices only by
  its own timers (no PUBACK, no PINGRESP, no CONNACK), the broker only by the keep-alive.
  When the cut ends the held connections are closed, as a NAT table forgets them.

One thread and one selector serve every device of a worker: a thread per connection would
cost more than the simulated devices themselves on the 2-core machine the proofs run on.
Upstream connects are to 127.0.0.1 and fail at once when the broker is down, so they are
made in the selector thread.
"""

from __future__ import annotations

import selectors
import socket
import struct
import threading
import time

BUFFER = 65536


class _Pair:
    def __init__(self, device: str, down: socket.socket, up: socket.socket | None):
        self.device = device
        self.down = down  # the device's side
        self.up = up  # the broker's side
        self.out = {down: bytearray(), up: bytearray()} if up is not None else {down: bytearray()}
        self.held = up is None  # accepted during a blackhole: never forwarded


class CutProxy:
    def __init__(self, broker_host: str, broker_port: int):
        self.broker = (broker_host, broker_port)
        self.selector = selectors.DefaultSelector()
        self.ports: dict[str, int] = {}
        self._listeners: dict[socket.socket, str] = {}
        self._pairs: dict[socket.socket, _Pair] = {}
        self._cuts: dict[str, tuple[str, float]] = {}  # device -> (mode, until monotonic)
        self._lock = threading.Lock()
        self._commands: list[tuple] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.cuts_done = {"reset": 0, "blackhole": 0}

    def add(self, device: str) -> int:
        """Open a listening port for `device`; return it (give it to the device as the broker)."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        listener.setblocking(False)
        self._listeners[listener] = device
        self.ports[device] = listener.getsockname()[1]
        self.selector.register(listener, selectors.EVENT_READ)
        return self.ports[device]

    def start(self) -> "CutProxy":
        self._thread = threading.Thread(target=self._run, name="cutproxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        for sock in list(self._pairs):
            sock.close()
        for listener in self._listeners:
            listener.close()
        self.selector.close()

    def cut(self, device: str, seconds: float, mode: str) -> None:
        """Cut `device`'s link for `seconds` ("reset" or "blackhole"); thread-safe."""
        if mode not in self.cuts_done:
            raise ValueError(f"unknown cut mode {mode!r}")
        with self._lock:
            self._commands.append((device, mode, time.monotonic() + seconds))

    def is_cut(self, device: str) -> bool:
        return device in self._cuts

    # --- the selector thread -------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            self._apply_commands()
            self._end_cuts()
            for key, mask in self.selector.select(timeout=0.05):
                sock = key.fileobj
                if sock in self._listeners:
                    self._accept(sock)
                elif sock in self._pairs:
                    self._serve(sock, mask)

    def _apply_commands(self) -> None:
        with self._lock:
            commands, self._commands = self._commands, []
        for device, mode, until in commands:
            self._cuts[device] = (mode, until)
            self.cuts_done[mode] += 1
            if mode == "reset":
                self._close_device(device)
            else:
                for pair in {p for p in self._pairs.values() if p.device == device}:
                    self._silence(pair)

    def _end_cuts(self) -> None:
        now = time.monotonic()
        for device, (mode, until) in list(self._cuts.items()):
            if now >= until:
                del self._cuts[device]
                if mode == "blackhole":
                    self._close_device(device)

    def _accept(self, listener: socket.socket) -> None:
        try:
            down, _ = listener.accept()
        except OSError:
            return
        device = self._listeners[listener]
        cut = self._cuts.get(device)
        if cut is not None and cut[0] == "reset":
            down.close()
            return
        down.setblocking(False)
        up = None
        if cut is None:
            try:
                up = socket.create_connection(self.broker, timeout=1)
            except OSError:
                down.close()  # broker down: the device sees the connection fail
                return
            up.setblocking(False)
            up.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        down.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pair = _Pair(device, down, up)
        self._pairs[down] = pair
        # A held connection is never read: the device's CONNECT just sits in the kernel.
        if up is not None:
            self._pairs[up] = pair
            self.selector.register(down, selectors.EVENT_READ)
            self.selector.register(up, selectors.EVENT_READ)

    def _peer(self, pair: _Pair, sock: socket.socket) -> socket.socket:
        # Only forwarding pairs are served, and those have both sides.
        peer = pair.up if sock is pair.down else pair.down
        assert peer is not None
        return peer

    def _serve(self, sock: socket.socket, mask: int) -> None:
        pair = self._pairs[sock]
        if pair.held:
            return
        if mask & selectors.EVENT_READ:
            try:
                data = sock.recv(BUFFER)
            except BlockingIOError:
                data = None
            except OSError:
                data = b""
            if data == b"":
                self._close_pair(pair)
                return
            if data:
                peer = self._peer(pair, sock)
                pair.out[peer] += data
                self._flush(pair, peer)
        if mask & selectors.EVENT_WRITE and sock in self._pairs:
            self._flush(pair, sock)

    def _flush(self, pair: _Pair, sock: socket.socket) -> None:
        buf = pair.out[sock]
        try:
            sent = sock.send(buf) if buf else 0
        except BlockingIOError:
            sent = 0
        except OSError:
            self._close_pair(pair)
            return
        del buf[:sent]
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if buf else 0)
        self.selector.modify(sock, events)

    def _silence(self, pair: _Pair) -> None:
        """Blackhole an open pair: keep both sockets, forward nothing."""
        if pair.held:
            return
        pair.held = True
        for sock in (pair.down, pair.up):
            if sock is not None:
                self.selector.unregister(sock)

    def _close_device(self, device: str) -> None:
        for pair in {p for p in self._pairs.values() if p.device == device}:
            self._close_pair(pair)

    def _close_pair(self, pair: _Pair) -> None:
        for sock in (pair.down, pair.up):
            if sock is None or sock not in self._pairs:
                continue
            del self._pairs[sock]
            if not pair.held:
                self.selector.unregister(sock)
            try:
                # RST rather than FIN: an abrupt cut, not a polite close.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
            sock.close()
