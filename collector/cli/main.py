"""The `hailong` command line: a table of subcommands, each a thin face on library calls.

Errors a user can cause (a bad address, a port in use, a missing file) end in one clear line on
stderr and exit status 2; nothing here prints a traceback for them.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from collector import __version__


class UsageError(Exception):
    """A mistake in what the user asked for; printed as one line."""


def host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host, int(port)


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("seconds must be more than 0")
    return value


def trusted_proxy(text: str) -> str:
    from collector.accounts.sessions import trusted_networks
    try:
        trusted_networks([text])
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text.strip()


def checked_policy(spec: str) -> str:
    """The --policy value, once it has loaded: a bad file stops the start, not a later page."""
    from collector.evaluation.policy import load_configured
    try:
        load_configured(spec)
    except ValueError as error:
        raise UsageError(str(error)) from None
    return spec


def add_policy_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--policy", default="hanoi-3814", metavar="NAME|FILE.toml",
                        help="scoring policy: preset hanoi-3814 (default) or decree-335, or a "
                             "TOML file (docs/evaluation.md)")


def cmd_demo(args: argparse.Namespace) -> int:
    from collector.demo.broker import BrokerStartError
    from collector.demo.run import DemoOptions, run_demo
    host, port = args.http
    options = DemoOptions(db_path=args.db, http_host=host, http_port=port,
                          mqtt_port=args.mqtt_port, devices=args.devices, run_for=args.run_for,
                          press_interval_s=args.press_every, policy=checked_policy(args.policy),
                          history_days=args.history_days)
    try:
        return run_demo(options)
    except (BrokerStartError, RuntimeError, ValueError) as error:
        raise UsageError(str(error)) from None


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from collector.app import create_app
    from collector.ingest.subscriber import BrokerAddress
    from collector.core.settings import Settings
    try:
        broker = BrokerAddress.parse(args.broker)
    except ValueError as error:
        raise UsageError(str(error)) from None
    password = None
    if args.broker_password_file:
        try:
            password = args.broker_password_file.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise UsageError(f"cannot read the broker password: {error}") from None
    if args.demo_data:
        from collector.demo.seed import MAX_DEVICES, seed_demo
        from collector.db.store import Store
        store = Store(args.db)
        try:
            seed_demo(store, MAX_DEVICES)
        finally:
            store.close()
    host, port = args.http
    app = create_app(Settings(db_path=args.db, broker_url=args.broker, client_id=args.client_id,
                              broker_password=password, policy=checked_policy(args.policy),
                              trusted_proxies=tuple(args.trusted_proxy)))
    print(f"hailong collector: broker {broker}, database {args.db}, "
          f"http://{host}:{port}/", flush=True)
    # proxy_headers=False: uvicorn would otherwise take X-Forwarded-For from 127.0.0.1 as the
    # client; the app reads it itself, from --trusted-proxy addresses only.
    uvicorn.run(app, host=host, port=port, log_level=args.log_level.lower(),
                proxy_headers=False)
    return 0


def button_level(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 5:
        raise argparse.ArgumentTypeError(f"a button is 1 to 5, not {text!r}")
    return int(text)


def cmd_kiosk(args: argparse.Namespace) -> int:
    import time

    from collector.ingest.subscriber import BrokerAddress
    from collector.cli.kiosk import run_kiosk
    try:
        broker = BrokerAddress.parse(args.broker)
        # A fresh boot number per run keeps rating ids unique across runs of the same device id.
        boot = args.boot if args.boot is not None else int(time.time()) % 2**31
        return run_kiosk(args.device, broker, presses=args.press or [], boot=boot,
                         cooldown_s=args.cooldown, timeout_s=args.timeout)
    except ValueError as error:
        raise UsageError(str(error)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hailong",
        description="Đánh giá mức độ hài lòng tại Bộ phận Một cửa / "
                    "citizen satisfaction at one-stop counters.")
    parser.add_argument("--version", action="version", version=f"hailong {__version__}")
    parser.add_argument("--log-level", default="WARNING",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="run broker, collector, dashboard and simulated kiosks")
    demo.add_argument("--for", dest="run_for", type=positive_seconds, default=None,
                      metavar="SECONDS", help="stop by itself after SECONDS (exit 0)")
    demo.add_argument("--db", type=Path, default=Path("demo-data/hailong.db"),
                      help="SQLite file (default: demo-data/hailong.db)")
    demo.add_argument("--http", type=host_port, default=("127.0.0.1", 8000),
                      metavar="HOST:PORT", help="dashboard address (default 127.0.0.1:8000)")
    demo.add_argument("--devices", type=int, default=4, metavar="N",
                      help="simulated kiosks, 1 to 8 (default 4)")
    demo.add_argument("--mqtt-port", type=int, default=1883,
                      help="port of the embedded broker on 127.0.0.1 (default 1883)")
    demo.add_argument("--press-every", type=positive_seconds, default=2.0, metavar="SECONDS",
                      help="mean time between simulated citizens' presses (default 2)")
    demo.add_argument("--history-days", type=int, default=60, metavar="N",
                      help="seed the N days before today with rosters, ratings, tasks and last "
                           "month's evaluations, once per database (default 60, 0 = none)")
    add_policy_option(demo)
    demo.set_defaults(handler=cmd_demo)

    serve = sub.add_parser("serve", help="collector, API and dashboard on an external broker")
    serve.add_argument("--broker", default="mqtt://127.0.0.1:1883",
                       help="mqtt://[USER:PASSWORD@]HOST:PORT (default mqtt://127.0.0.1:1883)")
    serve.add_argument("--db", type=Path, default=Path("hailong.db"),
                       help="SQLite file (default: hailong.db)")
    serve.add_argument("--http", type=host_port, default=("127.0.0.1", 8000),
                       metavar="HOST:PORT", help="API and dashboard address")
    serve.add_argument("--broker-password-file", type=Path, default=None, metavar="FILE",
                       help="read the broker password from FILE (e.g. collector.password), "
                            "so it does not show in the process list")
    serve.add_argument("--client-id", default="hailong-collector",
                       help="MQTT client id; keep it fixed, the broker keeps its session")
    serve.add_argument("--demo-data", action="store_true",
                       help="add the demo's sample wards, officers, counters and devices "
                            "(kiosk-hk-01 … kiosk-bd-04) until the registry commands exist")
    serve.add_argument("--trusted-proxy", type=trusted_proxy, action="append", default=[],
                       metavar="ADDRESS",
                       help="a reverse proxy (IP address or network) whose X-Forwarded-For "
                            "the login throttle believes; repeat for several (default: none)")
    add_policy_option(serve)
    serve.set_defaults(handler=cmd_serve)

    kiosk = sub.add_parser("kiosk", help="one simulated counter device on a real broker")
    kiosk.add_argument("device", help="device id, e.g. kiosk-hk-01")
    kiosk.add_argument("--broker", default="mqtt://127.0.0.1:1883",
                       help="mqtt://[USER:PASSWORD@]HOST:PORT (default mqtt://127.0.0.1:1883)")
    kiosk.add_argument("--press", type=button_level, nargs="+", metavar="LEVEL",
                       help="press these buttons, wait until the broker has them all, exit")
    kiosk.add_argument("--cooldown", type=float, default=5.0, metavar="SECONDS",
                       help="cooldown after a press (default 5; presses within it are "
                            "sent as excluded)")
    kiosk.add_argument("--boot", type=int, default=None, help="boot counter (default: from "
                                                             "the clock)")
    kiosk.add_argument("--timeout", type=positive_seconds, default=10.0, metavar="SECONDS",
                       help="how long to wait for the broker (default 10)")
    kiosk.set_defaults(handler=cmd_kiosk)

    # Imported here: these modules import UsageError from this one.
    from collector.cli.audit import add_audit_commands
    from collector.cli.devices import add_device_commands
    from collector.cli.imports import add_import_commands
    from collector.cli.month import add_month_commands
    from collector.cli.users import add_user_commands
    from collector.cli.evaluation import add_workflow_commands
    from collector.cli.flash import add_flash_command
    from collector.fleet.provisioning import registry_device_config
    add_device_commands(sub)
    add_audit_commands(sub)
    add_user_commands(sub)
    add_workflow_commands(sub)
    add_month_commands(sub)
    add_import_commands(sub)
    add_flash_command(sub, registry_device_config)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return args.handler(args)
    except UsageError as error:
        print(f"hailong {args.command}: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    # Run as `python -m collector.cli.main` this file is `__main__`, a second copy of the module:
    # the subcommands raise collector.cli.main.UsageError, which only the imported copy catches.
    from collector.cli.main import main as _imported_main
    sys.exit(_imported_main())
