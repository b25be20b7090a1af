"""What an account may see: its role and its part of the organisation.

- officer: themselves only;
- leader: their own unit and the units below it, and anyone they lead directly;
- head: the units they head and their own unit, each with the units below;
- technician, administrator: the unit subtree of their account's `unit_id`, or everything
  when it has none.

A `Scope` is computed once per request from the database (one short walk of the unit tree)
and then answers membership questions without queries. Pure apart from `scope_of`.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

from collector.accounts import ownership
from collector.accounts.users import User
from collector.org.organisation import headed_units, led_by, unit_subtree

# Roles that act in the monthly workflow as the person of their officer record.
PEOPLE = ("officer", "leader", "head")
STAFF = ("technician", "administrator")


@dataclass(frozen=True)
class Scope:
    everything: bool
    units: frozenset[str]
    officers: frozenset[str]  # seen whatever their unit (themselves, those they lead)

    def sees_unit(self, unit_id: str | None) -> bool:
        return self.everything or (unit_id is not None and unit_id in self.units)

    def sees_officer(self, officer_id: str, unit_id: str | None) -> bool:
        return self.everything or officer_id in self.officers or self.sees_unit(unit_id)

    def unit_filter(self) -> frozenset[str] | None:
        """Unit ids to restrict a listing to; None for no restriction."""
        return None if self.everything else self.units


def scope_of(db: sqlite_utils.Database, user: User) -> Scope:
    if user.role in STAFF:
        if user.unit_id is None:
            return Scope(True, frozenset(), frozenset())
        return Scope(False, frozenset(unit_subtree(db, user.unit_id)), frozenset())
    me = user.officer_id
    own = frozenset([me]) if me else frozenset()
    if user.role == "officer" or me is None:
        return Scope(False, frozenset(), own)
    owner = ownership.officer(db, me)
    home = owner.unit_id if owner else None
    units: set[str] = set(unit_subtree(db, home)) if home else set()
    if user.role == "leader":
        return Scope(False, frozenset(units), own | frozenset(led_by(db, me)))
    for unit_id in headed_units(db, me):
        units |= unit_subtree(db, unit_id)
    return Scope(False, frozenset(units), own | frozenset(led_by(db, me)))
