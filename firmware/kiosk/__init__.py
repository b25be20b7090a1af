"""hailong counter device firmware ("kiosk").

The core modules (codec, mqtt, outbox, sender, journal, rating, screen, device, clock) are pure: they take the
clock, network, display and storage as small objects passed in, so the same code runs under
CPython on the host (tests, simulation) and under MicroPython 1.27 on the ESP32. Only the
hardware layers (sim.py here, the ESP32 layer later) import socket, time, machine or network.
"""

# Sent in every rating and status payload (`fw`, 1..16 chars, docs/protocol.md).
# 0.3.0: a rating leaves the journal on the collector's confirmation (the `ack` topic).
FW_VERSION = "0.3.0"
