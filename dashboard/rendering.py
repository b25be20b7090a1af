"""Rendering of the pages: one Jinja2 environment, the language, the viewer, the CSRF token.

Every page renders through `render(request, template, viewer, **context)`, which adds what the
layout needs: `_` and `ngettext` bound to the page's language (dashboard/i18n.py), `t` (the
Translator, for numbers and dates), `viewer` (the account; None on the login page), `csrf`
(the session's token for forms), `lang` and the links to switch language.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from collector.web.auth import Viewer

from dashboard.i18n import LANGUAGE_NAMES, LANGUAGES, N_, negotiate, translator

LANGUAGE_COOKIE = "hailong_lang"
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def language_of(request: Request) -> str:
    return negotiate(request.query_params.get("lang") or request.cookies.get(LANGUAGE_COOKIE))


# The menu by role: (path, English label — translated in the catalogue). A page marks itself
# current by its path's first segment.
MENU = {
    "officer": [("/me", N_("My work"))],
    "leader": [("/", N_("Overview")), ("/team", N_("My team")), ("/alerts", N_("Alerts")),
               ("/me", N_("My work"))],
    "head": [("/", N_("Overview")), ("/team", N_("My team")), ("/alerts", N_("Alerts")),
             ("/fleet", N_("Devices")), ("/me", N_("My work"))],
    "technician": [("/fleet", N_("Devices"))],
    "administrator": [("/", N_("Overview")), ("/fleet", N_("Devices")), ("/alerts", N_("Alerts"))],
}
# Where "/" takes a role that has no overview.
HOME = {"officer": "/me", "technician": "/fleet"}


def menu(viewer: Viewer | None, path: str, gettext) -> list[dict[str, Any]]:
    if viewer is None:
        return []
    section = "/" + path.strip("/").split("/")[0]
    return [{"href": href, "label": gettext(label),
             "current": href == section or (href == "/" and section in ("/officers", "/years"))}
            for href, label in MENU.get(viewer.role, [])]


def page_context(request: Request, viewer: Viewer | None, **context: Any) -> dict[str, Any]:
    language = language_of(request)
    t = translator(language)
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    switch = [{"code": code, "name": LANGUAGE_NAMES[code], "current": code == language,
               "href": f"/language/{code}?next={quote(here, safe='/')}"}
              for code in LANGUAGES]
    return {"_": t.gettext, "ngettext": t.ngettext, "t": t, "lang": language,
            "languages": switch, "viewer": viewer,
            "menu": menu(viewer, request.url.path, t.gettext),
            "csrf": viewer.csrf if viewer else "", **context}


def render(request: Request, template: str, viewer: Viewer | None, *,
           status_code: int = 200, **context: Any) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(request, template,
                                      page_context(request, viewer, **context),
                                      status_code=status_code)


ERROR_HEADINGS = {403: N_("Not allowed"), 404: N_("Not found")}


def error_page(request: Request, status: int, detail: object) -> HTMLResponse:
    """A refusal on a page, styled and in the page's language ("vi / en" details split)."""
    language = language_of(request)
    text = str(detail)
    vi, sep, en = text.partition(" / ")
    message = (vi if language == "vi" else en) if sep else text
    t = translator(language)
    heading = t.gettext(ERROR_HEADINGS.get(status, N_("Cannot be done")))
    return render(request, "error.html", None, status_code=status, heading=heading,
                  message=message, status=status)
