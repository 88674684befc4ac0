"""How far processing lags behind acceptance, per tenant: the inbox and the outbox.

Accepting an event only stores it; workers process it later, and deliver writebacks
later still. So a busy or stuck worker never shows as slow answers at the door: it shows
here, as rows piling up (depth) and as the age of the oldest row nobody has taken yet.
Ages are measured from ``received_at`` (time spent waiting in the inbox), never from the
event's own time, which may be days old when a store replays history.

Meant to be read at every metrics scrape, so the cost must not grow with the history
(the processed rows, the bulk of the inbox): two statements whatever the number of
tenants, each reading only rows that still wait. In the inbox each (tenant, status) is a
range of ``ix_inbox_tenant_status_received``, its count and oldest ``received_at`` read
from the index alone; the outbox's due rows are a range of ``ix_outbox_status_next_attempt``.

Cross-tenant on purpose (the metrics scrape is an operator's view): on PostgreSQL, where
row-level security hides every tenant's rows from a session bound to none, through the
lookup functions of ``storage/tenant_lookups.py`` (the same statements, as SQL functions);
``tenant_lag`` is the one-tenant form for a tenant-bound unit of work (the API and the CLI).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, and_, case, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from orderops.resolve.waits import DEFERRED
from orderops.storage.repositories.intake import InboxStatus
from orderops.storage.tables import InboxEvent, OutboxMessage, Tenant
from orderops.storage.tenant_guard import bound_tenant
from orderops.storage.tenant_lookups import inbox_waiting, outbox_due
from orderops.storage.uow import UnitOfWork
from orderops.writeback.states import CLAIMABLE, OutboxStatus


@dataclass(frozen=True)
class TenantLag:
    """One tenant's backlog at ``now``. An age is ``None`` when nothing waits."""

    tenant_id: str
    pending: int
    """Accepted, not yet processed: the workers' queue."""
    deferred: int
    """Waiting for a key no entity has yet (``resolve/waits.py``): normal in small numbers,
    released by later events, not by workers catching up."""
    failed: int
    """Gave up after every attempt; each has a dead letter (``orderops deadletters``)."""
    oldest_pending_age_seconds: float | None
    outbox_due: int
    """Writebacks a worker should be delivering now (retries still in backoff excluded)."""
    oldest_due_age_seconds: float | None
    """How long the longest-due writeback has been due."""

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def inbox_lag(
    sessions: sessionmaker[Session], *, now: datetime, tenant_id: str | None = None
) -> list[TenantLag]:
    """Every tenant's lag (or one tenant's), ordered by tenant id; tenants with nothing
    waiting are included with zeros, so a dashboard shows them as healthy, not missing."""
    with sessions() as session:
        return _measure(session, now=now, only=tenant_id)


def tenant_lag(uow: UnitOfWork, *, now: datetime) -> TenantLag:
    """The unit of work's own tenant, read inside it (row-level security applies)."""
    measured = _measure(uow.session, now=now, only=uow.tenant_id)
    return measured[0] if measured else _empty(uow.tenant_id)


def _measure(session: Session, *, now: datetime, only: str | None) -> list[TenantLag]:
    outbox = _outbox_due(session, now, only)
    measured = []
    for tenant, pending, oldest_pending, deferred, failed in _inbox_waiting(session, only):
        due, oldest_due = outbox.get(tenant, (0, None))
        measured.append(
            TenantLag(
                tenant_id=tenant,
                pending=pending,
                deferred=deferred,
                failed=failed,
                oldest_pending_age_seconds=_age(now, oldest_pending),
                outbox_due=due,
                oldest_due_age_seconds=_age(now, oldest_due),
            )
        )
    return measured


