"""Zendesk ticket webhooks become ticket.updated events with an order-number candidate."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from orderops.domain.errors import InvalidEvent
from orderops.domain.events import EventType
from orderops.domain.statuses import TicketStatus
from orderops.ingest.adapters import ADAPTERS, UnsupportedEvent, zendesk
from orderops.ingest.envelope import CanonicalEvent, parse_event

FIXTURES = Path(__file__).parents[1] / "fixtures" / "zendesk" / "zendesk_api_client_rb_cassettes"
ADAPTER = ADAPTERS["zendesk"]


def stored_tickets() -> list[dict[str, Any]]:
    created = json.loads((FIXTURES / "ZendeskAPI_Ticket_create.decoded.json").read_text())
    tickets = [i["response"]["ticket"] for i in created if "ticket" in (i.get("response") or {})]
    sample = json.loads((FIXTURES / "tickets_sample.json").read_text())
    stored: list[dict[str, Any]] = tickets + sample["tickets"]
    return stored


def convert(raw: dict[str, Any] | bytes) -> list[CanonicalEvent]:
    body = raw if isinstance(raw, bytes) else json.dumps(raw).encode()
    events = ADAPTER.to_events(headers={}, body=body)
    return [parse_event(json.loads(json.dumps(e)), tenant_id="t1") for e in events]


@pytest.mark.parametrize("ticket", stored_tickets(), ids=lambda t: str(t["id"]))
def test_every_stored_ticket_maps_to_a_ticket_update(ticket: dict[str, Any]) -> None:
    (event,) = convert({"ticket": ticket})
    data = event.payload.model_dump()

    assert event.type is EventType.TICKET_UPDATED
    assert data["ticket_ref"] == str(ticket["id"])
    assert data["subject"] == ticket["subject"]
    assert data["status"] is zendesk.STATUSES[ticket["status"]]
    assert event.envelope.time == datetime.fromisoformat(ticket["updated_at"])


def test_the_event_subscription_shape_maps_the_same_ticket_the_same_way() -> None:
    ticket = stored_tickets()[0]
    detail = {**ticket, "status": ticket["status"].upper()}
    subscription = {"type": "zen:event-type:ticket.status_changed", "id": "e-1", "detail": detail}

    (from_trigger,) = convert({"ticket": ticket})
    (from_subscription,) = convert(subscription)

    assert from_subscription.payload == from_trigger.payload
    assert from_subscription.envelope.id == from_trigger.envelope.id


def test_a_new_ticket_version_gets_a_new_id() -> None:
    ticket = stored_tickets()[0]
    (first,) = convert({"ticket": ticket})

    (later,) = convert({"ticket": {**ticket, "updated_at": "2030-01-01T00:00:00Z"}})

    assert later.envelope.id != first.envelope.id


def test_the_requester_email_is_taken_when_the_trigger_sends_it() -> None:
    ticket = {**stored_tickets()[0], "requester": {"email": "ana@example.com"}}

    (event,) = convert({"ticket": ticket})

    assert event.payload.model_dump()["customer_email"] == "ana@example.com"


def keys_of(ticket: dict[str, Any]) -> list[tuple[str, str]]:
    (event,) = convert({"ticket": ticket})
    data = event.payload.model_dump()
    assert data["order_ref"] is None, "a ticket never decides its order itself"
    return [(k["kind"], k["value"]) for k in data["order_keys"]]


def with_field(value: object) -> dict[str, Any]:
    """A stored ticket whose third custom field holds ``value`` (the others stay null)."""
    ticket = copy.deepcopy(stored_tickets()[0])
    ticket["custom_fields"][2]["value"] = value
    return dict(ticket)


def test_a_stored_ticket_naming_nothing_has_no_order_keys() -> None:
    """The real tickets: null custom fields, no external id, no number in the text."""
    assert all(keys_of(ticket) == [] for ticket in stored_tickets())


def test_an_order_number_in_the_subject_becomes_an_order_number_key() -> None:
    ticket = {**stored_tickets()[0], "subject": "Where is my order #100234?"}

    assert keys_of(ticket) == [("order.number", "100234")]


def test_every_number_mentioned_is_a_key_subject_first_each_once() -> None:
    ticket = {
        **stored_tickets()[0],
        "subject": "Order #1538 and #1539",
        "description": "I wrote about order no. 1539 and order 1540 yesterday",
    }

    assert keys_of(ticket) == [
        ("order.number", "1538"),
        ("order.number", "1539"),
        ("order.number", "1540"),
    ]


def test_the_external_id_may_be_the_shopify_order_id_or_its_number() -> None:
    ticket = {**stored_tickets()[0], "external_id": "5849871237912"}

    assert keys_of(ticket) == [
        ("shopify.order", "5849871237912"),
        ("order.number", "5849871237912"),
    ]


def test_an_external_id_that_is_no_order_key_is_not_offered() -> None:
    assert keys_of({**stored_tickets()[0], "external_id": "crm-contact-88"}) == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1538", [("shopify.order", "1538"), ("order.number", "1538")]),
        (1538, [("shopify.order", "1538"), ("order.number", "1538")]),
        ("#1538", [("order.number", "#1538")]),
        ("# 1538", [("order.number", "# 1538")]),
        ("5849871237912", [("shopify.order", "5849871237912"), ("order.number", "5849871237912")]),
        ("12", []),
        ("next tuesday", []),
        ("555-123-4567", []),
        (True, []),
        (["1538"], []),
        (None, []),
    ],
    ids=[
        "digits",
        "number",
        "hash",
        "hash-space",
        "shopify-id",
        "too-short",
        "words",
        "phone",
        "checkbox",
        "multi-select",
        "empty",
    ],
)
def test_a_custom_field_value_that_looks_like_an_order_is_a_key(
    value: object, expected: list[tuple[str, str]]
) -> None:
    assert keys_of(with_field(value)) == expected


def test_keys_come_surest_first_external_id_fields_then_mentions() -> None:
    ticket = {
        **with_field("#1538"),
        "external_id": "5849871237912",
        "subject": "Order #1538 is late, also #2001",
    }

    assert keys_of(ticket) == [
        ("shopify.order", "5849871237912"),
        ("order.number", "5849871237912"),
        ("order.number", "#1538"),
        ("order.number", "1538"),
        ("order.number", "2001"),
    ]


def test_a_ticket_naming_only_its_requester_keeps_the_email_for_resolve() -> None:
    ticket = {**stored_tickets()[0], "requester": {"email": "Ana@Example.com"}}

    (event,) = convert({"ticket": ticket})
    data = event.payload.model_dump()

    assert (data["order_keys"], data["customer_email"]) == ([], "Ana@Example.com")


def test_a_ticket_with_custom_fields_that_are_not_a_list_is_refused() -> None:
    ticket = {**stored_tickets()[0], "custom_fields": {"id": 1, "value": "1538"}}

    with pytest.raises(InvalidEvent, match="custom_fields is not a list"):
        convert({"ticket": ticket})


@pytest.mark.parametrize(
    ("subject", "description", "expected"),
    [
        ("Where is order #1234?", None, ["1234"]),
        ("Refund please", "My order 55821 arrived broken", ["55821"]),
        ("Order no. 9001 missing", None, ["9001"]),
        ("order number: 4444", None, ["4444"]),
        ("Order #1001 and #1002", None, ["1001", "1002"]),
        ("Order #1001", "about #1001 again", ["1001"]),
        ("We're the #1 fan of your shop", "thanks!", []),
        ("Question about sizes", "Do you ship to Norway?", []),
        (None, None, []),
    ],
)
def test_all_order_number_mentions(
    subject: str | None, description: str | None, expected: list[str]
) -> None:
    assert zendesk.find_order_numbers(subject, description) == expected


@pytest.mark.parametrize(("status", "expected"), sorted(zendesk.STATUSES.items()))
def test_status_table(status: str, expected: TicketStatus) -> None:
    ticket = {**stored_tickets()[0], "status": status}

    (event,) = convert({"ticket": ticket})

    assert event.payload.model_dump()["status"] is expected


def test_non_ticket_event_subscriptions_are_ignored() -> None:
    assert convert({"type": "zen:event-type:user.created", "detail": {"id": "1"}}) == []


@pytest.mark.parametrize(
    ("raw", "error", "reason"),
    [
        (b'{"ticket": {"id": 1, "updated_', InvalidEvent, "not valid JSON"),
        ({"ticket": {"updated_at": "2015-12-30T01:45:29Z"}}, InvalidEvent, "ticket.id"),
        ({"ticket": {"id": 1}}, InvalidEvent, "ticket.updated_at"),
        (
            {"ticket": {"id": 1, "updated_at": "2015-12-30T01:45:29Z", "status": "x"}},
            InvalidEvent,
            "status",
        ),
        ({"type": "zen:event-type:ticket.created"}, InvalidEvent, "no detail"),
        ({"type": "agent.updated"}, UnsupportedEvent, "agent.updated"),
        ({"hello": "world"}, InvalidEvent, "neither a ticket"),
    ],
    ids=["truncated", "no-id", "no-updated-at", "bad-status", "no-detail", "unknown", "no-ticket"],
)
def test_malformed_payloads_are_refused_with_a_reason(
    raw: dict[str, Any] | bytes, error: type[InvalidEvent], reason: str
) -> None:
    with pytest.raises(error, match=reason):
        convert(raw)
