"""Record links: which order a payment, ticket, shipment, signal, refund or hold was tied to,
by what key, and by whom.

Resolve writes one whenever it ties a record to an order by anything but the record's own
canonical ``order_ref`` (a charge id, a number quoted in a ticket, the requester's email);
a reviewer writes one when choosing a suggestion or linking by hand. A link is never
edited: unlinking stamps ``revoked_*`` and relinking adds a row, and both go on the audit
chain in the caller's transaction, so the desk can always say why a record sits on an order.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

from orderops.resolve.reads import active_links_for_record
from orderops.storage.base import new_sortable_id
from orderops.storage.repositories.resolve import ResolveRepository
from orderops.storage.tables import RecordLink
from orderops.storage.uow import UnitOfWork


class RecordType(StrEnum):
    PAYMENT = "payment"
    TICKET = "ticket"
    SHIPMENT = "shipment"
    FRAUD_SIGNAL = "fraud_signal"
    REFUND = "refund"
    HOLD = "hold"


class LinkMethod(StrEnum):
    ALIAS = "alias"
    """A key of the record names the order, or an entity that belongs to it."""
    MENTION = "mention"
    """An order number written in the record's text (a ticket's subject or body)."""
    EMAIL = "email"
    """The requester's email names a customer with exactly one open order."""
    SUGGESTION = "suggestion"
    """A reviewer chose among the candidates resolve would not guess between."""
    MANUAL = "manual"


RESOLVE_ACTOR = "system:resolve"


class BadLink(ValueError):
    """A link naming an unknown record type or method: refused, nothing written."""


def record_ref(source: str, ref: str) -> str:
    """How a link names its record: ``source:ref`` (``stripe:pi_1``, ``zendesk:123``)."""
    return f"{source}:{ref}"


def add_link(
    uow: UnitOfWork,
    *,
    record_type: str,
    record_ref: str,
    order_ref: str,
    method: str,
    key_kind: str | None,
    key: str | None,
    evidence: str,
    actor: str,
    now: datetime,
    inbox_id: str | None = None,
) -> RecordLink:
    """Tie the record to the order and audit it ("record.linked").

    An active link of the same record to the same order is returned as it is: a
    redelivered or replayed event links nothing twice and adds no audit record.
    """
    try:
        kind, how = RecordType(record_type), LinkMethod(method)
    except ValueError as exc:
        raise BadLink(str(exc)) from None
    repo = ResolveRepository(uow.session, uow.tenant_id)
    for existing in active_links_for_record(uow, kind, record_ref):
        if existing.order_ref == order_ref:
            return existing
    link = RecordLink(
        id=new_sortable_id(),
        record_type=kind,
        record_ref=record_ref,
        order_ref=order_ref,
        method=how,
        key_kind=key_kind,
        key=key,
        evidence=evidence,
        inbox_id=inbox_id,
        created_at=now,
        created_by=actor,
    )
    repo.add(link)
    repo.flush()
    uow.audit.append(
        at=now,
        actor=actor,
        action="record.linked",
        entity_type="record_link",
        entity_id=link.id,
        data={
            "record_type": link.record_type,
            "record_ref": link.record_ref,
            "order_ref": link.order_ref,
            "method": link.method,
            "key_kind": key_kind,
            "key": key,
            "evidence": evidence,
            "inbox_id": inbox_id,
        },
    )
    return link


def revoke_link(
    uow: UnitOfWork, link: RecordLink, *, actor: str, reason: str, now: datetime
) -> None:
    """Take the link back ("record.unlinked"); the row stays, stamped, for the history."""
    if link.revoked_at is not None:
        return
    link.revoked_at, link.revoked_by, link.revoked_reason = now, actor, reason
    uow.audit.append(
        at=now,
        actor=actor,
        action="record.unlinked",
        entity_type="record_link",
        entity_id=link.id,
        data={
            "record_type": link.record_type,
            "record_ref": link.record_ref,
            "order_ref": link.order_ref,
            "method": link.method,
            "reason": reason,
        },
    )


def active_links(uow: UnitOfWork, order_ref: str) -> Sequence[RecordLink]:
    """The order's links in force, oldest first."""
    return ResolveRepository(uow.session, uow.tenant_id).links_for_order(order_ref)


def links_for_record(uow: UnitOfWork, record_type: str, record_ref: str) -> Sequence[RecordLink]:
    """The record's links in force (normally one), oldest first."""
    return active_links_for_record(uow, record_type, record_ref)
