"""The device registry: add, list, show, retire and rotate credentials, with validation.

A thin service over `Store` (the only writer of SQL) and `queries` (reads on the same
connection). Everything a technician can get wrong raises `RegistryError` (a ValueError) with
a message fit to print as is; the command line only turns it into one line on stderr.

Each device's MQTT username is its device id: the protocol says the device id in a topic is
the one the broker's ACL binds to the credentials, and with username = id that binding is
plain to read in the ACL file and in the broker's log. The password is generated here, shown
once (returned in `IssuedCredentials`) and stored only as its Mosquitto hash.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Callable

from collector.db import audit, queries
from collector.org.credentials import generate_password, hash_password, verify_password
from collector.protocol.messages import DEVICE_ID_PATTERN, SCALES
from collector.db.store import DuplicateEntity, Store, UnknownEntity, now_ms
from collector.core.timeline import local_datetime

# Broker accounts that are not devices (the collector's, by default `hailong-collector`) take
# this prefix; a device id may not, so no device can ever log in as the collector.
RESERVED_PREFIX = "hailong"
# Counter and unit ids are typed by technicians and appear in URLs and command lines.
ENTITY_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}\Z")
MAX_COUNTER_LABEL = 40  # the assignment's `counter` limit (docs/protocol.md)
MAX_UNIT_NAME = 80      # the assignment's `officer.unit` limit


class RegistryError(ValueError):
    """A registry request that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class IssuedCredentials:
    """A device's new broker login. The password exists only here: show it once, then drop it."""
    device_id: str
    username: str
    password: str


def format_time(unix_ms: int | None) -> str:
    """Local time as Vietnamese offices write it: 26/11/2025 14:03."""
    return "" if unix_ms is None else local_datetime(unix_ms).strftime("%d/%m/%Y %H:%M")


def check_device_id(device_id: str) -> None:
    if not DEVICE_ID_PATTERN.match(device_id):
        raise RegistryError(f"bad device id {device_id!r}: 2 to 32 characters of a-z, 0-9 and "
                            "'-', starting with a letter or digit (e.g. kiosk-hk-05)")
    if device_id.startswith(RESERVED_PREFIX):
        raise RegistryError(f"device ids may not start with {RESERVED_PREFIX!r}: that prefix "
                            "is kept for the broker accounts of hailong itself")


def _check_entity_id(kind: str, value: str) -> None:
    if not ENTITY_ID_PATTERN.match(value):
        raise RegistryError(f"bad {kind} id {value!r}: 1 to 40 characters of letters, digits, "
                            "'.', '_' and '-'")


def _text(kind: str, value: str, limit: int) -> str:
    # Composed form: the device's fonts hold precomposed Vietnamese letters.
    value = unicodedata.normalize("NFC", value.strip())
    if not 0 < len(value) <= limit:
        raise RegistryError(f"{kind} must be 1 to {limit} characters")
    return value


