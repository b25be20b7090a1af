"""A fleet of simulated counter devices in one worker process, for the fault-injection runs.

Every device is `kiosk.sim.SimulatedKiosk`: the real firmware core (rating panel, outbox on
the power-safe journal in its own "flash" folder, MQTT client) on CPython, connected to the
broker through its own cuttable link (tools/cutproxy.py). A presser thread plays the
citizens: each device is pressed at a steady rate, the button drawn from a seeded generator.

What a device has promised is read from the device itself: `panel.seq` is the number of
records the panel made in that boot — each one showed the citizen the thank-you and went to
the journal in the same loop step — so a device's ratings are `{device}:{boot}:{0..seq-1}`
for each boot it lived. A power cut (`power_cut`) kills the core without a clean disconnect
and starts it again on the same flash folder: a new boot number, the journal replayed.

`serve(conn, spec)` runs a fleet in a worker process and answers commands sent over a
multiprocessing pipe; `FleetClient` is the orchestrator's side. Spreading the devices over a
few processes keeps the Python loop threads of ~100 devices off one interpreter lock.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from cutproxy import CutProxy


@dataclass
class DeviceSpec:
    device: str
    username: str | None = None
    password: str | None = None


@dataclass
class FleetSpec:
    devices: list[DeviceSpec]
    broker_host: str
    broker_port: int
    state_root: str
    seed: int = 1
    config: dict[str, Any] = field(default_factory=dict)  # extra kiosk config (e.g. timeouts)
    # Another firmware tree to run (its folder holding `kiosk/`), e.g. an older release from
    # `git archive`; None: the checkout's own.
    firmware: str | None = None


class _Slot:
    """One device: its kiosk of the current boot and the records of every earlier boot."""

    def __init__(self, spec: DeviceSpec, flash: str):
        self.spec = spec
        self.flash = flash
        self.kiosk: Any = None  # kiosk.sim.SimulatedKiosk, imported in the worker
        self.lock = threading.Lock()
        self.boots: dict[int, int] = {}  # boot -> records made in it (ended boots)
        self.dropped = 0
        self.press_overflow = 0
        self.power_cuts = 0
        self.errors: list[str] = []


class Fleet:
    def __init__(self, spec: FleetSpec):
        self.spec = spec
        self.proxy = CutProxy(spec.broker_host, spec.broker_port)
        self.slots = {d.device: _Slot(d, os.path.join(spec.state_root, d.device))
                      for d in spec.devices}
        self.rate = 0.0  # presses per second per device
        self.presses = 0
        self._rng = random.Random(spec.seed)
        self._stop = threading.Event()
        self._presser: threading.Thread | None = None

    def start(self) -> "Fleet":
        for slot in self.slots.values():
            self.proxy.add(slot.spec.device)
        self.proxy.start()
        for slot in self.slots.values():
            self._boot(slot)
        self._presser = threading.Thread(target=self._press_loop, name="presser", daemon=True)
        self._presser.start()
        return self

    def _boot(self, slot: _Slot) -> None:
        from kiosk.sim import SimulatedKiosk
        spec = slot.spec
        config = {"cooldown_s": 0, "thanks_s": 1, **self.spec.config}
        slot.kiosk = SimulatedKiosk(spec.device, "127.0.0.1", self.proxy.ports[spec.device],
                                    username=spec.username, password=spec.password,
                                    state_dir=slot.flash, **config).start()

    def _end_boot(self, slot: _Slot) -> None:
        kiosk = slot.kiosk
        device = kiosk.device
        slot.boots[device.boot] = device.panel.seq
        slot.dropped += device.outbox.dropped
        slot.press_overflow += device.press_overflow
        slot.errors += kiosk.errors[-3:]

    # --- the citizens ------------------------------------------------------------------

    def _press_loop(self) -> None:
        owed = {name: self._rng.random() for name in self.slots}  # spread the first presses
        tick = 0.02
        while not self._stop.wait(tick):
            if self.rate <= 0:
                continue
            for name, slot in self.slots.items():
                owed[name] += self.rate * tick
                while owed[name] >= 1:
                    owed[name] -= 1
                    with slot.lock:
                        if slot.kiosk is not None and slot.kiosk.press(self._rng.randint(1, 4)):
                            self.presses += 1

    # --- faults --------------------------------------------------------------------------

    def cut(self, device: str, seconds: float, mode: str) -> None:
        self.proxy.cut(device, seconds, mode)

    def power_cut(self, device: str) -> None:
        """Kill the device without DISCONNECT (the broker fires its will) and boot it again."""
        slot = self.slots[device]
        with slot.lock:
            slot.kiosk.kill()
            self._end_boot(slot)
            slot.power_cuts += 1
            self._boot(slot)

    # --- what the devices say ------------------------------------------------------------

    def snapshot(self) -> dict[str, dict[str, Any]]:
        out = {}
        for name, slot in self.slots.items():
            with slot.lock:
                kiosk = slot.kiosk
                boots = dict(slot.boots)
                if kiosk is not None:
                    boots[kiosk.device.boot] = kiosk.device.panel.seq
                out[name] = {
                    "boots": boots, "queue": kiosk.queue_depth if kiosk else 0,
                    "connected": bool(kiosk and kiosk.connected),
                    "dropped": slot.dropped + (kiosk.device.outbox.dropped if kiosk else 0),
                    "press_overflow": slot.press_overflow
                    + (kiosk.device.press_overflow if kiosk else 0),
                    "power_cuts": slot.power_cuts, "cut": self.proxy.is_cut(name),
                    "errors": slot.errors[-3:] + (kiosk.errors[-3:] if kiosk else []),
                }
        return out

    def stop(self) -> dict[str, dict[str, Any]]:
        """Stop pressing, stop every device cleanly, then read each journal back from its
        flash folder: what is still in it after a clean stop was never confirmed."""
        self._stop.set()
        if self._presser is not None:
            self._presser.join(5)
        from kiosk.journal import Journal
        from kiosk.sim import HostFS
        final = self.snapshot()
        for name, slot in self.slots.items():
            with slot.lock:
                slot.kiosk.stop()
                slot.kiosk = None
            journal = Journal(HostFS(), os.path.join(slot.flash, "outbox.jnl"))
            try:
                final[name]["journal_after_stop"] = len(journal)
            finally:
                journal.close()
        self.proxy.stop()
        final["_fleet"] = {"presses": self.presses, "cuts": dict(self.proxy.cuts_done)}
        return final


# --- worker process ----------------------------------------------------------------------

def serve(conn, spec: FleetSpec) -> None:
    """Run a fleet in this process; answer (method, args) requests until "stop"."""
    if spec.firmware:
        sys.path.insert(0, spec.firmware)  # before the editable install's copy
    fleet = Fleet(spec).start()
    conn.send(("ready", None))
    while True:
        method, args = conn.recv()
        try:
            if method == "rate":
                fleet.rate = float(args[0])
                result: Any = None
            elif method == "cut":
                fleet.cut(*args)
                result = None
            elif method == "power_cut":
                fleet.power_cut(*args)
                result = None
            elif method == "snapshot":
                result = fleet.snapshot()
            elif method == "stop":
                conn.send(("ok", fleet.stop()))
                return
            else:
                raise ValueError(f"unknown method {method!r}")
            conn.send(("ok", result))
        except Exception as error:  # report it to the orchestrator, keep the fleet running
            conn.send(("error", repr(error)))


class FleetClient:
    """The orchestrator's handle on one worker process."""

    def __init__(self, spec: FleetSpec):
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=serve, args=(child, spec), daemon=True)
        self.devices = [d.device for d in spec.devices]
        self._lock = threading.Lock()

    def start(self, timeout: float = 60) -> "FleetClient":
        self.process.start()
        if not self.conn.poll(timeout):
            raise RuntimeError("the fleet worker did not start")
        self.conn.recv()
        return self

    def call(self, method: str, *args: Any, timeout: float = 60) -> Any:
        with self._lock:  # one request at a time on the pipe
            self.conn.send((method, args))
            if not self.conn.poll(timeout):
                raise RuntimeError(f"the fleet worker did not answer {method}")
            status, result = self.conn.recv()
        if status != "ok":
            raise RuntimeError(f"fleet worker: {method}: {result}")
        return result

    def stop(self) -> dict[str, dict[str, Any]]:
        try:
            return self.call("stop", timeout=120)
        finally:
            self.process.join(10)
            if self.process.is_alive():
                self.process.kill()
