"""Live ingest fuzzing: generated messages through a real Mosquitto into the real collector.

The collector is the application `hailong serve` runs (collector.app.create_app, its MQTT
network thread and its writer thread, on a SQLite file), driven in this process so its own
counters can be read beside the database. A seeded generator (tools/fuzzcases.py) publishes
valid ratings and statuses interleaved with every malformed case of the protocol and of
issue 10, each message knowing the outcome it must get. Checked:

- the collector never stops storing: every `sentinel_every` messages a fresh valid rating is
  published and must be committed before the run goes on;
- every published message is accounted for: stored + duplicate + status + rejected = the
  messages the broker delivered (published minus those above the broker's
  `message_size_limit`, which the broker drops), per outcome as generated, in the
  collector's counters and in the database (`ratings`, `rejected`, `ingest_totals`);
- each rejected message is in `rejected` with a reason code the protocol gives for its fault
  (matched by topic and the SHA-256 of the whole payload);
- then a collector with a new client id subscribes: the broker replays every retained status,
  poison ones included, each gets its outcome, and valid ratings are stored after them;
- `/api/v1/health` answers 200 `ok` at the end of both phases.

Run: .venv/bin/python tools/fuzz_ingest.py [--messages 100000] [--seed N] [--json FILE]
Exit status 0 only when every check holds.
"""

from __future__ import annotations

import argparse
import faulthandler
import hashlib
import json
import logging
import re
import sys
import threading
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import paho.mqtt.client as mqtt  # noqa: E402

from fuzzcases import Case, Generator  # noqa: E402
from rig import Mosquitto, prepare_db, query, wait_until  # noqa: E402

OUTCOMES = ("stored", "duplicate", "status", "rejected")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def broker_packet_limit(broker: Mosquitto) -> int:
    """The broker's max_packet_size (0: none), from its configuration and what it includes."""
    text = broker.config.read_text()
    for folder in re.findall(r"^\s*include_dir\s+(\S+)", text, re.M):
        text += "".join("\n" + p.read_text() for p in sorted(Path(folder).glob("*.conf")))
    values = re.findall(r"^\s*max_packet_size\s+(\d+)", text, re.M)
    return int(values[-1]) if values else 0


class Ledger:
    """What was published and what each message must become, without keeping payloads."""

    def __init__(self) -> None:
        self.published = 0
        self.outcomes: Counter[str] = Counter()
        self.cases: Counter[str] = Counter()
        self.expected_rejected: Counter[tuple[str, str]] = Counter()
        self.reasons: dict[tuple[str, str], tuple[str, frozenset[str]]] = {}
        self.rating_ids: set[str] = set()
        self.retained: dict[str, str] = {}  # topic -> outcome

    def add(self, case: Case) -> None:
        self.published += 1
        self.outcomes[case.outcome] += 1
        self.cases[case.name] += 1
        if case.outcome == "rejected":
            key = (case.topic, sha(case.payload))
            self.expected_rejected[key] += 1
            self.reasons[key] = (case.name, case.reasons)
        if case.outcome == "stored" and case.rating_id is not None:
            self.rating_ids.add(case.rating_id)
        if case.retain:
            self.retained[case.topic] = case.outcome  # the broker keeps the last one

    @property
    def delivered(self) -> int:
        return self.published - self.outcomes["broker_refused"]


class Publisher:
    def __init__(self, port: int):
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                  client_id=f"fuzz-{uuid.uuid4().hex[:8]}")
        self.client.max_inflight_messages_set(200)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.port = port
        self.pending: list[mqtt.MQTTMessageInfo] = []
        self.refused: list[bool] = []

    def publish(self, case: Case) -> None:
        if case.outcome == "broker_refused":
            self.refused.append(self.publish_oversize(case))
            return
        self.pending.append(self.client.publish(case.topic, case.payload, qos=1,
                                                retain=case.retain))

    def publish_oversize(self, case: Case) -> bool:
        """Publish from a client of its own: True when the broker closed its connection, as
        it must for a packet above max_packet_size (it would close ours too)."""
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                             client_id=f"fuzz-big-{uuid.uuid4().hex[:8]}")
        closed = threading.Event()
        client.on_disconnect = lambda *args: closed.set()
        client.connect("127.0.0.1", self.port)
        client.publish(case.topic, case.payload, qos=1)
        # Driven by hand, not loop_start(): paho's own thread would reconnect and resend.
        deadline = time.monotonic() + 10
        while not closed.is_set() and time.monotonic() < deadline:
            client.loop(0.05)
        client.disconnect()
        return closed.is_set()

    def flush(self, timeout: float = 60) -> None:
        for info in self.pending:
            info.wait_for_publish(timeout)
        self.pending = []

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class Collector:
    """The collector application with its ingest, in this process."""

    def __init__(self, db: Path, broker_url: str, token: str, client_id: str):
        from fastapi.testclient import TestClient

        from collector.app import create_app
        from collector.core.settings import Settings
        settings = Settings(db_path=db, broker_url=broker_url, client_id=client_id)
        self.app = create_app(settings)
        self.http = TestClient(self.app, headers={"Authorization": f"Bearer {token}"})

    def __enter__(self) -> "Collector":
        self.http.__enter__()
        wait_until(lambda: self.health()[1].get("broker", {}).get("connected"), 30,
                   "the collector to subscribe")
        return self

    def __exit__(self, *exc: Any) -> None:
        self.http.__exit__(*exc)

    @property
    def totals(self) -> dict[str, int]:
        return dict(self.app.state.ingest.totals)

    def settled(self) -> int:
        totals = self.totals
        return sum(totals.get(name, 0) for name in OUTCOMES)

    def health(self) -> tuple[int, dict[str, Any]]:
        response = self.http.get("/api/v1/health")
        return response.status_code, response.json()


