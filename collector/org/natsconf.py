"""NATS Server configuration for a clustered MQTT broker, generated from the device registry.

`hailong broker-config --target nats` writes one file per node, `hailong-nats-N.conf`, for a
cluster of NATS Server 2.9 (Debian's `nats-server`): routes between the nodes, JetStream,
the MQTT listener and one account whose users are the collector and every device. NATS keeps
what MQTT needs in JetStream streams of that account — the collector's persistent session and
its queue (`$MQTT_sess`, `$MQTT_msgs`), retained messages (`$MQTT_rmsgs`) — replicated on
three nodes, so a node can die without losing a session, a queued rating or an assignment.

What the permissions grant is the Mosquitto ACL's (collector/org/brokerconf.py), written as
NATS subjects the way NATS converts MQTT topics (`/` → `.`, `+` → `*`, `#` → `>`):
- each device may PUBLISH only its own `rating` and `status` and SUBSCRIBE only to its own
  `assignment`, `command`, `session` and `ack`;
- the collector subscribes to every device's `rating` and `status` and publishes every
  device's `assignment`, `command`, `session` and `ack`;
- everyone may also subscribe to `$MQTT.sub.>`: NATS delivers a QoS 1 subscription through a
  JetStream consumer whose delivery subject is `$MQTT.sub.<random>`, created in the client's
  name. An MQTT client cannot subscribe to it itself (a topic filter such as `$MQTT/sub/#` is
  refused), and `allowed_connection_types: ["MQTT"]` keeps the accounts off the NATS port;
- nobody else connects: every user is listed, without an anonymous user.

Unlike Mosquitto, NATS refuses a forbidden SUBSCRIBE in its SUBACK (0x80) instead of granting
it and filtering deliveries; like Mosquitto, it acknowledges a forbidden QoS 1 PUBLISH and
drops it. Unlike Mosquitto's max_packet_size, nothing in NATS 2.9 bounds an MQTT publish
(`max_payload` applies to NATS clients only): a device with valid credentials can send a
large payload, which the collector keeps only the first bytes of as `too_large` evidence
(tests/test_broker_conformance.py shows all three).

NATS verifies bcrypt hashes only, so the registry keeps a bcrypt hash of every device
password beside its Mosquitto hash, made when the password is issued (credentials.py). A
device whose credentials predate that has none: it is named, and refused, until its
credentials are rotated. The collector's password (plain, in its secret file) and the
routes' shared password are hashed here; their hashes are kept from the previous files while
the passwords are unchanged, so that an unchanged registry rewrites nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import sqlite_utils

from collector.org.brokerconf import (
    ADDRESS_PATTERN,
    BrokerConfigError,
    check_collector_user,
    prepare_out_dir,
    write_atomic,
)
from collector.org.credentials import bcrypt_hash, verify_bcrypt
from collector.org.devices import devices_without_credentials
from collector.protocol.messages import INBOUND_KINDS, OUTBOUND_KINDS, device_topic

CONF_PATTERN = "hailong-nats-{}.conf"
ACCOUNT = "HAILONG"
ROUTE_USER = "hailong-route"
NATS_GROUP = "nats"
DEFAULT_CLUSTER_PORT = 6222
DEFAULT_CLIENT_PORT = 4222
DEFAULT_MONITOR_PORT = 8222
DEFAULT_STORE_DIR = Path("/var/lib/nats/hailong")
CLUSTER_NAME = "hailong"
# Where NATS delivers a QoS 1 subscription (its JetStream consumer's delivery subject).
MQTT_DELIVERY = "$MQTT.sub.>"
# JetStream keeps three copies: any one node may die (a majority of two stays).
REPLICAS = 3
# As Mosquitto's max_inflight_messages (brokerconf.py): the collector commits up to 200
# messages at a time and acknowledges after the commit.
MAX_ACK_PENDING = 200
# A message delivered and not acknowledged within this is delivered again (the collector
# stores it once by id). NATS does not resend unacknowledged messages when a session resumes,
# as Mosquitto does: a delivery lost with a connection or a node waits for this. Far longer
# than the commit of a batch (milliseconds), shorter than the devices' own resend (60 s).
ACK_WAIT = "10s"
# The collector's queue while it is down lives on disk in JetStream, three copies. Three days
# of a province: 3,000 devices x at most about 2,000 messages a day (a status a minute, the
# ratings and the devices' probes; firmware that waits for confirmations sends at most 20
# unconfirmed ratings, the rest wait in its flash) = 18 million messages of about 300 bytes
# in the stream (299 measured by tools/nats_failover.py): about 5.4 GB per node. 24 GB leaves
# room for the retained messages, the sessions and a longer outage; JetStream refuses new
# messages beyond it (the devices keep theirs and resend), it never drops stored ones.
MAX_FILE_STORE = "24GB"
# MQTT's streams are on file; memory holds only what JetStream itself needs.
MAX_MEMORY_STORE = "256MB"
# A store path goes between double quotes: nothing that could end the string or the line.
PATH_PATTERN = re.compile(r'^/[^"\\\n\r$]{0,4095}\Z')
# The route password travels inside the route URLs (user:password@host): URL-safe only.
ROUTE_SECRET_PATTERN = re.compile(r"^[A-Za-z0-9._~-]{16,72}\Z")
HEADER = ("# Generated by `hailong broker-config --target nats` from the device registry. Do not\n"
          "# edit: the next run overwrites it. Add, retire or re-key devices with\n"
          "# `hailong devices`, then write the files again and reload every node.\n")


@dataclass(frozen=True)
class NatsNode:
    """One server of the cluster: the address the other nodes reach it at, and its ports."""
    host: str
    cluster_port: int = DEFAULT_CLUSTER_PORT
    mqtt_port: int = 1883
    client_port: int = DEFAULT_CLIENT_PORT
    monitor_port: int = DEFAULT_MONITOR_PORT


@dataclass(frozen=True)
class NatsUser:
    username: str
    bcrypt_hash: str


@dataclass
class NatsFiles:
    """What one generation wrote; the command line reports it."""
    confs: list[Path]
    devices: list[str]
    without_credentials: list[str]
    changed: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def subject(topic: str) -> str:
    """The NATS subject of an MQTT topic or filter, as NATS Server converts it (pure).

    hailong's topics have no `.`, space, `*` or `>`, which NATS would escape or refuse; one
    that had would not mean here what it means to the broker, so it is refused.
    """
    if not topic or re.search(r"[.\s*>]", topic) or "//" in topic or topic.startswith("/"):
        raise BrokerConfigError(f"topic {topic!r} has no plain NATS subject")
    return topic.replace("/", ".").replace("+", "*").replace("#", ">")


def permissions(device_ids: Sequence[str],
                collector_user: str) -> dict[str, tuple[list[str], list[str]]]:
    """User -> (subjects it may publish, subjects it may subscribe to) (pure)."""
    grants = {collector_user: (
        [subject(device_topic("+", kind)) for kind in OUTBOUND_KINDS],
        [subject(device_topic("+", kind)) for kind in INBOUND_KINDS] + [MQTT_DELIVERY])}
    for device in device_ids:
        grants[device] = ([subject(device_topic(device, kind)) for kind in INBOUND_KINDS],
                          [subject(device_topic(device, kind)) for kind in OUTBOUND_KINDS]
                          + [MQTT_DELIVERY])
    return grants


def _quoted(values: Sequence[str]) -> str:
    return ", ".join(f'"{value}"' for value in values)


def _user_line(username: str, hashed: str) -> str:
    return f'user: "{username}", password: "{hashed}"'


def accounts_text(users: Sequence[NatsUser], collector_user: str) -> str:
    """The `accounts` block: the collector and the devices with their permissions (pure)."""
    grants = permissions([user.username for user in users if user.username != collector_user],
                         collector_user)
    lines = []
    for user in users:
        publish, subscribe = grants[user.username]
        lines.append(f"      {{{_user_line(user.username, user.bcrypt_hash)},\n"
                     '       allowed_connection_types: ["MQTT"],\n'
                     f"       permissions: {{publish: {{allow: [{_quoted(publish)}]}},\n"
                     f"                     subscribe: {{allow: [{_quoted(subscribe)}]}}}}}}")
    return f"""\
