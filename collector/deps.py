"""FastAPI dependencies shared by the API and the dashboard routes."""

from __future__ import annotations

from typing import Annotated, Iterator

import sqlite_utils
from fastapi import Depends, Header, HTTPException, Query, Request

from . import queries, reports


def reader(request: Request) -> Iterator[sqlite_utils.Database]:
    """A read-only connection for one request; the ingest thread is the only writer."""
    db = queries.open_reader(request.app.state.settings.db_path)
    try:
        yield db
    finally:
        db.conn.close()


Db = Annotated[sqlite_utils.Database, Depends(reader)]

MonthParam = Annotated[str | None, Query(description="Month as YYYY-MM, local time (UTC+7); "
                                                     "default: this month",
                                         examples=["2026-11"])]


def month_or_422(month: str | None) -> str:
    try:
        return reports.checked_month(month)
    except ValueError as error:
        raise HTTPException(status_code=422, detail=str(error)) from None


def acting_officer(x_hailong_officer: Annotated[
        str | None, Header(description="id of the officer acting (until accounts exist, "
                                       "issue 6)")] = None) -> str:
    """Who is acting: the officer id the caller names. Issue 6 replaces this with the session's
    account; the services already check what that officer may do."""
    if not x_hailong_officer:
        raise HTTPException(status_code=401,
                            detail="Cần cho biết cán bộ thực hiện (tiêu đề X-Hailong-Officer) / "
                                   "Say which officer is acting (X-Hailong-Officer header)")
    return x_hailong_officer


ActingOfficer = Annotated[str, Depends(acting_officer)]
