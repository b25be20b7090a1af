"""Past one machine: hailong on a three-node NATS Server cluster while nodes are SIGKILLed.

    .venv/bin/python tools/nats_failover.py [--devices 60] [--target 30000] [--json FILE]
    .venv/bin/python -m pytest -q tests/test_nats_cluster.py -k failover   # the short one

What runs, all real processes on 127.0.0.1:
- a NATS Server 2.9 cluster of three nodes (tests/nats_cluster.py) on the files
  `hailong broker-config --target nats` writes from the registry: JetStream with three
  replicas of every MQTT stream and consumer, the per-device permissions;
- `hailong serve` as its own process, given all three nodes
  (`--broker mqtt://hailong-collector@NODE3,NODE2,NODE1`; the short run NODE2 first): it
  connects to the first that answers and moves to the next whenever its connection is lost,
  with its session, which NATS keeps in JetStream, replicated (collector/ingest/failover.py);
- simulated counter devices (tools/fleet.py: the firmware core, its journal on a flash
  folder, each behind its own cuttable link) in worker processes, connected through one
  address that stands for the cluster (tests/nats_cluster.FailoverProxy: node 1 while it is
  up, else the next), as a load balancer or a DNS name does in production;
- the long run SIGKILLs the collector's node (whichever it is then, found in the nodes'
  /connz by its client id) mid-stream and restarts it, then node 1 — the devices' node, from
  which they reconnect to node 2 and resend what was never confirmed —, then the
  collector's node and node 1 again; the short run (the suite's) kills node 3, then node 1,
  the collector staying on node 2;
- the long run also stops the collector for a while so the queue builds up in JetStream,
  and reads the queue's bytes per message from the nodes' monitoring (/jsz).

Checked: every rating a device made (`{device}:{boot}:{seq}` for each press the device
thanked for) is stored exactly once — none lost, none unexpected, no press stored under two
ids —, every journal empty at the end, the redeliveries counted as duplicates, the
collector's health `ok`; for each kill of the collector's node, where it went and how long
until its health said connected again.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fleet import FleetClient, FleetSpec  # noqa: E402
from rig import (  # noqa: E402
    COLLECTOR_USER,
    Collector,
    ingest_totals,
    prepare_db,
    query,
    wait_until,
)
from nats_cluster import FailoverProxy, NatsCluster, nats_version  # noqa: E402

import httpx  # noqa: E402

from collector.db.store import Store  # noqa: E402
from collector.org.credentials import generate_password  # noqa: E402


COLLECTORS_NODE = "collector"  # a kill's target: the node the collector is connected to


@dataclass
class Plan:
    devices: int = 60
    workers: int = 2
    rate: float = 2.0  # presses per second per device
    target: int = 30_000  # keep pressing after the schedule until this many ratings
    # (seconds after pressing starts, node 0-based or COLLECTORS_NODE, seconds down)
    kills: list[tuple[float, int | str, float]] = field(default_factory=lambda: [
        (30.0, COLLECTORS_NODE, 10.0), (80.0, 0, 10.0), (130.0, COLLECTORS_NODE, 5.0),
        (170.0, 0, 5.0)])
    # The node (0-based) first in the collector's --broker list: node 3, away from the
    # devices' node 1; the others follow from the last (node 2, then node 1).
    collector_first: int = 2
    # The collector stopped (SIGTERM) at this time for this long: the queue builds in
    # JetStream; negative: no outage.
    outage_at_s: float = 200.0
    outage_s: float = 30.0
    press_s: float = 240.0
    device_config: dict[str, Any] = field(default_factory=lambda: {"backoff_max_s": 4})
    drain_s: float = 300.0
    seed: int = 13

    @classmethod
    def short(cls) -> "Plan":
        """The suite's version: the collector given all three nodes and on node 2; node 3,
        then node 1 (the devices') killed; a thousand ratings. Killing the collector's node
        is tests/test_broker_failover.py's in the suite: here, with the devices moving at
        the same time, a device now and then reconnects to a node just restarted, which
        grants its subscriptions and delivers it no confirmation, and the run fails on its
        journal (docs/scaling.md) — a firmware matter, not the collector's."""
        return cls(devices=8, workers=1, rate=6.0, target=1000,
                   kills=[(5.0, 2, 2.0), (14.0, 0, 2.0)], outage_at_s=-1, press_s=22.0,
                   device_config={"confirm_timeout_s": 5, "backoff_max_s": 2},
                   drain_s=90.0, seed=3, collector_first=1)


class ClusterAddress:
    """What rig.Collector needs of a broker: every node's address, `first` first (node 3:
    not the devices' node 1), and the collector's password."""

    def __init__(self, cluster: NatsCluster, password_file: Path, first: int = 2):
        self.cluster = cluster
        self.collector_password_file = password_file
        self.order = [first] + [i for i in reversed(range(len(cluster.nodes))) if i != first]

    def collector_url(self) -> str:
        nodes = ",".join(f"127.0.0.1:{self.cluster.mqtt_port(i)}" for i in self.order)
        return f"mqtt://{COLLECTOR_USER}@{nodes}"


class Run:
    def __init__(self, plan: Plan, workdir: Path, log=print):
        self.plan = plan
        self.workdir = workdir
        self.log = log
        self.figures: dict[str, Any] = {"node_kills": []}
        self.t0 = time.monotonic()

    def note(self, text: str) -> None:
        self.log(f"[{time.monotonic() - self.t0:7.1f} s] {text}")

    def setup(self) -> None:
        plan = self.plan
        self.prepared = prepare_db(self.workdir / "hailong.db", plan.devices, prefix="nf")
        password = generate_password()
        password_file = self.workdir / "collector.password"
        password_file.write_text(password + "\n")
        store = Store(self.prepared.db)
        try:
            self.cluster = NatsCluster(store.db, collector_user=COLLECTOR_USER,
                                       collector_password=password)
        finally:
            store.close()
        started = time.monotonic()
        self.cluster.start()
        self.note(f"{nats_version()}: 3 nodes ready in {time.monotonic() - started:.1f} s")
        self.proxy = FailoverProxy([self.cluster.mqtt_port(i) for i in range(3)])
        self.collector = Collector(self.prepared,
                                   ClusterAddress(self.cluster, password_file,
                                                  plan.collector_first),
                                   self.workdir).start()
        on = self.collector_node()
        self.figures["collector_started_on_node"] = on + 1 if on is not None else None
        started = time.monotonic()
        groups = [self.prepared.devices[i::plan.workers] for i in range(plan.workers)]
        self.fleets = [FleetClient(FleetSpec(group, "127.0.0.1", self.proxy.port,
                                             str(self.workdir / "flash"), plan.seed + i,
                                             plan.device_config)).start()
                       for i, group in enumerate(groups)]
        wait_until(lambda: all(d["connected"] for n, d in self.snapshot().items()
                               if not n.startswith("_")), 120, "every device to connect", 0.2)
        seconds = time.monotonic() - started
        self.figures["devices_connected_s"] = round(seconds, 1)
        self.note(f"{plan.devices} devices connected through node 1 in {seconds:.1f} s "
                  f"(each: 4 QoS 1 subscriptions, each a replicated JetStream consumer)")

    def snapshot(self) -> dict[str, dict[str, Any]]:
        merged: dict[str, dict[str, Any]] = {}
        for fleet in self.fleets:
            merged.update(fleet.call("snapshot"))
        return merged

    @staticmethod
    def made(snapshot: dict[str, dict[str, Any]]) -> int:
        return sum(sum(d["boots"].values()) for n, d in snapshot.items()
                   if not n.startswith("_"))

    def stored(self) -> int:
        return query(self.prepared.db, "SELECT count(*) FROM ratings")[0][0]

    # --- faults ----------------------------------------------------------------------------

    def collector_node(self) -> int | None:
        """The node (0-based) holding the collector's connection, as NATS reports it."""
        return self.cluster.node_of(COLLECTOR_USER)

    def kill_node(self, node: int | str, down_s: float) -> None:
        made, stored = self.made(self.snapshot()), self.stored()
        on = self.collector_node()
        if node == COLLECTORS_NODE:
            if on is None:
                raise RuntimeError("the collector is on no node: nothing to kill")
            node = on
        assert isinstance(node, int)
        killed_at = time.monotonic()
        self.cluster.kill(node)
        self.note(f"node {node + 1} SIGKILL ({made} ratings made, {stored} stored"
                  f"{'; the collector was on it' if on == node else ''})")
        kill: dict[str, Any] = {"node": node + 1, "down_s": down_s,
                                "collector_was_on_it": on == node}
        if on == node:
            def elsewhere() -> int | None:  # 1-based: wait_until wants a true value
                other = self.collector_node()
                return other + 1 if other not in (None, node) and self.collector.connected() \
                    else None
            kill["collector_moved_to"] = wait_until(elsewhere, 120,
                                                    "the collector on another node", 0.1)
            kill["collector_connected_after_s"] = round(time.monotonic() - killed_at, 1)
            self.note(f"the collector is on node {kill['collector_moved_to']} after "
                      f"{kill['collector_connected_after_s']} s")
        time.sleep(max(0.0, killed_at + down_s - time.monotonic()))
        started = time.monotonic()
        try:
            self.cluster.start_node(node, timeout=180)
            kill["ready_after_restart_s"] = round(time.monotonic() - started, 1)
        except RuntimeError as error:
            if not self.cluster.running(node):
                raise
            # Running, but /healthz still failing (NATS 2.9.10 has left a replicated
            # consumer without quorum, "stalled"): a broker fault the rest must survive.
            # Go on, and say so.
            kill["ready_after_restart_s"] = None
            kill["not_healthy"] = str(error).splitlines()[-1][-200:]
            self.note(f"node {node + 1} running but not healthy after 180 s; going on")
        self.figures["node_kills"].append(kill)
        self.note(f"node {node + 1} restarted after {down_s:g} s")

    def outage(self) -> None:
        """The collector stopped: the devices' messages queue in JetStream for its session."""
        self.collector.stop()
        time.sleep(self.plan.outage_s)
        queued = self.queue_figures()
        self.collector.start(wait=False)
        self.figures["outage"] = {"seconds": self.plan.outage_s, **queued}
        self.note(f"collector back after {self.plan.outage_s:g} s: queue {queued}")

    def queue_figures(self) -> dict[str, Any]:
        """Messages and bytes in the stream of MQTT messages, as node 2 reports them."""
        monitor = self.cluster.nodes[1].monitor_port
        answer = httpx.get(f"http://127.0.0.1:{monitor}/jsz?accounts=true&streams=true",
                           timeout=10).json()
        for account in answer.get("account_details", []):
            for stream in account.get("stream_detail", []):
                if stream["name"] == "$MQTT_msgs":
                    state = stream["state"]
                    per = state["bytes"] / state["messages"] if state["messages"] else None
                    return {"messages": state["messages"], "bytes": state["bytes"],
                            "bytes_per_message": round(per) if per else None}
        return {}

    # --- the run -------------------------------------------------------------------------

    def press(self) -> None:
        plan = self.plan
        for fleet in self.fleets:
            fleet.call("rate", plan.rate)
        start = time.monotonic()
        events = [(at, self.kill_node, (node, down)) for at, node, down in plan.kills]
        if plan.outage_at_s >= 0:
            events.append((plan.outage_at_s, self.outage, ()))
        for at, action, args in sorted(events, key=lambda e: e[0]):
            delay = start + at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            action(*args)
        while time.monotonic() - start < plan.press_s or self.made(self.snapshot()) < plan.target:
            time.sleep(0.5)
        for fleet in self.fleets:
            fleet.call("rate", 0)
        self.figures["press_s"] = round(time.monotonic() - start, 1)
        self.note(f"pressing stopped: {self.made(self.snapshot())} ratings made")

    def drain(self) -> None:
        start = time.monotonic()

        def drained() -> bool:
            return all(d["queue"] == 0 for n, d in self.snapshot().items()
                       if not n.startswith("_"))
        try:
            wait_until(drained, self.plan.drain_s, "every device journal to empty", 0.5)
        except TimeoutError as error:
            self.note(str(error))
            self.figures["not_drained"] = {
                name: {key: d[key] for key in ("queue", "connected", "errors")}
                for name, d in self.snapshot().items()
                if not name.startswith("_") and d["queue"]}
        self.figures["drain_s"] = round(time.monotonic() - start, 1)

    def verify(self) -> dict[str, Any]:
        finals: dict[str, dict[str, Any]] = {}
        for fleet in self.fleets:
            final = fleet.stop()
            final.pop("_fleet")
            finals.update(final)
        expected = {f"{device}:{boot}:{seq}" for device, d in finals.items()
                    for boot, made in d["boots"].items() for seq in range(made)}
        rows = query(self.prepared.db, "SELECT id, device_id, device_ts, uptime_ms FROM ratings")
        stored = [row[0] for row in rows]
        presses: dict[tuple, int] = {}
        for _, device, ts, uptime in rows:
            presses[(device, ts, uptime)] = presses.get((device, ts, uptime), 0) + 1
        health = self.collector.health()
        totals = ingest_totals(self.prepared.db)
        figures = {
            "nats_server": nats_version(),
            "devices": self.plan.devices,
            "ratings_made_by_devices": len(expected),
            "ratings_stored": len(stored),
            "distinct_ids_stored": len(set(stored)),
            "lost": len(expected - set(stored)),
            "unexpected": len(set(stored) - expected),
            "stored_under_two_ids": sum(1 for n in presses.values() if n > 1),
            "duplicates_recognised": totals.get("duplicate", 0),
            "rejected": totals.get("rejected", 0),
            "journals_not_empty": sum(1 for d in finals.values() if d["queue"]),
            "journal_records_after_stop": sum(d["journal_after_stop"] for d in finals.values()),
            "refused_by_device": sum(d["dropped"] + d["press_overflow"]
                                     for d in finals.values()),
            "device_connections_per_node": {
                f"node {i + 1}": self.proxy.connections[self.cluster.mqtt_port(i)]
                for i in range(3)},
            "collector_node_kills": sum(1 for kill in self.figures["node_kills"]
                                        if kill["collector_was_on_it"]),
            "health": health[1].get("status") if health else None,
            "health_reasons": health[1].get("reasons") if health else None,
            **self.figures,
            "lost_sample": sorted(expected - set(stored))[:10],
            "device_errors_sample": [e for d in finals.values() for e in d["errors"]][:5],
        }
        figures["ok"] = (figures["lost"] == figures["unexpected"] == 0
                         and figures["ratings_stored"] == figures["distinct_ids_stored"]
                         == figures["ratings_made_by_devices"]
                         and figures["stored_under_two_ids"] == 0
                         and figures["journals_not_empty"] == 0
                         and figures["journal_records_after_stop"] == 0
                         and figures["refused_by_device"] == 0
                         and figures["collector_node_kills"]
                         >= sum(1 for kill in self.plan.kills if kill[1] == COLLECTORS_NODE)
                         and figures["health"] == "ok")
        return figures

    def cleanup(self) -> None:
        for fleet in getattr(self, "fleets", []):
            if fleet.process.is_alive():
                fleet.process.kill()
        if hasattr(self, "collector"):
            self.collector.stop()
        if hasattr(self, "proxy"):
            self.proxy.close()
        if hasattr(self, "cluster"):
            for index in range(len(self.cluster.nodes)):  # beside collector.log (--keep)
                if self.cluster.log(index).exists():
                    shutil.copy(self.cluster.log(index), self.workdir / f"nats-{index + 1}.log")
            self.cluster.cleanup()

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
    parser.add_argument("--devices", type=int, help="simulated devices (default 60)")
    parser.add_argument("--target", type=int, help="ratings to make at least (default 30000)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    plan = Plan.short() if args.short else Plan()
    if args.devices:
        plan.devices = args.devices
    if args.target:
        plan.target = args.target
    workdir = Path(tempfile.mkdtemp(prefix="hailong-nats-failover-"))
    figures = Run(plan, workdir).execute()
    text = json.dumps(figures, indent=2, ensure_ascii=False)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    if args.keep:
        print(f"kept: {workdir} (collector.log, nats-N.log)", file=sys.stderr)
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if figures["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
