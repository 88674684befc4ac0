"""Every rendered body has the shape of the provider's real payload (tests/fixtures).

A body may leave out fields a real one has (the simulator fills what a desk could use,
not every flag), but any field it adds that the fixture lacks must be one the provider
really sends in the API version simulated; those few are listed with the reason.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from orderops.sim.providers.deliveries import render
from orderops.sim.providers.store import StoreConfig, build_store
from orderops.sim.providers.wire import Draft

FIXTURES = Path(__file__).parents[1] / "fixtures"
GADGET = "shopify/webhook_examples_gadget"


def fixture(path: str, *keys: str | int) -> Any:
    value = json.loads((FIXTURES / path).read_text())
    for key in keys:
        value = value[key]
    return value


@cache
def drafts() -> dict[str, Draft]:
    """The first rendered delivery of each kind in a small store (nothing cut at the end)."""
    found: dict[str, Draft] = {}
    for draft in render(
        build_store(StoreConfig(seed=5, days=3, history_days=2, orders_per_day=40))
    ):
        if draft.provider == "shopify":
            kind = draft.headers["X-Shopify-Topic"]
        elif draft.provider == "stripe":
            kind = str(draft.body["type"])
        else:
            kind = draft.provider
        found.setdefault(kind, draft)
    return found


def body(kind: str, *keys: str | int) -> Any:
    value: Any = drafts()[kind].body
    for key in keys:
        value = value[key]
    return value


NEWER_STRIPE = {"latest_charge"}
"""PaymentIntents name their latest charge since API 2022-11-15 (which dropped ``charges``)."""

ORDER = f"{GADGET}/orders__create.2026-04.json"
FULFILLMENT = f"{GADGET}/fulfillments__create.2026-04.json"
REFUND = f"{GADGET}/refunds__create.2026-04.json"
PRODUCT = f"{GADGET}/products__create.2026-04.json"
HOLD = f"{GADGET}/fulfillment_orders__placed_on_hold.2026-04.json"
STRIPE = "stripe/webhook_events"
EASYPOST = "easypost/examples/fixtures__event-body.json"
SHIPPO = "shippo/shippo-python-client/track__test_get_status.response.decoded.json"
AFTERSHIP = "aftership/aftership-sdk-java/GetTrackingResult.json"
ZENDESK = "zendesk/zendesk_api_client_rb_cassettes/tickets_sample.json"
R, OBJ, NONE = ("response",), ("data", "object"), set[str]()

CASES: list[tuple[str, tuple[str | int, ...], str, tuple[str | int, ...], set[str]]] = [
    ("orders/create", (), ORDER, R, {"checkout_id"}),
    ("orders/create", ("line_items", 0), ORDER, (*R, "line_items", 0), NONE),
    ("orders/create", ("customer",), ORDER, (*R, "customer"), NONE),
    ("orders/create", ("shipping_lines", 0), ORDER, (*R, "shipping_lines", 0), NONE),
    ("orders/create", ("shipping_address",), ORDER, (*R, "shipping_address"), NONE),
    ("fulfillments/create", (), FULFILLMENT, R, NONE),
    ("fulfillments/update", (), f"{GADGET}/fulfillments__update.2026-04.json", R, NONE),
    ("refunds/create", (), REFUND, R, NONE),
    ("refunds/create", ("transactions", 0), REFUND, (*R, "transactions", 0), NONE),
    ("inventory_levels/update", (), f"{GADGET}/inventory_levels__update.2024-04.json", R, NONE),
    ("products/create", (), PRODUCT, R, NONE),
    ("products/create", ("variants", 0), PRODUCT, (*R, "variants", 0), NONE),
    ("inventory_items/create", (), f"{GADGET}/inventory_items__create.2026-04.json", R, NONE),
    ("customers/create", (), f"{GADGET}/customers__create.2026-04.json", R, NONE),
    ("fulfillment_orders/placed_on_hold", (), HOLD, R, NONE),
    (
        "fulfillment_orders/placed_on_hold",
        ("fulfillment_order",),
        HOLD,
        (*R, "fulfillment_order"),
        NONE,
    ),
    (
        "fulfillment_orders/hold_released",
        (),
        f"{GADGET}/fulfillment_orders__hold_released.2026-04.json",
        R,
        NONE,
    ),
    ("payment_intent.succeeded", (), f"{STRIPE}/payment_intent.succeeded.json", (), NONE),
    ("payment_intent.succeeded", OBJ, f"{STRIPE}/payment_intent.succeeded.json", OBJ, NEWER_STRIPE),
    (
        "payment_intent.payment_failed",
        OBJ,
        f"{STRIPE}/payment_intent.payment_failed.json",
        OBJ,
        NEWER_STRIPE,
    ),
    (
        "payment_intent.amount_capturable_updated",
        OBJ,
        f"{STRIPE}/payment_intent.amount_capturable_updated.json",
        OBJ,
        NEWER_STRIPE,
    ),
    ("payment_intent.canceled", OBJ, f"{STRIPE}/payment_intent.canceled.json", OBJ, NEWER_STRIPE),
    (
        "charge.succeeded",
        OBJ,
        f"{STRIPE}/charge.succeeded.json",
        OBJ,
        {"failure_balance_transaction"},
    ),
    ("charge.failed", OBJ, f"{STRIPE}/charge.failed.json", OBJ, {"failure_balance_transaction"}),
    (
        "charge.captured",
        OBJ,
        f"{STRIPE}/charge.captured.json",
        OBJ,
        {"failure_balance_transaction"},
    ),
    (
        "charge.refunded",
        OBJ,
        f"{STRIPE}/charge.refunded.json",
        OBJ,
        {"failure_balance_transaction"},
    ),
    (
        "charge.dispute.created",
        OBJ,
        f"{STRIPE}/charge.dispute.created.json",
        OBJ,
        {"payment_method_details"},
    ),
    (
        "radar.early_fraud_warning.created",
        OBJ,
        "stripe/derived/radar.early_fraud_warning.created.json",
        OBJ,
        {"payment_intent"},
    ),
    ("review.opened", OBJ, "stripe/derived/review.opened.json", OBJ, {"payment_intent"}),
    ("easypost", (), EASYPOST, (), NONE),
    ("easypost", ("result",), EASYPOST, ("result",), {"fees"}),
    (
        "easypost",
        ("result", "tracking_details", 0),
        EASYPOST,
        ("result", "tracking_details", 0),
        NONE,
    ),
    ("shippo", ("data",), SHIPPO, (), {"messages", "original_eta", "transaction"}),
    ("shippo", ("data", "tracking_status"), SHIPPO, ("tracking_status",), {"substatus"}),
    ("aftership", ("msg",), AFTERSHIP, ("data", "tracking"), NONE),
    (
        "aftership",
        ("msg", "checkpoints", 0),
        AFTERSHIP,
        ("data", "tracking", "checkpoints", 0),
        NONE,
    ),
    ("zendesk", ("ticket",), ZENDESK, ("tickets", 0), {"requester"}),
]
"""(kind, path in our body, fixture, path in the fixture, fields we may add and why above)."""


@pytest.mark.parametrize(
    ("kind", "path", "source", "keys", "allowed"),
    CASES,
    ids=[f"{c[0]}:{'.'.join(map(str, c[1])) or 'body'}" for c in CASES],
)
def test_a_rendered_body_adds_no_field_the_real_payload_lacks(
    kind: str,
    path: tuple[str | int, ...],
    source: str,
    keys: tuple[str | int, ...],
    allowed: set[str],
) -> None:
    ours = set(body(kind, *path))
    real = set(fixture(source, *keys))

    assert ours - real <= allowed
    # ...and keeps most of what the provider sends.
    assert len(ours & real) >= 0.6 * len(real) or len(real - ours) <= 3


def test_shopify_deliveries_of_one_change_share_the_body_and_differ_in_webhook_id() -> None:
    """orders/paid, orders/fulfilled and orders/cancelled travel beside orders/updated."""
    pairs: dict[tuple[int, str], list[Draft]] = {}
    for draft in render(
        build_store(StoreConfig(seed=5, days=1, history_days=1, orders_per_day=30))
    ):
        topic = draft.headers.get("X-Shopify-Topic", "")
        if topic.startswith("orders/") and topic != "orders/create":
            pairs.setdefault((int(draft.body["id"]), draft.body["updated_at"]), []).append(draft)
    companions = [group for group in pairs.values() if len(group) > 1]

    assert companions
    for group in companions:
        assert len({json.dumps(d.body, sort_keys=True) for d in group}) == 1
        assert len({d.headers["X-Shopify-Webhook-Id"] for d in group}) == len(group)
        assert "orders/updated" in {d.headers["X-Shopify-Topic"] for d in group}
