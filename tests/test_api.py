"""The API and the dashboard pages on a seeded database, without a broker."""

from __future__ import annotations

import pytest
from accounts_support import admin_headers
from factories import T0, incoming, rating_bytes
from fastapi.testclient import TestClient

from collector.app import create_app
from collector.core.settings import Settings
from collector.db.store import Store
from collector.core.timeline import month_of
from collector.ingest.recording import record_batch

MONTH = month_of(T0)


@pytest.fixture
def client(seeded_db):
    store = Store(seeded_db)
    record_batch(store.db, [
        incoming(rating_bytes(seq=1, level=4)),
        incoming(rating_bytes(seq=2, level=3)),
        incoming(rating_bytes(seq=3, level=1, reason="waiting")),
        incoming(rating_bytes(seq=4, level=1, excluded="cooldown")),
        incoming(b"not json"),
    ])
    store.close()
    app = create_app(Settings(db_path=seeded_db, broker_url=None))
    with TestClient(app, headers=admin_headers(seeded_db)) as client:
        yield client


def test_health_reports_totals_and_no_broker(client):
    body = client.get("/api/v1/health").json()
    assert body["status"] == "ok"
    assert body["broker"] == {"configured": False, "connected": False, "error": None,
                              "address": None}
    assert (body["ratings_total"], body["rejected_total"]) == (4, 1)


def test_officers_lists_the_seeded_organisation(client):
    officers = client.get("/api/v1/officers").json()
    assert {"id": "HK-0001", "name": "Nguyễn Thị Thu Hường", "title": "Chuyên viên",
            "unit_id": "hk-1c", "unit_name": "Bộ phận Một cửa phường Hoàn Kiếm"} in officers


def test_satisfaction_counts_levels_and_keeps_filtered_apart(client):
    body = client.get(f"/api/v1/officers/HK-0001/satisfaction?month={MONTH}").json()
    assert body["counts"] == {"very_dissatisfied": 0, "dissatisfied": 1, "neutral": 0,
                              "satisfied": 1, "very_satisfied": 1}
    assert body["total"] == 3
    assert body["index"] == pytest.approx((100 + 200 / 3 + 0) / 3, abs=0.05)
    assert (body["filtered"], body["filtered_by_reason"]) == (1, {"cooldown": 1})
    assert body["reasons"] == {"waiting": 1}


def test_satisfaction_of_an_empty_month_has_no_index(client):
    body = client.get("/api/v1/officers/HK-0002/satisfaction?month=2020-01").json()
    assert (body["total"], body["index"], body["share_satisfied"]) == (0, None, None)


@pytest.mark.parametrize("url, status", [
    ("/api/v1/officers/HK-0001/satisfaction?month=2026-13", 422),
    ("/api/v1/officers/NOBODY/satisfaction", 404),
])
def test_bad_requests_get_clear_errors(client, url, status):
    response = client.get(url)
    assert response.status_code == status
    assert response.json()["detail"]


@pytest.mark.parametrize("url, status, vi", [
    ("/officers/NOBODY", 404, "Không tìm thấy"),
    ("/?month=november", 422, "YYYY-MM"),
])
def test_a_refused_page_is_a_page_in_the_reader_s_language(client, url, status, vi):
    response = client.get(url)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert 'data-testid="error"' in response.text and vi in response.text


def test_rejected_messages_are_visible_with_reason(client):
    rows = client.get("/api/v1/rejected").json()
    assert rows[0]["reason"] == "invalid_json" and rows[0]["payload_text"] == "not json"


def test_officer_page_shows_the_same_figures_in_vietnamese(client):
    html = client.get(f"/officers/HK-0001?month={MONTH}").text
    assert "Nguyễn Thị Thu Hường" in html
    assert "Rất hài lòng" in html and "Không hài lòng" in html
    assert 'data-testid="total">3<' in html
    assert 'data-testid="index">55,6<' in html  # Vietnamese decimal comma
    assert "Bấm lặp trong thời gian chờ" in html
    assert "Lý do người dân chọn sau khi đánh giá thấp" in html and "Thời gian chờ" in html


def test_overview_page_links_every_officer(client):
    html = client.get(f"/?month={MONTH}").text
    assert f'href="/officers/BD-0002?month={MONTH}"' in html
    assert "Xếp hạng cán bộ theo mức độ hài lòng" in html


def test_openapi_lists_the_api(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/v1/health", "/api/v1/officers",
            "/api/v1/officers/{officer_id}/satisfaction"} <= set(paths)
    assert client.get("/docs").status_code == 200


@pytest.mark.parametrize("url, body, status, detail", [
    ("/api/v1/devices/kiosk-hk-01/session", {"dossier": "A1"}, 503, "without a broker"),
    ("/api/v1/devices/kiosk-zz-99/session", {"dossier": "A1"}, 404, "no active device"),
    ("/api/v1/devices/kiosk-hk-01/session", {"dossier": "HS 01; x"}, 422, "dossier"),
    ("/api/v1/devices/kiosk-hk-01/command", {"cmd": "format_flash"}, 422, "unknown command"),
])
def test_sending_to_devices_explains_refusals(client, url, body, status, detail):
    response = client.post(url, json=body)
    assert response.status_code == status
    assert detail in response.json()["detail"]
