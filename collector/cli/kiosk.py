"""`hailong kiosk`: one simulated counter device on a real broker, pressed from the console.

For technicians and developers: check a broker, an ACL or a collector without hardware. It
runs the real firmware core on the simulation layer; presses come from `--press` or, when
none are given, from the keyboard (a digit presses that button, Enter alone redraws, q quits).
Wired into the main parser with `add_kiosk_command(subparsers)`.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING, TextIO

from collector.cli.common import UsageError, positive_seconds
from collector.core.settings import BrokerAddress

if TYPE_CHECKING:
    from kiosk.sim import SimulatedKiosk


def button_level(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 5:
        raise argparse.ArgumentTypeError(f"a button is 1 to 5, not {text!r}")
    return int(text)


def cmd_kiosk(args: argparse.Namespace) -> int:
    try:
        broker = BrokerAddress.parse(args.broker)
        # A fresh boot number per run keeps rating ids unique across runs of the same device id.
        boot = args.boot if args.boot is not None else int(time.time()) % 2**31
        return run_kiosk(args.device, broker, presses=args.press or [], boot=boot,
                         cooldown_s=args.cooldown, timeout_s=args.timeout)
    except ValueError as error:
        raise UsageError(str(error)) from None


def add_kiosk_command(subparsers: argparse._SubParsersAction) -> None:
    """Add `kiosk DEVICE`."""
    kiosk = subparsers.add_parser("kiosk", help="one simulated counter device on a real broker")
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


def draw(kiosk: SimulatedKiosk, out: TextIO) -> None:
    state = "trực tuyến / online" if kiosk.connected else "mất kết nối / offline"
    out.write(f"┌─ {kiosk.device_id} · {state} · chờ gửi / queued: {kiosk.queue_depth}\n")
    for line in kiosk.screen_text().splitlines():
        out.write(f"│ {line}\n")
    out.write("└─\n")
    out.flush()


def run_kiosk(device_id: str, broker: BrokerAddress, *, presses: list[int], boot: int,
              cooldown_s: float, timeout_s: float, stdin: TextIO = sys.stdin,
              out: TextIO = sys.stdout) -> int:
    # Imported here: the firmware core and paho are loaded for this command only.
    from kiosk.sim import SimulatedKiosk
    kiosk = SimulatedKiosk(device_id, broker.host, broker.port, username=broker.username,
                           password=broker.password, boot=boot, cooldown_s=cooldown_s)
    kiosk.start()
    try:
        if not kiosk.wait_until(lambda: kiosk.connected, timeout_s):
            out.write(f"chưa kết nối được / not connected to {broker}; "
                      "presses wait in the queue\n")
        kiosk.wait_until(lambda: kiosk.device.panel.officer is not None
                         or not kiosk.device.panel.open, 2.0)
        if presses:
            return _press_and_drain(kiosk, presses, timeout_s, out)
        return _interactive(kiosk, stdin, out)
    finally:
        kiosk.stop()


def _press_and_drain(kiosk: SimulatedKiosk, presses: list[int], timeout_s: float,
                     out: TextIO) -> int:
    draw(kiosk, out)
    for level in presses:
        kiosk.press(level)
        time.sleep(0.05)  # distinct press times, as a hand would give them
    drained = kiosk.wait_until(lambda: kiosk.queue_depth == 0, timeout_s)
    draw(kiosk, out)
    if not drained:
        out.write(f"{kiosk.queue_depth} đánh giá chưa được máy chủ thu nhận xác nhận / "
                  f"rating(s) not confirmed by the collector in {timeout_s:g} s\n")
        return 1
    out.write(f"đã xác nhận / confirmed by the collector: {kiosk.confirmed}\n")
    return 0


def _interactive(kiosk: SimulatedKiosk, stdin: TextIO, out: TextIO) -> int:
    out.write("Bấm số 1–5 rồi Enter để đánh giá, Enter để xem màn hình, q để thoát.\n"
              "Type 1–5 and Enter to press, Enter to redraw, q to quit.\n")
    draw(kiosk, out)
    for line in stdin:
        command = line.strip().lower()
        if command in ("q", "quit", "exit"):
            break
        if command.isdigit():
            kiosk.press(int(command))
            time.sleep(0.1)  # let the loop take the press before drawing
        elif command:
            out.write(f"không hiểu / unknown input {command!r}\n")
        draw(kiosk, out)
    return 0
