"""The HTTP edge: what a request may be before any route sees it (issue 10).

Fuzzing every operation as every role found 335 answers of 500 to ordinary bad input. The
rules here hold for every route at once, so no route can forget them:

- **Bodies are bounded** (`BodyGuard`): 1 MiB (`MAX_BODY`) for JSON and forms, refused with
  413 from the declared `Content-Length` before reading, or as soon as a streamed body passes
  the limit. An import (`/api/v1/import/…`, the file itself as the body) is bounded by its own
  route at 10 MB (collector/api/imports.py) and only passes through here.
- **JSON is strict** (`json_problem`): `NaN`, `Infinity` and numbers that overflow to
  infinity (`1e999`) are not JSON (RFC 8259) and Python's parser takes them; the echo of one in
  a 422 could not even be encoded (500). Integers outside SQLite's signed 64 bits, text that is
  not Unicode (a lone surrogate: SQLite cannot store it) and nesting deeper than `MAX_DEPTH`
  are refused too. All with 422 in FastAPI's own shape.
- **Integers in paths and queries fit SQLite** (`IntegerParams`): an id past 64 bits reached
  SQLite and raised OverflowError; every integer parameter the OpenAPI document declares is
  bounded there to the signed 64-bit range (collector/web/openapi.py) and checked here against
  that same document — refused with 422 before the route runs, so before any scope check.
- **A number too large anywhere is the caller's error** (`TOO_LARGE_NUMBER`): the dashboard's
  pages and forms (not in the OpenAPI document, so not bounded above) still hand their
  integers to SQLite; its OverflowError, or Python's for a date or duration out of range,
  comes only from an input too large and is answered 422 (a page for a page, by the one
  error handler of collector/web/errors.py), not 500.
- **A 422 never echoes much** (`validation_failed`): the `input` of each error is kept only
  when short (`MAX_ECHO` characters as JSON), so an 8.9 MB array is not sent back.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter, ValidationError
from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY = 2**20
MAX_DEPTH = 32
MAX_ECHO = 200
INT64_MIN, INT64_MAX = -2**63, 2**63 - 1
# Routes that read their body themselves, as a file, under their own limit.
RAW_BODY_PREFIXES = ("/api/v1/import/",)
_SURROGATE = re.compile("[\ud800-\udfff]")


def too_large_detail(limit: int) -> str:
    size = f"{limit // 2**20} MiB" if limit >= 2**20 else f"{limit} B"
    return (f"Nội dung yêu cầu lớn hơn {size} / The request body is larger than {size}")


# --- strict JSON ---------------------------------------------------------------------------

class _NotStrict(ValueError):
    """JSON that Python's parser takes and RFC 8259 or SQLite do not: (vi, en)."""

    def __init__(self, vi: str, en: str):
        super().__init__(f"{vi} / {en}")


def _constant(name: str) -> Any:
    raise _NotStrict(f"{name} không phải là số JSON", f"{name} is not a JSON number")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotStrict(f"số {text[:40]} vượt quá giới hạn của số thực",
                         f"the number {text[:40]} overflows a floating-point number")
    return value


def _int(text: str) -> int:
    value = int(text)  # Python refuses more than 4300 digits itself (ValueError)
    if not INT64_MIN <= value <= INT64_MAX:
        raise _NotStrict(f"số nguyên {text[:40]} vượt quá 64 bit",
                         f"the integer {text[:40]} does not fit in 64 bits")
    return value


