"""Verify a tenant's stored audit chain end to end, with the key bound to the sessions."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from orderops.audit.chain import VerifyResult, verify_chain
from orderops.audit.keys import audit_key_of
from orderops.storage.uow import UnitOfWork


def verify_tenant(
    sessions: sessionmaker[Session], *, tenant_id: str, unkeyed_through: int = 0
) -> VerifyResult:
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        return verify_in(uow, unkeyed_through=unkeyed_through)


def verify_in(uow: UnitOfWork, *, unkeyed_through: int = 0) -> VerifyResult:
    head = uow.audit.head()
    return verify_chain(
        uow.audit.records(),
        head_seq=head.seq if head else None,
        head_hash=head.hash if head else None,
        key=audit_key_of(uow.session),
        unkeyed_through=unkeyed_through,
    )
