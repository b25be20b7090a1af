"""Groups of similar posts: the quota counted per group, and the one line a report leads with.

Decree 335/2025/NĐ-CP caps "excellent" within one agency *and group of similar posts* (nhóm
vị trí việc làm tương đồng). An officer's group is `officers.post_group`, free text an
administrator sets or imports; NULL is the default group, the deciding head's whole unit
("Cả đơn vị / Whole unit"), which is what every officer is in until someone says otherwise —
so a unit without groups counts exactly as before. Hanoi's 3814 knows no groups; its 30 % is
applied per group as well, since a deployment that sets groups has said which posts compare.

Pure: grouping, labels, order and the choice of the headline line. The quota arithmetic is
rules/quota.py's; which officers are in a group is the workflow's (workflow/records.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from collector.core.collation import name_key

T = TypeVar("T")

DEFAULT_LABEL = ("Cả đơn vị", "Whole unit")


def group_label(group: str | None) -> tuple[str, str]:
    """(Vietnamese, English) label of a group: the group's own name, or the default's."""
    return DEFAULT_LABEL if group is None else (group, group)


def labels(group: str | None) -> dict[str, str | None]:
    """The fields every quota line carries to say whose line it is."""
    vi, en = group_label(group)
    return {"post_group": group, "label_vi": vi, "label_en": en}


def titled(group: str | None, vi: str, en: str) -> tuple[str, str]:
    """A line's text saying which group it counts; the default group's reads as before."""
    if group is None:
        return vi, en
    return f"Nhóm vị trí việc làm «{group}»: {vi}", f"Post group “{group}”: {en}"


def group_order(group: str | None) -> tuple[int, bytes]:
    """The default group first, then the named groups in Vietnamese order."""
    return (0, b"") if group is None else (1, name_key(group))


def split(items: Iterable[tuple[str | None, T]],
          always: Iterable[str | None] = ()) -> list[tuple[str | None, list[T]]]:
    """(group, item) pairs → [(group, items)], one entry per group present, in `group_order`;
    the groups of `always` are present even without an item (officers not graded yet), and
    with nobody at all the default group stands alone, so a report always has a line."""
    groups: dict[str | None, list[T]] = {group: [] for group in always}
    for group, item in items:
        groups.setdefault(group, []).append(item)
    if not groups:
        groups[None] = []
    return sorted(groups.items(), key=lambda entry: group_order(entry[0]))


def headline(lines: Sequence[T], over_by: Callable[[T], int],
             group: Callable[[T], str | None]) -> T:
    """The line a report that shows one line leads with (`quota`): the group with the largest
    excess when any group exceeds its cap — so "exceeded" on the headline means "some group
    exceeds", which every reader of the one line relies on to warn — else the default group,
    else the first group. Ties go to the earlier line (`group_order`). `lines` not empty."""
    worst = max(lines, key=over_by)
    if over_by(worst) > 0:
        return worst
    return next((line for line in lines if group(line) is None), lines[0])


def lines(members: Iterable[tuple[str | None, T]],
          line: Callable[[list[T]], dict[str, Any]]) -> list[dict[str, Any]]:
    """One quota line per group present (`split`): `line(items)` is the check over the group's
    items (a dict with `vi`, `en`), given the group's labels and text."""
    out = []
    for group, items in split(members):
        check = line(items)
        vi, en = titled(group, check["vi"], check["en"])
        out.append({**check, **labels(group), "vi": vi, "en": en})
    return out


def top(quota_lines: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """`headline` over lines as dicts (`lines`)."""
    return headline(quota_lines, lambda line: line["over_by"], lambda line: line["post_group"])
