"""Zendesk trigger webhooks: ``{"ticket": {...}}`` with the API's field names, one per
version of the ticket (opened, answered, solved).

The ticket names its order only as the customer (or the Shopify app) left it: a quoted
"#1538", "order 1538", "order no. 1538", the order-number field of the web form, the
Shopify order id in ``external_id``, or nothing but the requester's email.

The ticket has the API's shape (tests/fixtures/zendesk/.../tickets_sample.json) plus the
``requester`` object a trigger's JSON body usually adds.
"""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

from orderops.sim.providers.story import OrderStory, TicketStory
from orderops.sim.providers.wire import Draft, utc

SUBDOMAIN = "northwindgoods"
ORDER_FIELD = 360_011_872_341
"""The web form's "Order number" custom field."""
REASON_FIELD = 360_011_872_355
_WEBHOOK_ID = "01J2Q8T5N8XW3Y4Z6A7B9C0D1E"


class ZendeskRenderer:
    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def drafts(self, order: OrderStory) -> list[Draft]:
        out = []
        for ticket in order.tickets:
            versions = [(ticket.created_at, "new"), *ticket.updates]
            for at, status in versions:
                body = {"ticket": self._ticket(order, ticket, at, status)}
                headers = {
                    "Content-Type": "application/json",
                    "X-Zendesk-Webhook-Id": _WEBHOOK_ID,
                    "X-Zendesk-Webhook-Invocation-Id": str(self._rng.randint(10**11, 10**12 - 1)),
                }
                tags = (f"ticket_{ticket.key}",) if status == "new" else ()
                out.append(
                    Draft(
                        at,
                        "zendesk",
                        headers,
                        body,
                        f"ticket:{ticket.ticket_id}",
                        order.order_id,
                        (2.0, 30.0),
                        tags,
                    )
                )
        return out

    def _ticket(
        self, order: OrderStory, ticket: TicketStory, at: datetime, status: str
    ) -> dict[str, Any]:
        field_value: str | None = None
        if ticket.key == "custom_field":
            field_value = str(order.number)
        elif ticket.key == "custom_field_hash":
            field_value = order.name
        via = "api" if ticket.key == "external_id" else "web" if field_value else "email"
        reason = (
            "where_is_my_order"
            if "arrive" in ticket.description or "waiting" in ticket.description
            else "general"
        )
        return {
            "url": f"https://{SUBDOMAIN}.zendesk.com/api/v2/tickets/{ticket.ticket_id}.json",
            "id": ticket.ticket_id,
            "external_id": str(order.order_id) if ticket.key == "external_id" else None,
            "via": {"channel": via, "source": {"from": {}, "to": {}, "rel": None}},
            "created_at": utc(ticket.created_at),
            "updated_at": utc(at),
            "type": "question",
            "subject": ticket.subject,
            "raw_subject": ticket.subject,
            "description": ticket.description,
            "priority": "normal",
            "status": status,
            "recipient": "support@northwind-goods.com",
            "requester_id": ticket.requester_id,
            "requester": {
                "id": ticket.requester_id,
                "name": order.customer.name,
                "email": order.customer.email,
            },
            "submitter_id": ticket.requester_id,
            "assignee_id": None if status == "new" else 421_900_118_734,
            "organization_id": None,
            "group_id": 360_004_118_213,
            "tags": ["shopify"] if ticket.key == "external_id" else [],
            "custom_fields": [
                {"id": ORDER_FIELD, "value": field_value},
                {"id": REASON_FIELD, "value": reason},
            ],
            "brand_id": 360_001_402_998,
        }
