"""Benchmark: a backlog storm — DEVICES counters reconnect at once, each flushing its journal.

After a site-wide outage (the network, the broker, the collector) every counter comes back
at the same moment with the ratings it kept: 3,000 devices x 200 queued ratings by default.
What runs, every part a real process on 127.0.0.1, as bench/ingest_ceiling.py sets them up
(its `prepare`, tools/rig.py's broker and `hailong serve`):
- Mosquitto with the configuration `hailong broker-config` writes (production's, only the
  port and paths substituted: tests/mosquitto.py), its password file and ACL: each device
  connects with its own registered id and credentials, the collector with its account;
- `hailong serve` on a fresh SQLite file each round (a copy of one prepared registry: the
  demo organisation, DEVICES devices each at a counter with an officer on duty);
- PROCESSES device processes (bench/_storm_fleet.py). The devices are lightweight
  protocol-level clients, not the firmware's whole loop: paho clients (many per process on
  one epoll loop) carrying the firmware's own journal flush (kiosk/sender.py: at most 20
  unconfirmed, 10 awaiting PUBACK, a rating leaves only on the collector's `ack`, resent
  after 60 s without it) and its encoder's bytes; each connects as docs/protocol.md says
  (will, status, its four topics at QoS 1), sends its PER_DEVICE ratings at QoS 1 and counts
  the confirmations it receives.
All devices are told to connect at the same instant. Timed from the first connect (Linux's
CLOCK_MONOTONIC, one clock for every process) to (a) every rating stored, polling the database
read-only (count(*) of `ratings`), and (b) every device holding a confirmation of each of its
ratings. Measured beside: the collector's and Mosquitto's peak resident memory (VmHWM of
/proc/PID/status, each process fresh per round), the CPU seconds of the collector, Mosquitto
and the device processes over the storm, and what the machine's other jobs took (/proc/stat).

Checked after each round, or the run fails: DEVICES x PER_DEVICE rows, as many distinct ids,
every device's seqs 0 … PER_DEVICE-1 all there, none rejected; every device's queue confirmed
and empty; health 200 `ok`. A redelivery or a device's resend is stored once (a duplicate,
counted) and confirmed again.

Run:  .venv/bin/python bench/backlog_storm.py [--devices N] [--per-device M] [--rounds R]
      [--processes P] [--quick] [--json FILE] [--profile DIR] [--broker-nofile N]
--profile runs `hailong serve` under yappi (its figures are then slower); --broker-nofile
starts Mosquitto with that soft limit of open files (systemd's default for a service is 1024).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _storm_fleet import raise_nofile
from ingest_ceiling import DAY_MS, PRESS_INTERVAL_MS, BenchCollector, cpu_s, prepare

import rig  # noqa: E402 - tools/rig.py, on the path ingest_ceiling set

FLEET = Path(__file__).resolve().with_name("_storm_fleet.py")
POLL_S = 0.25  # the database is counted this often: the time to store is known to 0.25 s
KEEPALIVE_S = 60  # docs/protocol.md: a device's keep-alive
CONFIRM_TIMEOUT_S = 60  # the firmware's default confirm_timeout_s


def proc_kb(pid: int, field: str) -> int:
    """A memory line of /proc/PID/status (VmHWM: the peak resident set; VmRSS: now), kB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise ValueError(f"no {field} for {pid}")


def machine_busy_s() -> float:
    """CPU seconds the whole machine has been busy (every core, every process): /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def copy_db(source: Path, target: Path) -> None:
    """A fresh database for the round: SQLite's backup, consistent whatever the WAL holds."""
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


