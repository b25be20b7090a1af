"""Simulation hardware layer: runs the real device core on CPython against a real broker.

CPython only (it imports socket, select, threading, time); never copied to the ESP32. It
provides the boundaries the core expects: a clock (time.monotonic for uptime, time.time for
the wall clock, counted as synced), a TCP transport with a timeout on every call, a text
display that keeps the current lines, and SimulatedKiosk, which runs Device.step() in a daemon
thread every ~10 ms.

press() is the simulated interrupt handler: it only records (level, uptime) in the device's
press ring under a lock; the loop thread turns presses into ratings.
"""

import os
import select
import socket
import threading
import time

from kiosk import screen
from kiosk.bootcount import BootCounter
from kiosk.device import Device
from kiosk.journal import Journal

CONNECT_TIMEOUT_S = 2.0  # short: the loop thread blocks in connect at most this long
IO_TIMEOUT_S = 5.0  # send/recv on a connected socket


class SimClock:
    def __init__(self):
        self._t0 = time.monotonic()

    def uptime_ms(self):
        return int((time.monotonic() - self._t0) * 1000)

    def wall_ms(self):
        return int(time.time() * 1000)


class TcpTransport:
    def __init__(self, sock):
        self._sock = sock

    def send(self, data):
        self._sock.sendall(data)  # socket.timeout is an OSError

    def recv(self, n):
        return self._sock.recv(n)

    def readable(self):
        try:
            r, _, _ = select.select([self._sock], [], [], 0)
        except (OSError, ValueError) as e:
            # A closed socket makes select fail; surface it as the transport error it is.
            raise OSError(str(e))
        return bool(r)

    def close(self):
        self._sock.close()


class SimNet:
    def connect(self, host, port):
        sock = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S)
        sock.settimeout(IO_TIMEOUT_S)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return TcpTransport(sock)

    def rssi(self):
        return None  # no radio in the simulation


class TextDisplay:
    """Keeps the current screen items (kiosk.screen); the ESP32 draws the same items."""

    def __init__(self):
        self._lock = threading.Lock()
        self.items = []

    def show(self, items):
        with self._lock:
            self.items = list(items)

    def text(self):
        with self._lock:
            return screen.text(self.items)


class HostFS:
    """The journal's file-system boundary on the host (os.replace: atomic, like littlefs)."""

    def open(self, path, mode):
        return open(path, mode)

    def rename(self, src, dst):
        os.replace(src, dst)

    def remove(self, path):
        os.remove(path)


class SimulatedKiosk:
    """The device core on CPython against a real broker.

    state_dir: a folder standing in for the device's flash. With it the outbox is the
    power-safe journal and the boot counter is kept there, as on the board, so a kiosk
    killed and started again on the same folder resends what the collector had not
    confirmed, under the original ids. Without it the outbox lives in RAM and `boot` is taken
    as given.
    """

    def __init__(self, device_id, host, port, *, username=None, password=None,
                 cooldown_s=5.0, thanks_s=3.0, boot=1, clock=None, state_dir=None,
                 **extra_config):
        store = None
        if state_dir is not None:
            os.makedirs(state_dir, exist_ok=True)
            fs = HostFS()
            store = Journal(fs, os.path.join(state_dir, "outbox.jnl"))
            boot = BootCounter(fs, os.path.join(state_dir, "boot.bin")).advance(store.max_boot)
        self.store = store
        self.config = {
            "device": device_id, "host": host, "port": port,
            "username": username, "password": password, "boot": boot,
            "cooldown_s": cooldown_s, "thanks_s": thanks_s,
        }
        self.config.update(extra_config)
        self.clock = clock if clock is not None else SimClock()
        self.display = TextDisplay()
        self.device = Device(self.config, self.clock, SimNet(), self.display, store=store,
                             load_config=lambda: dict(self.config))
        self._press_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None
        self.errors = []  # the last few loop exceptions (bounded), for tests and demos
        self.error_count = 0

    # --- lifecycle -----------------------------------------------------------------------

    def start(self):
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="kiosk-" + self.config["device"],
                                        daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            try:
                self.device.step()
            except Exception as e:  # keep the simulated device alive, but remember why
                self.error_count += 1
                self.errors.append(repr(e))
                del self.errors[:-20]
            time.sleep(0.01)

    def _halt(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def stop(self):
        """Stop the loop and disconnect cleanly (no last will)."""
        self._halt()
        self.device.disconnect()
        if self.store is not None:
            self.store.close()

    def kill(self):
        """Stop the loop and drop the socket without DISCONNECT: the broker fires the will."""
        self._halt()
        self.device.abort()
        if self.store is not None:
            self.store.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- the "hardware" ------------------------------------------------------------------

    def long_press(self, level):
        """A button held down: opens the technician screen, is not a rating."""
        with self._press_lock:
            return self.device.long_press(level)

    def press(self, level):
        """Thread-safe button press (records it; the loop thread does the work)."""
        with self._press_lock:
            return self.device.press(level)

    def screen_text(self):
        return self.display.text()

    @property
    def device_id(self):
        return self.device.device_id

    @property
    def connected(self):
        return self.device.connected

    @property
    def queue_depth(self):
        return self.device.queue_depth

    @property
    def filtered(self):
        return self.device.filtered

    @property
    def dropped(self):
        return self.device.dropped

    @property
    def sent_acked(self):
        return self.device.sent_acked

    @property
    def confirmed(self):
        """Ratings the collector confirmed (protocol: ack); they have left the outbox."""
        return self.device.confirmed

    def wait_until(self, predicate, timeout=5.0):
        """Poll predicate() every 10 ms; True when it held before the timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.01)
        return bool(predicate())
