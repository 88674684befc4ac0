"""Enqueueing external effects in the caller's transaction (the transactional outbox).

An approved action writes its outbox rows through the same unit of work as the approval,
so either both commit or neither does; the idempotency key is fixed here, at decision
time, and travels with every retry.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from orderops.domain.errors import OrderOpsError
from orderops.storage.base import new_id
from orderops.storage.repositories._dialect import insert_if_absent
from orderops.storage.tables import OutboxMessage
from orderops.storage.uow import UnitOfWork


class OutboxStatus:
    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"


class DuplicateEffect(OrderOpsError):
    """An effect with this idempotency key is already queued: the decision was taken before."""

    code = "duplicate-effect"


def enqueue(
    uow: UnitOfWork,
    *,
    system: str,
    operation: str,
    idempotency_key: str,
    payload: dict[str, Any],
    now: datetime,
    action_id: str | None = None,
) -> str:
    """Queue one external effect; raise DuplicateEffect if its key is already queued."""
    message_id = new_id()
    inserted = insert_if_absent(
        uow.session,
        OutboxMessage.__table__,  # type: ignore[arg-type]
        {
            "id": message_id,
            "tenant_id": uow.tenant_id,
            "action_id": action_id,
            "system": system,
            "operation": operation,
            "idempotency_key": idempotency_key,
            "payload": payload,
            "status": OutboxStatus.PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        },
    )
    if not inserted:
        raise DuplicateEffect(f"an effect with idempotency key {idempotency_key} is already queued")
    uow.audit.append(
        at=now,
        actor="outbox",
        action="writeback.queued",
        entity_type="outbox",
        entity_id=message_id,
        data={
            "system": system,
            "operation": operation,
            "idempotency_key": idempotency_key,
            "action_id": action_id,
        },
    )
    return message_id
