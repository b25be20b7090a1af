"""What the leaders' pages show, built from their JSON twins: pure functions, no queries.

The unit overview ("/") and the officer page ("/officers/{id}") render reports the API also
returns (collector/evaluation/month.py and workflow/status.py, collector/ratings/trends.py and
alerts.py); this module and dashboard/views/officer.py turn them into text in the page's
language and charts (dashboard/views/charts.py), so templates only display. Every label is an
English msgid marked with `N_` here or `_()` in a template and translated in
locales/vi/LC_MESSAGES/leaders.po; texts the collector already carries in both languages
(grades, criteria, explanation lines, quota and error messages) are picked by language with
`pick`. Numbers and dates go through the Translator `t`.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import date
from functools import lru_cache
from typing import Any, Callable
from urllib.parse import urlencode

from collector.ratings.satisfaction import ANSWER_LABELS, ANSWERS, SCALE_ANSWERS
from collector.core.collation import person_key
from collector.core.periods import parse_period, periods_of_year
from collector.core.timeline import local_datetime

from dashboard.views import charts
from dashboard.i18n import N_, Translator
from dashboard.views.paging import pager  # noqa: F401 (the leaders' pages import it from here)
from dashboard.views.unit_selector import unit_options

PER_PAGE = 25

STAGES = {"not_started": N_("Not started"), "self_done": N_("Self-evaluated"),
          "reviewed": N_("Reviewed by the leader"), "decided": N_("Decided by the head")}
# collector/evaluation/month.py names the same steps by what was last done.
STAGE_OF_STATUS = {"pending": "not_started", "self": "self_done", "reviewed": "reviewed",
                   "decided": "decided"}
STEPS = {"self": N_("Self-evaluation"), "review": N_("Leader's review"),
         "decision": N_("Head's decision")}
# The device's own filter reasons (docs/protocol.md, rating `excluded`) and the citizen's
# reason after a low rating (`reason`), worded once for every page that shows them.
FILTERED = {"cooldown": N_("Repeated press during cooldown"),
            "no_session": N_("Press with no dossier open")}
CITIZEN_REASONS = {"attitude": N_("Service attitude"), "waiting": N_("Waiting time"),
                   "guidance": N_("Unclear guidance"), "other": N_("Other")}
TASK_STATUS = {"on_time": N_("On time"), "late": N_("Late"), "overdue": N_("Overdue"),
               "open": N_("In progress")}
ATTRIBUTION = {"roster": N_("by the duty roster"),
               "device": N_("as shown by the device (no roster entry)")}
SORTS = ("index", "ratings", "name")


# --- small pieces ---------------------------------------------------------------------------

def pick(language: str, texts: dict[str, Any] | None) -> str:
    """The page language's half of a {"vi", "en"} text the collector wrote."""
    if not texts:
        return ""
    return texts.get(language) or texts.get("en") or texts.get("vi") or ""


def quota_group_lines(t: Translator, lines: list[dict[str, Any]], *, for_officer: bool = False,
                      group: str | None = None) -> list[dict[str, Any]]:
    """A unit's quota lines, one per group of similar posts, as the pages list them — only
    when there are several (with one, the unit's single line says it all). A named group's
    text names it already; the default group's gets its label ("Cả đơn vị"). `for_officer`:
    `mine` marks `group`, the group of the officer whose decision the page is for."""
    if len(lines) < 2:
        return []
    shown = []
    for line in lines:
        text = pick(t.language, line)
        if line["post_group"] is None:
            text = f"{pick(t.language, {'vi': line['label_vi'], 'en': line['label_en']})}: {text}"
        shown.append({"text": text, "warn": bool(line["exceeded"]),
                      "mine": for_officer and line["post_group"] == group})
    return shown


def label(t: Translator, table: dict[str, str], code: str) -> str:
    """A code's translated label; an unknown code shows as itself rather than vanishing."""
    return t.gettext(table[code]) if code in table else code


def previous_month(month: str) -> str:
    """The month before; the quarter before a quarter (a quarterly policy's period)."""
    return parse_period(month).previous().key


def next_month(month: str) -> str:
    return parse_period(month).following().key


