"""Over HTTP, a tenant's deliveries admitted together are spread over its window.

A tenant held to 2 a second sends three deliveries at once at the start of a window: two
are admitted, and the second starts half a second after the first (its quota's even
pace) instead of beside it; the third is refused. Nothing admitted is lost, and another
tenant's delivery sent at the same moment is accepted too (that it is not paced behind
them is held without timing in tests/unit/test_ingest_pacing.py).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import replace

import httpx
from sqlalchemy import select

from builders.webhooks import Delivery, shopify, shopify_order
from orderops.api.app import create_app
from orderops.api.rate_limits import limiter_for
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.ingest.connections import SecretBox, WebhookSource, connect_source
from orderops.storage.tables import WebhookDelivery
from orderops.storage.uow import UnitOfWork

SECRET = "pacing-test-signing-secret-0123456789abc"


def _order() -> Delivery:
    return shopify("orders/create", shopify_order(id=int(uuid.uuid4().int % 10**12)))


def test_deliveries_admitted_together_start_at_the_quotas_pace(app: App, clock: FixedClock) -> None:
    limited = replace(
        app, settings=app.settings.model_copy(update={"rate_limit_ingest_per_tenant": "2/second"})
    )
    tokens = {
        tenant: connect_source(
            app.sessions,
            tenant_id=tenant,
            source=WebhookSource.SHOPIFY,
            box=SecretBox(app.settings.secret_key),
            clock=clock,
            actor="test",
            secret=SECRET,
        ).connection.endpoint_token
        for tenant in ("acme", "globex")
    }
    api = create_app(limited)
    api.state.rate_limiter = limiter_for(limited, clock=clock)  # held at a window's start

    async def scenario() -> list[tuple[str, int, float]]:
        transport = httpx.ASGITransport(app=api)
        async with httpx.AsyncClient(transport=transport, base_url="http://desk") as client:
            sent = time.monotonic()

            async def deliver(tenant: str) -> tuple[str, int, float]:
                delivery = _order()
                answer = await client.post(
                    f"/v1/webhooks/shopify/{tokens[tenant]}",
                    content=delivery.body,
                    headers=delivery.signed(SECRET, clock.now()),
                )
                return tenant, answer.status_code, time.monotonic() - sent

            return list(
                await asyncio.gather(*(deliver(t) for t in ("acme", "acme", "acme", "globex")))
            )

    answers = asyncio.run(scenario())
    statuses = sorted((tenant, status) for tenant, status, _ in answers)
    assert statuses == [("acme", 202), ("acme", 202), ("acme", 429), ("globex", 202)]
    accepted = sorted(
        after for tenant, status, after in answers if (tenant, status) == ("acme", 202)
    )
    assert accepted[-1] >= 0.5  # the second of acme's started 1/2 s after the first
    stored = {}
    for tenant in ("acme", "globex"):
        with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
            stored[tenant] = len(uow.session.scalars(select(WebhookDelivery.id)).all())
    assert stored == {"acme": 2, "globex": 1}
