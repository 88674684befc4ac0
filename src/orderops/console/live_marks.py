"""Change markers for the console's live pages: a short hash that changes when what a
queue page or a case page shows changes, read cheaply enough to ask every second or two.

A queue's marker is one aggregate (count, latest update, sum of versions) over its open
cases in the viewer's scope, on the ``(tenant_id, queue, status)`` index: a new case, a
closed one and any change to one (every change bumps its version) move it. A case's marker
is its version and status, its timeline's length and its writebacks' states (the case
page's delivery column), each an indexed read. Reads go through the caller's unit of work,
so the scope it carries filters them as it filters the pages.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import func, select, true

from orderops.decide.actions import get_case
from orderops.domain.cases import CLOSED_STATUSES
from orderops.storage.repositories.queue_scopes import queue_scopes, shown_in_queues
from orderops.storage.tables import Case, CaseTimelineEntry, OutboxMessage
from orderops.storage.uow import UnitOfWork


def queue_marker(uow: UnitOfWork, name: str) -> str:
    shown = shown_in_queues(queue_scopes(uow.session, uow.tenant_id, [name]))
    row = uow.session.execute(
        select(func.count(), func.max(Case.updated_at), func.sum(Case.version)).where(
            Case.tenant_id == uow.tenant_id,
            Case.queue == name,
            Case.status.not_in([str(s) for s in CLOSED_STATUSES]),
            true() if shown is None else shown,
        )
    ).one()
    return stamp(*row)


def case_marker(uow: UnitOfWork, case_id: str) -> str:
    """Raises ``NotFound`` for a case the unit of work cannot see (other tenant, scope)."""
    case = get_case(uow, case_id)
    entries = uow.session.scalar(
        select(func.count()).where(
            CaseTimelineEntry.tenant_id == uow.tenant_id, CaseTimelineEntry.case_id == case_id
        )
    )
    effects = uow.session.execute(
        select(OutboxMessage.id, OutboxMessage.status, OutboxMessage.attempts)
        .where(OutboxMessage.tenant_id == uow.tenant_id, OutboxMessage.case_id == case_id)
        .order_by(OutboxMessage.id)
    ).all()
    return stamp(case.version, case.status, entries, [tuple(e) for e in effects])


def marker_of(uow: UnitOfWork, *, queue: str | None, case_id: str | None) -> str:
    """The marker of a queue, a case, or both (a case page that also follows its queue)."""
    parts = (
        queue_marker(uow, queue) if queue is not None else "",
        case_marker(uow, case_id) if case_id is not None else "",
    )
    return stamp(*parts)


def stamp(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]