def reminder_month(today: date, shown: str, previous_decision_due: date,
                   this: str | None = None) -> str | None:
    """Last month, when the page shows this month while last month's evaluation is still
    under way (until its decisions are due, the 7th by default): a leader opening the page
    early in a month is most likely working on the month before. `this`: the period shown
    as current (this quarter under a quarterly policy; default this month)."""
    this = this or today.strftime("%Y-%m")
    if shown == this and today <= previous_decision_due:
        return previous_month(this)
    return None


def points(t: Translator, value: float | None) -> str:
    """Points as the form writes them: up to two decimals, no trailing zeros (79,55; 18)."""
    if value is None:
        return ""
    text = t.number(value, 2)
    decimal = "," if t.language == "vi" else "."
    return text.rstrip("0").rstrip(decimal) if decimal in text else text


def signed(t: Translator, value: float | None, digits: int | None = None) -> str:
    """+2,5 / −1,17 / 0 with a true minus sign; `digits` None: as `points`."""
    if value is None:
        return "—"
    text = points(t, abs(value)) if digits is None else t.number(abs(value), digits)
    return f"+{text}" if value > 0 else f"−{text}" if value < 0 else text


def interval_text(t: Translator, interval: list[float] | tuple | None) -> str:
    """A share's 95 % interval: '77,0 – 96,0 %'."""
    if not interval:
        return "—"
    return f"{t.number(interval[0] * 100, 1)} – {t.percent(interval[1])}"


def when(t: Translator, unix_ms: int | None) -> str:
    return "—" if unix_ms is None else t.datetime(local_datetime(unix_ms))


def iso_date(t: Translator, iso: str | None) -> str:
    return "" if not iso else t.date(date.fromisoformat(iso))


def query(**params: Any) -> str:
    return "?" + urlencode({k: v for k, v in params.items() if v not in (None, "")})


def shown_levels(counts: dict[str, int]) -> list[tuple[str, int]]:
    """Levels for the bars, least satisfied first: the four of the usual four-level device,
    and any other level that has ratings."""
    usual = SCALE_ANSWERS[4]
    return [(code, counts.get(code, 0)) for code, _, _ in ANSWERS
            if code in usual or counts.get(code, 0)]


def level_labels(language: str) -> dict[str, str]:
    return {code: vi if language == "vi" else en for code, (vi, en) in ANSWER_LABELS.items()}


def distribution(t: Translator, counts: dict[str, int], title: str) -> charts.Chart:
    return charts.distribution_bars(
        shown_levels(counts), labels=level_labels(t.language), title=title,
        desc=t.gettext("Counted ratings per level, least satisfied first."),
        number=t.number, percent=t.percent, no_data=t.gettext("No ratings"))


def change_view(t: Translator, delta: float | None) -> dict[str, str]:
    """An index change as an arrow and signed points, with a sentence for screen readers."""
    if delta is None:
        return {"direction": "none", "arrow": "", "text": "—",
                "spoken": t.gettext("No comparison with last month")}
    text = signed(t, delta, 1)
    if delta > 0:
        return {"direction": "up", "arrow": "▲", "text": text,
                "spoken": t.gettext("Up %(points)s points from last month", points=text)}
    if delta < 0:
        return {"direction": "down", "arrow": "▼", "text": text,
                "spoken": t.gettext("Down %(points)s points from last month", points=text)}
    return {"direction": "same", "arrow": "▶", "text": text,
            "spoken": t.gettext("Same as last month")}


# --- the unit overview ----------------------------------------------------------------------

# A name's sort key, remembered: a ranking of thousands is sorted on every page (issue 13).
_person_key = lru_cache(maxsize=1 << 18)(person_key)


def _rank_key(row: dict[str, Any]) -> tuple:
    sat = row["satisfaction"]
    has = sat["index"] is not None
    # Sufficient evidence first: three ratings at 100 must not top a ranking of forty.
    return (not sat["sufficient"], not has, -(sat["index"] or 0), _person_key(row["name"]))


