"""Apply canonical events to the current commerce state.

Every update compares the event's own time with the time of the state it would
replace, so a late-arriving older event never overwrites newer state. Payments,
shipments and tickets link to orders by ``order_ref`` rather than a foreign key, so
they can arrive before their order and still be found once it does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from orderops.domain.events import (
    CustomerData,
    EventType,
    FraudSignalData,
    InventoryLevelData,
    OrderCancelledData,
    OrderData,
    PaymentData,
    ShipmentData,
    TicketData,
    TrackingData,
)
from orderops.domain.facts import CAPTURED_STATUSES, PaymentFact, derive_financial_status
from orderops.domain.statuses import (
    FinancialStatus,
    FulfillmentStatus,
    OrderStatus,
    PaymentStatus,
    TrackingStatus,
)
from orderops.ingest.envelope import CanonicalEvent
from orderops.storage.repositories.commerce import CommerceRepository
from orderops.storage.tables import (
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


class OrderNotYetKnown(Exception):
    """The event needs its order, which has not arrived; the event waits for it."""


@dataclass(frozen=True)
class Projection:
    order_refs: frozenset[str]
    """Orders whose state this event may have changed: the ones detectors re-judge."""
    created_order: str | None = None
    summary: str = ""


def project(
    repo: CommerceRepository, event: CanonicalEvent, *, inbox_id: str, now: datetime
) -> Projection:
    data, at = event.payload, event.envelope.time
    source = event.envelope.source
    match event.type:
        case EventType.ORDER_PLACED | EventType.ORDER_UPDATED:
            assert isinstance(data, OrderData)
            return _order(repo, data, source=source, at=at, now=now)
        case EventType.ORDER_CANCELLED:
            assert isinstance(data, OrderCancelledData)
            return _cancel(repo, data, at=at, now=now)
        case EventType.PAYMENT_UPDATED:
            assert isinstance(data, PaymentData)
            return _payment(repo, data, at=at, now=now)
        case EventType.SHIPMENT_CREATED:
            assert isinstance(data, ShipmentData)
            return _shipment(repo, data, at=at, now=now)
        case EventType.SHIPMENT_TRACKING:
            assert isinstance(data, TrackingData)
            return _tracking(repo, data, inbox_id=inbox_id, now=now)
        case EventType.INVENTORY_LEVEL:
            assert isinstance(data, InventoryLevelData)
            return _inventory(repo, data, at=at)
        case EventType.CUSTOMER_UPSERTED:
            assert isinstance(data, CustomerData)
            _customer(repo, data, source=source, at=at)
            return Projection(frozenset(), summary=f"customer {data.customer_ref} updated")
        case EventType.TICKET_UPDATED:
            assert isinstance(data, TicketData)
            return _ticket(repo, data, at=at)
        case EventType.FRAUD_SIGNAL:
            assert isinstance(data, FraudSignalData)
            repo.add(
                FraudSignal(
                    inbox_id=inbox_id,
                    order_ref=data.order_ref,
                    kind=data.kind,
                    score=data.score,
                    detail=data.detail,
                    occurred_at=at,
                )
            )
            return Projection(frozenset({data.order_ref}), summary=f"fraud signal {data.kind}")
    raise AssertionError(f"unhandled event type {event.type}")  # pragma: no cover


def _customer(
    repo: CommerceRepository, data: CustomerData, *, source: str, at: datetime
) -> Customer:
    customer = repo.customer_by_identity(source, data.customer_ref)
    email = data.email.strip().lower() if data.email else None
    if customer is None and email:
        customer = repo.customer_by_email(email)
    if customer is None:
        customer = Customer(email=email, created_at=at, updated_at=at, tier=data.tier)
        repo.add(customer)
        repo.flush()
    if repo.customer_by_identity(source, data.customer_ref) is None:
        repo.add(
            CustomerIdentity(customer_id=customer.id, source=source, external_ref=data.customer_ref)
        )
    if at >= customer.updated_at:
        customer.email = email or customer.email
        customer.phone = data.phone or customer.phone
        customer.name = data.name or customer.name
        customer.tier = data.tier
        customer.address = data.address.model_dump() if data.address else customer.address
        customer.updated_at = at
    return customer


def _order(
    repo: CommerceRepository, data: OrderData, *, source: str, at: datetime, now: datetime
) -> Projection:
    order = repo.order_by_ref(data.order_ref)
    customer_id = _customer(repo, data.customer, source=source, at=at).id if data.customer else None
    created = order is None
    if order is None:
        order = Order(
            order_ref=data.order_ref,
            source=source,
            status=OrderStatus.OPEN,
            financial_status=FinancialStatus.PENDING,
            fulfillment_status=FulfillmentStatus.UNFULFILLED,
            source_updated_at=at,
            created_at=now,
        )
        repo.add(order)
    elif at < order.source_updated_at:
        return Projection(frozenset({data.order_ref}), summary="older order update ignored")
    order.number = data.number
    order.customer_id = customer_id or order.customer_id
    order.currency = data.currency
    order.total_minor = data.total_minor
    order.placed_at = data.placed_at
    order.promised_by = data.promised_by
    order.service_level = data.service_level
    order.location = data.location
    order.ship_to = data.ship_to.model_dump() if data.ship_to else None
    order.source_updated_at = at
    order.updated_at = now
    earlier = {(line.sku, line.location): line for line in order.lines}
    order.lines = [
        OrderLineRow(
            tenant_id=repo.tenant_id,
            position=i,
            sku=line.sku,
            title=line.title,
            quantity=line.quantity,
            unit_price_minor=line.unit_price_minor,
            location=line.location,
        )
        for i, line in enumerate(data.lines)
    ]
    for row in order.lines:
        if (kept := earlier.get((row.sku, row.location))) is not None:
            row.short_since, row.short_cleared_at = kept.short_since, kept.short_cleared_at
    repo.flush()
    for row in order.lines:
        position = repo.inventory(row.sku, row.location or order.location or "")
        if position is not None:
            _track_shortfall(repo, order, row, available=position.available, at=at)
    refresh_order_rollups(repo, order)
    verb = "placed" if created else "updated"
    return Projection(
        frozenset({data.order_ref}),
        created_order=data.order_ref if created else None,
        summary=f"order {order.number or order.order_ref} {verb}",
    )


def _cancel(
    repo: CommerceRepository, data: OrderCancelledData, *, at: datetime, now: datetime
) -> Projection:
    order = repo.order_by_ref(data.order_ref)
    if order is None:
        raise OrderNotYetKnown(data.order_ref)
    if order.status != OrderStatus.CANCELLED:
        order.status = OrderStatus.CANCELLED
        order.cancelled_at = at
        order.updated_at = now
    reason = f": {data.reason}" if data.reason else ""
    return Projection(frozenset({data.order_ref}), summary=f"order cancelled{reason}")


def _payment(
    repo: CommerceRepository, data: PaymentData, *, at: datetime, now: datetime
) -> Projection:
    payment = repo.payment(data.provider, data.payment_ref)
    if payment is None:
        payment = Payment(
            provider=data.provider, payment_ref=data.payment_ref, status_at=at, created_at=at
        )
        repo.add(payment)
    payment.created_at = min(payment.created_at, at)  # first seen by provider time, not arrival
    _stamp_payment(payment, data, at=at)
    if at < payment.status_at:
        return Projection(
            _refs(data.order_ref or payment.order_ref), summary="older payment update ignored"
        )
    payment.order_ref = data.order_ref or payment.order_ref
    payment.status = data.status
    payment.amount_minor = data.amount_minor
    payment.amount_refunded_minor = data.amount_refunded_minor
    payment.currency = data.currency
    payment.failure_code = data.failure_code
    payment.failure_message = data.failure_message
    payment.status_at = at
    repo.flush()
    if payment.order_ref and (order := repo.order_by_ref(payment.order_ref)) is not None:
        refresh_order_rollups(repo, order)
    return Projection(_refs(payment.order_ref), summary=f"payment {data.payment_ref} {data.status}")


def _shipment(
    repo: CommerceRepository, data: ShipmentData, *, at: datetime, now: datetime
) -> Projection:
    shipment = repo.shipment(data.carrier, data.tracking_number)
    if shipment is None:
        shipment = Shipment(
            carrier=data.carrier,
            tracking_number=data.tracking_number,
            status=TrackingStatus.LABEL_CREATED,
            status_at=at,
            created_at=at,
        )
        repo.add(shipment)
    # The label's time, also when a scan that overtook it created the row (label_at).
    shipment.created_at = min(shipment.created_at, at)
    shipment.shipment_ref = data.shipment_ref
    shipment.order_ref = data.order_ref
    shipment.service = data.service
    shipment.origin_location = data.origin_location
    shipment.estimated_delivery = data.estimated_delivery or shipment.estimated_delivery
    repo.flush()
    if (order := repo.order_by_ref(data.order_ref)) is not None:
        refresh_order_rollups(repo, order)
        for row in order.lines:
            if (row.location or order.location) == data.origin_location:
                _end_shortfall(row, at=at)
    return Projection(
        frozenset({data.order_ref}), summary=f"label created, {data.carrier} {data.tracking_number}"
    )


def _tracking(
    repo: CommerceRepository, data: TrackingData, *, inbox_id: str, now: datetime
) -> Projection:
    shipment = repo.shipment(data.carrier, data.tracking_number)
    if shipment is None:
        # A scan may beat the label event; keep it, the label event fills in the order.
        shipment = Shipment(
            carrier=data.carrier,
            tracking_number=data.tracking_number,
            status=data.status,
            status_at=data.occurred_at,
            created_at=data.occurred_at,
        )
        repo.add(shipment)
        repo.flush()
    repo.add(
        TrackingEvent(
            shipment_id=shipment.id,
            inbox_id=inbox_id,
            status=data.status,
            occurred_at=data.occurred_at,
            location=data.location,
            message=data.message,
        )
    )
    if data.status is not TrackingStatus.LABEL_CREATED and (
        shipment.first_scan_at is None or data.occurred_at < shipment.first_scan_at
    ):
        shipment.first_scan_at = data.occurred_at
    if data.occurred_at >= shipment.status_at:
        shipment.status = data.status
        shipment.status_at = data.occurred_at
        shipment.last_message = data.message
        shipment.last_location = data.location or shipment.last_location
        shipment.estimated_delivery = data.estimated_delivery or shipment.estimated_delivery
    if data.status is TrackingStatus.DELIVERED and (
        shipment.delivered_at is None or data.occurred_at < shipment.delivered_at
    ):
        shipment.delivered_at = data.occurred_at
    repo.flush()
    if shipment.order_ref and (order := repo.order_by_ref(shipment.order_ref)) is not None:
        refresh_order_rollups(repo, order)
    where = f" at {data.location}" if data.location else ""
    return Projection(
        _refs(shipment.order_ref), summary=f"{data.carrier} scan: {data.status}{where}"
    )


def _inventory(repo: CommerceRepository, data: InventoryLevelData, *, at: datetime) -> Projection:
    position = repo.inventory(data.sku, data.location)
    if position is None:
        repo.add(
            InventoryPosition(
                sku=data.sku,
                location=data.location,
                available=data.available,
                on_hand=data.on_hand,
                as_of=at,
            )
        )
    elif at >= position.as_of:
        position.available, position.on_hand, position.as_of = data.available, data.on_hand, at
    else:
        return Projection(frozenset(), summary="older stock level ignored")
    touched: set[str] = set()
    for order, row in repo.waiting_lines(data.sku, data.location):
        _track_shortfall(repo, order, row, available=data.available, at=at)
        touched.add(order.order_ref)
    return Projection(
        frozenset(touched), summary=f"stock {data.sku}@{data.location} = {data.available}"
    )


def _track_shortfall(
    repo: CommerceRepository, order: Order, row: OrderLineRow, *, available: int, at: datetime
) -> None:
    """Keep when the line's latest shortfall began and ended (substitution reads both)."""
    location = row.location or order.location
    if any(s.origin_location == location for s in repo.shipments_for(order.order_ref)):
        return
    if row.quantity > available:
        if row.short_since is None or row.short_cleared_at is not None:
            row.short_since, row.short_cleared_at = max(at, order.placed_at), None
    else:
        _end_shortfall(row, at=at)


