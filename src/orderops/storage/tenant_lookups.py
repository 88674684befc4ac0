"""The reads that cross tenants: few, named, and answering tenant ids or counts, never rows.

Everything else runs in a unit of work bound to one tenant. These must find a tenant
before one is known (a webhook URL's token, an API key, a console cookie) or look across
tenants (which tenants have events waiting; the lag gauges). On PostgreSQL each is a
SECURITY DEFINER function created by migration 0021, because the application's role sees
no row of a tenant it is not bound to; on SQLite, which has no row-level security, each
is the same question as a plain query. A caller that needs a row then reads it in a unit
of work bound to the tenant found, under that tenant's guard and policies.

A key is unique per tenant only (migration 0020), so a key two tenants share names
neither: ``None``, as for a key nobody has.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

from orderops.storage.tables import ApiKey, InboxEvent, SourceConnection
from orderops.storage.tables.console import ConsoleSession


def tenant_of_endpoint(sessions: sessionmaker[Session], endpoint_token: str) -> str | None:
    """The tenant whose webhook URL carries this token."""
    return _one_tenant(
        sessions, "orderops_endpoint_tenant", SourceConnection.endpoint_token, endpoint_token
    )


def tenant_of_api_key(sessions: sessionmaker[Session], key_hash: str) -> str | None:
    """The tenant of the API key with this hash (revoked or not: the caller decides)."""
    return _one_tenant(sessions, "orderops_api_key_tenant", ApiKey.key_hash, key_hash)


def tenant_of_console_session(sessions: sessionmaker[Session], token_hash: str) -> str | None:
    """The tenant of the console session with this token hash (live or not)."""
    return _one_tenant(
        sessions, "orderops_console_session_tenant", ConsoleSession.token_hash, token_hash
    )


def tenants_with_inbox_status(sessions: sessionmaker[Session], status: str) -> list[str]:
    """Tenants with inbox rows in this status, in id order."""
    with sessions() as session:
        if _on_postgresql(session):
            query = text("SELECT tenant FROM orderops_inbox_tenants(:status)")
            return [str(tenant) for tenant in session.scalars(query, {"status": str(status)})]
        return list(
            session.scalars(
                select(InboxEvent.tenant_id)
                .where(InboxEvent.status == status)
                .distinct()
                .order_by(InboxEvent.tenant_id)
            )
        )


def inbox_waiting(
    session: Session, statuses: Sequence[str], only: str | None
) -> list[tuple[str, str, int, datetime | None]]:
    """PostgreSQL: per tenant (all, or ``only``) and status, the inbox rows in that status
    and the oldest ``received_at`` among them (``workflow/lag.py`` reads SQLite itself)."""
    query = text(
        "SELECT tenant, state, waiting, oldest "
        "FROM orderops_inbox_waiting(CAST(:statuses AS text[]), CAST(:only AS text))"
    )
    rows = session.execute(query, {"statuses": [str(s) for s in statuses], "only": only})
    return [(str(tenant), str(status), int(n), oldest) for tenant, status, n, oldest in rows]


def outbox_due(
    session: Session, *, claimable: Sequence[str], in_flight: str, now: datetime, only: str | None
) -> list[tuple[str, int, datetime | None]]:
    """PostgreSQL: per tenant, the outbox rows due at ``now`` and the longest-due one's
    due time (as ``workflow/lag.py`` counts them on SQLite)."""
    query = text(
        "SELECT tenant, due, oldest FROM orderops_outbox_due("
        "CAST(:claimable AS text[]), CAST(:in_flight AS text), CAST(:now AS timestamptz), "
        "CAST(:only AS text))"
    )
    parameters = {
        "claimable": [str(s) for s in claimable],
        "in_flight": str(in_flight),
        "now": now,
        "only": only,
    }
    rows = session.execute(query, parameters)
    return [(str(tenant), int(due), oldest) for tenant, due, oldest in rows]


def _one_tenant(
    sessions: sessionmaker[Session],
    function: str,
    column: InstrumentedAttribute[str],
    value: str,
) -> str | None:
    with sessions() as session:
        if _on_postgresql(session):
            found = session.scalar(select(getattr(func, function)(value)))
        else:
            table = column.class_
            tenants = select(table.tenant_id).where(column == value).distinct().limit(2)
            names = list(session.scalars(tenants))
            found = names[0] if len(names) == 1 else None
    return None if found is None else str(found)


def _on_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"
