"""parse_event: the one gate every canonical event passes, whoever sent it.

A valid event of each type comes back typed and stamped with the caller's tenant; an
invalid one is refused with an ``InvalidEvent`` whose message names the failing field.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from orderops.domain.errors import InvalidEvent
from orderops.domain.events import DATA_MODELS, EventType
from orderops.ingest.envelope import CanonicalEvent, parse_event

TENANT = "acme"
AT = "2026-11-20T12:00:00+00:00"

MINIMAL_DATA: dict[EventType, dict[str, Any]] = {
    EventType.ORDER_PLACED: {
        "order_ref": "o-1",
        "currency": "USD",
        "total_minor": 5000,
        "placed_at": AT,
    },
    EventType.ORDER_UPDATED: {
        "order_ref": "o-1",
        "currency": "EUR",
        "total_minor": 0,
        "placed_at": "2026-11-20T13:00:00+01:00",
    },
    EventType.ORDER_CANCELLED: {"order_ref": "o-1"},
    EventType.PAYMENT_UPDATED: {
        "payment_ref": "pi_1",
        "provider": "stripe",
        "status": "failed",
        "amount_minor": 5000,
        "currency": "USD",
    },
    EventType.SHIPMENT_CREATED: {
        "shipment_ref": "shp-1",
        "order_ref": "o-1",
        "carrier": "UPS",
        "tracking_number": "1Z999",
    },
    EventType.SHIPMENT_TRACKING: {
        "tracking_number": "1Z999",
        "carrier": "UPS",
        "status": "in_transit",
        "occurred_at": AT,
    },
    EventType.INVENTORY_LEVEL: {"sku": "SKU-1", "location": "wh-1", "available": -2},
    EventType.CUSTOMER_UPSERTED: {"customer_ref": "cust-1"},
    EventType.TICKET_UPDATED: {"ticket_ref": "t-1", "source": "zendesk"},
    EventType.FRAUD_SIGNAL: {"order_ref": "o-1", "kind": "velocity"},
    EventType.CATALOG_ITEM: {"sku": "SKU-1"},
    EventType.ORDER_REFUND: {
        "refund_ref": "r-1",
        "order_ref": "o-1",
        "amount_minor": 500,
        "currency": "USD",
    },
    EventType.FULFILLMENT_HOLD: {
        "fulfillment_order_ref": "gid://shopify/FulfillmentOrder/1",
        "order_ref": "o-1",
        "status": "on_hold",
    },
    EventType.ALIAS_OBSERVED: {
        "entity": {"kind": "stripe.payment_intent", "value": "pi_1"},
        "aliases": [{"kind": "stripe.charge", "value": "ch_1"}],
    },
}


def event(type_: EventType | str = EventType.PAYMENT_UPDATED, **override: Any) -> dict[str, Any]:
    """A valid raw event of ``type_``; keyword overrides replace top-level fields."""
    data = copy.deepcopy(MINIMAL_DATA[EventType(type_)]) if type_ in set(EventType) else {}
    raw: dict[str, Any] = {
        "specversion": "1.0",
        "id": "evt-1",
        "source": "test://shop",
        "type": str(type_),
        "time": AT,
        "subject": "o-1",
        "data": data,
    }
    raw.update(override)
    return raw


def with_data(type_: EventType, **fields: Any) -> dict[str, Any]:
    raw = event(type_)
    raw["data"].update(fields)
    return raw


def refusal(raw: Any) -> str:
    with pytest.raises(InvalidEvent) as raised:
        parse_event(raw, tenant_id=TENANT)
    return raised.value.message


def test_every_event_type_has_minimal_data_here() -> None:
    assert set(MINIMAL_DATA) == set(EventType)


@pytest.mark.parametrize("type_", list(EventType), ids=str)
def test_a_valid_event_of_each_type_is_accepted_and_typed(type_: EventType) -> None:
    parsed = parse_event(event(type_), tenant_id=TENANT)

    assert isinstance(parsed, CanonicalEvent)
    assert parsed.type is type_
    assert isinstance(parsed.payload, DATA_MODELS[type_])
    assert parsed.envelope.id == "evt-1"
    assert parsed.envelope.tenant == TENANT


def test_times_with_an_offset_are_normalised_to_utc() -> None:
    parsed = parse_event(
        event(EventType.ORDER_UPDATED, time="2026-11-20T14:00:00+02:00"), tenant_id=TENANT
    )

    assert parsed.envelope.time.utcoffset() is not None
    assert parsed.envelope.time.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert parsed.envelope.time.hour == 12


@pytest.mark.parametrize("named", [None, TENANT], ids=["unnamed", "same tenant"])
def test_the_envelope_carries_the_callers_tenant(named: str | None) -> None:
    parsed = parse_event(event(tenant=named), tenant_id=TENANT)

    assert parsed.envelope.tenant == TENANT


def test_an_envelope_naming_another_tenant_is_refused() -> None:
    assert "tenant" in refusal(event(tenant="globex"))


@pytest.mark.parametrize(
    "raw",
    [[event()], "an event", 42, None],
    ids=["list", "string", "number", "null"],
)
def test_anything_but_a_json_object_is_refused(raw: Any) -> None:
    assert "JSON object" in refusal(raw)


@pytest.mark.parametrize("field", ["id", "source", "type", "time", "data"])
def test_a_missing_envelope_field_is_refused_by_name(field: str) -> None:
    raw = event()
    del raw[field]

    message = refusal(raw)

    assert message.startswith("invalid envelope")
    assert field in message


def test_an_unknown_type_is_refused() -> None:
    assert "type" in refusal(event("order.exploded"))


def test_an_envelope_time_without_a_zone_is_refused() -> None:
    message = refusal(event(time="2026-01-01T00:00:00"))

    assert "time" in message
    assert "naive" in message


def test_a_data_time_without_a_zone_is_refused() -> None:
    message = refusal(with_data(EventType.ORDER_PLACED, placed_at="2026-01-01T00:00:00"))

    assert "placed_at" in message


@pytest.mark.parametrize(
    ("type_", "field", "value"),
    [
        (EventType.PAYMENT_UPDATED, "amount_minor", -1),
        (EventType.PAYMENT_UPDATED, "amount_refunded_minor", -100),
        (EventType.ORDER_PLACED, "total_minor", -5000),
    ],
    ids=["payment amount", "refunded amount", "order total"],
)
def test_a_negative_amount_is_refused_by_name(type_: EventType, field: str, value: int) -> None:
    message = refusal(with_data(type_, **{field: value}))

    assert message.startswith(f"invalid data for {type_}")
    assert field in message


@pytest.mark.parametrize("currency", ["usd", "US", "USDT", "€", ""])
def test_a_bad_currency_code_is_refused(currency: str) -> None:
    assert "currency" in refusal(with_data(EventType.PAYMENT_UPDATED, currency=currency))


def test_a_payment_status_outside_the_vocabulary_is_refused() -> None:
    assert "status" in refusal(with_data(EventType.PAYMENT_UPDATED, status="succeeded"))


def test_a_missing_data_field_is_refused_by_name() -> None:
    raw = event(EventType.SHIPMENT_CREATED)
    del raw["data"]["tracking_number"]

    assert "tracking_number" in refusal(raw)


def test_a_blank_reference_is_refused() -> None:
    assert "order_ref" in refusal(with_data(EventType.ORDER_CANCELLED, order_ref="   "))
