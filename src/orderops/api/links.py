"""Link suggestions and record links over HTTP: read them, and decide.

Reading is for every desk role (and service keys); deciding - accepting or rejecting a
suggestion, linking by hand, unlinking - is case work, so it needs a person's role: a
service key may read what resolve could not settle, never settle it. Each decision
answers with the link, the orders judged again and the case changes that made, so a
client sees at once that linking the third ticket opened ``customer_chasing``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Literal, TypeVar

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from orderops.api.auth import app_of
from orderops.api.body import SafeJsonRoute
from orderops.api.cursors import CURSOR_DESCRIPTION, LINK_HEADER, Listing
from orderops.api.params import NO_NUL, Id, OrderRef
from orderops.api.problems import problem_responses
from orderops.api.schemas import CaseChangeRead
from orderops.api.work_common import Reader, Worker, actor_of
from orderops.bootstrap import App
from orderops.resolve import link_queries
from orderops.storage.tables import LinkSuggestion, Order, RecordLink
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.tenants import Principal
from orderops.workflow import relink

router = APIRouter(tags=["links"], route_class=SafeJsonRoute)
T = TypeVar("T")
LISTING = Listing("link-suggestions")

Text = Annotated[str, Field(min_length=1, max_length=2000, pattern=NO_NUL)]
Ref = Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]


# -- models ----------------------------------------------------------------------------


class CandidateRead(BaseModel):
    order_ref: str
    number: str | None
    evidence: str
    known: bool
    """Whether the tenant has the order (a candidate is only ever chosen if it does)."""
    placed_at: datetime | None = None
    status: str | None = None


class SuggestionRead(BaseModel):
    id: str
    record_type: str
    record_ref: str
    reason: str
    status: str
    candidates: list[CandidateRead]
    created_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    chosen_order_ref: str | None


class SuggestionList(BaseModel):
    """A page of suggestions. Follow ``next_cursor`` (also the ``Link: rel="next"``
    header): it resumes after this page's last row."""

    items: list[SuggestionRead]
    total: int
    limit: int
    offset: int
    next_offset: int | None = Field(
        default=None, description="For offset paging: the next page's offset (null with cursor)."
    )
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` for the next page; null on the last page."
    )


class LinkRead(BaseModel):
    id: str
    record_type: str
    record_ref: str
    order_ref: str
    method: str
    key_kind: str | None
    key: str | None
    evidence: str
    active: bool
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    revoked_by: str | None
    revoked_reason: str | None


class OrderLinks(BaseModel):
    order_ref: str
    items: list[LinkRead]
    """Active and revoked links, oldest first."""


class DecisionRead(BaseModel):
    link: LinkRead | None
    suggestion: SuggestionRead | None
    orders: list[str]
    """The orders judged again: the one the record joined, and the one it left."""
    case_changes: list[CaseChangeRead]


class AcceptBody(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"order_ref": "shopify:5012345678901", "reason": "same email, one open order"}
            ]
        }
    )

    order_ref: Ref = Field(description="The chosen candidate order.")
    reason: str | None = Field(default=None, max_length=2000, pattern=NO_NUL)


class ReasonBody(BaseModel):
    reason: Text


class LinkBody(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "record_type": "ticket",
                    "record_ref": "zendesk:4711",
                    "order_ref": "shopify:5012345678901",
                    "reason": "the customer named order #1538 on the phone",
                }
            ]
        }
    )

    record_type: Literal["payment", "ticket", "shipment", "fraud_signal", "refund", "hold"]
    record_ref: Annotated[str, Field(min_length=3, max_length=260, pattern=NO_NUL)] = Field(
        description='The record as "source:ref", e.g. "zendesk:4711" or "stripe:pi_1".'
    )
    order_ref: Ref
    reason: Text


# -- routes ----------------------------------------------------------------------------


@router.get(
    "/v1/link-suggestions",
    response_model=SuggestionList,
    summary="Records resolve would not guess the order of, oldest first",
    responses={200: {"headers": {"Link": LINK_HEADER}}, **problem_responses(400)},
)
async def list_suggestions(
    request: Request,
    response: Response,
    principal: Reader,
    status: Annotated[
        Literal["open", "accepted", "rejected", "superseded"] | None,
        Query(description="only suggestions in this state"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(description=CURSOR_DESCRIPTION)] = None,
    offset: Annotated[
        int, Query(ge=0, le=1_000_000, description="offset paging (slower); not with a cursor")
    ] = 0,
) -> SuggestionList:
    after = LISTING.start_after(request, principal.tenant_id, cursor, offset=offset)

    def read(uow: UnitOfWork) -> tuple[SuggestionList, tuple[tuple[datetime], str] | None]:
        page = link_queries.list_suggestions(
            uow, status=status, limit=limit + 1, offset=offset, after=after
        )
        shown = page.items[:limit]
        orders = link_queries.orders_by_ref(
            uow, [ref for s in shown for ref in link_queries.candidate_refs(s)]
        )
        items = [suggestion_read(s, orders) for s in shown]
        more = len(page.items) > limit
        listing = SuggestionList(
            items=items,
            total=page.total,
            limit=limit,
            offset=offset,
            next_offset=offset + len(items) if more and after is None else None,
        )
        return listing, ((items[-1].created_at,), items[-1].id) if more else None

    listing, last = await _read(app_of(request), principal, read)
    listing.next_cursor = LISTING.next_cursor(request, response, principal.tenant_id, last)
    return listing


@router.get(
    "/v1/link-suggestions/{suggestion_id}",
    response_model=SuggestionRead,
    summary="One link suggestion with its candidate orders and their evidence",
)
async def get_suggestion(request: Request, principal: Reader, suggestion_id: Id) -> SuggestionRead:
    def read(uow: UnitOfWork) -> SuggestionRead:
        suggestion = link_queries.get_suggestion(uow, suggestion_id)
        orders = link_queries.orders_by_ref(uow, link_queries.candidate_refs(suggestion))
        return suggestion_read(suggestion, orders)

    return await _read(app_of(request), principal, read)


@router.post(
    "/v1/link-suggestions/{suggestion_id}/accept",
    response_model=DecisionRead,
    summary="Link the record to one of the candidate orders",
    responses=problem_responses(409, 422),
)
async def accept_suggestion(
    request: Request, principal: Worker, suggestion_id: Id, body: AcceptBody
) -> DecisionRead:
    """409 when the suggestion is decided already; 422 when the order is not a candidate."""
    app = app_of(request)
    return await _decide(
        app,
        principal,
        lambda uow: relink.accept_suggestion(
            uow,
            suggestion_id=suggestion_id,
            order_ref=body.order_ref,
            actor=actor_of(principal),
            reason=body.reason,
            now=app.clock.now(),
        ),
    )


@router.post(
    "/v1/link-suggestions/{suggestion_id}/reject",
    response_model=DecisionRead,
    summary="None of the candidates: the record stays unlinked",
    responses=problem_responses(409),
)
async def reject_suggestion(
    request: Request, principal: Worker, suggestion_id: Id, body: ReasonBody
) -> DecisionRead:
    app = app_of(request)
    return await _decide(
        app,
        principal,
        lambda uow: relink.reject_suggestion(
            uow,
            suggestion_id=suggestion_id,
            actor=actor_of(principal),
            reason=body.reason,
            now=app.clock.now(),
        ),
    )


@router.get(
    "/v1/orders/{order_ref}/links",
    response_model=OrderLinks,
    summary="Every record link of the order, active and revoked, with its evidence",
)
async def get_order_links(request: Request, principal: Reader, order_ref: OrderRef) -> OrderLinks:
    def read(uow: UnitOfWork) -> OrderLinks:
        links = link_queries.order_links(uow, order_ref)
        return OrderLinks(order_ref=order_ref, items=[link_read(link) for link in links])

    return await _read(app_of(request), principal, read)


@router.post(
    "/v1/links",
    response_model=DecisionRead,
    status_code=201,
    summary="Link a record to an order by hand (moves it if it sits on another)",
    responses=problem_responses(409),
)
async def create_link(request: Request, principal: Worker, body: LinkBody) -> DecisionRead:
    app = app_of(request)
    return await _decide(
        app,
        principal,
        lambda uow: relink.link_manually(
            uow,
            record_type=body.record_type,
            record_ref=body.record_ref,
            order_ref=body.order_ref,
            actor=actor_of(principal),
            reason=body.reason,
            now=app.clock.now(),
        ),
    )


@router.post(
    "/v1/links/{link_id}/unlink",
    response_model=DecisionRead,
    summary="Take a record off its order; the link stays readable, revoked",
    responses=problem_responses(409),
)
async def unlink(
    request: Request, principal: Worker, link_id: Id, body: ReasonBody
) -> DecisionRead:
    app = app_of(request)
    return await _decide(
        app,
        principal,
        lambda uow: relink.unlink(
            uow, link_id=link_id, actor=actor_of(principal), reason=body.reason, now=app.clock.now()
        ),
    )


# -- rendering -------------------------------------------------------------------------


def suggestion_read(suggestion: LinkSuggestion, orders: dict[str, Order]) -> SuggestionRead:
    candidates = []
    for raw in (suggestion.candidates or {}).get("orders") or []:
        if not isinstance(raw, dict) or not raw.get("order_ref"):
            continue
        ref = str(raw["order_ref"])
        order = orders.get(ref)
        candidates.append(
            CandidateRead(
                order_ref=ref,
                number=str(raw["number"]) if raw.get("number") else None,
                evidence=str(raw.get("evidence") or ""),
                known=order is not None,
                placed_at=order.placed_at if order else None,
                status=order.status if order else None,
            )
        )
    return SuggestionRead(
        id=suggestion.id,
        record_type=suggestion.record_type,
        record_ref=suggestion.record_ref,
        reason=suggestion.reason,
        status=suggestion.status,
        candidates=candidates,
        created_at=suggestion.created_at,
        decided_at=suggestion.decided_at,
        decided_by=suggestion.decided_by,
        chosen_order_ref=suggestion.chosen_order_ref,
    )


def link_read(link: RecordLink) -> LinkRead:
    return LinkRead(
        id=link.id,
        record_type=link.record_type,
        record_ref=link.record_ref,
        order_ref=link.order_ref,
        method=link.method,
        key_kind=link.key_kind,
        key=link.key,
        evidence=link.evidence,
        active=link.revoked_at is None,
        created_at=link.created_at,
        created_by=link.created_by,
        revoked_at=link.revoked_at,
        revoked_by=link.revoked_by,
        revoked_reason=link.revoked_reason,
    )


def decision_read(decision: relink.LinkDecision, uow: UnitOfWork) -> DecisionRead:
    suggestion = None
    if decision.suggestion is not None:
        refs = link_queries.candidate_refs(decision.suggestion)
        suggestion = suggestion_read(decision.suggestion, link_queries.orders_by_ref(uow, refs))
    return DecisionRead(
        link=link_read(decision.link) if decision.link else None,
        suggestion=suggestion,
        orders=list(decision.orders),
        case_changes=[
            CaseChangeRead(
                change=c.change,
                case_id=c.case_id,
                exception_type=c.exception_type,
                order_ref=c.order_ref,
                summary=c.summary,
            )
            for c in decision.changes
        ],
    )


async def _read(app: App, principal: Principal, read: Callable[[UnitOfWork], T]) -> T:
    """In the caller's scope: a scoped caller sees no suggestions (records that name no
    order yet are tenant-wide) and only links of orders in scope."""

    def run() -> T:
        with UnitOfWork(
            app.sessions, tenant_id=principal.tenant_id, write=False, scope=principal.scope
        ) as uow:
            return read(uow)

    return await run_in_threadpool(run)


async def _decide(
    app: App, principal: Principal, decide: Callable[[UnitOfWork], relink.LinkDecision]
) -> DecisionRead:
    def run() -> DecisionRead:
        with UnitOfWork(app.sessions, tenant_id=principal.tenant_id, scope=principal.scope) as uow:
            decision = decide(uow)
            answer = decision_read(decision, uow)
            uow.commit()
            return answer

    return await run_in_threadpool(run)
