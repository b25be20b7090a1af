"""One provisioning run: image (optional), raw REPL, survey, plan, upload, verify, reset, online.

What a technician with fifty boards a day needs: one command per board, nothing sent that is
already there (a re-run after any failure resumes), a bar that moves, a dry run, and at the
end either "online" from the broker or one line saying what stopped it. The files are built
(and compiled) before the board is touched, so a build problem never leaves a board
interrupted; a failure after that leaves the old or the whole new version of each file.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, TextIO, Union

from collector.core.settings import BrokerAddress
from collector.fleet.flashing.bundle import (
    CONFIG_PATH,
    FIRMWARE,
    PINMAP,
    DeviceFile,
    MpyCross,
    build_bundle,
    check_mpy_version,
    config_file,
)
from collector.fleet.flashing.errors import (
    ConfigProblem,
    DeviceTimeout,
    FlashError,
    PortLost,
    ProtocolError,
)
from collector.fleet.flashing.image import check_image_args, write_image
from collector.fleet.flashing.rawrepl import RawRepl
from collector.fleet.flashing.serialport import open_port
from collector.fleet.flashing.sync import (
    DeviceState,
    Plan,
    Progress,
    apply,
    batches,
    make_plan,
    survey,
)

ENTER_TIMEOUT_S = 3.0
FIRST_BOOT_TIMEOUT_S = 20.0  # after a new image MicroPython formats its file system first


@dataclass
class FlashOptions:
    port: str
    device_id: str
    baud: int = 115200
    source: bool = False
    dry_run: bool = False
    broker: str | None = None
    image: Path | None = None
    erase: bool = False
    online_timeout: float = 60.0
    firmware: Path = FIRMWARE
    pinmap: Path = PINMAP
    cache_dir: Path | None = None
    raw_paste: bool = True
    soft_reset_first: bool = True
    timeout: float = 10.0  # seconds each wait for the device may take (a window, a batch)


@dataclass
class FlashResult:
    state: DeviceState
    plan: Plan
    wire_bytes: int = 0
    seconds: float = 0.0
    online: dict | None = None
    notes: list[str] = field(default_factory=list)


ConfigSource = Union[dict, Callable[[Optional[dict]], dict]]


def provision(options: FlashOptions, config: ConfigSource, *, out: TextIO | None = None,
              progress: Progress | None = None,
              port_opener: Callable = open_port) -> FlashResult:
    """Provision the board on `options.port`.

    `config` is the device's /config.json as a dict, or a function of the config the device
    holds now (a dict, or None) returning it: the registry can then keep credentials it still
    accepts, so that re-flashing an unchanged device sends nothing.
    """
    started = time.monotonic()
    out = out or sys.stdout
    check_image_args(options.image, options.erase)
    if options.broker:
        check_broker_url(options.broker)
    compiler = None if options.source else MpyCross(options.cache_dir)
    files = build_bundle(config if isinstance(config, dict) else None, options.device_id,
                         compiler=compiler, firmware=options.firmware, pinmap=options.pinmap)
    enter_timeout = ENTER_TIMEOUT_S
    if options.image is not None:
        chip = write_image(options.port, options.image, erase=options.erase)
        print(f"wrote {options.image.name} to the {chip}", file=out)
        enter_timeout = FIRST_BOOT_TIMEOUT_S
    port = port_opener(options.port, options.baud)
    watch = None
    try:
        repl = RawRepl(port, raw_paste=options.raw_paste, timeout=options.timeout)
        repl.enter(soft_reset=options.soft_reset_first, timeout=enter_timeout)
        try:
            result = _survey(repl, options, config, files, compiler, out)
            if options.dry_run:
                for line in result.plan.describe():
                    print(f"  {line}", file=out)
                print("dry run: nothing written", file=out)
            else:
                if options.broker:
                    watch = _start_watch(options, result, out)
                _upload(repl, result, progress, out)
                if watch is not None:
                    watch.arm()
        except (DeviceTimeout, PortLost, ProtocolError):
            raise  # the link itself failed: nothing more to say to the device
        except FlashError:
            _back_to_firmware(repl)
            raise
        repl.reset_to_firmware()
        if not options.dry_run:
            print("soft reset: the firmware is starting", file=out)
    except BaseException:
        if watch is not None:
            watch.close()
        raise
    finally:
        port.close()
    result.seconds = time.monotonic() - started
    if watch is not None:
        _wait_online(watch, options, result, out)
    return result


def _survey(repl: RawRepl, options: FlashOptions, config: ConfigSource,
            files: list[DeviceFile], compiler: MpyCross | None, out: TextIO) -> FlashResult:
    paths = [f.path for f in files]
    if not isinstance(config, dict):
        paths.insert(0, CONFIG_PATH)
    state = survey(repl, paths)
    if compiler is not None:
        check_mpy_version(compiler, state.version, state.mpy)
    if not isinstance(config, dict):
        try:
            wanted = config(state.config)
        except (LookupError, ValueError) as error:  # the registry's "unknown", "retired"
            raise ConfigProblem(error.args[0] if error.args else str(error)) from None
        files = [config_file(wanted, options.device_id), *files]
    print(f"{options.device_id} on {options.port}: MicroPython {state.version} "
          f"({state.platform})", file=out)
    return FlashResult(state, make_plan(files, state))


def _upload(repl: RawRepl, result: FlashResult, progress: Progress | None,
            out: TextIO) -> None:
    plan, state = result.plan, result.state
    if not plan.empty:
        result.wire_bytes = sum(len(s.code) for b in batches(plan, compress=state.has_deflate)
                                for s in b)
    try:
        apply(repl, plan, state, progress=progress)
    except DeviceTimeout as error:
        raise DeviceTimeout(f"{error} while uploading; run the same command again to "
                            "resume", error.received) from None
    except PortLost as error:
        raise PortLost(f"{error} while uploading; run the same command again to "
                       "resume") from None
    removed = f", removed {len(plan.remove)}" if plan.remove else ""
    print(f"uploaded {len(plan.upload)} file(s){removed}, {len(plan.unchanged)} unchanged; "
          "every hash verified", file=out)


def _back_to_firmware(repl: RawRepl) -> None:
    """After a refusal (version, space, configuration) leave the board running what it had.

    A failure here is not reported: the first error is the one the technician needs, and an
    ESP32 left in the raw REPL is reset by the watchdog the agent armed (agent.py)."""
    try:
        repl.reset_to_firmware()
    except FlashError:
        pass


def _wait_online(watch, options: FlashOptions, result: FlashResult, out: TextIO) -> None:
    try:
        result.online = watch.wait(options.online_timeout)
    finally:
        watch.close()
    if result.online is None:
        raise FlashError(f"files written, but {options.device_id} did not report online "
                         f"within {options.online_timeout:g} s: check its Wi-Fi and broker "
                         "settings and the screen's configuration-error message")
    print(f"{options.device_id} is online (fw {result.online.get('fw')}, boot "
          f"{result.online.get('boot')})", file=out)


def check_broker_url(url: str) -> None:
    try:
        BrokerAddress.parse(url)
    except ValueError as error:
        raise FlashError(str(error)) from None


def _start_watch(options: FlashOptions, result: FlashResult, out: TextIO):
    from collector.fleet.flashing.online import OnlineWatch
    try:
        return OnlineWatch(options.broker, options.device_id).start()
    except FlashError as error:
        note = f"not waiting for the device to go online: {error}"
        result.notes.append(note)
        print(note, file=out)
        return None
