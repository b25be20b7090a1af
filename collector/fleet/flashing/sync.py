"""Bring a device's files in line with a bundle: compare hashes, upload only what differs.

One exchange surveys the device (MicroPython version, .mpy version, `deflate`, free space, and
the SHA-256 and size of every file the bundle names plus the stale files in the folders it
owns). The plan (`make_plan`, pure) lists uploads and removals. Uploads go in as few exec
calls as fit a code budget: each file in pieces of at most PIECE bytes, each piece deflated
on the host (zlib format, a 4 KiB window: little RAM on the device) when that makes it
smaller, base64-encoded into the code, inflated on the device by `deflate.DeflateIO`, written
to `path.part`, hashed there and only then renamed over `path`. An interrupted run leaves old
files or whole new ones plus a `.part` that the next run removes; it resumes by skipping what
already matches. The last exec removes stale files and re-reads every written file's hash.
"""

from __future__ import annotations

import ast
import base64
import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

from collector.fleet.flashing.bundle import OWNED_DIRS, DeviceFile
from collector.fleet.flashing.errors import (
    ENOSPC,
    DeviceError,
    DeviceFull,
    FlashError,
    ProtocolError,
)
from collector.fleet.flashing.rawrepl import RawRepl

AGENT = Path(__file__).with_name("agent.py")
PIECE = 8 * 1024        # raw bytes per piece: what the device inflates at once
BATCH = 16 * 1024       # code bytes per exec: the device compiles an exec whole, in RAM
WBITS = 12              # deflate window 2**12 = 4 KiB, allocated by DeflateIO on the device


@dataclass
class DeviceState:
    version: str                 # MicroPython version, e.g. "1.27.0"
    mpy: int | None              # sys.implementation._mpy
    has_deflate: bool
    free: int | None             # bytes free on "/" (statvfs), None when unknown
    platform: str                # sys.platform, e.g. "esp32"
    files: dict[str, tuple[bytes, int] | None]  # path -> (SHA-256, size) or None if missing
    extras: list[str]            # files in the owned folders that the bundle does not hold
    config: dict | None = None   # the device's /config.json, when it holds a JSON object


@dataclass
class Plan:
    upload: list[tuple[DeviceFile, str]] = field(default_factory=list)  # (file, "new"/"changed")
    remove: list[str] = field(default_factory=list)
    unchanged: list[DeviceFile] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.upload and not self.remove

    def describe(self) -> list[str]:
        lines = [f"{reason:8} {f.path} ({_size(len(f.data))})" for f, reason in self.upload]
        lines += [f"{'remove':8} {path}" for path in self.remove]
        lines.append(f"{len(self.unchanged)} file(s) unchanged")
        return lines


def make_plan(files: list[DeviceFile], state: DeviceState) -> Plan:
    plan = Plan()
    for f in files:
        on_device = state.files.get(f.path)
        if on_device is None:
            plan.upload.append((f, "new"))
        elif on_device != (f.digest, len(f.data)):
            plan.upload.append((f, "changed"))
        else:
            plan.unchanged.append(f)
    # A .part left by an interrupted run is replaced by the upload of its file, which writes
    # and renames the same name; any other stray file goes at the end.
    uploading = {f.path + ".part" for f, _ in plan.upload}
    plan.remove = [path for path in state.extras if path not in uploading]
    return plan


def space_needed(plan: Plan, state: DeviceState) -> int:
    """Bytes the plan adds to the file system, counting the files it replaces as freed.

    A lower bound (blocks and metadata are not counted): only a plan that certainly does not
    fit is refused before writing; the device's ENOSPC covers the rest.
    """
    need = sum(len(f.data) for f, _ in plan.upload)
    for f, _ in plan.upload:
        old = state.files.get(f.path)
        need -= old[1] if old else 0
    return need


def agent_code() -> str:
    """agent.py without its docstring, comments and blank lines: line time is precious."""
    lines = []
    in_doc = False
    for line in AGENT.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped.startswith('"""'):
            in_doc = not (in_doc or (stripped.count('"""') == 2 and len(stripped) > 3))
            continue
        if in_doc or not stripped or stripped.startswith("#"):
            continue
        depth = (len(line) - len(line.lstrip(" "))) // 4
        lines.append(" " * depth + stripped)  # one space per level: 4 cost line time
    return "\n".join(lines) + "\n"


def _digest_pair(value: object) -> tuple[bytes, int] | None:
    if value is None:
        return None
    if (not isinstance(value, tuple) or len(value) != 2 or not isinstance(value[0], bytes)
            or not isinstance(value[1], int)):
        raise ProtocolError(f"unexpected file entry from the device: {value!r}")
    return base64.b64decode(value[0]), value[1]


def survey(repl: RawRepl, paths: list[str]) -> DeviceState:
    """Send the agent and read the device's state, in one exec."""
    code = agent_code() + f"print(repr(_info({paths!r}, {['/', *OWNED_DIRS]!r})))\n"
    out = repl.exec(code)
    try:
        version, mpy, has_deflate, free, platform, entries, extras, config = ast.literal_eval(
            out.decode("utf-8").strip())
    except (ValueError, SyntaxError, UnicodeDecodeError):
        raise ProtocolError(f"unexpected survey answer from the device: {out[:80]!r}") from None
    return DeviceState(version, mpy, bool(has_deflate), free, platform,
                       {p: _digest_pair(e) for p, e in zip(paths, entries)}, list(extras),
                       _json_object(config))


def _json_object(data: bytes | None) -> dict | None:
    """The device's config as a dict; None when missing or not a JSON object (a damaged file
    is simply replaced, never a reason to stop)."""
    try:
        value = json.loads(data) if data else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


