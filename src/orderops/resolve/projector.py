"""Apply canonical events, already resolved, to the current commerce state.

Every update compares the event's own time with the time of the state it would
replace, so a late-arriving older event never overwrites newer state. Payments,
shipments and tickets link to orders by ``order_ref`` rather than a foreign key, so
they can arrive before their order and still be found once it does. Resolve
(``resolve/linker.py``) has already put the canonical order ref (and SKU) on the event;
projecting an entity registers its names in the alias store, so records that name it
their own way find it next.
"""

from __future__ import annotations

from datetime import datetime

from orderops.domain.aliases import Entity
from orderops.domain.errors import InvalidEvent
from orderops.domain.events import (
    AliasData,
    CatalogItemData,
    CustomerData,
    EventType,
    FraudSignalData,
    FulfillmentHoldData,
    InventoryLevelData,
    OrderCancelledData,
    OrderData,
    PaymentData,
    RefundData,
    ShipmentData,
    TicketData,
    TrackingData,
)
from orderops.domain.facts import CAPTURED_STATUSES
from orderops.domain.statuses import (
    FinancialStatus,
    FulfillmentStatus,
    OrderStatus,
    PaymentStatus,
)
from orderops.ingest.envelope import CanonicalEvent
from orderops.resolve.aliases import (
    SOURCE_ID_KINDS,
    AliasStore,
    Target,
    customer_names,
    order_names,
    pairs,
    payment_names,
    system_of,
    ticket_names,
)
from orderops.resolve.order_scope import place_order
from orderops.resolve.projection import Projection, refs
from orderops.resolve.promise import promise
from orderops.resolve.reads import refund as refund_of
from orderops.resolve.rollups import payment_fact, refresh_order_rollups
from orderops.resolve.shipping import project_hold, project_shipment, project_tracking
from orderops.resolve.stock import judge_lines, project_catalog, project_inventory
from orderops.resolve.ticket_classes import classify_stored_ticket
from orderops.storage.repositories.loaded import loaded_rows
from orderops.storage.repositories.resolve import ResolveRepository
from orderops.storage.tables import (
    Customer,
    CustomerIdentity,
    FraudSignal,
    Order,
    OrderLineRow,
    OrderRefund,
    Payment,
    SupportTicket,
)
from orderops.storage.uow import UnitOfWork

__all__ = ["SOURCE_ID_KINDS", "Projection", "payment_fact", "project", "refresh_order_rollups"]


def project(
    uow: UnitOfWork,
    event: CanonicalEvent,
    *,
    inbox_id: str,
    now: datetime,
    target: Target | None = None,
) -> Projection:
    """Apply one resolved event (``target``: the entity an ``alias.observed`` names)."""
    data, at = event.payload, event.envelope.time
    source = event.envelope.source
    store = AliasStore(ResolveRepository(uow.session, uow.tenant_id), loaded_rows(uow.session))
    names = _Names(store, source=source, inbox_id=inbox_id, now=now)
    repo = uow.commerce
    match event.type:
        case EventType.ORDER_PLACED | EventType.ORDER_UPDATED:
            assert isinstance(data, OrderData)
            return _order(uow, names, data, source=source, at=at, now=now)
        case EventType.ORDER_CANCELLED:
            assert isinstance(data, OrderCancelledData)
            return _cancel(uow, data, at=at, now=now)
        case EventType.PAYMENT_UPDATED:
            assert isinstance(data, PaymentData)
            return _payment(uow, names, data, at=at)
        case EventType.SHIPMENT_CREATED:
            assert isinstance(data, ShipmentData)
            return project_shipment(
                uow, store, data, source=source, at=at, inbox_id=inbox_id, now=now
            )
        case EventType.SHIPMENT_TRACKING:
            assert isinstance(data, TrackingData)
            return project_tracking(uow, store, data, source=source, inbox_id=inbox_id, now=now)
        case EventType.INVENTORY_LEVEL:
            assert isinstance(data, InventoryLevelData)
            return project_inventory(repo, data, at=at)
        case EventType.CUSTOMER_UPSERTED:
            assert isinstance(data, CustomerData)
            _customer(uow, names, data, source=source, at=at)
            return Projection(
                frozenset(),
                summary=f"customer {data.customer_ref} updated",
                new_keys=names.new_keys,
            )
        case EventType.TICKET_UPDATED:
            assert isinstance(data, TicketData)
            return _ticket(uow, names, data, at=at)
        case EventType.FRAUD_SIGNAL:
            assert isinstance(data, FraudSignalData)
            return _fraud_signal(uow, data, inbox_id=inbox_id, at=at)
        case EventType.CATALOG_ITEM:
            assert isinstance(data, CatalogItemData)
            return project_catalog(store, data, source=source, inbox_id=inbox_id, now=now)
        case EventType.ORDER_REFUND:
            assert isinstance(data, RefundData)
            return _refund(uow, data, source=source, inbox_id=inbox_id, at=at)
        case EventType.FULFILLMENT_HOLD:
            assert isinstance(data, FulfillmentHoldData)
            return project_hold(uow, data, source=source, at=at)
        case EventType.ALIAS_OBSERVED:
            assert isinstance(data, AliasData)
            return _alias(names, data, target=target)
    raise AssertionError(f"unhandled event type {event.type}")  # pragma: no cover


