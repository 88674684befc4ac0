"""Appending to and reading a tenant's audit chain."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orderops.audit.chain import GENESIS_HASH, AuditEntry, record_hash
from orderops.audit.keys import audit_key_of
from orderops.storage.tables import AuditHead, AuditRecord


class AuditRepository:
    def __init__(self, session: Session, tenant_id: str) -> None:
        self._session = session
        self._tenant = tenant_id

    def append(
        self,
        *,
        at: datetime,
        actor: str,
        action: str,
        entity_type: str,
        entity_id: str,
        data: dict[str, Any],
    ) -> AuditRecord:
        """Chain one record after the tenant's head, in the caller's transaction.

        The head row is locked (FOR UPDATE on PostgreSQL; SQLite writers are already
        serialised by BEGIN IMMEDIATE), so concurrent appenders queue rather than fork.
        """
        head = self._session.scalar(
            select(AuditHead).where(AuditHead.tenant_id == self._tenant).with_for_update()
        )
        if head is None:
            head = AuditHead(tenant_id=self._tenant, seq=0, hash=GENESIS_HASH)
            self._session.add(head)
        entry = AuditEntry(
            tenant_id=self._tenant,
            seq=head.seq + 1,
            at=at,
            actor=actor,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            data=data,
        )
        key = audit_key_of(self._session)
        digest = record_hash(head.hash, entry, key)
        record = AuditRecord(
            tenant_id=self._tenant,
            seq=entry.seq,
            at=at,
            actor=actor,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            data=data,
            prev_hash=head.hash,
            hash=digest,
            key_id=key.key_id,
        )
        self._session.add(record)
        head.seq, head.hash = entry.seq, digest
        self._session.flush()
        return record

    def head(self) -> AuditHead | None:
        return self._session.scalar(select(AuditHead).where(AuditHead.tenant_id == self._tenant))

    def records(self, *, batch: int = 1000) -> Iterator[AuditRecord]:
        """The whole chain in sequence order, streamed in batches."""
        last = 0
        while True:
            rows = self._session.scalars(
                select(AuditRecord)
                .where(AuditRecord.tenant_id == self._tenant, AuditRecord.seq > last)
                .order_by(AuditRecord.seq)
                .limit(batch)
            ).all()
            if not rows:
                return
            yield from rows
            last = rows[-1].seq

    def for_entity(self, entity_type: str, entity_id: str) -> list[AuditRecord]:
        return list(
            self._session.scalars(
                select(AuditRecord)
                .where(
                    AuditRecord.tenant_id == self._tenant,
                    AuditRecord.entity_type == entity_type,
                    AuditRecord.entity_id == entity_id,
                )
                .order_by(AuditRecord.seq)
            )
        )