@dataclass
class _Segment:
    path: str       # the file this code belongs to ("" for housekeeping)
    code: bytes


def encode_file(f: DeviceFile, *, compress: bool) -> list[bytes]:
    """The statements that write `f` on the device: open, one per piece, close-and-check."""
    statements = [f"_o({f.path!r})\n".encode()]
    for start in range(0, max(len(f.data), 1), PIECE):
        piece = f.data[start:start + PIECE]
        packed, z = piece, 0
        if compress:
            deflater = zlib.compressobj(9, zlib.DEFLATED, WBITS)
            candidate = deflater.compress(piece) + deflater.flush()
            if len(candidate) < len(piece):
                packed, z = candidate, 1
        if packed or not statements[1:]:
            statements.append(b"_w(b'" + base64.b64encode(packed) + b"'," + str(z).encode()
                              + b")\n")
    want = (base64.b64encode(f.digest), len(f.data))
    statements.append(f"_c({f.path!r},{want!r})\n".encode())
    return statements


def batches(plan: Plan, *, compress: bool) -> list[list[_Segment]]:
    """The plan's code, cut into execs of at most BATCH bytes (a piece is never split)."""
    segments: list[_Segment] = []
    dirs = sorted({f.path.rsplit("/", 1)[0] for f, _ in plan.upload} - {""})
    for d in dirs:
        segments.append(_Segment("", f"_md({d!r})\n".encode()))
    for f, _ in plan.upload:
        segments += [_Segment(f.path, s) for s in encode_file(f, compress=compress)]
    out: list[list[_Segment]] = [[]]
    size = 0
    for seg in segments:
        if out[-1] and size + len(seg.code) > BATCH:
            out.append([])
            size = 0
        out[-1].append(seg)
        size += len(seg.code)
    return out


class Progress(Protocol):
    """Hears how much of each file's code has gone out (progress.ProgressBar draws it)."""

    def begin(self, totals: dict[str, int]) -> None: ...
    def update(self, path: str, done: int) -> None: ...
    def end(self) -> None: ...


def apply(repl: RawRepl, plan: Plan, state: DeviceState, *,
          progress: Progress | None = None) -> None:
    """Upload, remove and verify; raises DeviceFull, DeviceError or FlashError."""
    if plan.empty:
        return
    free = state.free
    need = space_needed(plan, state)
    if free is not None and need > free:
        raise DeviceFull(f"filesystem full: the new files need {_size(need)} more and the "
                         f"device has {_size(free)} free")
    execs = batches(plan, compress=state.has_deflate) if plan.upload else [[]]
    totals: dict[str, int] = {}
    for batch in execs:
        for seg in batch:
            if seg.path:
                totals[seg.path] = totals.get(seg.path, 0) + len(seg.code)
    done = dict.fromkeys(totals, 0)
    written = [f.path for f, _ in plan.upload]
    if progress is not None:
        progress.begin(totals)
    try:
        for index, batch in enumerate(execs):
            code = b"".join(seg.code for seg in batch)
            if index == len(execs) - 1:
                if plan.remove:
                    code += f"_rm({plan.remove!r})\n".encode()
                code += f"print(repr(_inv({written!r})))\n".encode()
            on_sent = _progress_mapper(batch, dict(done), done, totals, progress)
            out, err = repl.exec_raw(code, on_sent=on_sent)
            if err:
                raise _write_error(DeviceError(err.decode("utf-8", "replace")), out, free, need)
    finally:
        if progress is not None:
            progress.end()
    lines = out.decode("utf-8").strip().splitlines()
    _verify(plan, lines[-1] if lines else "")


def _progress_mapper(batch: list[_Segment], base: dict[str, int], done: dict[str, int],
                     totals: dict[str, int],
                     progress: Progress | None) -> Callable[[int], None] | None:
    if progress is None:
        return None
    bounds = []
    offset = 0
    for seg in batch:
        bounds.append((offset, offset + len(seg.code), seg.path))
        offset += len(seg.code)

    def on_sent(sent: int) -> None:
        covered: dict[str, int] = {}
        for start, end, path in bounds:
            if path and start < sent:
                covered[path] = covered.get(path, 0) + min(sent, end) - start
        for path, n in covered.items():
            if base[path] + n != done[path]:
                done[path] = base[path] + n
                progress.update(path, done[path])
    return on_sent


def _write_error(error: DeviceError, out: bytes, free: int | None, need: int) -> FlashError:
    started = [line for line in out.decode("utf-8", "replace").splitlines()
               if line.startswith("/")]
    where = f" writing {started[-1]}" if started else ""
    if error.errno == ENOSPC or error.errno_name == "ENOSPC":
        had = f"; {_size(free)} were free before the run" if free is not None else ""
        return DeviceFull(f"filesystem full: the device ran out of space{where} "
                          f"(the new files need {_size(max(need, 0))} more{had})")
    return FlashError(f"{error}{where}")


def _verify(plan: Plan, answer: str) -> None:
    try:
        entries = ast.literal_eval(answer)
    except (ValueError, SyntaxError):
        raise ProtocolError(f"unexpected verification answer: {answer[:80]!r}") from None
    bad = [f.path for (f, _), entry in zip(plan.upload, entries)
           if _digest_pair(entry) != (f.digest, len(f.data))]
    if bad or len(entries) != len(plan.upload):
        raise FlashError("verification failed: the device's copy differs for "
                         + ", ".join(bad or ["some files"]))


def _size(n: int) -> str:
    return f"{n} B" if n < 1024 else f"{n / 1024:.1f} kB"
