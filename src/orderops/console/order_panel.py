"""The customer beside the order, for the case page: who they are, what they are worth,
what happened to them before; the order's lines, payments, parcels with their scans and
tickets in the customer's words; and links into each provider's own admin.

Read in a fixed number of queries whatever the order holds (scans for every parcel in
one IN query, the customer's cases and remedies in one each), so the page stays fast.
The order history on the timeline is built from the same rows (``case_view``).

Deep links are built only from what is known: the Shopify admin from the tenant's
Shopify connection's shop domain (``*.myshopify.com``), a Zendesk ticket from its
``*.zendesk.com`` subdomain, a Stripe payment from the dashboard (test mode when the
connection or the payment id says so). A connection to a sandbox gives no link: a link
that leads nowhere is worse than none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import quote, urlsplit

from sqlalchemy import func, select

from orderops.console.order_names import order_name_of
from orderops.domain.actions import WAS_APPROVED, catalogue
from orderops.domain.cases import CLOSED_STATUSES
from orderops.domain.statuses import OrderStatus
from orderops.storage.tables import (
    Action,
    Case,
    Customer,
    Order,
    Payment,
    Shipment,
    SupportTicket,
    TrackingEvent,
)
from orderops.storage.tables.vendor_connections import VendorConnection
from orderops.storage.uow import UnitOfWork

RECENT = 10
MONEY_KINDS = [str(k) for k, spec in catalogue().items() if spec.moves_money]


@dataclass(frozen=True, kw_only=True)
class PastCase:
    id: str
    order_name: str
    exception_type: str
    status: str
    opened_at: datetime


@dataclass(frozen=True, kw_only=True)
class PastRemedy:
    case_id: str
    order_name: str
    kind: str
    amount_minor: int
    status: str
    at: datetime


@dataclass(frozen=True, kw_only=True)
class CustomerPanel:
    customer: Customer
    orders: int
    lifetime_value_minor: int
    open_cases: list[PastCase]
    past_cases: list[PastCase]
    remedies: list[PastRemedy]


@dataclass(frozen=True, kw_only=True)
class Parcel:
    shipment: Shipment
    scans: list[TrackingEvent]


@dataclass(frozen=True, kw_only=True)
class Links:
    order: str | None = None
    payments: dict[str, str] = field(default_factory=dict)
    tickets: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class OrderPanel:
    order: Order
    name: str
    """What people call the order: its number ("#1046"), else its reference."""
    payments: list[Payment]
    parcels: list[Parcel]
    tickets: list[SupportTicket]
    links: Links
    customer: CustomerPanel | None = None


def order_name(order: Order | None, order_ref: str) -> str:
    return order_name_of(order.number) if order is not None and order.number else order_ref


def order_panel(uow: UnitOfWork, order: Order, *, case_id: str) -> OrderPanel:
    payments = list(uow.commerce.payments_for(order.order_ref))
    shipments = list(uow.commerce.shipments_for(order.order_ref))
    scans: dict[str, list[TrackingEvent]] = {s.id: [] for s in shipments}
    if shipments:
        for scan in uow.session.scalars(
            select(TrackingEvent)
            .where(
                TrackingEvent.tenant_id == uow.tenant_id,
                TrackingEvent.shipment_id.in_(list(scans)),
            )
            .order_by(TrackingEvent.occurred_at)
        ):
            scans[scan.shipment_id].append(scan)
    tickets = list(
        uow.session.scalars(
            select(SupportTicket)
            .where(
                SupportTicket.tenant_id == uow.tenant_id,
                SupportTicket.order_ref == order.order_ref,
            )
            .order_by(SupportTicket.opened_at)
        )
    )
    return OrderPanel(
        order=order,
        name=order_name(order, order.order_ref),
        payments=payments,
        parcels=[Parcel(shipment=s, scans=scans[s.id]) for s in shipments],
        tickets=tickets,
        links=deep_links(uow, order, payments, tickets),
        customer=customer_panel(uow, order.customer_id, case_id=case_id)
        if order.customer_id
        else None,
    )


def customer_panel(uow: UnitOfWork, customer_id: str, *, case_id: str) -> CustomerPanel | None:
    customer = uow.session.get(Customer, customer_id)
    if customer is None or customer.tenant_id != uow.tenant_id:
        return None
    count, value = uow.session.execute(
        select(func.count(Order.id), func.coalesce(func.sum(Order.total_minor), 0)).where(
            Order.tenant_id == uow.tenant_id,
            Order.customer_id == customer_id,
            Order.status != OrderStatus.CANCELLED,
        )
    ).one()
    names = {
        ref: order_name_of(number) if number else ref
        for ref, number in uow.session.execute(
            select(Order.order_ref, Order.number).where(
                Order.tenant_id == uow.tenant_id, Order.customer_id == customer_id
            )
        )
    }
    cases = list(
        uow.session.scalars(
            select(Case)
            .where(
                Case.tenant_id == uow.tenant_id,
                Case.order_ref.in_(list(names)),
                Case.id != case_id,
            )
            .order_by(Case.opened_at.desc())
            .limit(4 * RECENT)
        )
    )
    closed = {str(s) for s in CLOSED_STATUSES}
    past = [
        PastCase(
            id=c.id,
            order_name=names.get(c.order_ref, c.order_ref),
            exception_type=c.exception_type,
            status=c.status,
            opened_at=c.opened_at,
        )
        for c in cases
    ]
    return CustomerPanel(
        customer=customer,
        orders=int(count),
        lifetime_value_minor=int(value),
        open_cases=[p for p in past if p.status not in closed][:RECENT],
        past_cases=[p for p in past if p.status in closed][:RECENT],
        remedies=_remedies(uow, names),
    )


def _remedies(uow: UnitOfWork, names: dict[str, str]) -> list[PastRemedy]:
    """The customer's approved money-moving actions, on every order of theirs."""
    rows = uow.session.execute(
        select(Action, Case.order_ref)
        .join(Case, Case.id == Action.case_id)
        .where(
            Action.tenant_id == uow.tenant_id,
            Case.tenant_id == uow.tenant_id,
            Case.order_ref.in_(list(names)),
            Action.kind.in_(MONEY_KINDS),
            Action.status.in_([str(s) for s in WAS_APPROVED]),
        )
        .order_by(Action.created_at.desc())
        .limit(RECENT)
    ).all()
    return [
        PastRemedy(
            case_id=action.case_id,
            order_name=names.get(ref, ref),
            kind=action.kind,
            amount_minor=int(
                ((action.evaluation or {}).get("inputs") or {}).get("amount_minor", 0)
            ),
            status=action.status,
            at=action.decided_at or action.created_at,
        )
        for action, ref in rows
    ]


