"""The one error handler (collector/web/errors.py): every domain error class in its table
answers its status both as the API's JSON and as the dashboard's error page.

A route of the real app raises each class, once under /api/ and once as a page; nothing is
caught by hand. Also pinned: a subclass not listed answers its parent's status, an error
not listed stays a 500, and a form that re-renders its page gets the same status
(`status_of`).
"""

from __future__ import annotations

import inspect

import pytest
from fastapi.testclient import TestClient

from collector.app import create_app
from collector.core.settings import Settings
from collector.evaluation.workflow.status import QuotaNotAcknowledged, WorkflowConflict
from collector.web import errors

CLASSES = sorted(errors.STATUS, key=lambda kind: (kind.__module__, kind.__name__))


def make(kind: type[Exception]) -> Exception:
    """An instance with a message in both languages when the class takes them."""
    try:
        bilingual = list(inspect.signature(kind).parameters) == ["vi", "en"]
    except ValueError:  # a built-in's __init__ (LookupError) has no signature to read
        bilingual = False
    if bilingual:
        return kind("Không làm được việc này", "This cannot be done")
    return kind("This cannot be done")


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    app = create_app(Settings(db_path=tmp_path_factory.mktemp("errors") / "hailong.db",
                              broker_url=None))
    by_name = {kind.__qualname__ + "@" + kind.__module__: kind for kind in CLASSES}

    def raise_it(name: str) -> None:
        raise make(by_name[name]) if name in by_name else ValueError("not a domain error")

    # Not behind the sign-in: the handler is what is under test, not the access table.
    app.add_api_route("/api/v1/test-raise/{name}", raise_it)
    app.add_api_route("/test-raise/{name}", raise_it)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def name_of(kind: type[Exception]) -> str:
    return kind.__qualname__ + "@" + kind.__module__


def test_every_domain_error_class_has_a_refusal_status():
    assert set(errors.STATUS.values()) <= {403, 404, 409, 422}
    assert all(issubclass(kind, Exception) for kind in errors.STATUS)


@pytest.mark.parametrize("kind", CLASSES, ids=lambda kind: kind.__qualname__)
def test_the_api_answers_json_with_the_status(client, kind):
    response = client.get(f"/api/v1/test-raise/{name_of(kind)}")
    assert response.status_code == errors.STATUS[kind]
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"detail": str(make(kind))}


@pytest.mark.parametrize("kind", CLASSES, ids=lambda kind: kind.__qualname__)
def test_a_page_answers_the_error_page_with_the_status(client, kind):
    response = client.get(f"/test-raise/{name_of(kind)}", params={"lang": "en"})
    assert response.status_code == errors.STATUS[kind]
    assert response.headers["content-type"].startswith("text/html")
    assert f'data-status="{errors.STATUS[kind]}"' in response.text
    assert "This cannot be done" in response.text
    if str(make(kind)).startswith("Không"):  # bilingual: the page's language only
        assert "Không làm được" not in response.text
        vi = client.get(f"/test-raise/{name_of(kind)}", params={"lang": "vi"})
        assert "Không làm được việc này" in vi.text and "This cannot" not in vi.text


def test_a_subclass_answers_its_parent_s_status_and_others_have_none():
    class Locked(WorkflowConflict):
        pass

    assert errors.status_of(Locked("đã khoá", "locked")) == 409
    assert QuotaNotAcknowledged not in errors.STATUS
    assert issubclass(QuotaNotAcknowledged, WorkflowConflict)
    assert errors.status_of(ValueError("x")) is None
    assert errors.status_of(KeyError("x")) is None  # a LookupError, not the overview's NotFound


def test_an_error_not_in_the_table_is_a_server_error(client):
    assert client.get("/api/v1/test-raise/unknown").status_code == 500
    assert client.get("/test-raise/unknown").status_code == 500


def test_signing_in_is_asked_for_as_json_or_by_a_redirect(client):
    api = client.get("/api/v1/me")
    assert api.status_code == 401 and api.headers["www-authenticate"] == "Bearer"
    assert api.json()["detail"].endswith("Log in or send an API token")
    page = client.get("/team?month=2026-03", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=/team%3Fmonth%3D2026-03"
    document = client.get("/openapi.json", follow_redirects=False)
    assert document.status_code == 303  # the document is for signed-in accounts


def test_an_http_refusal_is_json_for_the_api_and_its_documents_and_a_page_elsewhere(client):
    assert client.get("/api/v1/nothing-here").json() == {"detail": "Not Found"}
    page = client.get("/nothing-here", params={"lang": "en"})
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
