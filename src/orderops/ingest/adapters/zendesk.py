"""Zendesk ticket webhooks to ticket updates, with the order keys the ticket carries.

Zendesk delivers two shapes: trigger/automation webhooks whose JSON the admin writes
(by convention ``{"ticket": {...}}`` with API field names) and event subscriptions
(``{"type": "zen:event-type:ticket.*", "detail": {...}}``). Both carry the ticket's
id and ``updated_at``, which together identify one version of the ticket: the envelope
id is derived from them, so the same version delivered twice dedupes.

A ticket names its order, if at all, in ``external_id``, a custom field, or the digits the
customer typed; none of these is certain, so they go out as ``order_keys`` and resolve
decides (falling back to the requester's email).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from orderops.domain.errors import InvalidEvent
from orderops.domain.events import EventType
from orderops.domain.statuses import TicketStatus
from orderops.ingest.adapters.common import (
    JsonObject,
    UnsupportedEvent,
    derived_id,
    event,
    external_keys,
    load_object,
    opt_obj,
    opt_text,
    parse_time,
    text,
)
from orderops.ingest.signatures import verify_zendesk

SOURCE = "zendesk"
EVENT_TYPE_PREFIX = "zen:event-type:"

STATUSES: dict[str, TicketStatus] = {
    "new": TicketStatus.NEW,
    "open": TicketStatus.OPEN,
    "pending": TicketStatus.PENDING,
    "hold": TicketStatus.PENDING,
    "solved": TicketStatus.SOLVED,
    "closed": TicketStatus.CLOSED,
}
"""Zendesk ticket status (lower case in the API, upper case in event subscriptions).
"On-hold" waits on a third party, which for us is still waiting: pending."""

_ORDER_MENTION = re.compile(
    r"(?:#\s?(?P<hash>\d{3,12})\b)"
    r"|(?:\border\s*(?:no\.?|number|num\.?|nr\.?|id)?\s*[:#]?\s*(?P<word>\d{3,12})\b)",
    re.IGNORECASE,
)


_NUMBER_OR_ID = re.compile(r"^(?P<hash>#)?\s*(?P<digits>\d{3,20})$")
"""A whole field value that is an order number ("1538", "#1538") or a Shopify order id."""


def find_order_numbers(*texts: str | None) -> list[str]:
    """Every order number a customer mentions ("#1234", "order 1234", "Order no. 1234"),
    in the order written, each once.

    Only candidates: resolve checks them against real orders before anything trusts
    them. Three to twelve digits, so "#1" in "#1 fan" is not an order.
    """
    found: list[str] = []
    for value in texts:
        for match in _ORDER_MENTION.finditer(value or ""):
            number = match.group("hash") or match.group("word")
            if number not in found:
                found.append(number)
    return found


def order_keys(
    ticket: JsonObject, subject: str | None, description: str | None
) -> list[JsonObject]:
    """The order keys a ticket carries, surest first.

    ``external_id`` is where an integration puts the Shopify order id (or, by hand, the
    number); a custom field value that is all digits may be either, and one written
    "#1538" is a number; the numbers mentioned in the text come last. An id is tried
    before a number because an id names one order and a number may name several.
    """
    pairs: list[tuple[str, str | None]] = []
    external = opt_text(ticket, "external_id")
    if external is not None and _NUMBER_OR_ID.match(external):
        pairs += _id_or_number(external)
    for value in _custom_field_values(ticket):
        pairs += _id_or_number(value)
    pairs += [("order.number", number) for number in find_order_numbers(subject, description)]
    return external_keys(pairs)


def _id_or_number(value: str) -> list[tuple[str, str | None]]:
    match = _NUMBER_OR_ID.match(value.strip())
    if match is None:
        return []
    if match.group("hash"):
        return [("order.number", value)]
    return [("shopify.order", match.group("digits")), ("order.number", value)]


def _custom_field_values(ticket: JsonObject) -> list[str]:
    fields = ticket.get("custom_fields")
    if fields is None:
        return []
    if not isinstance(fields, list):
        raise InvalidEvent("ticket.custom_fields is not a list")
    values = []
    for field in fields:
        if isinstance(field, dict):
            value = opt_text(field, "value")
            if value is not None and _NUMBER_OR_ID.match(value):
                values.append(value)
    return values


class ZendeskAdapter:
    source = SOURCE

    def verify(
        self, *, headers: Mapping[str, str], body: bytes, secret: str, now: datetime
    ) -> None:
        verify_zendesk(headers=headers, body=body, secret=secret, now=now)

    def to_events(self, *, headers: Mapping[str, str], body: bytes) -> list[JsonObject]:
        raw = load_object(body, provider=SOURCE)
        ticket = _ticket_of(raw)
        if ticket is None:
            return []
        data = map_ticket(ticket)
        updated = parse_time(ticket.get("updated_at"), where="ticket.updated_at")
        event_id = derived_id(SOURCE, data["ticket_ref"], updated.isoformat())
        return [
            event(
                source=SOURCE,
                event_id=event_id,
                type_=EventType.TICKET_UPDATED,
                time=updated,
                subject=data["ticket_ref"],
                data=data,
            )
        ]


def map_ticket(ticket: JsonObject) -> dict[str, Any]:
    where = "ticket"
    status_text = (opt_text(ticket, "status") or "new").lower()
    status = STATUSES.get(status_text)
    if status is None:
        raise InvalidEvent(f"zendesk ticket status {status_text!r} has no mapping")
    subject = opt_text(ticket, "subject") or opt_text(ticket, "raw_subject")
    description = opt_text(ticket, "description")
    return {
        "ticket_ref": text(ticket, "id", where=where),
        "source": SOURCE,
        "customer_email": _requester_email(ticket),
        "subject": subject,
        "body": description,
        "status": status,
        "order_keys": order_keys(ticket, subject, description),
    }


def _ticket_of(raw: JsonObject) -> JsonObject | None:
    """The ticket in either webhook shape; None for a non-ticket event subscription."""
    kind = opt_text(raw, "type")
    if kind and kind.startswith(EVENT_TYPE_PREFIX):
        if not kind.startswith(EVENT_TYPE_PREFIX + "ticket."):
            return None
        detail = opt_obj(raw, "detail")
        if detail is None:
            raise InvalidEvent("zendesk ticket event has no detail object")
        return detail
    ticket = opt_obj(raw, "ticket")
    if ticket is not None:
        return ticket
    if kind:
        raise UnsupportedEvent(f"zendesk event type {kind!r} is not supported")
    raise InvalidEvent("zendesk payload has neither a ticket object nor an event type")


def _requester_email(ticket: JsonObject) -> str | None:
    requester = opt_obj(ticket, "requester")
    if requester and opt_text(requester, "email"):
        return opt_text(requester, "email")
    if opt_text(ticket, "requester_email"):
        return opt_text(ticket, "requester_email")
    source = opt_obj(opt_obj(ticket, "via") or {}, "source") or {}
    sender = opt_obj(source, "from") or {}
    return opt_text(sender, "address")