# --- Who may connect, and to what -------------------------------------------------------------
# One account for the collector and the devices: MQTT keeps its sessions, its queues and the
# retained messages in JetStream streams of the client's account, so JetStream is enabled in it.
# Every user is listed (no anonymous access); passwords are bcrypt hashes. The subjects are the
# MQTT topics as NATS converts them: a device publishes its own rating and status and reads its
# own assignment, command, session and ack; the collector reads every device's rating and status
# and writes every device's assignment, command, session and ack. `$MQTT.sub.>` is where NATS
# delivers QoS 1 subscriptions (see collector/org/natsconf.py). MQTT connections only.
accounts {{
  {ACCOUNT} {{
    jetstream: enabled
    users: [
{chr(10).join(lines)}
    ]
  }}
}}
"""


def node_text(nodes: Sequence[NatsNode], index: int, accounts: str, *, store_dir: Path,
              route_password: str, route_hash: str, address: str | None = None) -> str:
    """The whole configuration of node `index` (0-based) of `nodes` (pure)."""
    node = nodes[index]
    mqtt_address = address or "0.0.0.0"
    cluster = ""
    if len(nodes) > 1:
        routes = ",\n    ".join(
            f'"nats-route://{ROUTE_USER}:{route_password}@{other.host}:{other.cluster_port}"'
            for other in nodes)
        cluster = f"""
