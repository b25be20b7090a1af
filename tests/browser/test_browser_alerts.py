"""An alert in the browser (issue 6, item 5): a burst of four "Không hài lòng" on a simulated
counter device, through a real Mosquitto and the collector's ingest, shows up on /alerts, and
the leader acknowledges it with a comment."""

from __future__ import annotations

from kiosk.sim import SimulatedKiosk
from waiting import wait_for

from .browser_support import Visitors

COMMENT = "Đã trao đổi với cán bộ; người dân chờ lâu do hệ thống một cửa bị chậm."
ROWS = '[data-testid="alerts"] [data-alert]'


def test_a_burst_of_negative_presses_shows_an_alert_the_leader_acknowledges(
        browser, mosquitto, live_collector):
    visitors = Visitors(browser, live_collector.url)
    kiosk = SimulatedKiosk("kiosk-hk-01", "127.0.0.1", mosquitto.port, boot=11,
                           cooldown_s=0).start()
    try:
        page = visitors.new_page("lanhdao.hk")
        assert page.goto("/alerts").status == 200
        assert page.locator(ROWS).count() == 0  # a fresh database has none

        wait_for(lambda: "Nguyễn Thị Thu Hường" in kiosk.screen_text(), what="the officer card")
        for _ in range(4):
            kiosk.press(1)  # Không hài lòng

        def listed() -> int:
            page.goto("/alerts")
            return page.locator(ROWS).count()

        wait_for(listed, what="the alert on /alerts", interval=0.3)
        rows = page.locator(ROWS)
        assert rows.count() == 1
        alert_id = rows.first.get_attribute("data-alert")
        row_text = rows.first.inner_text()
        assert "Quầy 1" in row_text and "Nguyễn Thị Thu Hường" in row_text

        form = page.locator(f'form[data-testid="ack-{alert_id}"]')
        form.locator('[name="comment"]').fill(COMMENT)
        with page.expect_navigation():
            form.locator('button[type="submit"], button:not([type])').first.click()
        assert page.locator('p.error[role="alert"]').count() == 0

        page.goto("/alerts")
        # Acknowledged: no second acknowledgement is offered; where the alert is still
        # listed, it shows the comment.
        assert page.locator(f'form[data-testid="ack-{alert_id}"]').count() == 0
        row = page.locator(f'[data-alert="{alert_id}"]')
        if row.count():
            assert COMMENT in row.inner_text()
        stored = page.request.get(f"/api/v1/alerts/{alert_id}").json()
        assert stored["acknowledged_by"] == "lanhdao.hk"
        assert [note["text"] for note in stored["notes"]] == [COMMENT]
    finally:
        kiosk.stop()
        visitors.close()
