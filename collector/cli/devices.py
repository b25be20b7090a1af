"""`hailong devices …` and `hailong broker-config`: the registry's face on the command line.

Each command opens the database, calls one registry or broker-config function and prints the
result; what the user can get wrong becomes `UsageError` (one line on stderr, exit status 2,
printed by `collector.cli.main.main`). Wired into the main parser with
`add_device_commands(subparsers)`.
"""

from __future__ import annotations

import argparse
import sqlite3
import getpass
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from collector.org.brokerconf import (
    ACL_NAME,
    BROKER_GROUP,
    CONF_NAME,
    DEFAULT_COLLECTOR_USER,
    DEFAULT_PORT,
    PASSWD_NAME,
    BrokerConfigError,
    generate,
    reload_broker,
)
from collector.cli.common import UsageError, print_json, table
from collector.org.credentials import load_or_create_secret
from collector.org import natsconf
from collector.fleet.moves import move_device
from collector.protocol.messages import SCALES
from collector.org.registry import IssuedCredentials, Registry, RegistryError, format_time
from collector.db.store import Store

ONCE_WARNING = (
    "CẢNH BÁO: mật khẩu này chỉ hiện MỘT LẦN. hailong chỉ lưu bản băm và không thể hiện lại. "
    "Hãy ghi ngay vào cấu hình thiết bị, rồi chạy `hailong broker-config` để broker nhận.\n"
    "WARNING: this password is shown ONCE. hailong keeps only its hash and cannot show it "
    "again. Put it in the device's configuration now, then run `hailong broker-config` so the "
    "broker accepts it.")
ROTATE_NOTE = (
    "Mật khẩu cũ bị từ chối khi broker nạp lại cấu hình (hailong broker-config --reload).\n"
    "The old password is refused once the broker reloads (hailong broker-config --reload).")


@contextmanager
def open_registry(path: Path, *, create: bool = False) -> Iterator[Registry]:
    """The registry on the database at `path`; only `devices add` may create the database."""
    if not path.exists():
        if not create:
            raise UsageError(f"no database at {path}; give the collector's database with "
                             "--db PATH")
        print(f"Tạo cơ sở dữ liệu mới / new database: {path}", file=sys.stderr)
    try:
        store = Store(path)
    except sqlite3.Error as error:
        raise UsageError(f"cannot open the database {path}: {error}") from None
    try:
        yield Registry(store, actor=f"cli:{getpass.getuser()}")
    except (RegistryError, BrokerConfigError) as error:
        raise UsageError(str(error)) from None
    finally:
        store.close()


def print_credentials(issued: IssuedCredentials, headline: str, as_json: bool,
                      note: str | None = None, **extra: Any) -> None:
    if as_json:
        print_json({"device": issued.device_id, "username": issued.username,
                    "password": issued.password, **extra})
        print(ONCE_WARNING, file=sys.stderr)
        return
    print(headline)
    print()
    print(f"  Tên đăng nhập / Username : {issued.username}")
    print(f"  Mật khẩu / Password      : {issued.password}")
    print()
    print(ONCE_WARNING)
    if note:
        print(note)


def _state(device: dict[str, Any]) -> str:
    if device["retired_at"] is not None:
        return f"ngừng / retired {format_time(device['retired_at'])}"
    return "đang dùng / active"


def _credentials(device: dict[str, Any]) -> str:
    issued = device["credentials_issued_at"]
    return format_time(issued) if issued is not None else "chưa có / none"


# --- handlers ---------------------------------------------------------------------------

def cmd_add(args: argparse.Namespace) -> int:
    with open_registry(args.db, create=True) as registry:
        issued = registry.add(args.device, args.counter, scale=args.scale,
                              counter_label=args.counter_label, unit_id=args.unit,
                              unit_name=args.unit_name, placed_from=args.placed_from)
        device = registry.show(args.device)
    where = f"{device['counter_label']} ({device['counter_id']})"
    since = format_time(device["placed_from"])
    print_credentials(issued, f"Đã đăng ký thiết bị {issued.device_id} tại {where} từ {since}.\n"
                              f"Registered device {issued.device_id} at {where} from {since}.",
                      args.json, placed_from=device["placed_from"])
    return 0


