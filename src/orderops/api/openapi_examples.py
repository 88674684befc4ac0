"""An example for every object schema of the OpenAPI document that has none of its own.

Models that matter most carry hand-written examples (``json_schema_extra`` or ``Field``
examples, next to the model). For the others the document is completed here, from the
schema itself: each property gets the example its own schema gives (``examples``,
``default``, ``const``, the first ``enum`` value, a referenced schema's example), else one
from a table of the field names the API uses everywhere (ids, order references, times,
amounts), else a plain value of its type within its bounds. A value that would break the
property's own constraints (pattern, length, range) is not used: the model then stays
without an example rather than show an invalid one; ``tests/unit/test_openapi_examples.py``
validates every example in the document against its schema and bounds how many models
go without.
"""

from __future__ import annotations

import re
from typing import Any

ID = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
AT = "2026-11-20T09:12:00Z"

BY_NAME: dict[str, Any] = {
    "id": ID,
    "case_id": ID,
    "action_id": ID,
    "message_id": ID,
    "order_ref": "shopify:5012345678901",
    "chosen_order_ref": "shopify:5012345678901",
    "record_ref": "zendesk:4711",
    "ticket_ref": "zendesk:4711",
    "payment_ref": "pi_3OqZ2bLkdIwHu7ix0abc1234",
    "refund_ref": "re_3OqZ2bLkdIwHu7ix0xyz9876",
    "shipment_ref": "shp_7d1c0b9a",
    "fulfillment_order_ref": "gid://shopify/FulfillmentOrder/6311",
    "customer_ref": "cust-7",
    "dispute_ref": "dp_1OqZ3cLkdIwHu7ix",
    "delivery_ref": "msg-5521",
    "signal_ref": "sig-88",
    "tracking_number": "1Z999AA10123456784",
    "carrier": "ups",
    "sku": "SKU-1",
    "currency": "EUR",
    "country": "DE",
    "language": "en",
    "locale": "en-GB",
    "email": "ana@example.com",
    "customer_email": "ana@example.com",
    "recipient": "ana@example.com",
    "phone": "+49 30 1234567",
    "url": "https://ops.example.com/hooks/orderops",
    "endpoint_url": "https://ops.example.com/hooks/orderops",
    "base_url": "https://acme-shop.myshopify.com",
    "source": "shopify",
    "system": "shopify",
    "provider": "stripe",
    "operation": "refund_payment",
    "exception_type": "shipment_late",
    "type": "shipment_late",
    "kind": "refund",
    "status": "open",
    "priority": "P2",
    "queue": "ops",
    "escalation_queue": "ops-leads",
    "assignee": "alice",
    "role": "agent",
    "name": "Acme EU store",
    "display_name": "Alice Agent",
    "username": "alice",
    "title": "Late parcel",
    "summary": "Parcel 1Z999AA10123456784 is 3 days past its promise",
    "description": "Refunds and notes for the EU store",
    "reason": "customer confirmed the address",
    "note": "checked with the warehouse",
    "message": "Your parcel is on its way again.",
    "body": "Hello Ana, your parcel is on its way again.",
    "detail": "the carrier reported an exception at the hub",
    "evidence": "the ticket names order #1538",
    "rationale": "a late parcel of a gold-tier customer: refund shipping",
    "error": "connection timed out after 10 s",
    "last_error": "connection timed out after 10 s",
    "outcome": "accepted",
    "delivery": ID,
    "expires_in": "90d",
    "overlap": "24h",
    "change": "opened",
    "decision": "approved",
    "method": "key",
    "audience": "customer",
    "step": "refund",
    "act": "approve",
    "option": "refund",
    "mode": "live",
    "environment": "live",
    "state": "active",
    "yaml": "version: 1\nrules: []\n",
    "actor": "user:3f2e1d0c",
    "created_by": "user:3f2e1d0c",
    "decided_by": "user:3f2e1d0c",
    "approver": "user:3f2e1d0c",
    "proposed_by": "user:3f2e1d0c",
    "owner": "user:3f2e1d0c",
    "set_by": "user:3f2e1d0c",
    "worker_id": "worker-1",
    "leased_by": "worker-1",
    "subject": "shopify:5012345678901",
    "tenant": "acme",
    "tenant_id": "acme",
    "brand": "acme",
    "store": "acme-eu",
    "channel": "web",
    "region": "DE",
    "city": "Berlin",
    "postal_code": "10115",
    "line1": "Invalidenstrasse 1",
    "line2": None,
    "idempotency_key": "refund:0f1e2d3c:1",
    "secret": "whsec_9f8e7d6c5b4a39281706f5e4d3c2b1a0",
    "prefix": "oo_live_7Hk2",
    "fingerprint": "sha256:4c7f0e1d",
    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "media_type": "application/pdf",
    "version": 3,
    "attempts": 1,
    "number": "1538",
    "limit": 50,
    "offset": 0,
    "total": 120,
    "amount_minor": 4999,
    "total_minor": 4999,
    "unit_price_minor": 4999,
    "cost_minor": 599,
    "quantity": 1,
    "score": 72,
    "impact_score": 64,
    "confidence": 0.82,
    "occurrences": 1,
    "index": 0,
    "response_status": 201,
    "status_code": 200,
    "latency_ms": 184,
    "next_cursor": "eyJ2IjoxLCJzb3J0Ijoib3V0Ym94In0.x9ZkQ2",
    "params": {"amount_minor": 599, "reason": "late delivery"},
    "tags": ["vip"],
}
"""Example values by field name, for the fields the API's models share."""


