"""Processing stored inbox events: project, detect, open or resolve cases.

Events are processed in chunks, one transaction per chunk and a savepoint per event: a
failing event rolls back alone and stays in the inbox (pending, then failed after
``MAX_ATTEMPTS``) with its error, so nothing is lost and the worker retries it, while
the chunk's good events commit together (one commit instead of one per event).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from itertools import islice

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from orderops.domain.cases import CaseStatus, is_open
from orderops.domain.clock import Clock
from orderops.ingest.envelope import parse_event
from orderops.storage.repositories.intake import InboxStatus
from orderops.storage.tables import CaseTimelineEntry, InboxEvent
from orderops.storage.uow import UnitOfWork
from orderops.workflow.cases import CaseEvent
from orderops.workflow.detection import evaluate_order
from orderops.workflow.projector import OrderNotYetKnown, project
from orderops.workflow.sla import wake_on_event

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
DEFERRED = "deferred"
CHUNK = 100


def process_event(
    sessions: sessionmaker[Session], *, tenant_id: str, inbox_id: str, clock: Clock
) -> list[CaseEvent]:
    return process_many(sessions, tenant_id=tenant_id, inbox_ids=[inbox_id], clock=clock)


def process_many(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    inbox_ids: Iterable[str],
    clock: Clock,
    chunk: int = CHUNK,
) -> list[CaseEvent]:
    """Process the given inbox rows in the order given; rows already processed are skipped."""
    changes: list[CaseEvent] = []
    iterator = iter(inbox_ids)
    while part := list(islice(iterator, chunk)):
        chunk_changes, created_orders = _process_chunk(
            sessions, tenant_id=tenant_id, inbox_ids=part, clock=clock
        )
        changes += chunk_changes
        for order_ref in created_orders:
            changes += _release_deferred(
                sessions, tenant_id=tenant_id, order_ref=order_ref, clock=clock
            )
    return changes


def process_pending(
    sessions: sessionmaker[Session], *, tenant_id: str, clock: Clock, batch: int = 500
) -> list[CaseEvent]:
    """Drain the tenant's pending inbox (events a crash or a failure left behind)."""
    changes: list[CaseEvent] = []
    seen: set[str] = set()
    while True:
        with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
            ids = [i for i in uow.inbox.pending_ids(limit=batch) if i not in seen]
        if not ids:
            return changes
        seen.update(ids)
        changes += process_many(sessions, tenant_id=tenant_id, inbox_ids=ids, clock=clock)


def _process_chunk(
    sessions: sessionmaker[Session], *, tenant_id: str, inbox_ids: Sequence[str], clock: Clock
) -> tuple[list[CaseEvent], list[str]]:
    changes: list[CaseEvent] = []
    created: list[str] = []
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        rows = uow.inbox.claim_many(inbox_ids)
        now = clock.now()
        for row in rows:
            try:
                with uow.session.begin_nested():
                    row_changes, created_order = _apply(uow, row, now=now)
            except Exception as exc:
                log.exception("processing inbox event %s failed", row.id)
                row.attempts += 1
                row.error = repr(exc)[:4000]
                row.status = (
                    InboxStatus.FAILED if row.attempts >= MAX_ATTEMPTS else InboxStatus.PENDING
                )
                continue
            changes += row_changes
            if created_order:
                created.append(created_order)
        uow.commit()
    return changes, created


def _apply(
    uow: UnitOfWork, row: InboxEvent, *, now: datetime
) -> tuple[list[CaseEvent], str | None]:
    event = parse_event(row.envelope, tenant_id=uow.tenant_id)
    try:
        projection = project(uow.commerce, event, inbox_id=row.id, now=now)
    except OrderNotYetKnown:
        row.status = DEFERRED
        return [], None
    changes: list[CaseEvent] = []
    for order_ref in sorted(projection.order_refs):
        order = uow.commerce.order_by_ref(order_ref)
        if order is None:
            continue
        for case in uow.cases.by_type_for_order(order.id).values():
            if not is_open(CaseStatus(case.status)):
                continue
            uow.cases.add_timeline(
                CaseTimelineEntry(
                    case_id=case.id,
                    at=now,
                    kind="event",
                    summary=projection.summary,
                    actor=event.envelope.source,
                    data={
                        "type": event.type,
                        "event_id": event.envelope.id,
                        "event_time": event.envelope.time.isoformat(),
                    },
                    inbox_id=row.id,
                )
            )
            wake_on_event(uow, case, now=now, inbox_id=row.id)
        changes += evaluate_order(uow, order, now=now, from_sweep=False, inbox_id=row.id)
    row.status, row.processed_at, row.error = InboxStatus.PROCESSED, now, None
    row.attempts += 1
    return changes, projection.created_order


def _release_deferred(
    sessions: sessionmaker[Session], *, tenant_id: str, order_ref: str, clock: Clock
) -> list[CaseEvent]:
    """Events that waited for this order (say, a cancellation that overtook it) go again."""
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        ids = list(
            uow.session.scalars(
                select(InboxEvent.id)
                .where(
                    InboxEvent.tenant_id == tenant_id,
                    InboxEvent.subject == order_ref,
                    InboxEvent.status == DEFERRED,
                )
                .order_by(InboxEvent.event_time)
            )
        )
        if not ids:
            return []
        uow.session.execute(
            update(InboxEvent)
            .where(InboxEvent.tenant_id == tenant_id, InboxEvent.id.in_(ids))
            .values(status=InboxStatus.PENDING)
        )
        uow.commit()
    return process_many(sessions, tenant_id=tenant_id, inbox_ids=ids, clock=clock)
