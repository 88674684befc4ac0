"""/v1/webhook-subscriptions: outbound webhooks to the retailer's own systems. Admin only.

A subscription names an HTTPS endpoint and the event types it wants (case.opened,
case.reopened, case.resolved, action.approved, action.delivered); its signing secret
(Standard Webhooks, ``whsec_...``) is in the answer to create and rotate and nowhere else.
The tenant is the key's, so another tenant's subscription answers 404 like a missing one.
docs/OUTBOUND_WEBHOOKS.md has the payloads and how a receiver verifies a signature.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from orderops.api.auth import app_of, require
from orderops.api.body import SafeJsonRoute
from orderops.api.idempotency import shows_secret
from orderops.api.params import Id
from orderops.api.problems import problem_responses
from orderops.domain.outbound_webhooks import MAX_EVENT_TYPES, MAX_URL_LENGTH, EventType
from orderops.domain.roles import Permission
from orderops.outbound import subscriptions
from orderops.outbound.subscriptions import Delivery, Issued
from orderops.storage.tables.outbound_webhooks import WebhookSubscription
from orderops.tenancy.tenants import Principal

router = APIRouter(prefix="/v1/webhook-subscriptions", tags=["webhooks"], route_class=SafeJsonRoute)
Admin = Annotated[Principal, Depends(require(Permission.SOURCES_MANAGE))]
Description = Annotated[str | None, Field(default=None, max_length=200, pattern=r"^[^\x00]*$")]
Url = Annotated[str, Field(min_length=1, max_length=MAX_URL_LENGTH, pattern=r"^[^\x00\s]*$")]
DeliveryStatus = Literal[
    "pending", "in_flight", "unconfirmed", "delivered", "failed", "cancelled", "conflict"
]


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://ops.example.com/hooks/orderops",
                    "event_types": ["case.opened", "case.resolved"],
                    "description": "Ops channel",
                }
            ]
        },
    )

    url: Url
    event_types: list[EventType] = Field(min_length=1, max_length=MAX_EVENT_TYPES)
    description: Description = None


class SubscriptionUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url | None = None
    event_types: list[EventType] | None = Field(
        default=None, min_length=1, max_length=MAX_EVENT_TYPES
    )
    description: Description = None
    enabled: bool | None = Field(
        default=None, description="false stops deliveries; true resumes and clears the streak"
    )


class SecretRotate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    overlap_hours: float | None = Field(
        default=None,
        ge=0,
        le=24 * 7,
        description="How long the old secret keeps signing too (default 24; 0: drop it now)",
    )


class SubscriptionRead(BaseModel):
    """A subscription without its secret."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    url: str
    description: str | None
    event_types: list[str]
    enabled: bool
    disabled_reason: str | None
    disabled_at: datetime | None
    secret_version: int
    previous_secret_until: datetime | None
    failing_since: datetime | None
    consecutive_failures: int
    created_at: datetime
    created_by: str
    updated_at: datetime


class SubscriptionIssued(SubscriptionRead):
    secret: str = Field(
        description="The signing secret (whsec_...): shown in this answer only; store it now"
    )


class AttemptRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    number: int
    attempted_at: datetime
    outcome: str
    status_code: int | None
    latency_ms: int | None
    error: str | None
    response_body: str | None = Field(description="The receiver's answer, first 1,000 chars")


class DeliveryRead(BaseModel):
    id: str
    event_id: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    dead_letter_reason: str | None
    created_at: datetime
    completed_at: datetime | None
    log: list[AttemptRead]


def _issued(issued: Issued) -> SubscriptionIssued:
    read = SubscriptionRead.model_validate(issued.subscription)
    return SubscriptionIssued(**read.model_dump(), secret=issued.secret)


def _delivery(found: Delivery) -> DeliveryRead:
    message = found.message
    return DeliveryRead(
        id=message.id,
        event_id=str(message.payload.get("event_id")),
        event_type=str(message.payload.get("event_type", message.operation)),
        status=message.status,
        attempts=message.attempts,
        next_attempt_at=message.next_attempt_at,
        last_error=message.last_error,
        dead_letter_reason=message.dead_letter_reason,
        created_at=message.created_at,
        completed_at=message.completed_at,
        log=[AttemptRead.model_validate(a) for a in found.attempts],
    )


def _read(row: WebhookSubscription) -> SubscriptionRead:
    return SubscriptionRead.model_validate(row)


@router.post(
    "",
    dependencies=[Depends(shows_secret)],
    status_code=201,
    response_model=SubscriptionIssued,
    summary="Subscribe an HTTPS endpoint to desk events; the signing secret is shown once",
    responses=problem_responses(409, 422),
)
async def create_subscription(
    request: Request, principal: Admin, body: SubscriptionCreate
) -> SubscriptionIssued:
    app = app_of(request)
    issued = await run_in_threadpool(
        lambda: subscriptions.create_subscription(
            app.sessions,
            tenant_id=principal.tenant_id,
            url=body.url,
            event_types=[str(t) for t in body.event_types],
            description=body.description,
            secret_key=app.settings.secret_key,
            clock=app.clock,
            actor=principal.identity,
        )
    )
    return _issued(issued)


