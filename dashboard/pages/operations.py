"""Operations pages: the device fleet (technicians) and counter alerts (leaders).

    GET  /fleet?state=&unit=&q=&page=            twin: GET /api/v1/fleet
    GET  /alerts?state=&unit=&from=&to=&page=    twin: GET /api/v1/alerts
    GET  /alerts/{id}                            twin: GET /api/v1/alerts/{id}
    POST /alerts/{id}/acknowledge  comment, next twin: POST /api/v1/alerts/{id}/acknowledge
    POST /alerts/{id}/notes        text, next    twin: POST /api/v1/alerts/{id}/notes

The pages read through the same functions as their JSON twins (collector/web/scoped.py), so
who may see what — roles and unit scope — and every filter rule are the API's own; the views
here only turn the figures into text in the page's language (relative times, local dates,
pagination links). The forms write through `alerts.AlertService` exactly as the API does,
then redirect (Post/Redirect/Get) with `?done=`; a refusal of the service re-renders the
alert's page with the reason in the page's language (the error carries both) and the status
the API would answer (collector/web/errors.py `status_of`).

Who: the fleet for technicians, administrators and heads (access.FLEET); alerts for
leaders, heads and administrators (access.ALERT_READERS; not technicians: an alert carries
an officer's presses), the forms for the same (access.ALERT_RESPONDERS); always within the
account's units.

An offline device's picture is what it last took in: the page says "as of" outside the image,
because the picture is drawn as connected (collector/fleet/screens.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from babel.dates import format_time
from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from collector.accounts.users import list_users
from collector.ratings import alerts
from collector.fleet import screens, status as fleet_status
from collector.org import directory
from collector.web import access, scoped
from collector.web.auth import CurrentViewer, Viewer, require_alert_in_scope, require_role
from collector.web.deps import Db, Now, Writer
from collector.web.errors import status_of
from collector.core.timeline import local_datetime

from dashboard.i18n import N_, Translator, translator
from dashboard.pages.login import local_path
from dashboard.views.leaders import CITIZEN_REASONS, FILTERED
from dashboard.views.paging import pager
from dashboard.rendering import language_of, render

router = APIRouter(include_in_schema=False)

FLEET_PAGE = 50
ALERTS_PAGE = 25

STATE_LABELS = {"offline": N_("Offline"), "never_seen": N_("Never connected"),
                "online": N_("Online"), "retired": N_("Retired")}
OFFLINE_REASONS = {"will": N_("connection dropped (the broker's notice)"),
                   "silent": N_("no message for over %(minutes)d minutes")}
ALERT_STATES = {"open": N_("Open"), "acknowledged": N_("Acknowledged"), "all": N_("All")}
DONE = {"acknowledged": N_("Alert acknowledged."), "noted": N_("Note added.")}
# The two kinds of counter alerts (collector/ratings/alert_records.KINDS; issue 12).
ALERT_KINDS = {"negative_share": N_("Negative ratings"),
               "device_offline": N_("Device offline during a shift")}


# --- shared presentation -------------------------------------------------------------------

def link(path: str, **params: Any) -> str:
    """`path` with the non-empty params as its query."""
    kept = {key: value for key, value in params.items() if value not in (None, "")}
    return path + ("?" + urlencode(kept) if kept else "")


def ago(t: Translator, elapsed_ms: int) -> str:
    minutes = max(elapsed_ms, 0) // 60_000
    if minutes < 1:
        return t.gettext("less than a minute ago")
    if minutes < 60:
        return t.ngettext("%(num)d minute ago", "%(num)d minutes ago", minutes)
    hours = minutes // 60
    if hours < 48:
        return t.ngettext("%(num)d hour ago", "%(num)d hours ago", hours)
    return t.ngettext("%(num)d day ago", "%(num)d days ago", hours // 24)


def when(t: Translator, unix_ms: int | None) -> str:
    return t.datetime(None if unix_ms is None else local_datetime(unix_ms))


def clock(t: Translator, moment: datetime, seconds: bool = False) -> str:
    # Translator has date and datetime; a time of day alone comes from the same locale.
    return format_time(moment, "HH:mm:ss" if seconds else "HH:mm", locale=t.locale)


def span(t: Translator, first: int, last: int) -> str:
    """"10/03/2026 09:00–09:03", or both ends in full when the days differ."""
    start, end = local_datetime(first), local_datetime(last)
    if start.date() == end.date():
        return f"{t.datetime(start)}–{clock(t, end)}"
    return f"{t.datetime(start)} – {t.datetime(end)}"


def unit_options(db, who: Viewer, selected: str | None) -> list[dict[str, Any]]:
    """The units the account sees, in tree order, indented by depth."""
    options: list[dict[str, Any]] = []

    def walk(units: list[dict[str, Any]], depth: int) -> None:
        for unit in units:
            seen = who.scope.sees_unit(unit["id"])
            if seen:
                options.append({"id": unit["id"], "label": "– " * depth + unit["name"],
                                "selected": unit["id"] == selected})
            walk(unit["children"], depth + 1 if seen else depth)

    walk(directory.unit_tree(db), 0)
    return options


def blank(value: str | None) -> str | None:
    """An empty field of a GET form is no filter."""
    return (value.strip() or None) if value is not None else None


# --- fleet ---------------------------------------------------------------------------------

def site_session_mode(request: Request) -> bool:
    # The picture's own rule (api/fleet.py draws it), for its alt text.
    return fleet_status.site_session_mode(request.app.state.settings.db_path)


def screen_note(t: Translator, item: dict[str, Any]) -> str | None:
    """What the picture of a device not online stands for (said beside it, not in it)."""
    if item["shown"]["live"]:
        return None
    if item["last_seen"] is not None:
        return t.gettext("As of %(time)s, when it was last heard from",
                         time=when(t, item["shown"]["at"]))
    if item["state"] == "never_seen":
        return t.gettext("Not connected yet: what it will show once it connects")
    return t.gettext("It never connected.")


def device_view(t: Translator, item: dict[str, Any], assignment: dict[str, Any] | None,
                page: dict[str, Any], session_mode: bool) -> dict[str, Any]:
    state, shown = item["state"], item["shown"]
    reason = item["offline_reason"]
    officer = shown["officer"]
    return {
        "id": item["id"], "state": state, "state_label": t.gettext(STATE_LABELS[state]),
        "reason": None if reason is None else t.gettext(
            OFFLINE_REASONS[reason], minutes=page["max_silence_ms"] // 60_000),
        "counter": item["counter_label"] or item["counter_id"] or "—",
        "unit": item["unit_name"] or "—",
        "last_seen": when(t, item["last_seen"]),
        "ago": None if item["last_seen"] is None else ago(t, page["now"] - item["last_seen"]),
        "fw": item["fw"] or "—",
        "queue": t.number(item["queue"]),
        "filtered_today": t.number(item["filtered_today"]),
        "filtered": t.number(item["filtered"]), "dropped": t.number(item["dropped"]),
        "dropped_any": bool(item["dropped"]),
        "rssi": "—" if item["rssi"] is None else t.gettext(
            "%(value)s dBm", value=t.number(item["rssi"])),
        "officer": None if officer is None else officer["name"],
        "officer_title": None if officer is None else officer["title"],
        "closed": officer is None and item["counter_id"] is not None,
        "screen_url": shown["screen_url"],
        "screen_text": screens.device_screen_text(assignment, session_mode=session_mode),
        "screen_note": screen_note(t, item),
    }


def fleet_view(request: Request, db, who: Viewer, page: dict[str, Any], *,
               unit: str | None, state: str | None, q: str | None) -> dict[str, Any]:
    t = translator(language_of(request))
    items = page["items"]
    assignments = fleet_status.assignments_at(db, {item["id"]: item["shown"]["at"]
                                            for item in items})
    session_mode = site_session_mode(request)
    summary = page["summary"]
    everything = ALERT_STATES["all"]  # the same "All" as the alerts' tab
    tabs = [{"label": t.gettext(everything), "count": t.number(summary["total"]),
             "href": link("/fleet", unit=unit, q=q), "current": state is None}]
    tabs += [{"label": t.gettext(STATE_LABELS[name]), "count": t.number(summary[name]),
              "href": link("/fleet", state=name, unit=unit, q=q), "current": state == name}
             for name in fleet_status.STATES]
    return {
        "devices": [device_view(t, item, assignments.get(item["id"]), page, session_mode)
                    for item in items],
        "tabs": tabs, "state": state or "", "q": q or "",
        "units": unit_options(db, who, unit),
        "updated": when(t, page["now"]),
        "pager": pager(page["total"], page["offset"] // page["limit"] + 1,
                       lambda n: link("/fleet", state=state, unit=unit, q=q,
                                      page=n if n > 1 else None), page["limit"]),
    }


@router.get("/fleet", response_class=HTMLResponse)
def fleet_page(request: Request, db: Db, who: CurrentViewer, now: Now,
               state: str | None = None, unit: str | None = None,
               q: Annotated[str | None, Query(max_length=100)] = None,
               page: Annotated[int, Query(ge=1)] = 1) -> Response:
    """Every device in the account's scope with its state, figures and screen; twin:
    GET /api/v1/fleet (technicians, administrators and heads)."""
    allowed = scoped.fleet_units(who)
    state, unit, q = blank(state), blank(unit), blank(q)
    if state is not None and state not in fleet_status.STATES:
        raise HTTPException(status_code=422, detail=(
            f"Trạng thái không hợp lệ: {state!r} / Unknown state {state!r}"))
    def fetch(number: int) -> dict[str, Any]:
        return scoped.fleet(db, allowed, unit=unit, state=state, q=q, limit=FLEET_PAGE,
                            offset=(number - 1) * FLEET_PAGE, now=now)
    data = fetch(page)
    if not data["items"] and data["total"]:  # a page past the end shows the last one
        data = fetch(-(-data["total"] // FLEET_PAGE))
    return render(request, "fleet.html", who,
                  **fleet_view(request, db, who, data, unit=unit, state=state, q=q))


# --- alerts --------------------------------------------------------------------------------

def names_of(db, logins: set[str]) -> dict[str, str]:
    """Display names of accounts by login (disabled ones too: they acted then)."""
    if not logins:
        return {}
    return {user["login"]: user["name"] for user in list_users(db, include_disabled=True)
            if user["login"] in logins}


def alert_view(t: Translator, item: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    by, state = item["acknowledged_by"], ALERT_STATES[item["state"]]
    offline = item["kind"] == "device_offline"
    return {
        "id": item["id"], "state": item["state"], "state_label": t.gettext(state),
        "offline": offline, "kind_label": t.gettext(ALERT_KINDS.get(item["kind"], item["kind"])),
        "message": (item.get("message") or {}).get(t.language, ""),
        "counter": item["counter_label"] or item["counter_id"], "unit": item["unit_name"],
        "officer": item["officer_name"] or "—",
        "window": span(t, item["first_at"], item["last_at"]),
        "ratings": t.number(item["ratings"]),
        "negative": "" if offline else t.gettext("%(count)s of %(total)s negative (%(share)s)",
                              count=t.number(item["negative"]),
                              total=t.number(item["ratings"]),
                              share=t.percent(item["negative_share"], 0)),
        "late": item["late"], "raised": when(t, item["raised_at"]),
        "acknowledged": None if by is None else t.gettext(
            "Acknowledged by %(name)s, %(time)s", name=names.get(by, by),
            time=when(t, item["acknowledged_at"])),
        "notes": t.ngettext("%(num)d note", "%(num)d notes", item["notes_count"]),
        "href": f"/alerts/{item['id']}",
    }


def respond_context(request: Request, who: Viewer, path: str) -> dict[str, Any]:
    """What the forms need: whether this account may respond, the page to come back to
    (`path` with this request's filters), and the message of a completed form (PRG)."""
    here = [(k, v) for k, v in parse_qsl(request.url.query) if k != "done"]
    done = request.query_params.get("done")
    t = translator(language_of(request))
    return {"can_respond": who.role in access.ALERT_RESPONDERS,
            "here": path + ("?" + urlencode(here) if here else ""),
            "done": t.gettext(DONE[done]) if done in DONE else None}


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(request: Request, db: Db, who: CurrentViewer, state: str = "open",
                unit: str | None = None,
                from_: Annotated[str | None, Query(alias="from")] = None,
                to: str | None = None, kind: str | None = None,
                page: Annotated[int, Query(ge=1)] = 1) -> Response:
    """Counter alerts in the account's scope, latest burst first; twin: GET /api/v1/alerts
    (leaders, heads and administrators)."""
    require_role(who, *access.ALERT_READERS)
    unit, from_, to, kind = blank(unit), blank(from_), blank(to), blank(kind)
    if state not in ALERT_STATES or kind not in (None, *ALERT_KINDS):
        raise HTTPException(status_code=422, detail=(
            f"Trạng thái hoặc loại không hợp lệ: {state!r}, {kind!r} / Unknown state or "
            f"kind {state!r}, {kind!r}"))
    t = translator(language_of(request))

    def listing(name: str, limit: int, offset: int = 0) -> dict[str, Any]:
        return scoped.alerts(db, who, unit=unit, state=name, from_=from_, to=to, limit=limit,
                             offset=offset, kind=kind)

    data = listing(state, ALERTS_PAGE, (page - 1) * ALERTS_PAGE)
    if not data["items"] and data["total"]:  # a page past the end shows the last one
        data = listing(state, ALERTS_PAGE, (-(-data["total"] // ALERTS_PAGE) - 1) * ALERTS_PAGE)
    counts = {name: data["total"] if name == state else listing(name, 1)["total"]
              for name in ALERT_STATES}
    names = names_of(db, {i["acknowledged_by"] for i in data["items"]
                          if i["acknowledged_by"]})
    filters = {"unit": unit, "from": from_, "to": to, "kind": kind}
    return render(
        request, "alerts.html", who, **respond_context(request, who, "/alerts"),
        alerts=[alert_view(t, item, names) for item in data["items"]],
        tabs=[{"label": t.gettext(label), "count": t.number(counts[name]),
               "href": link("/alerts", state=name, **filters), "current": name == state}
              for name, label in ALERT_STATES.items()],
        state=state, units=unit_options(db, who, unit), date_from=from_ or "",
        kinds=[{"code": code, "label": t.gettext(label), "selected": code == kind}
               for code, label in ALERT_KINDS.items()],
        date_to=to or "",
        pager=pager(data["total"], data["offset"] // data["limit"] + 1,
                    lambda n: link("/alerts", state=state, **filters,
                                   page=n if n > 1 else None), data["limit"]))


def press_view(t: Translator, press: dict[str, Any], language: str,
               whole_days: bool) -> dict[str, Any]:
    moment = local_datetime(press["pressed_at"])
    excluded = press["excluded"]
    return {
        "time": t.datetime(moment) if whole_days else clock(t, moment, seconds=True),
        "device": press["device_id"],
        "answer": press["answer_vi"] if language == "vi" else press["answer_en"],
        "negative": press["negative"], "counted": press["counted"],
        "excluded": None if excluded is None else t.gettext(
            "Excluded: %(reason)s", reason=t.gettext(FILTERED.get(excluded, excluded))),
        "reason": t.gettext(CITIZEN_REASONS.get(press["reason"], press["reason"]))
        if press["reason"] else "",
    }


def render_alert(request: Request, db, who: Viewer, alert_id: int, *, status_code: int = 200,
                 error: alerts.AlertError | None = None, **entered: str) -> Response:
    view = scoped.alert(db, who, alert_id)
    language = language_of(request)
    t = translator(language)
    names = names_of(db, {n["actor"] for n in view["notes"]} | (
        {view["acknowledged_by"]} if view["acknowledged_by"] else set()))
    rule = view["rule"]
    several_days = local_datetime(view["first_at"]).date() != local_datetime(
        view["last_at"]).date()
    return render(
        request, "alert.html", who, status_code=status_code,
        **respond_context(request, who, f"/alerts/{alert_id}"), alert=alert_view(t, view, names),
        error=None if error is None else (error.vi if language == "vi" else error.en),
        comment=entered.get("comment", ""), text=entered.get("text", ""),
        rule=t.gettext("More than %(minutes)s minutes offline within one shift",
                       minutes=t.number(rule["alert_minutes"]))
        if view["kind"] == "device_offline" else
        t.gettext("At least %(share)s negative within %(minutes)s minutes, with at "
                  "least %(ratings)s ratings", share=t.percent(rule["negative_share"], 0),
                  minutes=t.number(rule["window_minutes"]),
                  ratings=t.number(rule["min_ratings"])),
        presses=[press_view(t, p, language, several_days) for p in view["presses"]],
        presses_cut=None if view["presses_total"] <= len(view["presses"]) else t.gettext(
            "Showing the first %(shown)s of %(total)s presses.",
            shown=t.number(len(view["presses"])), total=t.number(view["presses_total"])),
        notes=[{"who": names.get(n["actor"], n["actor"]), "at": when(t, n["at"]),
                "text": n["text"]} for n in view["notes"]])


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
def alert_page(request: Request, alert_id: int, db: Db, who: CurrentViewer) -> Response:
    """One alert with the presses of its window and its notes; twin:
    GET /api/v1/alerts/{alert_id}."""
    return render_alert(request, db, who, alert_id)


def back(next_page: str, alert_id: int, done: str) -> RedirectResponse:
    """303 to the page the form was on (a local path only), saying what was done."""
    target = local_path(next_page or f"/alerts/{alert_id}")
    parts = urlsplit(target)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "done"] + [("done", done)]
    return RedirectResponse(f"{parts.path}?{urlencode(query)}", status_code=303)


def respond(request: Request, store, who: Viewer, alert_id: int, action: Callable[[], Any],
            done: str, next_page: str, **entered: str) -> Response:
    # The API's checks in the API's order: role, then the alert's unit in scope (404 first).
    require_role(who, *access.ALERT_RESPONDERS)
    require_alert_in_scope(who, store.db, alert_id)
    try:
        action()
    except alerts.AlertError as error:
        return render_alert(request, store.db, who, alert_id, status_code=status_of(error),
                            error=error, **entered)
    return back(next_page, alert_id, done)


@router.post("/alerts/{alert_id}/acknowledge")
def acknowledge_form(request: Request, alert_id: int, store: Writer, who: CurrentViewer,
                     comment: Annotated[str, Form()] = "",
                     next: Annotated[str, Form()] = "") -> Response:
    """Acknowledge with an optional comment; twin: POST /api/v1/alerts/{id}/acknowledge."""
    service = alerts.AlertService(store.db)
    return respond(request, store, who, alert_id,
                   lambda: service.acknowledge(alert_id, who.user.login, comment),
                   "acknowledged", next, comment=comment)


@router.post("/alerts/{alert_id}/notes")
def note_form(request: Request, alert_id: int, store: Writer, who: CurrentViewer,
              text: Annotated[str, Form()] = "",
              next: Annotated[str, Form()] = "") -> Response:
    """Add a note; twin: POST /api/v1/alerts/{id}/notes."""
    service = alerts.AlertService(store.db)
    return respond(request, store, who, alert_id,
                   lambda: service.add_note(alert_id, who.user.login, text), "noted", next,
                   text=text)