class Registry:
    """Registry operations on one `Store`. Not thread-safe, like the store it wraps."""

    def __init__(self, store: Store, *, clock: Callable[[], int] = now_ms,
                 new_password: Callable[[], str] = generate_password, actor: str = "system"):
        self.store = store
        self.db = store.db
        self.clock = clock
        self.new_password = new_password
        self.actor = actor  # who is recorded in the audit log for each change

    def _audit(self, action: str, device_id: str, before: Any, after: Any, at: int) -> None:
        audit.append(self.db, actor=self.actor, action=action, subject=f"device:{device_id}",
                     before=before, after=after, at=at)

    # --- reads --------------------------------------------------------------------------

    def devices(self, *, include_retired: bool = False) -> list[dict[str, Any]]:
        return queries.registry_devices(self.db, include_retired=include_retired)

    def show(self, device_id: str) -> dict[str, Any]:
        device = queries.registry_device(self.db, device_id)
        if device is None:
            raise RegistryError(f"no device {device_id!r} in the registry")
        return device

    def check_password(self, device_id: str, password: str) -> bool:
        """Is this the active device's current password? (e.g. the one already on a board
        being re-flashed, which can then keep it instead of being issued a new one)."""
        hashed = queries.device_password_hash(self.db, device_id)
        return hashed is not None and verify_password(password, hashed)

    # --- writes -------------------------------------------------------------------------

    def add(self, device_id: str, counter_id: str, *, scale: int = 4,
            counter_label: str | None = None, unit_id: str | None = None,
            unit_name: str | None = None) -> IssuedCredentials:
        """Register a device at a counter (created if label and unit are given); new login.

        The roster is the counter's and is left as it is: a board that replaces another (or
        joins it) at the same counter shows whoever the roster has on duty there, so the
        citizen sees no gap and no shift is cut short.
        """
        check_device_id(device_id)
        if scale not in SCALES:
            raise RegistryError(f"scale must be one of {', '.join(map(str, SCALES))}")
        existing = queries.registry_device(self.db, device_id)
        if existing is not None:
            if existing["retired_at"] is not None:
                raise RegistryError(
                    f"device {device_id!r} was retired on {format_time(existing['retired_at'])}"
                    "; device ids are never reused (its rating ids would collide), "
                    "choose a new id")
            raise RegistryError(f"device {device_id!r} is already registered; use "
                                "rotate-credentials for a new password")
        self._ensure_counter(counter_id, counter_label, unit_id, unit_name)
        password = self.new_password()
        at = self.clock()
        try:
            # One transaction: the device and its audit entry are stored together or not at all.
            with self.db.atomic():
                self.store.add_device(device_id, counter_id, scale, hash_password(password),
                                      at=at)
                self._audit("device.add", device_id, None,
                            {"counter": counter_id, "scale": scale}, at)
        except (DuplicateEntity, UnknownEntity) as error:  # lost a race with another writer
            raise RegistryError(str(error)) from None
        return IssuedCredentials(device_id, device_id, password)

    def retire(self, device_id: str) -> dict[str, Any]:
        """Retire a device: its ratings stay; its messages and its broker login are refused."""
        device = self.show(device_id)
        if device["retired_at"] is not None:
            raise RegistryError(f"device {device_id!r} was already retired on "
                                f"{format_time(device['retired_at'])}")
        at = self.clock()
        with self.db.atomic():
            self.store.retire_device(device_id, at=at)
            self._audit("device.retire", device_id, {"retired_at": None},
                        {"retired_at": at}, at)
        return self.show(device_id)

    def rotate_credentials(self, device_id: str) -> IssuedCredentials:
        """Issue a new password; the old one stops working once the broker files are reloaded."""
        device = self.show(device_id)
        if device["retired_at"] is not None:
            raise RegistryError(f"device {device_id!r} is retired; a retired device gets no "
                                "credentials")
        password = self.new_password()
        at = self.clock()
        with self.db.atomic():
            self.store.set_device_password(device_id, hash_password(password), at=at)
            # Never the password or its hash: the log is readable by more people.
            self._audit("device.rotate_credentials", device_id,
                        {"credentials_issued_at": device["credentials_issued_at"]},
                        {"credentials_issued_at": at}, at)
        return IssuedCredentials(device_id, device_id, password)

    def _ensure_counter(self, counter_id: str, label: str | None, unit_id: str | None,
                        unit_name: str | None) -> None:
        counter = queries.get_counter(self.db, counter_id)
        if counter is not None:
            # Options that would create the counter must agree with it, not silently differ.
            if label is not None and _text("counter label", label, MAX_COUNTER_LABEL) \
                    != counter["label"]:
                raise RegistryError(f"counter {counter_id!r} exists as {counter['label']!r}; "
                                    "leave out --counter-label or give that label")
            if unit_id is not None and unit_id != counter["unit_id"]:
                raise RegistryError(f"counter {counter_id!r} belongs to unit "
                                    f"{counter['unit_id']!r}, not {unit_id!r}")
            return
        _check_entity_id("counter", counter_id)
        if label is None or unit_id is None:
            raise RegistryError(f"no counter {counter_id!r}; give --counter-label and --unit "
                                "to create it")
        label = _text("counter label", label, MAX_COUNTER_LABEL)
        _check_entity_id("unit", unit_id)
        if queries.get_unit(self.db, unit_id) is None:
            if unit_name is None:
                raise RegistryError(f"no unit {unit_id!r}; give --unit-name to create it")
            self.store.upsert_unit(unit_id, _text("unit name", unit_name, MAX_UNIT_NAME))
        self.store.upsert_counter(counter_id, label, unit_id)
