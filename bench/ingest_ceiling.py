"""Benchmark: the collector's ingest against the broker's raw ceiling, side by side in one run.

What runs, every part a real process on 127.0.0.1:
- Mosquitto with the configuration `hailong broker-config` writes, and the password file and
  ACL it generates from a prepared database (tools/rig.py, tests/mosquitto.py): every device
  and the collector connect with their own accounts, as in production;
- ONE publisher process: PUBLISHERS paho clients, each a registered device with its broker
  credentials, which connects as docs/protocol.md says a device does (its last will, its online
  status, its `ack` subscription) and then publishes its share of RATINGS valid ratings, QoS 1,
  the bytes made by the firmware's own encoder (firmware/kiosk/codec.py);
- in turn, for the same ratings (byte for byte):
  (a) ceiling: a plain paho subscriber process on the collector's account, with the collector's
      subscription (QoS 1 on +/rating and +/status, a persistent session), that only counts;
  (b) collector: `hailong serve`, the production command, which validates, deduplicates,
      commits, acknowledges after the commit and confirms every rating to its device (`ack`).
Timed from the first publish to the last rating counted (a) or committed (b; the collector's own
`ingest_totals.stored`, read-only from this process), and for (b) also to the last confirmation
the devices received. Linux's CLOCK_MONOTONIC is one clock for every process. Beside the rates,
each leg reports the CPU time per rating of the publisher, the broker and the receiver (/proc),
which says where the two cores went on a machine other jobs share.

The ceiling is stock paho; the collector reads and acknowledges through its own paho subclass
(collector/ingest/mqttclient.py), which spends less per message than stock paho does, so the
ratio is bounded by the machine, not by 1. This replaces bench/ingest_throughput.py, which ran
the publishers inside the collector's process (one interpreter lock for both) and so measured
neither the collector nor the broker.

The publishers are protocol-level clients, not the firmware's send loop: the firmware keeps at
most 20 ratings unconfirmed, which would stall (a), which confirms nothing; here paho's QoS 1
window (INFLIGHT) paces each client instead, the same in (a) and (b).

Each round uses its own boot number, so (b) stores new ratings every round; (a) and (b) swap
order from one round to the next. After each collector the run checks: every rating stored
once, none rejected or duplicate, every one confirmed to its device, health 200 `ok`.

Run:  .venv/bin/python bench/ingest_ceiling.py [--ratings N] [--publishers P] [--rounds R]
      [--quick] [--json FILE] [--profile DIR]
--profile runs `hailong serve` under yappi (all threads, CPU clock) and writes one pstat file
per round into DIR (read with `python -m pstats`); its figures are then slower than without.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import paho.mqtt.client as mqtt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import rig  # noqa: E402 - the proof runs' real processes: database, broker files, `hailong serve`

SUBSCRIPTIONS = [("hailong/v1/devices/+/rating", 1), ("hailong/v1/devices/+/status", 1)]
COUNTER_CLIENT_ID = "bench-ceiling-counter"
TIMEOUT_S = 600.0
# A busy counter's pace: a citizen's press every five minutes. The ratings of a run are the
# backlog of days such counters send when they reconnect (a province's live traffic is a few
# ratings a second: a rate in the thousands is always a backlog). Each round's presses take
# a stretch of time of their own, before the later rounds', so that every round meets a
# counter's history at that pace (alert windows, attribution) and nothing denser.
PRESS_INTERVAL_MS = 300_000


def _client(client_id: str, username: str, password: str, *, clean: bool) -> mqtt.Client:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                         clean_session=clean, protocol=mqtt.MQTTv311)
    client.username_pw_set(username, password)
    return client


def _connected(client: mqtt.Client, port: int) -> threading.Event:
    ready = threading.Event()
    client.on_connect = lambda c, u, flags, rc, props: ready.set() if not rc.is_failure else None
    client.connect("127.0.0.1", port, keepalive=60)
    client.loop_start()
    if not ready.wait(30):
        raise RuntimeError("the broker did not accept the connection")
    return ready


def drop_session(port: int, client_id: str, username: str, password: str) -> None:
    """Connect with a clean session and leave: the broker forgets `client_id`'s session, so
    it queues nothing for a subscriber that has finished (MQTT 3.1.1, 3.1.2.4)."""
    client = _client(client_id, username, password, clean=True)
    _connected(client, port)
    client.disconnect()
    client.loop_stop()


# --- (a) the ceiling: a plain subscriber that only counts --------------------------------------

def run_counter(port: int, username: str, password_file: str, expected: int) -> None:
    """Child process: count the ratings delivered; print `ready`, then one JSON line."""
    password = Path(password_file).read_text().strip()
    done = threading.Event()
    state = {"count": 0, "last": None}

    def on_message(client, userdata, message) -> None:
        if message.topic.endswith("/rating"):
            state["count"] += 1
            if state["count"] == expected:
                state["last"] = time.monotonic()
                done.set()

    subscribed = threading.Event()
    client = _client(COUNTER_CLIENT_ID, username, password, clean=False)
    client.on_message = on_message
    client.on_subscribe = lambda *args: subscribed.set()
    _connected(client, port)
    client.subscribe(SUBSCRIPTIONS)
    subscribed.wait(30)
    print("ready", flush=True)
    cpu = time.process_time()
    done.wait(TIMEOUT_S)
    cpu = time.process_time() - cpu
    client.disconnect()
    client.loop_stop()
    print(json.dumps({"counted": state["count"], "last": state["last"], "cpu": cpu}),
          flush=True)


# --- the publisher process -----------------------------------------------------------------

def run_publisher(spec_path: str) -> None:
    """Child process: PUBLISHERS devices connect as devices do, then publish their ratings;
    print one JSON line with the time of the first publish and what the devices were told."""
    sys.path.insert(0, str(ROOT / "firmware"))
    from kiosk import codec  # the firmware's own encoder: the bytes a device sends

    spec = json.loads(Path(spec_path).read_text())
    boot, per_device, port = spec["boot"], spec["per_device"], spec["port"]
    lock = threading.Lock()
    confirmed: dict[str, set[int]] = {}
    state = {"confirmed_at": None, "complete": 0}
    all_confirmed = threading.Event()

    def on_ack(client, userdata, message) -> None:
        device = message.topic.split("/")[3]
        ack = codec.decode_ack(message.payload)
        if ack["boot"] != boot:
            return
        with lock:
            seqs = confirmed.setdefault(device, set())
            before = len(seqs)
            seqs.update(ack["seq"])
            if before < per_device <= len(seqs):
                state["complete"] += 1
                if state["complete"] == len(spec["devices"]):
                    state["confirmed_at"] = time.monotonic()
                    all_confirmed.set()

    clients, payloads = [], []
    for device in spec["devices"]:
        name = device["device"]
        client = _client(name, device["username"], device["password"], clean=True)
        client.will_set(codec.topic(name, "status"), codec.offline_will(name), qos=1,
                        retain=True)
        client.max_inflight_messages_set(spec["inflight"])
        client.max_queued_messages_set(0)
        client.on_message = on_ack
        subscribed = threading.Event()
        client.on_subscribe = lambda *args, ev=subscribed: ev.set()
        _connected(client, port)
        # As the firmware connects: its status first, then its own topics (the ack among them).
        uptime = 60_000 + per_device * PRESS_INTERVAL_MS
        client.publish(codec.topic(name, "status"),
                       codec.encode_status(name, boot, uptime, 90_000, -60, per_device, 0, 0),
                       qos=1, retain=True).wait_for_publish(30)
        client.subscribe(codec.topic(name, "ack"), qos=1)
        if not subscribed.wait(30):
            raise RuntimeError(f"{name} could not subscribe to its ack topic")
        payloads.append([codec.encode_rating(name, boot, seq, 1 + seq % 4, 4,
                                             device["officer"],
                                             60_000 + seq * PRESS_INTERVAL_MS,
                                             spec["ts_base"] + seq * PRESS_INTERVAL_MS,
                                             reason="waiting" if seq % 4 == 0 else None)
                         for seq in range(per_device)])
        clients.append((client, codec.topic(name, "rating")))
    infos = []
    cpu = time.process_time()
    first = time.monotonic()
    for seq in range(per_device):  # the devices' ratings interleaved, as a site sends them
        for (client, topic), device_payloads in zip(clients, payloads):
            infos.append(client.publish(topic, device_payloads[seq], qos=1))
    for info in infos:
        info.wait_for_publish(TIMEOUT_S)
    published = time.monotonic()
    if spec["confirmations"]:
        all_confirmed.wait(TIMEOUT_S)
    cpu = time.process_time() - cpu
    for client, _ in clients:
        client.disconnect()
        client.loop_stop()
    with lock:
        told = sum(len(seqs) for seqs in confirmed.values())
    print(json.dumps({"first": first, "published": published, "confirmed": told,
                      "confirmed_at": state["confirmed_at"], "cpu": cpu}), flush=True)


# --- the orchestrator ------------------------------------------------------------------------

@dataclass
class Leg:
    rate: float            # ratings per second, first publish → last counted or committed
    seconds: float
    # CPU time per rating, µs, of the publisher, the broker and the receiver (the counter or
    # `hailong serve`), each over the leg: where the two cores went.
    cpu_us: dict[str, float]
    confirmed_rate: float | None = None  # (b): first publish → last confirmation received
    # (b): what the run checked — ratings stored, confirmations the devices received, health
    checked: dict | None = None


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a running process (/proc/PID/stat, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


DAY_MS = 86_400_000


def prepare(db: Path, devices: int, days: int) -> rig.Prepared:
    """tools/rig.py's world, `days` old: the demo organisation; DEVICES devices, each at a
    counter of its own since `days` ago, with broker credentials as `hailong devices add`
    issues them and an officer on duty there since then; an administrator's API token."""
    from collector.accounts.users import AccountService
    from collector.core.timeline import local_datetime
    from collector.db.store import Store, now_ms
    from collector.demo.seed import seed_demo
    from collector.org.organisation import upsert_officer
    from collector.org.registry import Registry
    from collector.roster.shifts import assign

    since = local_datetime(now_ms() - days * DAY_MS).date()
    store = Store(db)
    try:
        seed_demo(store, 1)
        registry = Registry(store, actor="bench")
        specs = []
        for i in range(devices):
            unit, device, officer = ("hk-1c", "bd-1c")[i % 2], f"bench-{i:03d}", f"FK-{i:04d}"
            upsert_officer(store.db, officer, f"Cán bộ thử {i}", "Chuyên viên", unit)
            issued = registry.add(device, f"bench-q{i:03d}", counter_label=f"Quầy {i}",
                                  unit_id=unit, placed_from=since.isoformat())
            placed = store.db.execute("SELECT min(starts_at) FROM device_placements "
                                      "WHERE device_id = ?", [device]).fetchone()[0]
            assign(store.db, device, officer, at=placed)
            specs.append(rig.DeviceSpec(device, issued.username, issued.password))
        service = AccountService(store, actor="bench")
        service.add(rig.ADMIN_LOGIN, name="Bench runner", role="administrator",
                    password="bench-password-long-enough")
        token = service.issue_token(rig.ADMIN_LOGIN, "bench")
    finally:
        store.close()
    return rig.Prepared(db, specs, token)


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path):
        self.args = args
        self.workdir = workdir
        self.per_device = args.ratings // args.publishers
        self.total = self.per_device * args.publishers
        days = 2 + args.rounds * self.span_ms() // DAY_MS
        self.prepared = prepare(workdir / "bench.db", args.publishers, days)
        self.broker = rig.Broker(self.prepared.db, workdir).start()
        self.port = self.broker.port
        self.collector_password = self.broker.collector_password_file.read_text().strip()
        self.devices = [{"device": d.device, "username": d.username, "password": d.password,
                         "officer": f"FK-{i:04d}"}
                        for i, d in enumerate(self.prepared.devices)]

    def _spawn(self, *arguments: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, str(Path(__file__).resolve()), *arguments],
                                stdout=subprocess.PIPE, text=True,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def _publish(self, boot: int, ts_base: int, confirmations: bool) -> subprocess.Popen:
        spec = self.workdir / f"publish-{boot}-{int(confirmations)}.json"
        spec.write_text(json.dumps({"port": self.port, "boot": boot, "ts_base": ts_base,
                                    "per_device": self.per_device, "devices": self.devices,
                                    "inflight": self.args.inflight,
                                    "confirmations": confirmations}))
        return self._spawn("publish", str(spec))

    def span_ms(self) -> int:
        """The stretch of time one round's presses take (each device's, side by side)."""
        return (self.per_device + 1) * PRESS_INTERVAL_MS

    def ceiling(self, boot: int, ts_base: int) -> Leg:
        counter = self._spawn("count", str(self.port), rig.COLLECTOR_USER,
                              str(self.broker.collector_password_file), str(self.total))
        publisher = None
        try:
            assert counter.stdout.readline().strip() == "ready", "the counter did not subscribe"
            broker_cpu = cpu_s(self.broker.mosquitto.process.pid)
            publisher = self._publish(boot, ts_base, confirmations=False)
            sent = json.loads(publisher.communicate(timeout=TIMEOUT_S)[0])
            counted = json.loads(counter.communicate(timeout=TIMEOUT_S)[0])
            broker_cpu = cpu_s(self.broker.mosquitto.process.pid) - broker_cpu
        finally:
            for process in (counter, publisher):
                if process is not None and process.poll() is None:
                    process.kill()
                    process.wait()
        drop_session(self.port, COUNTER_CLIENT_ID, rig.COLLECTOR_USER,
                     self.collector_password)
        if counted["counted"] != self.total:
            raise SystemExit(f"the counter saw {counted['counted']} of {self.total} ratings")
        seconds = counted["last"] - sent["first"]
        return Leg(self.total / seconds, seconds,
                   self._per_rating(sent["cpu"], broker_cpu, counted["cpu"]))

    def _per_rating(self, publisher: float, broker: float, receiver: float) -> dict[str, float]:
        return {name: round(seconds / self.total * 1e6, 1) for name, seconds in
                (("publisher", publisher), ("broker", broker), ("receiver", receiver))}

    def collector(self, round_no: int, boot: int, ts_base: int) -> Leg:
        client_id = f"bench-collector-{round_no}"
        profile = self.args.profile and Path(self.args.profile) / f"serve-{round_no}.pstat"
        collector = BenchCollector(self.prepared, self.broker, self.workdir, client_id, profile)
        collector.start(timeout=120)
        db = sqlite3.connect(f"file:{self.prepared.db}?mode=ro", uri=True, timeout=30,
                             isolation_level=None)
        publisher = None
        try:
            before = dict(db.execute("SELECT name, value FROM ingest_totals").fetchall())
            target = before.get("stored", 0) + self.total
            serve_cpu = cpu_s(collector.process.pid)
            broker_cpu = cpu_s(self.broker.mosquitto.process.pid)
            publisher = self._publish(boot, ts_base, confirmations=True)
            committed_at = None
            deadline = time.monotonic() + TIMEOUT_S
            while committed_at is None and time.monotonic() < deadline:
                row = db.execute("SELECT value FROM ingest_totals WHERE name = 'stored'").fetchone()
                if row and row[0] >= target:
                    committed_at = time.monotonic()
                    serve_cpu = cpu_s(collector.process.pid) - serve_cpu
                    broker_cpu = cpu_s(self.broker.mosquitto.process.pid) - broker_cpu
                else:
                    time.sleep(0.005)
            sent = json.loads(publisher.communicate(timeout=TIMEOUT_S)[0])
            after = dict(db.execute("SELECT name, value FROM ingest_totals").fetchall())
            stored = db.execute("SELECT count(*) FROM ratings WHERE boot = ? AND device_id "
                                "LIKE 'bench-%'", [boot]).fetchone()[0]
            health = collector.health()
        finally:
            db.close()
            if publisher is not None and publisher.poll() is None:
                publisher.kill()
                publisher.wait()
            collector.stop()
        drop_session(self.port, client_id, rig.COLLECTOR_USER, self.collector_password)
        added = {k: after.get(k, 0) - before.get(k, 0) for k in ("stored", "duplicate",
                                                                  "rejected")}
        problems = []
        if committed_at is None or stored != self.total or added != {
                "stored": self.total, "duplicate": 0, "rejected": 0}:
            problems.append(f"stored {stored} of {self.total}; ingest_totals added {added}")
        if sent["confirmed"] != self.total:
            problems.append(f"the devices got {sent['confirmed']} of {self.total} confirmations")
        if not health or health[0] != 200 or health[1].get("status") != "ok":
            problems.append(f"health {health}")
        if problems:
            raise SystemExit("collector round failed: " + "; ".join(problems)
                             + f" (log: {collector.log_path})")
        seconds = committed_at - sent["first"]
        return Leg(self.total / seconds, seconds,
                   self._per_rating(sent["cpu"], broker_cpu, serve_cpu),
                   self.total / (sent["confirmed_at"] - sent["first"]),
                   {"stored": stored, "totals_added": added, "confirmed": sent["confirmed"],
                    "health": [health[0], health[1].get("status")]})

    def cleanup(self) -> None:
        self.broker.cleanup()
        shutil.rmtree(self.workdir, ignore_errors=True)


