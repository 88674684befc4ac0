"""Builders for finding work: an order with every key a reviewer may search by.

The order comes from a brand's store and ships to a region (``builders.scopes``), so a
reviewer limited to a brand or region sees it or not as in production; its customer has
a name and phone, its payment a charge, its parcel a tracking number, and a Zendesk
ticket names it. Its cases open as in production.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from builders.events import shipment
from builders.links import ticket
from builders.scopes import placed_order
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.scopes import ScopeValues
from orderops.workflow.batch import ingest_items
from orderops.workflow.sweeps import sweep_late_orders


@dataclass(frozen=True)
class FindableOrder:
    case_ids: frozenset[str]
    """Its open cases (late, and disputed)."""
    order_ref: str
    number: str
    email: str
    name: str
    phone: str
    tracking: str
    payment_ref: str
    charge: str
    ticket_ref: str


def findable_order(
    app: App,
    clock: FixedClock,
    *,
    key: str,
    number: str,
    name: str,
    phone: str,
    place: ScopeValues,
    tenant: str = "acme",
) -> FindableOrder:
    """``key`` makes every id unique (``o-<key>``, ``pi_<key>``, ``ch_<key>``, ...)."""
    order_ref = f"o-{key}"
    items = placed_order(order_ref, place, clock=clock)
    order, paid, disputed = items
    order["data"]["number"] = number
    email = f"{key}.Buyer@Example.com"
    order["data"]["customer"].update({"email": email, "name": name, "phone": phone})
    payment_ref, charge = f"pi_{key}", f"ch_{key}"
    paid["data"]["payment_ref"] = payment_ref
    paid["data"]["aliases"] = [{"kind": "stripe.charge", "value": charge}]
    tracking = f"1Z{key.upper()}99"
    placed = clock.now() - timedelta(days=10)
    parcel = shipment(order_ref, at=placed + timedelta(days=1), tracking=tracking)
    ticket_ref = f"t-{key}"
    asked = ticket(ticket_ref, at=placed + timedelta(days=2), order_ref=order_ref, email=email)
    report = ingest_items(
        app.sessions,
        tenant_id=tenant,
        items=[order, paid, disputed, parcel, asked],
        channel="test",
        clock=clock,
    )
    assert report.rejected == [], report.rejected
    changes = [*report.changes, *sweep_late_orders(app.sessions, tenant_id=tenant, clock=clock)]
    opened = [c.case_id for c in changes if c.order_ref == order_ref and c.change == "opened"]
    assert opened, f"no case opened for {order_ref}"
    return FindableOrder(
        case_ids=frozenset(opened),
        order_ref=order_ref,
        number=number,
        email=email,
        name=name,
        phone=phone,
        tracking=tracking,
        payment_ref=payment_ref,
        charge=charge,
        ticket_ref=ticket_ref,
    )
