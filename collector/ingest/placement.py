"""Pure placement of a press (and of a status) in time.

A device without a synced clock still knows its uptime; the collector knows when a status
from the same boot arrived and the uptime it carried, which anchors that boot's uptime to the
collector's clock (docs/protocol.md, "Placing a press in time"). collector/ingest/recording.py
applies these rules as it stores each message.
"""

from __future__ import annotations

from dataclasses import dataclass

from collector.protocol.messages import TS_MIN_MS

# A device clock more than this ahead of the collector's when the rating arrived is wrong (a
# press cannot arrive before it happened); within it, ordinary drift between two NTP-synced
# clocks and the collector's own is forgiven. The press is then placed as if `ts` were null.
DEVICE_TS_AHEAD_TOLERANCE_MS = 10 * 60_000
# A status whose `received - uptime` is this much later than its boot's epoch was delayed
# (a broker backlog): its place in time is the epoch plus its uptime, not its arrival. Large
# enough for a crystal's drift over weeks of uptime; no larger than the silence a device is
# allowed (evidence.MAX_SILENCE_MS), so a misplaced status never moves an online span further.
STATUS_LATE_MS = 180_000


@dataclass(frozen=True)
class BootAnchor:
    """A status of `boot` carried `uptime_ms` and reached the collector at `received_at`; a
    boot's epoch (its start on the collector's clock) is BootAnchor(boot, 0, epoch)."""
    boot: int
    uptime_ms: int
    received_at: int


def boot_epoch(received_at: int, uptime_ms: int, earlier: int | None) -> int | None:
    """The boot's epoch after one more message of it: the earliest `received - uptime`.
    Every delay (network, broker queue, retained replay) makes the estimate later, never
    earlier, so the earliest is the closest and a late message cannot move it later. An
    estimate before TS_MIN_MS (an uptime longer than the clock allows) is no boot's start:
    it is ignored, or it would pull every press of the boot into the past for good."""
    observed = received_at - uptime_ms
    if observed < TS_MIN_MS:
        return earlier
    return observed if earlier is None else min(earlier, observed)


def place_status(*, uptime_ms: int, received_at: int, epoch: int | None) -> int:
    """Where an online status of a boot with `epoch` (before this status) sits in time: its
    arrival while it is fresh, else the epoch plus its uptime (it came from a backlog)."""
    if epoch is not None and received_at - uptime_ms - epoch > STATUS_LATE_MS:
        return epoch + uptime_ms
    return received_at


def place_press(*, ts: int | None, boot: int, uptime_ms: int, anchor: BootAnchor | None,
                received_at: int, clock_ms: int | None = None) -> tuple[int, str]:
    """Return (pressed_at unix ms, time_source) for one press.

    `device` when the device's `ts` is given and not beyond the collector's clock
    (`clock_ms`, when the rating is recorded; default `received_at`) by more than
    DEVICE_TS_AHEAD_TOLERANCE_MS; otherwise `uptime` when the boot is anchored, else
    `received`. The stored `device_ts` beside `time_source` shows a clock that was ignored.
    """
    clock_ms = received_at if clock_ms is None else clock_ms
    if ts is not None and ts <= clock_ms + DEVICE_TS_AHEAD_TOLERANCE_MS:
        return ts, "device"
    if anchor is not None and anchor.boot == boot:
        pressed_at = anchor.received_at + (uptime_ms - anchor.uptime_ms)
        # Not after the clock either: an uptime beyond the boot's life is not a time.
        if pressed_at <= clock_ms + DEVICE_TS_AHEAD_TOLERANCE_MS:
            return pressed_at, "uptime"
    return received_at, "received"
