"""The unit of work: one transaction, bound to one tenant, that rolls back unless committed.

A state change, its audit records and its outbox rows are written through the same
unit of work, so they commit together or not at all.

A unit of work acting for a principal limited below the tenant carries the principal's
``scope``: the guard then shows its ORM statements only the orders and cases (and what
hangs off them) in that scope. A Core statement on those tables would bypass it and must
name ``uow.scope`` itself (``storage/scope_criteria.explicit``); no repository writes one
today. Processes acting for no one (the worker, sweeps, the CLI) leave it unrestricted.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from orderops.domain.scopes import UNRESTRICTED, AccessScope
from orderops.storage.engine import SQLITE_BEGIN_OPTION
from orderops.storage.repositories.audit import AuditRepository
from orderops.storage.repositories.cases import CaseRepository
from orderops.storage.repositories.commerce import CommerceRepository
from orderops.storage.repositories.intake import DeadLetterRepository, InboxRepository
from orderops.storage.tables import Tenant
from orderops.storage.tenant_guard import bind_scope, bind_tenant, install


class UnitOfWork:
    """Use as ``with UnitOfWork(factory, tenant_id=t) as uow: ...; uow.commit()``."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        tenant_id: str,
        write: bool = True,
        scope: AccessScope = UNRESTRICTED,
    ) -> None:
        self._factory = session_factory
        self.tenant_id = tenant_id
        self.scope = scope
        self._write = write

    def __enter__(self) -> Self:
        install(self._factory)  # a no-op for factories made by make_session_factory
        self.session = self._factory()
        # Before the first statement: the guard filters ORM reads and refuses foreign
        # writes, and each transaction begins by naming the tenant to PostgreSQL's
        # row-level security (storage/tenant_guard.py).
        bind_tenant(self.session, self.tenant_id)
        bind_scope(self.session, self.scope)
        options = {SQLITE_BEGIN_OPTION: "IMMEDIATE"} if self._write else {}
        self.session.connection(execution_options=options)
        self.inbox = InboxRepository(self.session, self.tenant_id)
        self.dead_letters = DeadLetterRepository(self.session, self.tenant_id)
        self.commerce = CommerceRepository(self.session, self.tenant_id)
        self.cases = CaseRepository(self.session, self.tenant_id)
        self.audit = AuditRepository(self.session, self.tenant_id)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.session.rollback()
        self.session.close()

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()


def tenant_ids(session_factory: sessionmaker[Session]) -> list[str]:
    """All tenants, for processes (worker sweeps) that serve every tenant in turn.

    ``tenants`` is the registry of tenants, not a tenant-owned table: it has no row-level
    security, so this plain session reads it as the app role."""
    with session_factory() as session:
        return list(session.scalars(select(Tenant.id).order_by(Tenant.id)))
