"""hailong counter device firmware ("kiosk").

The core modules (codec, mqtt, outbox, rating, screen, device, clock) are pure: they take the
clock, network, display and storage as small objects passed in, so the same code runs under
CPython on the host (tests, simulation) and under MicroPython 1.27 on the ESP32. Only the
hardware layers (sim.py here, the ESP32 layer later) import socket, time, machine or network.
"""

# Sent in every rating and status payload (`fw`, 1..16 chars, docs/protocol.md).
FW_VERSION = "0.2.0"
