"""HTTP route for imports: POST a CSV or XLSX file as the raw body, get the report back.

The body is the file itself (no multipart form, so no python-multipart), its name in the
`filename` query parameter. 200 with the report when the import was applied or, with
`dry_run=true`, would be; 422 with the report when any row is rejected (nothing written);
413 above 10 MB; 415 for a body that is not a file (a multipart form, JSON). The import runs
in a worker thread on its own `Store`: SQLite's busy timeout queues it behind the ingest.

Wiring: collector/app.py lists `router` in `SIGNED_IN_ROUTERS`, behind the signed-in dependency.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from collector.web.auth import CurrentViewer, require_role
from collector.imports.applying import run_import
from collector.imports.reading import MAX_BYTES
from collector.db.store import Store

router = APIRouter(tags=["import"])

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# What browsers and tools send for a CSV or XLSX file; the content decides which it is.
ACCEPTED_TYPES = {"text/csv", "text/plain", "application/csv", "application/vnd.ms-excel",
                  "application/octet-stream", XLSX_TYPE, ""}
TOO_LARGE = (f"Tệp lớn hơn {MAX_BYTES // 2**20} MB; hãy chia thành nhiều tệp / "
             f"The file is larger than {MAX_BYTES // 2**20} MB; split it into several files")


async def _body(request: Request) -> bytes:
    """The request body, refused with 413 as soon as it passes the limit."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BYTES:
        raise HTTPException(status_code=413, detail=TOO_LARGE)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BYTES:
            raise HTTPException(status_code=413, detail=TOO_LARGE)
        chunks.append(chunk)
    return b"".join(chunks)


def _import(db_path: Any, kind: str, name: str, data: bytes, dry_run: bool,
            actor: str) -> dict[str, Any]:
    store = Store(db_path)
    try:
        return run_import(store, kind, [(name, data)], dry_run=dry_run, actor=actor).to_dict()
    finally:
        store.close()


@router.post("/api/v1/import/{kind}", responses={
    200: {"description": "applied, or with dry_run=true valid (nothing written)"},
    413: {"description": "the file is larger than 10 MB"},
    415: {"description": "the body is not a CSV or XLSX file"},
    422: {"description": "rows rejected; the report lists each with sheet, row, column, "
                         "value and the reason in Vietnamese and English; nothing written"}})
async def import_file(
        kind: Literal["org", "tasks"], request: Request, who: CurrentViewer,
        dry_run: Annotated[bool, Query(description="check and report only, write nothing")]
        = False,
        filename: Annotated[str | None, Query(description="the file's name, shown in the "
                                                          "report and the audit log",
                                              max_length=200)] = None) -> JSONResponse:
    """Import an organisation (`org`: an XLSX workbook with sheets units/officers/counters
    or Đơn vị/Cán bộ/Quầy, or one CSV of one of them) or task records (`tasks`) from the file
    sent as the request body. A file with any bad row changes nothing (docs/import.md).
    Administrators only: a file can touch every unit."""
    require_role(who, "administrator")
    if not who.scope.everything:
        raise HTTPException(status_code=403, detail=(
            "Chỉ quản trị viên toàn hệ thống được nhập tệp / Only an administrator of the "
            "whole system may import files"))
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ACCEPTED_TYPES:
        raise HTTPException(status_code=415, detail=(
            f"Cần gửi chính tệp CSV hoặc XLSX làm nội dung yêu cầu, không phải "
            f"{content_type} / Send the CSV or XLSX file itself as the request body, "
            f"not {content_type}"))
    data = await _body(request)
    name = filename or ("import.xlsx" if content_type == XLSX_TYPE else "import.csv")
    report = await run_in_threadpool(_import, request.app.state.settings.db_path, kind, name,
                                     data, dry_run, who.actor)
    return JSONResponse(report, status_code=200 if report["ok"] else 422)
