"""What the desk ended up with, read straight from its tables after the last pass.

Read-only and tenant-scoped; these are the facts the score is computed from, so they are
read from the rows themselves rather than from any API page (which filters and pages).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from orderops.evaluation.scoring import EarlyRecord, OpenedCase
from orderops.storage.tables import Case, InboxEvent, Order
from orderops.storage.tables.resolve import LinkSuggestion, RecordLink
from orderops.storage.uow import UnitOfWork


def opened_cases(sessions: sessionmaker[Session], *, tenant_id: str) -> list[OpenedCase]:
    """Every case row of the tenant, open or closed: nothing the desk raised is left out."""
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        rows = uow.session.execute(
            select(Case.exception_type, Case.order_ref, Case.opened_at, Case.status).where(
                Case.tenant_id == tenant_id
            )
        ).all()
    return [OpenedCase(kind, ref, opened, status) for kind, ref, opened, status in rows]


def inbox_by_status(
    sessions: sessionmaker[Session], *, tenant_id: str, status: str
) -> dict[str, int]:
    """Inbox rows left in ``status`` (e.g. deferred: never found their order), per type."""
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        rows = uow.session.execute(
            select(InboxEvent.type, func.count())
            .where(InboxEvent.tenant_id == tenant_id, InboxEvent.status == status)
            .group_by(InboxEvent.type)
        ).all()
    return {kind: int(count) for kind, count in sorted(rows)}


def link_suggestions(sessions: sessionmaker[Session], *, tenant_id: str) -> dict[str, int]:
    """Link suggestions the desk opened (a reviewer had to choose), per current status."""
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        rows = uow.session.execute(
            select(LinkSuggestion.status, func.count())
            .where(LinkSuggestion.tenant_id == tenant_id)
            .group_by(LinkSuggestion.status)
        ).all()
    return {status: int(count) for status, count in sorted(rows)}


def link_methods(sessions: sessionmaker[Session], *, tenant_id: str) -> dict[str, int]:
    """Records linked to an order, per method (alias, mention, email, ...)."""
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        rows = uow.session.execute(
            select(RecordLink.method, func.count())
            .where(RecordLink.tenant_id == tenant_id)
            .group_by(RecordLink.method)
        ).all()
    return {method: int(count) for method, count in sorted(rows)}


def early_records(sessions: sessionmaker[Session], *, tenant_id: str) -> list[EarlyRecord]:
    """Records received before the order they were linked to, with both moments.

    The order's arrival is when its row was created (the desk's clock when its first
    event was projected); the record's is when its inbox row was received. A record
    linked more than once (unlinked, relinked) counts by its first link.
    """
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        rows = uow.session.execute(
            select(
                RecordLink.record_type,
                RecordLink.record_ref,
                RecordLink.order_ref,
                RecordLink.created_at,
                InboxEvent.received_at,
                Order.created_at,
            )
            .join(InboxEvent, InboxEvent.id == RecordLink.inbox_id)
            .join(
                Order,
                (Order.tenant_id == RecordLink.tenant_id)
                & (Order.order_ref == RecordLink.order_ref),
            )
            .where(RecordLink.tenant_id == tenant_id)
        ).all()
    first: dict[str, tuple[datetime, datetime, datetime, str]] = {}
    for kind, ref, order_ref, linked_at, received_at, arrived_at in rows:
        key = f"{kind}:{ref}"
        if key not in first or linked_at < first[key][0]:
            first[key] = (linked_at, received_at, arrived_at, order_ref)
    return [
        EarlyRecord(record=key, order_ref=order_ref, order_arrived_at=arrived, linked_at=linked)
        for key, (linked, received, arrived, order_ref) in sorted(first.items())
        if received < arrived
    ]
