"""Sources and their last delivery: is each provider still sending, and what was refused.

Per webhook source of the tenant (its connections, and any source that delivered in the
last week):
when the last delivery was accepted, how many arrived today (UTC), and the last refusal
with its reason. Read from ``webhook_deliveries`` by ``ix_webhook_deliveries_tenant_status``
(tenant, status, received_at): one short range per status, never the whole table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import func, select

from orderops.ingest.webhooks import DeliveryStatus
from orderops.storage.tables import SourceConnection, WebhookDelivery
from orderops.storage.uow import UnitOfWork

RECENT = timedelta(days=7)
"""A source not connected (any more) is still listed while it delivered this recently."""


@dataclass(frozen=True, kw_only=True)
class SourceHealth:
    source: str
    connected: bool
    disabled: bool
    last_accepted_at: datetime | None
    today: int
    last_refused_at: datetime | None
    last_refusal: str | None
    last_refusal_letter: str | None


def source_health(uow: UnitOfWork, *, now: datetime) -> list[SourceHealth]:
    tenant = uow.tenant_id
    connections = {
        c.source: c
        for c in uow.session.scalars(
            select(SourceConnection).where(SourceConnection.tenant_id == tenant)
        )
    }
    midnight = datetime.combine(now.date(), time(), tzinfo=now.tzinfo)
    today = dict(
        uow.session.execute(
            select(WebhookDelivery.source, func.count())
            .where(
                WebhookDelivery.tenant_id == tenant,
                WebhookDelivery.status.in_([str(s) for s in DeliveryStatus]),
                WebhookDelivery.received_at >= midnight,
            )
            .group_by(WebhookDelivery.source)
        ).all()
    )
    recent = uow.session.scalars(
        select(WebhookDelivery.source)
        .where(
            WebhookDelivery.tenant_id == tenant,
            WebhookDelivery.status == str(DeliveryStatus.ACCEPTED),
            WebhookDelivery.received_at >= now - RECENT,
        )
        .distinct()
    )
    sources = sorted(set(connections) | set(today) | set(recent))
    found: list[SourceHealth] = []
    for source in sources:
        accepted = uow.session.scalar(
            select(func.max(WebhookDelivery.received_at)).where(
                WebhookDelivery.tenant_id == tenant,
                WebhookDelivery.status == str(DeliveryStatus.ACCEPTED),
                WebhookDelivery.source == source,
            )
        )
        refused = uow.session.scalar(
            select(WebhookDelivery)
            .where(
                WebhookDelivery.tenant_id == tenant,
                WebhookDelivery.status == str(DeliveryStatus.REJECTED),
                WebhookDelivery.source == source,
            )
            .order_by(WebhookDelivery.received_at.desc())
            .limit(1)
        )
        connection = connections.get(source)
        found.append(
            SourceHealth(
                source=source,
                connected=connection is not None,
                disabled=connection is not None and connection.disabled_at is not None,
                last_accepted_at=accepted,
                today=int(today.get(source, 0)),
                last_refused_at=refused.received_at if refused else None,
                last_refusal=(refused.error or "refused") if refused else None,
                last_refusal_letter=refused.dead_letter_id if refused else None,
            )
        )
    return found
