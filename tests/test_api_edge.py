"""The HTTP edge (collector/web/edge.py, openapi.py): bad input gets a documented 4xx.

Each case here was a 500 (or a 7.7 MB echo) in issue 10's fuzzing.
"""

from __future__ import annotations

import json

import pytest
from accounts_support import admin_headers, as_officer
from fastapi.testclient import TestClient

from collector.web import edge
from collector.app import create_app
from collector.core.settings import Settings

INT64_MAX = 2**63 - 1


@pytest.fixture
def app(seeded_db):
    return create_app(Settings(db_path=seeded_db, broker_url=None))


@pytest.fixture
def client(app, seeded_db):
    with TestClient(app, headers=admin_headers(seeded_db)) as client:
        yield client


def errors_of(response) -> list[dict]:
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, list) and detail
    return detail


@pytest.mark.parametrize("url, where", [
    (f"/api/v1/tasks/{INT64_MAX + 1}", ["path", "task_id"]),
    (f"/api/v1/alerts/{INT64_MAX + 1}", ["path", "alert_id"]),
    (f"/api/v1/alerts?offset={10**20}", ["query", "offset"]),
    (f"/api/v1/alerts?offset=+{10**20}.0", ["query", "offset"]),  # as pydantic reads ints
    (f"/api/v1/fleet?offset={10**30}", ["query", "offset"]),
    (f"/api/v1/officers/HK-0001/evaluations/2026-03/responses?offset={10**19}",
     ["query", "offset"]),
    (f"/api/v1/officers/HK-0001/years/{-2**63 - 1}", ["path", "year"]),
])
def test_integers_past_64_bits_are_422_before_any_scope_check(app, seeded_db, url, where):
    # An officer, who may not see most of these: the bound answers first.
    with TestClient(app, headers=as_officer(seeded_db, "HK-0001")) as client:
        [error] = errors_of(client.get(url))
    assert error["loc"] == where and error["type"].endswith("_than_equal")


def test_a_64_bit_integer_still_reaches_the_route(client):
    assert client.get(f"/api/v1/tasks/{INT64_MAX}").status_code == 404
    assert client.patch(f"/api/v1/roster/{INT64_MAX + 1}", json={"reason": "x"}) \
        .json()["detail"][0]["loc"] == ["path", "shift_id"]


@pytest.mark.parametrize("body, words", [
    (b'{"id": "u1", "name": NaN}', "NaN is not a JSON number"),
    (b'{"id": "u1", "name": "x", "n": Infinity}', "Infinity is not a JSON number"),
    (b'{"id": "u1", "name": -Infinity}', "-Infinity is not a JSON number"),
    (b'{"id": "u1", "name": 1e999}', "overflows a floating-point number"),
    (b'{"id": "u1", "name": 18446744073709551616}', "does not fit in 64 bits"),
    (b'{"id": "u1", "name": "\\ud800"}', "lone surrogate"),
    (b'{"id": "u1", "name": "\xed\xa0\x80"}', "lone surrogate"),  # UTF-8 of a surrogate
    (b"[" * 1000 + b"]" * 1000, "nested deeper than 32 levels"),
    (b'{"id": 1' + b"0" * 5000 + b"}", "Invalid JSON"),  # beyond Python's 4300 digits
])
def test_json_that_is_not_strict_json_is_422_and_echoes_nothing(client, body, words):
    response = client.post("/api/v1/units", content=body,
                           headers={"content-type": "application/json"})
    [error] = errors_of(response)
    assert error["type"] == "json_invalid" and words in error["msg"]
    assert "input" not in error
    json.loads(response.content)  # the answer itself is strict JSON


def test_a_body_without_content_type_is_held_to_the_same_rule(client):
    [error] = errors_of(client.post("/api/v1/units", content=b'{"id": "u1", "name": NaN}'))
    assert "NaN" in error["msg"]


def test_a_declared_body_over_the_limit_is_refused_unread(client):
    response = client.post("/api/v1/units", content=b"x",
                           headers={"content-type": "application/json",
                                    "content-length": str(edge.MAX_BODY + 1)})
    assert response.status_code == 413
    assert response.json()["detail"].startswith("Nội dung yêu cầu lớn hơn 1 MiB / ")


def chunks(n_kib: int = 3 * 1024):
    for _ in range(n_kib):  # no Content-Length: the guard must count
        yield b"1" * 1024


