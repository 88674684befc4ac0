"""Give the rows stored before resolve existed (migration 0016) the names they would have
registered had they arrived since: orders, customers, payments, shipments and tickets.

Without this, a dispute naming a PaymentIntent stored last month, or a carrier scan for a
shipment created before the upgrade, would wait for an alias that is never registered.
Registering is idempotent, so running it twice adds nothing; every record already waiting
on a key it registers goes back to pending, to be resolved on the next pass.

The names are those the projector registers from what the tables hold (the aliases a
provider sent beside them, a checkout token say, were never stored and cannot be
recovered here).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from orderops.domain.aliases import Entity
from orderops.resolve.aliases import (
    AliasStore,
    Names,
    customer_names,
    is_shopify,
    order_names,
    payment_names,
    shipment_names,
    ticket_names,
)
from orderops.resolve.waits import release
from orderops.storage.repositories.resolve import ResolveRepository
from orderops.storage.tables import (
    Customer,
    CustomerIdentity,
    Order,
    Payment,
    Shipment,
    SupportTicket,
)
from orderops.storage.uow import UnitOfWork

BATCH = 500


@dataclass
class BackfillReport:
    scanned: dict[str, int] = field(default_factory=dict)
    """Rows read per entity type."""
    registered: dict[str, int] = field(default_factory=dict)
    """Aliases newly registered per entity type (0 everywhere on a second run)."""
    released: int = 0
    """Inbox rows that were waiting on one of the new aliases, now pending again."""

    @property
    def total_registered(self) -> int:
        return sum(self.registered.values())


def backfill_aliases(uow: UnitOfWork, *, now: datetime) -> BackfillReport:
    """Register the names of every stored order, customer, payment, shipment and ticket."""
    store = AliasStore(ResolveRepository(uow.session, uow.tenant_id))
    report = BackfillReport()
    new_keys: list[str] = []
    for entity, names, entity_ref, source in _entities(uow):
        report.scanned[entity] = report.scanned.get(entity, 0) + 1
        keys = store.register_all(
            names, entity_type=entity, entity_ref=entity_ref, source=source, inbox_id=None, now=now
        )
        report.registered[entity] = report.registered.get(entity, 0) + len(keys)
        new_keys += keys
    report.released = len(release(uow, new_keys))
    return report


def _entities(uow: UnitOfWork) -> Iterator[tuple[Entity, Names, str, str]]:
    """(entity type, its names, its canonical ref, the source to record) for every row,
    named and referred to exactly as the projector does (``resolve.aliases``)."""
    for order in _each(uow, Order):
        names = order_names(order.order_ref, order.number, order.source)
        yield Entity.ORDER, names, order.order_ref, order.source
    yield from _customers(uow)
    for payment in _each(uow, Payment):
        names = payment_names(payment.provider, payment.payment_ref)
        yield Entity.PAYMENT, names, payment.id, payment.provider
    for shipment in _each(uow, Shipment):
        source = _shipment_source(uow, shipment)
        names = shipment_names(shipment.tracking_number, shipment.shipment_ref, source)
        yield Entity.SHIPMENT, names, shipment.id, source
    for ticket in _each(uow, SupportTicket):
        if names := ticket_names(ticket.source, ticket.ticket_ref):
            yield Entity.TICKET, names, ticket.id, ticket.source


def _customers(uow: UnitOfWork) -> Iterator[tuple[Entity, Names, str, str]]:
    tenant = uow.tenant_id
    query = (
        select(CustomerIdentity, Customer)
        .join(Customer, Customer.id == CustomerIdentity.customer_id)
        .where(CustomerIdentity.tenant_id == tenant, Customer.tenant_id == tenant)
        .order_by(CustomerIdentity.id)
    )
    for identity, customer in uow.session.execute(query).all():
        names = customer_names(identity.external_ref, identity.source, customer.email)
        yield Entity.CUSTOMER, names, customer.id, identity.source


def _shipment_source(uow: UnitOfWork, shipment: Shipment) -> str:
    """Who sent the shipment, which its row does not keep: the projector names a Shopify
    fulfillment's id as such, any other as the carrier's. A shipment of a Shopify order
    came from Shopify."""
    order = uow.commerce.order_by_ref(shipment.order_ref) if shipment.order_ref else None
    if order is not None and is_shopify(order.source):
        return order.source
    return shipment.carrier


def _each(uow: UnitOfWork, model: Any) -> Iterator[Any]:
    """Every row of ``model`` of the tenant, by id, a batch at a time (a store's whole
    history does not have to fit in memory, and registering between batches is safe)."""
    last = ""
    while True:
        rows = uow.session.scalars(
            select(model)
            .where(model.tenant_id == uow.tenant_id, model.id > last)
            .order_by(model.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].id