def complete_examples(schemas: dict[str, Any]) -> None:
    """Give every object schema in ``schemas`` without examples one built from its
    properties, when every property has a valid example.

    A hand-written example loses its null members on the way into the document (FastAPI
    encodes it without ``None``s), so a required nullable property it lacks is put back
    as null first."""
    for schema in schemas.values():
        for example in schema.get("examples", []) if "properties" in schema else []:
            if isinstance(example, dict):
                _restore_nulls(schema, example)
    for name, schema in schemas.items():
        if "properties" not in schema or "examples" in schema or "example" in schema:
            continue
        built = _object(schema, schemas, seen={name})
        if built is not None:
            schema["examples"] = [built]


def _restore_nulls(schema: dict[str, Any], example: dict[str, Any]) -> None:
    for prop in schema.get("required", []):
        branches = schema["properties"].get(prop, {}).get("anyOf", [])
        if prop not in example and any(b.get("type") == "null" for b in branches):
            example[prop] = None


def _object(schema: dict[str, Any], schemas: dict[str, Any], seen: set[str]) -> Any:
    built: dict[str, Any] = {}
    for prop, sub in schema.get("properties", {}).items():
        value = _example(sub, schemas, seen, prop)
        if value is _NONE:
            if prop in schema.get("required", []):
                return None
            continue
        built[prop] = value
    return built


class _None:
    """No example could be made."""


_NONE: Any = _None()


def _example(schema: dict[str, Any], schemas: dict[str, Any], seen: set[str], name: str) -> Any:
    if schema.get("examples"):
        return schema["examples"][0]
    if "example" in schema:
        return schema["example"]
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        named = BY_NAME.get(name)
        return named if named in schema["enum"] else schema["enum"][0]
    if "$ref" in schema:
        return _referenced(schema["$ref"], schemas, seen, name)
    if "anyOf" in schema or "oneOf" in schema:
        branches = schema.get("anyOf") or schema.get("oneOf") or []
        nullable = any(b.get("type") == "null" for b in branches)
        if nullable and BY_NAME.get(name) is None:
            return None  # an optional value the table does not name: shown absent
        for branch in branches:
            if branch.get("type") != "null":
                value = _example(branch, schemas, seen, name)
                if value is not _NONE:
                    return value
        return None if nullable else _NONE
    if schema.get("default") is not None:
        return schema["default"]
    return _typed(schema, schemas, seen, name)


def _referenced(ref: str, schemas: dict[str, Any], seen: set[str], name: str) -> Any:
    target = ref.rsplit("/", 1)[-1]
    schema = schemas.get(target)
    if schema is None or target in seen:
        return _NONE
    if "properties" not in schema:
        return _example(schema, schemas, seen, name)
    if schema.get("examples"):
        return schema["examples"][0]
    return _object(schema, schemas, seen | {target}) or _NONE


def _typed(schema: dict[str, Any], schemas: dict[str, Any], seen: set[str], name: str) -> Any:
    kind = schema.get("type")
    if kind == "string":
        return _string(schema, name)
    if kind in ("integer", "number"):
        return _number(schema, name, integer=kind == "integer")
    if kind == "boolean":
        return bool(BY_NAME.get(name, False))
    if kind == "array":
        item = _example(schema.get("items", {}), schemas, seen, name.removesuffix("s"))
        if item is _NONE:
            return [] if not schema.get("minItems") else _NONE
        return [item] * max(1, schema.get("minItems", 1))
    if kind == "object" or "additionalProperties" in schema:
        if "properties" in schema:
            return _object(schema, schemas, seen) or _NONE
        value = BY_NAME.get(name)
        return value if isinstance(value, dict) else {}
    return _NONE


def _string(schema: dict[str, Any], name: str) -> Any:
    if schema.get("format") == "date-time" or name.endswith("_at"):
        value: Any = AT
    elif name in BY_NAME:
        value = BY_NAME[name]
    elif name.endswith("_id") or name.endswith("_ids"):
        value = ID
    elif name.endswith("_ref"):
        value = "shopify:5012345678901"
    elif schema.get("format") == "uri":
        value = BY_NAME["url"]
    else:
        value = name.replace("_", " ")
    if not isinstance(value, str):
        return _NONE
    if len(value) > schema.get("maxLength", len(value)) or len(value) < schema.get("minLength", 0):
        return _NONE
    pattern = schema.get("pattern")
    if pattern is not None and re.search(pattern, value) is None:
        return _NONE
    return value


def _number(schema: dict[str, Any], name: str, *, integer: bool) -> Any:
    value = BY_NAME.get(name)
    if not isinstance(value, int | float) or isinstance(value, bool):
        value = 1 if integer else 0.5
    if integer and not isinstance(value, int):
        return _NONE
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None and value < low:
        value = int(low) if integer else low
    if high is not None and value > high:
        value = int(high) if integer else high
    if "exclusiveMinimum" in schema or "exclusiveMaximum" in schema or "multipleOf" in schema:
        return _NONE  # none in the API today; not worth guessing
    return value
