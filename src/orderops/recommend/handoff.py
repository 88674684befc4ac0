"""Support handoff: the case summary, a link to the case and the recommended reply on the
order's support ticket (a comment), or on a new ticket when the order has none.

Both are outbox effects through the writeback registry (``zendesk.add_comment``,
``zendesk.create_ticket``); the idempotency key is the recommendation's, so handing the
same recommendation off twice queues one effect (``DuplicateEffect``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from orderops.domain.errors import IllegalTransition
from orderops.recommend.service import drafts_of, get_recommendation
from orderops.storage.tables import Customer, SupportTicket
from orderops.storage.uow import UnitOfWork
from orderops.writeback.outbox import enqueue


def hand_off(
    uow: UnitOfWork, recommendation_id: str, *, link: str, actor: str, now: datetime
) -> str:
    row = get_recommendation(uow, recommendation_id)
    drafts = drafts_of(uow, row.id)
    internal = next(
        (d for d in drafts if d.audience == "internal" and d.source == "template"), None
    )
    replies = sorted(
        (d for d in drafts if d.audience == "customer" and d.status == "ready"),
        key=lambda d: d.source != "model",
    )
    if internal is None:
        raise IllegalTransition(f"recommendation {recommendation_id} has no internal note")
    comment = f"{internal.body}\nCase: {link}\n"
    if replies:
        comment += f"\nRecommended reply ({replies[0].language}):\n{replies[0].body}"
    else:
        comment += "\nNo customer reply passed the fact check; write one by hand."
    ticket = uow.session.scalar(
        select(SupportTicket)
        .where(
            SupportTicket.tenant_id == uow.tenant_id,
            SupportTicket.order_ref == row.order_ref,
            SupportTicket.source == "zendesk",
        )
        .order_by(SupportTicket.opened_at.desc())
        .limit(1)
    )
    key = f"handoff:{row.id}"
    common = {"case_id": row.case_id, "order_ref": row.order_ref}
    if ticket is not None and ticket.ticket_ref.isdigit():
        return enqueue(
            uow,
            system="zendesk",
            operation="add_comment",
            idempotency_key=key,
            payload={"ticket_id": int(ticket.ticket_ref), "comment": comment, "public": False},
            now=now,
            **common,
        )
    order = uow.commerce.order_by_ref(row.order_ref)
    customer = uow.session.get(Customer, order.customer_id) if order and order.customer_id else None
    if customer is None or not customer.email:
        raise IllegalTransition(
            f"order {row.order_ref} has no support ticket and no customer email to open one for"
        )
    return enqueue(
        uow,
        system="zendesk",
        operation="create_ticket",
        idempotency_key=key,
        payload={
            "subject": replies[0].subject if replies else f"Order {row.order_ref}",
            "body": comment,
            "requester_email": customer.email,
            "tags": ["orderops", row.exception_type],
            "public": False,
        },
        now=now,
        **common,
    )
