"""POST /api/v1/import/{kind}: the raw file in, the report out; 200, 422, 413, 415."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
import pytest
from fastapi.testclient import TestClient

from accounts_support import admin_headers

from collector.api import imports as api_imports
from collector.db import audit
from collector.app import create_app
from collector.imports.reading import MAX_BYTES
from collector.db.reader import open_reader
from collector.core.settings import Settings
from collector.db.store import Store
from collector.org.organisation import upsert_officer, upsert_unit

FIXTURES = Path(__file__).parent / "fixtures" / "import"
XLSX = api_imports.XLSX_TYPE


@pytest.fixture
def client(tmp_path):
    app = create_app(Settings(db_path=tmp_path / "api.db", broker_url=None))
    with TestClient(app, headers=admin_headers(tmp_path / "api.db")) as client:
        client.db_path = tmp_path / "api.db"
        yield client


def dump(path) -> list[str]:
    db = open_reader(path)
    try:
        return list(db.conn.iterdump())
    finally:
        db.conn.close()


def post(client, kind, data, content_type="text/csv", **params):
    return client.post(f"/api/v1/import/{kind}", content=data, params=params,
                       headers={"Content-Type": content_type})


def workbook() -> bytes:
    book = openpyxl.Workbook()
    units = book.active
    units.title = "Đơn vị"
    units.append(["Mã đơn vị", "Tên đơn vị", "Loại"])
    units.append(["cn", "UBND phường Cửa Nam", "Phường"])
    officers = book.create_sheet("Cán bộ")
    officers.append(["Mã cán bộ", "Họ và tên", "Chức danh", "Đơn vị"])
    officers.append(["CN-0001", "Nguyễn Thị Lan", "Chủ tịch UBND phường", "cn"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_an_xlsx_workbook_is_checked_then_applied(client):
    data = workbook()
    dry = post(client, "org", data, XLSX, filename="to-chuc.xlsx", dry_run="true")
    assert dry.status_code == 200
    report = dry.json()
    assert (report["ok"], report["dry_run"], report["applied"]) == (True, True, False)
    assert (report["file_name"], report["would_create"]) == ("to-chuc.xlsx", 2)
    before = dump(client.db_path)

    applied = post(client, "org", data, XLSX, filename="to-chuc.xlsx")
    assert applied.status_code == 200 and applied.json()["applied"] is True
    assert dump(client.db_path) != before
    officers = client.get("/api/v1/officers").json()
    assert [(o["id"], o["name"]) for o in officers] == [("CN-0001", "Nguyễn Thị Lan")]
    db = open_reader(client.db_path)
    try:
        [entry] = [e for e in audit.recent(db, None) if e.action.startswith("import.")]
        assert (entry.actor, entry.action) == ("user:admin", "import.org")
        assert entry.after_value["files"][0]["name"] == "to-chuc.xlsx"
    finally:
        db.conn.close()


def test_rejected_rows_answer_422_with_the_report_and_write_nothing(client):
    units = post(client, "org", "id,name\nhn,UBND Thành phố Hà Nội\n".encode(),
                 filename="units.csv")
    assert units.status_code == 200
    before = dump(client.db_path)
    bad = "Mã cán bộ;Họ và tên;Chức danh;Đơn vị\nX-1;An;CV;hn\nX-2;Bình;CV;zz\n".encode()
    response = post(client, "org", bad, "text/csv; charset=utf-8", filename="officers.csv")
    assert response.status_code == 422
    report = response.json()
    assert report["ok"] is False and report["applied"] is False
    assert report["rejected"] == [{"sheet": "officers.csv", "row": 3, "column": "Đơn vị",
                                   "value": "zz", "vi": "unit_id: không tìm thấy đơn vị 'zz'",
                                   "en": "unit_id: no unit 'zz'"}]
    assert dump(client.db_path) == before


def test_tasks_import_over_http(client):
    store = Store(client.db_path)
    try:
        upsert_unit(store.db, "hk", "UBND phường Hoàn Kiếm")
        for officer in ("HK-0001", "HK-0002", "HK-0003"):
            upsert_officer(store.db, officer, officer, "Chuyên viên", "hk")
    finally:
        store.close()
    data = (FIXTURES / "tasks.csv").read_bytes()
    response = post(client, "tasks", data, filename="tasks.csv")
    assert response.status_code == 200 and response.json()["would_create"] == 3
    again = post(client, "tasks", data, filename="tasks.csv")
    assert again.status_code == 422 and len(again.json()["rejected"]) == 3


def test_a_body_over_10_mb_is_413_and_not_read(client):
    response = post(client, "org", b"id,name\n" + b"x" * MAX_BYTES, filename="units.csv")
    assert response.status_code == 413
    assert "10 MB" in response.json()["detail"]


def test_a_streamed_body_over_the_limit_is_413(client):
    def chunks():
        for _ in range(11):
            yield b"x" * 2**20

    response = client.post("/api/v1/import/org", content=chunks(),
                           headers={"Content-Type": "text/csv"})
    assert response.status_code == 413


@pytest.mark.parametrize("content_type", ["application/json",
                                          "multipart/form-data; boundary=x"])
def test_a_body_that_is_not_a_file_is_415(client, content_type):
    response = post(client, "org", b"{}", content_type)
    assert response.status_code == 415
    assert "Send the CSV or XLSX file itself" in response.json()["detail"]


def test_an_unknown_kind_is_422_and_the_route_is_documented(client):
    assert post(client, "roster", b"id\n").status_code == 422
    operation = client.get("/openapi.json").json()["paths"]["/api/v1/import/{kind}"]["post"]
    assert {"200", "413", "415", "422"} <= set(operation["responses"])
