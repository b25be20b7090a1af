"""The OpenAPI document tells the truth about refusals and sign-in (issue 10).

FastAPI documents a route's 200 and its request validation 422; what the routes and the
edge (collector/web/edge.py) answer besides went undocumented, and a client generated from
the schema would not expect them. Completed here, centrally, for every operation:

- the refusals every operation can give, each with the body it has: `{"detail": "vi / en"}`
  (`Error`) for 400, 401, 403, 404, 409 and 413 (503 where a device must be reached); for 422
  `ValidationFailure`, whose `detail` is FastAPI's list of errors (request validation, strict
  JSON) or the service's bilingual sentence (a month that does not exist, a rule of the domain)
  — both shapes occur and both are documented, rather than one promised and the other sent;
- the two ways to sign in as security schemes: an API token (`Authorization: Bearer`, from
  `hailong users token`) and the dashboard's session cookie; `/api/v1/health` needs neither;
- integers in bodies bounded like those in paths: the strict JSON parse refuses what does not
  fit SQLite's signed 64 bits, so the schema says so.
"""

from __future__ import annotations

from typing import Any, Callable

from fastapi import FastAPI

from collector.web.edge import INT64_MAX, INT64_MIN, MAX_BODY
from collector.accounts.sessions import COOKIE_NAME

PUBLIC = {("get", "/api/v1/health")}
ERROR = {"$ref": "#/components/schemas/Error"}
FAILURE = {"$ref": "#/components/schemas/ValidationFailure"}

SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": {
        "title": "Error", "type": "object", "required": ["detail"],
        "properties": {"detail": {"type": "string", "description":
                                  "the reason, Vietnamese then English: \"vi / en\""}}},
    "ValidationFailure": {
        "title": "ValidationFailure", "type": "object", "required": ["detail"],
        "properties": {"detail": {"anyOf": [
            {"type": "array", "items": {"$ref": "#/components/schemas/ValidationError"}},
            {"type": "string"}],
            "description": "a list of errors, one per field (request validation, strict "
                           "JSON), or one bilingual sentence \"vi / en\" (a rule of the "
                           "domain)"}}},
}

# status → (description, whether only signed-in operations give it)
REFUSALS: dict[str, tuple[str, bool]] = {
    "400": ("Yêu cầu không đọc được / The request cannot be read", False),
    "401": ("Cần đăng nhập hoặc mã API / No valid session or API token", True),
    "403": ("Vai trò hoặc phạm vi không cho phép / The account's role or scope does not "
            "allow this", True),
    "404": ("Không tìm thấy (trong phạm vi) / Not found (within the account's scope)", True),
    "409": ("Xung đột với trạng thái hiện tại / Conflicts with the current state (a decided "
            "month, an overlapping shift, an id in use)", True),
    "413": (f"Nội dung lớn hơn {MAX_BODY // 2**20} MiB / The body is larger than "
            f"{MAX_BODY // 2**20} MiB (an import: 10 MB)", False),
}
# Refusals only some operations give: a command to a device needs the broker.
BROKER_NEEDED = ("Bộ thu không có broker / This collector runs without a broker, or cannot "
                 "reach it")
DEGRADED = ("Suy giảm / Degraded: the same body as 200, with `status` \"degraded\" and the "
            "reason")
# Routes whose 422 has a body of their own besides the edge's: an import answers with its
# report (collector/api/imports.py, docs/import.md).
OWN_422 = {("post", "/api/v1/import/{kind}"): {
    "type": "object", "required": ["ok"], "title": "ImportReport",
    "description": "the import's report: each rejected row with sheet, row, column, value and "
                   "the reason in Vietnamese and English",
    "properties": {"ok": {"type": "boolean"}}}}
UNPROCESSABLE = ("Dữ liệu không hợp lệ / The request is invalid: a parameter or a field out "
                 "of range, JSON that is not strict JSON, or a rule of the domain")

