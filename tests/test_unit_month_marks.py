"""What the head sees on the unit's month at a glance (issue 12, Deliver 3 and 4): evidence that
changed after a decision, and the offline flag, on each officer's row — the JSON, the overview
page and the XLSX.

The world is test_monthly's (March 2026, evaluated on 10 April 2026), then:

- HK-F (joined 15 March) works at Quầy 2 on 20 March 08:00–12:00, when d2 is offline (d2 is
  online on 2 and 4 March only): 0 ratings (fewer than 30) and 0 % of the shift covered
  (under 80 %) → her row carries `insufficient_reason` "offline";
- HK-L reviews HK-A, HK-B and HK-C (decree-335, "good" proposed); HK-H decides HK-A and HK-C
  ("good"), which freezes their months; HK-B stays undecided;
- then HK-A's 3 March shift is corrected to end at 11:00 instead of 12:00. Worked by hand:
  duty 4 h (2 March) + 3 h (3 March) = 7.0 h, was 8.0; online 2 h (d1 08:00–10:00 on 2 March)
  + 3 h (d1 07:00–13:00 covers 08:00–11:00) = 5.0 h, was 6.0. Every rating of HK-A was pressed
  on 2 March, so ratings, index, share and the suggested score stay: two lines change.
  HK-B's 2 March shift is corrected to end at 11:00 as well (his last press is at 10:51):
  his evidence changes too, but an undecided month has nothing frozen to differ from.
"""

from __future__ import annotations

import html
import re

import openpyxl
import pytest
from accounts_support import as_officer
from fastapi.testclient import TestClient

from collector.api import month as api_month
from collector.app import create_app
from collector.core.settings import Settings
from collector.db.reader import open_reader
from collector.db.store import Store
from collector.evaluation import export_xlsx
from collector.evaluation import month as monthly
from collector.evaluation.workflow.steps import WorkflowService
from collector.roster import duty
from collector.roster.shifts import RosterService
from test_monthly import DECREE, MONTH, NOW, REVIEW, TODAY, at, build_world, shift

CHANGED = [("Giờ làm việc tại quầy: 8,0 → 7,0", "Duty hours: 8.0 → 7.0"),
           ("Giờ thiết bị trực tuyến: 6,0 → 5,0", "Hours with the device online: 6.0 → 5.0")]


def _shift_id(store: Store, officer: str, starts_at: int) -> int:
    return next(row["id"] for row in duty.roster_shifts(store.db, officer_id=officer)
                if row["starts_at"] == starts_at)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    path = tmp_path_factory.mktemp("marks") / "hailong.db"
    build_world(path)
    store = Store(path)
    try:
        shift(store, "d2", "HK-F", at(20, 8), at(20, 12))
        service = WorkflowService(
            store, DECREE, clock=lambda: NOW, today=lambda: TODAY,
            evidence_of=lambda officer, month: monthly.officer_month(
                store.db, officer, month, DECREE, now_ms=NOW, today=TODAY))
        for officer in ("HK-A", "HK-B", "HK-C"):
            service.review(officer, MONTH, "HK-L", REVIEW, "Nhận xét", "HTTNV")
        for officer in ("HK-A", "HK-C"):
            service.decide(officer, MONTH, "HK-H", "HTTNV")
        roster = RosterService(store, actor="test", clock=lambda: NOW)
        roster.correct_shift(_shift_id(store, "HK-A", at(3, 8)), ends_at=at(3, 11),
                             reason="Ca chiều 03/3 kết thúc lúc 11:00")
        roster.correct_shift(_shift_id(store, "HK-B", at(2, 8)), ends_at=at(2, 11),
                             reason="Ca 02/3 kết thúc lúc 11:00")
    finally:
        store.close()
    return path


@pytest.fixture(scope="module")
def report(world):
    db = open_reader(world)
    try:
        return monthly.unit_month(db, "hk-1c", MONTH, DECREE, now_ms=NOW, today=TODAY)
    finally:
        db.conn.close()


