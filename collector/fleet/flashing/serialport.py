"""Open a device's serial port with pyserial and say plainly what went wrong.

The port is opened exclusively (as mpremote does): two programs talking to one REPL at once
corrupt each other's transfers, so a port another program holds is "busy", not shared.

Ports without modem-control lines, such as pseudo-terminals (a board emulator, a socat
bridge), refuse the DTR/RTS ioctls with ENOTTY or EINVAL. pyserial tolerates that while
opening but not when DTR or RTS are set later; `ModemTolerantSerial` catches it, notes
`modem_control = False` and carries on: those lines mean nothing on such a port.
"""

from __future__ import annotations

import errno

import serial

from collector.fleet.flashing.errors import PortError


class ModemTolerantSerial(serial.Serial):
    """serial.Serial that goes on when the port has no DTR/RTS lines."""

    modem_control = True

    def _update_dtr_state(self) -> None:
        try:
            super()._update_dtr_state()
        except OSError as error:
            self._no_modem_lines(error)

    def _update_rts_state(self) -> None:
        try:
            super()._update_rts_state()
        except OSError as error:
            self._no_modem_lines(error)

    def _no_modem_lines(self, error: OSError) -> None:
        if error.errno not in (errno.ENOTTY, errno.EINVAL):
            raise error
        self.modem_control = False


def open_port(path: str, baud: int = 115200) -> ModemTolerantSerial:
    """The port, open, exclusive, raw; PortError with a one-line reason when it cannot be."""
    port = ModemTolerantSerial()
    port.port = path
    port.baudrate = baud
    port.timeout = 1.0
    port.write_timeout = 10.0  # a device that stops reading must not hang us forever
    port.exclusive = True
    try:
        port.open()
    except serial.SerialException as error:
        raise PortError(describe_open_error(path, error)) from None
    except OSError as error:  # pyserial lets a few errors of the open() call itself through
        raise PortError(describe_open_error(path, error)) from None
    # DTR and RTS as pyserial leaves them (both asserted) keep an ESP32 board's auto-reset
    # circuit released; native USB (CDC) ports want DTR asserted to send the REPL at all.
    port.dtr = True
    port.rts = True
    return port


def describe_open_error(path: str, error: OSError) -> str:
    code = error.errno
    text = str(error)
    if code == errno.ENOENT or "No such file" in text or "FileNotFoundError" in text:
        return f"no such port: {path} (is the board plugged in? list ports with " \
               "`python -m serial.tools.list_ports`)"
    if code in (errno.EBUSY, errno.EAGAIN) or "exclusively lock" in text or "busy" in text:
        return f"port busy: {path} is open in another program (mpremote, screen, an IDE); " \
               "close it and try again"
    if code == errno.EACCES or "Permission denied" in text:
        return f"permission denied on {path}: add yourself to the port's group " \
               "(dialout or uucp) and log in again"
    return f"cannot open {path}: {text}"
