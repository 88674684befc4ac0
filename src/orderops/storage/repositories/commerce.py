"""Queries over the projected commerce state: customers, orders, payments, shipments, stock.

While the pipeline processes a chunk, reads the chunk's rows already answer are served
from them (``storage/repositories/loaded.py``); otherwise, and the first time, they are
queries.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session

from orderops.domain.statuses import OWES_DELIVERY, OrderStatus
from orderops.storage.repositories.loaded import LoadedRows, loaded_rows
from orderops.storage.tables import (
    Case,
    Customer,
    CustomerIdentity,
    FraudSignal,
    InventoryPosition,
    Order,
    OrderLineRow,
    OrderRefund,
    Payment,
    Shipment,
    SupportTicket,
    TrackingEvent,
)


class CommerceRepository:
    def __init__(self, session: Session, tenant_id: str) -> None:
        self._session = session
        self.tenant_id = tenant_id

    def add(self, row: object) -> None:
        """Add a new row of any commerce table, stamped with this unit of work's tenant."""
        row.tenant_id = self.tenant_id  # type: ignore[attr-defined]
        self._session.add(row)

    def flush(self) -> None:
        self._session.flush()

    def _loaded(self) -> LoadedRows | None:
        rows = loaded_rows(self._session)
        return rows if rows is not None and rows.tenant_id == self.tenant_id else None

    # customers -----------------------------------------------------------------

    def customer_by_identity(self, source: str, external_ref: str) -> Customer | None:
        if (loaded := self._loaded()) is not None:
            identity = loaded.one(
                CustomerIdentity,
                {"source": source, "external_ref": external_ref},
                fetch=lambda: self._identity(source, external_ref),
            )
            return self.customer(identity.customer_id) if identity is not None else None
        return self._session.scalar(
            select(Customer)
            .join(CustomerIdentity, CustomerIdentity.customer_id == Customer.id)
            .where(
                CustomerIdentity.tenant_id == self.tenant_id,
                CustomerIdentity.source == source,
                CustomerIdentity.external_ref == external_ref,
            )
        )

    def _identity(self, source: str, external_ref: str) -> CustomerIdentity | None:
        return self._session.scalar(
            select(CustomerIdentity).where(
                CustomerIdentity.tenant_id == self.tenant_id,
                CustomerIdentity.source == source,
                CustomerIdentity.external_ref == external_ref,
            )
        )

    def customer(self, customer_id: str) -> Customer | None:
        def fetch() -> Customer | None:
            return self._session.scalar(
                select(Customer).where(
                    Customer.tenant_id == self.tenant_id, Customer.id == customer_id
                )
            )

        loaded = self._loaded()
        return loaded.by_id(Customer, customer_id, fetch=fetch) if loaded else fetch()

    def _customers_with_email(self, email: str) -> list[Customer] | None:
        """The customers with this email, oldest first, when the chunk's rows answer it."""
        if (loaded := self._loaded()) is None:
            return None
        return loaded.rows(
            Customer,
            {"email": email},
            order_by=("created_at", "id"),
            fetch=lambda: self._session.scalars(
                select(Customer)
                .where(Customer.tenant_id == self.tenant_id, Customer.email == email)
                .order_by(Customer.created_at, Customer.id)
            ),
        )

    def customers_by_email(self, email: str) -> list[str]:
        """Ids of the customers stored with this (lower-cased) email, oldest first."""
        if (held := self._customers_with_email(email)) is not None:
            return [customer.id for customer in held]
        return list(
            self._session.scalars(
                select(Customer.id)
                .where(Customer.tenant_id == self.tenant_id, Customer.email == email)
                .order_by(Customer.created_at, Customer.id)
            )
        )

    def customer_by_email(self, email: str) -> Customer | None:
        if (held := self._customers_with_email(email)) is not None:
            return held[0] if held else None
        return self._session.scalar(
            select(Customer)
            .where(Customer.tenant_id == self.tenant_id, Customer.email == email)
            .order_by(Customer.created_at)
            .limit(1)
        )

    # orders --------------------------------------------------------------------

    def order_by_ref(self, order_ref: str) -> Order | None:
        def fetch() -> Order | None:
            return self._session.scalar(
                select(Order).where(Order.tenant_id == self.tenant_id, Order.order_ref == order_ref)
            )

        loaded = self._loaded()
        return loaded.one(Order, {"order_ref": order_ref}, fetch=fetch) if loaded else fetch()

    def order(self, order_id: str) -> Order | None:
        def fetch() -> Order | None:
            return self._session.scalar(
                select(Order).where(Order.tenant_id == self.tenant_id, Order.id == order_id)
            )

        loaded = self._loaded()
        return loaded.by_id(Order, order_id, fetch=fetch) if loaded else fetch()

    def orders_of_customers(
        self,
        customer_ids: Collection[str],
        *,
        placed_from: datetime | None,
        placed_to: datetime,
    ) -> Sequence[Order]:
        """The customers' orders placed in [placed_from, placed_to], oldest first."""
        if not customer_ids:
            return []
        query = select(Order).where(
            Order.tenant_id == self.tenant_id,
            Order.customer_id.in_(sorted(customer_ids)),
            Order.placed_at <= placed_to,
        )
        if placed_from is not None:
            query = query.where(Order.placed_at >= placed_from)
        return self._session.scalars(query.order_by(Order.placed_at, Order.order_ref)).all()

    def late_candidates(self, *, now: datetime, limit: int) -> Sequence[Order]:
        """Paid, live orders past their promise that were not delivered by it and have no
        shipment_late case yet: what the lateness sweep must look at, and nothing more."""
        already = exists().where(
            Case.tenant_id == self.tenant_id,
            Case.order_id == Order.id,
            Case.exception_type == "shipment_late",
        )
        return self._session.scalars(
            select(Order)
            .where(
                Order.tenant_id == self.tenant_id,
                Order.promised_by < now,
                Order.status != OrderStatus.CANCELLED,
                Order.financial_status.in_([str(s) for s in OWES_DELIVERY]),
                or_(
                    Order.delivered_at.is_(None),
                    and_(Order.delivered_at.is_not(None), Order.delivered_at > Order.promised_by),
                ),
                ~already,
            )
            .order_by(Order.promised_by)
            .limit(limit)
        ).all()

    # payments, shipments, tickets, stock -----------------------------------------

    def payment(self, provider: str, payment_ref: str) -> Payment | None:
        def fetch() -> Payment | None:
            return self._session.scalar(
                select(Payment).where(
                    Payment.tenant_id == self.tenant_id,
                    Payment.provider == provider,
                    Payment.payment_ref == payment_ref,
                )
            )

        loaded = self._loaded()
        where = {"provider": provider, "payment_ref": payment_ref}
        return loaded.one(Payment, where, fetch=fetch) if loaded else fetch()

    def payment_by_id(self, payment_id: str) -> Payment | None:
        def fetch() -> Payment | None:
            return self._session.scalar(
                select(Payment).where(Payment.tenant_id == self.tenant_id, Payment.id == payment_id)
            )

        loaded = self._loaded()
        return loaded.by_id(Payment, payment_id, fetch=fetch) if loaded else fetch()

    def payments_for(self, order_ref: str) -> Sequence[Payment]:
        def fetch() -> Sequence[Payment]:
            return self._session.scalars(
                select(Payment)
                .where(Payment.tenant_id == self.tenant_id, Payment.order_ref == order_ref)
                .order_by(Payment.created_at)
            ).all()

        loaded = self._loaded()
        if loaded is None:
            return fetch()
        return loaded.rows(Payment, {"order_ref": order_ref}, order_by=("created_at",), fetch=fetch)

    def shipment(self, carrier: str, tracking_number: str) -> Shipment | None:
        def fetch() -> Shipment | None:
            return self._session.scalar(
                select(Shipment).where(
                    Shipment.tenant_id == self.tenant_id,
                    Shipment.carrier == carrier,
                    Shipment.tracking_number == tracking_number,
                )
            )

        loaded = self._loaded()
        where = {"carrier": carrier, "tracking_number": tracking_number}
        return loaded.one(Shipment, where, fetch=fetch) if loaded else fetch()

    def shipment_by_id(self, shipment_id: str) -> Shipment | None:
        def fetch() -> Shipment | None:
            return self._session.scalar(
                select(Shipment).where(
                    Shipment.tenant_id == self.tenant_id, Shipment.id == shipment_id
                )
            )

        loaded = self._loaded()
        return loaded.by_id(Shipment, shipment_id, fetch=fetch) if loaded else fetch()

    def shipments_for(self, order_ref: str) -> Sequence[Shipment]:
        def fetch() -> Sequence[Shipment]:
            return self._session.scalars(
                select(Shipment)
                .where(Shipment.tenant_id == self.tenant_id, Shipment.order_ref == order_ref)
                .order_by(Shipment.created_at)
            ).all()

        loaded = self._loaded()
        if loaded is None:
            return fetch()
        return loaded.rows(
            Shipment, {"order_ref": order_ref}, order_by=("created_at",), fetch=fetch
        )

    def tracking_events(self, shipment_id: str) -> Sequence[TrackingEvent]:
        return self._session.scalars(
            select(TrackingEvent)
            .where(
                TrackingEvent.tenant_id == self.tenant_id, TrackingEvent.shipment_id == shipment_id
            )
            .order_by(TrackingEvent.occurred_at)
        ).all()

    def ticket(self, source: str, ticket_ref: str) -> SupportTicket | None:
        def fetch() -> SupportTicket | None:
            return self._session.scalar(
                select(SupportTicket).where(
                    SupportTicket.tenant_id == self.tenant_id,
                    SupportTicket.source == source,
                    SupportTicket.ticket_ref == ticket_ref,
                )
            )

        loaded = self._loaded()
        where = {"source": source, "ticket_ref": ticket_ref}
        return loaded.one(SupportTicket, where, fetch=fetch) if loaded else fetch()

    def ticket_by_id(self, ticket_id: str) -> SupportTicket | None:
        def fetch() -> SupportTicket | None:
            return self._session.scalar(
                select(SupportTicket).where(
                    SupportTicket.tenant_id == self.tenant_id, SupportTicket.id == ticket_id
                )
            )

        loaded = self._loaded()
        return loaded.by_id(SupportTicket, ticket_id, fetch=fetch) if loaded else fetch()

    def inventory(self, sku: str, location: str) -> InventoryPosition | None:
        def fetch() -> InventoryPosition | None:
            return self._session.scalar(
                select(InventoryPosition).where(
                    InventoryPosition.tenant_id == self.tenant_id,
                    InventoryPosition.sku == sku,
                    InventoryPosition.location == location,
                )
            )

        loaded = self._loaded()
        where = {"sku": sku, "location": location}
        return loaded.one(InventoryPosition, where, fetch=fetch) if loaded else fetch()

    def positions(self, sku: str) -> Sequence[InventoryPosition] | None:
        """The SKU's stock at every location, when the chunk's rows answer it (else None:
        the caller's aggregate query is cheaper than loading the rows)."""
        loaded = self._loaded()
        if loaded is None or not loaded.knows(InventoryPosition, {"sku": sku}):
            return None
        return loaded.rows(
            InventoryPosition,
            {"sku": sku},
            order_by=("location",),
            fetch=lambda: self._positions([sku]),
        )

    def _positions(self, skus: Iterable[str]) -> Sequence[InventoryPosition]:
        return self._session.scalars(
            select(InventoryPosition).where(
                InventoryPosition.tenant_id == self.tenant_id,
                InventoryPosition.sku.in_(sorted(set(skus))),
            )
        ).all()

    def available(self, sku: str, location: str | None) -> int | None:
        """Stock a line can be judged against: at its location when it names one, else the
        SKU's stock summed over every location the tenant holds it at (Shopify routes an
        order to any location with stock). None when no stock level was ever reported."""
        if location is not None:
            position = self.inventory(sku, location)
            return position.available if position is not None else None
        if (held := self.positions(sku)) is not None:
            return sum(p.available for p in held) if held else None
        total, count = self._session.execute(
            select(func.sum(InventoryPosition.available), func.count()).where(
                InventoryPosition.tenant_id == self.tenant_id, InventoryPosition.sku == sku
            )
        ).one()
        return int(total) if count else None

    def waiting_lines(self, sku: str, location: str) -> list[tuple[Order, OrderLineRow]]:
        """Lines of live, undelivered orders that a stock level of ``sku`` at ``location``
        covers or not: lines at that location (their own, else their order's), and lines
        that name no location at all, which every location's stock counts for."""
        where = func.coalesce(OrderLineRow.location, Order.location)
        rows = self._session.execute(
            select(Order, OrderLineRow)
            .join(OrderLineRow, OrderLineRow.order_id == Order.id)
            .where(
                Order.tenant_id == self.tenant_id,
                OrderLineRow.tenant_id == self.tenant_id,
                OrderLineRow.sku == sku,
                or_(where == location, where.is_(None)),
                Order.status == OrderStatus.OPEN,
                Order.delivered_at.is_(None),
            )
            .order_by(Order.placed_at, Order.order_ref, OrderLineRow.position)
        ).all()
        return [(order, row) for order, row in rows]

    def tickets_for(self, order_ref: str) -> Sequence[SupportTicket]:
        def fetch() -> Sequence[SupportTicket]:
            return self._session.scalars(
                select(SupportTicket)
                .where(
                    SupportTicket.tenant_id == self.tenant_id, SupportTicket.order_ref == order_ref
                )
                .order_by(SupportTicket.opened_at)
            ).all()

        loaded = self._loaded()
        if loaded is None:
            return fetch()
        return loaded.rows(
            SupportTicket, {"order_ref": order_ref}, order_by=("opened_at",), fetch=fetch
        )

    def refunds_for(self, order_ref: str) -> Sequence[OrderRefund]:
        """The store's refunds of the order, in the order they were processed."""

        def fetch() -> Sequence[OrderRefund]:
            return self._session.scalars(
                select(OrderRefund)
                .where(OrderRefund.tenant_id == self.tenant_id, OrderRefund.order_ref == order_ref)
                .order_by(OrderRefund.processed_at, OrderRefund.refund_ref)
            ).all()

        loaded = self._loaded()
        if loaded is None:
            return fetch()
        order = ("processed_at", "refund_ref")
        return loaded.rows(OrderRefund, {"order_ref": order_ref}, order_by=order, fetch=fetch)

    def fraud_signals_for(self, order_ref: str) -> Sequence[FraudSignal]:
        def fetch() -> Sequence[FraudSignal]:
            return self._session.scalars(
                select(FraudSignal)
                .where(FraudSignal.tenant_id == self.tenant_id, FraudSignal.order_ref == order_ref)
                .order_by(FraudSignal.occurred_at)
            ).all()

        loaded = self._loaded()
        if loaded is None:
            return fetch()
        return loaded.rows(
            FraudSignal, {"order_ref": order_ref}, order_by=("occurred_at",), fetch=fetch
        )
