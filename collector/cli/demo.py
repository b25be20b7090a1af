"""`hailong demo`: the command-line face of the self-contained demo (collector/demo/).

Turns the options into `DemoOptions` and runs the demo; a port in use or a broker that will
not start is one line and exit status 2. Wired into the main parser with
`add_demo_command(subparsers)`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from collector.cli.common import (
    UsageError,
    add_policy_option,
    checked_policy,
    host_port,
    positive_seconds,
)


def cmd_demo(args: argparse.Namespace) -> int:
    # Imported when the command runs: the demo brings the web stack and amqtt with it.
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


def add_demo_command(subparsers: argparse._SubParsersAction) -> None:
    """Add `demo`."""
    demo = subparsers.add_parser("demo",
                                 help="run broker, collector, dashboard and simulated kiosks")
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
