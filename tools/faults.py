"""Fault injection on real processes: no rating a device acknowledged is lost or doubled.

Simulated counter devices running the real firmware core (tools/fleet.py: rating panel,
power-safe journal, MQTT client) press ratings through a real Mosquitto configured by
`hailong broker-config` into `hailong serve`, while this runner
- SIGKILLs the collector again and again (and restarts it),
- keeps the collector down longer than the broker can queue for it (its queue limit is read
  from the broker's configuration; the broker's log shows it dropping),
- restarts the broker: cleanly, with SIGKILL, and with SIGKILL *and its store file gone*
  (killed before it ever saved: every session, queue and retained message lost),
- cuts devices' network links (reset and blackhole, tools/cutproxy.py),
- cuts devices' power (the core killed and booted again on the same flash folder).
Then it stops pressing, lets everything drain and counts:
- expected: every record the devices' panels made (each showed the citizen the thank-you),
  read from the devices themselves (`{device}:{boot}:{0..seq-1}` for every boot);
- stored: the `ratings` table, read directly;
- lost = expected − stored, unexpected = stored − expected, and the same press stored under
  two ids (two rows with one device, device clock and uptime) — all must be 0;
- every device journal empty (in RAM and read back from its flash folder after a clean stop),
  no press refused by a full journal or ring, health `ok` at the end.

Run: .venv/bin/python tools/faults.py [--short] [--json FILE]   (the long run: ≥ 100,000
ratings, 8 to 10 minutes on 2 cores). Exit status 0 only when every check holds.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sqlite3
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fleet import FleetClient, FleetSpec  # noqa: E402
from rig import Broker, Collector, prepare_db, query, wait_until, ingest_totals  # noqa: E402

# Mosquitto's compiled-in default when the configuration says nothing (mosquitto.conf(5)).
MOSQUITTO_DEFAULT_QUEUE = 1000


@dataclass
class Plan:
    devices: int = 80
    workers: int = 2
    rate: float = 3.0  # presses per second per device
    target: int = 100_000  # keep pressing (after the schedule) until this many ratings
    press_s: float = 430.0  # the fault schedule runs over this long
    collector_kill_every_s: float = 30.0
    collector_down_s: tuple[float, float] = (0.5, 4.0)
    broker_events: list[tuple[float, str]] = field(default_factory=lambda: [
        (90.0, "term"), (180.0, "kill-lose-store"), (330.0, "kill"), (400.0, "term")])
    broker_down_s: float = 3.0
    queue_before_loss_s: float = 10.0  # collector down this long before the store is lost
    # broker-config's queue (1,000,000 messages, three days of 100 devices) cannot be outlasted
    # in a run of minutes; the run tightens it (tests/mosquitto.py allows stricter limits only)
    # to Debian's default, the limit that lost ratings in issue 10, and outlasts that.
    broker_queue: int | None = 1000
    outage_at_s: float = 230.0
    outage_min_s: float = 60.0  # at least this long, and past the broker's queue limit
    cut_every_s: float = 3.0
    cut_s: tuple[float, float] = (3.0, 30.0)
    power_cut_every_s: float = 10.0
    device_config: dict[str, Any] = field(default_factory=dict)
    drain_s: float = 300.0
    seed: int = 10
    firmware: str | None = None  # another firmware tree for the devices (tools/fleet.py)

    @classmethod
    def short(cls) -> "Plan":
        """The suite's version: a few thousand ratings, 2 collector kills, 1 broker SIGKILL
        that loses the store, device cuts; well under a minute."""
        return cls(devices=12, workers=1, rate=8.0, target=2000, press_s=22.0,
                   collector_kill_every_s=8.0, collector_down_s=(0.5, 1.0),
                   broker_events=[(12.0, "kill-lose-store")], broker_down_s=1.0,
                   queue_before_loss_s=3.0, broker_queue=None, outage_at_s=-1,
                   cut_every_s=5.0, cut_s=(2.0, 6.0), power_cut_every_s=9.0,
                   device_config={"confirm_timeout_s": 5, "backoff_max_s": 2},
                   drain_s=60.0, seed=3)


def queue_limit(config_text: str) -> int:
    """The broker's max_queued_messages (the last one given wins, as in Mosquitto)."""
    values = re.findall(r"^\s*max_queued_messages\s+(\d+)", config_text, re.M)
    return int(values[-1]) if values else MOSQUITTO_DEFAULT_QUEUE