class Storm:
    def __init__(self, args: argparse.Namespace, workdir: Path):
        self.args = args
        self.workdir = workdir
        self.total = args.devices * args.per_device
        self.span_ms = (args.per_device + 1) * PRESS_INTERVAL_MS
        self.template = prepare(workdir / "template.db", args.devices,
                                2 + self.span_ms // DAY_MS)
        self.devices = [{"device": d.device, "username": d.username, "password": d.password,
                         "officer": f"FK-{i:04d}"}
                        for i, d in enumerate(self.template.devices)]

    def _broker(self, db: Path) -> rig.Broker:
        broker = rig.Broker(db, self.workdir)
        if not self.args.broker_nofile:
            return broker.start()
        # Mosquitto inherits this process's limit of open files, as it inherits systemd's.
        limits = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (self.args.broker_nofile, limits[1]))
        try:
            return broker.start()
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, limits)

    def _fleets(self, port: int, boot: int, ts_base: int) -> list[subprocess.Popen]:
        fleets = []
        count = self.args.processes
        for index in range(count):
            spec = self.workdir / f"fleet-{boot}-{index}.json"
            spec.write_text(json.dumps({
                "port": port, "boot": boot, "ts_base": ts_base,
                "per_device": self.args.per_device, "press_interval_ms": PRESS_INTERVAL_MS,
                "keepalive_s": KEEPALIVE_S, "confirm_timeout_s": CONFIRM_TIMEOUT_S,
                "timeout_s": self.args.timeout, "devices": self.devices[index::count]}))
            fleets.append(subprocess.Popen([sys.executable, str(FLEET), str(spec)],
                                           stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                           text=True, env={**os.environ,
                                                           "PYTHONUNBUFFERED": "1"}))
        return fleets

    def round(self, round_no: int) -> dict:
        args = self.args
        db = self.workdir / f"storm-{round_no}.db"
        copy_db(self.template.db, db)
        prepared = rig.Prepared(db, self.template.devices, self.template.token)
        broker = self._broker(db)
        profile = args.profile and Path(args.profile) / f"serve-{round_no}.pstat"
        collector = BenchCollector(prepared, broker, self.workdir,
                                   f"storm-collector-{round_no}", profile)
        fleets: list[subprocess.Popen] = []
        reader = None
        try:
            collector.start(timeout=120)
            serve_pid, broker_pid = collector.process.pid, broker.mosquitto.process.pid
            # Pressed before now, one every 5 minutes per counter, by the officer on duty.
            ts_base = int(time.time() * 1000) - self.span_ms
            fleets = self._fleets(broker.port, round_no, ts_base)
            for fleet in fleets:
                assert fleet.stdout.readline().strip() == "ready", "a device process failed"
            before = {"serve": cpu_s(serve_pid), "broker": cpu_s(broker_pid),
                      "machine": machine_busy_s(), "self": time.process_time(),
                      "load": os.getloadavg()[0]}
            for fleet in fleets:  # go: every device connects now
                fleet.stdin.write("go\n")
                fleet.stdin.flush()
            reader = rig.read_db(db)
            stored_at, stored = None, 0
            deadline = time.monotonic() + args.timeout
            while time.monotonic() < deadline:
                stored = reader.execute("SELECT count(*) FROM ratings").fetchone()[0]
                if stored >= self.total:
                    stored_at = time.monotonic()
                    break
                if all(fleet.poll() is not None for fleet in fleets):
                    break  # the devices gave up: nothing more will come
                time.sleep(POLL_S)
            outputs = [json.loads(fleet.communicate(timeout=args.timeout)[0])
                       for fleet in fleets]
            after = {"serve": cpu_s(serve_pid), "broker": cpu_s(broker_pid),
                     "machine": machine_busy_s(), "self": time.process_time(),
                     "load": os.getloadavg()[0]}
            peaks = {"collector_mb": proc_kb(serve_pid, "VmHWM") / 1024,
                     "broker_mb": proc_kb(broker_pid, "VmHWM") / 1024}
            checked = self._check(reader, round_no, outputs, collector)
            dropped = broker.dropped_warnings()
        finally:
            if reader is not None:
                reader.close()
            for fleet in fleets:
                if fleet.poll() is None:
                    fleet.kill()
                    fleet.wait()
            collector.stop()
            broker.cleanup()
        first = min(out["first_connect"] for out in outputs)
        confirmed = [out["all_confirmed"] for out in outputs]
        connected = [out["all_connected"] for out in outputs]
        problems = checked.pop("problems")
        if stored_at is None:
            problems.append(f"stored {stored} of {self.total} in {args.timeout} s")
        if None in confirmed:
            problems.append("not every device was confirmed")
        if dropped:
            problems.append(f"Mosquitto dropped messages for the collector {dropped} time(s)")
        if problems:
            raise SystemExit(f"round {round_no} failed: " + "; ".join(problems)
                             + f" (log: {collector.log_path})")
        used = {"collector": after["serve"] - before["serve"],
                "broker": after["broker"] - before["broker"],
                "devices": sum(out["cpu"] for out in outputs),
                "orchestrator": after["self"] - before["self"]}
        machine = after["machine"] - before["machine"]
        return {
            "seconds_to_stored": stored_at - first,
            "seconds_to_confirmed": max(confirmed) - first,
            "seconds_to_connected": max(connected) - first if None not in connected else None,
            "stored_per_s": self.total / (stored_at - first),
            "peak_mb": {k: round(v, 1) for k, v in peaks.items()},
            "cpu_s": {k: round(v, 1) for k, v in used.items()},
            "machine": {"busy_cpu_s": round(machine, 1),
                        "others_cpu_s": round(max(0.0, machine - sum(used.values())), 1),
                        "load_before": before["load"], "load_after": after["load"]},
            "checked": checked,
        }

    def _check(self, reader: sqlite3.Connection, boot: int, outputs: list[dict],
               collector: BenchCollector) -> dict:
        rows, distinct = reader.execute("SELECT count(*), count(DISTINCT id) FROM ratings "
                                        "WHERE boot = ?", [boot]).fetchone()
        complete = reader.execute(
            "SELECT count(*) FROM (SELECT device_id FROM ratings WHERE boot = ? "
            "GROUP BY device_id HAVING count(DISTINCT seq) = ? AND min(seq) = 0 "
            "AND max(seq) = ?)", [boot, self.args.per_device, self.args.per_device - 1]
        ).fetchone()[0]
        totals = dict(reader.execute("SELECT name, value FROM ingest_totals").fetchall())
        reports = [device for out in outputs for device in out["devices"]]
        confirmed = sum(1 for d in reports if d["confirmed"] == self.args.per_device
                        and d["queued"] == 0)
        health = collector.health()
        sums = {key: sum(d[key] for d in reports)
                for key in ("ratings_sent", "resent", "acks_received", "stale_confirmations",
                            "connects", "lost", "refused", "puback_timeouts")}
        problems = []
        if (rows, distinct) != (self.total, self.total):
            problems.append(f"{rows} rows, {distinct} distinct ids, of {self.total}")
        if complete != self.args.devices:
            problems.append(f"{self.args.devices - complete} device(s) miss ratings")
        if totals.get("rejected", 0):
            problems.append(f"{totals['rejected']} rejected")
        if confirmed != self.args.devices:
            problems.append(f"{self.args.devices - confirmed} device(s) not fully confirmed")
        if not health or health[0] != 200 or health[1].get("status") != "ok":
            problems.append(f"health {health}")
        return {"rows": rows, "distinct_ids": distinct, "devices_complete": complete,
                "devices_confirmed": confirmed,
                "totals": {k: totals.get(k, 0) for k in ("stored", "duplicate", "rejected")},
                "health": [health[0], health[1].get("status")] if health else None,
                "devices": sums, "problems": problems}


