"""A stand-in ESP32 board for running the real kiosk.esp32 on the host and under MicroPython.

kiosk.esp32 is the only module that imports machine and network; here they are small fakes
that record what the layer does with the pins, the SPI bus, the buzzer and the radio, and a
virtual `time` whose clock moves only when the loop sleeps, so a 3-second hold takes no
3 seconds. The watchdog is the scenario's hook: the loop feeds it once per turn, and the
board plays the scripted button edges and network changes of that turn, then ends the run
by raising StopBoard after the last turn.

Use:
    board = Board(script={5: [("press", 7)], 9: [("release", 7)]}, turns=100)
    esp32 = board.load_esp32()       # a fresh kiosk.esp32 bound to the fakes
    esp32.CONFIG_PATH = ...          # then point its files at a temporary folder
    board.run(esp32.main)            # returns when the script's turns are played

MicroPython compatible (runs in tests/micropython/run.mjs): no typing, no f-strings.
"""

import sys


class StopBoard(Exception):
    pass


class Board:
    def __init__(self, script=None, turns=100, wifi_up=False):
        self.script = script or {}
        self.turns = turns
        self.turn = 0
        self.now_ms = 0
        self.wifi_up = wifi_up
        self.pins = {}  # gpio -> FakePin (the last one made for that gpio)
        self.spi_frames = []  # size of each RAMWR payload (whole frames)
        self.spi_writes = 0
        self.duties = []  # buzzer duty_u16 values set, in order
        self.wifi_connects = []
        self.sockets = 0
        self.feeds = 0
        self.resets = 0

    # --- scenario ------------------------------------------------------------------------

    def feed(self):
        self.feeds += 1
        self.turn += 1
        for action, arg in self.script.get(self.turn, ()):
            if action == "press":
                self.pins[arg].drive(0)
            elif action == "release":
                self.pins[arg].drive(1)
            elif action == "wifi":
                self.wifi_up = arg
        if self.turn >= self.turns:
            raise StopBoard()

    def run(self, main):
        try:
            main()
        except StopBoard:
            pass

    # --- the fake modules -----------------------------------------------------------------

    def modules(self):
        return {"machine": _machine(self), "network": _network(self), "time": _time(self),
                "socket": _socket(self), "gc": _gc(), "ntptime": _ntptime()}

    def load_esp32(self):
        """Import a fresh kiosk.esp32 whose machine/network/time/socket/gc are these fakes."""
        fakes = self.modules()
        saved = {}
        for name in fakes:
            saved[name] = sys.modules.get(name)
            sys.modules[name] = fakes[name]
        if "framebuf" not in sys.modules:
            try:
                import framebuf  # noqa: F401  (real on MicroPython)
            except ImportError:
                from kiosk import hostfb
                sys.modules["framebuf"] = hostfb
        import kiosk
        try:
            del kiosk.esp32  # a package keeps its submodules as attributes: import afresh
        except (AttributeError, KeyError):  # MicroPython says KeyError
            pass
        sys.modules.pop("kiosk.esp32", None)
        try:
            from kiosk import esp32
        finally:
            for name in fakes:
                if saved[name] is None:
                    sys.modules.pop(name, None)
                else:
                    sys.modules[name] = saved[name]
        return esp32


class _Namespace:
    pass


def _machine(board):
    m = _Namespace()

    class Pin:
        IN = 1
        OUT = 3
        PULL_UP = 1
        IRQ_FALLING = 2
        IRQ_RISING = 1

        def __init__(self, gpio, mode=None, pull=None):
            self.gpio = gpio
            self.mode = mode
            self._value = 1 if pull == Pin.PULL_UP else 0
            self.handler = None
            board.pins[gpio] = self

        def value(self, v=None):
            if v is None:
                return self._value
            self._value = v

        def irq(self, trigger=None, handler=None):
            self.handler = handler

        def drive(self, v):
            """A button moves: the level changes and the interrupt handler runs."""
            self._value = v
            if self.handler is not None:
                self.handler(self)

    class SPI:
        def __init__(self, bus_id, baudrate=None, sck=None, mosi=None, miso=None):
            self.bus_id = bus_id
            self._last_command = None

        def write(self, data):
            board.spi_writes += 1
            if len(data) == 1:
                self._last_command = data[0]
            elif self._last_command == 0x2C:  # RAMWR: a whole frame follows
                board.spi_frames.append(len(data))

    class PWM:
        def __init__(self, pin, freq=None, duty_u16=None):
            self.pin = pin

        def duty_u16(self, v=None):
            if v is not None:
                board.duties.append(v)

    class WDT:
        def __init__(self, timeout=None):
            self.timeout = timeout

        def feed(self):
            board.feed()

    def reset():
        board.resets += 1
        raise StopBoard()

    m.Pin = Pin
    m.SPI = SPI
    m.PWM = PWM
    m.WDT = WDT
    m.reset = reset
    return m


def _network(board):
    n = _Namespace()

    class WLAN:
        def __init__(self, iface=None):
            self._active = False

        def active(self, v=None):
            if v is not None:
                self._active = v
            return self._active

        def isconnected(self):
            return board.wifi_up

        def connect(self, ssid=None, key=None):
            board.wifi_connects.append(ssid)

        def disconnect(self):
            pass

        def status(self, param=None):
            return -61

    n.STA_IF = 0
    n.WLAN = WLAN
    n.LAN = WLAN
    n.PHY_W5500 = 6
    return n


def _time(board):
    t = _Namespace()
    period = 1 << 30  # the esp32 port's ticks period: the layer must cope with the wrap

    def ticks_ms():
        return board.now_ms % period

    def ticks_diff(a, b):
        return ((a - b + period // 2) % period) - period // 2

    def sleep_ms(ms):
        board.now_ms += ms

    t.ticks_ms = ticks_ms
    t.ticks_diff = ticks_diff
    t.sleep_ms = sleep_ms
    t.time_ns = lambda: 1764064800000000000 + board.now_ms * 1000000
    t.gmtime = lambda secs=None: (1970, 1, 1, 0, 0, 0, 3, 1)
    return t


def _socket(board):
    s = _Namespace()

    class Socket:
        def __init__(self, *args):
            board.sockets += 1

        def settimeout(self, t):
            pass

        def connect(self, address):
            raise OSError(111)  # ECONNREFUSED: this bench has no broker

        def close(self):
            pass

    s.getaddrinfo = lambda host, port: [(2, 1, 0, "", (host, port))]
    s.socket = Socket
    return s


def _gc():
    g = _Namespace()
    g.mem_free = lambda: 123456
    g.collect = lambda: None
    return g


def _ntptime():
    n = _Namespace()
    n.host = None
    n.timeout = 1
    n.settime = lambda: None
    return n
