"""Builders for outbound webhook subscriptions and their deliveries (docs/OUTBOUND_WEBHOOKS.md)."""

from __future__ import annotations

import itertools

from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.outbound.events import enqueue
from orderops.outbound.subscriptions import create_subscription
from orderops.storage.tables import OutboxMessage
from orderops.storage.uow import UnitOfWork

_n = itertools.count(1)


def subscription(app: App, clock: FixedClock, *, tenant: str = "acme") -> str:
    """A subscription of ``tenant`` to every case event, at an address nobody answers."""
    return create_subscription(
        app.sessions,
        tenant_id=tenant,
        url=f"https://hooks.example.com/orderops/{next(_n)}",
        event_types=["case.opened", "case.resolved"],
        description=None,
        secret_key=app.settings.secret_key,
        clock=clock,
        actor="test",
    ).subscription.id


def failed_delivery(
    app: App, clock: FixedClock, subscription_id: str, *, tenant: str = "acme"
) -> str:
    """An event of the subscription that was given up on (redeliverable); its outbox id."""
    now = clock.now()
    event_id = f"evt_test{next(_n)}"
    body = {"id": event_id, "type": "case.opened", "timestamp": now.isoformat(), "data": {}}
    with UnitOfWork(app.sessions, tenant_id=tenant) as uow:
        message_id = enqueue(
            uow, subscription_id=subscription_id, event_id=event_id, body=body, now=now
        )
        assert message_id is not None
        message = uow.session.get(OutboxMessage, message_id)
        assert message is not None
        message.status, message.attempts = "failed", 1
        message.dead_letter_reason = "permanent error: HTTP 400"
        uow.commit()
    return message_id
