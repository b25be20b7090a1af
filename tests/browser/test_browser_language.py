"""Switching language in the browser (issue 6, item 5): the English link turns the page, its
menu and its numbers English, and the Vietnamese link turns them back; the choice sticks
from page to page."""

from __future__ import annotations

from dashboard.i18n import translator


def ranking_index(page, officer: str) -> str:
    return page.locator(f'[data-testid="officer-ranking"] [data-officer="{officer}"]'
                        ).inner_text()


def switch(page, code: str) -> None:
    with page.expect_navigation():
        page.click(f'a[hreflang="{code}"]')


def test_english_and_back_to_vietnamese(visitors, server):
    page = visitors.new_page("lanhdao.hk")
    page.goto("/")
    assert page.locator("html").get_attribute("lang") == "vi"
    # The figure the page shows, from its JSON twin: the same value in both languages.
    index = page.request.get("/api/v1/overview").json()
    row = next(o for o in index["officers"] if o["id"] == "HK-0001")
    vi, en = translator("vi").number(row["index"], 1), translator("en").number(row["index"], 1)
    assert vi != en  # decimal comma against decimal point
    nav = page.locator("header nav")
    assert "Tổng quan" in nav.inner_text() and "Đăng xuất" in page.locator("header").inner_text()
    assert vi in ranking_index(page, "HK-0001")

    switch(page, "en")
    assert page.url.removeprefix(server.url) == "/"  # back on the same page
    assert page.locator("html").get_attribute("lang") == "en"
    assert "Overview" in nav.inner_text() and "Tổng quan" not in nav.inner_text()
    assert "Log out" in page.locator("header").inner_text()
    assert en in ranking_index(page, "HK-0001")
    assert vi not in ranking_index(page, "HK-0001")
    # The choice is remembered on the next page.
    page.goto("/team")
    assert page.locator("html").get_attribute("lang") == "en"
    assert "My team" in nav.inner_text()

    switch(page, "vi")
    assert page.url.removeprefix(server.url) == "/team"
    assert page.locator("html").get_attribute("lang") == "vi"
    assert "Cán bộ tôi phụ trách" in nav.inner_text()
    page.goto("/")
    assert vi in ranking_index(page, "HK-0001")


def test_the_login_page_switches_language_too(page, server):
    page.goto(server.url + "/login")
    assert page.locator("h1").inner_text() == "Đăng nhập"
    switch(page, "en")
    assert page.locator("h1").inner_text() == "Log in"
    assert page.locator("html").get_attribute("lang") == "en"
    switch(page, "vi")
    assert page.locator("h1").inner_text() == "Đăng nhập"
