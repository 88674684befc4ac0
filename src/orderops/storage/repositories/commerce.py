"""Queries over the projected commerce state: customers, orders, payments, shipments, stock."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session

from orderops.detect.rules import OWES_DELIVERY
from orderops.domain.statuses import OrderStatus
from orderops.storage.tables import (
    Case,
    Customer,
    CustomerIdentity,
    FraudSignal,
    InventoryPosition,
    Order,
    OrderLineRow,
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

    # customers -----------------------------------------------------------------

    def customer_by_identity(self, source: str, external_ref: str) -> Customer | None:
        return self._session.scalar(
            select(Customer)
            .join(CustomerIdentity, CustomerIdentity.customer_id == Customer.id)
            .where(
                CustomerIdentity.tenant_id == self.tenant_id,
                CustomerIdentity.source == source,
                CustomerIdentity.external_ref == external_ref,
            )
        )

    def customer_by_email(self, email: str) -> Customer | None:
        return self._session.scalar(
            select(Customer)
            .where(Customer.tenant_id == self.tenant_id, Customer.email == email)
            .order_by(Customer.created_at)
            .limit(1)
        )

    # orders --------------------------------------------------------------------

    def order_by_ref(self, order_ref: str) -> Order | None:
        return self._session.scalar(
            select(Order).where(Order.tenant_id == self.tenant_id, Order.order_ref == order_ref)
        )

    def order(self, order_id: str) -> Order | None:
        return self._session.scalar(
            select(Order).where(Order.tenant_id == self.tenant_id, Order.id == order_id)
        )

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
        return self._session.scalar(
            select(Payment).where(
                Payment.tenant_id == self.tenant_id,
                Payment.provider == provider,
                Payment.payment_ref == payment_ref,
            )
        )

    def payments_for(self, order_ref: str) -> Sequence[Payment]:
        return self._session.scalars(
            select(Payment)
            .where(Payment.tenant_id == self.tenant_id, Payment.order_ref == order_ref)
            .order_by(Payment.created_at)
        ).all()

    def shipment(self, carrier: str, tracking_number: str) -> Shipment | None:
        return self._session.scalar(
            select(Shipment).where(
                Shipment.tenant_id == self.tenant_id,
                Shipment.carrier == carrier,
                Shipment.tracking_number == tracking_number,
            )
        )

    def shipments_for(self, order_ref: str) -> Sequence[Shipment]:
        return self._session.scalars(
            select(Shipment)
            .where(Shipment.tenant_id == self.tenant_id, Shipment.order_ref == order_ref)
            .order_by(Shipment.created_at)
        ).all()

    def tracking_events(self, shipment_id: str) -> Sequence[TrackingEvent]:
        return self._session.scalars(
            select(TrackingEvent)
            .where(
                TrackingEvent.tenant_id == self.tenant_id, TrackingEvent.shipment_id == shipment_id
            )
            .order_by(TrackingEvent.occurred_at)
        ).all()

    def ticket(self, source: str, ticket_ref: str) -> SupportTicket | None:
        return self._session.scalar(
            select(SupportTicket).where(
                SupportTicket.tenant_id == self.tenant_id,
                SupportTicket.source == source,
                SupportTicket.ticket_ref == ticket_ref,
            )
        )

    def inventory(self, sku: str, location: str) -> InventoryPosition | None:
        return self._session.scalar(
            select(InventoryPosition).where(
                InventoryPosition.tenant_id == self.tenant_id,
                InventoryPosition.sku == sku,
                InventoryPosition.location == location,
            )
        )

    def waiting_lines(self, sku: str, location: str) -> list[tuple[Order, OrderLineRow]]:
        """Lines of live, undelivered orders that a stock level of ``sku`` at ``location``
        covers or not (the line's own location, else its order's)."""
        rows = self._session.execute(
            select(Order, OrderLineRow)
            .join(OrderLineRow, OrderLineRow.order_id == Order.id)
            .where(
                Order.tenant_id == self.tenant_id,
                OrderLineRow.tenant_id == self.tenant_id,
                OrderLineRow.sku == sku,
                func.coalesce(OrderLineRow.location, Order.location) == location,
                Order.status == OrderStatus.OPEN,
                Order.delivered_at.is_(None),
            )
        ).all()
        return [(order, row) for order, row in rows]

    def tickets_for(self, order_ref: str) -> Sequence[SupportTicket]:
        return self._session.scalars(
            select(SupportTicket)
            .where(SupportTicket.tenant_id == self.tenant_id, SupportTicket.order_ref == order_ref)
            .order_by(SupportTicket.opened_at)
        ).all()

    def fraud_signals_for(self, order_ref: str) -> Sequence[FraudSignal]:
        return self._session.scalars(
            select(FraudSignal)
            .where(FraudSignal.tenant_id == self.tenant_id, FraudSignal.order_ref == order_ref)
            .order_by(FraudSignal.occurred_at)
        ).all()
