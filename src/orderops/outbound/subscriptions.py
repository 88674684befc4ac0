"""Webhook subscriptions of one tenant: create, list, change, delete, rotate, redeliver.

The API (admin only) calls these; each opens its own unit of work bound to the caller's
tenant, so another tenant's subscription is simply not found (404), as with every other
tenant-owned row. A signing secret is generated here, returned once (create, rotate) and
stored sealed; listings never carry it. Every change is audited, without the secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from orderops.domain.clock import Clock
from orderops.domain.errors import Conflict, NotFound
from orderops.domain.outbound_webhooks import (
    InvalidSubscription,
    check_event_types,
    check_url,
    new_secret,
)
from orderops.ingest.connections import SecretBox
from orderops.outbound.events import SYSTEM, enqueue, forget_subscribers, idempotency_key
from orderops.outbound.settings import OutboundSettings
from orderops.storage.base import new_id
from orderops.storage.tables import OutboxMessage
from orderops.storage.tables.outbound_webhooks import WebhookAttemptLog, WebhookSubscription
from orderops.storage.uow import UnitOfWork

MAX_DESCRIPTION = 200


@dataclass(frozen=True)
class Issued:
    """A subscription with its signing secret: the only time the secret is shown."""

    subscription: WebhookSubscription
    secret: str


@dataclass(frozen=True)
class Delivery:
    """One event for one subscription: its outbox row and the attempts logged for it."""

    message: OutboxMessage
    attempts: list[WebhookAttemptLog]


def create_subscription(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    url: str,
    event_types: list[str],
    description: str | None,
    secret_key: str,
    clock: Clock,
    actor: str,
    settings: OutboundSettings | None = None,
) -> Issued:
    settings = settings or OutboundSettings()
    checked_url = check_url(url, allow_loopback=settings.allow_loopback)
    types = [str(t) for t in check_event_types(event_types)]
    now = clock.now()
    secret = new_secret()
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        count = uow.session.scalar(
            select(func.count())
            .select_from(WebhookSubscription)
            .where(WebhookSubscription.tenant_id == tenant_id)
        )
        if (count or 0) >= settings.max_subscriptions:
            raise Conflict(f"a tenant may have at most {settings.max_subscriptions} subscriptions")
        row = WebhookSubscription(
            id=new_id(),
            tenant_id=tenant_id,
            url=checked_url,
            description=description,
            event_types=types,
            secret_ciphertext=SecretBox(secret_key).seal(secret, now=now),
            secret_version=1,
            enabled=True,
            consecutive_failures=0,
            created_at=now,
            created_by=actor,
            updated_at=now,
        )
        uow.session.add(row)
        uow.session.flush()
        _audit(uow, row, "created", actor=actor, now=now, data={"url": row.url, "types": types})
        uow.commit()
        uow.session.expunge_all()  # the closing rollback must not expire what we return
        return Issued(row, secret)


def list_subscriptions(
    sessions: sessionmaker[Session], *, tenant_id: str
) -> list[WebhookSubscription]:
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        rows = list(
            uow.session.scalars(
                select(WebhookSubscription)
                .where(WebhookSubscription.tenant_id == tenant_id)
                .order_by(WebhookSubscription.created_at, WebhookSubscription.id)
            )
        )
        uow.session.expunge_all()
        return rows


def get_subscription(
    sessions: sessionmaker[Session], *, tenant_id: str, subscription_id: str
) -> WebhookSubscription:
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        row = _get(uow, subscription_id)
        uow.session.expunge_all()
        return row


def update_subscription(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    subscription_id: str,
    changes: dict[str, Any],
    clock: Clock,
    actor: str,
    settings: OutboundSettings | None = None,
) -> WebhookSubscription:
    """Change the URL, types, description, or switch it on or off. Switching a subscription
    back on clears its failure streak; events that failed meanwhile stay failed until
    redelivered (``redeliver``)."""
    settings = settings or OutboundSettings()
    now = clock.now()
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        row = _get(uow, subscription_id)
        changed: dict[str, Any] = {}
        if changes.get("url") is not None:
            row.url = check_url(changes["url"], allow_loopback=settings.allow_loopback)
            changed["url"] = row.url
        if changes.get("event_types") is not None:
            row.event_types = [str(t) for t in check_event_types(changes["event_types"])]
            changed["types"] = row.event_types
        if "description" in changes:
            row.description = changes["description"]
            changed["description"] = True
        if changes.get("enabled") is not None and bool(changes["enabled"]) != row.enabled:
            row.enabled = bool(changes["enabled"])
            changed["enabled"] = row.enabled
            if row.enabled:
                row.disabled_at, row.disabled_reason = None, None
                row.failing_since, row.consecutive_failures = None, 0
            else:
                row.disabled_at, row.disabled_reason = now, f"disabled by {actor}"
        if not changed:
            uow.session.expunge_all()
            return row
        row.updated_at = now
        forget_subscribers(uow.session)
        _audit(uow, row, "updated", actor=actor, now=now, data=changed)
        uow.commit()
        uow.session.expunge_all()
        return row


def delete_subscription(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    subscription_id: str,
    clock: Clock,
    actor: str,
) -> None:
    """Forget the subscription and its log; its events not yet delivered are cancelled."""
    now = clock.now()
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        row = _get(uow, subscription_id)
        uow.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.tenant_id == tenant_id,
                OutboxMessage.system == SYSTEM,
                OutboxMessage.idempotency_key.like(_key_prefix(row.id) + "%"),
                OutboxMessage.status.in_(["pending", "unconfirmed", "failed"]),
            )
            .values(status="cancelled", completed_at=now),
            execution_options={"synchronize_session": False},
        )
        _audit(uow, row, "deleted", actor=actor, now=now, data={"url": row.url})
        uow.session.delete(row)
        uow.commit()


def rotate_secret(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    subscription_id: str,
    overlap: timedelta | None,
    secret_key: str,
    clock: Clock,
    actor: str,
    settings: OutboundSettings | None = None,
) -> Issued:
    """A new secret, shown once; the replaced one keeps signing for ``overlap`` (both
    signatures in every delivery meanwhile), so a receiver can switch without a gap.
    An overlap of zero drops the old secret at once (it leaked)."""
    settings = settings or OutboundSettings()
    if overlap is None:
        overlap = timedelta(hours=settings.rotation_overlap_hours)
    if overlap < timedelta(0) or overlap > timedelta(days=7):
        raise InvalidSubscription("overlap must be between 0 and 7 days")
    now = clock.now()
    secret = new_secret()
    box = SecretBox(secret_key)
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        row = _get(uow, subscription_id)
        if overlap > timedelta(0):
            row.previous_secret_ciphertext = row.secret_ciphertext
            row.previous_secret_until = now + overlap
        else:
            row.previous_secret_ciphertext, row.previous_secret_until = None, None
        row.secret_ciphertext = box.seal(secret, now=now)
        row.secret_version += 1
        row.updated_at = now
        _audit(
            uow,
            row,
            "rotated",
            actor=actor,
            now=now,
            data={"version": row.secret_version, "overlap_seconds": overlap.total_seconds()},
        )
        uow.commit()
        uow.session.expunge_all()  # the closing rollback must not expire what we return
        return Issued(row, secret)


def deliveries(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    subscription_id: str,
    status: str | None = None,
    limit: int = 50,
) -> list[Delivery]:
    """The subscription's events, newest first, each with its logged attempts."""
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        _get(uow, subscription_id)
        query = select(OutboxMessage).where(
            OutboxMessage.tenant_id == tenant_id,
            OutboxMessage.system == SYSTEM,
            OutboxMessage.idempotency_key.like(_key_prefix(subscription_id) + "%"),
        )
        if status is not None:
            query = query.where(OutboxMessage.status == status)
        messages = list(
            uow.session.scalars(
                query.order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc()).limit(
                    limit
                )
            )
        )
        attempts: dict[str, list[WebhookAttemptLog]] = {m.id: [] for m in messages}
        if messages:
            for attempt in uow.session.scalars(
                select(WebhookAttemptLog)
                .where(
                    WebhookAttemptLog.tenant_id == tenant_id,
                    WebhookAttemptLog.message_id.in_(list(attempts)),
                )
                .order_by(WebhookAttemptLog.number)
            ):
                attempts[attempt.message_id].append(attempt)
        uow.session.expunge_all()
        return [Delivery(m, attempts[m.id]) for m in messages]