def _inbox_waiting(
    session: Session, only: str | None
) -> list[tuple[str, int, datetime | None, int, int]]:
    """Per tenant: pending, oldest pending ``received_at``, deferred, failed.

    One row per tenant, each figure a subquery on one (tenant, status) of the index. Not
    a ``GROUP BY`` over the inbox joined to tenants: that is the same work only when the
    planner loops over tenants, which PostgreSQL does only while the tenants table has
    statistics (a table that small rarely gets them from autovacuum); otherwise it scans
    the whole inbox (benchmarks/lag_query.py). A subquery per figure has no other plan.
    """
    if _across_tenants(session):
        return _inbox_waiting_through_lookup(session, only)

    def of(status: str, figure: ColumnElement[Any]) -> ScalarSelect[Any]:
        return (
            select(figure)
            .where(InboxEvent.tenant_id == Tenant.id, InboxEvent.status == status)
            .scalar_subquery()
        )

    query = select(
        Tenant.id,
        of(InboxStatus.PENDING, func.count()),
        of(InboxStatus.PENDING, func.min(InboxEvent.received_at)),
        of(DEFERRED, func.count()),
        of(InboxStatus.FAILED, func.count()),
    ).order_by(Tenant.id)
    if only is not None:
        query = query.where(Tenant.id == only)
    return [
        (tenant, int(pending), oldest, int(deferred), int(failed))
        for tenant, pending, oldest, deferred, failed in session.execute(query)
    ]


def _across_tenants(session: Session) -> bool:
    """A session bound to no tenant, on PostgreSQL: row-level security shows it no inbox or
    outbox row, so the figures come from the lookup functions (``storage/tenant_lookups.py``)."""
    return bound_tenant(session) is None and session.get_bind().dialect.name == "postgresql"


def _inbox_waiting_through_lookup(
    session: Session, only: str | None
) -> list[tuple[str, int, datetime | None, int, int]]:
    statuses = (InboxStatus.PENDING, DEFERRED, InboxStatus.FAILED)
    figures: dict[str, dict[str, tuple[int, datetime | None]]] = {}
    for tenant, status, waiting, oldest in inbox_waiting(session, statuses, only):
        figures.setdefault(tenant, {})[status] = (waiting, oldest)
    return [
        (
            tenant,
            of[InboxStatus.PENDING][0],
            of[InboxStatus.PENDING][1],
            of[DEFERRED][0],
            of[InboxStatus.FAILED][0],
        )
        for tenant, of in figures.items()
    ]


Counted = tuple[int, datetime | None]


def _outbox_due(session: Session, now: datetime, only: str | None) -> dict[str, Counted]:
    """Due exactly as ``writeback.claims.claim_due`` leases: claimable and its time has
    come, or in flight under a lease that has run out (its worker died)."""
    if _across_tenants(session):
        rows = outbox_due(
            session,
            claimable=sorted(CLAIMABLE),
            in_flight=OutboxStatus.IN_FLIGHT,
            now=now,
            only=only,
        )
        return {tenant: (count, oldest) for tenant, count, oldest in rows}
    claimable = and_(
        OutboxMessage.status.in_([str(s) for s in CLAIMABLE]),
        OutboxMessage.next_attempt_at <= now,
    )
    abandoned = and_(
        OutboxMessage.status == str(OutboxStatus.IN_FLIGHT),
        OutboxMessage.leased_until <= now,
    )
    due_since = case(
        (OutboxMessage.status == str(OutboxStatus.IN_FLIGHT), OutboxMessage.leased_until),
        else_=OutboxMessage.next_attempt_at,
    )
    query = (
        select(OutboxMessage.tenant_id, func.count(), func.min(due_since))
        .where(or_(claimable, abandoned))
        .group_by(OutboxMessage.tenant_id)
    )
    if only is not None:
        query = query.where(OutboxMessage.tenant_id == only)
    return {tenant: (int(count), oldest) for tenant, count, oldest in session.execute(query)}


def _age(now: datetime, since: datetime | None) -> float | None:
    # A row stamped after ``now`` (another process's clock) is waiting, not from the future.
    return None if since is None else max(0.0, (now - since).total_seconds())


def _empty(tenant_id: str) -> TenantLag:
    return TenantLag(tenant_id, 0, 0, 0, None, 0, None)
