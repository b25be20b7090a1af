"""Benchmark: a fleet of devices connecting at once, on Mosquitto and on a NATS cluster.

    .venv/bin/python bench/broker_connections.py [DEVICES] [ROUNDS]     # default 1000, 3

Registers DEVICES devices (credentials as `hailong devices add` issues them), then, in the
same run and in turn, starts each broker on the files `hailong broker-config` writes —
Mosquitto (one process) and a three-node NATS Server cluster with JetStream (replicas 3) —
and opens every device's connection at once as the firmware does on every connect: CONNECT
with its user name and password (clean session, a last will), then one SUBSCRIBE of its four
topics at QoS 1. A device counts when its SUBACK has granted all four. The devices spread
over the cluster's three nodes (a DNS name or a load balancer does that in production).

The devices here are lightweight protocol-level clients (one asyncio connection each, in
this process), not the firmware core: the broker's side is what is measured. Reported per
broker: the median over ROUNDS of the seconds until every device is subscribed (each round
on a fresh broker), the connections per second, and the brokers' resident memory with every
device connected (summed over the nodes for NATS), and the attempts the broker refused or
closed (the device then retries after the firmware's backoff: 1 s, doubling). NATS turns each QoS 1 subscription into a
JetStream consumer (replicated on three nodes): four per device.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from mosquitto import Mosquitto  # noqa: E402
from nats_cluster import NatsCluster, nats_version  # noqa: E402

from collector.db.store import Store  # noqa: E402
from collector.demo.seed import seed_demo  # noqa: E402
from collector.org.brokerconf import ACL_NAME, PASSWD_NAME, generate  # noqa: E402
from collector.org.registry import Registry  # noqa: E402
from collector.protocol.messages import OUTBOUND_KINDS, device_topic  # noqa: E402

COLLECTOR, COLLECTOR_PASSWORD = "hailong-collector", "bench-collector-0123456789"


def _string(text: str) -> bytes:
    data = text.encode()
    return struct.pack("!H", len(data)) + data


def _packet(kind: int, body: bytes) -> bytes:
    length, encoded = len(body), bytearray()
    while True:
        byte, length = length % 128, length // 128
        encoded.append(byte | (0x80 if length else 0))
        if not length:
            return bytes([kind]) + bytes(encoded) + body


def connect_packet(device: str, password: str) -> bytes:
    will_topic = device_topic(device, "status")
    will = b'{"v":1,"device":"%s","state":"offline"}' % device.encode()
    # MQTT 3.1.1, flags: user name, password, will retain, will QoS 1, will, clean session.
    flags = 0x80 | 0x40 | 0x20 | 0x08 | 0x04 | 0x02
    body = (_string("MQTT") + bytes([4, flags]) + struct.pack("!H", 60) + _string(device)
            + _string(will_topic) + struct.pack("!H", len(will)) + will + _string(device)
            + _string(password))
    return _packet(0x10, body)


def subscribe_packet(device: str) -> bytes:
    body = struct.pack("!H", 1) + b"".join(_string(device_topic(device, kind)) + b"\x01"
                                           for kind in OUTBOUND_KINDS)
    return _packet(0x82, body)


async def _read_packet(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    first = (await reader.readexactly(1))[0]
    length, shift = 0, 0
    while True:
        byte = (await reader.readexactly(1))[0]
        length += (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    return first, await reader.readexactly(length)


async def attempt(port: int, device: str, password: str, limit: asyncio.Semaphore):
    """One connect and subscribe; the open connection, or an exception."""
    async with limit:  # connections being opened at once (a TCP backlog, not a pacing)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(connect_packet(device, password))
            kind, body = await _read_packet(reader)
            if kind != 0x20 or body[1] != 0:
                raise ConnectionError(f"{device}: CONNACK {body!r}")
            writer.write(subscribe_packet(device))
            while True:
                kind, body = await _read_packet(reader)
                if kind == 0x90:
                    break  # a retained assignment may come first: skipped
            if list(body[2:]) != [1, 1, 1, 1]:
                raise ConnectionError(f"{device}: SUBACK {list(body[2:])}")
        except BaseException:
            writer.close()
            raise
    return writer


async def one_device(port: int, device: str, password: str, done: list, failures: list,
                     hold: asyncio.Event, limit: asyncio.Semaphore):
    """Connect and subscribe as the firmware does: on a refusal or a closed connection, try
    again after its backoff (1 s, doubling up to 60 s)."""
    backoff = 1.0
    while True:
        try:
            writer = await attempt(port, device, password, limit)
            break
        except (OSError, asyncio.IncompleteReadError) as error:
            failures.append(type(error).__name__)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 60.0)
    done.append(time.monotonic())
    await hold.wait()  # keep the connection while the brokers' memory is read
    writer.close()


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def storm(ports: list[int], devices: dict[str, str], pids: list[int]) -> dict:
    hold, done, failures = asyncio.Event(), [], []
    limit = asyncio.Semaphore(256)
    start = time.monotonic()
    tasks = [asyncio.create_task(one_device(ports[i % len(ports)], device, password, done,
                                            failures, hold, limit))
             for i, (device, password) in enumerate(devices.items())]
    while len(done) < len(tasks):
        failed = [t for t in tasks if t.done() and t.exception()]
        if failed:
            hold.set()
            raise failed[0].exception()
        await asyncio.sleep(0.05)
    seconds = max(done) - start
    memory = sum(rss_kb(pid) for pid in pids)
    hold.set()
    await asyncio.gather(*tasks)
    return {"seconds": seconds, "rss_mb": round(memory / 1024, 1),
            "failed_attempts": len(failures)}


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    work = Path(tempfile.mkdtemp(prefix="hailong-bench-conn-"))
    os.chmod(work, 0o755)
    store = Store(work / "hailong.db")
    seed_demo(store, 1)
    registry = Registry(store)
    devices = {f"kb-{i:05d}": registry.add(f"kb-{i:05d}", "hk-q1").password
               for i in range(count)}
    generate(store.db, work, collector_user=COLLECTOR, collector_password=COLLECTOR_PASSWORD)
    results: dict[str, list[dict]] = {"mosquitto": [], "nats": []}
    try:
        for _ in range(rounds):
            broker = Mosquitto(password_file=work / PASSWD_NAME,
                               acl_file=work / ACL_NAME).start()
            try:
                results["mosquitto"].append(asyncio.run(
                    storm([broker.port], devices, [broker.process.pid])))
            finally:
                broker.cleanup()
            cluster = NatsCluster(store.db, collector_user=COLLECTOR,
                                  collector_password=COLLECTOR_PASSWORD).start()
            try:
                results["nats"].append(asyncio.run(storm(
                    [cluster.mqtt_port(i) for i in range(3)], devices,
                    [p.pid for p in cluster.processes if p is not None])))
            finally:
                cluster.cleanup()
    finally:
        store.close()
        shutil.rmtree(work, ignore_errors=True)
    summary = {"devices": count, "rounds": rounds, "nats_server": nats_version(),
               "cpus": os.cpu_count()}
    for name, runs in results.items():
        seconds = [r["seconds"] for r in runs]
        summary[name] = {
            "seconds_median": round(statistics.median(seconds), 2),
            "seconds_range": [round(min(seconds), 2), round(max(seconds), 2)],
            "connections_per_s": round(count / statistics.median(seconds)),
            "rss_mb_median": statistics.median(r["rss_mb"] for r in runs),
            "failed_attempts": [r["failed_attempts"] for r in runs]}
    summary["ratio_mosquitto_over_nats"] = round(
        summary["nats"]["seconds_median"] / summary["mosquitto"]["seconds_median"], 1)
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
