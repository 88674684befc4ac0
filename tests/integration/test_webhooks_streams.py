"""However a provider delivers a story (twice, out of order, cut short then resent), the
order, its payment and its shipment end in the same state as after a clean delivery."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from builders.database_roles import owner_sessions
from builders.webhooks import (
    Delivery,
    easypost_tracker,
    load,
    post,
    shopify,
    shopify_fulfillment,
    shopify_order,
    stripe_event,
    webhook_client,
)
from builders.worker import work
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.ingest.connections import SecretBox, WebhookSource, connect_source
from orderops.storage.tables import Order, Payment, Shipment
from orderops.tenancy.tenants import ensure_tenant

SECRET = "story-signing-secret-0123456789abcdef"
ORDER_ID = 5550001
TRACKING = "1ZSTORY0001"


def _scan(status: str, at: datetime, message: str) -> dict[str, Any]:
    detail: dict[str, Any] = copy.deepcopy(
        load("easypost/examples/fixtures__event-body.json")["result"]["tracking_details"][-1]
    )
    detail.update(status=status, status_detail=status, datetime=_iso(at), message=message)
    return detail


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def story(now: datetime) -> list[Delivery]:
    """A Shopify order, a Stripe failure then success on one PaymentIntent, a Shopify
    fulfillment and two EasyPost scans, in the order they happened."""
    placed = now - timedelta(days=5)
    order = shopify_order(id=ORDER_ID, created_at=_iso(placed), updated_at=_iso(placed))
    fulfillment = shopify_fulfillment(
        id=7770001,
        order_id=ORDER_ID,
        tracking_company="UPS",
        tracking_number=TRACKING,
        tracking_numbers=[TRACKING],
        created_at=_iso(now - timedelta(days=4)),
        updated_at=_iso(now - timedelta(days=4)),
    )
    in_transit = _scan("in_transit", now - timedelta(days=3), "Departed facility")
    delivered = _scan("delivered", now - timedelta(days=2), "Delivered, front door")
    return [
        shopify("orders/create", order, webhook_id="wh-story-order"),
        stripe_event(
            "payment_intent.payment_failed",
            created=placed + timedelta(seconds=30),
            order_ref=str(ORDER_ID),
            event_id="evt_story_failed",
            intent_id="pi_story",
        ),
        stripe_event(
            "payment_intent.succeeded",
            created=placed + timedelta(minutes=1),
            order_ref=str(ORDER_ID),
            event_id="evt_story_paid",
            intent_id="pi_story",
        ),
        shopify("fulfillments/create", fulfillment, webhook_id="wh-story-fulfillment"),
        easypost_tracker(
            event_id="evt_story_scan_1",
            tracking_code=TRACKING,
            carrier="UPS",
            status="in_transit",
            tracking_details=[in_transit],
        )[0],
        easypost_tracker(
            event_id="evt_story_scan_2",
            tracking_code=TRACKING,
            carrier="UPS",
            status="delivered",
            tracking_details=[in_transit, delivered],
        )[0],
    ]


def clean(deliveries: list[Delivery]) -> list[Delivery]:
    return list(deliveries)


def duplicated(deliveries: list[Delivery]) -> list[Delivery]:
    return [d for d in deliveries for _ in range(2)] + list(deliveries)


def reordered(deliveries: list[Delivery]) -> list[Delivery]:
    return list(reversed(deliveries))


def truncated_then_resent(deliveries: list[Delivery]) -> list[Delivery]:
    return [copy for d in deliveries for copy in (d.truncated(), d)]


def deliver(app: App, clock: FixedClock, tenant: str, stream: list[Delivery]) -> list[int]:
    box = SecretBox(app.settings.secret_key)
    tokens = {
        source: connect_source(
            app.sessions,
            tenant_id=tenant,
            source=WebhookSource(source),
            box=box,
            clock=clock,
            actor="test",
            secret=SECRET,
        ).connection.endpoint_token
        for source in ("shopify", "stripe", "easypost")
    }
    codes = []
    with webhook_client(app) as client:
        for d in stream:
            codes.append(
                post(client, d, token=tokens[d.source], secret=SECRET, now=clock.now()).status_code
            )
            work(app)  # a worker keeping up: each delivery processed as it arrives
    return codes


def final_state(app: App, tenant: str) -> dict[str, Any]:
    with owner_sessions(app)() as session:
        orders = session.scalars(select(Order).where(Order.tenant_id == tenant)).all()
        payments = session.scalars(select(Payment).where(Payment.tenant_id == tenant)).all()
        shipments = session.scalars(select(Shipment).where(Shipment.tenant_id == tenant)).all()
        return {
            "orders": sorted(
                (
                    o.order_ref,
                    o.status,
                    o.financial_status,
                    o.fulfillment_status,
                    o.total_minor,
                    o.delivered_at,
                )
                for o in orders
            ),
            "payments": sorted(
                (p.provider, p.payment_ref, p.order_ref, p.status, p.amount_minor, p.status_at)
                for p in payments
            ),
            "shipments": sorted(
                (
                    s.carrier,
                    s.tracking_number,
                    s.order_ref,
                    s.shipment_ref,
                    s.status,
                    s.status_at,
                    s.delivered_at,
                )
                for s in shipments
            ),
        }


@pytest.mark.parametrize(
    "variant",
    [duplicated, reordered, truncated_then_resent],
    ids=lambda v: v.__name__,
)
def test_a_disturbed_stream_ends_in_the_clean_streams_state(
    app: App, clock: FixedClock, variant: Callable[[list[Delivery]], list[Delivery]]
) -> None:
    for tenant in ("clean", "disturbed"):
        ensure_tenant(app.sessions, tenant_id=tenant, name=tenant, clock=clock)
    deliveries = story(clock.now())

    clean_codes = deliver(app, clock, "clean", clean(deliveries))
    disturbed_codes = deliver(app, clock, "disturbed", variant(deliveries))

    assert clean_codes == [202] * len(deliveries)
    assert set(disturbed_codes) <= {200, 202, 422}
    expected = final_state(app, "clean")
    assert final_state(app, "disturbed") == expected
    ((order_ref, status, financial, fulfillment, _total, delivered_at),) = expected["orders"]
    assert (order_ref, status, financial, fulfillment) == (
        str(ORDER_ID),
        "open",
        "paid",
        "delivered",
    )
    assert delivered_at == clock.now() - timedelta(days=2)
    assert [(p[1], p[3]) for p in expected["payments"]] == [("pi_story", "captured")]
    assert [(s[1], s[2], s[4]) for s in expected["shipments"]] == [
        (TRACKING, str(ORDER_ID), "delivered")
    ]


def test_a_truncated_delivery_is_refused_until_resent_whole(app: App, clock: FixedClock) -> None:
    ensure_tenant(app.sessions, tenant_id="t1", name="t1", clock=clock)
    deliveries = story(clock.now())

    codes = deliver(app, clock, "t1", truncated_then_resent(deliveries))

    assert codes == [422, 202] * len(deliveries)
