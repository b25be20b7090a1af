"""ESP32 hardware layer: the only module that imports machine and network.

It gives the pure core (kiosk.device) its boundaries on the real board and runs the loop:
- clock: uptime from wrapping ticks (kiosk.clock), wall time once NTP has set the RTC;
- buttons: an interrupt per button that only appends the edge to a preallocated ring
  (kiosk.buttons); the loop debounces, reports a press on release and a long press
  (technician screen) after long_press_ms;
- display: ILI9341/ST7789 over SPI (kiosk.tft), every screen drawn into one RGB565 framebuf
  with the Vietnamese bitmap fonts (kiosk.draw, kiosk.font), colours byte-swapped for the panel;
- network: Wi-Fi with reconnect and backoff, or W5500 Ethernet; the broker's address resolved
  once; sockets with timeouts;
- flash: the outbox journal and the boot counter (kiosk.journal, kiosk.bootcount);
- watchdog: an 8 s hardware watchdog fed by the loop; LED and buzzer feedback.

Boot never waits for the network: the journal, the boot counter and the screen come up first
and the device takes ratings from the first second; Wi-Fi, NTP and MQTT follow in the loop.
A bad configuration or pin map shows the configuration-error screen (when the display pins
are usable) and prints the problems on the REPL; the device then stays up for the technician.

Blocking calls and their bounds: the MQTT TCP connect (CONNECT_TIMEOUT_S) and NTP (1 s) may
stall the loop briefly; presses are not lost meanwhile, the interrupt ring keeps their edges.
"""

import framebuf
import gc
import os
import select
import socket
import time

import machine
import network
import ntptime

from kiosk import buttons, draw, font, pins, rating, screen, tft
from kiosk import config as config_file
from kiosk.bootcount import BootCounter
from kiosk.clock import UptimeCounter
from kiosk.device import Device
from kiosk.journal import Journal

CONFIG_PATH = "/config.json"
PINMAP_PATH = "/pinmap.json"
JOURNAL_PATH = "/outbox.jnl"
BOOT_PATH = "/boot.bin"
FONTS_DIR = "/fonts"
WATCHDOG_MS = 8000
LOOP_MS = 10
CONNECT_TIMEOUT_S = 1.0
IO_TIMEOUT_S = 2.0
WIFI_RETRY_MIN_MS = 2000
WIFI_RETRY_MAX_MS = 60000
NTP_EVERY_MS = 6 * 3600 * 1000
BEEP_MS = 60
# MicroPython's esp32 port counts time from 2000-01-01 on older builds, 1970 on newer ones.
# Read at import, like the board's own modules above.
EPOCH_OFFSET_S = 946684800 if time.gmtime(0)[0] == 2000 else 0


def root_is_fat():
    """True when / is a FAT volume (an ESP32 image built with FAT instead of littlefs).

    FAT rewrites a file's last sector in place after erasing it, so a power cut there can
    destroy records synced before: the journal then keeps two copies (kiosk.journal)."""
    try:
        import vfs
        for mounted, point in vfs.mount():
            if point == "/":
                return type(mounted).__name__ == "VfsFat"
    except (ImportError, TypeError, AttributeError):
        pass  # MicroPython before 1.23 cannot list its mounts: the default image is littlefs
    return False


class FlashFS:
    """The journal's file-system boundary: littlefs by default, FAT with the mirrored journal."""

    def __init__(self):
        self.journal_copies = 2 if root_is_fat() else 1

    def open(self, path, mode):
        return open(path, mode)

    def rename(self, src, dst):
        os.rename(src, dst)

    def remove(self, path):
        os.remove(path)


class EspClock:
    def __init__(self):
        self._uptime = UptimeCounter(time.ticks_ms, time.ticks_diff)
        self.synced = False

    def uptime_ms(self):
        return self._uptime.uptime_ms()

    def wall_ms(self):
        if not self.synced:
            return None
        return time.time_ns() // 1000000 + EPOCH_OFFSET_S * 1000

    def uptime_at(self, ticks):
        """Uptime of a ticks_ms() value taken a moment ago (by an interrupt handler)."""
        return self.uptime_ms() - time.ticks_diff(time.ticks_ms(), ticks)


class SocketTransport:
    """kiosk.mqtt's transport over a MicroPython socket with timeouts."""

    def __init__(self, sock):
        self._sock = sock
        self._poll = select.poll()
        self._poll.register(sock, select.POLLIN)

    def send(self, data):
        view = memoryview(data)
        while view:
            sent = self._sock.write(view)  # raises OSError(ETIMEDOUT) after IO_TIMEOUT_S
            if not sent:
                raise OSError("socket closed while sending")
            view = view[sent:]

    def recv(self, n):
        return self._sock.recv(n)

    def readable(self):
        return bool(self._poll.poll(0))

    def close(self):
        self._sock.close()


