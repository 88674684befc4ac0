"""The bounce read-back: did the email carrying a delivered customer message come back?

Zendesk accepting a comment is not the customer reading it: the notification email can
bounce minutes later. For one tenant, every message delivered in the last
``window_hours`` is read back through the tenant's own Zendesk connector (read-only calls,
outside any transaction, a few at a time), and a bounce found makes the message
``bounced`` with the mail server's reason (``communications.record_bounce``: a timeline
entry and an audit record). A vendor that cannot be asked leaves the message as it is; the
next pass asks again. The worker runs this at most every ``interval_minutes`` per tenant.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from orderops.decide.communications import CommunicationStatus, record_bounce
from orderops.decide.message_delivery import SYSTEM, Written, written_by
from orderops.domain.clock import Clock
from orderops.domain.errors import ConfigurationError
from orderops.storage.tables import OutboxMessage
from orderops.storage.tables.queues import Communication
from orderops.storage.uow import UnitOfWork
from orderops.writeback.connections import ConnectorPool
from orderops.writeback.connectors.base import ConnectorError
from orderops.writeback.registry import Connectors


class BounceSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ORDEROPS_BOUNCES_", env_file=".env", extra="ignore"
    )

    window_hours: int = Field(default=48, ge=1, le=24 * 14)
    """How long after delivery a message is still read back for a bounce."""
    interval_minutes: float = Field(default=10.0, gt=0)
    """How often the worker's full pass reads bounces back for each tenant."""
    concurrency: int = Field(default=4, ge=1, le=16)


@dataclass(frozen=True)
class ToCheck:
    message_id: str
    outbox_id: str
    written: Written


@dataclass(frozen=True)
class BounceReport:
    checked: int
    bounced: int
    could_not_check: int


def read_bounces(
    sessions: sessionmaker[Session],
    connectors: ConnectorPool,
    *,
    tenant_id: str,
    clock: Clock,
    window_hours: int | None = None,
) -> BounceReport:
    settings = BounceSettings()
    since = clock.now() - timedelta(hours=window_hours or settings.window_hours)
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        todo = delivered_since(uow, since)
        if not todo or SYSTEM not in connectors.systems(tenant_id, session=uow.session):
            return BounceReport(len(todo), 0, len(todo))
    tenant = connectors.for_tenant(tenant_id)
    with ThreadPoolExecutor(max_workers=settings.concurrency) as pool:
        found = list(pool.map(lambda item: _bounce_of(tenant, item), todo))
    bounced = 0
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        now = clock.now()
        for item, reason in zip(todo, found, strict=True):
            if reason and record_bounce(
                uow, item.message_id, outbox_id=item.outbox_id, reason=reason, now=now
            ):
                bounced += 1
        uow.commit()
    return BounceReport(len(todo), bounced, sum(1 for r in found if r is None))


def delivered_since(uow: UnitOfWork, since: datetime) -> list[ToCheck]:
    rows = uow.session.execute(
        select(Communication.id, OutboxMessage)
        .join(
            OutboxMessage,
            (OutboxMessage.tenant_id == Communication.tenant_id)
            & (OutboxMessage.id == Communication.outbox_id),
        )
        .where(
            Communication.tenant_id == uow.tenant_id,
            Communication.status == CommunicationStatus.DELIVERED,
            Communication.updated_at >= since,
        )
        .order_by(Communication.updated_at, Communication.id)
    ).all()
    todo = []
    for message_id, outbox in rows:
        written = written_by(outbox)
        if written is not None:
            todo.append(ToCheck(message_id, outbox.id, written))
    return todo


def _bounce_of(connectors: Connectors, item: ToCheck) -> str | None:
    """The bounce's reason, "" when none, None when Zendesk could not be asked."""
    try:
        failures = connectors.zendesk().delivery_failures(
            item.written.ticket_id, marker=item.written.marker
        )
    except (ConnectorError, ConfigurationError):
        return None
    return "; ".join(f.reason for f in failures)


_ran_at: dict[tuple[int, str], datetime] = {}


def read_bounces_if_due(
    sessions: sessionmaker[Session], connectors: ConnectorPool, *, tenant_id: str, clock: Clock
) -> BounceReport | None:
    """The worker's step: at most every ``interval_minutes`` per tenant in this process."""
    key, now = (id(sessions), tenant_id), clock.now()
    last = _ran_at.get(key)
    if last is not None and now - last < timedelta(minutes=BounceSettings().interval_minutes):
        return None
    _ran_at[key] = now
    return read_bounces(sessions, connectors, tenant_id=tenant_id, clock=clock)
