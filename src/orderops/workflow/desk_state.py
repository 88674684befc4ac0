"""What the desk holds right now, per tenant, for the gauges read at each metrics scrape.

Cases open, opened and resolved per exception type, open cases past their SLA, actions
waiting for an approver, and outbox messages not yet concluded. A gauge the workers set
would go stale when they stop (and would count one process only); these are counted by
the database, so they are right whichever process answers the scrape and however many
workers run.

Read one tenant at a time in a read-only unit of work, so PostgreSQL's row-level
security applies as everywhere else (no lookup function needed), at a handful of indexed
statements per tenant: the case counts use ``ix_cases_tenant_type_opened`` and
``ix_cases_tenant_status_opened``, the approvals ``ix_actions_tenant_status_expires``,
the outbox ``ix_outbox_tenant_system_status`` (delivered and cancelled rows, the bulk of
the outbox's history, are never read). Skipped whole past ``max_tenants``: the series
would no longer be few (``telemetry/desk_metrics.py`` then says so).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from orderops.domain.actions import ActionStatus
from orderops.domain.cases import CLOSED_STATUSES, CaseStatus
from orderops.domain.jeopardy import Jeopardy
from orderops.storage.tables import Action, Case, OutboxMessage
from orderops.storage.uow import UnitOfWork, tenant_ids
from orderops.telemetry.desk_metrics import TenantDesk
from orderops.writeback.states import OPEN, OutboxStatus

WATCHED_OUTBOX = (*sorted(OPEN), OutboxStatus.CONFLICT, OutboxStatus.FAILED)
"""Outbox statuses counted: those still open, and those an operator must look at."""

_CLOSED = [str(s) for s in CLOSED_STATUSES]


def desk_state(
    sessions: sessionmaker[Session], *, now: datetime, max_tenants: int
) -> list[TenantDesk] | None:
    """Every tenant's figures, ordered by tenant id; None past ``max_tenants`` tenants."""
    tenants = tenant_ids(sessions)
    if len(tenants) > max_tenants:
        return None
    found = []
    for tenant in tenants:
        with UnitOfWork(sessions, tenant_id=tenant, write=False) as uow:
            found.append(_measure(uow.session, tenant, now))
    return found


def _measure(session: Session, tenant: str, now: datetime) -> TenantDesk:
    mine = Case.tenant_id == tenant
    opened = dict(
        session.execute(
            select(Case.exception_type, func.count()).where(mine).group_by(Case.exception_type)
        ).all()
    )
    resolved = dict(
        session.execute(
            select(Case.exception_type, func.count())
            .where(mine, Case.status == str(CaseStatus.RESOLVED))
            .group_by(Case.exception_type)
        ).all()
    )
    open_cases: dict[str, int] = {}
    breached: dict[str, int] = {}
    open_rows = session.execute(
        select(Case.exception_type, Case.jeopardy, func.count())
        .where(mine, Case.status.not_in(_CLOSED))
        .group_by(Case.exception_type, Case.jeopardy)
    ).all()
    for kind, jeopardy, count in open_rows:
        open_cases[kind] = open_cases.get(kind, 0) + count
        if jeopardy == Jeopardy.BREACHED:
            breached[kind] = breached.get(kind, 0) + count
    waiting, oldest = session.execute(
        select(func.count(), func.min(Action.created_at)).where(
            Action.tenant_id == tenant, Action.status == str(ActionStatus.AWAITING_APPROVAL)
        )
    ).one()
    outbox_rows = session.execute(
        select(OutboxMessage.status, func.count(), func.max(OutboxMessage.attempts))
        .where(
            OutboxMessage.tenant_id == tenant,
            OutboxMessage.status.in_([str(s) for s in WATCHED_OUTBOX]),
        )
        .group_by(OutboxMessage.status)
    ).all()
    outbox = {str(s): 0 for s in WATCHED_OUTBOX}
    most_attempts = 0
    for status, count, attempts in outbox_rows:
        outbox[status] = count
        if status in OPEN:
            most_attempts = max(most_attempts, attempts or 0)
    return TenantDesk(
        tenant_id=tenant,
        cases_open=open_cases,
        cases_opened=opened,
        cases_resolved=resolved,
        sla_breached=breached,
        approvals_waiting=int(waiting),
        oldest_approval_age_seconds=_age(now, oldest),
        outbox=outbox,
        outbox_most_attempts=most_attempts,
    )


def _age(now: datetime, since: datetime | None) -> float | None:
    if since is None:
        return None
    if since.tzinfo is None:  # SQLite hands back naive UTC
        since = since.replace(tzinfo=now.tzinfo)
    return max(0.0, (now - since).total_seconds())
