"""Set-based reads that load a processing chunk's rows in a few IN-queries.

Each read puts the rows in the session (where ``LoadedRows`` keeps them) and records the
questions they answer in full, so the per-event path (resolve, project, judge) finds
them without a query of its own. A read only ever claims what its query covered: "the
payments of order 1001" after selecting every payment whose ``order_ref`` is 1001.
Anything a chunk did not foresee is still asked with a query, as before.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from orderops.domain.statuses import OrderStatus
from orderops.storage.repositories.loaded import LoadedRows
from orderops.storage.tables import (
    AliasWait,
    Case,
    Customer,
    CustomerIdentity,
    EntityAlias,
    FraudSignal,
    InventoryPosition,
    LinkSuggestion,
    Order,
    OrderLineRow,
    OrderRefund,
    Payment,
    RecordLink,
    Shipment,
    SupportTicket,
)
from orderops.storage.tables.resolve import FulfillmentHold

T = TypeVar("T")

PART = 500
"""Values per IN-list: well inside every driver's limit on bound parameters."""

Target = tuple[str, str]

BY_ORDER: tuple[type[Any], ...] = (
    Payment,
    Shipment,
    SupportTicket,
    FraudSignal,
    OrderRefund,
    FulfillmentHold,
)
"""The records of an order its snapshot and roll-ups read."""


def parts(values: Collection[str]) -> Iterator[list[str]]:
    ordered = sorted(set(values))
    for start in range(0, len(ordered), PART):
        yield ordered[start : start + PART]