def _check_tree(value: Any) -> None:
    """Refuse lone surrogates in any key or string and nesting deeper than MAX_DEPTH."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                raise _NotStrict("văn bản có ký tự không phải Unicode (surrogate đơn lẻ)",
                                 "text holds a character that is not Unicode (a lone "
                                 "surrogate)")
        elif isinstance(item, (dict, list)):
            if depth > MAX_DEPTH:
                raise _NotStrict(f"lồng nhau quá {MAX_DEPTH} cấp",
                                 f"nested deeper than {MAX_DEPTH} levels")
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)


def json_problem(body: bytes) -> str | None:
    """Why `body` is not strict JSON ("vi / en"), or None when it is."""
    try:
        value = json.loads(body, parse_constant=_constant, parse_float=_float,
                           parse_int=_int)
    except _NotStrict as error:
        return str(error)
    except RecursionError:
        return (f"JSON lồng nhau quá {MAX_DEPTH} cấp / JSON nested deeper than {MAX_DEPTH} "
                "levels")
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError, too many digits
        return f"JSON không hợp lệ / Invalid JSON: {str(error)[:100]}"
    try:
        _check_tree(value)
    except _NotStrict as error:
        return str(error)
    return None


def _is_json(content_type: str | None) -> bool:
    """What FastAPI parses as JSON: application/json, application/*+json (and, for a route
    with a body, a request with no content type — handled by the caller)."""
    main = (content_type or "").split(";")[0].strip().lower()
    return main == "application/json" or (main.startswith("application/")
                                          and main.endswith("+json"))


def invalid_json_detail(reason: str) -> list[dict[str, Any]]:
    return [{"type": "json_invalid", "loc": ["body"], "msg": reason}]


# --- the middleware ------------------------------------------------------------------------

class _TooLarge(HTTPException):
    """Raised inside the route's read of its body: the app's own error handling answers 413
    (JSON for the API, a page for the dashboard)."""

    def __init__(self, limit: int):
        super().__init__(status_code=413, detail=too_large_detail(limit))


class RequestGuard:
    """ASGI middleware: integers that fit, bounded bodies and strict JSON, before routing and
    authentication — nobody, signed in or not, makes the server hold more than the limit."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY):
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        errors = _integer_errors(scope)
        if errors:
            await _answer(scope, send, 422, errors)
            return
        if scope["path"].startswith(RAW_BODY_PREFIXES):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        declared = headers.get("content-length", "").strip()
        if declared.isdigit() and int(declared) > self.limit:
            await _answer(scope, send, 413, too_large_detail(self.limit))
            return
        content_type = headers.get("content-type")
        if _is_json(content_type) or (content_type is None and declared not in ("", "0")):
            await self._json(scope, receive, send, strict_only=content_type is None)
            return
        await self._counted(scope, receive, send)

    async def _json(self, scope: Scope, receive: Receive, send: Send, *,
                    strict_only: bool) -> None:
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client left
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await _answer(scope, send, 413, too_large_detail(self.limit))
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body:
            problem = json_problem(body)
            # Without a content type FastAPI still parses a body as JSON, for routes that
            # take one; refuse only what it would have accepted, leave it the rest.
            if problem and (not strict_only or _lax_json(body)):
                await _answer(scope, send, 422, invalid_json_detail(problem))
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for the disconnect

        await self.app(scope, replay, send)

    async def _counted(self, scope: Scope, receive: Receive, send: Send) -> None:
        size, started = 0, False

        async def counted() -> Message:
            nonlocal size
            message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > self.limit:
                    raise _TooLarge(self.limit)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except _TooLarge:
            if started:
                raise
            await _answer(scope, send, 413, too_large_detail(self.limit))


def _lax_json(body: bytes) -> bool:
    try:
        json.loads(body)
    except (ValueError, RecursionError):
        return False
    return True


async def _answer(scope: Scope, send: Send, status: int, detail: Any) -> None:
    response = JSONResponse({"detail": detail}, status_code=status)
    await response(scope, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.disconnect"}


# --- validation errors ---------------------------------------------------------------------

def _short(value: Any) -> tuple[bool, Any]:
    """(keep, value): a string cut to MAX_ECHO characters; anything else kept only when its
    JSON is short and encodable (no NaN, no lone surrogate)."""
    if isinstance(value, str):
        if _SURROGATE.search(value):
            return False, None
        return True, value if len(value) <= MAX_ECHO else value[:MAX_ECHO] + "…"
    try:
        text = json.dumps(jsonable_encoder(value), allow_nan=False, ensure_ascii=False)
        text.encode("utf-8")
    except (TypeError, ValueError):
        return False, None
    return (True, value) if len(text) <= MAX_ECHO else (False, None)


def safe_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for error in errors:
        error = dict(error)
        if "input" in error:
            keep, value = _short(error["input"])
            if keep:
                error["input"] = value
            else:
                del error["input"]
        if isinstance(error.get("ctx"), dict):
            ctx = {}
            for key, value in error["ctx"].items():
                keep, value = _short(value if isinstance(value, (str, int, float, bool,
                                                                 type(None))) else str(value))
                if keep:
                    ctx[key] = value
            error["ctx"] = ctx
        out.append(error)
    return out


async def validation_failed(request: Request, error: Exception) -> JSONResponse:
    """FastAPI's 422 (`{"detail": [errors]}`) with each echoed input short and encodable."""
    assert isinstance(error, RequestValidationError)
    return JSONResponse(status_code=422,
                        content={"detail": jsonable_encoder(safe_errors(list(error.errors())))})


# --- integer parameters --------------------------------------------------------------------

_INT = TypeAdapter(int)


class IntegerParams:
    """Which path and query parameters of which operation are integers, read from the app's
    own OpenAPI document (which openapi.py bounds to 64 bits): the document and the check
    cannot disagree, and no route module has to remember the bound."""

    def __init__(self, document: dict[str, Any]):
        self.operations: list[tuple[re.Pattern[str], str, list[tuple[str, str]]]] = []
        for path, operations in document.get("paths", {}).items():
            pattern = re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)",
                                              re.escape(path)) + "$")
            for method, operation in operations.items():
                ints = [(p["in"], p["name"]) for p in operation.get("parameters", [])
                        if p.get("in") in ("path", "query") and _integer(p.get("schema", {}))]
                self.operations.append((pattern, method.upper(), ints))

    def errors(self, method: str, path: str, query: QueryParams) -> list[dict[str, Any]]:
        """The 422 errors of integer parameters outside the signed 64-bit range."""
        for pattern, op_method, ints in self.operations:
            match = pattern.match(path)
            if match is None or op_method != method:
                continue  # like Starlette: the first operation matching path and method
            errors: list[dict[str, Any]] = []
            for where, name in ints:
                values = [match.group(name)] if where == "path" else query.getlist(name)
                errors.extend(_range_error(where, name, raw) for raw in values
                              if _out_of_range(raw))
            return errors
        return []


def _integer(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "integer" or any(
        s.get("type") == "integer" for s in schema.get("anyOf", []))


def _out_of_range(raw: str) -> bool:
    try:
        value = _INT.validate_python(raw)  # exactly as FastAPI will read it
    except (ValueError, ValidationError):
        return False  # not an integer: FastAPI's own 422
    return not INT64_MIN <= value <= INT64_MAX


def _range_error(where: str, name: str, raw: str) -> dict[str, Any]:
    above = not raw.strip().startswith("-")
    bound, word = (INT64_MAX, "less") if above else (INT64_MIN, "greater")
    return {"type": f"{word}_than_equal", "loc": [where, name],
            "msg": f"Input should be {word} than or equal to {bound}",
            "input": raw[:MAX_ECHO], "ctx": {"le" if above else "ge": bound}}


def _integer_errors(scope: Scope) -> list[dict[str, Any]]:
    app = scope.get("app")
    if not isinstance(app, FastAPI):
        return []
    lookup = getattr(app.state, "integer_params", None)
    if lookup is None:
        lookup = app.state.integer_params = IntegerParams(app.openapi())
    return lookup.errors(scope["method"], scope["path"],
                         QueryParams(scope.get("query_string", b"")))


# What an OverflowError answers, 422 (collector/web/errors.py, JSON or a page by the request).
TOO_LARGE_NUMBER = "Có số quá lớn trong yêu cầu / A number in the request is too large"


def install(app: FastAPI) -> None:
    """Put the edge in front of `app`: call at the end of `create_app`."""
    app.add_middleware(RequestGuard)
    app.add_exception_handler(RequestValidationError, validation_failed)
