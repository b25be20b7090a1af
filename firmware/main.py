"""Device entry point for MicroPython (copied to the ESP32 as /main.py).

Runs the ESP32 hardware layer (kiosk.esp32), which builds the clock, network, display,
buttons and flash journal and runs the loop. Should it ever raise, the traceback goes to the
REPL and the board restarts after a pause: the journal keeps every rating the collector has
not confirmed, and a counter device must come back by itself. Keep it tiny: everything testable lives in kiosk.
"""

import sys
import time

import machine

from kiosk import esp32

try:
    esp32.main()
except Exception as error:  # the last line of defence: report, then start again
    sys.print_exception(error)
    time.sleep(10)  # time for a technician on the REPL to press Ctrl-C
    machine.reset()
