"""Device entry point for MicroPython (copied to the ESP32 as /main.py).

Imports the ESP32 hardware layer, which builds the clock, network, display, buttons and
flash store and runs the loop. That layer is not written yet (issue 3); until then this file
says so instead of failing with a bare ImportError. Keep it tiny: everything testable lives in
the kiosk package.
"""

try:
    from kiosk import esp32
except ImportError as e:
    esp32 = None
    print("hailong: no ESP32 hardware layer (kiosk/esp32.py):", e)

if esp32 is not None:
    esp32.main()