@router.get("", response_model=list[SubscriptionRead], summary="Webhook subscriptions")
async def list_subscriptions(request: Request, principal: Admin) -> list[SubscriptionRead]:
    app = app_of(request)
    rows = await run_in_threadpool(
        lambda: subscriptions.list_subscriptions(app.sessions, tenant_id=principal.tenant_id)
    )
    return [_read(r) for r in rows]


@router.get(
    "/{subscription_id}",
    response_model=SubscriptionRead,
    summary="One webhook subscription",
    responses=problem_responses(404),
)
async def get_subscription(
    request: Request, principal: Admin, subscription_id: Id
) -> SubscriptionRead:
    app = app_of(request)
    row = await run_in_threadpool(
        lambda: subscriptions.get_subscription(
            app.sessions, tenant_id=principal.tenant_id, subscription_id=subscription_id
        )
    )
    return _read(row)


@router.patch(
    "/{subscription_id}",
    response_model=SubscriptionRead,
    summary="Change a subscription's URL, types or description, or switch it off or on",
    responses=problem_responses(404, 422),
)
async def update_subscription(
    request: Request, principal: Admin, subscription_id: Id, body: SubscriptionUpdate
) -> SubscriptionRead:
    app = app_of(request)
    changes = body.model_dump(exclude_unset=True)
    if "event_types" in changes and changes["event_types"] is not None:
        changes["event_types"] = [str(t) for t in changes["event_types"]]
    row = await run_in_threadpool(
        lambda: subscriptions.update_subscription(
            app.sessions,
            tenant_id=principal.tenant_id,
            subscription_id=subscription_id,
            changes=changes,
            clock=app.clock,
            actor=principal.identity,
        )
    )
    return _read(row)


@router.delete(
    "/{subscription_id}",
    status_code=204,
    summary="Delete a subscription and its delivery log; undelivered events are cancelled",
    responses=problem_responses(404),
)
async def delete_subscription(request: Request, principal: Admin, subscription_id: Id) -> Response:
    app = app_of(request)
    await run_in_threadpool(
        lambda: subscriptions.delete_subscription(
            app.sessions,
            tenant_id=principal.tenant_id,
            subscription_id=subscription_id,
            clock=app.clock,
            actor=principal.identity,
        )
    )
    return Response(status_code=204)


@router.post(
    "/{subscription_id}/rotate",
    dependencies=[Depends(shows_secret)],
    response_model=SubscriptionIssued,
    summary="New signing secret (shown once); the old one also signs during the overlap",
    responses=problem_responses(404, 422),
)
async def rotate_secret(
    request: Request, principal: Admin, subscription_id: Id, body: SecretRotate | None = None
) -> SubscriptionIssued:
    app = app_of(request)
    hours = body.overlap_hours if body is not None else None
    issued = await run_in_threadpool(
        lambda: subscriptions.rotate_secret(
            app.sessions,
            tenant_id=principal.tenant_id,
            subscription_id=subscription_id,
            overlap=timedelta(hours=hours) if hours is not None else None,
            secret_key=app.settings.secret_key,
            clock=app.clock,
            actor=principal.identity,
        )
    )
    return _issued(issued)


@router.get(
    "/{subscription_id}/deliveries",
    response_model=list[DeliveryRead],
    summary="The delivery log: events sent to this subscription, newest first, each attempt",
    responses=problem_responses(404),
)
async def list_deliveries(
    request: Request,
    principal: Admin,
    subscription_id: Id,
    status: Annotated[DeliveryStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[DeliveryRead]:
    app = app_of(request)
    found = await run_in_threadpool(
        lambda: subscriptions.deliveries(
            app.sessions,
            tenant_id=principal.tenant_id,
            subscription_id=subscription_id,
            status=status,
            limit=limit,
        )
    )
    return [_delivery(d) for d in found]


@router.post(
    "/{subscription_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    response_model=DeliveryRead,
    summary="Send an event again, same webhook-id; refused (409) while it is still queued",
    responses=problem_responses(404, 409),
)
async def redeliver(
    request: Request, principal: Admin, subscription_id: Id, delivery_id: Id
) -> DeliveryRead:
    app = app_of(request)
    message = await run_in_threadpool(
        lambda: subscriptions.redeliver(
            app.sessions,
            tenant_id=principal.tenant_id,
            subscription_id=subscription_id,
            delivery_id=delivery_id,
            clock=app.clock,
            actor=principal.identity,
        )
    )
    return _delivery(Delivery(message, []))
