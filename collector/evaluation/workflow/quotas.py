"""A unit's quota as it stands and the check a decision meets (docs/evaluation.md, "The quota").

Split from status.py (which re-exports its names but `headline`) when a unit's status grew
its bulk reads (issue 13). Pure reads over records.py's quota pool: `unit_quotas` the lines a
report shows, one per group of similar posts; `decision_quota` the check a decision must
respect.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import sqlite_utils

from collector.evaluation import scoring
from collector.evaluation.policy import GRADE_LABELS, Policy
from collector.evaluation.rules import post_groups
from collector.evaluation.workflow import records


@dataclass(frozen=True)
class UnitQuota(scoring.QuotaCheck):
    """A unit's quota check in one group of similar posts, with the officers not graded yet
    counted at their best.

    `post_group` (None: the default group, the head's whole unit) with its `label_vi` and
    `label_en` (rules/post_groups.py) says whose line it is: the cap is counted per group
    (Decree 335/2025). `pending` officers active in the month are not counted with a grade of
    their own (the unit's line: no proposed or final grade yet; a decision's check: not
    decided yet); each is counted with `padded_with` (a grade the cap is a share of, other
    than the capped one; `best_case_grade`), so `rated`, `base` and `cap` include them and
    `exceeded` means: over the cap whatever they will get. `provisional` (pending > 0) and the
    note (`note_vi`, `note_en`, None when final) say so; `vi`/`en` then end with the note.
    `refuses` (a decision's check only): this decision gives the capped grade over that cap,
    so it needs the head's acknowledgement.
    """
    pending: int = 0
    provisional: bool = False
    padded_with: str | None = None
    note_vi: str | None = None
    note_en: str | None = None
    refuses: bool = False
    post_group: str | None = None
    label_vi: str = post_groups.DEFAULT_LABEL[0]
    label_en: str = post_groups.DEFAULT_LABEL[1]


def quota_dict(quota: scoring.QuotaCheck) -> dict[str, Any]:
    return asdict(quota)


def best_case_grade(policy: Policy) -> str | None:
    """The grade that brings a pending officer's count closest to allowing the top grade: one
    the cap is a share of (raises the cap) that is not the capped grade (raises nothing
    capped). None if the policy has none: then a pending officer cannot help either way."""
    rule = policy.quota
    return next((g for g in rule.of_grades if g != rule.grade), None)


def unit_quotas(db: sqlite_utils.Database, policy: Policy, unit_id: str, month: str,
                extra: dict[str, str] | None = None, *,
                pool: list[records.UnitOfficer] | None = None) -> list[UnitQuota]:
    """The unit's lines, one per group of similar posts present in its subtree's month (the
    default group first, then by name): the quota over the grades standing (final, else
    proposed), with `extra` ({officer: grade}) replacing or adding proposed grades.

    The months counted are the unit's quota pool (records.quota_pool: a month stays in the
    pool of the unit it was decided in when a unit moves later). A reviewed month counts in
    the group stored with its review, any other in the officer's current group
    (sources.QUOTA_GROUP). Officers active in the month with no
    grade yet are counted with the best case grade (`best_case_grade`). These lines inform
    (the month's report, the head's page); what a decision must respect is `decision_quota`.
    `pool`: the rows of `records.quota_pool(db, unit_id, month)` when the caller has them."""
    extra = extra or {}
    rows = records.quota_pool(db, unit_id, month) if pool is None else pool
    top = policy.quota.grade
    # One pass over the pool (a province's root: 150,000 rows), by group: the grades
    # standing, how many of them are the capped grade decided, how many have none yet.
    counts: dict[str | None, tuple[list[str], list[int]]] = {}
    for row in rows:
        graded, tally = counts.get(row.post_group) or counts.setdefault(row.post_group,
                                                                        ([], [0, 0]))
        grade = extra.get(row.id) or row.final_grade or row.proposed_grade
        if not grade:
            tally[1] += 1
            continue
        graded.append(grade)
        if grade == top and row.final_grade and row.id not in extra:
            tally[0] += 1
    pooled = {row.id for row in rows} if extra else set()
    for officer_id, grade in extra.items():  # graded here, not (yet) in the pool
        if officer_id not in pooled:
            counts.setdefault(None, ([], [0, 0]))[0].append(grade)
    outstanding = _outstanding(db, unit_id)
    lines = []
    for group, found in post_groups.split(counts.items()):
        graded, (capped, pending) = found[0] if found else ([], (0, 0))
        lines.append(_padded(policy, outstanding, graded, capped, pending,
                             "chưa được xếp loại", "not graded yet", group))
    return lines


def unit_quota(db: sqlite_utils.Database, policy: Policy, unit_id: str, month: str,
               extra: dict[str, str] | None = None) -> UnitQuota:
    """The unit's one line (`unit_quotas`): with one group, the whole unit's; with several,
    the group with the largest excess, else the default group (rules/post_groups.py
    `headline`), so that `exceeded` still means "the unit's month is over a cap"."""
    return headline(unit_quotas(db, policy, unit_id, month, extra))


def headline(lines: list[UnitQuota]) -> UnitQuota:
    """The one line a report leads with (rules/post_groups.py `headline`)."""
    return post_groups.headline(lines, lambda line: line.over_by, lambda line: line.post_group)


def decision_quota(db: sqlite_utils.Database, policy: Policy, unit_id: str, month: str,
                   officer_id: str, grade: str) -> UnitQuota:
    """The check a decision meets (docs/evaluation.md, "The quota"), within the month's group
    of similar posts (records.month_group: the one this decision stores): `grade` for
    `officer_id` counted with the grades already decided in the group in the unit's quota
    pool (records.quota_pool: the months decided by the head of `unit_id` — for a month with
    a stored place, its stored deciding unit — or of a unit below it, each in the group
    stored with its decision, even if its unit has moved since); every colleague of the
    group in the pool active in the month not decided yet counted at the best case, whatever
    the leader proposed — a proposal binds nobody until the head decides it, so those
    colleagues can still bring the group back within the cap. `refuses` when this decision
    gives the capped grade and the capped grades decided, this one included, exceed the cap
    even so. A decision of any other grade never refuses: it raises no count of the capped
    grade."""
    group = records.month_group(db, officer_id, month)
    rows = [row for row in records.quota_pool(db, unit_id, month)
            if row.post_group == group and row.id != officer_id]
    decided = {row.id: row.final_grade for row in rows
               if row.decided_at is not None and row.final_grade}
    decided[officer_id] = grade
    pending = sum(row.id not in decided for row in rows)
    capped = policy.quota.grade
    quota = _padded(policy, _outstanding(db, unit_id), list(decided.values()),
                    list(decided.values()).count(capped), pending,
                    "chưa được quyết định", "not decided yet", group)
    return replace(quota, refuses=grade == capped and quota.exceeded)


def _outstanding(db: sqlite_utils.Database, unit_id: str) -> bool:
    """The unit is an outstanding one (its quota is higher: scoring.check_quota)."""
    row = db.execute("SELECT outstanding FROM units WHERE id = ?", [unit_id]).fetchone()
    return bool(row and row[0])


def _padded(policy: Policy, outstanding: bool, grades: list[str], decided: int, pending: int,
            not_vi: str, not_en: str, group: str | None = None) -> UnitQuota:
    """check_quota over `grades` and `pending` officers at the best case, with the note; a
    named group's line says which group it is."""
    padding = best_case_grade(policy)
    counted = [*grades, *([padding] * pending if padding else [])]
    check = scoring.check_quota(policy, counted, outstanding, decided=decided)
    label_vi, label_en = post_groups.group_label(group)
    vi, en = post_groups.titled(group, check.vi, check.en)
    check = replace(check, vi=vi, en=en)
    quota = UnitQuota(**asdict(check), pending=pending, provisional=bool(pending),
                      padded_with=padding if pending else None, post_group=group,
                      label_vi=label_vi, label_en=label_en)
    if not pending:
        return quota
    if padding:
        gvi, gen = GRADE_LABELS[padding]
        as_vi, as_en = f"được tính là «{gvi}»", f"counted as “{gen}”"
    else:
        as_vi, as_en = "không làm thay đổi tỷ lệ", "cannot change the count"
    note_vi = (f"Tạm tính: {pending} người {not_vi}, {as_vi} (trường hợp "
               "thuận lợi nhất); kết quả chỉ chính thức khi mọi người đã được xếp loại.")
    note_en = (f"Provisional: {pending} {not_en}, {as_en} (the most favourable "
               "case); final once everyone is graded.")
    return replace(quota, note_vi=note_vi, note_en=note_en, vi=f"{check.vi} {note_vi}",
                   en=f"{check.en} {note_en}")



def quota_lines(lines: list[UnitQuota]) -> dict[str, Any]:
    """`quotas` (one line per group of similar posts) and `quota` (the headline line,
    `unit_quota`'s choice) as a unit's reports return them."""
    return {"quota": quota_dict(headline(lines)),
            "quotas": [quota_dict(line) for line in lines]}