def db_counts(db: Path) -> dict[str, int]:
    return {"ratings": query(db, "SELECT count(*) FROM ratings")[0][0],
            "rejected": query(db, "SELECT count(*) FROM rejected")[0][0],
            **{f"ingest_totals.{k}": v
               for k, v in query(db, "SELECT name, value FROM ingest_totals")}}


def rejected_rows(db: Path, after_id: int) -> list[tuple[str, str, str]]:
    """(topic, sha256 of the whole payload, reason) of every rejected row after after_id."""
    columns = {row[1] for row in query(db, "PRAGMA table_info(rejected)")}
    digest = "payload_sha256" if "payload_sha256" in columns else "NULL"
    rows = query(db, f"SELECT topic, payload, {digest}, reason FROM rejected WHERE id > ?",
                 (after_id,))
    return [(topic, digest_ or sha(bytes(payload or b"")), reason)
            for topic, payload, digest_, reason in rows]


def check_reasons(ledger: Ledger, rows: list[tuple[str, str, str]]) -> dict[str, Any]:
    """Each rejected row against the reasons its case allows; counts per (topic, payload)."""
    seen: Counter[tuple[str, str]] = Counter()
    wrong: Counter[str] = Counter()
    examples: dict[str, str] = {}
    reasons: Counter[str] = Counter()
    for topic, digest, reason in rows:
        key = (topic, digest)
        seen[key] += 1
        reasons[reason] += 1
        name, allowed = ledger.reasons.get(key, ("(not generated)", frozenset()))
        if reason not in allowed:
            label = f"{name}: got {reason}, expected {' or '.join(sorted(allowed)) or '-'}"
            wrong[label] += 1
            examples.setdefault(label, topic)
    missing = sum(max(0, n - seen[key]) for key, n in ledger.expected_rejected.items())
    return {"wrong_reason": sum(wrong.values()), "wrong_reason_cases": dict(wrong.most_common(20)),
            "rejected_rows_missing": missing, "reasons": dict(reasons.most_common())}


