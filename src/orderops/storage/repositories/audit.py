"""Appending to and reading a tenant's audit chain."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orderops.audit.chain import GENESIS_HASH, AuditEntry, data_digest, record_hash
from orderops.audit.keys import audit_key_of
from orderops.storage.tables import AuditHead, AuditRecord


@dataclass(frozen=True, kw_only=True)
class AuditDraft:
    """A record to append: everything but its place in the chain."""

    at: datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str
    data: dict[str, Any]


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
        """Chain one record after the tenant's head, in the caller's transaction."""
        draft = AuditDraft(
            at=at,
            actor=actor,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            data=data,
        )
        (record,) = self.append_many([draft])
        return record

    def append_many(self, drafts: Sequence[AuditDraft]) -> list[AuditRecord]:
        """Chain records after the tenant's head in the given order, in the caller's
        transaction, reading and moving the head once (a writer recording many things at
        once pays one lock and one flush, not one per record).

        The head row is locked (FOR UPDATE on PostgreSQL; SQLite writers are already
        serialised by BEGIN IMMEDIATE), so concurrent appenders queue rather than fork.
        """
        if not drafts:
            return []
        head = self._session.scalar(
            select(AuditHead).where(AuditHead.tenant_id == self._tenant).with_for_update()
        )
        if head is None:
            head = AuditHead(tenant_id=self._tenant, seq=0, hash=GENESIS_HASH)
            self._session.add(head)
        key = audit_key_of(self._session)
        seq, prev_hash = head.seq, head.hash
        records = []
        for draft in drafts:
            seq += 1
            entry = AuditEntry(
                tenant_id=self._tenant,
                seq=seq,
                at=draft.at,
                actor=draft.actor,
                action=draft.action,
                entity_type=draft.entity_type,
                entity_id=draft.entity_id,
                data=draft.data,
            )
            payload_digest = data_digest(draft.data)
            digest = record_hash(prev_hash, entry, key, digest=payload_digest)
            records.append(
                AuditRecord(
                    tenant_id=self._tenant,
                    seq=seq,
                    at=draft.at,
                    actor=draft.actor,
                    action=draft.action,
                    entity_type=draft.entity_type,
                    entity_id=draft.entity_id,
                    data=draft.data,
                    data_digest=payload_digest,
                    prev_hash=prev_hash,
                    hash=digest,
                    key_id=key.key_id,
                )
            )
            prev_hash = digest
        self._session.add_all(records)
        head.seq, head.hash = seq, prev_hash
        self._session.flush()
        return records

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
