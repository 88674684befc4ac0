"""/v1/outbox: the writeback queue and its attempts; retry and cancel for outbox managers.

Reading needs CASES_READ (an agent should see whether the refund went out); changing a
message needs OUTBOX_MANAGE. Every query stays within the caller's tenant.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from orderops.api.auth import app_of, require
from orderops.api.body import SafeJsonRoute
from orderops.api.cursors import CURSOR_DESCRIPTION, LINK_HEADER, Listing
from orderops.api.params import NO_NUL, Id
from orderops.api.problems import problem_responses
from orderops.bootstrap import App
from orderops.decide.communications import settle_deliveries
from orderops.domain.roles import Permission
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.tenants import Principal
from orderops.writeback import admin
from orderops.writeback.states import OutboxStatus

router = APIRouter(prefix="/v1/outbox", tags=["outbox"], route_class=SafeJsonRoute)
Reader = Annotated[Principal, Depends(require(Permission.CASES_READ))]
Manager = Annotated[Principal, Depends(require(Permission.OUTBOX_MANAGE))]
LISTING = Listing("outbox")


class OutboxRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    system: str
    operation: str
    idempotency_key: str
    status: str
    attempts: int
    case_id: str | None
    order_ref: str | None
    action_id: str | None
    next_attempt_at: datetime
    leased_by: str | None
    leased_until: datetime | None
    last_error: str | None
    dead_letter_reason: str | None
    conflict: dict[str, Any] | None
    result: dict[str, Any] | None
    created_at: datetime
    completed_at: datetime | None


class AttemptRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    message_id: str
    number: int
    worker_id: str
    outcome: str
    request_summary: dict[str, Any]
    response_status: int | None
    response_excerpt: str | None
    error: str | None
    started_at: datetime
    finished_at: datetime | None


class OutboxDetail(OutboxRead):
    payload: dict[str, Any]
    attempt_history: list[AttemptRead]


class OutboxList(BaseModel):
    """A page of outbox messages. Follow ``next_cursor`` (also the ``Link: rel="next"``
    header): it resumes after this page's last row, so a message queued meanwhile never
    shifts a row onto two pages."""

    items: list[OutboxRead]
    total: int
    limit: int
    offset: int
    next_offset: int | None = Field(
        default=None, description="For offset paging: the next page's offset (null with cursor)."
    )
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` for the next page; null on the last page."
    )


class AttemptSearchItem(AttemptRead):
    system: str
    operation: str
    case_id: str | None
    order_ref: str | None


class AttemptList(BaseModel):
    items: list[AttemptSearchItem]


def _filter(
    system: Annotated[str | None, Query(max_length=40, pattern=NO_NUL)] = None,
    status: OutboxStatus | None = None,
    case_id: Annotated[str | None, Query(max_length=32, pattern=NO_NUL)] = None,
    order_ref: Annotated[str | None, Query(max_length=200, pattern=NO_NUL)] = None,
) -> admin.OutboxFilter:
    return admin.OutboxFilter(
        system=system,
        status=str(status) if status is not None else None,
        case_id=case_id,
        order_ref=order_ref,
    )


Filter = Annotated[admin.OutboxFilter, Depends(_filter)]


@router.get(
    "",
    response_model=OutboxList,
    summary="Outbox messages, newest first",
    responses={200: {"headers": {"Link": LINK_HEADER}}, **problem_responses(400)},
)
async def list_outbox(
    request: Request,
    response: Response,
    principal: Reader,
    where: Filter,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(description=CURSOR_DESCRIPTION)] = None,
    offset: Annotated[
        int, Query(ge=0, le=1_000_000, description="offset paging (slower); not with a cursor")
    ] = 0,
) -> OutboxList:
    after = LISTING.start_after(request, principal.tenant_id, cursor, offset=offset)

    def run(app: App) -> tuple[OutboxList, tuple[tuple[datetime], str] | None]:
        with UnitOfWork(
            app.sessions, tenant_id=principal.tenant_id, write=False, scope=principal.scope
        ) as uow:
            page = admin.list_messages(uow, where, limit=limit + 1, offset=offset, after=after)
            items = [OutboxRead.model_validate(m) for m in page.items[:limit]]
        more = len(page.items) > limit
        listing = OutboxList(
            items=items,
            total=page.total,
            limit=limit,
            offset=offset,
            next_offset=offset + len(items) if more and after is None else None,
        )
        return listing, ((items[-1].created_at,), items[-1].id) if more else None

    listing, last = await run_in_threadpool(run, app_of(request))
    listing.next_cursor = LISTING.next_cursor(request, response, principal.tenant_id, last)
    return listing


@router.get("/attempts", response_model=AttemptList, summary="Delivery attempts, newest first")
async def list_attempts(
    request: Request,
    principal: Reader,
    where: Filter,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AttemptList:
    def run(app: App) -> AttemptList:
        with UnitOfWork(
            app.sessions, tenant_id=principal.tenant_id, write=False, scope=principal.scope
        ) as uow:
            rows = admin.search_attempts(uow, where, limit=limit)
            return AttemptList(
                items=[
                    AttemptSearchItem(
                        **AttemptRead.model_validate(a).model_dump(),
                        system=m.system,
                        operation=m.operation,
                        case_id=m.case_id,
                        order_ref=m.order_ref,
                    )
                    for a, m in rows
                ]
            )

    return await run_in_threadpool(run, app_of(request))


@router.get("/{message_id}", response_model=OutboxDetail, summary="One message and its attempts")
async def get_outbox(request: Request, principal: Reader, message_id: Id) -> OutboxDetail:
    def run(app: App) -> OutboxDetail:
        with UnitOfWork(
            app.sessions, tenant_id=principal.tenant_id, write=False, scope=principal.scope
        ) as uow:
            return _detail(uow, message_id)

    return await run_in_threadpool(run, app_of(request))


@router.post("/{message_id}/retry", response_model=OutboxDetail, summary="Queue it again")
async def retry_outbox(request: Request, principal: Manager, message_id: Id) -> OutboxDetail:
    return await run_in_threadpool(_change, app_of(request), principal, message_id, "retry")


@router.post("/{message_id}/cancel", response_model=OutboxDetail, summary="Stop it")
async def cancel_outbox(request: Request, principal: Manager, message_id: Id) -> OutboxDetail:
    return await run_in_threadpool(_change, app_of(request), principal, message_id, "cancel")


def _change(app: App, principal: Principal, message_id: str, verb: str) -> OutboxDetail:
    change = admin.retry_message if verb == "retry" else admin.cancel_message
    actor = principal.subject or principal.name
    with UnitOfWork(app.sessions, tenant_id=principal.tenant_id, scope=principal.scope) as uow:
        changed = change(uow, message_id, actor=actor, now=app.clock.now())
        if verb == "cancel":  # a customer message it carried fails, saying so
            settle_deliveries(uow, [changed], app.clock.now())
        detail = _detail(uow, message_id)
        uow.commit()
    return detail


def _detail(uow: UnitOfWork, message_id: str) -> OutboxDetail:
    message = admin.get_message(uow, message_id)
    return OutboxDetail(
        **OutboxRead.model_validate(message).model_dump(),
        payload=message.payload,
        attempt_history=[AttemptRead.model_validate(a) for a in admin.attempts_of(uow, message_id)],
    )
