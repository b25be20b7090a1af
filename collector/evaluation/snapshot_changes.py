"""What changed in a decided month's evidence since the head decided (issue 12, Deliver 4).

A decision freezes the officer-month the head saw in the evaluation row's `snapshot`
(collector/evaluation/workflow/steps.py `decide`). Roster corrections, device moves with
`--placed-from`, task edits and ratings that arrive late can still change what
collector/evaluation/month.py computes for that month. The decided grade and score stay as
decided; this module only names the differences, so the head and the officer see that the
evidence no longer reads as it did.

Pure: `changes(snapshot, now)` compares two officer-month dicts field by field and returns one
bilingual line per field that differs at display precision ("Lượt đánh giá: 42 → 45" /
"Ratings: 42 → 45"). A field missing on either side (an older or partial snapshot) is skipped:
only like is compared with like. Numbers are compared after rounding to the decimals shown, so
float noise below what a reader can see never reads as a change.

The same comparison serves the officer's month (the full view) and each line of the unit's
month (the shorter view, collector/evaluation/unit_rows/row.py): every field compared below is
in both views, and a field only the full view holds (per-counter coverage, task items) is
missing from the shorter one, so it is skipped there rather than reported as changed.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any

# (path in the officer-month, Vietnamese label, English label, decimals, percent)
_FIELDS: tuple[tuple[tuple[str, ...], str, str, int, bool], ...] = (
    (("satisfaction", "total"), "Lượt đánh giá", "Ratings", 0, False),
    (("satisfaction", "index"), "Chỉ số hài lòng", "Satisfaction index", 1, False),
    (("satisfaction", "share_satisfied"), "Tỷ lệ hài lòng", "Share satisfied", 1, True),
    (("satisfaction", "filtered", "total"), "Lượt bấm bị loại", "Filtered presses", 0, False),
    (("satisfaction", "coverage", "duty_hours"), "Giờ làm việc tại quầy", "Duty hours", 1,
     False),
    (("satisfaction", "coverage", "online_hours"), "Giờ thiết bị trực tuyến",
     "Hours with the device online", 1, False),
    (("tasks", "summary", "registered"), "Nhiệm vụ đã đăng ký", "Tasks registered", 0, False),
    (("tasks", "summary", "on_time"), "Nhiệm vụ đúng hạn", "Tasks on time", 0, False),
    (("tasks", "summary", "late"), "Nhiệm vụ trễ hạn", "Tasks late", 0, False),
    (("tasks", "summary", "overdue"), "Nhiệm vụ quá hạn", "Tasks overdue", 0, False),
    (("tasks", "summary", "excused"), "Chậm do nguyên nhân khách quan", "Excused delays", 0,
     False),
    (("tasks", "percentages", "quantity"), "Số lượng nhiệm vụ (%)", "Task quantity (%)", 1,
     False),
    (("tasks", "percentages", "quality"), "Chất lượng nhiệm vụ (%)", "Task quality (%)", 1,
     False),
    (("tasks", "percentages", "progress"), "Tiến độ nhiệm vụ (%)", "Task progress (%)", 1,
     False),
    # A leader's unit score (Decree 335): a subordinate's grade decided after the leader's.
    (("unit_score", "share"), "Kết quả đơn vị", "Unit result", 0, True),
    (("unit_score", "not_completed"), "Số người do mình phụ trách không hoàn thành nhiệm vụ",
     "People led not completed", 0, False),
    (("unit_score", "ungraded"), "Số người do mình phụ trách chưa được xếp loại",
     "People led not graded yet", 0, False),
    (("suggestion", "score"), "Điểm gợi ý", "Suggested score", 2, False),
)
_MISSING = object()
# Evidence switched off (issue 12, item 3): a month that reads "insufficient because the
# counter's device was offline" now and did not when decided (or the reverse) is a change the
# head must see, whatever the numbers: it is what allows a leader's attitude score above the
# ratings. (path, Vietnamese label, English label, {code: (vi, en)} of the values shown)
_FLAGS: tuple[tuple[tuple[str, ...], str, str, dict[Any, tuple[str, str]]], ...] = (
    (("satisfaction", "insufficient_reason"),
     "Chưa đủ dữ liệu vì thiết bị tại quầy mất kết nối",
     "Insufficient evidence because the counter's device was offline",
     {None: ("không", "no"), "offline": ("có", "yes")}),
)


# Each compared field as (the dict holding it, its key): a report's holders are looked up
# once, each from its own holder, not once per field from the top (a unit's month compares
# every decided officer's: issue 13).
_PARENTS = tuple(dict.fromkeys(
    path[:end] for path in [p for p, *_ in _FIELDS] + [f[0] for f in _FLAGS]
    + [("suggestion", "grade")] for end in range(1, len(path))))
_STEPS = tuple((_PARENTS.index(parent[:-1]) if len(parent) > 1 else -1, parent[-1])
               for parent in _PARENTS)
_SPLIT = tuple((_PARENTS.index(path[:-1]), path[-1], path, vi, en, decimals, percent)
               for path, vi, en, decimals, percent in _FIELDS)
_FLAGS_SPLIT = tuple((_PARENTS.index(path[:-1]), path[-1], path, vi, en, shown)
                     for path, vi, en, shown in _FLAGS)
_SUGGESTION = _PARENTS.index(("suggestion",))


# Each holder's compared keys, read in one step: most decided months read as they did.
_COMPARED = tuple((at, itemgetter(*keys)) for at, keys in (
    (at, tuple(dict.fromkeys(key for where, key, *_ in _SPLIT + _FLAGS_SPLIT if where == at)
               | ({"grade": None} if at == _SUGGESTION else {})))
    for at in range(len(_PARENTS))) if keys)


def _unchanged(before: list[Any], after: list[Any]) -> bool:
    """True when every value compared on both sides is equal (then nothing reads
    differently); False when one differs or a key is missing (`changes` then looks field by
    field)."""
    for at, read in _COMPARED:
        old, new = before[at], after[at]
        if not isinstance(old, dict) or not isinstance(new, dict):
            continue  # a holder missing on either side: none of its fields is compared
        try:
            if read(old) != read(new):
                return False
        except KeyError:
            return False
    return True


def _holders(report: Any) -> list[Any]:
    """The dict at each of `_PARENTS` in `report` (`_at`), or _MISSING."""
    found: list[Any] = []
    for up, key in _STEPS:
        holder = report if up < 0 else found[up]
        found.append(holder.get(key, _MISSING) if isinstance(holder, dict) else _MISSING)
    return found


def _field(holders: list[Any], at: int, key: str) -> Any:
    holder = holders[at]
    return holder.get(key, _MISSING) if isinstance(holder, dict) else _MISSING


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _shown(value: Any, decimals: int, percent: bool) -> float | None:
    """The value as a reader sees it; None for "no value" (e.g. no ratings, no index)."""
    if value is None:
        return None
    return round(float(value) * (100 if percent else 1), decimals)


def _text(value: float | None, decimals: int, percent: bool, language: str) -> str:
    if value is None:
        return "—"
    text = f"{value:,.{decimals}f}"
    if language == "vi":  # dot for thousands, comma for decimals (glossary-vi.md)
        text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    return text + (" %" if percent else "")


def _grade(holders: list[Any]) -> Any:
    grade = _field(holders, _SUGGESTION, "grade")
    if grade is None or isinstance(grade, dict):
        return grade
    return _MISSING


def changes(snapshot: Any, now: dict[str, Any]) -> list[dict[str, str]]:
    """One line per evidence field that reads differently now than in `snapshot`, in a fixed
    order; [] when nothing visible changed or there is no snapshot. Each line is
    {"field", "vi", "en"}."""
    if not isinstance(snapshot, dict):
        return []
    lines = []
    before, after = _holders(snapshot), _holders(now)
    if _unchanged(before, after):
        return lines
    for at, key, path, vi, en, decimals, percent in _SPLIT:
        old, new = before[at], after[at]
        old = old.get(key, _MISSING) if isinstance(old, dict) else _MISSING
        new = new.get(key, _MISSING) if isinstance(new, dict) else _MISSING
        # Equal values read equally (a number or None), or are not compared (anything else).
        if old == new or old is _MISSING or new is _MISSING:
            continue
        if not all(value is None or _number(value) for value in (old, new)):
            continue
        old, new = _shown(old, decimals, percent), _shown(new, decimals, percent)
        if old != new:
            lines.append({"field": ".".join(path),
                          "vi": f"{vi}: {_text(old, decimals, percent, 'vi')} → "
                                f"{_text(new, decimals, percent, 'vi')}",
                          "en": f"{en}: {_text(old, decimals, percent, 'en')} → "
                                f"{_text(new, decimals, percent, 'en')}"})
    for at, key, path, vi, en, shown in _FLAGS_SPLIT:
        old, new = _field(before, at, key), _field(after, at, key)
        if old is _MISSING or new is _MISSING or old == new:
            continue
        (old_vi, old_en), (new_vi, new_en) = (shown.get(v, (str(v), str(v))) for v in (old, new))
        lines.append({"field": ".".join(path), "vi": f"{vi}: {old_vi} → {new_vi}",
                      "en": f"{en}: {old_en} → {new_en}"})
    old, new = _grade(before), _grade(after)
    if old is not _MISSING and new is not _MISSING and \
            (old or {}).get("code") != (new or {}).get("code"):
        old, new = old or {}, new or {}
        lines.append({"field": "suggestion.grade",
                      "vi": f"Xếp loại gợi ý: {old.get('vi') or '—'} → {new.get('vi') or '—'}",
                      "en": f"Suggested grade: {old.get('en') or '—'} → {new.get('en') or '—'}"})
    return lines