class Link:
    """Wi-Fi (or W5500 Ethernet) kept up in the background; the Device's `net` boundary."""

    def __init__(self, config, pinmap):
        self.wifi = config["wifi"]
        self._address = None
        self._next_try = 0
        self._retry_ms = WIFI_RETRY_MIN_MS
        if self.wifi is None and pinmap.get("ethernet"):
            self.iface = _ethernet(pinmap["ethernet"])
        else:
            self.iface = network.WLAN(network.STA_IF)
        self.iface.active(True)

    def step(self, now):
        if self.iface.isconnected():
            self._retry_ms = WIFI_RETRY_MIN_MS
            return
        if self.wifi is None or now < self._next_try:
            return
        # connect() returns at once; the association completes in the background.
        try:
            self.iface.disconnect()
            self.iface.connect(self.wifi["ssid"], self.wifi["password"])
        except OSError as error:
            print("wifi:", error)
        self._next_try = now + self._retry_ms
        self._retry_ms = min(self._retry_ms * 2, WIFI_RETRY_MAX_MS)

    @property
    def up(self):
        return self.iface.isconnected()

    def connect(self, host, port):
        if not self.iface.isconnected():
            raise OSError("network down")
        if self._address is None:
            # DNS once: a resolver that hangs would stall every reconnect.
            self._address = socket.getaddrinfo(host, port)[0][-1]
        sock = socket.socket()
        try:
            sock.settimeout(CONNECT_TIMEOUT_S)
            sock.connect(self._address)
            sock.settimeout(IO_TIMEOUT_S)
        except OSError:
            sock.close()
            self._address = None  # the broker may have moved; resolve again next time
            raise
        return SocketTransport(sock)

    def rssi(self):
        if self.wifi is None or not self.iface.isconnected():
            return None
        return self.iface.status("rssi")


def _ethernet(spec):
    spi_spec = spec["spi"]
    spi = machine.SPI(spi_spec["id"], baudrate=spi_spec["baudrate"],
                      sck=machine.Pin(spi_spec["sck"]), mosi=machine.Pin(spi_spec["mosi"]),
                      miso=machine.Pin(spi_spec["miso"]))
    # The stubs list only the internal-MAC signature; the esp32 port's SPI Ethernet takes
    # spi/cs/int as keywords (MicroPython docs, network.LAN).
    return network.LAN(spi=spi, cs=machine.Pin(spec["cs"]),  # type: ignore[call-arg]
                       int=machine.Pin(spec["int"]), phy_type=network.PHY_W5500, phy_addr=0)


class Screen:
    """The Device's `display` boundary: draw items into the framebuf, push it to the panel."""

    def __init__(self, pinmap):
        spec = pinmap["display"]
        bus = spec["spi"]
        # Every SPI pin named: the generic S3 build's SPI(1) defaults are PSRAM pins.
        spi = machine.SPI(bus["id"], baudrate=bus["baudrate"], sck=machine.Pin(bus["sck"]),
                          mosi=machine.Pin(bus["mosi"]),
                          miso=machine.Pin(bus["miso"]) if bus["miso"] is not None else None)
        out = machine.Pin.OUT
        backlight = machine.Pin(spec["backlight"], out) if spec.get("backlight") else None
        self.width = spec["width"]
        self.height = spec["height"]
        self.panel = tft.Display(spi, machine.Pin(spec["cs"], out), machine.Pin(spec["dc"], out),
                                 machine.Pin(spec["rst"], out), self.width, self.height,
                                 driver=spec["driver"], rotation=spec["rotation"],
                                 sleep_ms=time.sleep_ms, backlight=backlight)
        self.panel.init()
        # 150 kB: allocated once, in PSRAM on the N16R8 module.
        self.buffer = bytearray(self.width * self.height * 2)
        self.fb = framebuf.FrameBuffer(self.buffer, self.width, self.height, framebuf.RGB565)
        self.fonts = font.open_fonts(FONTS_DIR, whole=False)
        self.button_order = None
        self.problems = 0

    def show(self, items):
        result = draw.draw_screen(self.fb, self.width, self.height, items, self.fonts,
                                  button_order=self.button_order, swap=True)
        if result.problems:
            self.problems += len(result.problems)
            print("screen:", result.problems)
        self.panel.show(self.buffer)


