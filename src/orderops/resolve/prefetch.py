"""Load what a chunk's events will read, before the first of them is applied.

The events of a chunk name their orders, payments, parcels, tickets, customers, SKUs and
the keys they are known by. One pass over them collects those names; a few IN-queries
then load the rows they lead to (with what each query answers in full, see
``storage/repositories/loaded.py``): the aliases of every key, the records they name,
the orders, the records and cases of those orders, the stock of their SKUs, the
customers, the record links and suggestions, who waits on which key, and the policy in
force. The events are then applied one by one as before, and find what they read in the
session instead of asking for it.

This is a forecast, not a contract: a name missed here is read with a query when the
event asks for it, so a forecast that is too small costs queries, never correctness.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from orderops.domain.aliases import Entity, normalise
from orderops.domain.errors import InvalidEvent
from orderops.domain.events import (
    AliasData,
    CatalogItemData,
    CustomerData,
    ExternalKey,
    FraudSignalData,
    FulfillmentHoldData,
    InventoryLevelData,
    OrderData,
    PaymentData,
    RefundData,
    ShipmentData,
    TicketData,
    TrackingData,
)
from orderops.ingest.envelope import CanonicalEvent
from orderops.resolve.aliases import (
    KEY_MAX,
    AliasStore,
    Names,
    Target,
    customer_names,
    known_kind,
    order_names,
    pairs,
    payment_names,
    shipment_names,
    system_of,
    ticket_names,
)
from orderops.resolve.links import record_ref
from orderops.resolve.policy_in_force import policy_in_force
from orderops.resolve.waits import learn_waits
from orderops.storage.repositories.loaded import LoadedRows
from orderops.storage.repositories.prefetch import ChunkReads
from orderops.storage.repositories.resolve import ResolveRepository
from orderops.storage.uow import UnitOfWork


@dataclass
class ChunkNames:
    """Everything a chunk's events name, as the reads below take it."""

    orders: set[str] = field(default_factory=set)
    payments: set[str] = field(default_factory=set)
    tracking: set[str] = field(default_factory=set)
    tickets: set[str] = field(default_factory=set)
    customers: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)
    skus: set[str] = field(default_factory=set)
    records: set[str] = field(default_factory=set)
    """Refs of the records resolve links (``system:ref``)."""
    keys: set[tuple[str, str]] = field(default_factory=set)
    """(kind, normalised key) of every name looked up or registered."""
    stock_levels: set[str] = field(default_factory=set)
    """SKUs of stock levels: the open orders with a line of them are judged again."""

    def key(self, names: Names) -> None:
        for kind, value in names:
            try:
                known_kind(kind)
            except InvalidEvent:
                continue  # the event fails on it when applied, and says why
            normal = normalise(kind, value)
            if normal is not None and len(normal) <= KEY_MAX:
                self.keys.add((kind, normal))

    def order(self, order_ref: str | None) -> None:
        if order_ref:
            self.orders.add(order_ref)

    def customer(self, data: CustomerData, source: str) -> None:
        self.customers.add(data.customer_ref)
        email = data.email.strip().lower() if data.email else None
        if email:
            self.emails.add(email)
        self.key(customer_names(data.customer_ref, source, email) + pairs(data.aliases))


def names_of(events: Iterable[CanonicalEvent]) -> ChunkNames:
    """What the events will look up, by type (the projector's and resolve's names)."""
    names = ChunkNames()
    for event in events:
        data, source = event.payload, event.envelope.source
        names.order(getattr(data, "order_ref", None))
        keys: list[ExternalKey] = list(getattr(data, "order_keys", ()))
        keys += getattr(data, "aliases", ())
        names.key(pairs(keys))
        if isinstance(data, OrderData):
            names.key(order_names(data.order_ref, data.number, source))
            names.skus.update(line.sku for line in data.lines)
            if data.customer is not None:
                names.customer(data.customer, source)
        elif isinstance(data, CustomerData):
            names.customer(data, source)
        elif isinstance(data, PaymentData):
            names.payments.add(data.payment_ref)
            names.key(payment_names(data.provider, data.payment_ref))
            names.records.add(record_ref(data.provider, data.payment_ref))
        elif isinstance(data, ShipmentData):
            names.tracking.add(data.tracking_number)
            names.key(shipment_names(data.tracking_number, data.shipment_ref, source))
            names.records.add(record_ref(data.carrier, data.tracking_number))
        elif isinstance(data, TrackingData):
            names.tracking.add(data.tracking_number)
            names.key([("tracking", data.tracking_number)])
        elif isinstance(data, TicketData):
            names.tickets.add(data.ticket_ref)
            names.key(ticket_names(data.source, data.ticket_ref))
            names.records.add(record_ref(data.source, data.ticket_ref))
            if data.customer_email and data.customer_email.strip():
                email = data.customer_email.strip().lower()
                names.emails.add(email)
                names.key([("email", email)])
        elif isinstance(data, FraudSignalData):
            ref = data.signal_ref or event.envelope.id
            names.records.add(record_ref(system_of(source), ref))
        elif isinstance(data, RefundData):
            names.records.add(record_ref(system_of(source), data.refund_ref))
        elif isinstance(data, FulfillmentHoldData):
            names.records.add(record_ref(system_of(source), data.fulfillment_order_ref))
        elif isinstance(data, InventoryLevelData):
            if data.sku is not None:
                names.skus.add(data.sku)
                names.stock_levels.add(data.sku)
            if data.item_key is not None:
                names.key(pairs([data.item_key]))
        elif isinstance(data, CatalogItemData):
            names.skus.add(data.sku)
            names.key([("sku", data.sku)])
        elif isinstance(data, AliasData):
            names.key(pairs([data.entity]))
    return names


def prefetch(uow: UnitOfWork, loaded: LoadedRows, events: Iterable[CanonicalEvent]) -> None:
    """Load, in a few set-based reads, the rows the events will read."""
    names = names_of(events)
    reads = ChunkReads(uow.session, loaded)
    named = reads.aliases(names.keys)
    ids: dict[str, set[str]] = {entity: set() for entity in Entity}
    for targets in named.values():
        for entity_type, entity_ref in targets:
            ids.setdefault(entity_type, set()).add(entity_ref)
    names.orders |= ids[Entity.ORDER]
    names.skus |= ids[Entity.SKU]
    records: dict[Target, str | None] = {}
    for entity, found in (
        (Entity.PAYMENT, reads.payments(names.payments, ids[Entity.PAYMENT])),
        (Entity.SHIPMENT, reads.shipments(names.tracking, ids[Entity.SHIPMENT])),
        (Entity.TICKET, reads.tickets(names.tickets, ids[Entity.TICKET])),
    ):
        records |= {(entity, record.id): record.order_ref for record in found}
    names.orders |= {ref for ref in records.values() if ref}
    # A record gaining an order releases whoever waits on any of its keys.
    AliasStore(ResolveRepository(uow.session, uow.tenant_id), loaded).learn(
        named, reads.keys_of(list(records))
    )
    names.orders |= reads.orders_waiting_for(names.stock_levels | ids[Entity.SKU])
    orders = reads.orders(names.orders)
    reads.records_of_orders(names.orders)
    reads.cases({order.id for order in orders})
    reads.stock(names.skus | {line.sku for order in orders for line in order.lines})
    customer_ids = ids[Entity.CUSTOMER] | {o.customer_id for o in orders if o.customer_id}
    reads.customers(names.customers, names.emails, customer_ids)
    reads.record_links(names.records)
    learn_waits(uow, (f"{kind}:{key}" for kind, key in names.keys))
    policy_in_force(uow)
