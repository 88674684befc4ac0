"""Linking tickets and payments that came without an order ref to their orders.

Writes one ``OrderLink`` per record it can place (never touching the projected rows, so
the provider's own data stays as the provider sent it); records already linked are left
alone, so running it again only looks at what is new.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from orderops.domain.clock import Clock
from orderops.resolve.identity.order_refs import (
    PAYMENT_SKEW,
    PAYMENT_WINDOW,
    OrderCandidate,
    match_payment,
    order_number_digits,
    order_numbers_in,
    tracking_numbers_in,
)
from orderops.resolve.identity.store import IdentityStore
from orderops.storage.tables import Order, Payment, Shipment, SupportTicket
from orderops.storage.tables.identity import OrderLink
from orderops.storage.uow import UnitOfWork


@dataclass
class OrderLinkReport:
    tickets: int = 0
    payments: int = 0
    ambiguous_payments: int = 0
    methods: dict[str, int] = field(default_factory=dict)


def link_orphans(uow: UnitOfWork, *, clock: Clock) -> OrderLinkReport:
    """Tie unreferenced tickets and payments to orders; see ``order_refs`` for the rules."""
    session, tenant = uow.session, uow.tenant_id
    identity = IdentityStore(session, tenant)
    report = OrderLinkReport()
    now = clock.now()

    def add(record_type: str, record_id: str, order_id: str, method: str, evidence: str) -> None:
        identity.add_order_link(
            OrderLink(
                record_type=record_type,
                record_id=record_id,
                order_id=order_id,
                method=method,
                evidence=evidence,
                created_at=now,
            )
        )
        report.methods[method] = report.methods.get(method, 0) + 1

    linked_tickets = identity.order_linked("ticket")
    tickets = session.scalars(
        select(SupportTicket).where(
            SupportTicket.tenant_id == tenant, SupportTicket.order_ref.is_(None)
        )
    ).all()
    if tickets:
        orders = session.execute(
            select(Order.number, Order.id).where(
                Order.tenant_id == tenant, Order.number.is_not(None)
            )
        ).all()
        by_number = {order_number_digits(number): order_id for number, order_id in orders}
        shipments = session.execute(
            select(Shipment.tracking_number, Order.id)
            .join(Order, (Order.order_ref == Shipment.order_ref) & (Order.tenant_id == tenant))
            .where(Shipment.tenant_id == tenant)
        ).all()
        by_tracking = {tracking: order_id for tracking, order_id in shipments}
        for ticket in tickets:
            if ticket.id in linked_tickets:
                continue
            text = f"{ticket.subject or ''}\n{ticket.body or ''}"
            numbers = [n for n in order_numbers_in(text) if n in by_number]
            tracking = tracking_numbers_in(text, by_tracking)
            if len(numbers) == 1:
                add("ticket", ticket.id, by_number[numbers[0]], "order_number", f"#{numbers[0]}")
            elif not numbers and len(tracking) == 1:
                add("ticket", ticket.id, by_tracking[tracking[0]], "tracking_number", tracking[0])
            else:
                continue
            report.tickets += 1

    linked_payments = identity.order_linked("payment")
    payments = session.scalars(
        select(Payment).where(Payment.tenant_id == tenant, Payment.order_ref.is_(None))
    ).all()
    for payment in payments:
        if payment.id in linked_payments:
            continue
        rows = session.execute(
            select(
                Order.id, Order.order_ref, Order.currency, Order.total_minor, Order.placed_at
            ).where(
                Order.tenant_id == tenant,
                Order.currency == payment.currency,
                Order.total_minor == payment.amount_minor,
                Order.placed_at >= payment.created_at - PAYMENT_WINDOW,
                Order.placed_at <= payment.created_at + PAYMENT_SKEW,
            )
        ).all()
        match = match_payment(
            amount_minor=payment.amount_minor,
            currency=payment.currency,
            at=payment.created_at,
            orders=[OrderCandidate(*row) for row in rows],
        )
        if match.order is None:
            report.ambiguous_payments += match.candidates > 1
            continue
        add("payment", payment.id, match.order.order_id, "amount_time", match.rule)
        report.payments += 1
    return report
