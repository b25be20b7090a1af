"""`hailong flash PORT --device ID`: the command-line face of the provisioning.

`add_flash_command(subparsers, device_config_factory)` adds the subcommand to `hailong`'s
parser. `device_config_factory(db_path, device_id, current)` returns the device's
/config.json as a dict (the registry's job); `current` is the configuration the device holds
now (a dict, or None for a blank board), so that the registry can keep MQTT credentials that
still verify instead of issuing new ones on every flash. It is called once the board has
answered, and raises LookupError or ValueError with a readable message for an unknown or
retired device. Every FlashError ends as the CLI's one-line UsageError (exit 2).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable, Optional

from collector.cli.common import UsageError, positive_seconds

DeviceConfigFactory = Callable[[Path, str, Optional[dict]], dict]


def baud_rate(text: str) -> int:
    if not text.isdigit() or not 300 <= int(text) <= 4_000_000:
        raise argparse.ArgumentTypeError(f"a baud rate is 300 to 4000000, not {text!r}")
    return int(text)


def add_flash_command(subparsers, device_config_factory: DeviceConfigFactory):
    flash = subparsers.add_parser(
        "flash", help="provision a counter device over its USB serial port",
        description="Upload the firmware (compiled with mpy-cross), fonts, pin map and the "
                    "device's configuration from the registry; only files whose SHA-256 "
                    "differs are sent, each verified; then soft-reset. Run it again after "
                    "any interruption: it resumes.")
    flash.add_argument("port", metavar="PORT", help="serial port, e.g. /dev/ttyUSB0 or COM3")
    flash.add_argument("--device", required=True, metavar="ID",
                       help="device id in the registry, e.g. kiosk-hk-01")
    flash.add_argument("--db", type=Path, default=Path("hailong.db"),
                       help="registry database (default: hailong.db)")
    flash.add_argument("--source", action="store_true",
                       help="copy the firmware's .py sources instead of compiling to .mpy")
    flash.add_argument("--dry-run", action="store_true",
                       help="list what would change on the device; write nothing")
    flash.add_argument("--broker", metavar="URL",
                       help="mqtt://[USER:PASSWORD@]HOST:PORT: after the reset, wait until "
                            "the device reports online there")
    flash.add_argument("--online-timeout", type=positive_seconds, default=60.0, metavar="SECONDS",
                       help="how long to wait for the device to go online (default 60)")
    flash.add_argument("--micropython", type=Path, metavar="IMAGE",
                       help="first write this MicroPython image (.bin) with esptool")
    flash.add_argument("--erase", action="store_true",
                       help="erase the whole flash before writing --micropython")
    flash.add_argument("--baud", type=baud_rate, default=115200,
                       help="serial speed of the REPL (default 115200)")
    flash.set_defaults(handler=lambda args: cmd_flash(args, device_config_factory))
    return flash


def cmd_flash(args: argparse.Namespace, device_config_factory: DeviceConfigFactory) -> int:
    from collector.fleet.flashing.errors import FlashError
    from collector.fleet.flashing.image import check_image_args
    from collector.fleet.flashing.progress import ProgressBar
    from collector.fleet.flashing.provision import FlashOptions, provision
    options = FlashOptions(port=args.port, device_id=args.device, baud=args.baud,
                           source=args.source, dry_run=args.dry_run, broker=args.broker,
                           image=args.micropython, erase=args.erase,
                           online_timeout=args.online_timeout)
    def device_config(current: dict | None) -> dict:
        return device_config_factory(args.db, args.device, current)

    try:
        check_image_args(options.image, options.erase)  # before anything touches the board
        provision(options, device_config, progress=ProgressBar())
    except FlashError as error:
        raise UsageError(str(error)) from None
    return 0
