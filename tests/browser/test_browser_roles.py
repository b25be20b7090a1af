"""Each role in a real browser: where logging in lands, the menu it gets, and the pages it is
refused (issue 6, item 5); a wrong password; logging out."""

from __future__ import annotations

import pytest

from .browser_support import PASSWORD, log_in

# Role → (login, where "/" takes it, a hook that page shows, the menu's links in order).
# The menu is the product's promise per role (dashboard/rendering.py MENU), spelt out here so that
# a change to it is a visible decision, not a silent one.
ROLES = {
    "administrator": ("quantri", "/", "unit-index", ["/", "/fleet", "/alerts"]),
    "technician": ("kythuat", "/fleet", "fleet", ["/fleet"]),
    "head": ("chutich.hk", "/", "unit-index", ["/", "/team", "/alerts", "/fleet", "/me"]),
    "leader": ("lanhdao.hk", "/", "unit-index", ["/", "/team", "/alerts", "/me"]),
    "officer": ("canbo.hk1", "/me", "add-task", ["/me"]),
}
# (login, path it may not open): outside the role, or outside the account's unit scope.
REFUSED = [
    ("canbo.hk1", "/fleet"),  # an officer has no fleet
    ("canbo.hk1", "/officers/HK-0002"),  # another officer's page
    ("canbo.hk1", "/team"),  # an officer leads nobody
    ("lanhdao.hk", "/officers/BD-0001"),  # a Hoàn Kiếm leader, a Ba Đình officer
    ("chutich.bd", "/officers/HK-0001"),  # a Ba Đình head, a Hoàn Kiếm officer
]


def current_path(page, server) -> str:
    return page.url.removeprefix(server.url).split("?")[0] or "/"


def menu_links(page) -> list[str]:
    return page.locator("header nav a").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))")


@pytest.mark.parametrize("role", list(ROLES))
def test_each_role_lands_on_its_page_with_its_menu(role, visitors, server):
    login, landing, hook, menu = ROLES[role]
    page = visitors.new_page(login)
    page.goto("/")
    assert current_path(page, server) == landing
    assert page.locator(f'[data-testid="{hook}"]').count() >= 1
    assert menu_links(page) == menu
    # The menu marks the page one is on.
    assert page.locator('header nav a[aria-current="page"]').get_attribute("href") == landing
    # Every page of the menu opens for the role.
    for href in menu:
        response = page.goto(server.url + href)
        assert response.status == 200, (login, href, response.status)


@pytest.mark.parametrize("login, path", REFUSED)
def test_refused_outside_role_or_scope(login, path, visitors, server):
    page = visitors.new_page(login)
    response = page.goto(server.url + path)
    assert response.status == 403, (login, path, response.status)
    # A page of the site saying why, in the page's language only (refusals carry "vi / en").
    assert page.locator("header").count() == 1  # the site's layout, not a bare error
    reason = page.locator("main").inner_text()
    assert reason.strip() and " / " not in reason, reason
    # Nothing of the refused page is shown.
    for hook in ("fleet", "team", "satisfaction-levels", "tasks", "review-form"):
        assert page.locator(f'[data-testid="{hook}"]').count() == 0


def test_an_officer_sees_their_own_page(visitors, server, demo):
    page = visitors.new_page("canbo.hk1")
    response = page.goto(f"{server.url}/officers/HK-0001?month={demo.walk_month}")
    assert response.status == 200
    assert page.locator('[data-testid="satisfaction-levels"]').count() == 1
    # …but neither the leader's nor the head's form.
    assert page.locator('form[data-testid="review-form"]').count() == 0
    assert page.locator('form[data-testid="decision-form"]').count() == 0


def test_a_wrong_password_shows_the_error_and_stays_out(page, server):
    page.goto(server.url + "/login")
    page.fill('input[name="login"]', "lanhdao.hk")
    page.fill('input[name="password"]', PASSWORD + "-wrong")
    with page.expect_navigation() as navigation:
        page.click('form[action="/login"] button[type="submit"]')
    assert navigation.value.status == 401
    error = page.locator('p.error[role="alert"]')
    assert error.inner_text() == "Sai tên đăng nhập hoặc mật khẩu."
    assert page.locator('input[name="login"]').input_value() == "lanhdao.hk"
    assert page.locator('input[name="password"]').input_value() == ""
    # Still not logged in: a page sends back to the login form.
    page.goto(server.url + "/team")
    assert current_path(page, server) == "/login"


def test_logging_in_returns_to_the_page_asked_for_and_logging_out_ends_the_session(
        page, server):
    page.goto(server.url + "/team")
    assert current_path(page, server) == "/login"  # sent to log in first…
    log_in(page, server.url, "lanhdao.hk", next_path="/team")
    assert current_path(page, server) == "/team"  # …and back where one was going
    with page.expect_navigation():
        page.click('form[action="/logout"] button')
    assert current_path(page, server) == "/login"
    assert page.locator("header nav").count() == 0
    page.goto(server.url + "/team")
    assert current_path(page, server) == "/login"
    # The cookie is gone, so the API refuses too.
    assert page.request.get(server.url + "/api/v1/me").status == 401
