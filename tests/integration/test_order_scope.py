"""Where orders and their cases sit for scopes below the tenant (resolve/order_scope.py).

An order is placed by what its store sent (the shop, the sales channel, the shipping
country) and the tenant's brand rules; its cases carry the same place from the moment
they open and move with the order, without a new version a reviewer would trip over.
"""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from builders.events import order_placed
from builders.scopes import STORES, name_brands, placed_case, placed_order
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.scopes import ScopeValues
from orderops.ingest.adapters import ADAPTERS
from orderops.ingest.csv_feeds import FeedKind, FeedOptions, map_feed
from orderops.storage.tables import Case, Order
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.access_scopes import set_brand_rule
from orderops.workflow.batch import ingest_items


def _order(app: App, order_ref: str) -> Order:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        order = uow.commerce.order_by_ref(order_ref)
        assert order is not None
        uow.session.expunge(order)
        return order


def _cases(app: App, order_ref: str) -> list[Case]:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        cases = list(uow.session.scalars(select(Case).where(Case.order_ref == order_ref)))
        uow.session.expunge_all()
        return cases


def _ingest(app: App, clock: FixedClock, items: list[dict[str, object]]) -> None:
    report = ingest_items(app.sessions, tenant_id="acme", items=items, channel="t", clock=clock)
    assert report.rejected == []


def test_an_order_sits_where_its_store_channel_country_and_brand_say_and_its_case_with_it(
    app: App, clock: FixedClock
) -> None:
    name_brands(app, clock)

    placed = placed_case(app, clock, ScopeValues(region="DE", brand="bolt"))

    expected = ScopeValues(brand="bolt", store=STORES["bolt"], channel="web", region="DE")
    assert ScopeValues.of_row(_order(app, placed.order_ref)) == expected
    assert {ScopeValues.of_row(c) for c in _cases(app, placed.order_ref)} == {expected}


def test_an_order_without_a_store_sits_in_its_source_and_without_a_country_in_no_region(
    app: App, clock: FixedClock
) -> None:
    event = order_placed("o-bare", at=clock.now() - timedelta(days=1))

    _ingest(app, clock, [event])

    order = _order(app, "o-bare")
    assert (order.store, order.region, order.brand, order.channel) == (
        event["source"],
        None,
        None,
        None,
    )


def test_an_order_that_moves_takes_its_cases_along_and_leaves_their_version_alone(
    app: App, clock: FixedClock
) -> None:
    name_brands(app, clock)
    placed = placed_case(app, clock, ScopeValues(region="DE", brand="acme"))
    before = {c.id: (c.region, c.version) for c in _cases(app, placed.order_ref)}
    moved = placed_order(placed.order_ref, ScopeValues(region="FR", brand="acme"), clock=clock)[0]
    moved["type"], moved["id"] = "order.updated", "moved-1"
    moved["time"] = (clock.now() - timedelta(days=1)).isoformat()

    _ingest(app, clock, [moved])

    after = {c.id: (c.region, c.version) for c in _cases(app, placed.order_ref)}
    assert after == {case_id: ("FR", version) for case_id, (_, version) in before.items()}
    assert {region for region, _ in before.values()} == {"DE"}
    assert _order(app, placed.order_ref).region == "FR"


def test_a_store_brand_rule_rebrands_the_stores_orders_and_cases_at_once(
    app: App, clock: FixedClock
) -> None:
    placed = placed_case(app, clock, ScopeValues(region="DE", brand="acme"))
    assert _order(app, placed.order_ref).brand is None  # no rule yet

    moved = set_brand_rule(
        app.sessions,
        tenant_id="acme",
        kind="store",
        value=STORES["acme"].upper(),
        brand="Acme",
        actor="test",
        clock=clock,
    )

    assert moved == 1
    assert _order(app, placed.order_ref).brand == "acme"
    assert {c.brand for c in _cases(app, placed.order_ref)} == {"acme"}


def test_removing_a_store_rule_unbrands_only_what_it_branded(app: App, clock: FixedClock) -> None:
    name_brands(app, clock)
    set_brand_rule(
        app.sessions,
        tenant_id="acme",
        kind="tag",
        value="vip",
        brand="gold",
        actor="t",
        clock=clock,
    )
    by_store = placed_case(app, clock, ScopeValues(region="DE", brand="acme"))
    by_tag = placed_order("o-tagged", ScopeValues(region="DE", brand="acme"), clock=clock)
    by_tag[0]["data"]["tags"] = ["VIP", "wholesale"]
    _ingest(app, clock, by_tag)

    set_brand_rule(
        app.sessions,
        tenant_id="acme",
        kind="store",
        value=STORES["acme"],
        brand=None,
        actor="t",
        clock=clock,
    )

    assert _order(app, by_store.order_ref).brand is None
    assert {c.brand for c in _cases(app, by_store.order_ref)} == {None}
    assert _order(app, "o-tagged").brand == "gold"


def test_a_tag_rule_names_the_brand_before_the_store_does(app: App, clock: FixedClock) -> None:
    name_brands(app, clock)
    set_brand_rule(
        app.sessions,
        tenant_id="acme",
        kind="tag",
        value="Outlet",
        brand="bolt",
        actor="t",
        clock=clock,
    )
    items = placed_order("o-outlet", ScopeValues(region="FR", brand="acme"), clock=clock)
    items[0]["data"]["tags"] = ["summer", "outlet"]

    _ingest(app, clock, items)

    order = _order(app, "o-outlet")
    assert (order.store, order.brand) == (STORES["acme"], "bolt")


def test_a_shopify_order_names_its_shop_channel_and_tags() -> None:
    body = {
        "id": 820982911946154508,
        "name": "#9999",
        "currency": "EUR",
        "total_price": "10.00",
        "created_at": "2026-11-01T10:00:00+01:00",
        "updated_at": "2026-11-01T10:00:00+01:00",
        "source_name": "pos",
        "tags": "Outlet, summer ,",
        "shipping_address": {"country_code": "de"},
        "line_items": [],
    }
    headers = {
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Webhook-Id": "wh-1",
        "X-Shopify-Shop-Domain": "Bolt-Store.myshopify.com",
    }

    (event,) = ADAPTERS["shopify"].to_events(headers=headers, body=json.dumps(body).encode())

    data = event["data"]
    assert (data["store"], data["channel"], data["tags"]) == (
        "bolt-store.myshopify.com",
        "pos",
        ["Outlet", "summer"],
    )


def test_a_csv_feed_passes_store_channel_and_tags_only_when_it_has_them() -> None:
    with_them = (
        "order_id,created_at,currency,sku,qty,price,shop,sales_channel,tags\n"
        'A1,2026-11-01T10:00:00Z,EUR,S1,1,5.00,bolt-store,pos,"outlet, vip"\n'
    )
    without = "order_id,created_at,currency,sku,qty,price\nA1,2026-11-01T10:00:00Z,EUR,S1,1,5.00\n"

    (full,) = map_feed(FeedKind.ORDERS, with_them, FeedOptions()).items
    (bare,) = map_feed(FeedKind.ORDERS, without, FeedOptions()).items

    data = full.envelope["data"]
    assert (data["store"], data["channel"], data["tags"]) == (
        "bolt-store",
        "pos",
        ["outlet", "vip"],
    )
    assert (bare.envelope["data"].get("store"), bare.envelope["data"]["tags"]) == (None, [])
