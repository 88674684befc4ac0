"""Provider webhooks (``POST /v1/webhooks/{source}/{token}``) and connecting a source.

The webhook route has no bearer key: providers cannot send one. The token in the path
picks the tenant's connection and the provider's signature proves the sender. Answers
follow what providers do with them: 2xx means "stored, do not retry"; anything else
is retried, which is harmless because a retry is recognised and answered the same way.
"""

from __future__ import annotations

import threading
from datetime import datetime

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from orderops.api.auth import app_of, require
from orderops.api.body import SafeJsonRoute, read_capped
from orderops.api.idempotency import shows_secret
from orderops.api.params import Name
from orderops.api.problems import problem
from orderops.api.rate_limits import RATE_LIMITED, held_for, hold_webhook, take_turn
from orderops.domain.errors import Forbidden
from orderops.domain.roles import Permission, Role
from orderops.ingest.adapters import ADAPTERS
from orderops.ingest.connections import (
    MIN_SECRET_LENGTH,
    EndpointNotFound,
    SecretBox,
    WebhookSource,
    connect_source,
    resolve_endpoint,
)
from orderops.ingest.webhook_metrics import (
    UNKNOWN_SOURCE,
    RejectReason,
    WebhookMetrics,
    create_webhook_metrics,
)
from orderops.ingest.webhooks import (
    READ_LIMIT,
    WebhookLimits,
    WebhookReceipt,
    WebhookRejected,
    WebhookTooLarge,
    receive_webhook,
)
from orderops.tenancy.tenants import Principal

router = APIRouter(prefix="/v1", tags=["webhooks"], route_class=SafeJsonRoute)

_metrics_lock = threading.Lock()


def install(api: FastAPI, metrics: WebhookMetrics | None = None) -> WebhookMetrics:
    """Attach the webhook counter to an app (a private registry unless one is given).

    Optional: the first webhook request attaches a private one if this was not called.
    Call it to choose the registry, e.g. to expose it on a ``/metrics`` route.
    """
    with _metrics_lock:
        existing: WebhookMetrics | None = getattr(api.state, "webhook_metrics", None)
        if existing is None:
            existing = metrics or create_webhook_metrics()
            api.state.webhook_metrics = existing
        return existing


def metrics_of(request: Request) -> WebhookMetrics:
    return install(request.app)


class WebhookAnswer(BaseModel):
    delivery: str = Field(description="OrderOps' id of the stored delivery.")
    delivery_id: str = Field(description="The provider's id of the delivery (or body hash).")
    outcome: str = Field(description="accepted, duplicate (a retry) or ignored (known topic).")
    accepted: int = Field(description="Canonical events stored for the workers to process.")
    duplicates: int


class ConnectRequest(BaseModel):
    source: WebhookSource
    secret: str | None = Field(
        default=None,
        min_length=MIN_SECRET_LENGTH,
        description="The provider's signing secret; omit to have one generated.",
    )
    base_url: str | None = Field(
        default=None, description="Public base URL the provider calls; defaults to this host."
    )


class ConnectionRead(BaseModel):
    source: WebhookSource
    endpoint_url: str
    created_at: datetime
    rotated_at: datetime | None
    generated_secret: str | None = Field(
        description="Shown once, only when OrderOps generated the secret."
    )


@router.post(
    "/webhooks/{source}/{endpoint_token}",
    status_code=202,
    response_model=WebhookAnswer,
    responses={
        200: {"description": "Nothing new (a retry, or a topic with nothing to act on)"},
        401: {"description": "Missing, wrong or stale signature; nothing stored"},
        404: {"description": "No enabled connection at this address"},
        413: {"description": "Body over the limit; dead-lettered when verifiable"},
        422: {"description": "Verified but not mappable; dead-lettered"},
        429: RATE_LIMITED,
    },
    summary="Receive one provider webhook delivery",
)
async def post_webhook(source: Name, endpoint_token: Name, request: Request) -> JSONResponse:
    app = app_of(request)
    metrics = metrics_of(request)
    box = SecretBox(app.settings.secret_key)
    held = held_for(request)
    if held is not None:  # admitted by api/webhook_gate.py: the lookup waits for its turn too
        await take_turn(request, held)
    try:
        endpoint = await run_in_threadpool(
            resolve_endpoint,
            app.sessions,
            source=source,
            endpoint_token=endpoint_token,
            box=box,
        )
    except EndpointNotFound:
        label = source if source in ADAPTERS else UNKNOWN_SOURCE
        metrics.reject(source=label, reason=RejectReason.UNKNOWN_ENDPOINT)
        raise
    # The tenant is known now; over its limit, nothing is read or stored and the provider
    # retries (429 with Retry-After), which is stored like a first delivery.
    await hold_webhook(request, tenant_id=endpoint.tenant_id, endpoint_token=endpoint_token)
    body, complete = await read_capped(request, READ_LIMIT)
    try:
        receipt = await run_in_threadpool(
            receive_webhook,
            app.sessions,
            endpoint=endpoint,
            headers=dict(request.headers),
            body=body,
            complete=complete,
            clock=app.clock,
            limits=WebhookLimits(max_body_bytes=app.settings.max_request_bytes),
            metrics=metrics,
        )
    except WebhookTooLarge as exc:
        return problem(
            413,
            exc.code,
            "Payload too large",
            exc.message,
            delivery=exc.delivery,
            dead_letter_id=exc.dead_letter_id,
        )
    except WebhookRejected as exc:
        return problem(
            422,
            exc.code,
            "Webhook not mappable",
            exc.message,
            delivery=exc.delivery,
            dead_letter_id=exc.dead_letter_id,
        )
    status = 202 if receipt.accepted else 200
    return JSONResponse(_answer(receipt).model_dump(mode="json"), status_code=status)


@router.post(
    "/sources",
    dependencies=[Depends(shows_secret)],
    status_code=201,
    response_model=ConnectionRead,
    responses={403: {"description": "Only an admin may connect a source"}},
    summary="Connect a provider for the caller's tenant and get its webhook URL",
)
async def post_source(
    payload: ConnectRequest,
    request: Request,
    principal: Principal = Depends(require(Permission.EVENTS_WRITE)),
) -> ConnectionRead:
    if principal.role is not Role.ADMIN:
        raise Forbidden("only an admin may connect a webhook source")
    app = app_of(request)
    change = await run_in_threadpool(
        connect_source,
        app.sessions,
        tenant_id=principal.tenant_id,
        source=payload.source,
        box=SecretBox(app.settings.secret_key),
        clock=app.clock,
        actor=principal.identity,
        secret=payload.secret,
    )
    base_url = payload.base_url or str(request.base_url)
    connection = change.connection
    return ConnectionRead(
        source=connection.source,
        endpoint_url=connection.url(base_url),
        created_at=connection.created_at,
        rotated_at=connection.rotated_at,
        generated_secret=change.generated_secret,
    )


def _answer(receipt: WebhookReceipt) -> WebhookAnswer:
    return WebhookAnswer(
        delivery=receipt.delivery,
        delivery_id=receipt.delivery_id,
        outcome=str(receipt.outcome),
        accepted=receipt.accepted,
        duplicates=receipt.duplicates,
    )
