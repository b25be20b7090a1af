"""Shared helpers for the firmware core tests (tests/core), on CPython and MicroPython alike.

The same test modules run under pytest on the host and under MicroPython 1.27 (WebAssembly
port in Node, tests/micropython/run.mjs), so this module sticks to what both have: no
pytest, no pathlib, no typing, no f-strings; `os` only for listdir/mkdir/remove/rename.

- raises(exc_type, fn, *args): call fn, return the exception it raised (fails otherwise);
- golden_cases(kind), golden_bytes(case), dumps_compact(obj), is_compact(data): the golden
  payloads of docs/protocol.md, found next to this folder (tests/golden) on the host and at
  GOLDEN_MP in the WebAssembly file system, where the harness copies them;
- TempDir: a fresh, empty directory that removes itself (`with TempDir() as d:`);
- FakeTransport: records the exact bytes the client sends and plays back scripted bytes;
- split_packets / parse_publish / publish_packet: a test-side MQTT packet parser and builder;
- FakeBroker: a tiny in-process MQTT peer for device-loop tests (answers CONNECT, SUBSCRIBE,
  PUBLISH QoS 1 and PINGREQ unless told to stay silent), which also plays the collector: it
  confirms each rating on the device's `ack` topic once the device subscribed to it
  (`confirm = False` to stay silent);
- FakeDisplay: records the lines shown.
"""

import errno
import json
import os
import sys

MICROPYTHON = sys.implementation.name == "micropython"
# Where tests/micropython/run.mjs puts the golden files inside the WebAssembly file system.
GOLDEN_MP = "/hailong/tests/golden"


# --- assertions ------------------------------------------------------------------------------

def raises(exc_type, fn, *args, **kwargs):
    """Call fn(*args, **kwargs); return the exc_type it raised, fail when it raised nothing."""
    try:
        fn(*args, **kwargs)
    except exc_type as e:
        return e
    raise AssertionError("did not raise " + exc_type.__name__)


# --- golden payloads -------------------------------------------------------------------------

def _parent(path):
    # os.path is not on every MicroPython port; paths here always use "/".
    path = path.replace("\\", "/")
    return path.rsplit("/", 1)[0] if "/" in path else "."


def repo_path(relative):
    """A file of the repository by its path from the top (the harness copies a few folders)."""
    if MICROPYTHON:
        return "/hailong/" + relative
    return _parent(_parent(_parent(os.path.abspath(__file__)))) + "/" + relative


def golden_dir():
    if MICROPYTHON:
        return GOLDEN_MP
    here = _parent(os.path.abspath(__file__))
    return _parent(here) + "/golden"


def golden_cases(kind=None):
    """Golden cases (dicts with an added "name"), by file name; only `kind` when given."""
    folder = golden_dir()
    cases = []
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".json"):
            continue
        with open(folder + "/" + name, "rb") as f:
            case = json.loads(f.read().decode("utf-8"))
        case["name"] = name[:-5]
        if kind is None or case["kind"] == kind:
            cases.append(case)
    if not cases:
        raise AssertionError("no golden cases of kind %r in %s" % (kind, folder))
    return cases


def golden_case(name):
    for case in golden_cases():
        if case["name"] == name:
            return case
    raise AssertionError("no golden case " + name)


def _make_dumps():
    # CPython escapes non-ASCII unless told not to; MicroPython writes UTF-8 as it is and has
    # no ensure_ascii argument. Both know `separators`.
    try:
        json.dumps("", separators=(",", ":"), ensure_ascii=False)
        return lambda obj: json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    except TypeError:
        return lambda obj: json.dumps(obj, separators=(",", ":"))


dumps_compact = _make_dumps()


def golden_bytes(case):
    """The payload bytes of a golden case: compact JSON, raw text or raw hex."""
    if "payload" in case:
        return dumps_compact(case["payload"]).encode("utf-8")
    if "raw" in case:
        return case["raw"].encode("utf-8")
    return bytes.fromhex(case["raw_hex"])


def is_compact(data):
    """True when `data` has no whitespace between tokens.

    Compared by length, not bytes: MicroPython dicts do not keep insertion order, so the same
    object may serialise with its keys in another order, but never to another length.
    """
    return len(data) == len(dumps_compact(json.loads(data)).encode("utf-8"))


# --- files -----------------------------------------------------------------------------------

_temp_count = [0]


def rename(src, dst):
    """Atomic replace: os.replace on CPython, os.rename on MicroPython (no os.replace)."""
    if hasattr(os, "replace"):
        os.replace(src, dst)
    else:
        os.rename(src, dst)


class OsFS:
    """The journal's file boundary on real files (what the hardware layer passes on the device)."""

    def open(self, path, mode):
        if "r" in mode:
            # MicroPython's WebAssembly port reports Emscripten errno numbers (44 for a
            # missing file, not errno.ENOENT); the device's littlefs VFS reports ENOENT.
            try:
                os.stat(path)
            except OSError:
                raise OSError(errno.ENOENT, path)
        return open(path, mode)

    def rename(self, src, dst):
        rename(src, dst)

    def remove(self, path):
        os.remove(path)


class TempDir:
    """A fresh empty directory (flat: files only), removed with its files on exit.

    On MicroPython it is under /tmp, which the harness mounts so that file errors carry
    MicroPython's errno numbers (tests/micropython/errno_vfs.py), as on the device.
    """

    def __init__(self):
        if MICROPYTHON:
            # The WebAssembly file system lives in memory and dies with the process.
            _temp_count[0] += 1
            self.path = "/tmp/core-test-%d" % _temp_count[0]
            os.mkdir(self.path)
        else:
            import tempfile
            self.path = tempfile.mkdtemp(prefix="core-test-")

    def file(self, name):
        return self.path + "/" + name

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for name in os.listdir(self.path):
            os.remove(self.path + "/" + name)
        os.rmdir(self.path)
        return False


