"""Queries over what resolve keeps: aliases, waits, record links, suggestions, refunds, holds.

Built on the caller's session (``ResolveRepository(uow.session, uow.tenant_id)``), so it
writes in the caller's transaction and never commits; every query filters by tenant.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from orderops.storage.base import new_id
from orderops.storage.repositories._dialect import insert_if_absent
from orderops.storage.repositories.alias_rows import add_aliases
from orderops.storage.tables import (
    AliasWait,
    EntityAlias,
    FulfillmentHold,
    LinkSuggestion,
    OrderRefund,
    RecordLink,
)


class ResolveRepository:
    def __init__(self, session: Session, tenant_id: str) -> None:
        self._session = session
        self.tenant_id = tenant_id

    def add(self, row: object) -> None:
        row.tenant_id = self.tenant_id  # type: ignore[attr-defined]
        self._session.add(row)

    def flush(self) -> None:
        self._session.flush()

    # aliases -------------------------------------------------------------------

    def add_alias(
        self,
        *,
        kind: str,
        key: str,
        entity_type: str,
        entity_ref: str,
        source: str,
        inbox_id: str | None,
        now: datetime,
    ) -> bool:
        """Store one alias unless it is already there; True when it is new.

        The database decides (unique on tenant, kind, key, entity), so a redelivered or
        replayed event adds nothing twice.
        """
        new = add_aliases(
            self._session,
            self.tenant_id,
            [(kind, key)],
            entity_type=entity_type,
            entity_ref=entity_ref,
            source=source,
            inbox_id=inbox_id,
            now=now,
        )
        return bool(new)

    def aliases(self, kind: str, key: str) -> Sequence[EntityAlias]:
        return self._session.scalars(
            select(EntityAlias)
            .where(
                EntityAlias.tenant_id == self.tenant_id,
                EntityAlias.kind == kind,
                EntityAlias.key == key,
            )
            .order_by(EntityAlias.entity_type, EntityAlias.entity_ref)
        ).all()

    def drop_aliases(self, kind: str, key: str, *, keep: tuple[str, str]) -> None:
        """Forget ``kind:key`` for every entity but ``keep`` (the key moved to it)."""
        entity_type, entity_ref = keep
        self._session.execute(
            delete(EntityAlias).where(
                EntityAlias.tenant_id == self.tenant_id,
                EntityAlias.kind == kind,
                EntityAlias.key == key,
                or_(EntityAlias.entity_type != entity_type, EntityAlias.entity_ref != entity_ref),
            )
        )

    def aliases_of(self, entity_type: str, entity_ref: str) -> Sequence[EntityAlias]:
        return self._session.scalars(
            select(EntityAlias)
            .where(
                EntityAlias.tenant_id == self.tenant_id,
                EntityAlias.entity_type == entity_type,
                EntityAlias.entity_ref == entity_ref,
            )
            .order_by(EntityAlias.kind, EntityAlias.key)
        ).all()

    # waits ---------------------------------------------------------------------

    def add_wait(self, *, inbox_id: str, alias: str, now: datetime) -> None:
        insert_if_absent(
            self._session,
            AliasWait.__table__,  # type: ignore[arg-type]
            {
                "id": new_id(),
                "tenant_id": self.tenant_id,
                "inbox_id": inbox_id,
                "alias": alias,
                "created_at": now,
            },
        )

    def waiting_on(self, aliases: Iterable[str]) -> set[str]:
        """Inbox ids of the rows waiting for any of ``aliases``."""
        wanted = sorted(set(aliases))
        if not wanted:
            return set()
        found: set[str] = set()
        for start in range(0, len(wanted), 500):
            found |= set(
                self._session.scalars(
                    select(AliasWait.inbox_id).where(
                        AliasWait.tenant_id == self.tenant_id,
                        AliasWait.alias.in_(wanted[start : start + 500]),
                    )
                )
            )
        return found

    def waits_of(self, inbox_id: str) -> list[str]:
        return sorted(
            self._session.scalars(
                select(AliasWait.alias).where(
                    AliasWait.tenant_id == self.tenant_id, AliasWait.inbox_id == inbox_id
                )
            )
        )

    def clear_waits(self, inbox_ids: Iterable[str]) -> None:
        ids = list(inbox_ids)
        if ids:
            self._session.execute(
                delete(AliasWait).where(
                    AliasWait.tenant_id == self.tenant_id, AliasWait.inbox_id.in_(ids)
                )
            )

    # links and suggestions -----------------------------------------------------

    def links_for_order(self, order_ref: str, *, active: bool = True) -> Sequence[RecordLink]:
        query = select(RecordLink).where(
            RecordLink.tenant_id == self.tenant_id, RecordLink.order_ref == order_ref
        )
        if active:
            query = query.where(RecordLink.revoked_at.is_(None))
        return self._session.scalars(query.order_by(RecordLink.created_at, RecordLink.id)).all()

    def links_for_record(
        self, record_type: str, record_ref: str, *, active: bool = True
    ) -> Sequence[RecordLink]:
        query = select(RecordLink).where(
            RecordLink.tenant_id == self.tenant_id,
            RecordLink.record_type == record_type,
            RecordLink.record_ref == record_ref,
        )
        if active:
            query = query.where(RecordLink.revoked_at.is_(None))
        return self._session.scalars(query.order_by(RecordLink.created_at, RecordLink.id)).all()

    def link(self, link_id: str) -> RecordLink | None:
        return self._session.scalar(
            select(RecordLink).where(
                RecordLink.tenant_id == self.tenant_id, RecordLink.id == link_id
            )
        )

    def suggestion_for(self, record_type: str, record_ref: str) -> LinkSuggestion | None:
        return self._session.scalar(
            select(LinkSuggestion).where(
                LinkSuggestion.tenant_id == self.tenant_id,
                LinkSuggestion.record_type == record_type,
                LinkSuggestion.record_ref == record_ref,
            )
        )

    def suggestions(
        self, *, status: str | None = None, limit: int = 100
    ) -> Sequence[LinkSuggestion]:
        query = select(LinkSuggestion).where(LinkSuggestion.tenant_id == self.tenant_id)
        if status is not None:
            query = query.where(LinkSuggestion.status == status)
        return self._session.scalars(
            query.order_by(LinkSuggestion.created_at, LinkSuggestion.id).limit(limit)
        ).all()

    # refunds and holds ---------------------------------------------------------

    def refund(self, source: str, refund_ref: str) -> OrderRefund | None:
        return self._session.scalar(
            select(OrderRefund).where(
                OrderRefund.tenant_id == self.tenant_id,
                OrderRefund.source == source,
                OrderRefund.refund_ref == refund_ref,
            )
        )

    def refunds_for(self, order_ref: str) -> Sequence[OrderRefund]:
        return self._session.scalars(
            select(OrderRefund)
            .where(OrderRefund.tenant_id == self.tenant_id, OrderRefund.order_ref == order_ref)
            .order_by(OrderRefund.processed_at, OrderRefund.refund_ref)
        ).all()

    def hold(self, source: str, fulfillment_order_ref: str) -> FulfillmentHold | None:
        return self._session.scalar(
            select(FulfillmentHold).where(
                FulfillmentHold.tenant_id == self.tenant_id,
                FulfillmentHold.source == source,
                FulfillmentHold.fulfillment_order_ref == fulfillment_order_ref,
            )
        )

    def holds_for(self, order_ref: str) -> Sequence[FulfillmentHold]:
        return self._session.scalars(
            select(FulfillmentHold)
            .where(
                FulfillmentHold.tenant_id == self.tenant_id,
                FulfillmentHold.order_ref == order_ref,
            )
            .order_by(FulfillmentHold.status_at, FulfillmentHold.fulfillment_order_ref)
        ).all()
