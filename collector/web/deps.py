"""FastAPI dependencies shared by the API and the dashboard routes: the request's reader and
writer, the clock and the local date (which tests override), the deployment's policy, the
month parameters, and the evidence a decision freezes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Iterator

import sqlite_utils
from fastapi import Depends, HTTPException, Path, Query, Request

from collector.db.reader import open_reader
from collector.evaluation import month as monthly
from collector.evaluation.policy import Policy, load_configured
from collector.evaluation.workflow.steps import EvidenceOf
from collector.db.store import Store, now_ms
from collector.core.periods import check_period, parse_period, period_of
from collector.core.timeline import LOCAL_TZ, checked_month


def reader(request: Request) -> Iterator[sqlite_utils.Database]:
    """A read-only connection for one request; the ingest thread is the only writer."""
    db = open_reader(request.app.state.settings.db_path)
    try:
        yield db
    finally:
        db.conn.close()


Db = Annotated[sqlite_utils.Database, Depends(reader)]

MonthParam = Annotated[str | None, Query(description="Month as YYYY-MM, local time (UTC+7); "
                                                     "default: this month (where an "
                                                     "evaluation is meant, a quarter "
                                                     "YYYY-Qn under a quarterly policy)",
                                         examples=["2026-11"])]
MonthPath = Annotated[str, Path(description="YYYY-MM, local time (UTC+7); a quarter YYYY-Qn "
                                           "under a quarterly policy", examples=["2026-03"])]


def month_or_422(month: str | None) -> str:
    try:
        return checked_month(month)
    except ValueError as error:
        raise HTTPException(status_code=422, detail=str(error)) from None


def period_or_422(period: str | None, kind: str, day: date, *, months: bool = False) -> str:
    """The evaluation period asked for — a month, or a quarter "YYYY-Qn" when `kind` (the
    policy's `period`) is "quarter" — else the one containing `day` (the Today dependency);
    422 saying how the policy evaluates. `months`: a month is taken under a quarterly
    policy too (a work plan's month)."""
    if period is None:
        return period_of(day, kind).key
    try:
        if months:
            return parse_period(period).key if "Q" in period else checked_month(period)
        return check_period(period, kind).key
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


def evidence_of(store: Writer, policy: ConfiguredPolicy, day: Today) -> EvidenceOf:
    """What a head's decision freezes: the officer-month as collector/evaluation/month.py
    merges it, so the final score is the suggestion the head saw (the API's decision and the
    officer page's form alike)."""
    def officer_month(officer_id: str, month: str) -> dict[str, Any]:
        return monthly.officer_month(store.db, officer_id, month, policy, now_ms=now_ms(),
                                     today=day)
    return officer_month


Evidence = Annotated[EvidenceOf, Depends(evidence_of)]