def spread(values: list[float], unit: str = "") -> str:
    return (f"{statistics.median(values):,.1f}{unit} (min {min(values):,.1f}, "
            f"max {max(values):,.1f})")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=3000)
    parser.add_argument("--per-device", type=int, default=200,
                        help="queued ratings each device flushes (default 200)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--processes", type=int, default=4,
                        help="device processes, each one epoll loop (default 4)")
    parser.add_argument("--timeout", type=float, default=900.0, help="per round, seconds")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke test: 50 devices x 20 ratings, 2 processes, 1 round")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--profile", help="run `hailong serve` under yappi; pstat files here")
    parser.add_argument("--broker-nofile", type=int,
                        help="Mosquitto's soft limit of open files (default: this process's)")
    args = parser.parse_args(argv)
    if args.quick:
        args.devices, args.per_device, args.rounds, args.processes = 50, 20, 1, 2
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
    nofile = raise_nofile()  # Mosquitto inherits it: a socket per device
    if nofile < args.devices + 100 and not args.broker_nofile:
        parser.error(f"{args.devices} devices need more open files than the hard limit {nofile}")
    workdir = Path(tempfile.mkdtemp(prefix="hailong-storm-"))
    rounds = []
    passed = False
    try:
        started = time.monotonic()
        storm = Storm(args, workdir)
        print(f"{args.devices:,} devices x {args.per_device:,} queued ratings = "
              f"{storm.total:,} (registry prepared in {time.monotonic() - started:.0f} s), "
              f"{args.processes} device processes, {args.rounds} round(s)", flush=True)
        for round_no in range(1, args.rounds + 1):
            result = storm.round(round_no)
            rounds.append(result)
            print(f"round {round_no}: stored in {result['seconds_to_stored']:.1f} s "
                  f"({result['stored_per_s']:,.0f}/s), every device confirmed in "
                  f"{result['seconds_to_confirmed']:.1f} s; peak memory collector "
                  f"{result['peak_mb']['collector_mb']:.0f} MB, Mosquitto "
                  f"{result['peak_mb']['broker_mb']:.0f} MB; CPU s {result['cpu_s']}; "
                  f"machine {result['machine']}; devices {result['checked']['devices']}; "
                  f"duplicates {result['checked']['totals']['duplicate']}", flush=True)
        passed = True
    finally:
        if passed:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"kept for a look: {workdir}", file=sys.stderr)
    figures = {"devices": args.devices, "per_device": args.per_device, "ratings": storm.total,
               "processes": args.processes, "rounds": rounds,
               "stored_s_median": statistics.median(r["seconds_to_stored"] for r in rounds),
               "confirmed_s_median": statistics.median(r["seconds_to_confirmed"]
                                                       for r in rounds)}
    print(f"time to store all:   {spread([r['seconds_to_stored'] for r in rounds], ' s')}")
    print(f"time to confirm all: {spread([r['seconds_to_confirmed'] for r in rounds], ' s')}")
    print(f"collector peak:      "
          f"{spread([r['peak_mb']['collector_mb'] for r in rounds], ' MB')}")
    print(f"Mosquitto peak:      {spread([r['peak_mb']['broker_mb'] for r in rounds], ' MB')}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return figures


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    main()
