"""A processing chunk's audit records, chained in one append at the chunk's end.

Each record appended while a chunk's events are applied (a link, a case opened, merged
or resolved) used to lock the tenant's audit head, read it, insert the record and move
the head: three statements per record. ``ChunkAudit`` keeps the drafts instead and
chains them with one ``append_many`` (one lock, one insert, one move of the head) just
before the chunk commits, in the order they were appended, so the chain is the one the
records would have made one by one, in the same transaction as the changes they record.

A draft belongs to the savepoint it was appended in: when that savepoint rolls back (the
event failed), its drafts go with it, as its inserted records would have.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from orderops.storage.repositories.audit import AuditDraft, AuditRepository
from orderops.storage.tables import AuditRecord


class ChunkAudit(AuditRepository):
    """``AuditRepository`` whose appends wait for ``write``; ``append`` is inherited
    (it drafts one record and hands it to ``append_many``)."""

    def __init__(self, session: Session, tenant_id: str) -> None:
        super().__init__(session, tenant_id)
        self._drafts: list[tuple[AuditDraft, SessionTransaction]] = []

    def append_many(self, drafts: Sequence[AuditDraft]) -> list[AuditRecord]:
        """Keep the records for the chunk's end (``append`` comes here too). The records
        returned have their content, not yet their place in the chain (``seq`` and hashes
        come with ``write``)."""
        current = self._session.get_nested_transaction() or self._session.get_transaction()
        assert current is not None, "audit records are appended inside a transaction"
        self._drafts += [(draft, current) for draft in drafts]
        return [
            AuditRecord(
                tenant_id=self._tenant,
                at=draft.at,
                actor=draft.actor,
                action=draft.action,
                entity_type=draft.entity_type,
                entity_id=draft.entity_id,
                data=draft.data,
            )
            for draft in drafts
        ]

    def on_rollback(self, session: Session, previous: SessionTransaction) -> None:
        """What the rolled-back savepoint (or transaction) appended is forgotten."""
        self._drafts = [(d, t) for d, t in self._drafts if not _within(t, previous)]

    def write(self) -> list[AuditRecord]:
        """Chain every kept record after the tenant's head, in the order appended."""
        drafts = [draft for draft, _ in self._drafts]
        self._drafts = []
        return super().append_many(drafts)


def _within(transaction: SessionTransaction | None, outer: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is outer:
            return True
        transaction = transaction.parent
    return False


@contextmanager
def chunk_audit(session: Session, tenant_id: str) -> Iterator[ChunkAudit]:
    """A ``ChunkAudit`` that forgets what a rolled-back savepoint appended; the caller
    writes it before committing."""
    audit = ChunkAudit(session, tenant_id)
    event.listen(session, "after_soft_rollback", audit.on_rollback)
    try:
        yield audit
    finally:
        event.remove(session, "after_soft_rollback", audit.on_rollback)