def sort_rows(rows: list[dict[str, Any]], sort: str) -> list[dict[str, Any]]:
    if sort == "ratings":
        return sorted(rows, key=lambda r: (-r["satisfaction"]["ratings"],
                                           _person_key(r["name"])))
    if sort == "name":
        return sorted(rows, key=lambda r: _person_key(r["name"]))
    return sorted(rows, key=_rank_key)


def shown_ids(rows: list[dict[str, Any]], sort: str, page: int) -> list[str]:
    """The officers on page `page` of the ranking sorted by `sort` (as `overview_view` pages
    it): the rows the page needs in full (collector/evaluation/month.py `unit_month`'s
    `detail`)."""
    ordered = sort_rows(rows, sort)
    part = pager(len(ordered), page, lambda n: "")
    return [row["officer_id"] for row in ordered[part["start"]:part["stop"]]]


def ranks(rows: list[dict[str, Any]]) -> dict[str, int]:
    """Rank by index among officers with sufficient evidence (ties share a rank: 1224)."""
    indexes = {r["officer_id"]: r["satisfaction"]["index"] for r in rows
               if r["satisfaction"]["sufficient"] and r["satisfaction"]["index"] is not None}
    # 1 + how many are higher, from one sorted list (not a count per officer: issue 13).
    ordered = sorted(indexes.values())
    return {officer: 1 + len(ordered) - bisect_right(ordered, own)
            for officer, own in indexes.items()}


def grade_text(language: str, grade: dict[str, Any] | None) -> str:
    if not grade:
        return ""
    name = grade["vi"] if language == "vi" else grade["en"]
    return f"{name} ({grade['letter']})" if grade.get("letter") else name


def ranking_row(t: Translator, row: dict[str, Any], month: str, rank: int | None,
                spark: list[dict[str, Any]]) -> dict[str, Any]:
    sat, coverage = row["satisfaction"], row["coverage"]
    interval = sat["share_interval"]
    share = t.percent(sat["share_satisfied"])
    stage = STAGE_OF_STATUS.get(row["status"], row["status"])
    values = [point["index"] for point in spark]
    return {
        "id": row["officer_id"], "name": row["name"], "title": row["title"] or "",
        "unit_name": row["unit_name"] or "",
        "href": f"/officers/{row['officer_id']}{query(month=month)}",
        "form_href": f"/officers/{row['officer_id']}/months/{month}/form",
        "rank": "" if rank is None else t.number(rank),
        "ratings": t.number(sat["ratings"]), "index": t.number(sat["index"], 1),
        "difference": signed(t, sat["difference"], 1),
        "sufficient": sat["sufficient"], "share": share,
        "interval": interval_text(t, interval),
        "gauge": charts.gauge_bar(sat["share_satisfied"],
                                  low=interval[0] if interval else None,
                                  high=interval[1] if interval else None),
        "coverage": t.percent(coverage["share"]),
        "offline": t.number(coverage["offline_hours"], 1),
        "spark": charts.sparkline(values, y_min=0, y_max=100, label=t.gettext(
            "Index, last %(months)s months: %(values)s", months=t.number(len(values)),
            values=", ".join(t.number(v, 1) for v in values))),
        "stage": stage, "stage_label": label(t, STAGES, stage),
        "suggested": points(t, row["suggested_score"]),
        "grade": grade_text(t.language, row["final_grade"] or row["suggested_grade"]),
        "grade_is_final": bool(row["final_grade"]),
        # Issue 12: few ratings because the officer's own counter was offline, and evidence
        # that reads differently from what the head decided on (linked to the lines).
        "offline_flag": row.get("insufficient_reason") == "offline",
        "changes": changes_mark(t, row, month),
    }


def changes_mark(t: Translator, row: dict[str, Any], month: str) -> dict[str, str] | None:
    """The mark of a decided row whose evidence changed after the decision: the link to the
    lines on the officer's month, how many fields, and the lines themselves to hover."""
    lines = row.get("evidence_changes") or []
    if not lines:
        return None
    return {"href": f"/officers/{row['officer_id']}{query(month=month)}#evidence-changes",
            "count": t.ngettext("%(count)s field differs from the decision",
                                "%(count)s fields differ from the decision", len(lines),
                                count=t.number(len(lines))),
            "lines": "; ".join(pick(t.language, line) for line in lines)}


