"""The unit selector of the leaders' pages: every unit of a small scope; of a province-wide
scope (issue 13: 3,457 units made the front page 300 KB) the way to and around the unit shown
— the roots, its ancestors, its siblings and its children — the rest one step away."""

from __future__ import annotations

from dashboard.views.unit_selector import UNIT_OPTIONS_ALL, unit_options


def tree(branches: int, leaves: int) -> list[dict]:
    """A root, `branches` children each with `leaves` children, in tree order with depths."""
    units = [{"id": "root", "name": "Tỉnh", "depth": 0, "parent_id": None}]
    for b in range(branches):
        units.append({"id": f"b{b}", "name": f"Sở {b}", "depth": 1, "parent_id": "root"})
        units.extend({"id": f"b{b}-l{leaf}", "name": f"Phòng {leaf}", "depth": 2,
                      "parent_id": f"b{b}"} for leaf in range(leaves))
    return units


def ids(options: list[dict]) -> list[str]:
    return [option["id"] for option in options]


def test_a_small_scope_lists_every_unit_in_tree_order():
    units = tree(3, 4)
    assert len(units) <= UNIT_OPTIONS_ALL
    options = unit_options(units, "b1-l2")
    assert ids(options) == ids(units)
    assert [o["id"] for o in options if o["selected"]] == ["b1-l2"]
    assert options[1]["label"] == "\u00a0\u00a0Sở 0"


def test_a_large_scope_lists_the_way_to_and_around_the_unit_shown():
    units = tree(40, 20)
    assert len(units) > UNIT_OPTIONS_ALL
    shown = ids(unit_options(units, "b7"))
    # The root, every branch (the unit's siblings), the unit's own children; no cousin.
    expected = ["root"] + [u["id"] for u in units
                           if u["depth"] == 1 or u["parent_id"] == "b7"]
    assert shown == expected
    # From a leaf: its ancestors, its siblings, no other branch's leaves.
    shown = ids(unit_options(units, "b3-l5"))
    assert "root" in shown and "b3" in shown and "b3-l0" in shown and "b3-l19" in shown
    assert "b4-l0" not in shown and "b2" not in shown
    assert shown == [u for u in ids(units) if u in set(shown)]  # tree order kept
