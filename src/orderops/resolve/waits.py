"""Records waiting for a key no entity has yet.

A payment that names only its checkout token may arrive before Shopify creates the order;
a dispute may name a charge before anyone said whose charge it is. Such a record is
neither an error nor a dead letter: its inbox row becomes "deferred" with one wait per
alias it could be found by, and goes back to pending, in the same transaction, as soon
as one of those aliases is registered, or the entity it names is tied to an order. The
pipeline's drain then takes it in replay order with everything else that is pending.

While a chunk is processed, who waits on which alias is read once for the keys its events
name and kept with the chunk's rows (``WAITS``), updated by ``defer`` and ``release``,
which write every wait.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update

from orderops.storage.repositories.intake import InboxStatus
from orderops.storage.repositories.loaded import loaded_rows
from orderops.storage.repositories.prefetch import ChunkReads
from orderops.storage.repositories.resolve import ResolveRepository
from orderops.storage.tables import AliasWait, InboxEvent
from orderops.storage.uow import UnitOfWork

DEFERRED = "deferred"
"""The inbox status of a row waiting for an alias (``alias_waits`` says which)."""

WAITS = "waits"
"""The chunk's memo: alias -> inbox ids of the rows waiting on it."""


def _known(uow: UnitOfWork) -> dict[str, set[str]] | None:
    loaded = loaded_rows(uow.session)
    if loaded is None or loaded.tenant_id != uow.tenant_id:
        return None
    known: dict[str, set[str]] = loaded.values().setdefault(WAITS, {})
    return known


def learn_waits(uow: UnitOfWork, aliases: Iterable[str]) -> None:
    """Read who waits on these aliases at once, for the rest of the chunk."""
    loaded = loaded_rows(uow.session)
    known = _known(uow)
    if loaded is None or known is None:
        return
    wanted = set(aliases) - set(known)
    if wanted:
        known.update(ChunkReads(uow.session, loaded).waits(wanted))


def _waiting_on(uow: UnitOfWork, aliases: Iterable[str]) -> set[str]:
    wanted = set(aliases)
    known = _known(uow)
    if known is None:
        return ResolveRepository(uow.session, uow.tenant_id).waiting_on(wanted)
    learn_waits(uow, wanted)
    return set().union(*(known[alias] for alias in wanted))


def defer(uow: UnitOfWork, row: InboxEvent, aliases: Iterable[str], *, now: datetime) -> None:
    """Park the row until one of ``aliases`` appears (none: until a person links it)."""
    repo = ResolveRepository(uow.session, uow.tenant_id)
    known = _known(uow)
    for alias in sorted(set(aliases)):
        repo.add_wait(inbox_id=row.id, alias=alias, now=now)
        if known is not None and alias in known:
            known[alias].add(row.id)
    row.status = DEFERRED


def release(uow: UnitOfWork, aliases: Iterable[str]) -> list[str]:
    """Send every row waiting on any of ``aliases`` back to pending; their inbox ids.

    All of a released row's waits go with it: when it runs again it waits anew on
    whatever it still cannot find.
    """
    repo = ResolveRepository(uow.session, uow.tenant_id)
    waiting = sorted(_waiting_on(uow, aliases))
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
    if (known := _known(uow)) is not None:
        gone = set(waiting)
        for inbox_ids in known.values():
            inbox_ids -= gone
    return deferred


@dataclass(frozen=True)
class Waiting:
    inbox_id: str
    source: str
    type: str
    event_time: datetime
    received_at: datetime
    aliases: tuple[str, ...]
    """Empty: it waits for a person (a suggestion), not for a key."""


def waiting(uow: UnitOfWork, *, limit: int = 100) -> tuple[int, list[Waiting]]:
    """How many records wait, and the oldest ``limit`` of them with the keys they wait for:
    what ops reads to see records that never found their order (nothing is dropped)."""
    tenant = uow.tenant_id
    deferred = (InboxEvent.tenant_id == tenant) & (InboxEvent.status == DEFERRED)
    total = uow.session.scalar(select(func.count()).select_from(InboxEvent).where(deferred))
    rows = uow.session.scalars(
        select(InboxEvent)
        .where(deferred)
        .order_by(InboxEvent.event_time, InboxEvent.id)
        .limit(limit)
    ).all()
    keys: dict[str, list[str]] = {row.id: [] for row in rows}
    if keys:
        for inbox_id, alias in uow.session.execute(
            select(AliasWait.inbox_id, AliasWait.alias)
            .where(AliasWait.tenant_id == tenant, AliasWait.inbox_id.in_(list(keys)))
            .order_by(AliasWait.alias)
        ):
            keys[inbox_id].append(alias)
    return int(total or 0), [
        Waiting(r.id, r.source, r.type, r.event_time, r.received_at, tuple(keys[r.id]))
        for r in rows
    ]
