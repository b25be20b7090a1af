"""The monthly routes and the printable form, over the world of test_monthly."""

from __future__ import annotations

import io

import openpyxl
import pytest
from fastapi.testclient import TestClient

from collector.api import month as api_month
from collector.evaluation import month as monthly
from collector.app import create_app
from collector.evaluation.policy import load_preset
from collector.db.reader import open_reader
from collector.core.settings import Settings
from collector.db.store import Store
import test_monthly
from accounts_support import admin_headers, as_officer
from test_monthly import MONTH, NOW, REVIEW, TODAY, at, build_world, evaluate

world = test_monthly.world  # the shared fixture

DECREE = load_preset("decree-335")


@pytest.fixture
def client(world):
    app = create_app(Settings(db_path=world, broker_url=None, policy="decree-335"))
    app.dependency_overrides[api_month.clock] = lambda: NOW
    app.dependency_overrides[api_month.today] = lambda: TODAY
    with TestClient(app, headers=admin_headers(world)) as client:
        yield client


def test_officer_month_is_the_library_result(client, world):
    response = client.get(f"/api/v1/officers/HK-A/months/{MONTH}")
    assert response.status_code == 200
    body = response.json()
    db = open_reader(world)
    try:
        expected = monthly.officer_month(db, "HK-A", MONTH, DECREE, now_ms=NOW, today=TODAY)
    finally:
        db.conn.close()
    assert body["policy"]["name"] == "decree-335"  # from the settings
    assert body["satisfaction"]["share_interval"] == list(expected["satisfaction"]
                                                          ["share_interval"])
    assert body["evidence_points"] == expected["evidence_points"]
    assert body["tasks"]["percentages"] == {"quantity": 80.0, "quality": 75.0, "progress": 75.0}


@pytest.mark.parametrize("path, status, detail", [
    ("/api/v1/officers/XX/months/2026-03", 404, "Không tìm thấy cán bộ 'XX' / No officer 'XX'"),
    ("/api/v1/officers/HK-A/months/2026-3", 422, "Tháng không hợp lệ"),
    ("/api/v1/units/xx/months/2026-03", 404, "Không tìm thấy đơn vị 'xx' / No unit 'xx'"),
    ("/api/v1/units/xx/months/2026-03.xlsx", 404, "No unit"),
    ("/api/v1/units/xx/years/2026", 404, "No unit"),
    ("/api/v1/officers/XX/years/2026", 404, "No officer"),
    ("/officers/XX/months/2026-03/form?lang=en", 404, "No officer"),
])
def test_errors_are_bilingual(client, path, status, detail):
    response = client.get(path)
    assert response.status_code == status
    # The API answers JSON with both languages; a page, a page in the reader's language.
    text = response.json()["detail"] if path.startswith("/api/") else response.text
    assert detail in text


def test_year_out_of_range_is_refused(client):
    assert client.get("/api/v1/officers/HK-A/years/1999").status_code == 422


def test_unit_month_json_and_xlsx(client):
    body = client.get(f"/api/v1/units/hk-1c/months/{MONTH}").json()
    assert [row["officer_id"] for row in body["officers"]] == [
        # By given name within the unit, in Vietnamese order: Đức, Hường, Thủy, Việt, Yến.
        "HK-B", "HK-A", "HK-F", "HK-D", "HK-C"]
    assert set(body) >= {"unit", "month", "policy", "officers", "quota", "quota_final",
                         "progress", "sub_units"}
    response = client.get(f"/api/v1/units/hk-1c/months/{MONTH}.xlsx")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(api_month.XLSX)
    assert 'filename="danh-gia-hk-1c-2026-03.xlsx"' in response.headers["content-disposition"]
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["Tháng 2026-03"]


