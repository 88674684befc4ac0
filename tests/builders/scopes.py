"""Builders for scopes below the tenant: a tenant selling two brands in two regions, and
people limited to some of them.

Brands come from the stores the orders are placed in (one brand rule per store), regions
from the orders' shipping countries, exactly as resolve places real orders.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from builders.access import Person, person
from builders.events import envelope, order_placed, payment
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.domain.scopes import UNRESTRICTED, AccessScope, ScopeValues, parse
from orderops.tenancy.access_scopes import set_brand_rule, set_user_scope
from orderops.tenancy.tenants import Principal
from orderops.workflow.batch import ingest_items
from orderops.workflow.sweeps import sweep_late_orders

REGIONS = ("DE", "FR")
BRANDS = ("acme", "bolt")
STORES = {"acme": "acme-store.myshopify.com", "bolt": "bolt-store.myshopify.com"}
PLACES = tuple(ScopeValues(region=r, brand=b) for r in REGIONS for b in BRANDS)
"""The four places of the tenant's cases (store and channel follow from the brand)."""

SCOPES: dict[str, AccessScope] = {
    "region=DE": parse(["region=DE"]),
    "brand=acme": parse(["brand=acme"]),
    "region=DE+brand=acme": parse(["region=DE", "brand=acme"]),
    "unscoped": UNRESTRICTED,
}
"""The principals of the tables: one dimension, the other, both, neither."""

_orders = itertools.count(1)


def name_brands(app: App, clock: FixedClock, tenant: str = "acme") -> None:
    for brand, store in STORES.items():
        set_brand_rule(
            app.sessions,
            tenant_id=tenant,
            kind="store",
            value=store,
            brand=brand,
            actor="test",
            clock=clock,
        )


@dataclass(frozen=True)
class PlacedCase:
    case_id: str
    order_ref: str
    place: ScopeValues

    def __str__(self) -> str:
        return f"{self.place.region}/{self.place.brand}"


def placed_order(order_ref: str, place: ScopeValues, *, clock: FixedClock) -> list[dict[str, Any]]:
    """A paid order from the brand's store, shipping to the region, ten days old, three
    days past its promise, and disputed (so its case can have an evidence pack)."""
    placed = clock.now() - timedelta(days=10)
    order = order_placed(order_ref, at=placed, promised_by=placed + timedelta(days=3))
    assert place.brand is not None
    assert place.region is not None
    order["data"]["store"] = STORES[place.brand]
    order["data"]["channel"] = "web"
    order["data"]["ship_to"] = {"country": place.region, "city": "Somewhere"}
    order["data"]["customer"]["customer_ref"] = f"cust-{place.region}-{order_ref}"
    paid = payment(
        order_ref, status="captured", at=placed + timedelta(hours=1), payment_ref=f"pi-{order_ref}"
    )
    dispute_id = f"du_{order_ref.replace('-', '_')}"
    disputed = envelope(
        "fraud.signal",
        {
            "order_ref": order_ref,
            "kind": "dispute",
            "signal_ref": dispute_id,
            "detail": f"id={dispute_id}, reason=fraudulent",
        },
        at=placed + timedelta(days=1),
        subject=order_ref,
    )
    return [order, paid, disputed]


def placed_case(
    app: App, clock: FixedClock, place: ScopeValues, *, tenant: str = "acme"
) -> PlacedCase:
    """The order's shipment_late case, opened by the sweep as in production."""
    order_ref = f"o-{place.region}-{place.brand}-{next(_orders)}"
    items = placed_order(order_ref, place, clock=clock)
    report = ingest_items(app.sessions, tenant_id=tenant, items=items, channel="test", clock=clock)
    assert report.rejected == []
    opened = [
        c.case_id
        for c in sweep_late_orders(app.sessions, tenant_id=tenant, clock=clock)
        if c.order_ref == order_ref and c.exception_type == "shipment_late"
    ]
    assert len(opened) == 1
    return PlacedCase(opened[0], order_ref, place)


def scoped_person(
    app: App, clock: FixedClock, *, role: Role, scope: AccessScope, tenant: str = "acme"
) -> Person:
    """A user of ``role`` limited to ``scope``, with a key (which acts with that scope)."""
    who = person(app, clock, tenant=tenant, role=role)
    set_user_scope(
        app.sessions,
        tenant_id=tenant,
        user_id=who.user_id,
        scope=scope,
        actor="test",
        clock=clock,
    )
    principal = Principal(
        tenant_id=who.principal.tenant_id,
        role=role,
        name=who.principal.name,
        subject=who.principal.subject,
        key_id=who.principal.key_id,
        scope=scope,
    )
    return Person(user_id=who.user_id, secret=who.secret, principal=principal)