def run(messages: int, seed: int, sentinel_every: int, log=print) -> dict[str, Any]:
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="hailong-fuzz-"))
    prepared = prepare_db(workdir / "hailong.db", 20, prefix="fz", demo_devices=8)
    devices = [d.device for d in prepared.devices]
    broker = Mosquitto().start()
    figures: dict[str, Any] = {"seed": seed}
    try:
        limit = broker_packet_limit(broker)
        gen = Generator(seed, devices, [f"fz-unknown-{i}" for i in range(5)], limit)
        ledger = Ledger()
        publisher = Publisher(broker.port)
        before = db_counts(prepared.db)
        last_rejected = query(prepared.db, "SELECT coalesce(max(id), 0) FROM rejected")[0][0]
        sentinel_waits: list[float] = []
        with Collector(prepared.db, broker.url, prepared.token, "fuzz-collector") as collector:
            t0 = time.monotonic()
            i = 0
            # `messages` counts what reaches the collector: the oversized packets the broker
            # refuses come on top.
            while ledger.delivered < messages:
                case = next(gen)
                ledger.add(case)
                publisher.publish(case)
                if case.outcome == "broker_refused":
                    continue
                i += 1
                if i % 1000 == 0:
                    publisher.flush()
                if i % sentinel_every == 0:
                    sentinel = gen.valid_rating(name="sentinel")
                    ledger.add(sentinel)
                    publisher.publish(sentinel)
                    publisher.flush()
                    waited = time.monotonic()
                    try:
                        wait_until(lambda: query(prepared.db, "SELECT 1 FROM ratings WHERE id = ?",
                                                 (sentinel.rating_id,)), 60, "the sentinel")
                    except TimeoutError:
                        # The failure issue 10 describes: say when, and count what there is.
                        figures["stopped_storing_after"] = i
                        log(f"storing stopped: sentinel {sentinel.rating_id} not stored in 60 s "
                            f"after {i} messages; collector totals {collector.totals}")
                        break
                    sentinel_waits.append(time.monotonic() - waited)
                    log(f"{i} messages delivered; sentinel stored; "
                        f"collector totals {collector.totals}")
            publisher.flush()
            publish_s = time.monotonic() - t0
            if "stopped_storing_after" not in figures:
                wait_until(lambda: collector.settled() >= ledger.delivered, 300,
                           "every delivered message to get an outcome", 0.5)
            time.sleep(1)  # anything more than delivered would show now
            totals = collector.totals
            settle_s = time.monotonic() - t0
            health = collector.health()
        after = db_counts(prepared.db)
        reasons = check_reasons(ledger, rejected_rows(prepared.db, last_rejected))
        stored_ids = {row[0] for row in query(prepared.db, "SELECT id FROM ratings")}
        expected = {k: ledger.outcomes[k] for k in OUTCOMES}
        got = {k: totals.get(k, 0) for k in OUTCOMES}
        figures.update({
            "messages_published": ledger.published,
            "broker_refused_oversize": ledger.outcomes["broker_refused"],
            "oversize_sender_disconnected": sum(publisher.refused),
            "delivered": ledger.delivered,
            "received_by_collector": totals.get("received"),
            "expected": expected, "collector_totals": got,
            "accounted": sum(got.values()),
            "db_ratings_added": after["ratings"] - before["ratings"],
            "db_rejected_added": after["rejected"] - before["rejected"],
            "db_ingest_totals": {k: after.get(k, 0) - before.get(k, 0) for k in after
                                 if k.startswith("ingest_totals.")},
            "valid_ratings_missing": len(ledger.rating_ids - stored_ids),
            **reasons,
            "sentinels": len(sentinel_waits),
            "sentinel_wait_max_s": round(max(sentinel_waits, default=0), 2),
            "publish_s": round(publish_s, 1), "settle_s": round(settle_s, 1),
            "health_http": health[0], "health": health[1].get("status"),
            "health_reasons": health[1].get("reasons"),
            "thread_restarts": health[1].get("threads", {}).get("restarts"),
            "case_kinds": len(ledger.cases),
            "internal_errors": sum(n for r, n in reasons["reasons"].items()
                                   if r.startswith("internal_error")),
            "cases": dict(sorted(ledger.cases.items())),
            "broker_max_packet_size": limit,
        })
        if "stopped_storing_after" not in figures:
            figures.update(replay_retained(prepared, broker, publisher, gen, ledger, log))
        else:
            figures["replay_ok"] = False
        publisher.close()
        figures["ok"] = (
            got == expected and figures["received_by_collector"] == ledger.delivered
            and all(publisher.refused)
            and figures["db_ratings_added"] == expected["stored"]
            and figures["db_rejected_added"] == expected["rejected"]
            and figures["valid_ratings_missing"] == 0 and figures["wrong_reason"] == 0
            and figures["rejected_rows_missing"] == 0
            and figures["health_http"] == 200 and figures["health"] == "ok"
            and figures["replay_ok"])
    finally:
        broker.cleanup()
        import shutil
        shutil.rmtree(workdir, ignore_errors=True)
    figures["wall_s"] = round(time.monotonic() - started, 1)
    return figures


def replay_retained(prepared, broker, publisher: Publisher, gen: Generator, ledger: Ledger,
                    log) -> dict[str, Any]:
    """A collector with a new client id: the broker replays every retained status to it."""
    retained = list(ledger.retained.values())
    # Each one reached the first collector live and got its outcome then: a replayed status
    # is counted as a status again, a replayed rejection is recognised as the one already kept
    # (one row in `rejected`, not one per subscribe).
    expected = Counter("duplicate" if outcome == "rejected" else outcome
                       for outcome in retained)
    with Collector(prepared.db, broker.url, prepared.token,
                   f"fuzz-new-{uuid.uuid4().hex[:6]}") as collector:
        wait_until(lambda: collector.settled() >= len(retained), 120,
                   "every retained status to get an outcome", 0.5)
        fresh = [gen.valid_rating(name="after_replay") for _ in range(20)]
        for case in fresh:
            publisher.publish(case)
        publisher.flush()
        wait_until(lambda: collector.totals.get("stored", 0) >= len(fresh), 60,
                   "valid ratings after the replay")
        time.sleep(0.5)
        totals = collector.totals
        health = collector.health()
    got = {k: totals.get(k, 0) for k in OUTCOMES}
    want = {k: expected.get(k, 0) for k in OUTCOMES}
    want["stored"] += len(fresh)
    log(f"retained replay: {len(retained)} retained topics, totals {got}")
    return {"retained_replayed": len(retained), "replay_expected": want, "replay_totals": got,
            "replay_health": health[1].get("status"),
            "replay_ok": got == want and health[0] == 200 and health[1].get("status") == "ok"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=10)
    parser.add_argument("--sentinel-every", type=int, default=5000)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--stall-s", type=float, default=1200,
                        help="dump every thread's stack and exit after this long (a hang)")
    args = parser.parse_args(argv)
    # The collector logs every rejected batch at WARNING; here they are the point, not news.
    logging.basicConfig(level=logging.ERROR, format="%(asctime)s %(levelname)s %(name)s: "
                        "%(message)s")
    faulthandler.dump_traceback_later(args.stall_s, exit=True)
    figures = run(args.messages, args.seed, args.sentinel_every)
    text = json.dumps(figures, indent=2, ensure_ascii=False)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0 if figures["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