def deep_links(
    uow: UnitOfWork, order: Order, payments: Sequence[Payment], tickets: Sequence[SupportTicket]
) -> Links:
    connections = {
        system: (base_url, mode)
        for system, base_url, mode in uow.session.execute(
            select(VendorConnection.system, VendorConnection.base_url, VendorConnection.mode).where(
                VendorConnection.tenant_id == uow.tenant_id
            )
        )
    }
    shop = _host(connections.get("shopify"), ".myshopify.com")
    desk = _host(connections.get("zendesk"), ".zendesk.com")
    stripe_test = connections.get("stripe", ("", "live"))[1] == "test"
    order_link = None
    if shop and (order.source == "shopify" or order.order_ref.isdigit()):
        order_link = f"https://{shop}/admin/orders/{quote(order.order_ref)}"
    pay_links = {
        p.payment_ref: _stripe(p.payment_ref, test=stripe_test)
        for p in payments
        if p.provider == "stripe" and p.payment_ref.startswith(("pi_", "ch_", "py_"))
    }
    ticket_links = {
        t.ticket_ref: f"https://{desk}/agent/tickets/{quote(t.ticket_ref)}"
        for t in tickets
        if desk and t.source == "zendesk"
    }
    return Links(order=order_link, payments=pay_links, tickets=ticket_links)


def _host(connection: tuple[str, str] | None, suffix: str) -> str | None:
    if connection is None:
        return None
    host = urlsplit(connection[0]).hostname or ""
    return host if host.endswith(suffix) else None


def _stripe(payment_ref: str, *, test: bool) -> str:
    return f"https://dashboard.stripe.com/{'test/' if test else ''}payments/{quote(payment_ref)}"