def redeliver(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    subscription_id: str,
    delivery_id: str,
    clock: Clock,
    actor: str,
) -> OutboxMessage:
    """Send an event again, with the same ``webhook-id`` (the receiver dedupes by it).

    A failed or cancelled delivery is queued again (its give-up count starts afresh); a
    delivered one is queued as a new delivery of the same event; one still queued or in
    flight is refused (409): it will be sent anyway."""
    now = clock.now()
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        row = _get(uow, subscription_id)
        message = uow.session.scalar(
            select(OutboxMessage).where(
                OutboxMessage.tenant_id == tenant_id,
                OutboxMessage.id == delivery_id,
                OutboxMessage.system == SYSTEM,
                OutboxMessage.idempotency_key.like(_key_prefix(row.id) + "%"),
            )
        )
        if message is None:
            raise NotFound(f"no delivery {delivery_id} of webhook subscription {row.id}")
        if not row.enabled:
            raise Conflict("the subscription is disabled; enable it before redelivering")
        if message.status in ("failed", "cancelled"):
            message.status = "pending"
            message.next_attempt_at = now
            message.attempts_at_retry = message.attempts
            message.completed_at, message.dead_letter_reason = None, None
            target = message
        elif message.status == "delivered":
            target = _again(uow, row.id, message, now=now)
        else:
            raise Conflict(f"delivery {message.id} is {message.status}: it will be sent anyway")
        _audit(
            uow,
            row,
            "redelivered",
            actor=actor,
            now=now,
            data={"delivery_id": message.id, "queued": target.id},
        )
        uow.commit()
        uow.session.expunge_all()
        return target