def changes_summary(t: Translator, report: dict[str, Any]) -> dict[str, Any] | None:
    """The unit's count of officers whose decided evidence changed, with links to them (all
    of them, whatever page of the ranking they are on)."""
    changed = [row for row in report["officers"] if row.get("evidence_changes")]
    if not changed:
        return None
    changed.sort(key=lambda row: person_key(row["name"]))
    return {"text": t.ngettext("Evidence changed after the decision for %(count)s officer",
                               "Evidence changed after the decision for %(count)s officers",
                               len(changed), count=t.number(len(changed))),
            "officers": [{"name": row["name"], "href": changes_mark(t, row,
                                                                   report["month"])["href"]}
                         for row in changed]}


def progress_view(t: Translator, report: dict[str, Any], status: dict[str, Any] | None,
                  names: dict[str, str], month: str, late_page: int,
                  href: Callable[[int], str]) -> dict[str, Any]:
    """Counts per stage; with the unit's status (heads, administrators) who is late at
    which step and who is awaited."""
    if status is not None:
        counts = status["stages"]
    else:
        counts = {stage: 0 for stage in STAGES}
        for code, stage in STAGE_OF_STATUS.items():
            counts[stage] += report["progress"].get(code, 0)
    view: dict[str, Any] = {
        "stages": [{"code": code, "label": t.gettext(text), "count": t.number(counts[code])}
                   for code, text in STAGES.items()],
        "officers": t.number(report["progress"]["officers"]), "late": None}
    if status is None:
        return view
    calendar = status["calendar"]
    view["due"] = [{"label": t.gettext(STEPS[step]), "date": iso_date(t, calendar[f"{step}_due"])}
                   for step in STEPS]
    late = [o for o in status["officers"] if o["late_steps"]]
    late.sort(key=lambda o: person_key(o["name"]))
    page = pager(len(late), late_page, href)
    nobody = t.gettext("no one responsible")
    view["late"] = [{
        "name": o["name"], "href": f"/officers/{o['officer_id']}{query(month=month)}",
        "steps": ", ".join(label(t, STEPS, step) for step in o["late_steps"]),
        "awaiting": ", ".join(
            t.gettext("%(step)s from %(name)s", step=label(t, STEPS, a["step"]),
                      name=names.get(a["by"] or "", a["by"] or nobody))
            for a in o["awaiting"])} for o in late[page["start"]:page["stop"]]]
    view["late_pager"] = page
    view["quota"] = pick(t.language, status["quota"])
    return view


def alerts_view(t: Translator, listing: dict[str, Any], unit_id: str) -> dict[str, Any]:
    items = []
    for alert in listing["items"]:
        items.append({
            "id": alert["id"], "counter": alert["counter_label"] or alert["counter_id"],
            "unit": alert["unit_name"] or "", "officer": alert["officer_name"] or "",
            "when": when(t, alert["last_at"]),
            # A device offline in a shift (issue 12) says so in the collector's words.
            "summary": pick(t.language, alert.get("message")) if alert.get("message") else
            t.gettext("%(negative)s of %(ratings)s negative (%(share)s)",
                      negative=t.number(alert["negative"]), ratings=t.number(alert["ratings"]),
                      share=t.percent(alert["negative_share"])),
            "href": f"/alerts{query(unit=unit_id)}#alert-{alert['id']}"})
    return {"entries": items, "total": listing["total"], "total_text": t.number(listing["total"]),
            "href": f"/alerts{query(unit=unit_id)}"}


def unit_index_view(t: Translator, total: list[dict[str, Any]], change: dict[str, Any],
                    min_ratings: int) -> dict[str, Any]:
    """The unit's month from its officers' ratings together, and the change from the
    month before."""
    now = total[-1]
    return {"index": t.number(now["index"], 1), "share": t.percent(now["share_satisfied"]),
            "interval": interval_text(t, now["share_interval"]),
            "ratings": t.number(now["total"]), "filtered": t.number(now["filtered"]),
            "sufficient": now["sufficient"], "min_ratings": t.number(min_ratings),
            "change": change_view(t, change["index"]),
            "distribution": distribution(t, now["counts"], t.gettext(
                "Ratings per level in the unit"))}


