"""MQTT passwords: generated with `secrets`, kept only as Mosquitto-compatible hashes.

The hash is the one Mosquitto 2.0 reads from its password file and `mosquitto_passwd` writes
by default ("sha512-pbkdf2"):

    $7$ITERATIONS$SALT_B64$HASH_B64

PBKDF2-HMAC-SHA512 over the UTF-8 password, a 12-byte random salt and a 64-byte digest, both
in standard base64 with padding; the salt is used as raw bytes, not as its base64 text. This
was checked against mosquitto_passwd and the broker of Debian's mosquitto 2.0.11
(tests/test_broker_acl.py keeps checking both directions). Writing the hash here rather than
shelling out to mosquitto_passwd means the registry does not depend on the broker's tools
being installed where the collector runs, and no password ever appears on a command line.

Pure apart from `load_or_create_secret`, which reads or creates one secret file.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

import bcrypt

# mosquitto_passwd's own default. Device passwords carry ~99 bits of randomness, so the
# iteration count adds nothing against guessing them; what matters is the broker's cost: it
# runs the hash on every CONNECT, and on a reload (SIGHUP) for every connected client.
PBKDF2_ITERATIONS = 101
SALT_BYTES = 12
DIGEST_BYTES = 64
_B64 = r"[A-Za-z0-9+/]+={0,2}"
HASH_PATTERN = re.compile(rf"^\$7\$([1-9][0-9]{{0,8}})\$({_B64})\$({_B64})\Z")

# Lower-case letters and digits without the look-alikes 0/o, 1/l/i: a technician may have to
# read the password off a screen and type it. 31 symbols x 20 = 99 bits.
ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
GROUPS = 4
GROUP_LENGTH = 5
# A collector password supplied by the operator must not be trivially guessable.
MIN_SECRET_LENGTH = 16


def generate_password(groups: int = GROUPS, group_length: int = GROUP_LENGTH) -> str:
    """A fresh random password such as `k3f9q-7hwmx-2dcpa-rt8nz` (URL-safe, easy to read)."""
    return "-".join("".join(secrets.choice(ALPHABET) for _ in range(group_length))
                    for _ in range(groups))


def hash_password(password: str, *, iterations: int = PBKDF2_ITERATIONS,
                  salt: bytes | None = None) -> str:
    """The `$7$` PBKDF2-SHA512 hash Mosquitto verifies; a new random salt unless one is given."""
    if not password:
        raise ValueError("a password cannot be empty")
    if iterations < 1:
        raise ValueError("iterations must be at least 1")
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations,
                                 DIGEST_BYTES)
    return "$7${}${}${}".format(iterations, base64.b64encode(salt).decode("ascii"),
                                base64.b64encode(digest).decode("ascii"))


def is_password_hash(encoded: str) -> bool:
    """True when `encoded` is a well-formed `$7$` hash (safe to write into a password file)."""
    return _decode(encoded) is not None


def verify_password(password: str, encoded: str) -> bool:
    """Does `password` match the `$7$` hash? Constant-time comparison; False if malformed."""
    parts = _decode(encoded)
    if parts is None:
        return False
    iterations, salt, digest = parts
    candidate = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations,
                                    len(digest))
    return hmac.compare_digest(candidate, digest)


def _decode(encoded: str) -> tuple[int, bytes, bytes] | None:
    match = HASH_PATTERN.match(encoded)
    if not match:
        return None
    try:
        salt = base64.b64decode(match.group(2), validate=True)
        digest = base64.b64decode(match.group(3), validate=True)
    except binascii.Error:
        return None
    if not salt or len(digest) != DIGEST_BYTES:
        return None
    return int(match.group(1)), salt, digest


def load_or_create_secret(path: Path) -> tuple[str, bool]:
    """Read the secret in `path` (first line), or create the file with a new one (mode 0600).

    Returns (secret, created). Used for the collector's own broker password, which the
    collector needs in plain text to connect, so it lives in a file only its owner can read.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        secret = generate_password()
        # O_EXCL: never overwrite a secret another process created meanwhile.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(secret + "\n")
        return secret, True
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as error:
        raise ValueError(f"cannot read the password file {path}: {error}") from None
    lines = text.splitlines()
    secret = lines[0].strip() if lines else ""
    if len(secret) < MIN_SECRET_LENGTH:
        raise ValueError(f"the password in {path} is shorter than {MIN_SECRET_LENGTH} "
                         "characters; put a longer one there, or delete the file to have "
                         "one generated")
    return secret, False


# NATS Server verifies only bcrypt hashes (`$2b$`); the registry keeps one beside the `$7$`
# hash, made from the same password when it is issued (collector/org/natsconf.py). Cost 4,
# bcrypt's minimum, for the reason PBKDF2_ITERATIONS is low: the passwords carry ~99 random
# bits, and the broker pays the cost on every CONNECT (3,000 devices reconnecting at once).
BCRYPT_COST = 4
# bcrypt reads at most 72 bytes of a password; a longer one would be cut without a word.
BCRYPT_MAX_BYTES = 72
BCRYPT_PATTERN = re.compile(r"^\$2[aby]\$[0-9]{2}\$[./A-Za-z0-9]{53}\Z")


def bcrypt_hash(password: str, *, cost: int = BCRYPT_COST) -> str:
    """The `$2b$` bcrypt hash NATS Server verifies (its `password` of a user)."""
    data = password.encode("utf-8")
    if not data or len(data) > BCRYPT_MAX_BYTES:
        raise ValueError(f"a bcrypt password has 1 to {BCRYPT_MAX_BYTES} bytes")
    return bcrypt.hashpw(data, bcrypt.gensalt(rounds=cost)).decode("ascii")


def verify_bcrypt(password: str, encoded: str) -> bool:
    """Does `password` match the bcrypt hash? False if either is malformed."""
    data = password.encode("utf-8")
    if not BCRYPT_PATTERN.match(encoded) or not data or len(data) > BCRYPT_MAX_BYTES:
        return False
    return bcrypt.checkpw(data, encoded.encode("ascii"))
