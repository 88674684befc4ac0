"""What the event schema accepts at the door, the tables must be able to store.

A field the schema lets through but a column cannot hold (a 68-character shipping-line
title in a varchar(64), three billion dong in a 32-bit integer) is accepted with 202
and then fails in processing, where the sender can no longer be told. So every column
a canonical event is projected into is either bounded exactly as the schema bounds its
field, or unbounded (Text); integer columns hold the schema's whole range.

The maps below are walked against the live metadata and the live pydantic models, so a
column or a field added later must be placed in them before this module passes again.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy import BigInteger, Column, Integer, String

import orderops.storage.tables  # noqa: F401 - every table on Base.metadata
from orderops.domain import events as ev
from orderops.ingest.envelope import Envelope
from orderops.storage.base import Base

Source = tuple[type[BaseModel], str]

PROJECTED_TABLES = (
    "inbox",
    "customers",
    "customer_identities",
    "orders",
    "order_lines",
    "payments",
    "shipments",
    "tracking_events",
    "inventory_positions",
    "support_tickets",
    "fraud_signals",
    "entity_aliases",
    "alias_waits",
    "record_links",
    "link_suggestions",
    "order_refunds",
    "fulfillment_holds",
)
"""The tables canonical events are written into (inbox raw, the rest by resolve and the
projector)."""

FROM_EVENTS: dict[str, list[Source]] = {
    "inbox.source": [(Envelope, "source")],
    "inbox.event_id": [(Envelope, "id")],
    "inbox.type": [(Envelope, "type")],
    "inbox.subject": [(Envelope, "subject")],
    "customers.email": [(ev.CustomerData, "email")],
    "customers.phone": [(ev.CustomerData, "phone")],
    "customers.name": [(ev.CustomerData, "name")],
    "customers.tier": [(ev.CustomerData, "tier")],
    "customers.locale": [(ev.CustomerData, "locale")],
    "customer_identities.source": [(Envelope, "source")],
    "customer_identities.external_ref": [(ev.CustomerData, "customer_ref")],
    "orders.order_ref": [(ev.OrderData, "order_ref")],
    "orders.number": [(ev.OrderData, "number")],
    "orders.source": [(Envelope, "source")],
    "orders.currency": [(ev.OrderData, "currency")],
    "orders.total_minor": [(ev.OrderData, "total_minor")],
    "orders.service_level": [(ev.OrderData, "service_level")],
    "orders.location": [(ev.OrderData, "location")],
    "orders.store": [(ev.OrderData, "store")],
    "orders.channel": [(ev.OrderData, "channel")],
    "order_lines.sku": [(ev.OrderLine, "sku")],
    "order_lines.title": [(ev.OrderLine, "title")],
    "order_lines.quantity": [(ev.OrderLine, "quantity")],
    "order_lines.unit_price_minor": [(ev.OrderLine, "unit_price_minor")],
    "order_lines.location": [(ev.OrderLine, "location")],
    "payments.provider": [(ev.PaymentData, "provider")],
    "payments.payment_ref": [(ev.PaymentData, "payment_ref")],
    "payments.order_ref": [(ev.PaymentData, "order_ref")],
    "payments.status": [(ev.PaymentData, "status")],
    "payments.amount_minor": [(ev.PaymentData, "amount_minor")],
    "payments.amount_refunded_minor": [(ev.PaymentData, "amount_refunded_minor")],
    "payments.currency": [(ev.PaymentData, "currency")],
    "payments.failure_code": [(ev.PaymentData, "failure_code")],
    "payments.failure_message": [(ev.PaymentData, "failure_message")],
    "shipments.shipment_ref": [(ev.ShipmentData, "shipment_ref")],
    "shipments.order_ref": [(ev.ShipmentData, "order_ref")],
    "shipments.carrier": [(ev.ShipmentData, "carrier"), (ev.TrackingData, "carrier")],
    "shipments.service": [(ev.ShipmentData, "service")],
    "shipments.tracking_number": [
        (ev.ShipmentData, "tracking_number"),
        (ev.TrackingData, "tracking_number"),
    ],
    "shipments.origin_location": [(ev.ShipmentData, "origin_location")],
    "shipments.status": [(ev.TrackingData, "status")],
    "shipments.last_location": [(ev.TrackingData, "location")],
    "shipments.last_message": [(ev.TrackingData, "message")],
    "tracking_events.status": [(ev.TrackingData, "status")],
    "tracking_events.location": [(ev.TrackingData, "location")],
    "tracking_events.message": [(ev.TrackingData, "message")],
    "inventory_positions.sku": [(ev.InventoryLevelData, "sku")],
    "inventory_positions.location": [(ev.InventoryLevelData, "location")],
    "inventory_positions.available": [(ev.InventoryLevelData, "available")],
    "inventory_positions.on_hand": [(ev.InventoryLevelData, "on_hand")],
    "support_tickets.source": [(ev.TicketData, "source")],
    "support_tickets.ticket_ref": [(ev.TicketData, "ticket_ref")],
    "support_tickets.order_ref": [(ev.TicketData, "order_ref")],
    "support_tickets.customer_email": [(ev.TicketData, "customer_email")],
    "support_tickets.subject": [(ev.TicketData, "subject")],
    "support_tickets.body": [(ev.TicketData, "body")],
    "support_tickets.status": [(ev.TicketData, "status")],
    "fraud_signals.order_ref": [(ev.FraudSignalData, "order_ref")],
    "fraud_signals.kind": [(ev.FraudSignalData, "kind")],
    "fraud_signals.detail": [(ev.FraudSignalData, "detail")],
    "entity_aliases.kind": [(ev.ExternalKey, "kind")],
    # An email (up to 320 characters) is a key too, registered only when it fits the
    # column (resolve.aliases.KEY_MAX); no real address comes near 200.
    "entity_aliases.key": [
        (ev.ExternalKey, "value"),
        (ev.OrderData, "order_ref"),
        (ev.PaymentData, "payment_ref"),
        (ev.ShipmentData, "tracking_number"),
        (ev.ShipmentData, "shipment_ref"),
        (ev.TrackingData, "tracking_number"),
        (ev.CustomerData, "customer_ref"),
        (ev.TicketData, "ticket_ref"),
        (ev.CatalogItemData, "sku"),
    ],
    "entity_aliases.entity_ref": [(ev.OrderData, "order_ref"), (ev.CatalogItemData, "sku")],
    "entity_aliases.source": [(Envelope, "source")],
    "record_links.order_ref": [
        (ev.PaymentData, "order_ref"),
        (ev.ShipmentData, "order_ref"),
        (ev.TicketData, "order_ref"),
        (ev.FraudSignalData, "order_ref"),
        (ev.RefundData, "order_ref"),
        (ev.FulfillmentHoldData, "order_ref"),
    ],
    "record_links.key_kind": [(ev.ExternalKey, "kind")],
    "record_links.key": [(ev.ExternalKey, "value")],
    "order_refunds.refund_ref": [(ev.RefundData, "refund_ref")],
    "order_refunds.order_ref": [(ev.RefundData, "order_ref")],
    "order_refunds.currency": [(ev.RefundData, "currency")],
    "order_refunds.reason": [(ev.RefundData, "reason")],
    "fulfillment_holds.fulfillment_order_ref": [(ev.FulfillmentHoldData, "fulfillment_order_ref")],
    "fulfillment_holds.order_ref": [(ev.FulfillmentHoldData, "order_ref")],
    "fulfillment_holds.status": [(ev.FulfillmentHoldData, "status")],
}
"""Column -> the schema fields whose values the projector writes into it."""

OURS: dict[str, str] = {
    "inbox.status": "the pipeline's own state",
    "inbox.error": "the pipeline's own diagnosis (Text)",
    "orders.status": "derived from events (open, cancelled)",
    "support_tickets.ticket_class": "the ticket classifier's class (domain.ticket_classes)",
    "support_tickets.ticket_class_model": "the version of the model that classified it",
    "orders.financial_status": "derived from the payments",
    "orders.promise_source": "store, or the policy window resolve computed the promise from",
    "orders.fulfillment_status": "derived from the shipments",
    "orders.brand": "the tenant's brand rules (brand_rules), at most 64 characters",
    "orders.region": "the ship-to country, an ISO code (domain.scopes.order_scope)",
    "entity_aliases.entity_type": "resolve's entity names (domain.aliases.Entity)",
    "alias_waits.alias": "kind:normalised key, at most 64 + 1 + 200 characters",
    "record_links.record_type": "resolve's record types (resolve.links.RecordType)",
    "record_links.record_ref": "system:ref, the system at most 40 characters (system_of)",
    "record_links.method": "resolve's link methods (resolve.links.LinkMethod)",
    "record_links.evidence": "resolve's own account of the match (Text)",
    "record_links.created_by": "an actor id",
    "record_links.revoked_by": "an actor id",
    "record_links.revoked_reason": "a person's reason (Text)",
    "link_suggestions.record_type": "resolve's record types",
    "link_suggestions.record_ref": "system:ref, as for record_links",
    "link_suggestions.reason": "resolve's account of the ambiguity (Text)",
    "link_suggestions.status": "open, accepted, rejected, superseded",
    "link_suggestions.decided_by": "an actor id",
    "link_suggestions.chosen_order_ref": "one of the candidates' order refs",
    "order_refunds.source": "the sending system, at most 40 characters (system_of)",
    "fulfillment_holds.source": "the sending system, at most 40 characters (system_of)",
    **{
        f"{table}.inbox_id": "our inbox row id, hot or archived (no foreign key: retention)"
        for table in (
            "entity_aliases",
            "link_suggestions",
            "order_refunds",
            "record_links",
            "tracking_events",
        )
    },
}
"""Text columns of projected tables that no sender writes (ids and foreign keys aside)."""

NOT_A_COLUMN: dict[Source, str] = {
    (Envelope, "specversion"): "checked, not stored",
    (Envelope, "tenant"): "the caller's tenant is stored, never the sender's claim",
    (ev.OrderCancelledData, "order_ref"): "finds the order; kept in the raw envelope",
    (ev.OrderCancelledData, "reason"): "timeline summary (Text) and the raw envelope",
    **{(ev.Address, name): "ship_to / address JSON" for name in ev.Address.model_fields},
    (ev.CatalogItemData, "title"): "not kept: an order line carries its own title",
    (ev.FraudSignalData, "signal_ref"): "names the signal in record_links.record_ref",
    (ev.FulfillmentHoldData, "note"): "fulfillment_holds.reasons JSON",
}
"""Text fields that are not written to a column of their own."""

INT_RANGE = {Integer: 2**31 - 1, BigInteger: 2**63 - 1}


def _column(name: str) -> Column[Any]:
    table, column = name.split(".")
    return Base.metadata.tables[table].c[column]


def _field_schema(model: type[BaseModel], field: str) -> dict[str, Any]:
    """The JSON schema of one field, with ``Optional`` and enum references resolved."""
    schema = model.model_json_schema()
    prop = schema["properties"][field]
    options = []
    for option in prop.get("anyOf", [prop]):
        if "$ref" in option:
            option = schema["$defs"][option["$ref"].rsplit("/", 1)[-1]]
        if option.get("type") != "null":
            options.append(option)
    (only,) = options
    return dict(only)


def _max_chars(model: type[BaseModel], field: str) -> int | None:
    schema = _field_schema(model, field)
    if "enum" in schema:
        return max(len(str(value)) for value in schema["enum"])
    bound = schema.get("maxLength")
    return int(bound) if bound is not None else None


def _is_enum(model: type[BaseModel], field: str) -> bool:
    return "enum" in _field_schema(model, field)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation names, through ``Optional`` and ``list``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in getattr(annotation, "__args__", ()) for model in _models_in(arg)]


def _text_fields() -> list[Source]:
    """Every string field of the envelope and of every data model, nested ones included."""
    models: list[type[BaseModel]] = []
    queue: list[type[BaseModel]] = [Envelope, *ev.DATA_MODELS.values()]
    while queue:
        model = queue.pop()
        if model not in models:
            models.append(model)
            for info in model.model_fields.values():
                queue += _models_in(info.annotation)
    found = []
    for model in models:
        for name in model.model_fields:
            if model is Envelope and name == "data":
                continue
            schema = _field_schema(model, name)
            is_text = schema.get("type") == "string" and schema.get("format") != "date-time"
            if is_text or "enum" in schema:
                found.append((model, name))
    return found


def _projected_text_columns() -> list[str]:
    names = []
    for table_name in PROJECTED_TABLES:
        for column in Base.metadata.tables[table_name].columns:
            if not isinstance(column.type, String) or column.primary_key or column.foreign_keys:
                continue
            if column.name == "tenant_id":
                continue
            names.append(f"{table_name}.{column.name}")
    return names


def test_every_text_column_a_sender_can_fill_is_mapped_to_its_schema_field() -> None:
    unaccounted = [
        name for name in _projected_text_columns() if name not in FROM_EVENTS and name not in OURS
    ]
    assert unaccounted == [], "add these columns to FROM_EVENTS (or OURS) with their fields"


def test_every_text_field_of_the_schema_lands_in_a_known_column_or_nowhere_on_purpose() -> None:
    mapped = {source for sources in FROM_EVENTS.values() for source in sources}
    unplaced = [
        f"{model.__name__}.{name}"
        for model, name in _text_fields()
        if (model, name) not in mapped and (model, name) not in NOT_A_COLUMN
    ]
    assert unplaced == [], "map these fields to their column in FROM_EVENTS (or NOT_A_COLUMN)"


@pytest.mark.parametrize(
    "column_name", [n for n in FROM_EVENTS if isinstance(_column(n).type, String)]
)
def test_a_bounded_column_is_bounded_identically_in_the_schema(column_name: str) -> None:
    length = _column(column_name).type.length  # type: ignore[attr-defined]
    for model, field in FROM_EVENTS[column_name]:
        accepted = _max_chars(model, field)
        where = f"{model.__name__}.{field} -> {column_name}"
        if length is None:
            continue  # Text holds whatever the schema lets through
        assert accepted is not None, f"{where}: schema unbounded, column varchar({length})"
        if _is_enum(model, field):
            assert accepted <= length, f"{where}: an enum value is longer than {length}"
        else:
            assert accepted == length, f"{where}: schema max {accepted}, column {length}"


@pytest.mark.parametrize(
    "column_name", [n for n in FROM_EVENTS if not isinstance(_column(n).type, String)]
)
def test_an_integer_column_holds_the_whole_range_the_schema_accepts(column_name: str) -> None:
    column_type = type(_column(column_name).type)
    assert column_type in INT_RANGE, f"{column_name} is {column_type.__name__}"
    limit = INT_RANGE[column_type]
    for model, field in FROM_EVENTS[column_name]:
        schema = _field_schema(model, field)
        assert schema["type"] == "integer"
        assert "maximum" in schema, f"{model.__name__}.{field} has no upper bound"
        assert "minimum" in schema, f"{model.__name__}.{field} has no lower bound"
        accepts = f"{model.__name__}.{field} accepts {schema['minimum']}..{schema['maximum']}"
        holds = f"{column_name} ({column_type.__name__}) holds ±{limit}"
        assert schema["minimum"] >= -limit - 1, f"{accepts}; {holds}"
        assert schema["maximum"] <= limit, f"{accepts}; {holds}"


@pytest.mark.parametrize(
    "column_name",
    [
        "orders.total_minor",
        "order_lines.unit_price_minor",
        "payments.amount_minor",
        "payments.amount_refunded_minor",
    ],
)
def test_money_is_64_bit(column_name: str) -> None:
    assert isinstance(_column(column_name).type, BigInteger)


def test_the_map_names_real_fields() -> None:
    """A renamed field must not silently drop out of the checks above."""
    for sources in FROM_EVENTS.values():
        for model, field in sources:
            assert field in model.model_fields, f"{model.__name__} has no field {field}"
    for model, field in NOT_A_COLUMN:
        assert field in model.model_fields, f"{model.__name__} has no field {field}"
