"""Zendesk ticket webhooks become ticket.updated events with an order-number candidate."""

from __future__ import annotations

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


def test_an_order_number_in_the_subject_becomes_the_order_candidate() -> None:
    ticket = {**stored_tickets()[0], "subject": "Where is my order #100234?"}

    (event,) = convert({"ticket": ticket})

    assert event.payload.model_dump()["order_ref"] == "100234"


@pytest.mark.parametrize(
    ("subject", "description", "expected"),
    [
        ("Where is order #1234?", None, "1234"),
        ("Refund please", "My order 55821 arrived broken", "55821"),
        ("Order no. 9001 missing", None, "9001"),
        ("order number: 4444", None, "4444"),
        ("Order #1001 and #1002", None, "1001"),
        ("We're the #1 fan of your shop", "thanks!", None),
        ("Question about sizes", "Do you ship to Norway?", None),
        (None, None, None),
    ],
)
def test_order_number_mentions(
    subject: str | None, description: str | None, expected: str | None
) -> None:
    assert zendesk.find_order_number(subject, description) == expected


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
