"""Queue outbound webhook events in the transaction of the change that causes them.

``cases/cases.record`` (every case timeline entry, with its audit record) calls
``on_case_record``; the kinds that are outbound events (``TIMELINE_EVENTS``) become one
``outbox`` row per enabled subscription that wants the type, written through the
caller's session. So an event commits with its change or not at all: a rolled-back
approval, or a pipeline event whose savepoint is rolled back, sends nothing, and a
committed one is delivered by the worker however the process ends afterwards.

This module imports only storage and the domain: the case lifecycle sits below the
writeback layer and must not reach up into it (pyproject's import-linter contracts).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, SessionTransaction

from orderops.domain.environments import read_tenant_id
from orderops.domain.outbound_webhooks import TIMELINE_EVENTS, EventType
from orderops.storage.base import new_id
from orderops.storage.repositories._dialect import insert_if_absent
from orderops.storage.tables import Action, Case, OutboxMessage
from orderops.storage.tables.outbound_webhooks import WebhookSubscription
from orderops.storage.uow import UnitOfWork

SYSTEM = "webhook"
"""The outbox ``system`` of webhook rows; the vendor worker's registry has no such system,
so only ``outbound/delivery.py`` claims them."""
_CACHE = "orderops.outbound.subscribers"


def idempotency_key(subscription_id: str, event_id: str) -> str:
    return f"{SYSTEM}:{subscription_id}:{event_id}"


def on_case_record(
    uow: UnitOfWork, case: Case, *, kind: str, at: datetime, data: dict[str, Any]
) -> None:
    """Queue the event a case timeline entry stands for, if any subscription wants it."""
    event_type = TIMELINE_EVENTS.get(kind)
    if event_type is None:
        return
    wanted = [s for s in _subscribers(uow) if str(event_type) in s[1]]
    if not wanted:
        return
    event_id = "evt_" + new_id()
    body = {
        "id": event_id,
        "type": str(event_type),
        "timestamp": _iso(at),
        "environment": str(read_tenant_id(uow.tenant_id)[1]),
        "data": _data(uow, event_type, case, data, at=at),
    }
    for subscription_id, _ in wanted:
        enqueue(uow, subscription_id=subscription_id, event_id=event_id, body=body, now=at)


def enqueue(
    uow: UnitOfWork,
    *,
    subscription_id: str,
    event_id: str,
    body: dict[str, Any],
    now: datetime,
    copy: int = 0,
) -> str | None:
    """One outbox row for one subscription; None when that event was already queued.

    ``copy`` numbers a redelivery of an event already delivered: a new row (the first
    one stays delivered, the proof it was), same event id and body."""
    message_id = new_id()
    key = idempotency_key(subscription_id, event_id) + (f":again{copy}" if copy else "")
    inserted = insert_if_absent(
        uow.session,
        OutboxMessage.__table__,  # type: ignore[arg-type]
        {
            "id": message_id,
            "tenant_id": uow.tenant_id,
            "action_id": None,
            "case_id": None,  # not a case's effect: kept out of its action's accounting
            "order_ref": None,
            "system": SYSTEM,
            "operation": body["type"],
            "idempotency_key": key,
            "payload": {
                "subscription_id": subscription_id,
                "event_id": event_id,
                "event_type": body["type"],
                "body": body,
            },
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        },
    )
    return message_id if inserted else None


def _subscribers(uow: UnitOfWork) -> list[tuple[str, list[str]]]:
    """The tenant's enabled subscriptions (id, types), read once per transaction."""
    session: Session = uow.session
    transaction = session.get_transaction()
    cached: tuple[SessionTransaction | None, list[tuple[str, list[str]]]] | None
    cached = session.info.get(_CACHE)
    if cached is not None and cached[0] is transaction and transaction is not None:
        found: list[tuple[str, list[str]]] = cached[1]
        return found
    rows = session.execute(
        select(WebhookSubscription.id, WebhookSubscription.event_types).where(
            WebhookSubscription.tenant_id == uow.tenant_id,
            WebhookSubscription.enabled.is_(True),
        )
    ).all()
    found = [(row.id, list(row.event_types)) for row in rows]
    session.info[_CACHE] = (transaction, found)
    return found


def forget_subscribers(session: Session) -> None:
    """After a subscription changes in this session, read them again at the next event."""
    session.info.pop(_CACHE, None)


def _data(
    uow: UnitOfWork, event_type: EventType, case: Case, data: dict[str, Any], *, at: datetime
) -> dict[str, Any]:
    """A thin payload (the spec's advice): identifiers, states and the one-line summary;
    the receiver reads more through the API if it needs it."""
    out: dict[str, Any] = {
        "case": {
            "id": case.id,
            "type": case.exception_type,
            "status": case.status,
            "order_ref": case.order_ref,
            "priority": case.priority,
            "queue": case.queue,
            "summary": case.summary,
            "opened_at": _iso(case.opened_at),
            "closed_at": _iso(case.closed_at) if case.closed_at else None,
            "close_reason": case.close_reason,
        }
    }
    if event_type is EventType.CASE_RESOLVED:
        # A reviewer's resolve records its entry before stamping the case: take both
        # from the entry then (decide/transitions._close).
        out["case"]["closed_at"] = _iso(case.closed_at or at)
        out["case"]["close_reason"] = case.close_reason or data.get("reason")
    if event_type in (EventType.ACTION_APPROVED, EventType.ACTION_DELIVERED):
        action_id = data.get("action_id")
        action = uow.session.get(Action, action_id) if isinstance(action_id, str) else None
        out["action"] = {
            "id": action_id,
            "kind": action.kind if action is not None else data.get("kind"),
            "status": action.status if action is not None else None,
        }
    return out


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")
