"""A file system for the MicroPython WebAssembly port whose errors carry MicroPython's errno.

The port's VfsPosix passes Emscripten's errno values through (they follow WASI): a missing
file raises OSError(44) where MicroPython on the ESP32 (littlefs) raises
OSError(errno.ENOENT), which is 2. Core code that looks at the number ("no journal file yet")
would take another path here than on the device. ErrnoVfs wraps a VfsPosix folder and turns
the numbers into MicroPython's; run.mjs mounts it over /tmp, where the core tests write their
files (core_support.TempDir). MicroPython only: imported by the harness, never by the core.
"""

import errno
import vfs

# Emscripten (WASI) errno -> MicroPython errno (Linux numbering), for what file calls raise.
# MicroPython's errno module lacks some names; their Linux values are written out.
_MAP = {
    63: errno.EPERM,
    44: errno.ENOENT,
    29: errno.EIO,
    8: errno.EBADF,
    48: errno.ENOMEM,
    2: errno.EACCES,
    20: errno.EEXIST,
    43: errno.ENODEV,
    54: 20,  # ENOTDIR
    31: errno.EISDIR,
    28: errno.EINVAL,
    51: 28,  # ENOSPC
    69: 30,  # EROFS
    37: 36,  # ENAMETOOLONG
    55: 39,  # ENOTEMPTY
}


def _call(fn, *args):
    try:
        return fn(*args)
    except OSError as e:
        code = e.args[0] if e.args else None
        if code in _MAP:
            raise OSError(_MAP[code])
        raise


class ErrnoVfs:
    """The VFS protocol of MicroPython (vfs.mount), delegating to VfsPosix under `root`.

    Paths are joined here rather than with VfsPosix(root): in 1.27 VfsPosix builds both paths
    of rename() in one shared buffer when it has a root, so rename fails with ENOENT.
    """

    def __init__(self, root):
        self._v = vfs.VfsPosix()
        self._root = root.rstrip("/")

    def _p(self, path):
        # The mount hands over paths relative to the mount point, starting with "/".
        if not path.startswith("/"):
            path = "/" + path
        return self._root + path if path != "/" else self._root

    def mount(self, readonly, mkfs):
        pass

    def umount(self):
        pass

    def open(self, path, mode):
        return _call(self._v.open, self._p(path), mode)

    def ilistdir(self, path):
        return _call(self._v.ilistdir, self._p(path))

    def stat(self, path):
        return _call(self._v.stat, self._p(path))

    def statvfs(self, path):
        return _call(self._v.statvfs, self._p(path))

    def mkdir(self, path):
        return _call(self._v.mkdir, self._p(path))

    def rmdir(self, path):
        return _call(self._v.rmdir, self._p(path))

    def remove(self, path):
        return _call(self._v.remove, self._p(path))

    def rename(self, old, new):
        return _call(self._v.rename, self._p(old), self._p(new))

    def chdir(self, path):
        return _call(self._v.chdir, self._p(path))

    def getcwd(self):
        cwd = self._v.getcwd()
        return cwd[len(self._root):] or "/" if cwd.startswith(self._root) else cwd


def mount(path):
    """Mount an ErrnoVfs of the existing folder `path` over itself."""
    vfs.mount(ErrnoVfs(path), path)
