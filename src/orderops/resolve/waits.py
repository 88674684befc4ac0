"""Records waiting for a key no entity has yet.

A payment that names only its checkout token may arrive before Shopify creates the order;
a dispute may name a charge before anyone said whose charge it is. Such a record is
neither an error nor a dead letter: its inbox row becomes "deferred" with one wait per
alias it could be found by, and goes back to pending, in the same transaction, as soon
as one of those aliases is registered, or the entity it names is tied to an order. The
pipeline's drain then takes it in replay order with everything else that is pending.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select, update

from orderops.storage.repositories.intake import InboxStatus
from orderops.storage.repositories.resolve import ResolveRepository
from orderops.storage.tables import InboxEvent
from orderops.storage.uow import UnitOfWork

DEFERRED = "deferred"
"""The inbox status of a row waiting for an alias (``alias_waits`` says which)."""


def defer(uow: UnitOfWork, row: InboxEvent, aliases: Iterable[str], *, now: datetime) -> None:
    """Park the row until one of ``aliases`` appears (none: until a person links it)."""
    repo = ResolveRepository(uow.session, uow.tenant_id)
    for alias in sorted(set(aliases)):
        repo.add_wait(inbox_id=row.id, alias=alias, now=now)
    row.status = DEFERRED


def release(uow: UnitOfWork, aliases: Iterable[str]) -> list[str]:
    """Send every row waiting on any of ``aliases`` back to pending; their inbox ids.

    All of a released row's waits go with it: when it runs again it waits anew on
    whatever it still cannot find.
    """
    repo = ResolveRepository(uow.session, uow.tenant_id)
    waiting = sorted(repo.waiting_on(aliases))
    if not waiting:
        return []
    deferred = sorted(
        uow.session.scalars(
            select(InboxEvent.id).where(
                InboxEvent.tenant_id == uow.tenant_id,
                InboxEvent.id.in_(waiting),
                InboxEvent.status == DEFERRED,
            )
        )
    )
    if deferred:
        uow.session.execute(
            update(InboxEvent)
            .where(InboxEvent.tenant_id == uow.tenant_id, InboxEvent.id.in_(deferred))
            .values(status=InboxStatus.PENDING)
            .execution_options(synchronize_session="fetch")
        )
    repo.clear_waits(waiting)
    return deferred