def _again(
    uow: UnitOfWork, subscription_id: str, message: OutboxMessage, *, now: datetime
) -> OutboxMessage:
    event_id = str(message.payload["event_id"])
    copies = uow.session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(
            OutboxMessage.tenant_id == uow.tenant_id,
            OutboxMessage.idempotency_key.like(idempotency_key(subscription_id, event_id) + "%"),
        )
    )
    queued_id = enqueue(
        uow,
        subscription_id=subscription_id,
        event_id=event_id,
        body=dict(message.payload["body"]),
        now=now,
        copy=copies or 1,
    )
    if queued_id is None:
        raise Conflict(f"a redelivery of {message.id} is already queued")
    queued = uow.session.get(OutboxMessage, queued_id)
    assert queued is not None
    return queued


def _get(uow: UnitOfWork, subscription_id: str) -> WebhookSubscription:
    row = uow.session.scalar(
        select(WebhookSubscription).where(
            WebhookSubscription.tenant_id == uow.tenant_id,
            WebhookSubscription.id == subscription_id,
        )
    )
    if row is None:
        raise NotFound(f"no webhook subscription {subscription_id}")
    return row


def _key_prefix(subscription_id: str) -> str:
    return idempotency_key(subscription_id, "")


def _audit(
    uow: UnitOfWork,
    row: WebhookSubscription,
    change: str,
    *,
    actor: str,
    now: datetime,
    data: dict[str, Any],
) -> None:
    uow.audit.append(
        at=now,
        actor=actor,
        action=f"webhook_subscription.{change}",
        entity_type="webhook_subscription",
        entity_id=row.id,
        data=data,
    )