def _end_shortfall(row: OrderLineRow, *, at: datetime) -> None:
    if row.short_since is not None and row.short_cleared_at is None:
        row.short_cleared_at = max(at, row.short_since)


def _stamp_payment(payment: Payment, data: PaymentData, *, at: datetime) -> None:
    """Remember when money was first held, taken and fully returned, whatever arrives late."""
    if data.status is PaymentStatus.AUTHORIZED and (
        payment.authorized_at is None or at < payment.authorized_at
    ):
        payment.authorized_at = at
    if data.status in CAPTURED_STATUSES and (
        payment.captured_at is None or at < payment.captured_at
    ):
        payment.captured_at = at
    fully = data.amount_refunded_minor > 0 and data.amount_refunded_minor >= data.amount_minor
    if fully and (payment.refunded_at is None or at < payment.refunded_at):
        payment.refunded_at = at


def _ticket(repo: CommerceRepository, data: TicketData, *, at: datetime) -> Projection:
    ticket = repo.ticket(data.source, data.ticket_ref)
    if ticket is None:
        ticket = SupportTicket(
            source=data.source, ticket_ref=data.ticket_ref, opened_at=at, source_updated_at=at
        )
        repo.add(ticket)
    ticket.opened_at = min(ticket.opened_at, at)  # an older update may arrive after a newer
    if at < ticket.source_updated_at:
        return Projection(_refs(ticket.order_ref), summary="older ticket update ignored")
    ticket.order_ref = data.order_ref or ticket.order_ref
    ticket.customer_email = data.customer_email or ticket.customer_email
    ticket.subject = data.subject or ticket.subject
    ticket.body = data.body or ticket.body
    ticket.status = data.status
    ticket.source_updated_at = at
    return Projection(_refs(ticket.order_ref), summary=f"ticket {data.ticket_ref} {data.status}")


