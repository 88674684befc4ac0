"""Reading what the vendors need to know about a case's order, at approval time.

``vendor_effects`` is pure; this is its one read: the order's address and warehouse, the
customer's email and the Zendesk tickets still open about the order, all from the
projected state in the approving transaction, so the rows queued and the facts they
expect come from the same moment as the decision.
"""

from __future__ import annotations

from collections.abc import Sequence

from orderops.domain.actions import ActionContext, Effect
from orderops.storage.tables import Case, Customer
from orderops.storage.uow import UnitOfWork
from orderops.writeback.vendor_effects import (
    CLOSED_TICKET,
    VendorEffect,
    VendorFacts,
    vendor_effects,
)

ZENDESK = "zendesk"


def read_vendor_facts(uow: UnitOfWork, case: Case) -> VendorFacts:
    order = uow.commerce.order(case.order_id)
    if order is None:
        return VendorFacts()
    customer = uow.session.get(Customer, order.customer_id) if order.customer_id else None
    tickets = [
        t
        for t in uow.commerce.tickets_for(order.order_ref)
        if t.source == ZENDESK and t.status not in CLOSED_TICKET and t.ticket_ref.isdigit()
    ]
    tickets.sort(key=lambda t: t.source_updated_at, reverse=True)
    origin = order.location or next((line.location for line in order.lines if line.location), None)
    return VendorFacts(
        ship_to=order.ship_to or (customer.address if customer is not None else None),
        origin=origin,
        customer_email=customer.email if customer is not None else None,
        open_tickets=tuple(t.ticket_ref for t in tickets),
        financial_status=order.financial_status,
    )


def queued_effects(
    uow: UnitOfWork, case: Case, effects: Sequence[Effect], context: ActionContext
) -> list[VendorEffect]:
    """The outbox rows an approval of ``effects`` on ``case`` queues (UnmappableEffect if any
    effect cannot reach a vendor)."""
    return vendor_effects(effects, context, read_vendor_facts(uow, case))
