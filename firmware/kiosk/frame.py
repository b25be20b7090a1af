"""The byte format of the outbox journal (kiosk.journal): one CRC'd frame per change.

    n = encode_frame(K_REC, rec, buf, mv)          # frame in buf[:n]; ValueError if it cannot
    got = decode_frame(buf, p, end, mv)            # (kind, values, next) or None (no frame)

Frame (integers little-endian):
    0      MAGIC 0xA5       lets recovery find the next frame after a damaged one
    1      L                body length, 1..255
    2      kind             "H" header, "R" record, "A" ack (the record was removed)
    3..    fields           L - 1 bytes
    2+L    CRC32            of bytes 0 .. 2+L-1 (magic, length and body)
Fields: a variable tuple, each field a tag byte and its data: 0x00 None; 0x10|w an int >= 0
in w bytes little-endian (w 0..8; 0 bytes is zero); 0x20|w an int < 0 stored as -1-n; 0x30
a str: one byte of length, then UTF-8. A record is the rating tuple itself (kiosk.rating, 8
or 10 fields, or more later), its first two fields (boot, seq) its key; an ack is the key;
the header is (VERSION, max_boot) (kiosk.journal). A typical rating (officer "HK-0001", a
25-char dossier, a reason) frames to ~74 bytes, the largest protocol-valid one to 230; no
frame exceeds MAX_FRAME (261).

Errors: a value that cannot be encoded (field type, an int beyond 64 bits, a frame over 255
body bytes) raises ValueError; the buffer then holds garbage, nothing else changed. Decoding
never raises on damage: bytes that are no valid frame (magic, length, CRC, or fields that do
not parse) give None, and the caller counts them.

Constraints: MicroPython compatible; frames are built in the caller's buffer of MAX_FRAME
bytes, allocated once, and its memoryview lets the CRC read them without a copy.
"""

import binascii
import struct

try:
    from micropython import const
except ImportError:  # CPython host
    def const(x):
        return x

MAGIC = const(0xA5)
K_HEAD = const(0x48)  # "H"
K_REC = const(0x52)  # "R"
K_ACK = const(0x41)  # "A"
MAX_BODY = const(255)  # one length byte: also bounds what a damaged length can make us skip
MAX_FRAME = const(261)  # magic + length + body + CRC
FIELDS = const(3)  # offset of the first field in a frame
CRC_LEN = const(4)  # the CRC32 after the fields

_T_NONE = const(0x00)
_T_INT = const(0x10)  # | width: int >= 0, `width` bytes little-endian (0 bytes: zero)
_T_NEG = const(0x20)  # | width: int < 0, stored as -1 - n
_T_STR = const(0x30)  # then one length byte and the UTF-8 bytes
_BODY_END = const(257)  # buffer offset where the largest body ends (2 header bytes + 255)
_SHARE_LEN = const(16)  # decoding shares equal strings up to this length (officer, reason)...
_SHARE_SLOTS = const(64)  # ...remembering at most this many distinct ones


# --- encoding ------------------------------------------------------------------------------

def encode_frame(kind, values, buf, mv=None):
    """Build the frame of `kind` with the fields `values` in buf (at least MAX_FRAME bytes);
    returns its size. `mv` is memoryview(buf), made once by the caller. ValueError when a
    value cannot be encoded."""
    if mv is None:
        mv = memoryview(buf)
    buf[0] = MAGIC
    buf[2] = kind
    p = FIELDS
    for v in values:
        p = _put_field(buf, p, v)
    buf[1] = p - 2
    struct.pack_into("<I", buf, p, binascii.crc32(mv[:p]))
    return p + CRC_LEN


def key_of(values):
    """The key (boot, seq) of a record's or an ack's fields; ValueError when they have none."""
    if len(values) < 2 or type(values[0]) is not int or type(values[1]) is not int:
        raise ValueError("record key must be two ints")
    return (values[0], values[1])


