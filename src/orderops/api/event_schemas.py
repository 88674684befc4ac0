"""The request schema of ``POST /v1/events``: the canonical envelope, one per event type.

The route reads its body as raw bytes (an unusable body is dead-lettered whole), so
FastAPI cannot derive the schema from a parameter. It is built here from the models the
intake validates with (``ingest/envelope.py``, ``domain/events.DATA_MODELS``): a union of
envelopes discriminated by ``type``, each with its own ``data`` model, so the document
cannot drift from what the intake accepts.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Field, TypeAdapter, create_model

from orderops.domain.events import DATA_MODELS, EventType
from orderops.ingest.envelope import Envelope

REF_TEMPLATE = "#/components/schemas/{model}"


def _model_name(event_type: EventType) -> str:
    return "".join(part.capitalize() for part in event_type.value.split(".")) + "Event"


def _envelope_of(event_type: EventType) -> type[Envelope]:
    data_model = DATA_MODELS[event_type]
    return create_model(
        _model_name(event_type),
        __base__=Envelope,
        __doc__=f"A `{event_type.value}` event: the canonical envelope with its data.",
        type=(Literal[event_type.value], ...),  # type: ignore[arg-type]  # a Literal made at run time
        data=(data_model, ...),
    )


_ENVELOPES = tuple(_envelope_of(event_type) for event_type in EventType)
CanonicalEnvelope = Annotated[Union[_ENVELOPES], Field(discriminator="type")]  # type: ignore[valid-type]  # noqa: UP007
"""Any canonical event, told apart by its ``type``."""

EXAMPLE_EVENT: dict[str, Any] = {
    "specversion": "1.0",
    "id": "evt-1001",
    "source": "https://shop.example/orders",
    "type": "order.placed",
    "time": "2026-01-05T09:30:00Z",
    "subject": "o-1001",
    "data": {
        "order_ref": "o-1001",
        "number": "1001",
        "currency": "USD",
        "total_minor": 5000,
        "placed_at": "2026-01-05T09:30:00Z",
        "promised_by": "2026-01-10T18:00:00Z",
        "service_level": "standard",
        "customer": {"customer_ref": "cust-7", "email": "ana@example.com"},
        "lines": [{"sku": "SKU-1", "quantity": 1, "unit_price_minor": 5000}],
    },
}


def envelope_schemas() -> tuple[dict[str, Any], dict[str, Any]]:
    """The union's schema and the component schemas it refers to."""
    schema = TypeAdapter(CanonicalEnvelope).json_schema(ref_template=REF_TEMPLATE)
    definitions: dict[str, Any] = schema.pop("$defs", {})
    return schema, definitions


def request_body() -> dict[str, Any]:
    """The ``requestBody`` of ``POST /v1/events``: one event or a non-empty array."""
    union, _ = envelope_schemas()
    return {
        "required": True,
        "description": "One canonical event envelope (CloudEvents-shaped: id, source, type, "
        "time, subject, data; `data` has the shape its `type` names) or a JSON array of "
        "them. Read as raw bytes, so an unusable body is kept whole as a dead letter.",
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        union,
                        {"type": "array", "items": union, "minItems": 1},
                    ]
                },
                "examples": {
                    "one event": {"value": EXAMPLE_EVENT},
                    "a batch": {"value": [EXAMPLE_EVENT]},
                },
            }
        },
    }