def refresh_order_rollups(repo: CommerceRepository, order: Order) -> None:
    """Recompute the order's money and delivery roll-ups from its payments and shipments."""
    payments = repo.payments_for(order.order_ref)
    order.financial_status = derive_financial_status([payment_fact(p) for p in payments])
    shipments = repo.shipments_for(order.order_ref)
    if not shipments:
        order.fulfillment_status, order.delivered_at = FulfillmentStatus.UNFULFILLED, None
    elif all(s.delivered_at is not None for s in shipments):
        order.fulfillment_status = FulfillmentStatus.DELIVERED
        order.delivered_at = max(s.delivered_at for s in shipments if s.delivered_at is not None)
    else:
        order.fulfillment_status, order.delivered_at = FulfillmentStatus.SHIPPED, None


def payment_fact(payment: Payment) -> PaymentFact:
    return PaymentFact(
        payment_ref=payment.payment_ref,
        provider=payment.provider,
        status=PaymentStatus(payment.status),
        amount_minor=payment.amount_minor,
        amount_refunded_minor=payment.amount_refunded_minor,
        currency=payment.currency,
        status_at=payment.status_at,
        failure_code=payment.failure_code,
        failure_message=payment.failure_message,
        created_at=payment.created_at,
        authorized_at=payment.authorized_at,
        captured_at=payment.captured_at,
        refunded_at=payment.refunded_at,
    )


def _refs(order_ref: str | None) -> frozenset[str]:
    return frozenset({order_ref}) if order_ref else frozenset()
