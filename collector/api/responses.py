"""HTTP routes for officers' written responses (appeals) to a month's evaluation.

Thin: each route calls collector/evaluation/responses.py; its errors ("vi / en") reach the
app's one handler (collector/web/errors.py): ResponseNotFound → 404, ResponseForbidden → 403,
ResponseError → 422.
The officer writes as their own account (`ActingOfficer`); anyone whose scope covers the
officer reads. Reads use the shared read-only `Db`; a write opens its own `Store`.

Wiring: collector/app.py lists `router` in `SIGNED_IN_ROUTERS`, behind the signed-in dependency.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from collector.evaluation import responses
from collector.web.auth import ActingOfficer, CurrentViewer, require_officer_in_scope
from collector.web.deps import ConfiguredPolicy, Db, Now, Today, Writer

router = APIRouter(tags=["evaluations"])

RESPONSES = "/api/v1/officers/{officer_id}/evaluations/{month}/responses"


class ResponseText(BaseModel):
    text: str = Field(description=f"the officer's response, 1–{responses.MAX_TEXT} characters",
                      examples=["Ngày 12/11 thiết bị Quầy 2 mất kết nối cả buổi chiều, đề nghị "
                                "không tính vào đánh giá"])


@router.post(RESPONSES, status_code=201)
def add_response(officer_id: str, month: str, body: ResponseText, actor: ActingOfficer,
                 store: Writer, now: Now, day: Today,
                 policy: ConfiguredPolicy) -> dict[str, Any]:
    """Append the officer's written response to their month, or quarter under a quarterly
    policy (by the officer only; never edited afterwards; audited as "evaluation.response")."""
    service = responses.ResponseService(store.db, clock=lambda: now, today=lambda: day,
                                        period=policy.period)
    return service.add(officer_id, month, actor, body.text)


@router.get(RESPONSES)
def list_responses(officer_id: str, month: str, db: Db, who: CurrentViewer,
                   policy: ConfiguredPolicy,
                   limit: Annotated[int, Query(ge=1, le=responses.MAX_PAGE)] = 50,
                   offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
    """The officer-month's responses, oldest first: {"items", "total", "limit", "offset"}.
    For anyone whose scope covers the officer's month (its stored place once reviewed)."""
    require_officer_in_scope(who, db, officer_id, month)
    return responses.list_responses(db, officer_id, month, limit=limit, offset=offset,
                                    period=policy.period)