class _Names:
    """Registers an event's entity names, collecting the keys that are new."""

    def __init__(self, store: AliasStore, *, source: str, inbox_id: str, now: datetime) -> None:
        self.store, self._source, self._inbox_id, self._now = store, source, inbox_id, now
        self._new: list[str] = []

    def add(self, names: list[tuple[str, str]], entity_type: str, entity_ref: str) -> None:
        self._new += self.store.register_all(
            names,
            entity_type=entity_type,
            entity_ref=entity_ref,
            source=self._source,
            inbox_id=self._inbox_id,
            now=self._now,
        )

    def gained_order(self, entity_type: str, entity_ref: str) -> None:
        """The entity now belongs to an order: whoever named it may find the order now."""
        self._new += self.store.keys_of(entity_type, entity_ref)

    @property
    def new_keys(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self._new))


def _customer(
    uow: UnitOfWork, names: _Names, data: CustomerData, *, source: str, at: datetime
) -> Customer:
    repo = uow.commerce
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
        customer.locale = data.locale or customer.locale
        customer.updated_at = at
    names.add(
        customer_names(data.customer_ref, source, email) + pairs(data.aliases),
        Entity.CUSTOMER,
        customer.id,
    )
    return customer


def _order(
    uow: UnitOfWork,
    names: _Names,
    data: OrderData,
    *,
    source: str,
    at: datetime,
    now: datetime,
) -> Projection:
    repo = uow.commerce
    order = repo.order_by_ref(data.order_ref)
    customer = _customer(uow, names, data.customer, source=source, at=at) if data.customer else None
    keys = order_names(data.order_ref, data.number, source)
    names.add(keys + pairs(data.aliases), Entity.ORDER, data.order_ref)
    promised = promise(  # read before the new row is added: a query would flush it half-made
        uow, sent=data.promised_by, service_level=data.service_level, placed_at=data.placed_at
    )
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
        return Projection(
            frozenset({data.order_ref}),
            summary="older order update ignored",
            new_keys=names.new_keys,
        )
    order.number = data.number
    order.customer_id = customer.id if customer is not None else order.customer_id
    order.currency = data.currency
    order.total_minor = data.total_minor
    order.placed_at = data.placed_at
    order.promised_by, order.promise_source = promised
    order.service_level = data.service_level
    order.location = data.location
    order.ship_to = data.ship_to.model_dump() if data.ship_to else None
    place_order(
        uow,
        order,
        store=data.store or source,
        channel=data.channel,
        country=data.ship_to.country if data.ship_to else None,
        tags=data.tags,
        created=created,
    )
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
    judge_lines(repo, order, at=at)
    refresh_order_rollups(repo, order)
    verb = "placed" if created else "updated"
    return Projection(
        frozenset({data.order_ref}),
        summary=f"order {order.number or order.order_ref} {verb}",
        new_keys=names.new_keys,
    )


def _cancel(
    uow: UnitOfWork, data: OrderCancelledData, *, at: datetime, now: datetime
) -> Projection:
    order = uow.commerce.order_by_ref(data.order_ref)
    if order is None:  # resolve defers a cancellation until its order is here
        raise InvalidEvent(f"cancellation of unknown order {data.order_ref}")
    if order.status != OrderStatus.CANCELLED:
        order.status = OrderStatus.CANCELLED
        order.cancelled_at = at
        order.updated_at = now
    reason = f": {data.reason}" if data.reason else ""
    return Projection(frozenset({data.order_ref}), summary=f"order cancelled{reason}")


def _payment(uow: UnitOfWork, names: _Names, data: PaymentData, *, at: datetime) -> Projection:
    repo = uow.commerce
    payment = repo.payment(data.provider, data.payment_ref)
    if payment is None:
        payment = Payment(
            provider=data.provider, payment_ref=data.payment_ref, status_at=at, created_at=at
        )
        repo.add(payment)
    payment.created_at = min(payment.created_at, at)  # first seen by provider time, not arrival
    _stamp_payment(payment, data, at=at)
    before = payment.order_ref
    if data.order_ref and (before is None or at >= payment.status_at):
        payment.order_ref = data.order_ref  # a link found late still counts, unless outdated
    if at < payment.status_at:
        summary = "older payment update ignored"
    else:
        payment.status = data.status
        payment.amount_minor = data.amount_minor
        payment.amount_refunded_minor = data.amount_refunded_minor
        payment.currency = data.currency
        payment.failure_code = data.failure_code
        payment.failure_message = data.failure_message
        payment.status_at = at
        summary = f"payment {data.payment_ref} {data.status}"
    repo.flush()
    entity_ref = payment.id
    keys = payment_names(data.provider, data.payment_ref)
    names.add(keys + pairs(data.aliases), Entity.PAYMENT, entity_ref)
    if payment.order_ref and payment.order_ref != before:
        names.gained_order(Entity.PAYMENT, entity_ref)
    order_refs = refs(payment.order_ref, before)
    for ref in sorted(order_refs):
        if (order := repo.order_by_ref(ref)) is not None:
            refresh_order_rollups(repo, order)
    return Projection(order_refs, summary=summary, new_keys=names.new_keys)