def broker_config_text(config: Path) -> str:
    """The broker's configuration with each include_dir's files put where it includes them
    (a later line wins in Mosquitto, so the order matters)."""
    lines = []
    for line in config.read_text().splitlines():
        match = re.match(r"^\s*include_dir\s+(\S+)", line)
        if match:
            lines += [p.read_text() for p in sorted(Path(match[1]).glob("*.conf"))]
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


def healthy(figures: dict[str, Any]) -> bool:
    """Health at the end: `ok`, or `degraded` only because the broker lost the collector's
    session (health says so for 15 minutes after a loss) — and it must say so when the run
    made the broker lose its store: a loss nobody hears of is the failure issue 10 is about."""
    reasons = figures["health_reasons"] or []
    if figures["broker_store_losses"] and "broker_session_lost" not in reasons \
            and not figures["sessions_lost_recorded"]:
        return False
    if not reasons:
        return figures["health"] == "ok" and figures["health_http"] == 200
    return set(reasons) <= {"broker_session_lost"} and figures["health_http"] == 503


class Run:
    def __init__(self, plan: Plan, workdir: Path, log: Callable[[str], None] = print):
        self.plan = plan
        self.workdir = workdir
        self.log = log
        self.rng = random.Random(plan.seed)
        self.events: list[str] = []
        self.figures: dict[str, Any] = {}

    def note(self, text: str) -> None:
        line = f"[{time.monotonic() - self.t0:7.1f} s] {text}"
        self.events.append(line)
        self.log(line)

    # --- setup -------------------------------------------------------------------------

    def setup(self) -> None:
        plan = self.plan
        self.t0 = time.monotonic()
        self.prepared = prepare_db(self.workdir / "hailong.db", plan.devices)
        extra = (f"max_queued_messages {plan.broker_queue}\n" if plan.broker_queue else "")
        self.broker = Broker(self.prepared.db, self.workdir, extra_config=extra).start()
        self.queue_limit = queue_limit(broker_config_text(self.broker.mosquitto.config))
        self.collector = Collector(self.prepared, self.broker, self.workdir).start()
        groups = [self.prepared.devices[i::plan.workers] for i in range(plan.workers)]
        self.fleets = [FleetClient(FleetSpec(group, "127.0.0.1", self.broker.port,
                                             str(self.workdir / "flash"), plan.seed + i,
                                             plan.device_config, plan.firmware)).start()
                       for i, group in enumerate(groups)]
        self.owner = {d: f for f in self.fleets for d in f.devices}
        self.note(f"{plan.devices} devices in {plan.workers} worker(s); broker queue limit "
                  f"{self.queue_limit}")

    def snapshot(self) -> dict[str, dict[str, Any]]:
        merged: dict[str, dict[str, Any]] = {}
        for fleet in self.fleets:
            merged.update(fleet.call("snapshot"))
        return merged

    @staticmethod
    def made(snapshot: dict[str, dict[str, Any]]) -> int:
        return sum(sum(d["boots"].values()) for name, d in snapshot.items()
                   if not name.startswith("_"))

    # --- the faults --------------------------------------------------------------------

    def schedule(self) -> list[tuple[float, str, Callable[[], None]]]:
        plan, rng = self.plan, self.rng
        events: list[tuple[float, str, Callable[[], None]]] = []
        outage = None
        if plan.outage_at_s >= 0:
            total_rate = plan.devices * plan.rate
            length = max(plan.outage_min_s, 1.5 * self.queue_limit / total_rate)
            outage = (plan.outage_at_s, plan.outage_at_s + length)
            events.append((outage[0], "outage", self.collector_outage_start))
            events.append((outage[1], "outage-end", self.collector_outage_end))
        t = plan.collector_kill_every_s
        while t < plan.press_s:
            if outage is None or not outage[0] - 10 <= t <= outage[1] + 10:
                down = rng.uniform(*plan.collector_down_s)
                events.append((t, "collector-kill", partial(self.kill_collector, down)))
            t += plan.collector_kill_every_s * rng.uniform(0.8, 1.2)
        for at, how in plan.broker_events:
            events.append((at, "broker", partial(self.restart_broker, how)))
        t = plan.cut_every_s / 2
        while t < plan.press_s:
            device = rng.choice(self.prepared.devices).device
            mode = rng.choice(("reset", "blackhole"))
            seconds = rng.uniform(*plan.cut_s)
            events.append((t, "cut", partial(self.cut, device, seconds, mode)))
            t += plan.cut_every_s
        t = plan.power_cut_every_s
        while t < plan.press_s:
            device = rng.choice(self.prepared.devices).device
            events.append((t, "power-cut", partial(self.power_cut, device)))
            t += plan.power_cut_every_s
        return sorted(events, key=lambda e: e[0])

    def kill_collector(self, down_s: float) -> None:
        if not self.collector.alive():
            return
        self.collector.kill()
        time.sleep(down_s)
        self.collector.start(wait=False)
        self.note(f"collector SIGKILL #{self.collector.kills}, restarted after {down_s:.1f} s")

    def collector_outage_start(self) -> None:
        if self.collector.alive():
            self.collector.kill()
        self.outage_started = time.monotonic()
        self.outage_made = self.made(self.snapshot())
        self.note(f"collector SIGKILL #{self.collector.kills}: outage begins (queue limit "
                  f"{self.queue_limit})")

    def collector_outage_end(self) -> None:
        seconds = time.monotonic() - self.outage_started
        made = self.made(self.snapshot()) - self.outage_made
        self.figures["outage"] = {"seconds": round(seconds, 1), "ratings_made": made,
                                  "queue_limit": self.queue_limit,
                                  "broker_dropped_warnings": self.broker.dropped_warnings()}
        self.collector.start(wait=False)
        self.note(f"outage ends after {seconds:.0f} s: {made} ratings made meanwhile, "
                  f"broker queue limit {self.queue_limit}, broker 'dropped' warnings so far: "
                  f"{self.broker.dropped_warnings()}")

    def restart_broker(self, how: str) -> None:
        if how != "kill-lose-store":
            self.broker.restart(how, self.plan.broker_down_s)
            self.note(f"broker restart ({how}) #{self.broker.restarts}")
            return
        # The worst moment to lose the broker's store: the collector is down, so what the
        # devices published meanwhile exists only in the broker's queue for its session.
        if self.collector.alive():
            self.collector.kill()
        time.sleep(self.plan.queue_before_loss_s)
        self.broker.restart(how, self.plan.broker_down_s)
        self.collector.start(wait=False)
        self.note(f"collector SIGKILL #{self.collector.kills}, then broker SIGKILL with its "
                  f"store lost after {self.plan.queue_before_loss_s:g} s of queueing "
                  f"(restart #{self.broker.restarts})")

    def cut(self, device: str, seconds: float, mode: str) -> None:
        self.owner[device].call("cut", device, seconds, mode)

    def power_cut(self, device: str) -> None:
        self.owner[device].call("power_cut", device)

    # --- the run -----------------------------------------------------------------------

    def press(self) -> None:
        plan = self.plan
        for fleet in self.fleets:
            fleet.call("rate", plan.rate)
        start = time.monotonic()
        self.note(f"pressing at {plan.rate:g}/s on each of {plan.devices} devices")
        for at, name, action in self.schedule():
            delay = start + at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            action()
        # Faults done; press on until the target is reached.
        while self.made(self.snapshot()) < plan.target:
            time.sleep(1)
        for fleet in self.fleets:
            fleet.call("rate", 0)
        self.figures["press_s"] = round(time.monotonic() - start, 1)
        self.note(f"pressing stopped: {self.made(self.snapshot())} ratings made")

    def drain(self) -> None:
        if not self.collector.alive():
            self.collector.start(wait=False)
        start = time.monotonic()

        def drained() -> bool:
            snap = self.snapshot()
            return all(d["queue"] == 0 for n, d in snap.items() if not n.startswith("_"))
        try:
            wait_until(drained, self.plan.drain_s, "every device journal to empty", 1.0)
        except TimeoutError as error:
            self.note(str(error))
        # The journals are empty once the collector confirmed; with firmware that removes
        # on the broker's PUBACK the collector may still be catching up: wait for quiet.
        last = -1
        while time.monotonic() - start < self.plan.drain_s:
            count = query(self.prepared.db, "SELECT count(*) FROM ratings")[0][0]
            if count == last:
                break
            last = count
            time.sleep(3)
        self.figures["drain_s"] = round(time.monotonic() - start, 1)

    def verify(self) -> dict[str, Any]:
        finals: dict[str, dict[str, Any]] = {}
        presses_made = 0
        cuts = {"reset": 0, "blackhole": 0}
        for fleet in self.fleets:
            final = fleet.stop()
            meta = final.pop("_fleet")
            presses_made += meta["presses"]
            for mode, n in meta["cuts"].items():
                cuts[mode] += n
            finals.update(final)
        expected = {f"{device}:{boot}:{seq}" for device, d in finals.items()
                    for boot, made in d["boots"].items() for seq in range(made)}
        rows = query(self.prepared.db, "SELECT id, device_id, device_ts, uptime_ms FROM ratings")
        stored = {row[0] for row in rows}
        presses: dict[tuple, list[str]] = {}
        for rating_id, device, ts, uptime in rows:
            presses.setdefault((device, ts, uptime), []).append(rating_id)
        twice = [ids for ids in presses.values() if len(ids) > 1]
        health = self.collector.health()
        totals = ingest_totals(self.prepared.db)
        figures = {
            "devices": self.plan.devices,
            "ratings_made_by_devices": len(expected),
            "ratings_stored": len(stored),
            "lost": len(expected - stored),
            "unexpected": len(stored - expected),
            "stored_under_two_ids": len(twice),
            "duplicates_recognised": totals.get("duplicate", 0),
            "rejected": totals.get("rejected", 0),
            "journals_not_empty": sum(1 for d in finals.values() if d["queue"]),
            "journal_records_after_stop": sum(d["journal_after_stop"] for d in finals.values()),
            "refused_by_device": sum(d["dropped"] + d["press_overflow"]
                                     for d in finals.values()),
            "collector_sigkills": self.collector.kills,
            "broker_restarts": self.broker.restarts,
            "broker_sigkills": self.broker.kills,
            "broker_store_losses": self.broker.store_losses,
            "broker_dropped_warnings": self.broker.dropped_warnings(),
            "network_cuts": cuts,
            "presses_by_presser": presses_made,
            "power_cuts": sum(d["power_cuts"] for d in finals.values()),
            "health": health[1].get("status") if health else None,
            "health_http": health[0] if health else None,
            "health_reasons": health[1].get("reasons") if health else None,
            "sessions_lost_recorded": self.sessions_lost(),
            **self.figures,
            "lost_sample": sorted(expected - stored)[:10],
            "unexpected_sample": sorted(stored - expected)[:10],
            "device_errors_sample": [e for d in finals.values() for e in d["errors"]][:5],
        }
        figures["ok"] = (figures["lost"] == 0 and figures["unexpected"] == 0
                         and figures["stored_under_two_ids"] == 0
                         and figures["journals_not_empty"] == 0
                         and figures["journal_records_after_stop"] == 0
                         and figures["refused_by_device"] == 0
                         and healthy(figures))
        return figures

    def sessions_lost(self) -> int:
        """Broker sessions the collector saw lost (recorded in ingest_sessions, if it keeps
        that table)."""
        try:
            return query(self.prepared.db, "SELECT coalesce(sum(lost_count), 0) "
                                           "FROM ingest_sessions")[0][0]
        except sqlite3.Error:
            return 0

    def cleanup(self) -> None:
        for fleet in getattr(self, "fleets", []):
            if fleet.process.is_alive():
                fleet.process.kill()
        if hasattr(self, "collector"):
            self.collector.stop()
        if hasattr(self, "broker"):
            self.broker.cleanup()

    def execute(self) -> dict[str, Any]:
        started = time.monotonic()
        try:
            self.setup()
            self.press()
            self.drain()
            figures = self.verify()
        finally:
            self.cleanup()
        figures["wall_s"] = round(time.monotonic() - started, 1)
        figures["plan"] = asdict(self.plan)
        return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true", help="the suite's short version")
    parser.add_argument("--devices", type=int, help="simulated devices (default 80)")
    parser.add_argument("--target", type=int, help="ratings to make at least (default 100000)")
    parser.add_argument("--firmware", metavar="DIR",
                        help="run the devices on another firmware tree (DIR holds kiosk/), "
                             "e.g. `git archive REV firmware/kiosk | tar -x -C /tmp/old` then "
                             "/tmp/old/firmware: firmware that trusts the broker's PUBACK "
                             "loses ratings here")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    plan = Plan.short() if args.short else Plan()
    if args.devices:
        plan.devices = args.devices
    if args.target:
        plan.target = args.target
    if args.firmware:
        plan.firmware = str(Path(args.firmware).resolve())
    workdir = Path(tempfile.mkdtemp(prefix="hailong-faults-"))
    figures = Run(plan, workdir).execute()
    text = json.dumps(figures, indent=2, ensure_ascii=False)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    if not args.keep:
        import shutil
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if figures["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