def period_options(t: Translator, month: str) -> list[dict[str, Any]]:
    """The quarter picker of a quarterly policy's pages (a month needs none: the browser's
    month input serves): the quarters of the shown year and the year before."""
    period = parse_period(month)
    if period.kind != "quarter":
        return []
    shown = [q for year in (period.year - 1, period.year)
             for q in periods_of_year(year, "quarter")]
    return [{"value": q.key, "label": t.month(q.key), "selected": q == period} for q in shown]


def overview_view(t: Translator, *, report: dict[str, Any], trend: dict[str, Any],
                  status: dict[str, Any] | None, alerts: dict[str, Any],
                  names: dict[str, str], units: list[dict[str, Any]], sort: str, page: int,
                  late_page: int, reminder: dict[str, Any] | None = None) -> dict[str, Any]:
    unit, month = report["unit"], report["month"]

    def href(**changes: Any) -> str:
        params = {"month": month, "unit": unit["id"], "sort": sort, "page": page,
                  "late_page": late_page, **changes}
        if params["sort"] == "index":
            params["sort"] = None
        for key in ("page", "late_page"):
            if params[key] == 1:
                params[key] = None
        return "/" + query(**params)

    rows = sort_rows(report["officers"], sort)
    ranked = ranks(report["officers"])
    page_info = pager(len(rows), page, lambda n: href(page=n))
    shown = [ranking_row(t, row, month, ranked.get(row["officer_id"]),
                         trend["officers"].get(row["officer_id"], []))
             for row in rows[page_info["start"]:page_info["stop"]]]
    return {
        **page_frame(t, report, units, reminder,
                     lambda **changes: href(**changes, page=None, late_page=None)),
        "unit_index": unit_index_view(t, trend["total"], trend["change"],
                                      report["policy"]["min_ratings"]),
        "sub_units": [{"name": s["unit_name"] or s["unit_id"], "officers": t.number(s["officers"]),
                       "median": t.number(s["median"], 1), "compared": t.number(s["compared"])}
                      for s in report["sub_units"]],
        "rows": shown, "pager": page_info, "sort": sort,
        "sort_links": {key: href(sort=key, page=None) for key in SORTS},
        "progress": progress_view(t, report, status, names, month, late_page,
                                  lambda n: href(late_page=n)),
        "quota": pick(t.language, report["quota"]),
        "quotas": quota_group_lines(t, report.get("quotas") or []),
        "evidence_changed": changes_summary(t, report),
        "alerts": alerts_view(t, alerts, unit["id"]),
    }


def page_frame(t: Translator, report: dict[str, Any], units: list[dict[str, Any]],
               reminder: dict[str, Any] | None, href: Callable[..., str]) -> dict[str, Any]:
    """What a unit's landing shows around its figures, ranked or summed
    (dashboard/views/unit_summary.py): the unit and period, the selectors, the periods before
    and after, the reminder, the exports and the year; `href(month=…)` links the landing."""
    unit, month = report["unit"], report["month"]
    return {
        "unit": unit, "month": month, "month_label": t.month(month),
        "period_options": period_options(t, month),
        "prev_href": href(month=previous_month(month)),
        "next_href": href(month=next_month(month)),
        "units": unit_options(units, unit["id"]),
        "reminder": None if reminder is None else {
            "href": href(month=reminder["month"]),
            "text": t.gettext("The evaluation of %(month)s is due by %(date)s.",
                              month=t.month(reminder["month"]), date=t.date(reminder["due"])),
            "link": t.gettext("Open %(month)s", month=t.month(reminder["month"]))},
        "export_href": f"/api/v1/units/{unit['id']}/months/{month}.xlsx",
        "json_href": f"/api/v1/units/{unit['id']}/months/{month}",
        # The year the month belongs to: the page leaders decide the year on (/years/{year}).
        "year_href": f"/years/{parse_period(month).year}{query(unit=unit['id'])}",
        "policy": pick(t.language, {"vi": report["policy"]["title_vi"],
                                    "en": report["policy"]["title_en"]}),
    }