def test_years(client):
    officer = client.get("/api/v1/officers/HK-A/years/2026").json()
    assert officer["months_missing"] == ["2026-01", "2026-02", "2026-03"]
    unit = client.get("/api/v1/units/hk/years/2026").json()
    assert len(unit["officers"]) == 8  # HK-E worked January and February
    xlsx = client.get("/api/v1/units/hk/years/2026.xlsx")
    assert openpyxl.load_workbook(io.BytesIO(xlsx.content)).sheetnames == ["Năm 2026"]


def test_routes_do_not_clash_with_the_workflow():
    paths = [route.path for route in api_month.router.routes]
    assert not [p for p in paths if "/evaluations/" in p]
    assert len(paths) == len(set(paths))


def test_printable_form(client):
    response = client.get(f"/officers/HK-A/months/{MONTH}/form")
    assert response.status_code == 200 and response.headers["content-type"].startswith(
        "text/html")
    html = response.text
    for text in ("CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc",
                 "PHIẾU ĐÁNH GIÁ, XẾP LOẠI CHẤT LƯỢNG HẰNG THÁNG", "Tháng 03/2026",
                 "BỘ PHẬN MỘT CỬA PHƯỜNG HOÀN KIẾM", "size:A4", "@media print",
                 "LÃNH ĐẠO TRỰC TIẾP", "THỦ TRƯỞNG ĐƠN VỊ", "Đặng Thị Mai Lan"):
        assert text in html, text
    # Vietnamese numbers: index 86,7; share 90,0 %; interval 77,0 – 96,0 %; coverage 75,0 %.
    assert 'data-testid="index">86,7<' in html
    assert 'data-testid="share">90,0 %<' in html and "77,0 – 96,0 %" in html
    assert 'data-testid="coverage">75,0 %<' in html
    assert 'data-testid="quantity">80,0 %<' in html
    # No scores yet: the form says it waits for the leader and shows the evidence's points.
    assert 'data-testid="awaiting">Chờ lãnh đạo chấm' in html and "57,04" in html


def test_printable_form_with_scores_and_decision(tmp_path):
    path = tmp_path / "hailong.db"
    build_world(path)
    store = Store(path)
    evaluate(store, "HK-A", self_scores={**REVIEW, "task_results": 60}, self_at=at(2, 9, month=4),
             self_comment="Đã hoàn thành các nhiệm vụ", review_scores=REVIEW,
             review_comment="Cần chủ động hơn", proposed_grade="HTTNV", reviewed_by="HK-L",
             reviewed_at=at(4, 9, month=4), final_grade="HTTNV", final_score=79.54,
             decision_note="Đồng ý với đề xuất", decided_by="HK-H",
             decided_at=at(6, 15, month=4), snapshot={"score": 79.54})
    store.close()
    app = create_app(Settings(db_path=path, broker_url=None, policy="decree-335"))
    app.dependency_overrides[api_month.clock] = lambda: NOW
    app.dependency_overrides[api_month.today] = lambda: TODAY
    with TestClient(app, headers=admin_headers(path)) as client:
        html = client.get(f"/officers/HK-A/months/{MONTH}/form").text
    assert 'data-testid="suggested-total">79,54<' in html
    assert 'data-testid="self-total">85,5<' in html
    assert 'data-testid="final-grade">Hoàn thành tốt nhiệm vụ (79,54 điểm' in html
    for text in ("Cần chủ động hơn", "Đồng ý với đề xuất", "Ngô Văn Hùng",
                 "Ngày 06 tháng 04 năm 2026", "Ngày 04 tháng 04 năm 2026",
                 "Số liệu tại thời điểm quyết định", "−1,17"):
        assert text in html, text


# --- a decided month whose evidence changed afterwards (issue 12, Deliver 4) ---------------------

