"""The device registry: add, list, show, retire and rotate credentials, with validation.

A device is placed at its counter from now, or from the local midnight of a past day
(`placed_from`, "YYYY-MM-DD"): loading a history the registry never saw. Moving a device
re-attributes ratings, which belongs to a layer above this one: collector/fleet/moves.py, on
`move_device_placement` and `placement_start` here.

The writes of `devices`, `device_credentials` and `device_placements` (all of them: the
service's, and the seed's shortcut `register_device`), then a thin service over them and the
reads of collector/org/devices.py and directory.py (on the same connection). Everything a
technician can get wrong raises `RegistryError` (a ValueError) with a message fit to print as
is; the command line only turns it into one line on stderr.

Each device's MQTT username is its device id: the protocol says the device id in a topic is
the one the broker's ACL binds to the credentials, and with username = id that binding is
plain to read in the ACL file and in the broker's log. The password is generated here, shown
once (returned in `IssuedCredentials`) and stored only as its Mosquitto hash.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

import sqlite_utils

from collector.db import audit
from collector.org.devices import device_password_hash, registry_device, registry_devices
from collector.org.directory import get_counter, get_unit
from collector.org.credentials import (
    bcrypt_hash,
    generate_password,
    hash_password,
    verify_password,
)
from collector.protocol.messages import DEVICE_ID_PATTERN, SCALES, TS_MIN_MS
from collector.db.store import (
    DuplicateEntity,
    Store,
    UnknownEntity,
    now_ms,
    require,
    write_transaction,
)
from collector.org.organisation import upsert_counter, upsert_unit
from collector.core.timeline import LOCAL_TZ, local_datetime

# Broker accounts that are not devices (the collector's, by default `hailong-collector`) take
# this prefix; a device id may not, so no device can ever log in as the collector.
RESERVED_PREFIX = "hailong"
# Counter and unit ids are typed by technicians and appear in URLs and command lines.
ENTITY_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}\Z")
MAX_COUNTER_LABEL = 40  # the assignment's `counter` limit (docs/protocol.md)
MAX_UNIT_NAME = 80      # the assignment's `officer.unit` limit
DAY_PATTERN = re.compile(r"^(\d{4})-(\d{2})-(\d{2})\Z")  # \Z: $ lets "2026-11-03\n" through


class RegistryError(ValueError):
    """A registry request that cannot be done; the message says why and what to do.
    Given a Vietnamese and an English text, one line: "vietnamese / english"."""

    def __init__(self, message: str, en: str | None = None):
        super().__init__(message if en is None else f"{message} / {en}")


@dataclass(frozen=True)
class IssuedCredentials:
    """A device's new broker login. The password exists only here: show it once, then drop it."""
    device_id: str
    username: str
    password: str


def format_time(unix_ms: int | None) -> str:
    """Local time as Vietnamese offices write it: 26/11/2025 14:03."""
    return "" if unix_ms is None else local_datetime(unix_ms).strftime("%d/%m/%Y %H:%M")


def placement_start(day: str, now: int) -> int:
    """The local midnight (UTC+7) starting `day` ("YYYY-MM-DD"), in unix ms; refused when
    malformed, in the future (after `now`'s day) or before the ratings' clock begins (2020)."""
    match = DAY_PATTERN.match(day)
    try:
        start = datetime(*map(int, match.groups()), tzinfo=LOCAL_TZ) if match else None
    except ValueError:  # 2026-02-30
        start = None
    if start is None:
        raise RegistryError(f"ngày phải có dạng YYYY-MM-DD, ví dụ 2026-11-03, không phải {day!r}",
                            f"the date must look like 2026-11-03 (YYYY-MM-DD), not {day!r}")
    at = int(start.timestamp() * 1000)
    if at > now:
        raise RegistryError(f"ngày {day} còn ở tương lai; vị trí đặt thiết bị chỉ bắt đầu "
                            "được từ hôm nay trở về trước",
                            f"{day} is in the future; a placement starts today at the latest")
    if start.date() < local_datetime(TS_MIN_MS).date():
        raise RegistryError(f"ngày {day} trước năm 2020, trước mọi đánh giá hailong ghi nhận",
                            f"{day} is before 2020, earlier than any rating hailong records")
    return at


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


# --- the writes of devices, their credentials and placements --------------------------------

def is_active_device(db: sqlite_utils.Database, device_id: str) -> bool:
    """Registered and not retired: the devices whose messages count (ingest, registry)."""
    return db.execute("SELECT 1 FROM devices WHERE id = ? AND retired_at IS NULL",
                      [device_id]).fetchone() is not None


def register_device(db: sqlite_utils.Database, device_id: str, counter_id: str,
                    scale: int = 4, *, at: int | None = None) -> None:
    """Register a device at a counter, or move it; its first registration time is kept.
    No credentials: the seed's and the tests' shortcut (`add_device` issues them)."""
    at = now_ms() if at is None else at
    with write_transaction(db):
        require(db, "counters", counter_id)
        db["devices"].insert({"id": device_id, "counter_id": counter_id, "scale": scale,
                              "registered_at": at}, pk="id", ignore=True)
        db["devices"].update(device_id, {"counter_id": counter_id, "scale": scale,
                                         "retired_at": None})
        _place(db, device_id, counter_id, at)