# --- MQTT fakes ------------------------------------------------------------------------------

class FakeTransport:
    """The transport interface of kiosk.mqtt, in memory."""

    def __init__(self, chunks=()):
        self.sent = []
        self.inbox = list(chunks)
        self.closed = False
        self.fail_send = False

    def feed(self, data):
        self.inbox.append(bytes(data))

    def send(self, data):
        if self.closed or self.fail_send:
            raise OSError("send failed")
        self.sent.append(bytes(data))

    def recv(self, n):
        if not self.inbox:
            return b""
        data = self.inbox[0]
        if len(data) > n:
            self.inbox[0] = data[n:]
            return data[:n]
        self.inbox.pop(0)
        return data

    def readable(self):
        return bool(self.inbox)

    def close(self):
        self.closed = True

    def take(self):
        out = b"".join(self.sent)
        self.sent = []
        return out


def split_packets(data):
    """Split a byte stream into (first_byte, body) MQTT packets (test-side parser)."""
    out = []
    pos = 0
    while pos < len(data):
        first = data[pos]
        rl, mult, i = 0, 1, pos + 1
        while True:
            b = data[i]
            i += 1
            rl += (b & 0x7F) * mult
            if not b & 0x80:
                break
            mult *= 128
        out.append((first, data[i:i + rl]))
        pos = i + rl
    return out


def parse_publish(first, body):
    tlen = (body[0] << 8) | body[1]
    topic = body[2:2 + tlen].decode("utf-8")
    p = 2 + tlen
    pid = None
    if (first >> 1) & 3:
        pid = (body[p] << 8) | body[p + 1]
        p += 2
    return topic, pid, body[p:]


def subscribe_topics(body):
    """The topic filters of a SUBSCRIBE packet's body (after the packet id)."""
    topics = []
    p = 2
    while p < len(body):
        n = (body[p] << 8) | body[p + 1]
        topics.append(body[p + 2:p + 2 + n].decode("utf-8"))
        p += 3 + n  # length, filter, requested QoS
    return topics


def _u16(n):
    return bytes((n >> 8, n & 0xFF))


def publish_packet(topic, payload, qos=0, pid=1, retain=False):
    t = topic.encode("utf-8")
    var = _u16(len(t)) + t + (_u16(pid) if qos else b"")
    body = var + payload
    rl = bytearray()
    n = len(body)
    while True:
        b = n & 0x7F
        n >>= 7
        rl.append(b | (0x80 if n else 0))
        if not n:
            break
    return bytes((0x30 | (qos << 1) | int(retain),)) + bytes(rl) + body


class FakeBroker:
    """Answers the client over FakeTransports; records publishes (topic, payload, pid).

    Also the `net` boundary of kiosk.device: connect(host, port) -> transport. As the collector
    would, it confirms every rating it PUBACKed with an `ack` message (protocol: ack), one per
    rating, recorded in `confirmations` as (boot, seq) (the last 50: the heap benchmark runs
    thousands of presses), when `confirm` is on and the device has subscribed to its ack topic
    on this connection.
    """

    def __init__(self):
        self.transports = []
        self.publishes = []
        self.subscribes = []
        self.subscribed = []  # topics subscribed on the current connection
        self.confirmations = []
        self.confirmed = 0
        self.confirm = True
        self.ack_publishes = True
        self.refuse = False
        self.retained = {}
        self.attempts = 0

    def connect(self, host, port):
        self.attempts += 1
        if self.refuse:
            raise OSError("connection refused")
        t = FakeTransport()
        self.transports.append(t)
        self.subscribed = []
        return t

    @property
    def current(self):
        return self.transports[-1]

    def serve(self):
        """Process everything the current client sent since the last call."""
        if not self.transports:
            return
        t = self.current
        if t.closed:
            return
        for first, body in split_packets(t.take()):
            kind = first >> 4
            if kind == 1:
                t.feed(b"\x20\x02\x00\x00")  # CONNACK accepted; retained go after SUBSCRIBE
            elif kind == 3:
                topic, pid, payload = parse_publish(first, body)
                self.publishes.append((topic, payload, pid))
                if pid is not None and self.ack_publishes:
                    t.feed(b"\x40\x02" + _u16(pid))
                    self._confirm(t, topic, payload)
            elif kind == 8:
                pid = body[:2]
                self.subscribes.append(body)
                self.subscribed += subscribe_topics(body)
                t.feed(b"\x90\x04" + pid + b"\x01\x01")
                for topic in self.retained:
                    t.feed(publish_packet(topic, self.retained[topic], qos=1, pid=900,
                                          retain=True))
            elif kind == 12:
                t.feed(b"\xd0\x00")

    def _confirm(self, t, topic, payload):
        if not self.confirm or not topic.endswith("/rating"):
            return
        ack_topic = topic[:-len("rating")] + "ack"
        if ack_topic not in self.subscribed:
            return
        rating = json.loads(payload.decode("utf-8"))
        self.confirmations.append((rating["boot"], rating["seq"]))
        del self.confirmations[:-50]
        self.confirmed += 1
        body = dumps_compact({"v": 1, "boot": rating["boot"], "seq": [rating["seq"]]})
        t.feed(publish_packet(ack_topic, body.encode("utf-8"), qos=1,
                              pid=1000 + self.confirmed % 60000))

    def ratings(self):
        return [json.loads(p.decode("utf-8")) for (topic, p, pid) in self.publishes
                if topic.endswith("/rating")]


class FakeDisplay:
    def __init__(self):
        self.lines = []
        self.shows = 0

    def show(self, lines):
        self.lines = list(lines)
        self.shows += 1

    def text(self):
        return "\n".join(self.lines)