def rows_of(report) -> dict[str, dict]:
    return {row["officer_id"]: row for row in report["officers"]}


# --- the unit's month (JSON) ----------------------------------------------------------------

def test_a_decided_row_carries_what_changed_after_the_decision(report, world):
    rows = rows_of(report)
    assert rows["HK-A"]["status"] == "decided"
    assert [(line["vi"], line["en"]) for line in rows["HK-A"]["evidence_changes"]] == CHANGED
    assert [line["field"] for line in rows["HK-A"]["evidence_changes"]] == [
        "satisfaction.coverage.duty_hours", "satisfaction.coverage.online_hours"]
    # The same lines as the officer's own month, which compares the full view.
    db = open_reader(world)
    try:
        full = monthly.officer_month(db, "HK-A", MONTH, DECREE, now_ms=NOW, today=TODAY)
    finally:
        db.conn.close()
    assert full["evidence_changes"] == rows["HK-A"]["evidence_changes"]


def test_an_unchanged_decided_row_and_an_undecided_row_carry_none(report):
    rows = rows_of(report)
    # HK-C decided and nothing moved: the unit's (shorter) view of the month reads exactly
    # as the frozen full view on every compared field.
    assert (rows["HK-C"]["status"], rows["HK-C"]["evidence_changes"]) == ("decided", [])
    # HK-B's duty hours moved (4.0 → 3.0) but nothing was decided, so nothing is frozen.
    assert rows["HK-B"]["coverage"]["duty_hours"] == 3.0
    assert (rows["HK-B"]["status"], rows["HK-B"]["evidence_changes"]) == ("reviewed", [])
    assert all(rows[o]["evidence_changes"] == [] for o in ("HK-D", "HK-F"))


def test_the_unit_counts_the_officers_whose_evidence_changed(report):
    assert report["evidence_changed"] == 1  # HK-A alone


def test_the_offline_flag_is_on_the_row(report):
    rows = rows_of(report)
    assert rows["HK-F"]["satisfaction"]["ratings"] == 0
    assert rows["HK-F"]["coverage"]["share"] == 0.0
    assert rows["HK-F"]["insufficient_reason"] == "offline"
    # HK-D: 10 ratings, also under 30, but d2 was online through her whole shift: few
    # ratings, not a device switched off. HK-A: 40 ratings, enough whatever the coverage.
    assert rows["HK-D"]["satisfaction"]["sufficient"] is False
    assert rows["HK-D"]["insufficient_reason"] is None
    assert rows["HK-A"]["insufficient_reason"] is None


def test_a_month_flagged_offline_after_its_decision_says_so_on_its_row(tmp_path):
    """HK-D's 4 March shift at Quầy 2 (d2 online all day, her 10 ratings, all "Không hài
    lòng") is decided, then corrected to 5 March 08:00–12:00, when d2 was offline. By hand:
    her 10 presses fall outside the shift (10 → 0 ratings; index 0.0 and share 0.0 % → none);
    online 4.0 h → 0.0 h of the same 4.0 duty hours, so 0 % covered and no rating: the month
    now reads "insufficient because the counter's device was offline", and did not."""
    path = tmp_path / "hailong.db"
    build_world(path)
    store = Store(path)
    try:
        service = WorkflowService(
            store, DECREE, clock=lambda: NOW, today=lambda: TODAY,
            evidence_of=lambda officer, month: monthly.officer_month(
                store.db, officer, month, DECREE, now_ms=NOW, today=TODAY))
        service.review("HK-D", MONTH, "HK-L", REVIEW, "Nhận xét", "HTTNV")
        service.decide("HK-D", MONTH, "HK-H", "HTTNV")
        RosterService(store, actor="test", clock=lambda: NOW).correct_shift(
            _shift_id(store, "HK-D", at(4, 8)), starts_at=at(5, 8), ends_at=at(5, 12),
            reason="Ca trực đúng là ngày 05/3")
        report = monthly.unit_month(store.db, "hk-1c", MONTH, DECREE, now_ms=NOW, today=TODAY)
    finally:
        store.close()
    row = rows_of(report)["HK-D"]
    assert row["insufficient_reason"] == "offline"
    assert [line["field"] for line in row["evidence_changes"]] == [
        "satisfaction.total", "satisfaction.index", "satisfaction.share_satisfied",
        "satisfaction.coverage.online_hours", "satisfaction.insufficient_reason"]
    assert [(line["vi"], line["en"]) for line in row["evidence_changes"]][-2:] == [
        ("Giờ thiết bị trực tuyến: 4,0 → 0,0", "Hours with the device online: 4.0 → 0.0"),
        ("Chưa đủ dữ liệu vì thiết bị tại quầy mất kết nối: không → có",
         "Insufficient evidence because the counter's device was offline: no → yes")]
    assert report["evidence_changed"] == 1


