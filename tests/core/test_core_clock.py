"""The non-wrapping uptime built from MicroPython's wrapping ticks."""

from kiosk.clock import UptimeCounter


def test_uptime_does_not_wrap():
    period = 1 << 30  # MicroPython esp32 ticks_ms period
    ticks = [period - 100]

    def ticks_diff(a, b):
        return ((a - b + period // 2) % period) - period // 2

    up = UptimeCounter(lambda: ticks[0], ticks_diff)
    assert up.uptime_ms() == 0
    ticks[0] = 50  # wrapped
    assert up.uptime_ms() == 150
    for _ in range(5):
        ticks[0] = (ticks[0] + period // 4) % period
        up.uptime_ms()
    assert up.uptime_ms() == 150 + 5 * (period // 4)
