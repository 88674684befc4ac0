"""The reference reader labels tiny hand-made provider histories by the written rules.

Each history is a few deliveries in the providers' real shapes, written out here by
hand (not by the simulator), so a rule is checked against what a person reading the
same deliveries would conclude.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from orderops.sim.providers.policy import store_policy
from orderops.sim.providers.reading import UnreadableDelivery, load_lines
from orderops.sim.providers.reference import RefLabel, label

NY = ZoneInfo("America/New_York")
T0 = datetime(2025, 7, 1, 14, 0, tzinfo=UTC)
"""Tuesday July 1 2025, 10:00 in New York: before the 14:00 cut-off."""
ORDER_A, ORDER_B = "6100000000001", "6100000000002"


def _utc(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _shop(at: datetime) -> str:
    return at.astimezone(NY).isoformat(timespec="seconds")


@dataclass
class History:
    lines: list[dict[str, Any]] = field(default_factory=list)

    def add(self, provider: str, body: dict[str, Any], at: datetime, **headers: str) -> int:
        seq = len(self.lines) + 1
        self.lines.append(
            {
                "seq": seq,
                "deliver_at": _utc(at + timedelta(seconds=3)),
                "provider": provider,
                "headers": headers,
                "body": body,
                "redelivery_of": None,
            }
        )
        return seq

    def again(self, seq: int, at: datetime) -> None:
        """A retry: the same headers and body delivered later."""
        original = self.lines[seq - 1]
        self.lines.append(
            {**original, "seq": len(self.lines) + 1, "deliver_at": _utc(at), "redelivery_of": seq}
        )

    def shopify(self, topic: str, body: dict[str, Any], at: datetime) -> int:
        webhook = f"wh-{len(self.lines) + 1}"
        return self.add(
            "shopify", body, at, **{"X-Shopify-Topic": topic, "X-Shopify-Webhook-Id": webhook}
        )

    def stripe(self, type_: str, obj: dict[str, Any], at: datetime) -> int:
        event = {
            "id": f"evt_{len(self.lines) + 1}",
            "object": "event",
            "type": type_,
            "created": int(at.timestamp()),
            "data": {"object": obj},
        }
        return self.add("stripe", event, at)

    def labels(self, now: datetime) -> list[RefLabel]:
        return label(self.lines, store_policy(), now=now)

    def kinds(self, now: datetime) -> set[tuple[str, str]]:
        return {(lb.type, lb.order_ref) for lb in self.labels(now)}


def order(
    order_id: str = ORDER_A,
    *,
    number: int = 1001,
    placed: datetime = T0,
    updated: datetime | None = None,
    status: str = "pending",
    email: str = "ana@example.com",
    checkout_token: str = "chk-a",
    cart_token: str = "cart-a",
    code: str = "standard",
    total: str = "50.00",
    skus: tuple[tuple[str, int], ...] = (("APP-101", 1),),
    cancelled_at: datetime | None = None,
) -> dict[str, Any]:
    return {
        "id": int(order_id),
        "name": f"#{number}",
        "order_number": number,
        "checkout_token": checkout_token,
        "cart_token": cart_token,
        "created_at": _shop(placed),
        "updated_at": _shop(updated or placed),
        "cancelled_at": _shop(cancelled_at) if cancelled_at else None,
        "currency": "USD",
        "email": email,
        "customer": {"id": 7000000000001, "email": email},
        "financial_status": status,
        "total_price": total,
        "current_total_price": total,
        "shipping_lines": [{"code": code, "title": f"{code.title()} Shipping"}],
        "line_items": [{"sku": sku, "quantity": qty, "price": "50.00"} for sku, qty in skus],
    }


def intent(
    pi: str, status: str, *, charge: str | None, metadata: dict[str, str], **extra: Any
) -> dict[str, Any]:
    return {
        "id": pi,
        "object": "payment_intent",
        "amount": 5000,
        "currency": "usd",
        "status": status,
        "latest_charge": charge,
        "metadata": metadata,
        **extra,
    }


def charge(
    ch: str, pi: str, *, captured: bool, metadata: dict[str, str] | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "id": ch,
        "object": "charge",
        "amount": 5000,
        "amount_captured": 5000 if captured else 0,
        "amount_refunded": 0,
        "captured": captured,
        "currency": "usd",
        "payment_intent": pi,
        "metadata": metadata or {},
        "status": "succeeded",
        **extra,
    }


def decline(history: History, pi: str, ch: str, at: datetime, metadata: dict[str, str]) -> None:
    error = {"charge": ch, "code": "card_declined", "decline_code": "insufficient_funds"}
    history.stripe(
        "payment_intent.payment_failed",
        intent(
            pi, "requires_payment_method", charge=ch, metadata=metadata, last_payment_error=error
        ),
        at,
    )


def paid(history: History, pi: str, ch: str, at: datetime, metadata: dict[str, str]) -> None:
    history.stripe("charge.succeeded", charge(ch, pi, captured=True), at)
    history.stripe(
        "payment_intent.succeeded",
        intent(pi, "succeeded", charge=ch, metadata=metadata, amount_received=5000),
        at,
    )


def fulfil(history: History, at: datetime, tracking: str, order_id: str = ORDER_A) -> None:
    body = {
        "id": 5400000000001,
        "order_id": int(order_id),
        "created_at": _shop(at),
        "updated_at": _shop(at),
        "status": "success",
        "tracking_company": "UPS",
        "tracking_number": tracking,
        "tracking_numbers": [tracking],
        "shipment_status": None,
    }
    history.shopify("fulfillments/create", body, at)


def shippo(history: History, tracking: str, at: datetime, status: str, substatus: str = "") -> None:
    state: dict[str, Any] = {
        "status": status,
        "status_date": _utc(at),
        "status_details": f"{status} {substatus}",
    }
    if substatus:
        state["substatus"] = {"code": substatus}
    body = {
        "event": "track_updated",
        "data": {
            "carrier": "ups",
            "tracking_number": tracking,
            "tracking_status": state,
            "tracking_history": [state],
        },
    }
    history.add("shippo", body, at)


def ticket(
    history: History,
    ticket_id: int,
    at: datetime,
    *,
    subject: str = "Help",
    text: str = "Where is it?",
    email: str = "ana@example.com",
    **extra: Any,
) -> int:
    body = {
        "ticket": {
            "id": ticket_id,
            "created_at": _utc(at),
            "updated_at": _utc(at),
            "subject": subject,
            "description": text,
            "status": "new",
            "requester": {"email": email},
            "external_id": None,
            "custom_fields": [{"id": 360011872341, "value": None}],
            **extra,
        }
    }
    return history.add("zendesk", body, at)


# --- payments ------------------------------------------------------------------------


def test_a_decline_recovered_minutes_later_on_the_same_payment_intent_is_not_labelled() -> None:
    history = History()
    history.shopify("orders/create", order(), T0)
    decline(history, "pi_1", "ch_1", T0 + timedelta(seconds=20), {"checkout_token": "chk-a"})
    paid(history, "pi_1", "ch_2", T0 + timedelta(minutes=9), {"checkout_token": "chk-a"})

    assert history.kinds(T0 + timedelta(days=1)) == set()


def test_a_decline_never_recovered_is_a_payment_failure_thirty_minutes_later() -> None:
    history = History()
    history.shopify("orders/create", order(), T0)
    decline(history, "pi_1", "ch_1", T0 + timedelta(seconds=20), {"cart_token": "cart-a"})

    labels = history.labels(T0 + timedelta(hours=2))

    failed = [lb for lb in labels if lb.type == "payment_failed"]
    assert [(lb.order_ref, lb.at) for lb in failed] == [
        (ORDER_A, T0 + timedelta(seconds=20, minutes=30))
    ]
    assert "insufficient_funds" in failed[0].evidence


def test_a_payment_taken_later_that_names_the_order_number_still_leaves_the_failure() -> None:
    history = History()
    history.shopify("orders/create", order(), T0)
    decline(history, "pi_1", "ch_1", T0, {"checkout_token": "chk-a"})
    paid(history, "pi_2", "ch_2", T0 + timedelta(hours=2), {"order_number": "#1001"})

    labels = history.labels(T0 + timedelta(hours=3))

    assert {(lb.type, lb.order_ref) for lb in labels} == {("payment_failed", ORDER_A)}


def test_a_payment_intent_arriving_before_its_order_is_still_linked() -> None:
    history = History()
    decline(history, "pi_1", "ch_1", T0, {"checkout_token": "chk-a"})
    history.shopify(
        "orders/create", order(placed=T0 - timedelta(seconds=5)), T0 + timedelta(minutes=40)
    )

    assert history.kinds(T0 + timedelta(hours=1)) == {("payment_failed", ORDER_A)}


def test_an_authorisation_not_captured_within_48_hours_is_a_payment_hold() -> None:
    history = History()
    history.shopify("orders/create", order(status="authorized"), T0)
    history.stripe("charge.succeeded", charge("ch_1", "pi_1", captured=False), T0)
    history.stripe(
        "payment_intent.amount_capturable_updated",
        intent("pi_1", "requires_capture", charge="ch_1", metadata={"cart_token": "cart-a"}),
        T0,
    )
    fulfil(history, T0 + timedelta(hours=3), "1Z999AA10123456784")

    held = [lb for lb in history.labels(T0 + timedelta(days=3)) if lb.type == "payment_hold"]

    assert [(lb.order_ref, lb.at) for lb in held] == [(ORDER_A, T0 + timedelta(hours=48))]


def test_an_authorisation_captured_within_48_hours_is_no_hold() -> None:
    history = History()
    history.shopify("orders/create", order(status="authorized"), T0)
    history.stripe("charge.succeeded", charge("ch_1", "pi_1", captured=False), T0)
    history.stripe(
        "charge.captured", charge("ch_1", "pi_1", captured=True), T0 + timedelta(hours=47)
    )

    assert "payment_hold" not in {t for t, _ in history.kinds(T0 + timedelta(days=3))}


# --- fraud ---------------------------------------------------------------------------


@pytest.mark.parametrize("names_intent", [False, True])
def test_a_dispute_naming_only_a_charge_reaches_the_right_order(names_intent: bool) -> None:
    history = History()
    history.shopify("orders/create", order(status="paid"), T0)
    history.shopify(
        "orders/create",
        order(ORDER_B, number=1002, checkout_token="chk-b", cart_token="cart-b", status="paid"),
        T0,
    )
    paid(history, "pi_a", "ch_a", T0, {"cart_token": "cart-a"})
    paid(history, "pi_b", "ch_b", T0, {"checkout_token": "chk-b"})
    dispute = {
        "id": "dp_1",
        "object": "dispute",
        "charge": "ch_a",
        "payment_intent": "pi_a" if names_intent else None,
        "reason": "fraudulent",
    }
    history.stripe("charge.dispute.created", dispute, T0 + timedelta(days=2))

    fraud = [lb for lb in history.labels(T0 + timedelta(days=3)) if lb.type == "fraud_review"]

    assert [(lb.order_ref, lb.at) for lb in fraud] == [(ORDER_A, T0 + timedelta(days=2))]


def test_a_radar_review_and_an_early_fraud_warning_are_fraud_reviews() -> None:
    history = History()
    history.shopify("orders/create", order(status="paid"), T0)
    paid(history, "pi_a", "ch_a", T0, {"checkout_token": "chk-a"})
    review = {
        "id": "prv_1",
        "object": "review",
        "charge": "ch_a",
        "payment_intent": None,
        "open": True,
    }
    history.stripe("review.opened", review, T0 + timedelta(minutes=10))
    warning = {
        "id": "issfr_1",
        "object": "radar.early_fraud_warning",
        "charge": "ch_a",
        "fraud_type": "misc",
    }
    history.stripe("radar.early_fraud_warning.created", warning, T0 + timedelta(days=1))

    fraud = [lb for lb in history.labels(T0 + timedelta(days=2)) if lb.type == "fraud_review"]

    assert [(lb.order_ref, lb.at) for lb in fraud] == [(ORDER_A, T0 + timedelta(minutes=10))]


# --- refunds -------------------------------------------------------------------------


def _cancelled_after_capture(history: History) -> datetime:
    history.shopify("orders/create", order(status="paid"), T0)
    paid(history, "pi_a", "ch_a", T0, {"checkout_token": "chk-a"})
    cancelled = T0 + timedelta(hours=2)
    history.shopify(
        "orders/cancelled",
        order(status="paid", updated=cancelled, cancelled_at=cancelled),
        cancelled,
    )
    return cancelled


def _refund(history: History, amount: str, at: datetime) -> None:
    body = {
        "id": 948000000001,
        "order_id": int(ORDER_A),
        "created_at": _shop(at),
        "processed_at": _shop(at),
        "transactions": [
            {"kind": "refund", "status": "success", "amount": amount, "currency": "USD"}
        ],
        "refund_line_items": [],
    }
    history.shopify("refunds/create", body, at)
    refunded = int(amount.replace(".", ""))
    history.stripe(
        "charge.refunded", charge("ch_a", "pi_a", captured=True, amount_refunded=refunded), at
    )


def test_a_cancelled_order_refunded_in_full_within_48_hours_owes_nothing() -> None:
    history = History()
    cancelled = _cancelled_after_capture(history)
    _refund(history, "50.00", cancelled + timedelta(hours=5))

    assert "refund_pending" not in {t for t, _ in history.kinds(T0 + timedelta(days=4))}


def test_shopify_and_stripe_reporting_one_refund_are_not_added_up() -> None:
    history = History()
    cancelled = _cancelled_after_capture(history)
    _refund(history, "25.00", cancelled + timedelta(hours=5))

    pending = [lb for lb in history.labels(T0 + timedelta(days=4)) if lb.type == "refund_pending"]

    assert [(lb.order_ref, lb.at) for lb in pending] == [(ORDER_A, cancelled + timedelta(hours=48))]


# --- stock ---------------------------------------------------------------------------


def _catalogue_and_stock_out(history: History, restock_after: timedelta) -> None:
    product = {
        "id": 880,
        "title": "Tee",
        "variants": [{"id": 45, "sku": "APP-101", "inventory_item_id": 471}],
    }
    for location in (61, 62):
        level = {
            "inventory_item_id": 471,
            "location_id": location,
            "available": 0,
            "updated_at": _shop(T0 - timedelta(hours=1)),
        }
        history.shopify("inventory_levels/update", level, T0 - timedelta(hours=1))
    history.shopify("orders/create", order(status="paid"), T0)
    restock = {
        "inventory_item_id": 471,
        "location_id": 62,
        "available": 40,
        "updated_at": _shop(T0 + restock_after),
    }
    history.shopify("inventory_levels/update", restock, T0 + restock_after)
    # The catalogue arrives last: the level named only the inventory item until then.
    history.shopify(
        "products/create",
        {**product, "updated_at": _shop(T0 - timedelta(days=2))},
        T0 + restock_after,
    )


def test_an_order_placed_while_its_sku_is_out_everywhere_is_short_from_placement() -> None:
    history = History()
    _catalogue_and_stock_out(history, timedelta(hours=5))

    kinds = {
        lb.type: lb.at for lb in history.labels(T0 + timedelta(days=2)) if lb.order_ref == ORDER_A
    }

    assert kinds.get("inventory_shortfall") == T0
    assert "substitution_needed" not in kinds


def test_a_shortfall_lasting_a_day_needs_a_substitute() -> None:
    history = History()
    _catalogue_and_stock_out(history, timedelta(hours=30))

    kinds = {
        lb.type: lb.at for lb in history.labels(T0 + timedelta(days=2)) if lb.order_ref == ORDER_A
    }

    assert kinds.get("substitution_needed") == T0 + timedelta(hours=24)


# --- fulfillment and delivery --------------------------------------------------------


def test_an_order_with_no_payment_outcome_for_six_hours_is_stuck() -> None:
    history = History()
    history.shopify("orders/create", order(), T0)

    stuck = [lb for lb in history.labels(T0 + timedelta(hours=7)) if lb.type == "stuck_order"]

    assert [(lb.order_ref, lb.at) for lb in stuck] == [(ORDER_A, T0 + timedelta(hours=6))]


def test_a_paid_order_not_fulfilled_by_its_handling_deadline_is_stuck() -> None:
    history = History()
    history.shopify("orders/create", order(status="paid"), T0)
    paid(history, "pi_a", "ch_a", T0, {"checkout_token": "chk-a"})
    # Placed Tuesday before the cut-off, standard: handled by the end of Wednesday in New York.
    deadline = datetime(2025, 7, 2, 23, 59, 59, tzinfo=NY)

    stuck = [lb for lb in history.labels(T0 + timedelta(days=3)) if lb.type == "stuck_order"]

    assert [(lb.order_ref, lb.at) for lb in stuck] == [(ORDER_A, deadline.astimezone(UTC))]


@pytest.mark.parametrize(
    ("delivered_local", "late"),
    [(datetime(2025, 7, 14, 20, 0), False), (datetime(2025, 7, 15, 10, 0), True)],
)
def test_the_promise_skips_the_holiday_and_the_weekend(
    delivered_local: datetime, late: bool
) -> None:
    """Thursday July 3 after the cut-off: day zero is Monday July 7 (July 4 is a holiday),
    handled by Tuesday, delivered four business days later: by the end of Monday July 14."""
    placed = datetime(2025, 7, 3, 15, 0, tzinfo=NY)
    history = History()
    history.shopify("orders/create", order(placed=placed, status="paid"), placed)
    paid(history, "pi_a", "ch_a", placed, {"checkout_token": "chk-a"})
    fulfil(history, placed + timedelta(days=4), "1Z999AA10123456784")
    delivered = delivered_local.replace(tzinfo=NY)
    shippo(history, "1Z999AA10123456784", delivered, "DELIVERED", "delivered")

    labels = [
        lb for lb in history.labels(datetime(2025, 7, 20, tzinfo=UTC)) if lb.type == "shipment_late"
    ]

    promise = datetime(2025, 7, 14, 23, 59, 59, tzinfo=NY).astimezone(UTC)
    assert [(lb.order_ref, lb.at) for lb in labels] == ([(ORDER_A, promise)] if late else [])


def test_a_carrier_naming_only_the_tracking_code_reports_trouble_on_the_order() -> None:
    history = History()
    history.shopify("orders/create", order(status="paid"), T0)
    fulfil(history, T0 + timedelta(hours=2), "1Z999AA10123456784")
    shippo(history, "1Z999AA10123456784", T0 + timedelta(hours=5), "TRANSIT", "package_accepted")
    attempt = T0 + timedelta(days=2)
    shippo(history, "1Z999AA10123456784", attempt, "TRANSIT", "delivery_attempted")

    trouble = [
        lb for lb in history.labels(T0 + timedelta(days=3)) if lb.type == "carrier_exception"
    ]

    assert [(lb.order_ref, lb.at) for lb in trouble] == [(ORDER_A, attempt)]


def test_a_label_without_a_carrier_scan_for_a_day_is_a_pre_dispatch_delay() -> None:
    history = History()
    history.shopify("orders/create", order(status="paid"), T0)
    shipped = T0 + timedelta(hours=2)
    fulfil(history, shipped, "1Z999AA10123456784")
    shippo(history, "1Z999AA10123456784", shipped + timedelta(minutes=5), "PRE_TRANSIT")
    shippo(history, "1Z999AA10123456784", shipped + timedelta(hours=30), "TRANSIT")

    delayed = [
        lb for lb in history.labels(T0 + timedelta(days=3)) if lb.type == "pre_dispatch_delay"
    ]

    assert [(lb.order_ref, lb.at) for lb in delayed] == [(ORDER_A, shipped + timedelta(hours=24))]


# --- tickets -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "naming",
    [
        {"subject": "Where is my order #1001?"},
        {"text": "Hello, any news on order 1001?"},
        {"text": "About my order (order no. 1001), please."},
        {"custom_fields": [{"id": 360011872341, "value": "#1001"}]},
        {"custom_fields": [{"id": 360011872341, "value": "1001"}]},
        {"external_id": ORDER_A},
    ],
)
def test_three_tickets_naming_the_order_within_72_hours_are_a_chasing_customer(
    naming: dict[str, Any],
) -> None:
    history = History()
    history.shopify("orders/create", order(status="paid"), T0)
    history.shopify(
        "orders/create",
        order(ORDER_B, number=1002, placed=T0 + timedelta(hours=1), status="paid"),
        T0,
    )
    for n, hours in enumerate((5, 30, 70)):
        ticket(history, 48200 + n, T0 + timedelta(hours=hours), **naming)

    chasing = [lb for lb in history.labels(T0 + timedelta(days=4)) if lb.type == "customer_chasing"]

    assert [(lb.order_ref, lb.at) for lb in chasing] == [(ORDER_A, T0 + timedelta(hours=70))]


def test_tickets_naming_only_the_email_count_for_the_customers_one_open_order() -> None:
    history = History()
    history.shopify("orders/create", order(status="paid"), T0)
    history.shopify(
        "orders/create", order(ORDER_B, number=1002, email="bo@example.com", status="paid"), T0
    )
    for n, hours in enumerate((5, 30, 70)):
        ticket(history, 48200 + n, T0 + timedelta(hours=hours))

    assert ("customer_chasing", ORDER_A) in history.kinds(T0 + timedelta(days=4))


def test_tickets_naming_only_an_email_with_two_open_orders_count_for_neither() -> None:
    history = History()
    history.shopify("orders/create", order(status="paid"), T0)
    history.shopify(
        "orders/create",
        order(ORDER_B, number=1002, placed=T0 + timedelta(hours=1), status="paid"),
        T0,
    )
    for n, hours in enumerate((5, 30, 70)):
        ticket(history, 48200 + n, T0 + timedelta(hours=hours))

    assert "customer_chasing" not in {t for t, _ in history.kinds(T0 + timedelta(days=4))}


def test_three_tickets_spread_over_more_than_72_hours_are_not_chasing() -> None:
    history = History()
    history.shopify("orders/create", order(status="paid"), T0)
    for n, hours in enumerate((5, 40, 80)):
        ticket(history, 48200 + n, T0 + timedelta(hours=hours), subject="Order #1001")

    assert "customer_chasing" not in {t for t, _ in history.kinds(T0 + timedelta(days=5))}


# --- reading the file ----------------------------------------------------------------


def test_a_redelivered_ticket_is_one_ticket() -> None:
    history = History()
    history.shopify("orders/create", order(status="paid"), T0)
    first = ticket(history, 48200, T0 + timedelta(hours=5), subject="Order #1001")
    ticket(history, 48201, T0 + timedelta(hours=9), subject="Order #1001")
    history.again(first, T0 + timedelta(hours=10))

    assert "customer_chasing" not in {t for t, _ in history.kinds(T0 + timedelta(days=4))}


def test_deliveries_arriving_after_now_are_not_seen() -> None:
    history = History()
    history.shopify("orders/create", order(status="paid"), T0)
    paid(history, "pi_a", "ch_a", T0, {"checkout_token": "chk-a"})
    review = {"id": "prv_1", "object": "review", "charge": "ch_a", "payment_intent": None}
    history.stripe("review.opened", review, T0 + timedelta(hours=2))

    assert "fraud_review" not in {t for t, _ in history.kinds(T0 + timedelta(hours=1))}
    assert "fraud_review" in {t for t, _ in history.kinds(T0 + timedelta(hours=3))}


def test_a_line_that_is_not_a_delivery_is_refused_with_its_line_number(tmp_path: Path) -> None:
    path = tmp_path / "deliveries.jsonl"
    path.write_text('{"seq": 1, "provider": "stripe", "body": {}}\n{"seq": 2, oops\n')

    with pytest.raises(UnreadableDelivery, match="line 2"):
        load_lines(path)


def test_a_delivery_without_a_body_object_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deliveries.jsonl"
    path.write_text('{"seq": 1, "provider": "stripe", "body": [1, 2]}\n')

    with pytest.raises(UnreadableDelivery, match="line 1"):
        load_lines(path)


@pytest.mark.parametrize(
    ("provider", "topic", "body", "missing"),
    [
        (
            "shopify",
            "orders/create",
            {"name": "#1001", "created_at": "2025-07-01T10:00:00-04:00"},
            "id",
        ),
        (
            "shopify",
            "fulfillments/create",
            {"id": 1, "created_at": "2025-07-01T10:00:00-04:00"},
            "order_id",
        ),
        (
            "stripe",
            None,
            {
                "id": "evt_1",
                "type": "charge.succeeded",
                "created": 1751378400,
                "data": {"object": {}},
            },
            "data.object.id",
        ),
        (
            "zendesk",
            None,
            {"ticket": {"id": 5, "updated_at": "2025-07-01T14:00:00Z"}},
            "ticket.created_at",
        ),
        (
            "shippo",
            None,
            {"event": "track_updated", "data": {"tracking_status": {}}},
            "data.tracking_number",
        ),
    ],
)
def test_a_record_missing_what_identifies_it_is_refused_by_its_seq(
    provider: str, topic: str | None, body: dict[str, Any], missing: str
) -> None:
    history = History()
    history.shopify("orders/create", order(), T0)
    if topic is None:
        history.add(provider, body, T0 + timedelta(minutes=1))
    else:
        history.shopify(topic, body, T0 + timedelta(minutes=1))

    with pytest.raises(UnreadableDelivery, match=rf"delivery 2 .*{re.escape(missing)} is missing"):
        history.labels(T0 + timedelta(hours=1))