def _decided_world(path):
    """HK-A's March reviewed by HK-L and decided by HK-H through the workflow, which freezes
    the officer-month as the API computes it."""
    from collector.evaluation.workflow.steps import WorkflowService
    build_world(path)
    store = Store(path)
    try:
        evaluate(store, "HK-A", review_scores=REVIEW, proposed_grade="HTTNV", reviewed_by="HK-L",
                 reviewed_at=at(4, 9, month=4))
        service = WorkflowService(
            store, DECREE, clock=lambda: NOW, today=lambda: TODAY,
            evidence_of=lambda officer, month: monthly.officer_month(
                store.db, officer, month, DECREE, now_ms=NOW, today=TODAY))
        service.decide("HK-A", MONTH, "HK-H", "HTTNV")
    finally:
        store.close()


def _changes_seen(path, headers):
    app = create_app(Settings(db_path=path, broker_url=None, policy="decree-335"))
    app.dependency_overrides[api_month.clock] = lambda: NOW
    app.dependency_overrides[api_month.today] = lambda: TODAY
    with TestClient(app, headers=headers) as client:
        body = client.get(f"/api/v1/officers/HK-A/months/{MONTH}").json()
        html = client.get(f"/officers/HK-A?month={MONTH}").text
        english = client.get(f"/officers/HK-A?month={MONTH}&lang=en").text
        # The printable form is the month as it is filed: it carries the same lines.
        html += client.get(f"/officers/HK-A/months/{MONTH}/form").text
        english += client.get(f"/officers/HK-A/months/{MONTH}/form?lang=en").text
    return body, html, english


def test_an_unchanged_decided_month_shows_no_changes(tmp_path):
    path = tmp_path / "hailong.db"
    _decided_world(path)
    body, html, _ = _changes_seen(path, as_officer(path, "HK-H"))
    assert body["workflow"]["status"] == "decided"
    assert body["evidence_changes"] == []
    assert 'data-testid="evidence-changes"' not in html


def test_late_ratings_after_the_decision_are_flagged_to_head_and_officer(tmp_path):
    from test_monthly import presses
    from collector.ingest.recording import record_batch
    path = tmp_path / "hailong.db"
    _decided_world(path)
    # Five "Rất hài lòng" presses in HK-A's 3 March shift arrive after the decision: 45 ratings
    # (35×4, 6×3, 2×2, 2×1) — index (35·100 + 6·66.67 + 2·33.33)/45 = 88.1, share 41/45 = 91.1 %.
    store = Store(path)
    try:
        stored = record_batch(store.db, presses("d1", 7, at(3, 9), [4] * 5))["stored"]
    finally:
        store.close()
    assert stored == 5
    head, html, english = _changes_seen(path, as_officer(path, "HK-H"))
    officer, officer_html, _ = _changes_seen(path, as_officer(path, "HK-A"))
    decision = head["workflow"]["decision"]
    assert (decision["grade"]["code"], decision["score"]) == ("HTTNV", 79.54)  # stands
    score = head["suggestion"]["score"]
    assert score > 79.54
    expected = [
        ("Lượt đánh giá: 40 → 45", "Ratings: 40 → 45"),
        ("Chỉ số hài lòng: 86,7 → 88,1", "Satisfaction index: 86.7 → 88.1"),
        ("Tỷ lệ hài lòng: 90,0 % → 91,1 %", "Share satisfied: 90.0 % → 91.1 %"),
        (f"Điểm gợi ý: 79,54 → {score:.2f}".replace(".", ","),
         f"Suggested score: 79.54 → {score:.2f}")]
    assert [(line["vi"], line["en"]) for line in head["evidence_changes"]] == expected
    assert officer["evidence_changes"] == head["evidence_changes"]
    for page_html, language in ((html, 0), (officer_html, 0), (english, 1)):
        blocks = page_html.split('data-testid="evidence-changes"')[1:]
        assert len(blocks) == 2  # the officer page and the printable form
        for block in blocks:
            part = block.split("</div>")[0]
            assert [item.split("</li>")[0] for item in part.split("<li>")[1:]] == [
                lines[language] for lines in expected]
    assert "Chứng cứ đã thay đổi sau khi quyết định" in html
    assert "Evidence changed after the decision" in english
