"""Queues and who works them: created on first use, configured by admins, always audited.

Every tenant starts with the four standard queues (ops, support, fraud, finance), each
escalating to ``leads``; a routing rule that names any other queue creates it as a
custom queue on first use, so routing never fails for want of a queue.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from orderops.domain.errors import NotFound
from orderops.domain.routing import QueueKind, parse_priority
from orderops.storage.repositories.queues import queues_of
from orderops.storage.tables.queues import Queue, QueueMember
from orderops.storage.uow import UnitOfWork

LEADS_QUEUE = "leads"

STANDARD_QUEUES: dict[str, tuple[QueueKind, str | None]] = {
    QueueKind.OPS: (QueueKind.OPS, LEADS_QUEUE),
    QueueKind.SUPPORT: (QueueKind.SUPPORT, LEADS_QUEUE),
    QueueKind.FRAUD: (QueueKind.FRAUD, LEADS_QUEUE),
    QueueKind.FINANCE: (QueueKind.FINANCE, LEADS_QUEUE),
    LEADS_QUEUE: (QueueKind.CUSTOM, None),
}


def ensure_queue(uow: UnitOfWork, name: str, *, now: datetime) -> Queue:
    """The tenant's queue called ``name``, created with its standard settings if absent."""
    repo = queues_of(uow)
    existing = repo.get(name)
    if existing is not None:
        return existing
    kind, escalation = STANDARD_QUEUES.get(name, (QueueKind.CUSTOM, LEADS_QUEUE))
    queue = Queue(name=name, kind=kind, escalation_queue=escalation, sla_minutes={}, created_at=now)
    try:
        with uow.session.begin_nested():
            repo.add(queue)
    except IntegrityError:  # a concurrent transaction created it first: use theirs
        racer = repo.get(name)
        assert racer is not None
        return racer
    uow.audit.append(
        at=now,
        actor="system",
        action="queue.created",
        entity_type="queue",
        entity_id=name,
        data={"kind": kind, "escalation_queue": escalation},
    )
    return queue


def configure_queue(
    uow: UnitOfWork,
    *,
    name: str,
    actor: str,
    now: datetime,
    kind: QueueKind | None = None,
    escalation_queue: str | None = None,
    sla_minutes: Mapping[str, int] | None = None,
) -> Queue:
    """Set a queue's kind, escalation target and per-priority SLA overrides (in minutes)."""
    if sla_minutes is not None:
        try:  # legacy words (urgent, high, ...) are stored under their P1-P4 names
            sla_minutes = {str(parse_priority(k)): m for k, m in sla_minutes.items()}
        except ValueError as exc:
            raise ValueError(f"SLA overrides need known priorities: {exc}") from exc
        if any(m <= 0 for m in sla_minutes.values()):
            raise ValueError(f"SLA overrides need positive minutes: {sla_minutes}")
    if escalation_queue == name:
        raise ValueError(f"queue {name} cannot escalate to itself")
    queue = ensure_queue(uow, name, now=now)
    if kind is not None:
        queue.kind = kind
    if escalation_queue is not None:
        ensure_queue(uow, escalation_queue, now=now)
        queue.escalation_queue = escalation_queue
    if sla_minutes is not None:
        queue.sla_minutes = dict(sla_minutes)
    uow.audit.append(
        at=now,
        actor=actor,
        action="queue.configured",
        entity_type="queue",
        entity_id=name,
        data={
            "kind": queue.kind,
            "escalation_queue": queue.escalation_queue,
            "sla_minutes": queue.sla_minutes,
        },
    )
    return queue


def add_member(uow: UnitOfWork, *, queue: str, member: str, actor: str, now: datetime) -> bool:
    """Put ``member`` on the queue's roster; False when already there."""
    row = ensure_queue(uow, queue, now=now)
    repo = queues_of(uow)
    if repo.member(row, member) is not None:
        return False
    repo.add_member(QueueMember(queue_id=row.id, member=member, added_at=now))
    uow.audit.append(
        at=now,
        actor=actor,
        action="queue.member_added",
        entity_type="queue",
        entity_id=queue,
        data={"member": member},
    )
    return True


def remove_member(uow: UnitOfWork, *, queue: str, member: str, actor: str, now: datetime) -> None:
    repo = queues_of(uow)
    row = repo.get(queue)
    found = repo.member(row, member) if row is not None else None
    if found is None:
        raise NotFound(f"{member} is not a member of queue {queue}")
    repo.remove_member(found)
    uow.audit.append(
        at=now,
        actor=actor,
        action="queue.member_removed",
        entity_type="queue",
        entity_id=queue,
        data={"member": member},
    )