# --- the overview page ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def pages(world):
    app = create_app(Settings(db_path=world, broker_url=None, policy="decree-335"))
    app.dependency_overrides[api_month.clock] = lambda: NOW
    app.dependency_overrides[api_month.today] = lambda: TODAY
    with TestClient(app, headers=as_officer(world, "HK-H")) as client:
        vi = client.get(f"/?unit=hk-1c&month={MONTH}")
        en = client.get(f"/?unit=hk-1c&month={MONTH}&lang=en")
        officer = client.get(f"/officers/HK-A?month={MONTH}")
    assert vi.status_code == en.status_code == officer.status_code == 200
    return vi.text, en.text, officer.text


def row_html(page_html: str, officer: str) -> str:
    """One officer's row of the ranking, entities decoded ("&#39;" → "'")."""
    start = page_html.index(f'<tr data-officer="{officer}"')
    return html.unescape(page_html[start:page_html.index("</tr>", start)])


def test_the_overview_marks_the_changed_row_and_links_to_the_month(pages):
    vi, en, officer_page = pages
    marked = row_html(vi, "HK-A")
    assert 'data-testid="evidence-changed"' in marked
    assert f'href="/officers/HK-A?month={MONTH}#evidence-changes"' in marked
    assert "Chứng cứ đã thay đổi sau khi quyết định" in marked
    assert "2 mục khác với lúc quyết định" in marked
    for line, _ in CHANGED:  # what changed, on hovering the mark
        assert line in marked
    assert "Evidence changed after the decision" in row_html(en, "HK-A")
    assert "2 fields differ from the decision" in row_html(en, "HK-A")
    for other in ("HK-B", "HK-C", "HK-D", "HK-F"):
        assert 'data-testid="evidence-changed"' not in row_html(vi, other), other
    # The link lands on the lines of the officer's month.
    assert 'id="evidence-changes"' in officer_page


def test_the_overview_counts_the_changes_in_the_unit_summary(pages):
    vi, en, _ = pages
    summary = re.search(r'<p[^>]*data-testid="evidence-changed-summary".*?</p>', vi, re.S)
    assert summary is not None
    text = summary.group(0)
    assert "Chứng cứ đã thay đổi sau khi quyết định đối với 1 cán bộ" in text
    assert "Nguyễn Thị Thu Hường" in text and f"/officers/HK-A?month={MONTH}" in text
    assert "Evidence changed after the decision for 1 officer" in en


def test_the_overview_shows_the_offline_flag(pages):
    vi, en, _ = pages
    assert "thiếu dữ liệu do thiết bị mất kết nối" in row_html(vi, "HK-F")
    assert 'data-testid="offline-flag"' in row_html(vi, "HK-F")
    assert "missing data: the counter's device was offline" in row_html(en, "HK-F")
    # HK-D has too few ratings for another reason: the usual words, not the flag.
    assert 'data-testid="offline-flag"' not in row_html(vi, "HK-D")
    assert "insufficient evidence" in row_html(en, "HK-D")


