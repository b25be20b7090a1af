"""The unit's year in the browser (issue 12): a head follows the month overview's link to
their unit's year and sees one row per officer of its JSON twin, under the overview's menu
entry, with the XLSX link."""

from __future__ import annotations

from urllib.parse import urlsplit


def test_the_overview_leads_to_the_units_year(visitors, server):
    page = visitors.new_page("chutich.hk")
    page.goto("/")
    with page.expect_navigation():
        page.click('[data-testid="year-link"]')
    url = urlsplit(page.url)
    assert url.path.startswith("/years/") and url.query == "unit=hk"
    year = url.path.removeprefix("/years/")
    twin = page.request.get(f"/api/v1/units/hk/years/{year}").json()
    rows = page.locator('[data-testid="year-officers"] tr[data-officer]')
    assert rows.count() == len(twin["officers"]) > 0
    assert page.locator('header nav a[aria-current="page"]').get_attribute("href") == "/"
    link = page.locator('[data-testid="export-xlsx"]').get_attribute("href")
    assert link == f"/api/v1/units/hk/years/{year}.xlsx"
    assert page.request.get(link).status == 200
