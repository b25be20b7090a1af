"""The unit selector of the leaders' pages (the month overview and the year)."""

from __future__ import annotations

from typing import Any

# A scope of more units than this lists only the way to and around the unit shown: a
# province's 3,457 units made the front page 300 KB and a 3,457-line list nobody scrolls.
UNIT_OPTIONS_ALL = 200


def unit_options(units: list[dict[str, Any]], selected: str) -> list[dict[str, Any]]:
    """The unit selector's options: (id, name, depth) in tree order, indented by depth; for a
    scope of more than UNIT_OPTIONS_ALL units, only the roots, the selected unit's ancestors,
    its siblings and its children (the rest is a choice or two away)."""
    if len(units) > UNIT_OPTIONS_ALL:
        units = _around(units, selected)
    return [{"id": unit["id"], "label": "\u00a0\u00a0" * unit["depth"] + unit["name"],
             "selected": unit["id"] == selected} for unit in units]


def _around(units: list[dict[str, Any]], selected: str) -> list[dict[str, Any]]:
    parent = {unit["id"]: unit["parent_id"] for unit in units}
    keep, at = {selected}, parent.get(selected)
    while at in parent and at not in keep:  # up to the first unit the scope does not see
        keep.add(at)
        at = parent[at]
    siblings_of = parent.get(selected)
    return [unit for unit in units
            if unit["id"] in keep or unit["depth"] == 0 or unit["parent_id"] == selected
            or (siblings_of is not None and unit["parent_id"] == siblings_of)]
