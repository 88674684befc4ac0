"""Processing stored inbox events: project, detect, open or resolve cases.

Each event is processed in its own transaction. A failure rolls back that event only;
it stays in the inbox (pending, then failed after ``MAX_ATTEMPTS``) with the error, so
nothing is lost and the worker retries it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

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

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
DEFERRED = "deferred"


def process_event(
    sessions: sessionmaker[Session], *, tenant_id: str, inbox_id: str, clock: Clock
) -> list[CaseEvent]:
    try:
        changes, created_order = _process(
            sessions, tenant_id=tenant_id, inbox_id=inbox_id, clock=clock
        )
    except Exception as exc:
        log.exception("processing inbox event %s failed", inbox_id)
        _record_failure(sessions, tenant_id=tenant_id, inbox_id=inbox_id, error=repr(exc))
        return []
    if created_order:
        changes += _release_deferred(
            sessions, tenant_id=tenant_id, order_ref=created_order, clock=clock
        )
    return changes


def process_many(
    sessions: sessionmaker[Session], *, tenant_id: str, inbox_ids: Iterable[str], clock: Clock
) -> list[CaseEvent]:
    changes: list[CaseEvent] = []
    for inbox_id in inbox_ids:
        changes += process_event(sessions, tenant_id=tenant_id, inbox_id=inbox_id, clock=clock)
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


def _process(
    sessions: sessionmaker[Session], *, tenant_id: str, inbox_id: str, clock: Clock
) -> tuple[list[CaseEvent], str | None]:
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        row = uow.inbox.claim(inbox_id)
        if row is None:
            return [], None
        now = clock.now()
        event = parse_event(row.envelope, tenant_id=tenant_id)
        try:
            projection = project(uow.commerce, event, inbox_id=row.id, now=now)
        except OrderNotYetKnown:
            row.status = DEFERRED
            uow.commit()
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
            changes += evaluate_order(uow, order, now=now, from_sweep=False, inbox_id=row.id)
        row.status, row.processed_at, row.error = InboxStatus.PROCESSED, now, None
        row.attempts += 1
        uow.commit()
        return changes, projection.created_order


def _record_failure(
    sessions: sessionmaker[Session], *, tenant_id: str, inbox_id: str, error: str
) -> None:
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        row = uow.inbox.get(inbox_id)
        if row is not None:
            row.attempts += 1
            row.error = error[:4000]
            row.status = InboxStatus.FAILED if row.attempts >= MAX_ATTEMPTS else InboxStatus.PENDING
            uow.commit()


def _release_deferred(
    sessions: sessionmaker[Session], *, tenant_id: str, order_ref: str, clock: Clock
) -> list[CaseEvent]:
    """Events that waited for this order (say, a cancellation that overtook it) go again."""
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        ids = list(
            uow.session.scalars(
                select(InboxEvent.id).where(
                    InboxEvent.tenant_id == tenant_id,
                    InboxEvent.subject == order_ref,
                    InboxEvent.status == DEFERRED,
                )
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
