"""FastAPI dependencies shared by the API and the dashboard routes."""

from __future__ import annotations

from typing import Annotated, Iterator

import sqlite_utils
from fastapi import Depends, HTTPException, Query, Request

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
