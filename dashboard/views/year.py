"""What the unit's year page and the officer's own year show: pure functions, no queries.

Both are built from their JSON twins, collector/evaluation/year.py's `unit_year`
(GET /api/v1/units/{id}/years/{year}) and `officer_year` (GET /api/v1/officers/{id}/years/{year}),
so the page shows exactly what the API and the XLSX say: the average of the decided months
(quarters under a quarterly policy), the grade that average reads, the grade after discipline
and the quota of the officer's pool (the unit whose head decides them and their group of
similar posts), and the collector's own bilingual notes (picked by language, never reworded
here). Labels are English msgids translated in
locales/vi/LC_MESSAGES/year.po.
"""

from __future__ import annotations

from typing import Any

from collector.evaluation.policy import GRADE_CODES, GRADE_LABELS
from collector.evaluation.year import FIRST_YEAR, LAST_YEAR, WHOLE_UNIT

from dashboard.i18n import Translator
from dashboard.views.leaders import grade_text, pick, points, query
from dashboard.views.unit_selector import unit_options


def year_href(year: int, unit_id: str | None) -> str:
    """The unit's year page (the unit in scope chosen by the page when None)."""
    return f"/years/{year}" + (query(unit=unit_id) if unit_id else "")


def _periods(t: Translator, keys: list[str]) -> str:
    return ", ".join(t.month(key) for key in keys)


def _pool(t: Translator, row: dict[str, Any], unit_id: str, quota: bool) -> str:
    """Where the row's quota is counted: the group, with the deciding unit's name when it is
    not the page's own unit (an office's officers, a ward's head decided by the city's); "—"
    for an officer in no pool (the top unit's head: their note says why)."""
    pool = row.get("quota_pool")
    if pool is None:
        return "—" if quota else (row["officer"]["post_group"] or pick(t.language, WHOLE_UNIT))
    if pool["unit_id"] != unit_id:
        return pick(t.language, pool["label"])
    return pool["group"] or pick(t.language, WHOLE_UNIT)


def _row(t: Translator, row: dict[str, Any], unit_id: str, unit_name: str,
         quota: bool) -> dict[str, Any]:
    officer = row["officer"]
    grade, by_points = row["grade"], row["grade_by_points"]
    notes = []
    if row["disciplined_months"]:
        notes.append(t.gettext("Disciplined in %(periods)s",
                               periods=_periods(t, row["disciplined_months"])))
    if row.get("quota_note"):
        notes.append(pick(t.language, row["quota_note"]))
    return {
        "id": officer["id"], "name": officer["name"], "href": f"/officers/{officer['id']}",
        "title": officer["title"] or "",
        # The unit shown only where it is not the page's own (an officer of a unit below).
        "unit_name": "" if officer["unit_name"] == unit_name else officer["unit_name"] or "",
        "group": _pool(t, row, unit_id, quota),
        "counted": f"{t.number(row['months_counted'])}/{t.number(len(row['months']))}",
        "missing": _periods(t, row["months_missing"]),
        "without_score": _periods(t, row["months_without_score"]),
        "average": points(t, row["average"]) or "—",
        "by_points": grade_text(t.language, by_points) or "—",
        "grade": grade_text(t.language, grade) or "—",
        "moved": bool(grade and by_points and grade["code"] != by_points["code"]),
        "notes": notes, "tie": bool(row.get("quota_tie")),
    }


def _quota_line(t: Translator, quota: dict[str, Any]) -> dict[str, Any]:
    # The collector's line names its pool already ("Nhóm «Phường Hoàn Kiếm — Một cửa»: …").
    return {"unit": quota["unit_id"], "group": quota["group"] or "",
            "text": pick(t.language, quota), "warn": bool(quota["exceeded"])}


def year_view(t: Translator, *, report: dict[str, Any], units: list[dict[str, Any]]
              ) -> dict[str, Any]:
    """The unit's year page: one row per officer in the report's order (unit, then name in
    Vietnamese order), one quota line per pool its officers are in, the grades after the
    quota, the links."""
    unit, year = report["unit"], report["year"]
    quarterly = report["policy"]["period"] == "quarter"
    quota = bool(report["policy"].get("apply_quota"))
    rows = [_row(t, row, unit["id"], unit["name"], quota) for row in report["officers"]]
    grades = report["grades"]
    return {
        "unit": unit, "year": year, "quarterly": quarterly,
        "year_title": t.gettext("Year %(year)s", year=year),
        "policy": pick(t.language, {"vi": report["policy"]["title_vi"],
                                    "en": report["policy"]["title_en"]}),
        "units": unit_options(units, unit["id"]),
        "prev_href": year_href(year - 1, unit["id"]) if year > FIRST_YEAR else None,
        "next_href": year_href(year + 1, unit["id"]) if year < LAST_YEAR else None,
        "prev_label": t.gettext("Year %(year)s", year=year - 1),
        "next_label": t.gettext("Year %(year)s", year=year + 1),
        "month_href": "/" + query(unit=unit["id"]),
        "export_href": f"/api/v1/units/{unit['id']}/years/{year}.xlsx",
        "json_href": f"/api/v1/units/{unit['id']}/years/{year}",
        "rows": rows,
        "quotas": [_quota_line(t, quota) for quota in report["quotas"]],
        "grades": [{"label": pick(t.language, dict(zip(("vi", "en"), GRADE_LABELS[code]))),
                    "count": t.number(grades.get(code, 0))} for code in GRADE_CODES],
        "complete": t.gettext(
            "Officers with every period decided: %(complete)s of %(officers)s",
            complete=t.number(report["officers_complete"]), officers=t.number(len(rows))),
    }


def officer_year_block(t: Translator, report: dict[str, Any], *,
                       unit_href: str | None) -> dict[str, Any]:
    """The officer's own year, small: the average, the grade it reads and the grade after
    discipline and the quota of their pool (the same as the unit's year says), the periods
    counted, and the quota's word on them — their own note where the quota moved, kept or tied
    them (or left them outside hailong's pools), else their pool's line. `unit_href`: the
    unit's year page, for those who may open it."""
    grade, by_points = report["grade"], report["grade_by_points"]
    note = report.get("quota_note") or report.get("quota")
    return {
        "year": report["year"], "quarterly": report["policy"]["period"] == "quarter",
        "title": t.gettext("Year %(year)s", year=report["year"]),
        "average": points(t, report["average"]) or "—",
        "by_points": grade_text(t.language, by_points) or "—",
        "grade": grade_text(t.language, grade) or "—",
        "moved": bool(grade and by_points and grade["code"] != by_points["code"]),
        "tie": bool(report.get("quota_tie")),
        "counted": f"{t.number(report['months_counted'])}/{t.number(len(report['months']))}",
        "missing": _periods(t, report["months_missing"]),
        "note": pick(t.language, note) if note else "",
        "unit_href": unit_href,
    }
