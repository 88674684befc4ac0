"""Verify a tenant's stored audit chain end to end."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from orderops.audit.chain import VerifyResult, verify_chain
from orderops.storage.uow import UnitOfWork


def verify_tenant(sessions: sessionmaker[Session], *, tenant_id: str) -> VerifyResult:
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        head = uow.audit.head()
        return verify_chain(
            uow.audit.records(),
            head_seq=head.seq if head else None,
            head_hash=head.hash if head else None,
        )
