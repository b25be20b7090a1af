"""The role × route table (collector/web/access.py): complete, and what it decides for a technician.

The full role × route × unit matrix runs in tests/test_access_matrix.py; this file pins the
table's shape and the issue's case: a technician read evaluations through the API that the
pages refused him.
"""

from __future__ import annotations

import pytest
from accounts_support import as_officer, token_headers
from app_routes import all_routes
from fastapi.testclient import TestClient

from collector.web import access
from collector.accounts.users import ROLES
from collector.app import create_app
from collector.web.auth import CurrentViewer
from collector.core.settings import Settings
from collector.db.store import Store
from collector.evaluation.tasks import TaskService


def operations(app) -> set[tuple[str, str]]:
    return {(method, route.path) for route in all_routes(app.routes)
            for method in route.methods - {"HEAD"}}


@pytest.fixture
def app(seeded_db):
    return create_app(Settings(db_path=seeded_db, broker_url=None))


def test_every_route_of_the_app_is_in_the_table_and_nothing_else(app):
    routes = operations(app)
    assert routes - set(access.ROUTES) == set(), "add these routes to collector/web/access.py"
    assert set(access.ROUTES) - routes == set(), "routes in the table the app no longer has"


def test_the_table_names_only_known_roles_and_targets():
    for (method, path), rule in access.ROUTES.items():
        assert rule.roles <= set(ROLES), (method, path)
        assert rule.public == (not rule.roles), (method, path)
        if rule.target is not None:
            assert "{" + access.TARGET_PARAMS[rule.target] + "}" in path, (method, path)


def test_a_technician_reads_no_evaluation_data():
    for (method, path), rule in access.ROUTES.items():
        if rule.data == "evaluation":
            assert "technician" not in rule.roles, (method, path)
    readable = {path for (method, path), rule in access.ROUTES.items()
                if method == "GET" and "technician" in rule.roles}
    assert "/api/v1/fleet" in readable and "/api/v1/devices/{device_id}/screen.png" in readable


def test_a_route_missing_from_the_table_is_refused_to_everyone(app, seeded_db):
    @app.get("/api/v1/forgotten-with-account")
    def forgotten_with_account(who: CurrentViewer) -> dict:
        return {"secret": 1}

    with TestClient(app, headers=token_headers(seeded_db, "admin", "administrator")) as client:
        refused = client.get("/api/v1/forgotten-with-account")
        assert refused.status_code == 403 and "collector/web/access.py" in refused.json()["detail"]


def test_the_issue_s_technician_routes_are_refused(app, seeded_db):
    """Found in the field: each of these answered 200 to a technician."""
    store = Store(seeded_db)
    try:
        task = TaskService(store, actor="test").create(
            "HK-0001", title="Rà soát", assigned_by="HK-0101", period="month",
            deadline="2026-03-31")["id"]
    finally:
        store.close()
    as_officer(seeded_db, "HK-0001")
    headers = token_headers(seeded_db, "kythuat", "technician")
    with TestClient(app, headers=headers) as client:
        for path in ("/api/v1/units/hk/months/2026-03", "/api/v1/units/hk/months/2026-03.xlsx",
                     "/api/v1/units/hk/years/2026", "/api/v1/units/hk/years/2026.xlsx",
                     "/api/v1/officers/HK-0001/months/2026-03",
                     "/api/v1/officers/HK-0001/years/2026",
                     "/api/v1/officers/HK-0001/tasks?month=2026-03", f"/api/v1/tasks/{task}",
                     "/api/v1/officers/HK-0001/evaluations/2026-03/responses",
                     "/api/v1/officers/HK-0001/satisfaction?month=2026-03",
                     "/api/v1/officers/HK-0001/trend", "/api/v1/officers/HK-0001/heatmap",
                     "/api/v1/units/hk/trend", "/api/v1/overview",
                     "/api/v1/ratings?device=kiosk-hk-01", "/api/v1/calendar/2026-03"):
            response = client.get(path)
            assert response.status_code == 403, path
            assert "HK-0001" not in response.text and "Hường" not in response.text
        for path in ("/api/v1/fleet", "/api/v1/devices", "/api/v1/devices/kiosk-hk-01/screen.png",
                     "/api/v1/rejected", "/api/v1/counters", "/api/v1/units"):
            assert client.get(path).status_code == 200, path


def test_docs_show_the_table_as_it_is():
    from pathlib import Path
    doc = (Path(__file__).resolve().parent.parent / "docs" / "access.md").read_text("utf-8")
    assert access.markdown_table() in doc, "regenerate docs/access.md's table: " \
        "python -c 'from collector.web.access import markdown_table; print(markdown_table())'"
