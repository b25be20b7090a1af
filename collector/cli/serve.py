"""`hailong serve`: the collector, API and dashboard on an external broker (production's command).

Checks what the user gave (broker address or the nodes of a broker cluster, password file,
policy, trusted proxies) before anything starts, so a mistake is one line and exit status 2,
then runs the app under uvicorn until stopped. Wired into the main parser with `add_serve_command(subparsers)`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from collector.accounts.sessions import trusted_networks
from collector.cli.common import UsageError, add_policy_option, checked_policy, host_port


def trusted_proxy(text: str) -> str:
    try:
        trusted_networks([text])
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text.strip()


def cmd_serve(args: argparse.Namespace) -> int:
    # Imported when the command runs: the web stack is not loaded for the other commands.
    import uvicorn

    from collector.app import create_app
    from collector.core.settings import BrokerAddress, Settings
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
        from collector.db.store import Store
        from collector.demo.seed import MAX_DEVICES, seed_demo
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


def add_serve_command(subparsers: argparse._SubParsersAction) -> None:
    """Add `serve`."""
    serve = subparsers.add_parser("serve",
                                  help="collector, API and dashboard on an external broker")
    serve.add_argument("--broker", default="mqtt://127.0.0.1:1883",
                       help="mqtt://[USER:PASSWORD@]HOST:PORT (default mqtt://127.0.0.1:1883); "
                            "the nodes of one cluster: mqtt://USER@HOST:PORT,HOST:PORT,… "
                            "(the first that answers; the next when it is lost)")
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
