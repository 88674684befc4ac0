"""The unit of work: one transaction, bound to one tenant, that rolls back unless committed.

A state change, its audit records and its outbox rows are written through the same
unit of work, so they commit together or not at all.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from orderops.storage.engine import SQLITE_BEGIN_OPTION
from orderops.storage.repositories.audit import AuditRepository
from orderops.storage.repositories.cases import CaseRepository
from orderops.storage.repositories.commerce import CommerceRepository
from orderops.storage.repositories.intake import DeadLetterRepository, InboxRepository
from orderops.storage.tables import Tenant


class UnitOfWork:
    """Use as ``with UnitOfWork(factory, tenant_id=t) as uow: ...; uow.commit()``."""

    def __init__(
        self, session_factory: sessionmaker[Session], *, tenant_id: str, write: bool = True
    ) -> None:
        self._factory = session_factory
        self.tenant_id = tenant_id
        self._write = write

    def __enter__(self) -> Self:
        self.session = self._factory()
        options = {SQLITE_BEGIN_OPTION: "IMMEDIATE"} if self._write else {}
        connection = self.session.connection(execution_options=options)
        if connection.dialect.name == "postgresql":
            # Row-level security policies read this setting; it lives only for this transaction.
            connection.execute(
                text("SELECT set_config('orderops.tenant_id', :tenant, true)"),
                {"tenant": self.tenant_id},
            )
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
    """All tenants, for processes (worker sweeps) that serve every tenant in turn."""
    with session_factory() as session:
        return list(session.scalars(select(Tenant.id).order_by(Tenant.id)))
