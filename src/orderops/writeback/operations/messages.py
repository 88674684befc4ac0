"""Messages: notes on the Shopify order and the CRM customer, comments on the Zendesk ticket.

Notes carry the key as a marker (Shopify, Zendesk tag) or travel under Idempotency-Key
(CRM), so a retry after a lost answer finds the first note instead of writing a second.
An optional ``expect`` guards notes that only make sense while the order is live.
The Shopify and Zendesk connectors look for the marker themselves before writing, so on a
first attempt without ``expect`` the precheck reads nothing; and each answer (the order,
the ticket) shows the marker, so it needs no read-back.
"""

from __future__ import annotations

from orderops.writeback.connectors.markers import has_text_marker, tag_marker
from orderops.writeback.connectors.zendesk import external_id_for
from orderops.writeback.registry import Call, Connectors, Difference, Operation, Precheck, Result

# shopify.add_note payload: order_id, text, tracking_code?, expect?: {cancelled: false}
# crm.add_note payload: customer_id, body
# zendesk.add_comment payload: ticket_id, comment, public?, status?, expect?: {open: true}
# zendesk.create_ticket payload: subject, body, requester_email, tags?, public?


def shopify_note_precheck(connectors: Connectors, call: Call) -> Precheck:
    if not call.sent_before and call.expect("cancelled", None) is None:
        return Precheck()  # no fact to compare, and no note of ours can be there yet
    order = connectors.shopify().get_order(int(call.payload["order_id"]))
    if has_text_marker(order.note, call.idempotency_key):
        return Precheck(earlier_result={"order_id": order.id})
    expected = call.expect("cancelled", None)
    cancelled = order.cancelled_at is not None
    if expected is not None and bool(expected) != cancelled:
        return Precheck(differences=(Difference("cancelled", expected, cancelled),))
    return Precheck()


def shopify_note(connectors: Connectors, call: Call) -> Result:
    text = str(call.payload["text"])
    if call.payload.get("tracking_code"):
        text = f"{text} (tracking {call.payload['tracking_code']})"
    order = connectors.shopify().add_note(
        order_id=int(call.payload["order_id"]),
        text=text,
        idempotency_key=call.idempotency_key,
    )
    noted = has_text_marker(order.note, call.idempotency_key)
    return {"order_id": order.id, "replayed": order.replayed, "noted": noted}


def shopify_note_confirm(connectors: Connectors, call: Call, result: Result) -> bool:
    order = connectors.shopify().get_order(int(call.payload["order_id"]))
    return has_text_marker(order.note, call.idempotency_key)


def shopify_note_answered(result: Result) -> bool:
    """The connector answers with the order as Shopify stored it (or as its look-first
    read it): its note carrying our marker is what the read-back would check."""
    return result.get("noted") is True


def crm_note(connectors: Connectors, call: Call) -> Result:
    note = connectors.crm().add_note(
        customer_id=str(call.payload["customer_id"]),
        body=str(call.payload["body"]),
        idempotency_key=call.idempotency_key,
    )
    return {"note_id": note.id, "customer_id": note.customer_id, "replayed": note.replayed}


def crm_note_confirm(connectors: Connectors, call: Call, result: Result) -> bool:
    """The CRM answers with the stored note, and offers no note listing to read back."""
    return bool(result.get("note_id"))


def zendesk_comment_precheck(connectors: Connectors, call: Call) -> Precheck:
    if not call.sent_before and not call.expect("open", None):
        return Precheck()  # no fact to compare, and no comment of ours can be there yet
    ticket = connectors.zendesk().get_ticket(int(call.payload["ticket_id"]))
    if tag_marker(call.idempotency_key) in ticket.tags:
        return Precheck(earlier_result={"ticket_id": ticket.id, "status": ticket.status})
    if call.expect("open", None) and ticket.status in ("solved", "closed"):
        return Precheck(differences=(Difference("ticket_status", "open", ticket.status),))
    return Precheck()


def zendesk_comment(connectors: Connectors, call: Call) -> Result:
    ticket = connectors.zendesk().update_ticket(
        ticket_id=int(call.payload["ticket_id"]),
        idempotency_key=call.idempotency_key,
        comment=str(call.payload["comment"]),
        public=bool(call.payload.get("public", False)),
        status=call.payload.get("status"),
    )
    tagged = tag_marker(call.idempotency_key) in ticket.tags
    return {
        "ticket_id": ticket.id,
        "status": ticket.status,
        "replayed": ticket.replayed,
        "tagged": tagged,
    }


def zendesk_comment_answered(result: Result) -> bool:
    """Zendesk answers an update with the ticket; our marker tag on it (or on the ticket
    the connector's look-first read) is what the read-back would check."""
    return result.get("tagged") is True


def zendesk_comment_confirm(connectors: Connectors, call: Call, result: Result) -> bool:
    ticket = connectors.zendesk().get_ticket(int(call.payload["ticket_id"]))
    return tag_marker(call.idempotency_key) in ticket.tags


def zendesk_create(connectors: Connectors, call: Call) -> Result:
    """A new ticket; the connector finds an earlier one by the key's external id first."""
    ticket = connectors.zendesk().create_ticket(
        subject=str(call.payload["subject"]),
        body=str(call.payload["body"]),
        requester_email=str(call.payload["requester_email"]),
        idempotency_key=call.idempotency_key,
        tags=tuple(str(t) for t in call.payload.get("tags") or ()),
        public=bool(call.payload.get("public", False)),
    )
    ours = ticket.external_id == external_id_for(call.idempotency_key)
    return {
        "ticket_id": ticket.id,
        "status": ticket.status,
        "replayed": ticket.replayed,
        "ours": ours,
    }


def zendesk_create_confirm(connectors: Connectors, call: Call, result: Result) -> bool:
    ticket = connectors.zendesk().get_ticket(int(result["ticket_id"]))
    return ticket.external_id == external_id_for(call.idempotency_key)


def zendesk_create_answered(result: Result) -> bool:
    """Zendesk answers with the ticket it created (or the connector with the one it found
    by our external id): carrying our external id is what the read-back would check."""
    return result.get("ours") is True


OPERATIONS = [
    Operation(
        system="shopify",
        name="add_note",
        precheck=shopify_note_precheck,
        execute=shopify_note,
        confirm=shopify_note_confirm,
        summary_fields=("order_id",),
        answer_confirms=shopify_note_answered,
    ),
    Operation(
        system="crm",
        name="add_note",
        execute=crm_note,
        confirm=crm_note_confirm,
        summary_fields=("customer_id",),
    ),
    Operation(
        system="zendesk",
        name="add_comment",
        precheck=zendesk_comment_precheck,
        execute=zendesk_comment,
        confirm=zendesk_comment_confirm,
        summary_fields=("ticket_id", "public", "status"),
        answer_confirms=zendesk_comment_answered,
    ),
    Operation(
        system="zendesk",
        name="create_ticket",
        execute=zendesk_create,
        confirm=zendesk_create_confirm,
        summary_fields=("public",),
        answer_confirms=zendesk_create_answered,
    ),
]
