"""FastAPI dependencies shared by the API and the dashboard routes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Iterator

import sqlite_utils
from fastapi import Depends, HTTPException, Query, Request

from collector.db import queries
from collector.evaluation import reports
from collector.evaluation.policy import Policy, load_configured
from collector.db.store import Store, now_ms
from collector.core.timeline import LOCAL_TZ


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



def writer(request: Request) -> Iterator[Store]:
    """A writer for one request's change; SQLite queues it behind the ingest's batches."""
    store = Store(request.app.state.settings.db_path)
    try:
        yield store
    finally:
        store.close()


def clock() -> int:
    """Now, unix ms; tests override this dependency."""
    return now_ms()


def today() -> date:
    """The local date (UTC+7); tests override this dependency."""
    return datetime.now(LOCAL_TZ).date()


def configured_policy(request: Request) -> Policy:
    """The deployment's scoring policy, read per request so an edited file takes effect."""
    try:
        return load_configured(request.app.state.settings.policy)
    except ValueError as error:  # a broken policy file is the deployment's fault, not the caller's
        raise HTTPException(status_code=500,
                            detail=f"Chính sách chấm điểm không đọc được / the scoring policy "
                                   f"cannot be read: {error}") from None


Writer = Annotated[Store, Depends(writer)]
Now = Annotated[int, Depends(clock)]
Today = Annotated[date, Depends(today)]
ConfiguredPolicy = Annotated[Policy, Depends(configured_policy)]