# --- The cluster ------------------------------------------------------------------------------
# Routes to every node (its own route is recognised and skipped): a restarted node finds the
# others whichever of them is up. Only nodes knowing the route password join.
cluster {{
  name: "{CLUSTER_NAME}"
  listen: "{node.host}:{node.cluster_port}"
  authorization {{ {_user_line(ROUTE_USER, route_hash)} }}
  routes: [
    {routes}
  ]
}}
"""
    replicas = min(REPLICAS, len(nodes))
    return HEADER + f"""\
# Node {index + 1} of {len(nodes)}. On Debian: copy to /etc/nats-server.conf on that node (mode 0640,
# group nats: it holds password hashes and the route password), create the store folder
# (install -d -o nats -g nats {store_dir}), then `systemctl restart nats-server`. Accounts
# and passwords are re-read on `systemctl reload nats-server` (SIGHUP).

# Unique in the cluster: JetStream's replicas and leaders are placed by server name.
server_name: "hailong-{index + 1}"
# The NATS protocol port serves local tools only (nats CLI, monitoring scripts): every account
# is MQTT-only.
listen: "127.0.0.1:{node.client_port}"
# Health (/healthz) and figures (/varz, /jsz) for the operator, on this machine only.
http: "127.0.0.1:{node.monitor_port}"
# Readable times, to set beside the collector's log.
logtime: true

# --- Nothing acknowledged may be lost ---------------------------------------------------------
# JetStream stores MQTT's sessions, queues and retained messages in files and acknowledges a
# publish once a majority of the {replicas} copies holds it: a node killed at any moment, even one
# that loses power before the system wrote its files to disk, loses nothing the others hold.
jetstream {{
  store_dir: "{store_dir}"
  # The collector's queue while it is down (three days of a province; see natsconf.py).
  max_file_store: {MAX_FILE_STORE}
  max_memory_store: {MAX_MEMORY_STORE}
}}
{cluster}
# --- MQTT -------------------------------------------------------------------------------------
# MQTT 3.1.1 with QoS 0 and 1 (hailong uses 1), retained messages, last wills and persistent
# sessions. The counters reach it over the LAN: every interface unless an address is given.
mqtt {{
  listen: "{mqtt_address}:{node.mqtt_port}"
  # Sessions, queues and retained messages on {replicas} nodes (the streams are created with this
  # the first time a client connects; an existing stream keeps its replicas).
  stream_replicas: {replicas}
  # The collector's place in its queue on {replicas} nodes too: its consumer survives a node.
  consumer_replicas: {replicas}
  # Up to 200 unacknowledged messages on their way to one subscription: the collector commits up
  # to 200 at a time and acknowledges after the commit.
  max_ack_pending: {MAX_ACK_PENDING}
  # Delivered and not acknowledged within this: delivered again (the collector stores it once).
  ack_wait: "{ACK_WAIT}"
}}

