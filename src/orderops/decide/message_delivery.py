"""Where an approved customer message goes: a public comment on the order's Zendesk ticket,
or a new ticket to the customer's email when the order has none.

Both are the support connector's existing outbox operations (``zendesk.add_comment``,
``zendesk.create_ticket``), so a sent message is delivered, retried, read back and
reconciled like any other writeback. The idempotency key is the message's id and the
version that was sent: the same approved text is one effect however often "send" is
pressed, and a re-armed retry carries the same key, so the vendor sees it at most once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from orderops.cases.conflicts import InvalidWorkRequest
from orderops.domain.errors import IllegalTransition
from orderops.storage.tables import Case, Customer, OutboxMessage, SupportTicket
from orderops.storage.tables.queues import Communication
from orderops.storage.uow import UnitOfWork
from orderops.writeback.connectors.markers import tag_marker
from orderops.writeback.outbox import enqueue
from orderops.writeback.states import OutboxStatus

SYSTEM = "zendesk"


@dataclass(frozen=True)
class Route:
    operation: str
    payload: dict[str, Any]


def delivery_key(message: Communication) -> str:
    return f"message:{message.id}:v{message.version}"


def route_for(
    uow: UnitOfWork, case: Case, message: Communication, *, to_recipient: bool = False
) -> Route:
    """The order's newest Zendesk ticket, else a new ticket to the message's recipient or
    the order's customer; refused (nothing queued) when there is neither. ``to_recipient``:
    a new ticket to the message's recipient whatever tickets exist (a corrected address,
    after the ticket requester's mail bounced)."""
    ticket = (
        None
        if to_recipient
        else uow.session.scalar(
            select(SupportTicket)
            .where(
                SupportTicket.tenant_id == uow.tenant_id,
                SupportTicket.order_ref == case.order_ref,
                SupportTicket.source == SYSTEM,
            )
            .order_by(SupportTicket.opened_at.desc(), SupportTicket.id.desc())
            .limit(1)
        )
    )
    if ticket is not None and ticket.ticket_ref.isdigit():
        return Route(
            "add_comment",
            {"ticket_id": int(ticket.ticket_ref), "comment": message.body, "public": True},
        )
    email = message.recipient or _customer_email(uow, case)
    if not email:
        raise IllegalTransition(
            f"order {case.order_ref} has no support ticket and the message no recipient"
        )
    return Route(
        "create_ticket",
        {
            "subject": message.subject or f"Your order {case.order_ref}",
            "body": message.body,
            "requester_email": email,
            "tags": ["orderops", "customer_message"],
            "public": True,
        },
    )


def queue_delivery(
    uow: UnitOfWork,
    case: Case,
    message: Communication,
    *,
    now: datetime,
    to_recipient: bool = False,
) -> str:
    """One outbox row for the message, in the caller's transaction; its id."""
    route = route_for(uow, case, message, to_recipient=to_recipient)
    return enqueue(
        uow,
        system=SYSTEM,
        operation=route.operation,
        idempotency_key=delivery_key(message),
        payload=route.payload,
        now=now,
        case_id=case.id,
        order_ref=case.order_ref,
    )


def vendor_ref(outbox: OutboxMessage) -> str | None:
    """What the vendor calls the written message: the ticket that carries it."""
    ticket = (outbox.result or {}).get("ticket_id")
    return f"zendesk:ticket/{ticket}" if ticket is not None else None


def vendor_reason(outbox: OutboxMessage) -> str:
    if outbox.status == OutboxStatus.CANCELLED:
        last = f" (last error: {outbox.last_error})" if outbox.last_error else ""
        return f"cancelled: its outbox row {outbox.id} was stopped before delivery{last}"
    return outbox.dead_letter_reason or outbox.last_error or f"outbox {outbox.status}"


@dataclass(frozen=True)
class Written:
    """Where a delivered message's comment is, for the bounce read-back."""

    ticket_id: int
    marker: str | None
    """The marker tag of the update that wrote it; None when the delivery opened the
    ticket (its first comment is ours)."""


def written_by(outbox: OutboxMessage) -> Written | None:
    ticket = (outbox.result or {}).get("ticket_id")
    if outbox.system != SYSTEM or not isinstance(ticket, int):
        return None
    if outbox.operation == "add_comment":
        return Written(ticket, tag_marker(outbox.idempotency_key))
    return Written(ticket, None) if outbox.operation == "create_ticket" else None


_ADDRESS = re.compile(r"^[^@\s<>,;\"']+@[^@\s<>,;\"']+\.[^@\s<>,;\"'.]+$")


def valid_address(value: str) -> str:
    """A corrected address, trimmed; refused when it cannot be one mailbox."""
    address = value.strip()
    if len(address) > 320 or not _ADDRESS.match(address):
        raise InvalidWorkRequest(f"{value!r} is not an email address")
    return address


def _customer_email(uow: UnitOfWork, case: Case) -> str | None:
    order = uow.commerce.order_by_ref(case.order_ref)
    if order is None or order.customer_id is None:
        return None
    customer = uow.session.get(Customer, order.customer_id)
    return customer.email if customer is not None and customer.tenant_id == uow.tenant_id else None