class BenchCollector(rig.Collector):
    """tools/rig.py's `hailong serve` with a client id of this round's own (a fresh broker
    session), optionally under yappi: `python -m yappi` runs the installed `hailong` script,
    the CLI entry point, and writes its profile when serve ends (SIGTERM: uvicorn's stop)."""

    def __init__(self, prepared, broker, workdir: Path, client_id: str,
                 profile: Path | None):
        super().__init__(prepared, broker, workdir)
        self.client_id = client_id
        self.profile = profile

    def command(self) -> list[str]:
        command = super().command()
        command[command.index("--client-id") + 1] = self.client_id
        if self.profile:
            script = str(Path(sys.executable).with_name("hailong"))
            command = [sys.executable, "-m", "yappi", "-c", "cpu", "-f", "pstat",
                       "-o", str(self.profile), script, *command[3:]]
        return command

    def stop(self) -> None:
        # Under yappi: SIGINT, which uvicorn raises again once it has shut down, so that the
        # KeyboardInterrupt reaches yappi, which saves the profile (SIGTERM would end the
        # process without it).
        if self.profile and self.process is not None:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(120)
        super().stop()


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):,.0f} (min {min(values):,.0f}, max {max(values):,.0f})"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ratings", type=int, default=60_000,
                        help="ratings per leg and round (default 60,000)")
    parser.add_argument("--publishers", type=int, default=8,
                        help="paho clients (devices) in the publisher process (default 8)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--inflight", type=int, default=100,
                        help="each publisher's QoS 1 window (default 100)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke test: 400 ratings, 2 publishers, 1 round")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--profile", help="run `hailong serve` under yappi; pstat files here")
    args = parser.parse_args(argv)
    if args.quick:
        args.ratings, args.publishers, args.rounds = 400, 2, 1
    if args.profile:
        if importlib.util.find_spec("yappi") is None:
            parser.error("--profile needs yappi: .venv/bin/pip install yappi (a tool for this "
                         "investigation, not a dependency of hailong)")
        Path(args.profile).mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="hailong-ceiling-"))
    bench = Bench(args, workdir)
    rounds = []
    try:
        print(f"{bench.total:,} ratings per leg from {args.publishers} publishers "
              f"(QoS 1, window {args.inflight}), {args.rounds} round(s)", flush=True)
        for round_no in range(1, args.rounds + 1):
            # The backlog's presses end before now, each device's officer on duty throughout
            # (prepare): placed by the device's clock and attributed by the roster.
            boot = round_no
            ts_base = int(time.time() * 1000) - (args.rounds - round_no + 1) * bench.span_ms()
            legs = {}
            for leg in (("ceiling", "collector") if round_no % 2 else ("collector", "ceiling")):
                legs[leg] = (bench.ceiling(boot, ts_base) if leg == "ceiling"
                             else bench.collector(round_no, boot, ts_base))
            ratio = legs["collector"].rate / legs["ceiling"].rate
            rounds.append({"ceiling": asdict(legs["ceiling"]),
                           "collector": asdict(legs["collector"]), "ratio": ratio})
            print(f"round {round_no}: ceiling {legs['ceiling'].rate:,.0f}/s, collector "
                  f"{legs['collector'].rate:,.0f}/s committed "
                  f"({legs['collector'].confirmed_rate:,.0f}/s confirmed), ratio {ratio:.2f}; "
                  f"CPU µs per rating (publisher/broker/receiver): ceiling "
                  f"{'/'.join(map(str, legs['ceiling'].cpu_us.values()))}, collector "
                  f"{'/'.join(map(str, legs['collector'].cpu_us.values()))}", flush=True)
    finally:
        bench.cleanup()
    figures = {
        "ratings": bench.total, "publishers": args.publishers, "rounds": rounds,
        "ceiling_median": statistics.median(r["ceiling"]["rate"] for r in rounds),
        "collector_median": statistics.median(r["collector"]["rate"] for r in rounds),
        "confirmed_median": statistics.median(r["collector"]["confirmed_rate"] for r in rounds),
        "ratio_median": statistics.median(r["ratio"] for r in rounds),
    }
    print(f"ceiling (plain subscriber): {spread([r['ceiling']['rate'] for r in rounds])} /s")
    print(f"collector, committed:       {spread([r['collector']['rate'] for r in rounds])} /s")
    print(f"collector, confirmed:       "
          f"{spread([r['collector']['confirmed_rate'] for r in rounds])} /s")
    print(f"ratio committed/ceiling:    {figures['ratio_median']:.2f} "
          f"(min {min(r['ratio'] for r in rounds):.2f}, max {max(r['ratio'] for r in rounds):.2f})")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return figures


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    if len(sys.argv) > 1 and sys.argv[1] == "count":
        run_counter(int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5]))
    elif len(sys.argv) > 1 and sys.argv[1] == "publish":
        run_publisher(sys.argv[2])
    else:
        main()
