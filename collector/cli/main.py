"""The `hailong` command line: builds the parser from each command group and dispatches.

One module per command group (collector/cli/serve.py, demo.py, kiosk.py, devices.py, …), each
adding its subcommands with `add_*_command(s)(subparsers)`; what they share is in
collector/cli/common.py. This module only wires them, with --version and --log-level.

Errors a user can cause (a bad address, a port in use, a missing file) end in one clear line on
stderr and exit status 2; nothing here prints a traceback for them.
"""

from __future__ import annotations

import argparse
import logging
import sys

from collector import __version__
from collector.cli.audit import add_audit_commands
from collector.cli.common import UsageError
from collector.cli.demo import add_demo_command
from collector.cli.devices import add_device_commands
from collector.cli.evaluation import add_workflow_commands
from collector.cli.flash import add_flash_command
from collector.cli.imports import add_import_commands
from collector.cli.kiosk import add_kiosk_command
from collector.cli.month import add_month_commands
from collector.cli.serve import add_serve_command
from collector.cli.users import add_user_commands
from collector.fleet.provisioning import registry_device_config


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hailong",
        description="Đánh giá mức độ hài lòng tại Bộ phận Một cửa / "
                    "citizen satisfaction at one-stop counters.")
    parser.add_argument("--version", action="version", version=f"hailong {__version__}")
    parser.add_argument("--log-level", default="WARNING",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # In this order in `hailong --help`: the demo and the service first, then administration.
    add_demo_command(sub)
    add_serve_command(sub)
    add_kiosk_command(sub)
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
    # `python -m collector.cli.main` (the tests' way in) runs this file as `__main__`, a second
    # copy of the module; UsageError lives in collector.cli.common, so both copies catch the
    # one the command groups raise.
    sys.exit(main())
