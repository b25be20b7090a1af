"""Progress of an upload on stderr: the current file and the whole run, each with a bar.

Written here rather than taken from tqdm: two bars on one line are forty lines of code, and
one dependency less is one thing less for a technician's laptop to install. On a terminal the
line is redrawn in place (at most ten times a second); anywhere else (a log, CI) each file
gets one line when it is done, so logs stay readable.
"""

from __future__ import annotations

import sys
import time
from typing import Callable, TextIO

BAR = 20
REDRAW_S = 0.1


def bar(fraction: float, width: int = BAR) -> str:
    filled = int(round(max(0.0, min(1.0, fraction)) * width))
    return "[" + "#" * filled + "-" * (width - filled) + "]"


def kb(n: int) -> str:
    return f"{n / 1024:.1f}"


class ProgressBar:
    """Implements sync.Progress: begin(totals), update(path, done), end()."""

    def __init__(self, stream: TextIO = sys.stderr, *, interactive: bool | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.stream = stream
        self.interactive = stream.isatty() if interactive is None else interactive
        self.clock = clock
        self.totals: dict[str, int] = {}
        self.done: dict[str, int] = {}
        self.started = 0.0
        self._drawn = 0.0
        self._width = 0

    def begin(self, totals: dict[str, int]) -> None:
        self.totals = dict(totals)
        self.done = dict.fromkeys(totals, 0)
        self.started = self._drawn = self.clock()

    def update(self, path: str, done: int) -> None:
        self.done[path] = done
        total = self.totals.get(path, 0)
        if self.interactive:
            now = self.clock()
            if done >= total or now - self._drawn >= REDRAW_S:
                self._drawn = now
                self._draw(self.line(path))
        elif done >= total:
            self.stream.write(f"  {path}  {kb(total)} kB sent\n")
            self.stream.flush()

    def line(self, path: str) -> str:
        all_done, all_total = sum(self.done.values()), sum(self.totals.values()) or 1
        total = self.totals.get(path, 0) or 1
        elapsed = max(self.clock() - self.started, 1e-6)
        return (f"{bar(all_done / all_total)} {100 * all_done // all_total:3d}% "
                f"{kb(all_done)}/{kb(all_total)} kB {all_done / 1024 / elapsed:4.1f} kB/s  "
                f"{bar(self.done[path] / total, 10)} {path}")

    def _draw(self, text: str) -> None:
        pad = " " * max(0, self._width - len(text))
        self._width = len(text)
        self.stream.write("\r" + text + pad)
        self.stream.flush()

    def end(self) -> None:
        if self.interactive and self._width:
            self.stream.write("\n")
            self.stream.flush()