# --- the XLSX -------------------------------------------------------------------------------

def test_the_xlsx_has_the_changes_and_the_offline_flag(report, tmp_path):
    path = tmp_path / "thang.xlsx"
    export_xlsx.unit_month_xlsx(report, path)
    sheet = openpyxl.load_workbook(path)["Tháng 2026-03"]
    header = 6
    columns = {sheet.cell(row=header, column=c).value: c for c in range(1, sheet.max_column + 1)}
    column = columns["Chứng cứ đã thay đổi sau khi quyết định"]
    assert sheet.cell(row=header + 1, column=column).value == "Evidence changed after the decision"
    rows = {sheet.cell(row=r, column=columns["Mã cán bộ"]).value: r
            for r in range(header + 2, header + 2 + len(report["officers"]))}
    assert sheet.cell(row=rows["HK-A"], column=column).value == (
        "Giờ làm việc tại quầy: 8,0 → 7,0; Giờ thiết bị trực tuyến: 6,0 → 5,0")
    for other in ("HK-B", "HK-C", "HK-D", "HK-F"):
        assert sheet.cell(row=rows[other], column=column).value is None, other
    sufficient = columns["Đủ dữ liệu đánh giá"]
    assert sheet.cell(row=rows["HK-F"], column=sufficient).value == (
        "Chưa đủ dữ liệu do thiết bị mất kết nối / insufficient: the counter's device was "
        "offline")
    assert sheet.cell(row=rows["HK-D"], column=sufficient).value == (
        "Chưa đủ dữ liệu / insufficient")
    bottom = [sheet.cell(row=r, column=1).value for r in range(max(rows.values()) + 1,
                                                              sheet.max_row + 1)]
    assert "Chứng cứ đã thay đổi sau khi quyết định: 1 cán bộ" in bottom
    assert "Evidence changed after the decision: 1 officer" in bottom


# --- what is compared (collector/evaluation/snapshot_changes.py) --------------------------

def _sat(**fields) -> dict:
    return {"satisfaction": {"total": 12, **fields}}


def test_a_month_newly_flagged_offline_after_the_decision_is_a_change():
    from collector.evaluation.snapshot_changes import changes
    lines = changes(_sat(insufficient_reason=None), _sat(insufficient_reason="offline"))
    assert [(line["field"], line["vi"], line["en"]) for line in lines] == [
        ("satisfaction.insufficient_reason",
         "Chưa đủ dữ liệu vì thiết bị tại quầy mất kết nối: không → có",
         "Insufficient evidence because the counter's device was offline: no → yes")]
    back = changes(_sat(insufficient_reason="offline"), _sat(insufficient_reason=None))
    assert [line["en"] for line in back] == [
        "Insufficient evidence because the counter's device was offline: yes → no"]
    assert changes(_sat(insufficient_reason="offline"), _sat(insufficient_reason="offline")) \
        == []
    # A snapshot frozen before the flag existed holds no such field: not compared.
    assert changes(_sat(), _sat(insufficient_reason="offline")) == []


def test_a_field_only_the_full_view_holds_is_never_a_change():
    """The snapshot is the officer's full month; a unit's row compares it with the shorter
    view (no per-counter coverage, no task items): what that view lacks is not compared."""
    from collector.evaluation.snapshot_changes import changes
    frozen = {"satisfaction": {"total": 40, "coverage": {"duty_hours": 8.0,
                                                         "online_hours": 6.0,
                                                         "by_counter": []}},
              "tasks": {"summary": {"registered": 4}, "items": [{"id": 1}]}}
    shorter = {"satisfaction": {"total": 40}, "tasks": {"summary": {"registered": 4}}}
    assert changes(frozen, shorter) == []
