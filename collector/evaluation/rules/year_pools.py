"""Whose quota an officer's year is counted in: the unit whose head decides them (pure).

The year's results go with the officer to the unit they are in at the year's end (Decree
335/2025), and the quota caps the grades one head decides within one group of similar posts.
So an officer's year pool is (their deciding unit, their current post group): the nearest unit,
walking up from their own, whose head is someone else — collector/accounts/permissions.py
`officer_facts(...).deciding_unit`, computed here over the whole tree read once, so that a
province's year costs no query per officer. A pool does not depend on which unit is asked for:
an office without a head is pooled with the whole group of the ward whose head decides it, and a
ward's head with the other heads the city's head decides. The top unit's head has no deciding
unit and no pool.

`units` maps a unit's id to (parent id, head id). Every walk stops at a repeat or at a unit not
stored, as collector/org/organisation.py's walks do.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

Units = Mapping[str, tuple[str | None, str | None]]


def deciding_unit(units: Units, officer_id: str, unit_id: str | None) -> str | None:
    """The unit whose head decides the officer in `unit_id`: the nearest one up from it whose
    head is not the officer; None at the top."""
    seen: set[str] = set()
    while unit_id is not None and unit_id in units and unit_id not in seen:
        seen.add(unit_id)
        parent, head = units[unit_id]
        if head is not None and head != officer_id:
            return unit_id
        unit_id = parent
    return None


def _first_headed(units: Units, unit_id: str | None, skip: str | None = None) -> str | None:
    """The nearest unit from `unit_id` up with a head other than None and `skip`."""
    seen: set[str] = set()
    while unit_id is not None and unit_id in units and unit_id not in seen:
        seen.add(unit_id)
        parent, head = units[unit_id]
        if head is not None and head != skip:
            return unit_id
        unit_id = parent
    return None


def candidates(units: Units, deciding: Iterable[str]) -> tuple[set[str], set[str]]:
    """Where the officers decided by these units can be: (units, heads) to read, a superset
    that `deciding_unit` then filters.

    An officer in unit u who heads nothing on the way up is decided by the first headed unit
    from u: the units whose first headed unit is one of `deciding`. One who heads the first
    headed unit c from u (and perhaps units above it) is decided by the first unit above c
    with another head: the heads of the units c whose such unit is one of `deciding`, read by
    id (wherever they sit)."""
    wanted = set(deciding)
    places = {u for u in units if _first_headed(units, u) in wanted}
    heads = {head for u, (parent, head) in units.items()
             if head is not None and _first_headed(units, parent, skip=head) in wanted}
    return places, heads