def add_device(db: sqlite_utils.Database, device_id: str, counter_id: str, scale: int,
               password_hash: str, *, at: int | None = None,
               placed_from: int | None = None, bcrypt: str | None = None) -> None:
    """Register a new device with its first credentials, in one transaction.

    An id ever registered is refused (DuplicateEntity), retired or not: rating ids are
    `{device}:{boot}:{seq}` and a new board starts counting boots again, so a reused id would
    make its first ratings look like redeliveries of the old board's and be dropped as
    duplicates. The counter's roster is the counter's: it is not touched, and the new device
    follows it (its ratings go to whoever the roster has on duty at the counter).
    Registered and issued its credentials `at`; placed at the counter from `placed_from`
    (default `at`). A new id has no ratings, so an earlier placement moves none.
    """
    at = now_ms() if at is None else at
    with write_transaction(db):
        require(db, "counters", counter_id)
        if db.execute("SELECT 1 FROM devices WHERE id = ?", [device_id]).fetchone():
            raise DuplicateEntity(f"device {device_id!r} is already registered")
        db["devices"].insert({"id": device_id, "counter_id": counter_id, "scale": scale,
                              "registered_at": at})
        db["device_credentials"].insert({"device_id": device_id,
                                         "password_hash": password_hash, "issued_at": at,
                                         "bcrypt_hash": bcrypt})
        _place(db, device_id, counter_id, at if placed_from is None else placed_from)


def set_device_password(db: sqlite_utils.Database, device_id: str, password_hash: str, *,
                        at: int | None = None, bcrypt: str | None = None) -> None:
    """Replace an active device's credentials; the previous hashes are gone for good (both:
    a bcrypt hash of the old password left beside the new one would keep it valid on NATS)."""
    at = now_ms() if at is None else at
    with write_transaction(db):
        if not is_active_device(db, device_id):
            raise UnknownEntity(f"no active device with id {device_id!r}")
        db["device_credentials"].upsert({"device_id": device_id,
                                         "password_hash": password_hash, "issued_at": at,
                                         "bcrypt_hash": bcrypt},
                                        pk="device_id")


def retire_device(db: sqlite_utils.Database, device_id: str, *, at: int | None = None) -> None:
    """Take a device out of service: its ratings stay, its credentials and placement end.

    The counter's roster is the counter's, not the device's: it stays for a replacement.
    """
    at = now_ms() if at is None else at
    with write_transaction(db):
        retired = db.execute("UPDATE devices SET retired_at = ? WHERE id = ? "
                             "AND retired_at IS NULL", [at, device_id])
        if retired.rowcount != 1:
            raise UnknownEntity(f"no active device with id {device_id!r}")
        db.execute("DELETE FROM device_credentials WHERE device_id = ?", [device_id])
        db.execute("UPDATE device_placements SET ends_at = max(starts_at, ?) "
                   "WHERE device_id = ? AND ends_at IS NULL", [at, device_id])


def add_past_placement(db: sqlite_utils.Database, device_id: str, counter_id: str,
                       starts_at: int) -> None:
    """Record that the device stood at `counter_id` from `starts_at` until its first recorded
    placement (open-ended if it has none): a past the registry never saw (the demo's history)."""
    with write_transaction(db):
        first = db.execute("SELECT min(starts_at) FROM device_placements WHERE device_id = ?",
                           [device_id]).fetchone()[0]
        db.execute("INSERT INTO device_placements (device_id, counter_id, starts_at, ends_at) "
                   "VALUES (?, ?, ?, ?)", [device_id, counter_id, starts_at, first])


def move_device_placement(db: sqlite_utils.Database, device_id: str, counter_id: str,
                          starts_at: int) -> tuple[str, int]:
    """Place an active device at `counter_id` from `starts_at`, ending its current placement
    there; returns that placement's (counter, start). Refused when `starts_at` is not after
    every placement the device already has: placements never overlap, and one that ends
    where it starts would say nothing. Ratings are not touched (collector/fleet/moves.py)."""
    with write_transaction(db):
        require(db, "counters", counter_id)
        clash = db.execute(
            "SELECT counter_id, starts_at, ends_at FROM device_placements WHERE device_id = ? "
            "AND (ends_at > ? OR (ends_at IS NULL AND starts_at >= ?)) "
            "ORDER BY starts_at DESC LIMIT 1", [device_id, starts_at, starts_at]).fetchone()
        if clash:
            ended = clash[2] is not None
            raise RegistryError(
                f"thiết bị {device_id} đã ở quầy {clash[0]!r} từ {format_time(clash[1])}"
                + (f" đến {format_time(clash[2])}" if ended else "")
                + "; vị trí mới phải bắt đầu sau đó",
                f"device {device_id} already stood at counter {clash[0]!r} from "
                f"{format_time(clash[1])}" + (f" to {format_time(clash[2])}" if ended else "")
                + "; a new placement must start after that")
        current = db.execute("SELECT counter_id, starts_at FROM device_placements "
                             "WHERE device_id = ? AND ends_at IS NULL", [device_id]).fetchone()
        moved = db.execute("UPDATE devices SET counter_id = ? WHERE id = ? "
                           "AND retired_at IS NULL", [counter_id, device_id])
        if moved.rowcount != 1 or current is None:
            raise UnknownEntity(f"no active device with id {device_id!r}")
        _place(db, device_id, counter_id, starts_at)
    return current[0], current[1]