class ChunkReads:
    """The set-based reads, in the caller's session and transaction."""

    def __init__(self, session: Session, loaded: LoadedRows) -> None:
        self._session = session
        self._loaded = loaded
        self.tenant_id = loaded.tenant_id

    def load_by(
        self,
        model: type[T],
        column: str,
        values: Collection[str],
        *,
        options: Sequence[Any] = (),
    ) -> list[T]:
        """Every row of ``model`` whose ``column`` is one of ``values``; for each value the
        question "which rows have it" is then answered (none, for a value no row has)."""
        attribute = getattr(model, column)
        tenant = model.tenant_id  # type: ignore[attr-defined]
        found: list[T] = []
        for part in parts(values):
            query = select(model).where(tenant == self.tenant_id, attribute.in_(part))
            found += self._session.scalars(query.options(*options)).all()
        grouped: dict[Any, list[T]] = {value: [] for value in values}
        for row in found:
            grouped.setdefault(getattr(row, column), []).append(row)
        for value in values:
            self._loaded.learn(model, {column: value}, grouped[value])
        return found

    def by_ids(self, model: type[T], ids: Collection[str]) -> list[T]:
        """Rows by id: nothing to claim, the registry answers ids it holds."""
        column = model.id  # type: ignore[attr-defined]
        tenant = model.tenant_id  # type: ignore[attr-defined]
        found: list[T] = []
        for part in parts(ids):
            found += self._session.scalars(
                select(model).where(tenant == self.tenant_id, column.in_(part))
            ).all()
        return found

    def orders(self, refs: Collection[str]) -> list[Order]:
        """The orders with these refs, with their lines."""
        return self.load_by(Order, "order_ref", refs, options=[selectinload(Order.lines)])

    def orders_waiting_for(self, skus: Collection[str]) -> set[str]:
        """Refs of the live, undelivered orders with a line of one of these SKUs: the
        orders a stock level of them judges again (``CommerceRepository.waiting_lines``)."""
        refs: set[str] = set()
        for part in parts(skus):
            refs |= set(
                self._session.scalars(
                    select(Order.order_ref)
                    .join(OrderLineRow, OrderLineRow.order_id == Order.id)
                    .where(
                        Order.tenant_id == self.tenant_id,
                        OrderLineRow.tenant_id == self.tenant_id,
                        OrderLineRow.sku.in_(part),
                        Order.status == OrderStatus.OPEN,
                        Order.delivered_at.is_(None),
                    )
                    .distinct()
                )
            )
        return refs

    def records_of_orders(self, refs: Collection[str]) -> None:
        """Every payment, parcel, ticket, fraud signal, refund and hold of these orders."""
        for model in BY_ORDER:
            self.load_by(model, "order_ref", refs)

    def payments(self, refs: Collection[str], ids: Collection[str]) -> list[Payment]:
        """Payments by their provider's ref (any provider) and by id."""
        return self.load_by(Payment, "payment_ref", refs) + self.by_ids(Payment, ids)

    def shipments(self, tracking_numbers: Collection[str], ids: Collection[str]) -> list[Shipment]:
        found = self.load_by(Shipment, "tracking_number", tracking_numbers)
        return found + self.by_ids(Shipment, ids)

    def tickets(self, refs: Collection[str], ids: Collection[str]) -> list[SupportTicket]:
        return self.load_by(SupportTicket, "ticket_ref", refs) + self.by_ids(SupportTicket, ids)

    def cases(self, order_ids: Collection[str]) -> None:
        """Every case of these orders, open or closed."""
        self.load_by(Case, "order_id", order_ids)

    def stock(self, skus: Collection[str]) -> None:
        """The stock of these SKUs at every location."""
        self.load_by(InventoryPosition, "sku", skus)

    def customers(
        self, refs: Collection[str], emails: Collection[str], ids: Collection[str]
    ) -> None:
        """Customers by an identity's external ref (any source), by email and by id."""
        identities = self.load_by(CustomerIdentity, "external_ref", refs)
        self.load_by(Customer, "email", emails)
        self.by_ids(Customer, {i.customer_id for i in identities} | set(ids))

    # resolve -----------------------------------------------------------------------------

    def record_links(self, refs: Collection[str]) -> None:
        """Every link (in force or revoked) and suggestion of records with these refs."""
        self.load_by(RecordLink, "record_ref", refs)
        self.load_by(LinkSuggestion, "record_ref", refs)

    def aliases(self, keys: Collection[tuple[str, str]]) -> dict[tuple[str, str], list[Target]]:
        """What each (kind, normalised key) names, ordered as ``AliasStore.lookup`` reads."""
        rows: list[Any] = []
        for part in parts({key for _, key in keys}):
            rows += self._session.execute(
                select(
                    EntityAlias.kind,
                    EntityAlias.key,
                    EntityAlias.entity_type,
                    EntityAlias.entity_ref,
                ).where(EntityAlias.tenant_id == self.tenant_id, EntityAlias.key.in_(part))
            ).all()
        named: dict[tuple[str, str], list[Target]] = {key: [] for key in keys}
        for kind, key, entity_type, entity_ref in rows:
            if (kind, key) in named:
                named[(kind, key)].append((entity_type, entity_ref))
        for targets in named.values():
            targets.sort()
        return named

    def keys_of(self, targets: Collection[Target]) -> dict[Target, set[str]]:
        """Every alias (``kind:key``) of each entity."""
        keys: dict[Target, set[str]] = {target: set() for target in targets}
        for part in parts({ref for _, ref in targets}):
            for entity_type, entity_ref, kind, key in self._session.execute(
                select(
                    EntityAlias.entity_type,
                    EntityAlias.entity_ref,
                    EntityAlias.kind,
                    EntityAlias.key,
                ).where(EntityAlias.tenant_id == self.tenant_id, EntityAlias.entity_ref.in_(part))
            ):
                if (entity_type, entity_ref) in keys:
                    keys[(entity_type, entity_ref)].add(f"{kind}:{key}")
        return keys

    def waits(self, aliases: Iterable[str]) -> dict[str, set[str]]:
        """The inbox rows waiting on each alias (``kind:key``)."""
        wanted = set(aliases)
        waiting: dict[str, set[str]] = {alias: set() for alias in wanted}
        for part in parts(wanted):
            for alias, inbox_id in self._session.execute(
                select(AliasWait.alias, AliasWait.inbox_id).where(
                    AliasWait.tenant_id == self.tenant_id, AliasWait.alias.in_(part)
                )
            ):
                waiting[alias].add(inbox_id)
        return waiting