class Buttons:
    """Interrupts → edge ring → debounced presses for the Device; lights follow the scale."""

    def __init__(self, pinmap, clock, device, long_ms):
        self.pinmap = pinmap
        self.clock = clock
        self.device = device
        fitted = pinmap["buttons"]
        self.pins = [machine.Pin(b["pin"], machine.Pin.IN, machine.Pin.PULL_UP) for b in fitted]
        self.leds = [machine.Pin(b["led"], machine.Pin.OUT) if b.get("led") is not None else None
                     for b in fitted]
        self.levels = [None] * len(fitted)  # physical button index -> level on this scale
        self.scale = None
        self.ring = buttons.EdgeRing()
        self.tracker = buttons.ButtonTracker(len(fitted), self._press, self._long_press,
                                             long_ms=long_ms)
        for index, pin in enumerate(self.pins):
            pin.irq(trigger=machine.Pin.IRQ_FALLING | machine.Pin.IRQ_RISING,
                    handler=self._handler(index))

    def _handler(self, index):
        ring = self.ring
        ticks_ms = time.ticks_ms

        def on_edge(pin):
            ring.push(index, pin.value(), ticks_ms())
        return on_edge

    def follow_scale(self, scale):
        """Map buttons to the levels of `scale` (a 3-level scale leaves one button unused)."""
        if scale == self.scale:
            return
        self.scale = scale
        by_pin = {}
        for level, pin, led in pins.button_pins(self.pinmap, scale):
            by_pin[pin] = level
        for index, spec in enumerate(self.pinmap["buttons"]):
            self.levels[index] = by_pin.get(spec["pin"])

    def _press(self, index, down_ms):
        level = self.levels[index]
        if level is not None:
            self.device.press(level, down_ms)

    def _long_press(self, index, at_ms):
        level = self.levels[index]
        if level is not None:
            self.device.long_press(level, at_ms)

    def step(self, now, lit):
        clock = self.clock
        self.ring.drain(lambda index, value, ticks:
                        self.tracker.edge(index, value, clock.uptime_at(ticks)))
        self.tracker.tick(now)
        for index, led in enumerate(self.leds):
            if led is not None:
                led.value(1 if lit and self.levels[index] is not None else 0)


class Feedback:
    """A short beep for each accepted press; the status LED lit while the broker is reached."""

    def __init__(self, pinmap):
        self.buzzer = machine.PWM(machine.Pin(pinmap["buzzer"]), freq=2400, duty_u16=0)
        self.led = machine.Pin(pinmap["status_led"], machine.Pin.OUT)
        self._beep_until = None
        self._seq = 0

    def step(self, now, device):
        if device.panel.seq != self._seq:  # a new record: the citizen hears it was taken
            self._seq = device.panel.seq
            self.buzzer.duty_u16(32768)
            self._beep_until = now + BEEP_MS
        elif self._beep_until is not None and now >= self._beep_until:
            self.buzzer.duty_u16(0)
            self._beep_until = None
        self.led.value(1 if device.connected else 0)


class Ntp:
    def __init__(self, server, clock):
        self.server = server
        self.clock = clock
        self._next = 0

    def step(self, now, link_up):
        if self.server is None or not link_up or now < self._next:
            return
        ntptime.host = self.server
        ntptime.timeout = 1
        try:
            ntptime.settime()
            self.clock.synced = True
            self._next = now + NTP_EVERY_MS
        except OSError as error:
            print("ntp:", error)
            self._next = now + 60000


# What main() built, for a technician at the REPL (Ctrl-C, then kiosk.esp32.state["device"])
# and for the bench tests.
state = {}  # type: dict


def read_text(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8")


def load_config():
    """The configuration for Device.reload_config: raises ValueError naming the problems."""
    config, problems = config_file.load_config(read_text(CONFIG_PATH))
    if problems:
        raise ValueError("; ".join(problems))
    return config


def halt_with_problems(display, problems, wdt):
    """Show the configuration-error screen and stay up for the technician (REPL over USB)."""
    for problem in problems:
        print("config:", problem)
    if display is not None:
        panel = rating.Panel(0)
        panel.show_config_error(problems)
        display.show(screen.render(panel, 0))
    while True:
        wdt.feed()
        time.sleep_ms(500)


def main():
    wdt = machine.WDT(timeout=WATCHDOG_MS)  # from the first line: a hang during boot resets
    try:
        pinmap = pins.load_pinmap(read_text(PINMAP_PATH))
        problems = pins.check_pinmap(pinmap)
    except (OSError, ValueError) as error:
        pinmap, problems = None, [PINMAP_PATH + ": " + str(error)]
    if problems or pinmap is None:
        halt_with_problems(None, problems, wdt)  # no trustworthy display pins to draw with
        return
    display = Screen(pinmap)
    try:
        config, problems = config_file.load_config(read_text(CONFIG_PATH))
    except OSError as error:
        config, problems = None, [CONFIG_PATH + ": " + str(error)]
    if problems or config is None:
        halt_with_problems(display, problems, wdt)
        return
    fs = FlashFS()
    journal = Journal(fs, JOURNAL_PATH)
    config["boot"] = BootCounter(fs, BOOT_PATH).advance(journal.max_boot)
    clock = EspClock()
    link = Link(config, pinmap)
    device = Device(config, clock, link, display, store=journal, load_config=load_config,
                    mem_free=gc.mem_free)
    keys = Buttons(pinmap, clock, device, config["long_press_ms"])
    feedback = Feedback(pinmap)
    ntp = Ntp(config["ntp"], clock)
    state.update(device=device, journal=journal, link=link, buttons=keys, display=display)
    print("hailong", device.device_id, "boot", config["boot"], "queued", len(journal))
    while True:
        wdt.feed()
        now = clock.uptime_ms()
        keys.follow_scale(device.panel.scale)
        keys.step(now, device.panel.screen(now) in (rating.CARD, rating.REASON))
        link.step(now)
        device.step()
        feedback.step(now, device)
        ntp.step(now, link.up)
        time.sleep_ms(LOOP_MS)