{accounts}"""


def check_node(node: NatsNode) -> None:
    if not ADDRESS_PATTERN.match(node.host):
        raise BrokerConfigError(f"bad node address {node.host!r}: an IP address or host name")
    for port in (node.cluster_port, node.mqtt_port, node.client_port, node.monitor_port):
        if not 1 <= port <= 65535:
            raise BrokerConfigError(f"bad port {port}: 1 to 65535")


def check_cluster(nodes: Sequence[NatsNode]) -> None:
    if len(nodes) == 2:
        raise BrokerConfigError("a cluster of two nodes stops when either one dies (JetStream "
                                "needs a majority): give one node, or three or more")
    if not nodes:
        raise BrokerConfigError("no node given")
    seen = set()
    for node in nodes:
        check_node(node)
        if (node.host, node.cluster_port) in seen:
            raise BrokerConfigError(f"node {node.host}:{node.cluster_port} is given twice")
        seen.add((node.host, node.cluster_port))


def parse_node(text: str) -> NatsNode:
    """`HOST` or `HOST:CLUSTER_PORT` (a cluster node as the command line gives it)."""
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = text, str(DEFAULT_CLUSTER_PORT)
    if not port.isdigit():
        raise BrokerConfigError(f"bad node {text!r}: HOST or HOST:PORT")
    node = NatsNode(host, int(port))
    check_node(node)
    return node


def nats_accounts(db: sqlite_utils.Database) -> tuple[list[NatsUser], list[str]]:
    """(device users with a bcrypt hash, active devices NATS will refuse), by id."""
    users, refused = [], []
    for device, hashed in db.execute(
            "SELECT d.id, k.bcrypt_hash FROM devices d "
            "JOIN device_credentials k ON k.device_id = d.id "
            "WHERE d.retired_at IS NULL ORDER BY d.id").fetchall():
        if hashed is None:
            refused.append(device)
        else:
            users.append(NatsUser(device, hashed))
    return users, sorted(refused + devices_without_credentials(db))


def generate(db: sqlite_utils.Database, out_dir: Path, *, nodes: Sequence[NatsNode],
             collector_user: str, collector_password: str, route_password: str,
             store_dir: Path = DEFAULT_STORE_DIR, address: str | None = None,
             group: str | None = NATS_GROUP) -> NatsFiles:
    """Write `hailong-nats-N.conf` for every node, from the registry's devices."""
    check_collector_user(collector_user)
    check_cluster(nodes)
    if address is not None and not ADDRESS_PATTERN.match(address):
        raise BrokerConfigError(f"bad listen address {address!r}: an IP address or host name")
    if not PATH_PATTERN.match(str(store_dir)):
        raise BrokerConfigError(f"bad store folder {store_dir}: an absolute path without "
                                "quotes, backslashes or '$'")
    if not ROUTE_SECRET_PATTERN.match(route_password):
        raise BrokerConfigError("the route password must be 16 to 72 letters, digits or . _ ~ -")
    devices, refused = nats_accounts(db)
    prepare_out_dir(out_dir, [user.username for user in devices], collector_user)
    confs = [out_dir / CONF_PATTERN.format(n + 1) for n in range(len(nodes))]
    previous = _previous_text(confs)
    try:
        collector = NatsUser(collector_user, _stable_hash(previous, collector_user,
                                                          collector_password))
        route_hash = _stable_hash(previous, ROUTE_USER, route_password)
    except ValueError as error:
        raise BrokerConfigError(f"cannot hash a password for NATS: {error}") from None
    files = NatsFiles(confs=confs, devices=[user.username for user in devices],
                      without_credentials=refused)
    accounts = accounts_text([collector, *devices], collector_user)
    for index, path in enumerate(confs):
        text = node_text(nodes, index, accounts, store_dir=store_dir,
                         route_password=route_password, route_hash=route_hash, address=address)
        data = text.encode("utf-8")
        try:
            if path.read_bytes() == data:
                continue
        except OSError:
            pass  # missing or unreadable: write it
        files.warnings += write_atomic(path, data, mode=0o640, group=group)
        files.changed.append(path)
    return files


def _previous_text(paths: Sequence[Path]) -> str:
    for path in paths:
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
    return ""


def _stable_hash(previous: str, user: str, password: str) -> str:
    """The hash of `user` in the previous file while it still verifies `password`, else new."""
    match = re.search(rf'user: "{re.escape(user)}", password: "([^"]+)"', previous)
    if match and verify_bcrypt(password, match.group(1)):
        return match.group(1)
    return bcrypt_hash(password)