def _byte(buf, p, b):
    if p >= _BODY_END:
        raise ValueError("record too long")
    buf[p] = b
    return p + 1


def _put_int(buf, p, tag, n):
    w = 0
    m = n
    while m:
        w += 1
        m >>= 8
    if w > 8:
        raise ValueError("int beyond 64 bits")
    p = _byte(buf, p, tag | w)
    while n:
        p = _byte(buf, p, n & 0xFF)
        n >>= 8
    return p


def _put_field(buf, p, v):
    if v is None:
        return _byte(buf, p, _T_NONE)
    t = type(v)
    if t is int:
        if v >= 0:
            return _put_int(buf, p, _T_INT, v)
        return _put_int(buf, p, _T_NEG, -1 - v)
    if t is str:
        data = v.encode("utf-8")
        n = len(data)
        if n > MAX_BODY:
            raise ValueError("record too long")
        p = _byte(buf, _byte(buf, p, _T_STR), n)
        if p + n > _BODY_END:
            raise ValueError("record too long")
        buf[p:p + n] = data
        return p + n
    raise ValueError("field type " + str(t))


# --- decoding ------------------------------------------------------------------------------

def decode_frame(buf, p, end, mv=None, record_fields=MAX_BODY):
    """The valid frame at buf[p] (bytes up to `end` are loaded): (kind, values, next), next
    the offset after it; None when there is none (magic, length, CRC or fields do not check).

    A record's fields are decoded up to `record_fields` of them: replay needs only the key
    of a record it will most likely drop (acked records are most of a long journal). Other
    kinds are always decoded whole."""
    if mv is None:
        mv = memoryview(buf)
    size = _frame_size(buf, mv, p, end)
    if not size:
        return None
    kind = buf[p + 2]
    try:
        values = decode_fields(buf, p + FIELDS, p + size - CRC_LEN,
                               record_fields if kind == K_REC else MAX_BODY)
    except ValueError:
        return None  # a CRC-valid frame we cannot read is damage as well
    return (kind, values, p + size)


def decode_fields(buf, p, end, limit=MAX_BODY, shared=None):
    """Decode the fields buf[p:end] (at most `limit` of them) into a list; ValueError when
    they do not parse. `shared` (a dict) makes equal short strings one object."""
    out = []
    add = out.append
    while p < end and limit:
        limit -= 1
        t = buf[p]
        p += 1
        if t == _T_NONE:
            add(None)
            continue
        w = t & 0x0F
        if t == _T_STR:
            if p >= end:
                raise ValueError("truncated string")
            n = buf[p]
            p += 1
            if p + n > end:
                raise ValueError("truncated string")
            raw = bytes(buf[p:p + n])
            p += n
            if shared is None or n > _SHARE_LEN:
                add(raw.decode("utf-8"))
                continue
            s = shared.get(raw)
            if s is None:
                s = raw.decode("utf-8")
                if len(shared) < _SHARE_SLOTS:
                    shared[raw] = s
            add(s)
            continue
        kind = t & 0xF0
        if (kind != _T_INT and kind != _T_NEG) or w > 8 or p + w > end:
            raise ValueError("field tag")
        if w == 1:
            v = buf[p]
        elif w == 0:
            v = 0
        else:
            # from_bytes makes an exactly sized long int; shifts and ors would leave
            # MicroPython's long ints with spare digits.
            v = int.from_bytes(buf[p:p + w], "little")
        p += w
        add(v if kind == _T_INT else -1 - v)
    return out


def _frame_size(buf, mv, p, n):
    # Size of the valid frame at buf[p] (n bytes are loaded), or 0 when there is none.
    if buf[p] != MAGIC or p + 1 >= n:
        return 0
    length = buf[p + 1]
    end = p + 2 + length
    if length == 0 or end + 4 > n:
        return 0
    if binascii.crc32(mv[p:end]) != struct.unpack_from("<I", buf, end)[0]:
        return 0
    return length + 6
