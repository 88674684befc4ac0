"""What a scoped queue shows: only its cases in the queue's scope.

A queue limited to, say, region DE lists (and counts) only the cases routed to it that
sit in DE; a case routed there from elsewhere still shows in the unfiltered case list
and in the queue of whoever may see it. The principal's own scope applies on top, through
the unit of work's guard.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from orderops.domain.scopes import AccessScope
from orderops.storage.scope_criteria import explicit
from orderops.storage.tables import Case
from orderops.storage.tables.queues import Queue


def queue_scopes(
    session: Session, tenant_id: str, names: Sequence[str] | None = None
) -> dict[str, AccessScope]:
    """The scoped queues among ``names`` (every queue when None) and their scopes."""
    query = select(Queue.name, Queue.scope).where(
        Queue.tenant_id == tenant_id, Queue.scope.is_not(None)
    )
    if names is not None:
        query = query.where(Queue.name.in_(list(names)))
    found = {str(name): AccessScope.from_json(raw) for name, raw in session.execute(query)}
    return {name: scope for name, scope in found.items() if not scope.unrestricted}


def shown_in_queues(scopes: dict[str, AccessScope]) -> ColumnElement[bool] | None:
    """Cases of a scoped queue only when in its scope; None when no queue is scoped."""
    if not scopes:
        return None
    return or_(
        Case.queue.is_(None),
        Case.queue.not_in(sorted(scopes)),
        *(
            and_(Case.queue == name, explicit(scope, lambda column: getattr(Case, column)))
            for name, scope in sorted(scopes.items())
        ),
    )
