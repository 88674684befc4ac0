"""Resolve for stock, shipments, holds and promises.

Shopify reports stock by inventory item and location, never by SKU; carriers write their
own name in their own case; line items name no location; fulfillment orders name no
order; orders carry no promise date. Each test feeds events in the shape the adapters
emit and reads back the state the detectors will judge.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from builders.events import envelope
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.policy import parse_policy
from orderops.ingest.policy_file import store_policy
from orderops.storage.tables import FulfillmentHold, InventoryPosition, Shipment, TrackingEvent
from orderops.storage.uow import UnitOfWork
from orderops.workflow.batch import ingest_items

DAY = timedelta(days=1)
ORDER = "5002002002002"


def order(
    at: datetime,
    *,
    quantity: int = 1,
    location: str | None = None,
    promised_by: datetime | None = None,
    service_level: str | None = "Standard Shipping",
) -> dict[str, Any]:
    data = {
        "order_ref": ORDER,
        "number": "#1001",
        "currency": "USD",
        "total_minor": 5000,
        "placed_at": at.isoformat(),
        "promised_by": promised_by.isoformat() if promised_by else None,
        "service_level": service_level,
        "location": location,
        "lines": [{"sku": "SKU-1", "quantity": quantity, "unit_price_minor": 5000}],
    }
    return envelope("order.placed", data, at=at, source="shopify", subject=ORDER)


def level(at: datetime, location: str, available: int, **key: Any) -> dict[str, Any]:
    data = {"location": location, "available": available, **key}
    return envelope("inventory.level", data, at=at, source="shopify")


def ingest(app: App, clock: FixedClock, *items: dict[str, Any]) -> None:
    report = ingest_items(
        app.sessions, tenant_id="acme", items=list(items), channel="test", clock=clock
    )
    assert report.rejected == [], [r.reason for r in report.rejected]


def status_of(app: App, item: dict[str, Any]) -> str:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        row = uow.inbox.find(item["source"], item["id"])
        assert row is not None
        return row.status


def test_a_stock_level_by_inventory_item_waits_for_the_catalogue_to_name_its_sku(
    app: App, clock: FixedClock
) -> None:
    at = clock.now() - DAY
    early = level(at, "loc-1", 7, item_key={"kind": "shopify.inventory_item", "value": "4400001"})
    ingest(app, clock, early)
    assert status_of(app, early) == "deferred"

    item = envelope(
        "catalog.item",
        {
            "sku": "SKU-1",
            "title": "Mug",
            "aliases": [
                {"kind": "shopify.variant", "value": "3300001"},
                {"kind": "shopify.inventory_item", "value": "4400001"},
            ],
        },
        at=at + timedelta(hours=1),
        source="shopify",
    )
    ingest(app, clock, item)

    assert status_of(app, early) == "processed"
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        positions = uow.session.scalars(select(InventoryPosition)).all()
        assert [(p.sku, p.location, p.available) for p in positions] == [("SKU-1", "loc-1", 7)]


@pytest.mark.parametrize("scan_first", [False, True], ids=["label-first", "scan-first"])
def test_a_carrier_scan_finds_its_shipment_by_tracking_code_whatever_the_carrier_case(
    app: App, clock: FixedClock, scan_first: bool
) -> None:
    at = clock.now() - DAY
    label = envelope(
        "shipment.created",
        {
            "shipment_ref": "fulfil-1",
            "order_ref": ORDER,
            "carrier": "UPS",
            "tracking_number": "1Z999AA10123456784",
        },
        at=at + timedelta(hours=1),
        source="shopify",
    )
    scan = envelope(
        "shipment.tracking",
        {
            "tracking_number": "1z999aa1 0123456784",
            "carrier": "ups",
            "status": "in_transit",
            "occurred_at": (at + timedelta(hours=5)).isoformat(),
        },
        at=at + timedelta(hours=5),
        source="easypost",
    )
    ingest(app, clock, order(at))

    ingest(app, clock, *([scan, label] if scan_first else [label, scan]))

    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        (shipment,) = uow.session.scalars(select(Shipment)).all()
        assert (shipment.order_ref, shipment.status) == (ORDER, "in_transit")
        events = uow.session.scalars(select(TrackingEvent)).all()
        assert [(e.shipment_id, e.status) for e in events] == [(shipment.id, "in_transit")]
        placed = uow.commerce.order_by_ref(ORDER)
        assert placed is not None
        assert placed.fulfillment_status == "shipped"


def test_a_line_without_a_location_is_judged_against_stock_at_every_location(
    app: App, clock: FixedClock
) -> None:
    at = clock.now() - DAY
    ingest(app, clock, level(at, "loc-1", 3, sku="SKU-1"), level(at, "loc-2", 3, sku="SKU-1"))
    ingest(app, clock, order(at + timedelta(hours=1), quantity=5))

    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        placed = uow.commerce.order_by_ref(ORDER)
        assert placed is not None
        assert placed.lines[0].short_since is None  # 3 + 3 cover 5

    drop = at + timedelta(hours=2)
    ingest(app, clock, level(drop, "loc-2", 1, sku="SKU-1"))

    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        placed = uow.commerce.order_by_ref(ORDER)
        assert placed is not None
        assert placed.lines[0].short_since == drop  # 3 + 1 do not


def test_a_line_at_a_named_location_is_judged_against_that_location_alone(
    app: App, clock: FixedClock
) -> None:
    at = clock.now() - DAY
    ingest(app, clock, level(at, "loc-1", 3, sku="SKU-1"), level(at, "loc-2", 30, sku="SKU-1"))

    ingest(app, clock, order(at + timedelta(hours=1), quantity=5, location="loc-1"))

    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        placed = uow.commerce.order_by_ref(ORDER)
        assert placed is not None
        assert placed.lines[0].short_since == at + timedelta(hours=1)


POLICY = {
    "timezone": "UTC",
    "promise_windows": {"standard": {"business_days": 3, "cutoff": "14:00"}},
    "service_levels": {"Standard Shipping": "standard"},
    "substitutions": {"allowed_categories": [], "max_price_increase_pct": 0},
    "refund_limits": {
        "currency": "USD",
        "auto_approve_under_minor": 0,
        "finance_approval_over_minor": 100000,
    },
}


def test_an_order_without_a_promise_gets_one_from_the_tenant_policy(
    app: App, clock: FixedClock
) -> None:
    store_policy(
        app.sessions, tenant_id="acme", policy=parse_policy(POLICY), actor="test", clock=clock
    )
    monday = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)

    ingest(app, clock, order(monday))

    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        placed = uow.commerce.order_by_ref(ORDER)
        assert placed is not None
        assert (placed.promised_by, placed.promise_source) == (
            datetime(2026, 11, 19, 23, 59, 59, tzinfo=UTC),
            "policy:standard",
        )


def test_a_promise_the_store_sends_wins_over_the_policy(app: App, clock: FixedClock) -> None:
    store_policy(
        app.sessions, tenant_id="acme", policy=parse_policy(POLICY), actor="test", clock=clock
    )
    monday = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
    sent = monday + 10 * DAY

    ingest(app, clock, order(monday, promised_by=sent))

    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        placed = uow.commerce.order_by_ref(ORDER)
        assert placed is not None
        assert (placed.promised_by, placed.promise_source) == (sent, "store")


def test_a_held_fulfillment_order_reaches_its_order_and_records_hold_and_release(
    app: App, clock: FixedClock
) -> None:
    at = clock.now() - DAY
    gid = "gid://shopify/FulfillmentOrder/1"

    def hold(when: datetime, status: str) -> dict[str, Any]:
        data = {
            "fulfillment_order_ref": gid,
            "order_keys": [{"kind": "shopify.fulfillment_order", "value": gid}],
            "status": status,
            "reasons": ["awaiting_payment"] if status == "on_hold" else [],
        }
        return envelope("fulfillment.hold", data, at=when, source="shopify")

    held = hold(at + timedelta(hours=1), "on_hold")
    ingest(app, clock, order(at), held)
    assert status_of(app, held) == "deferred"

    observed = envelope(
        "alias.observed",
        {
            "entity": {"kind": "shopify.order", "value": ORDER},
            "aliases": [{"kind": "shopify.fulfillment_order", "value": gid}],
        },
        at=at + timedelta(hours=2),
        source="shopify",
    )
    ingest(app, clock, observed, hold(at + timedelta(hours=3), "open"))

    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        (row,) = uow.session.scalars(select(FulfillmentHold)).all()
        assert (row.order_ref, row.status) == (ORDER, "open")
        assert (row.held_at, row.released_at) == (at + timedelta(hours=1), at + timedelta(hours=3))
        assert row.reasons == {"reasons": ["awaiting_payment"], "note": None}
