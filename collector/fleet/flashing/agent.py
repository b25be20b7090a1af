"""Device side of `hailong flash`: MicroPython sent as text into the raw REPL, never imported.

sync.py sends this file once per session (comments, blank lines and this docstring stripped
to save line time); later exec calls use its functions by their short names. It must run on
MicroPython 1.19+ (no f-strings, no walrus); one 512-byte buffer serves every read.

    _info(paths, dirs)  (version, _mpy, has deflate, free bytes, platform, files, extras,
                        config): (base64 SHA-256, size) of every path (None when missing),
                        the files found in `dirs` that are not in `paths`, and the bytes of
                        /config.json (the registry may keep credentials it still accepts),
                        all in one exchange
    _o(path)            open path + ".part" for writing (and print the path)
    _w(data, z)         append base64 `data`, deflate-compressed (zlib format) when z
    _c(path, want)      close, hash the .part file, and only when (digest, size) is `want`
                        rename it over path: a file is either the old one or the whole new one
    _rm(paths)          remove files
    _inv(paths)         (digest, size) of paths, for the check after writing

On an ESP32 the firmware's hardware watchdog (8 s) keeps running after Ctrl-C and soft reset;
_k() feeds it, with a longer timeout, so that a transfer is not cut by a reset, and a run
abandoned half-way still ends in a reset into the firmware (30 s later).
"""
import binascii
import hashlib
import io
import os
import sys
try:
    import deflate
except ImportError:
    deflate = None
_b = bytearray(512)
_m = memoryview(_b)
_f = None
_t = None
_wd = None
if sys.platform == "esp32":
    from machine import WDT
    _wd = WDT(timeout=30000)


def _k():
    if _wd:
        _wd.feed()


def _h(p):
    try:
        f = open(p, "rb")
    except OSError:
        return None
    h = hashlib.sha256()
    n = 0
    with f:
        while True:
            r = f.readinto(_b)
            if not r:
                break
            n += r
            h.update(_m[:r])
    return binascii.b2a_base64(h.digest())[:-1], n


def _inv(paths):
    _k()
    return [_h(p) for p in paths]


def _extras(paths, dirs):
    x = []
    for d in dirs:
        try:
            entries = list(os.ilistdir(d))
        except OSError:
            continue
        for e in entries:
            p = d.rstrip("/") + "/" + e[0]
            if e[1] == 0x8000 and p not in paths and (d != "/" or p.endswith(".part")):
                x.append(p)
    return x


def _rd(p):
    try:
        with open(p, "rb") as f:
            return f.read()
    except OSError:
        return None


def _info(paths, dirs):
    _k()
    try:
        s = os.statvfs("/")
        free = s[0] * s[3]
    except (AttributeError, OSError):
        free = None
    v = sys.implementation.version
    return ("%d.%d.%d" % (v[0], v[1], v[2]), getattr(sys.implementation, "_mpy", None),
            deflate is not None, free, sys.platform, _inv(paths), _extras(paths, dirs),
            _rd("/config.json"))


def _md(d):
    try:
        os.stat(d)
    except OSError:
        os.mkdir(d)


def _o(p):
    global _f, _t
    _k()
    # Printed so that the host can name the file when a write fails (e.g. ENOSPC).
    print(p)
    _t = p + ".part"
    _f = open(_t, "wb")


def _w(d, z):
    _k()
    try:
        d = binascii.a2b_base64(d)
        if z:
            s = deflate.DeflateIO(io.BytesIO(d), deflate.ZLIB)
            while True:
                n = s.readinto(_b)
                if not n:
                    break
                _f.write(_m[:n])
        else:
            _f.write(d)
    except OSError:
        _drop()
        raise


def _drop():
    global _f
    if _f:
        _f.close()
        _f = None
        os.remove(_t)


def _c(p, want):
    global _f
    _f.close()
    _f = None
    if _h(_t) != want:
        os.remove(_t)
        raise ValueError("hash mismatch after writing " + p)
    try:
        os.rename(_t, p)
    except OSError as e:
        # FAT cannot rename over a file (EEXIST); littlefs, the ESP32's default, can.
        if e.args[0] != 17:
            raise
        os.remove(p)
        os.rename(_t, p)


def _rm(paths):
    for p in paths:
        os.remove(p)
