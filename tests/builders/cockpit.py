"""Builders for the case page's cockpit: a case whose order has a known customer, lines
with titles, a Stripe payment, a parcel with carrier scans, a Zendesk ticket in the
customer's words, and the tenant's shop and desk connected (deep links)."""

from __future__ import annotations

from datetime import timedelta

from builders.events import envelope, payment, scan, shipment
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.vendor_connections import AccountMode, VendorSystem
from orderops.workflow.batch import ingest_items
from orderops.workflow.sweeps import sweep_late_orders
from orderops.writeback.vendor_connections import add_connection


def known_customer_case(app: App, clock: FixedClock) -> tuple[str, str]:
    """A late Shopify order #1046 of a named gold customer: paid through Stripe, shipped
    with two carrier scans, chased by a Zendesk ticket; the shop and desk connected."""
    order_ref, placed = "5480114161228", clock.now() - timedelta(days=10)
    customer = {
        "customer_ref": "cust-ada",
        "email": "ada@example.com",
        "phone": "+15555550100",
        "name": "Ada Lovelace",
        "tier": "gold",
    }
    items = [
        envelope(
            "order.placed",
            {
                "order_ref": order_ref,
                "number": "1046",
                "currency": "USD",
                "total_minor": 7200,
                "placed_at": placed.isoformat(),
                "promised_by": (placed + timedelta(days=3)).isoformat(),
                "customer": customer,
                "lines": [
                    {"sku": "MUG-RED", "title": "Red mug", "quantity": 2, "unit_price_minor": 1800},
                    {"sku": "TEA-1", "title": "Tea tin", "quantity": 1, "unit_price_minor": 3600},
                ],
            },
            at=placed,
            subject=order_ref,
            source="shopify",
        ),
        payment(
            order_ref,
            status="captured",
            at=placed + timedelta(hours=1),
            payment_ref="pi_3Ada",
            amount_minor=7200,
        ),
        shipment(order_ref, at=placed + timedelta(days=1), tracking="1ZADA"),
        scan("in_transit", at=placed + timedelta(days=2), tracking="1ZADA", order_ref=order_ref),
        scan("exception", at=placed + timedelta(days=4), tracking="1ZADA", order_ref=order_ref),
        envelope(
            "ticket.updated",
            {
                "ticket_ref": "9911",
                "source": "zendesk",
                "order_ref": order_ref,
                "customer_email": "ada@example.com",
                "subject": "Where are my mugs?",
                "body": "It has been ten days and the tracking has not moved.",
                "status": "open",
            },
            at=placed + timedelta(days=8),
            source="test://zendesk",
        ),
    ]
    report = ingest_items(app.sessions, tenant_id="acme", items=items, channel="t", clock=clock)
    assert report.rejected == []
    opened = [
        c.case_id
        for c in sweep_late_orders(app.sessions, tenant_id="acme", clock=clock)
        if c.order_ref == order_ref
    ]
    assert opened, "the sweep opened no case on the late order"
    for system, url in (
        ("shopify", "https://ada-shop.myshopify.com/admin/api/2026-04"),
        ("zendesk", "https://adadesk.zendesk.com"),
    ):
        add_connection(
            app.sessions,
            tenant_id="acme",
            system=VendorSystem(system),
            base_url=url,
            secret="s3cret-token-value",
            mode=AccountMode.LIVE,
            username="ops@example.com" if system == "zendesk" else None,
            secret_key=app.settings.secret_key,
            clock=clock,
            actor="test",
        )
    return opened[0], order_ref