def test_a_streamed_json_body_is_cut_at_the_limit(client):
    response = client.post("/api/v1/units", content=chunks(),
                           headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert "1 MiB" in response.json()["detail"]


def test_any_other_streamed_body_is_counted_while_the_route_reads_it():
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    read = []

    async def echo_size(request):
        async for chunk in request.stream():
            read.append(len(chunk))
        return PlainTextResponse(str(sum(read)))

    app = edge.RequestGuard(Starlette(routes=[Route("/f", echo_size, methods=["POST"])]),
                                limit=10_000)
    with TestClient(app) as client:
        form = {"content-type": "application/x-www-form-urlencoded"}
        assert client.post("/f", content=chunks(5), headers=form).text == "5120"
        read.clear()
        response = client.post("/f", content=chunks(50), headers=form)
    assert response.status_code == 413 and sum(read) <= 10_000


def test_a_large_invalid_body_is_not_echoed(client):
    """Issue 10: an 8.9 MB array from any account came back as a 7.7 MB 422."""
    body = json.dumps(list(range(100_000))).encode()  # under 1 MiB
    assert len(body) < edge.MAX_BODY
    response = client.post("/api/v1/units", content=body,
                           headers={"content-type": "application/json"})
    assert response.status_code == 422 and len(response.content) < 1000


def test_a_long_string_is_echoed_cut(client):
    response = client.get("/api/v1/alerts", params={"state": "x" * 5000})
    [error] = errors_of(response)
    assert len(error["input"]) == edge.MAX_ECHO + 1 and error["input"].endswith("…")


@pytest.mark.parametrize("field, value", [("name", "Tổ\x07A"), ("name", "Tổ\nA")])
def test_control_characters_are_refused_at_the_api(client, field, value):
    response = client.post("/api/v1/units", json={"id": "u-ctl", "parent_id": "hn",
                                                  field: value})
    assert response.status_code == 422
    assert "U+00" in response.json()["detail"]
    assert client.get("/api/v1/units/u-ctl").status_code == 404


def test_an_import_keeps_its_own_larger_limit(client):
    body = b"id,name\n" + b"x" * (edge.MAX_BODY + 10)
    response = client.post("/api/v1/import/org?dry_run=true", content=body,
                           headers={"content-type": "text/csv"})
    assert response.status_code == 422  # read and checked, not refused as too large
    assert response.json()["ok"] is False


# --- the OpenAPI document ------------------------------------------------------------------

@pytest.fixture
def document(client):
    return client.get("/openapi.json").json()


def operations(document):
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            yield method, path, op


def test_every_operation_documents_its_refusals_with_their_bodies(document):
    for method, path, op in operations(document):
        codes = set(op["responses"])
        expected = {"400", "413", "422"} if path == "/api/v1/health" else \
            {"400", "401", "403", "404", "409", "413", "422"}
        assert expected <= codes, (method, path)
        for code in expected - {"422"}:
            assert op["responses"][code]["content"]["application/json"]["schema"] == \
                {"$ref": "#/components/schemas/Error"}
        body = op["responses"]["422"]["content"]["application/json"]["schema"]
        assert body == {"$ref": "#/components/schemas/ValidationFailure"} or \
            body["anyOf"][0] == {"$ref": "#/components/schemas/ValidationFailure"}


def test_a_422_is_documented_as_both_shapes_it_has(document):
    detail = document["components"]["schemas"]["ValidationFailure"]["properties"]["detail"]
    assert {s.get("type") for s in detail["anyOf"]} == {"array", "string"}


def test_sign_in_is_declared(document):
    schemes = document["components"]["securitySchemes"]
    assert schemes["apiToken"] == {"type": "http", "scheme": "bearer",
                                   "description": schemes["apiToken"]["description"]}
    assert schemes["session"]["in"] == "cookie"
    assert document["security"] == [{"apiToken": []}, {"session": []}]
    health = document["paths"]["/api/v1/health"]["get"]
    assert health["security"] == []


def test_every_integer_is_bounded_to_64_bits(document):
    def integers(node):
        if isinstance(node, dict):
            if node.get("type") == "integer":
                yield node
            for value in node.values():
                yield from integers(value)
        elif isinstance(node, list):
            for value in node:
                yield from integers(value)

    found = list(integers(document))
    assert len(found) > 20
    for schema in found:
        assert -2**63 <= schema["minimum"] and schema["maximum"] <= INT64_MAX


def test_every_link_joins_two_operations_of_the_document(document):
    from collector.web.openapi import LINKS
    ids = {op["operationId"] for _, _, op in operations(document)}
    for (method, path, status), targets in LINKS.items():
        links = document["paths"][path][method]["responses"][status]["links"]
        assert len(links) == len(targets), (method, path)
        assert set(links) <= ids


@pytest.mark.parametrize("path, body, target", [
    ("/api/v1/units", {"id": "u-link", "name": "Tổ một cửa", "parent_id": "hn"},
     "/api/v1/units/{}"),
    ("/api/v1/officers", {"id": "HK-0901", "name": "Trần Văn Bình", "title": "Chuyên viên",
                          "unit_id": "hk-1c"}, "/api/v1/officers/{}"),
])
def test_a_link_s_id_is_in_the_created_body(client, path, body, target):
    created = client.post(path, json=body)
    assert created.status_code == 201, created.text
    assert client.get(target.format(created.json()["id"])).status_code == 200


@pytest.mark.parametrize("method, url", [
    ("get", f"/alerts/{INT64_MAX + 1}"), ("get", f"/alerts?page={10**30}"),
    ("post", f"/alerts/{INT64_MAX + 1}/notes"),
])
def test_a_page_given_a_number_too_large_answers_a_422_page(client, method, url):
    response = getattr(client, method)(url, **({"data": {"text": "x"}} if method == "post"
                                               else {}))
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
    assert "Có số quá lớn trong yêu cầu" in response.text