# How the resources a POST creates are reached afterwards (OpenAPI links): a client, and
# Schemathesis's stateful phase, follow the new id into the operations on that resource.
# (source method, path, status) → [(target method, path, parameter)], the id at body#/id.
LINKS: dict[tuple[str, str, str], list[tuple[str, str, str]]] = {
    ("post", "/api/v1/units", "201"): [
        ("get", "/api/v1/units/{unit_id}", "unit_id"),
        ("patch", "/api/v1/units/{unit_id}", "unit_id")],
    ("post", "/api/v1/officers", "201"): [
        ("get", "/api/v1/officers/{officer_id}", "officer_id"),
        ("patch", "/api/v1/officers/{officer_id}", "officer_id"),
        ("post", "/api/v1/officers/{officer_id}/tasks", "officer_id"),
        ("get", "/api/v1/officers/{officer_id}/tasks", "officer_id")],
    ("post", "/api/v1/counters", "201"): [
        ("patch", "/api/v1/counters/{counter_id}", "counter_id")],
    ("post", "/api/v1/roster", "201"): [
        ("patch", "/api/v1/roster/{shift_id}", "shift_id"),
        ("delete", "/api/v1/roster/{shift_id}", "shift_id")],
    ("post", "/api/v1/officers/{officer_id}/tasks", "201"): [
        ("get", "/api/v1/tasks/{task_id}", "task_id"),
        ("patch", "/api/v1/tasks/{task_id}", "task_id"),
        ("post", "/api/v1/tasks/{task_id}/quality-error", "task_id"),
        ("post", "/api/v1/tasks/{task_id}/excuse-delay", "task_id")],
}

SECURITY_SCHEMES = {
    "apiToken": {"type": "http", "scheme": "bearer",
                 "description": "an API token from `hailong users token LOGIN`"},
    "session": {"type": "apiKey", "in": "cookie", "name": COOKIE_NAME,
                "description": "the dashboard's session (log in at /login); writes also send "
                               "the `X-CSRF-Token` that /api/v1/me gives"},
}


def _bound_integers(node: Any) -> None:
    """Every integer schema without bounds gets SQLite's signed 64-bit range."""
    if isinstance(node, dict):
        if node.get("type") == "integer":
            if "maximum" not in node and "exclusiveMaximum" not in node:
                node["maximum"] = INT64_MAX
            if "minimum" not in node and "exclusiveMinimum" not in node:
                node["minimum"] = INT64_MIN
        for value in node.values():
            _bound_integers(value)
    elif isinstance(node, list):
        for value in node:
            _bound_integers(value)


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def complete(document: dict[str, Any]) -> dict[str, Any]:
    """Add the refusals, the error bodies and the security schemes to `document` in place."""
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.update(SCHEMAS)
    schemas.setdefault("ValidationError", {
        "title": "ValidationError", "type": "object", "required": ["loc", "msg", "type"],
        "properties": {"loc": {"type": "array", "items": {"anyOf": [{"type": "string"},
                                                                    {"type": "integer"}]}},
                       "msg": {"type": "string"}, "type": {"type": "string"},
                       "input": {}, "ctx": {"type": "object"}}})
    components["securitySchemes"] = SECURITY_SCHEMES
    document["security"] = [{"apiToken": []}, {"session": []}]
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            public = (method, path) in PUBLIC
            if public:
                operation["security"] = []
            responses = operation.setdefault("responses", {})
            for status, (description, signed_in) in REFUSALS.items():
                if signed_in and public:
                    continue
                response = responses.setdefault(status, {"description": description})
                response.setdefault("content", _json(ERROR))
            if method == "post" and path.startswith("/api/v1/devices/{device_id}/"):
                responses.setdefault("503", {"description": BROKER_NEEDED,
                                             "content": _json(ERROR)})
            if (method, path) == ("get", "/api/v1/health"):
                responses.setdefault("503", {"description": DEGRADED,
                                             "content": _json({"type": "object"})})
            failure = responses.setdefault("422", {"description": UNPROCESSABLE})
            own = OWN_422.get((method, path))
            failure["content"] = _json({"anyOf": [FAILURE, own]} if own else FAILURE)
    _add_links(document)
    _bound_integers(document)
    return document


def _add_links(document: dict[str, Any]) -> None:
    paths = document.get("paths", {})
    for (method, path, status), targets in LINKS.items():
        response = paths.get(path, {}).get(method, {}).get("responses", {}).get(status)
        if response is None:
            continue  # a route renamed: the test of the links names it
        links = response.setdefault("links", {})
        for target_method, target_path, parameter in targets:
            target = paths.get(target_path, {}).get(target_method)
            if target is None or "operationId" not in target:
                continue
            name = target["operationId"]
            links[name] = {"operationId": name, "parameters": {parameter: "$response.body#/id"}}


def install(app: FastAPI) -> None:
    """Make `app.openapi()` return the completed document (built once, then cached)."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
