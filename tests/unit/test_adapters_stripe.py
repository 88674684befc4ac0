"""Stripe Event objects become payment updates and fraud signals."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from orderops.domain.errors import InvalidEvent
from orderops.domain.events import EventType
from orderops.domain.statuses import PaymentStatus
from orderops.ingest.adapters import ADAPTERS, UnsupportedEvent
from orderops.ingest.envelope import CanonicalEvent, parse_event

FIXTURES = Path(__file__).parents[1] / "fixtures" / "stripe"
EVENTS = FIXTURES / "webhook_events"
DERIVED = FIXTURES / "derived"
ADAPTER = ADAPTERS["stripe"]

PAYMENT = EventType.PAYMENT_UPDATED
FRAUD = EventType.FRAUD_SIGNAL
ALIAS = EventType.ALIAS_OBSERVED

EXPECTED: dict[str, tuple[EventType, str] | None] = {
    "payment_intent.succeeded": (PAYMENT, PaymentStatus.CAPTURED),
    "payment_intent.payment_failed": (PAYMENT, PaymentStatus.FAILED),
    "payment_intent.canceled": (PAYMENT, PaymentStatus.VOIDED),
    "payment_intent.requires_action": (PAYMENT, PaymentStatus.REQUIRES_ACTION),
    "payment_intent.amount_capturable_updated": (PAYMENT, PaymentStatus.AUTHORIZED),
    "payment_intent.processing": (PAYMENT, PaymentStatus.PENDING),
    "charge.refunded": (PAYMENT, PaymentStatus.REFUNDED),
    "charge.dispute.created": (FRAUD, "dispute"),
    "payment_intent.created": None,
    "charge.succeeded": (ALIAS, "stripe.payment_intent"),
    "charge.captured": None,
    "charge.failed": (ALIAS, "stripe.payment_intent"),
    "charge.refund.updated": None,
    "charge.dispute.updated": None,
    "charge.dispute.closed": None,
    "charge.dispute.funds_withdrawn": None,
    "charge.dispute.funds_reinstated": None,
}
"""What each stored Stripe fixture must become (None: recognised, nothing to record).
The captured charge predates PaymentIntents (no ``payment_intent``): it names nothing
another record could reach it by."""


def load(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def convert(raw: dict[str, Any] | bytes) -> list[CanonicalEvent]:
    body = raw if isinstance(raw, bytes) else json.dumps(raw).encode()
    events = ADAPTER.to_events(headers={}, body=body)
    return [parse_event(json.loads(json.dumps(e)), tenant_id="t1") for e in events]


def test_every_stored_stripe_event_type_has_an_expectation() -> None:
    assert {p.stem for p in EVENTS.glob("*.json")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_fixture_maps_to_the_expected_event(name: str) -> None:
    raw = load(EVENTS / f"{name}.json")

    events = convert(raw)

    expected = EXPECTED[name]
    if expected is None:
        assert events == []
        return
    (event,) = events
    data = event.payload.model_dump()
    assert event.type is expected[0]
    assert (data.get("status") or data.get("kind") or data["entity"]["kind"]) == expected[1]
    assert event.envelope.id == raw["id"]
    assert event.envelope.time == datetime.fromtimestamp(raw["created"], UTC)


def test_a_failed_payment_carries_stripes_error_code_and_message() -> None:
    raw = load(EVENTS / "payment_intent.payment_failed.json")
    error = raw["data"]["object"]["last_payment_error"]

    (event,) = convert(raw)
    data = event.payload.model_dump()

    assert data["failure_code"] == error["code"]
    assert data["failure_message"] == error["message"]
    assert data["amount_minor"] == raw["data"]["object"]["amount"]
    assert data["currency"] == raw["data"]["object"]["currency"].upper()


def test_an_authorisation_hold_reports_the_capturable_amount() -> None:
    raw = load(EVENTS / "payment_intent.amount_capturable_updated.json")

    (event,) = convert(raw)

    assert event.payload.model_dump()["amount_minor"] == raw["data"]["object"]["amount_capturable"]


@pytest.mark.parametrize(
    ("refunded", "expected"),
    [(100, PaymentStatus.REFUNDED), (40, PaymentStatus.PARTIALLY_REFUNDED)],
)
def test_a_refunded_charge_is_full_or_partial_by_amount(
    refunded: int, expected: PaymentStatus
) -> None:
    raw = load(EVENTS / "charge.refunded.json")
    charge = raw["data"]["object"]
    charge["amount"] = charge["amount_captured"] = 100
    charge["amount_refunded"] = refunded

    (event,) = convert(raw)
    data = event.payload.model_dump()

    assert data["status"] is expected
    assert data["amount_refunded_minor"] == refunded


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ({"checkout_token": "ct-77"}, [("shopify.checkout_token", "ct-77")]),
        ({"cart_token": "cart-9"}, [("shopify.cart_token", "cart-9")]),
        (
            {"order_id": "5849871237"},
            [
                ("shopify.order", "5849871237"),
                ("order.ref", "5849871237"),
                ("order.number", "5849871237"),
            ],
        ),
        (
            {"shopify_order_id": "5849871237"},
            [
                ("shopify.order", "5849871237"),
                ("order.ref", "5849871237"),
                ("order.number", "5849871237"),
            ],
        ),
        ({"order_number": "#1001"}, [("order.number", "#1001"), ("order.name", "#1001")]),
        ({"order_number": "1001"}, [("order.number", "1001"), ("order.name", "1001")]),
        ({"order_name": "#1001"}, [("order.name", "#1001"), ("order.number", "#1001")]),
        (
            {"order_number": "1001", "cart_token": "cart-9", "note": "gift"},
            [
                ("shopify.cart_token", "cart-9"),
                ("order.number", "1001"),
                ("order.name", "1001"),
            ],
        ),
        ({}, []),
        ({"order_id": ""}, []),
    ],
    ids=[
        "checkout",
        "cart",
        "order-id",
        "shopify-order-id",
        "hash-number",
        "bare-number",
        "name",
        "tokens-first",
        "none",
        "blank",
    ],
)
def test_a_payment_names_its_order_through_metadata_keys_never_a_guessed_ref(
    metadata: dict[str, str], expected: list[tuple[str, str]]
) -> None:
    raw = load(EVENTS / "payment_intent.succeeded.json")
    raw["data"]["object"]["metadata"] = metadata

    (event,) = convert(raw)
    data = event.payload.model_dump()

    assert [(k["kind"], k["value"]) for k in data["order_keys"]] == expected
    assert data["order_ref"] is None
    assert event.envelope.subject == raw["data"]["object"]["id"]


def test_a_payment_intents_charges_are_its_other_names() -> None:
    raw = load(EVENTS / "payment_intent.payment_failed.json")
    intent = raw["data"]["object"]
    intent["latest_charge"] = "ch_3PgafuB7WZ01zgkW0latest"

    (event,) = convert(raw)

    assert event.payload.model_dump()["aliases"] == [
        {"kind": "stripe.charge", "value": "ch_3PgafuB7WZ01zgkW0latest"},
        *({"kind": "stripe.charge", "value": c["id"]} for c in intent["charges"]["data"]),
    ]


def test_an_expanded_latest_charge_is_read_by_its_id() -> None:
    raw = load(EVENTS / "payment_intent.succeeded.json")
    raw["data"]["object"].update(latest_charge={"id": "ch_expanded", "object": "charge"})
    raw["data"]["object"].pop("charges")

    (event,) = convert(raw)

    assert event.payload.model_dump()["aliases"] == [
        {"kind": "stripe.charge", "value": "ch_expanded"}
    ]


@pytest.mark.parametrize("name", ["charge.succeeded", "charge.failed"])
def test_a_charge_event_says_which_payment_intent_the_charge_belongs_to(name: str) -> None:
    raw = load(EVENTS / f"{name}.json")
    charge = raw["data"]["object"]

    (event,) = convert(raw)

    assert event.type is EventType.ALIAS_OBSERVED
    assert event.payload.model_dump() == {
        "entity": {"kind": "stripe.payment_intent", "value": charge["payment_intent"]},
        "aliases": [{"kind": "stripe.charge", "value": charge["id"]}],
    }
    assert event.envelope.id == raw["id"]
    assert event.envelope.subject == charge["payment_intent"]


@pytest.mark.parametrize(
    "name", ["charge.captured", "charge.pending", "charge.updated", "charge.expired"]
)
def test_every_charge_event_type_names_its_payment_intent_when_it_has_one(name: str) -> None:
    raw = load(EVENTS / "charge.succeeded.json")
    raw["type"] = name

    (event,) = convert(raw)

    assert event.type is EventType.ALIAS_OBSERVED


def test_a_charge_without_a_payment_intent_names_nothing_new() -> None:
    raw = load(EVENTS / "charge.succeeded.json")
    raw["data"]["object"]["payment_intent"] = None

    assert convert(raw) == []


def test_a_charge_event_without_a_charge_id_is_refused() -> None:
    raw = load(EVENTS / "charge.succeeded.json")
    del raw["data"]["object"]["id"]

    with pytest.raises(InvalidEvent, match=r"charge\.id is missing"):
        convert(raw)


def test_a_refunded_charge_lands_on_its_payment_intent_and_names_the_charge() -> None:
    raw = load(EVENTS / "charge.refunded.json")
    charge = raw["data"]["object"]
    charge.update(payment_intent="pi_3PgafuB7WZ01zgkW1", metadata={"order_id": "5849871237"})

    (event,) = convert(raw)
    data = event.payload.model_dump()

    assert data["payment_ref"] == "pi_3PgafuB7WZ01zgkW1"
    assert data["aliases"] == [{"kind": "stripe.charge", "value": charge["id"]}]
    assert data["order_keys"][0] == {"kind": "shopify.order", "value": "5849871237"}
    assert data["order_ref"] is None


def test_a_dispute_without_order_metadata_is_keyed_by_its_charge() -> None:
    raw = load(EVENTS / "charge.dispute.created.json")
    dispute = raw["data"]["object"]

    (event,) = convert(raw)
    data = event.payload.model_dump()

    assert data["order_ref"] is None
    assert data["order_keys"] == [{"kind": "stripe.charge", "value": dispute["charge"]}]
    assert data["signal_ref"] == dispute["id"]
    assert f"reason={dispute['reason']}" in data["detail"]
    assert data["detail"].startswith(f"id={dispute['id']}, ")


def test_a_dispute_naming_its_payment_intent_and_charge_offers_both_intent_first() -> None:
    raw = load(DERIVED / "charge.dispute.created.djstripe.json")
    dispute = raw["data"]["object"]

    (event,) = convert(raw)

    assert event.payload.model_dump()["order_keys"] == [
        {"kind": "stripe.payment_intent", "value": dispute["payment_intent"]},
        {"kind": "stripe.charge", "value": dispute["charge"]},
    ]


def test_order_metadata_on_a_dispute_comes_before_its_payment_keys() -> None:
    raw = load(DERIVED / "charge.dispute.created.djstripe.json")
    raw["data"]["object"]["metadata"] = {"checkout_token": "ct-77"}

    (event,) = convert(raw)

    kinds = [k["kind"] for k in event.payload.model_dump()["order_keys"]]
    assert kinds == ["shopify.checkout_token", "stripe.payment_intent", "stripe.charge"]


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("radar.early_fraud_warning.created.json", "early_fraud_warning"),
        ("review.opened.json", "review_opened"),
        ("review.opened.djstripe.json", "review_opened"),
    ],
)
def test_radar_objects_become_fraud_signals_keyed_by_their_payment(name: str, kind: str) -> None:
    raw = load(DERIVED / name)
    subject = raw["data"]["object"]

    (event,) = convert(raw)
    data = event.payload.model_dump()

    assert event.type is EventType.FRAUD_SIGNAL
    assert data["kind"] == kind
    assert data["order_ref"] is None
    assert data["signal_ref"] == subject["id"]
    assert data["order_keys"] == [
        {"kind": kind_, "value": subject[field]}
        for kind_, field in (
            ("stripe.payment_intent", "payment_intent"),
            ("stripe.charge", "charge"),
        )
        if subject.get(field)
    ]


def test_a_closed_review_is_its_own_signal_kind() -> None:
    raw = load(DERIVED / "review.opened.json")
    raw["type"] = "review.closed"
    raw["data"]["object"].update(open=False, closed_reason="approved")

    (event,) = convert(raw)

    assert event.type is EventType.FRAUD_SIGNAL
    assert event.payload.model_dump()["kind"] == "review_closed"
    assert "closed_reason=approved" in event.payload.model_dump()["detail"]


def test_a_fraud_signal_naming_no_payment_is_refused() -> None:
    raw = load(DERIVED / "radar.early_fraud_warning.created.json")
    del raw["data"]["object"]["charge"]

    with pytest.raises(InvalidEvent, match="neither an order"):
        convert(raw)


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda e: e.pop("id"), "event.id is missing"),
        (lambda e: e.pop("created"), "event.created"),
        (lambda e: e["data"].pop("object"), "event.data.object"),
        (lambda e: e["data"]["object"].pop("currency"), "payment_intent.currency"),
        (lambda e: e["data"]["object"].update(amount="20.00"), "not an integer amount"),
    ],
    ids=["no-id", "no-created", "no-object", "no-currency", "string-amount"],
)
def test_malformed_events_are_refused_with_a_reason(mutate: Any, reason: str) -> None:
    raw = load(EVENTS / "payment_intent.succeeded.json")
    mutate(raw)

    with pytest.raises(InvalidEvent, match=reason):
        convert(raw)


def test_truncated_json_is_refused() -> None:
    body = (EVENTS / "payment_intent.succeeded.json").read_bytes()[:200]

    with pytest.raises(InvalidEvent, match="not valid JSON"):
        convert(body)


def test_an_unknown_event_type_is_unsupported() -> None:
    raw = load(EVENTS / "payment_intent.succeeded.json")
    raw["type"] = "customer.subscription.created"

    with pytest.raises(UnsupportedEvent, match=r"customer\.subscription\.created"):
        convert(raw)