def _stamp_payment(payment: Payment, data: PaymentData, *, at: datetime) -> None:
    """Remember when money was first held, declined, taken and fully returned, whatever
    arrives late."""
    if data.status is PaymentStatus.FAILED and (
        payment.failed_at is None or at < payment.failed_at
    ):
        payment.failed_at = at
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


def _ticket(uow: UnitOfWork, names: _Names, data: TicketData, *, at: datetime) -> Projection:
    repo = uow.commerce
    ticket = repo.ticket(data.source, data.ticket_ref)
    if ticket is None:
        ticket = SupportTicket(
            source=data.source, ticket_ref=data.ticket_ref, opened_at=at, source_updated_at=at
        )
        repo.add(ticket)
    ticket.opened_at = min(ticket.opened_at, at)  # an older update may arrive after a newer
    before = ticket.order_ref
    if data.order_ref and (before is None or at >= ticket.source_updated_at):
        ticket.order_ref = data.order_ref
    if at < ticket.source_updated_at:
        summary = "older ticket update ignored"
    else:
        ticket.customer_email = data.customer_email or ticket.customer_email
        text_before = (ticket.subject, ticket.body)
        ticket.subject = data.subject or ticket.subject
        ticket.body = data.body or ticket.body
        ticket.status = data.status
        ticket.source_updated_at = at
        summary = f"ticket {data.ticket_ref} {data.status}"
        if ticket.ticket_class is None or (ticket.subject, ticket.body) != text_before:
            classify_stored_ticket(uow, ticket)
    repo.flush()
    entity_ref = ticket.id
    names.add(ticket_names(data.source, data.ticket_ref), Entity.TICKET, entity_ref)
    if ticket.order_ref and ticket.order_ref != before:
        names.gained_order(Entity.TICKET, entity_ref)
    return Projection(refs(ticket.order_ref, before), summary=summary, new_keys=names.new_keys)


def _fraud_signal(
    uow: UnitOfWork, data: FraudSignalData, *, inbox_id: str, at: datetime
) -> Projection:
    if data.order_ref is None:  # resolve defers a signal until its order is known
        raise InvalidEvent(f"fraud signal {data.signal_ref or data.kind} names no order")
    uow.commerce.add(
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


def _refund(
    uow: UnitOfWork, data: RefundData, *, source: str, inbox_id: str, at: datetime
) -> Projection:
    """Money the store returned: a refund row of the order, never a second payment."""
    if data.order_ref is None:  # resolve defers a refund until its order is known
        raise InvalidEvent(f"refund {data.refund_ref} names no order")
    repo = ResolveRepository(uow.session, uow.tenant_id)
    source = system_of(source)  # the refund is "system:ref" in links: short and stable
    refund = refund_of(uow, source, data.refund_ref)
    before = refund.order_ref if refund is not None else None
    if refund is None:
        refund = OrderRefund(
            source=source,
            refund_ref=data.refund_ref,
            order_ref=data.order_ref,
            amount_minor=data.amount_minor,
            currency=data.currency,
            reason=data.reason,
            processed_at=at,
            inbox_id=inbox_id,
        )
        repo.add(refund)
    elif at >= refund.processed_at:
        refund.order_ref = data.order_ref
        refund.amount_minor, refund.currency = data.amount_minor, data.currency
        refund.reason = data.reason or refund.reason
        refund.processed_at, refund.inbox_id = at, inbox_id
    repo.flush()
    for ref in sorted(refs(refund.order_ref, before)):
        if (order := uow.commerce.order_by_ref(ref)) is not None:
            refresh_order_rollups(uow.commerce, order)
    amount = f"{data.amount_minor} {data.currency} minor units"
    return Projection(refs(refund.order_ref, before), summary=f"refund {data.refund_ref}: {amount}")


def _alias(names: _Names, data: AliasData, *, target: Target | None) -> Projection:
    named = f"{data.entity.kind} {data.entity.value}"
    if target is None:
        return Projection(frozenset(), summary=f"{named} names several entities; nothing learnt")
    entity_type, entity_ref = target
    names.add(pairs(data.aliases), entity_type, entity_ref)
    learnt = ", ".join(f"{k.kind} {k.value}" for k in data.aliases) or "nothing new"
    order_refs: frozenset[str] = frozenset()
    if entity_type == Entity.ORDER:
        order_refs = frozenset({entity_ref})
    return Projection(order_refs, summary=f"{named} is also {learnt}", new_keys=names.new_keys)