def _place(db: sqlite_utils.Database, device_id: str, counter_id: str, at: int) -> None:
    """Record that the device serves `counter_id` from `at`, unless it already does."""
    current = db.execute("SELECT counter_id FROM device_placements WHERE device_id = ? "
                         "AND ends_at IS NULL", [device_id]).fetchone()
    if current and current[0] == counter_id:
        return
    db.execute("UPDATE device_placements SET ends_at = max(starts_at, ?) "
               "WHERE device_id = ? AND ends_at IS NULL", [at, device_id])
    db.execute("INSERT INTO device_placements (device_id, counter_id, starts_at) "
               "VALUES (?, ?, ?)", [device_id, counter_id, at])


# --- the service -----------------------------------------------------------------------------

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
        return registry_devices(self.db, include_retired=include_retired)

    def show(self, device_id: str) -> dict[str, Any]:
        device = registry_device(self.db, device_id)
        if device is None:
            raise RegistryError(f"không có thiết bị {device_id!r} trong sổ đăng ký",
                                f"no device {device_id!r} in the registry")
        return device

    def check_password(self, device_id: str, password: str) -> bool:
        """Is this the active device's current password? (e.g. the one already on a board
        being re-flashed, which can then keep it instead of being issued a new one)."""
        hashed = device_password_hash(self.db, device_id)
        return hashed is not None and verify_password(password, hashed)

    # --- writes -------------------------------------------------------------------------

    def add(self, device_id: str, counter_id: str, *, scale: int = 4,
            counter_label: str | None = None, unit_id: str | None = None,
            unit_name: str | None = None, placed_from: str | None = None) -> IssuedCredentials:
        """Register a device at a counter (created if label and unit are given); new login.
        Placed there from now, or from the local midnight of the day `placed_from`.

        The roster is the counter's and is left as it is: a board that replaces another (or
        joins it) at the same counter shows whoever the roster has on duty there, so the
        citizen sees no gap and no shift is cut short.
        """
        check_device_id(device_id)
        if scale not in SCALES:
            raise RegistryError(f"scale must be one of {', '.join(map(str, SCALES))}")
        existing = registry_device(self.db, device_id)
        if existing is not None:
            if existing["retired_at"] is not None:
                raise RegistryError(
                    f"device {device_id!r} was retired on {format_time(existing['retired_at'])}"
                    "; device ids are never reused (its rating ids would collide), "
                    "choose a new id")
            raise RegistryError(f"device {device_id!r} is already registered; use "
                                "rotate-credentials for a new password")
        at = self.clock()
        # Before the counter may be created: a refused day writes nothing at all.
        start = at if placed_from is None else placement_start(placed_from, at)
        self._ensure_counter(counter_id, counter_label, unit_id, unit_name)
        password = self.new_password()
        try:
            # One transaction: the device and its audit entry are stored together or not at all.
            with write_transaction(self.db):
                add_device(self.db, device_id, counter_id, scale, hash_password(password), at=at,
                           placed_from=start, bcrypt=bcrypt_hash(password))
                self._audit("device.add", device_id, None,
                            {"counter": counter_id, "scale": scale, "placed_from": start}, at)
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
        with write_transaction(self.db):
            retire_device(self.db, device_id, at=at)
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
        with write_transaction(self.db):
            set_device_password(self.db, device_id, hash_password(password), at=at,
                                bcrypt=bcrypt_hash(password))
            # Never the password or its hash: the log is readable by more people.
            self._audit("device.rotate_credentials", device_id,
                        {"credentials_issued_at": device["credentials_issued_at"]},
                        {"credentials_issued_at": at}, at)
        return IssuedCredentials(device_id, device_id, password)

    def _ensure_counter(self, counter_id: str, label: str | None, unit_id: str | None,
                        unit_name: str | None) -> None:
        counter = get_counter(self.db, counter_id)
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
            raise RegistryError(f"không có quầy {counter_id!r}; thêm --counter-label và --unit "
                                "để tạo quầy", f"no counter {counter_id!r}; give --counter-label "
                                "and --unit to create it")
        label = _text("counter label", label, MAX_COUNTER_LABEL)
        _check_entity_id("unit", unit_id)
        if get_unit(self.db, unit_id) is None:
            if unit_name is None:
                raise RegistryError(f"no unit {unit_id!r}; give --unit-name to create it")
            upsert_unit(self.db, unit_id, _text("unit name", unit_name, MAX_UNIT_NAME))
        upsert_counter(self.db, counter_id, label, unit_id)