def cmd_move(args: argparse.Namespace) -> int:
    with open_registry(args.db) as registry:
        moved = move_device(registry, args.device, args.counter, placed_from=args.placed_from)
    device, moves = moved["device"], moved["reattributed"]
    if args.json:
        print_json({**moved, "device": {**device, "username": device["id"]}})
        return 0
    where = f"{device['counter_label']} ({device['counter_id']})"
    since = format_time(moved["placed_from"])
    count = sum(moves.values())
    print(f"Đã chuyển thiết bị {device['id']} từ quầy {moved['previous']['counter']} sang "
          f"{where} từ {since}; {count} đánh giá được tính lại theo lịch trực.\n"
          f"Moved {device['id']} from counter {moved['previous']['counter']} to {where} from "
          f"{since}; {count} ratings re-attributed by the roster.")
    for pair, number in moves.items():
        print(f"  {pair}: {number}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    with open_registry(args.db) as registry:
        devices = registry.devices(include_retired=args.all)
    if args.json:
        print_json([{**device, "username": device["id"]} for device in devices])
        return 0
    if not devices:
        print("Chưa có thiết bị nào / no devices registered"
              + ("" if args.all else " (--all also lists retired ones)"))
        return 0
    rows = [["Thiết bị/device", "Quầy/counter", "Đơn vị/unit", "Thang/scale",
             "Trạng thái/state", "Mật khẩu cấp/credentials", "Lần cuối/last seen"]]
    for d in devices:
        rows.append([d["id"], f"{d['counter_label']} ({d['counter_id']})", d["unit_id"] or "",
                     str(d["scale"]), _state(d), _credentials(d), format_time(d["last_seen"])])
    print(table(rows))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    with open_registry(args.db) as registry:
        device = registry.show(args.device)
    # The query behind `show` never selects the hash; this is all there is to print.
    if args.json:
        print_json({**device, "username": device["id"]})
        return 0
    officer = (f"{device['officer_name']} ({device['officer_id']})" if device["officer_id"]
               else "—")
    connection = "—"
    if device["last_seen"] is not None:
        online = {"online": "trực tuyến / online", "offline": "mất kết nối / offline"}
        connection = (f"{online.get(device['state'], '—')}, lần cuối / last seen "
                      f"{format_time(device['last_seen'])}, fw {device['fw'] or '—'}")
    credentials = ("chưa có / none" if device["credentials_issued_at"] is None else
                   f"cấp / issued {_credentials(device)} (chỉ lưu bản băm / stored as a hash)")
    rows = [
        ["Thiết bị / device", device["id"]],
        ["Quầy / counter", f"{device['counter_label']} ({device['counter_id']})"],
        ["Tại quầy từ / placed since", format_time(device["placed_from"]) or "—"],
        ["Đơn vị / unit", f"{device['unit_name']} ({device['unit_id']})"],
        ["Thang / scale", str(device["scale"])],
        ["Cán bộ / officer", officer],
        ["Đăng ký / registered", format_time(device["registered_at"])],
        ["Trạng thái / state", _state(device)],
        ["Tên đăng nhập / username", device["id"]],
        ["Mật khẩu / password", credentials],
        ["Kết nối / connection", connection],
        ["Đánh giá đã lưu / ratings", str(device["ratings_stored"])],
    ]
    print(table(rows))
    return 0


def cmd_retire(args: argparse.Namespace) -> int:
    with open_registry(args.db) as registry:
        device = registry.retire(args.device)
    if args.json:
        print_json({**device, "username": device["id"]})
        return 0
    print(f"Đã ngừng sử dụng thiết bị {device['id']}; {device['ratings_stored']} đánh giá vẫn "
          "được giữ. Chạy `hailong broker-config --reload` để broker từ chối thiết bị này.\n"
          f"Retired {device['id']}; its {device['ratings_stored']} ratings are kept. Run "
          "`hailong broker-config --reload` so the broker refuses it.")
    return 0


def cmd_rotate(args: argparse.Namespace) -> int:
    with open_registry(args.db) as registry:
        issued = registry.rotate_credentials(args.device)
    print_credentials(issued, f"Mật khẩu mới cho {issued.device_id}.\n"
                              f"New password for {issued.device_id}.", args.json, ROTATE_NOTE)
    return 0


def cmd_broker_config(args: argparse.Namespace) -> int:
    if args.target == "nats":
        return broker_config_nats(args)
    if args.node or args.store_dir or args.route_password_file:
        raise UsageError("--node, --store-dir and --route-password-file are for --target nats")
    secret_file = args.collector_password_file or args.db.with_name("collector.password")
    with open_registry(args.db) as registry:
        try:
            password, created = load_or_create_secret(secret_file)
        except (ValueError, OSError) as error:
            raise UsageError(str(error)) from None
        files = generate(registry.db, args.out, collector_user=args.collector_user,
                         collector_password=password, group=args.group or BROKER_GROUP,
                         port=args.port, address=args.listen_address)
    changed = set(files.changed)
    for path in (files.passwd, files.acl, files.conf):
        print(f"{path}  {'đã ghi / written' if path in changed else 'không đổi / unchanged'}")
    print(f"Thiết bị được kết nối / devices admitted: {len(files.devices)}; "
          f"collector: {args.collector_user} (mật khẩu / password in {secret_file}"
          + (", vừa tạo / just created)" if created else ")"))
    if files.without_credentials:
        print("Chưa có mật khẩu, broker sẽ từ chối / no credentials, refused by the broker: "
              + ", ".join(files.without_credentials)
              + " — hailong devices rotate-credentials ID")
    for warning in files.warnings:
        print(f"cảnh báo / warning: {warning}", file=sys.stderr)
    if files.conf in changed:
        print(f"{files.conf.name} đã thay đổi: cổng nghe (listener) chỉ có hiệu lực sau khi khởi "
              "động lại Mosquitto (systemctl restart mosquitto) / changed: a new listener takes "
              "effect only when Mosquitto restarts; the other lines apply on reload")
    if not args.reload:
        print(f"Debian nạp {files.conf.name} từ /etc/mosquitto/conf.d / Debian's Mosquitto "
              f"includes {files.conf} from /etc/mosquitto/conf.d; then reload the broker "
              "(--reload PIDFILE, or systemctl reload mosquitto)")
        return 0
    try:
        pid = reload_broker(args.reload)
    except BrokerConfigError as error:
        raise UsageError(f"files written, broker not reloaded: {error}") from None
    print(f"Đã yêu cầu Mosquitto nạp lại (SIGHUP, pid {pid}) / asked Mosquitto to reload")
    return 0


def broker_config_nats(args: argparse.Namespace) -> int:
    """`broker-config --target nats`: one NATS Server file per cluster node (natsconf.py)."""
    if args.reload:
        raise UsageError("--reload is for Mosquitto: copy each file to its node, then run "
                         "`systemctl reload nats-server` there")
    if not args.node:
        raise UsageError("--target nats needs the cluster's nodes: --node HOST[:PORT] once "
                         "per node, in the same order on every run (three for a cluster)")
    secret_file = args.collector_password_file or args.db.with_name("collector.password")
    route_file = args.route_password_file or args.db.with_name("nats-route.password")
    with open_registry(args.db) as registry:
        try:
            password, created = load_or_create_secret(secret_file)
            route_password, _ = load_or_create_secret(route_file)
        except (ValueError, OSError) as error:
            raise UsageError(str(error)) from None
        nodes = [natsconf.parse_node(text) for text in args.node]
        nodes = [natsconf.NatsNode(node.host, node.cluster_port, mqtt_port=args.port)
                 for node in nodes]
        files = natsconf.generate(
            registry.db, args.out, nodes=nodes, collector_user=args.collector_user,
            collector_password=password, route_password=route_password,
            store_dir=args.store_dir or natsconf.DEFAULT_STORE_DIR,
            address=args.listen_address, group=args.group or natsconf.NATS_GROUP)
    changed = set(files.changed)
    for number, path in enumerate(files.confs, start=1):
        print(f"{path}  {'đã ghi / written' if path in changed else 'không đổi / unchanged'}"
              f"  (nút / node {number}: {nodes[number - 1].host})")
    print(f"Thiết bị được kết nối / devices admitted: {len(files.devices)}; "
          f"collector: {args.collector_user} (mật khẩu / password in {secret_file}"
          + (", vừa tạo / just created)" if created else ")"))
    if files.without_credentials:
        print("Chưa có mật khẩu cho NATS, broker sẽ từ chối / no NATS credentials, refused by "
              "the broker: " + ", ".join(files.without_credentials)
              + " — hailong devices rotate-credentials ID")
    for warning in files.warnings:
        print(f"cảnh báo / warning: {warning}", file=sys.stderr)
    print("Chép tệp N sang nút N thành /etc/nats-server.conf, rồi `systemctl reload "
          "nats-server` (khởi động lại nếu đổi cổng hay nút) / copy file N to node N as "
          "/etc/nats-server.conf, then `systemctl reload nats-server` there (restart it when "
          "a port or a node changed)")
    return 0


# --- parser -----------------------------------------------------------------------------

PLACED_FROM_HELP = ("placed there since the start (00:00, Vietnam time) of this past day, "
                    "not now: loads a history the registry never saw (not in the future)")


def add_device_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add `devices add|move|list|show|retire|rotate-credentials` and `broker-config`."""
    database = argparse.ArgumentParser(add_help=False)
    database.add_argument("--db", type=Path, default=Path("hailong.db"),
                          help="the collector's SQLite file (default: hailong.db)")
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print JSON instead of text")
    common = [database, as_json]

    devices = subparsers.add_parser(
        "devices", help="device registry: add, move, list, show, retire, rotate-credentials")
    actions = devices.add_subparsers(dest="devices_command", required=True, metavar="ACTION")

    add = actions.add_parser("add", parents=common,
                             help="register a device at a counter; prints its password once")
    add.add_argument("device", metavar="ID", help="device id, e.g. kiosk-hk-05")
    add.add_argument("--counter", required=True, metavar="COUNTER_ID",
                     help="the counter the device stands at")
    add.add_argument("--counter-label", metavar="LABEL",
                     help='create the counter if missing, with this label (e.g. "Quầy 3")')
    add.add_argument("--unit", metavar="UNIT_ID", help="the unit of a counter being created")
    add.add_argument("--unit-name", metavar="NAME", help="create the unit too if missing")
    add.add_argument("--scale", type=int, choices=SCALES, default=4,
                     help="buttons the device offers (default 4)")
    add.add_argument("--placed-from", metavar="YYYY-MM-DD", help=PLACED_FROM_HELP)
    add.set_defaults(handler=cmd_add)

    move = actions.add_parser("move", parents=common,
                              help="move a device to another counter; its ratings since then "
                                   "follow that counter's roster")
    move.add_argument("device", metavar="ID", help="device id")
    move.add_argument("--counter", required=True, metavar="COUNTER_ID",
                      help="the existing counter the device stands at from now on (or from "
                           "--placed-from)")
    move.add_argument("--placed-from", metavar="YYYY-MM-DD", help=PLACED_FROM_HELP)
    move.set_defaults(handler=cmd_move)

    listing = actions.add_parser("list", parents=common, help="list devices")
    listing.add_argument("--all", action="store_true", help="include retired devices")
    listing.set_defaults(handler=cmd_list)

    for name, handler, text in [
            ("show", cmd_show, "one device in detail (never its password or hash)"),
            ("retire", cmd_retire, "take a device out of service; its ratings are kept"),
            ("rotate-credentials", cmd_rotate, "new password for a device; prints it once")]:
        action = actions.add_parser(name, parents=common, help=text)
        action.add_argument("device", metavar="ID", help="device id")
        action.set_defaults(handler=handler)

    broker = subparsers.add_parser(
        "broker-config", parents=[database],
        help="write the broker's accounts, permissions and configuration from the registry "
             "(Mosquitto, or a NATS Server cluster)")
    broker.add_argument("--target", choices=("mosquitto", "nats"), default="mosquitto",
                        help="mosquitto (default): password file, ACL and configuration; "
                             "nats: one NATS Server file per cluster node")
    broker.add_argument("--node", action="append", metavar="HOST[:PORT]",
                        help="nats: a cluster node's address and route port (default "
                             f"{natsconf.DEFAULT_CLUSTER_PORT}); once per node, same order "
                             "every run")
    broker.add_argument("--store-dir", type=Path, metavar="DIR",
                        help=f"nats: JetStream's folder on each node (default "
                             f"{natsconf.DEFAULT_STORE_DIR})")
    broker.add_argument("--route-password-file", type=Path, metavar="FILE",
                        help="nats: the nodes' shared route password, created if missing "
                             "(default: nats-route.password beside the database)")
    broker.add_argument("--out", type=Path, required=True, metavar="DIR",
                        help=f"where to write {PASSWD_NAME}, {ACL_NAME} and {CONF_NAME} "
                             "(e.g. /etc/mosquitto/conf.d)")
    broker.add_argument("--collector-user", default=DEFAULT_COLLECTOR_USER, metavar="NAME",
                        help=f"the collector's broker account (default {DEFAULT_COLLECTOR_USER})")
    broker.add_argument("--collector-password-file", type=Path, metavar="FILE",
                        help="file holding the collector's password, created with a new one "
                             "(mode 0600) if missing (default: collector.password beside "
                             "the database)")
    broker.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"the port the devices and the collector connect to "
                             f"(default {DEFAULT_PORT})")
    broker.add_argument("--listen-address", metavar="ADDRESS",
                        help="listen on this address only (default: every interface, as "
                             "counters on the LAN need)")
    broker.add_argument("--group",
                        help=f"group that may read the files (default {BROKER_GROUP}; "
                             f"nats: {natsconf.NATS_GROUP})")
    broker.add_argument("--reload", type=Path, metavar="PIDFILE",
                        help="then send SIGHUP to the Mosquitto in PIDFILE "
                             "(Debian: /run/mosquitto/mosquitto.pid)")
    broker.set_defaults(handler=cmd_broker_config)
