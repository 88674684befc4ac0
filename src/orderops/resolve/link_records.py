"""The records a link moves, found by the ``source:ref`` the link names, and the errors a
link decision answers with.

A link names its record as ``source:ref`` (``stripe:pi_1``, ``zendesk:123``); the record
itself is one or more stored rows (a payment, a ticket, a shipment by carrier and tracking
code, a refund, a held fulfillment order, or the fraud-signal rows of the events behind
it) whose ``order_ref`` is what detectors read. Moving a record means moving those rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select

from orderops.domain.errors import Conflict, InvalidEvent, NotFound
from orderops.resolve.aliases import system_of
from orderops.resolve.links import RecordType
from orderops.storage.repositories.resolve import ResolveRepository
from orderops.storage.tables import (
    FraudSignal,
    FulfillmentHold,
    InboxEvent,
    OrderRefund,
    Payment,
    Shipment,
    SupportTicket,
)
from orderops.storage.uow import UnitOfWork


class NotACandidate(InvalidEvent):
    """The chosen order is not one the suggestion offered: choose among them, or link by
    hand (which says plainly that a person, not resolve, found the order)."""

    code = "not-a-candidate"


class BadLinkRequest(InvalidEvent):
    """A record type, order or reason the decision cannot use; nothing was changed."""

    code = "invalid-link"


class AlreadyDecided(Conflict):
    """The suggestion was accepted, rejected or superseded already; re-read it."""

    code = "suggestion-decided"


class LinkConflict(Conflict):
    """The link is already revoked, or the record already sits on that order."""

    code = "link-conflict"


Row = Payment | SupportTicket | Shipment | FraudSignal | OrderRefund | FulfillmentHold

NEEDS_AN_ORDER = frozenset({RecordType.FRAUD_SIGNAL, RecordType.REFUND, RecordType.HOLD})
"""Records whose table cannot hold "no order": they are moved to the right order by a
manual link, never left without one by an unlink."""


@dataclass
class LinkedRecord:
    """One record as stored: every row its ``source:ref`` names."""

    record_type: RecordType
    record_ref: str
    rows: list[Row]

    @property
    def order_refs(self) -> set[str]:
        return {row.order_ref for row in self.rows if row.order_ref}

    def move_to(self, order_ref: str | None) -> None:
        for row in self.rows:
            row.order_ref = order_ref  # None only where nullable (see NEEDS_AN_ORDER)


def find_record(
    uow: UnitOfWork, record_type: str, record_ref: str, inbox_id: str | None = None
) -> LinkedRecord:
    """The stored rows a ``source:ref`` names (a fraud signal: the rows of the events its
    links and suggestion came from); 404 when nothing is stored under it."""
    kind = record_type_of(record_type)
    rows = list(_rows(uow, kind, record_ref, inbox_id))
    if not rows:
        raise NotFound(f"no {kind} {record_ref}")
    return LinkedRecord(kind, record_ref, rows)


def _rows(uow: UnitOfWork, kind: RecordType, record_ref: str, inbox_id: str | None) -> list[Row]:
    if kind is RecordType.FRAUD_SIGNAL:
        return list(_fraud_signals(uow, record_ref, inbox_id))
    splits = _splits(record_ref)
    table, source_column, ref_column = _NATURAL_KEYS[kind]
    named = [and_(source_column == source, ref_column == ref) for source, ref in splits]
    if kind is RecordType.SHIPMENT:  # the alias store names a shipment by its row id
        named.append(Shipment.id.in_([record_ref, *(ref for _, ref in splits)]))
    if not named:
        return []
    query = select(table).where(table.tenant_id == uow.tenant_id, or_(*named))
    return list(uow.session.scalars(query))


_NATURAL_KEYS: dict[RecordType, tuple[Any, Any, Any]] = {
    RecordType.PAYMENT: (Payment, Payment.provider, Payment.payment_ref),
    RecordType.TICKET: (SupportTicket, SupportTicket.source, SupportTicket.ticket_ref),
    RecordType.SHIPMENT: (Shipment, Shipment.carrier, Shipment.tracking_number),
    RecordType.REFUND: (OrderRefund, OrderRefund.source, OrderRefund.refund_ref),
    RecordType.HOLD: (
        FulfillmentHold,
        FulfillmentHold.source,
        FulfillmentHold.fulfillment_order_ref,
    ),
}


def _splits(record_ref: str) -> list[tuple[str, str]]:
    """Every (source, ref) a ``source:ref`` could be: a source may hold a colon itself
    ("test://stripe:pi_1"), a ref too, and the unique keys decide which reading exists."""
    return [
        (record_ref[:i], record_ref[i + 1 :])
        for i, char in enumerate(record_ref)
        if char == ":" and 0 < i < len(record_ref) - 1
    ]


def _fraud_signals(uow: UnitOfWork, record_ref: str, inbox_id: str | None) -> list[FraudSignal]:
    """A fraud signal row keeps no ref of its own, only the inbox event it came from:
    resolve names it ``system:signal_ref`` (``aliases.system_of`` its source; the event id
    when the provider gave no ref), so its rows are those of the events from that system
    naming that signal, plus those of the events its links and suggestion came from."""
    repo = ResolveRepository(uow.session, uow.tenant_id)
    inboxes = {inbox_id} if inbox_id else set()
    inboxes |= {
        link.inbox_id
        for link in repo.links_for_record(RecordType.FRAUD_SIGNAL, record_ref, active=False)
        if link.inbox_id
    }
    suggestion = repo.suggestion_for(RecordType.FRAUD_SIGNAL, record_ref)
    if suggestion is not None and suggestion.inbox_id:
        inboxes.add(suggestion.inbox_id)
    splits = _splits(record_ref)
    rows = uow.session.execute(
        select(FraudSignal, InboxEvent.id, InboxEvent.source, InboxEvent.envelope)
        .join(InboxEvent, InboxEvent.id == FraudSignal.inbox_id)
        .where(
            FraudSignal.tenant_id == uow.tenant_id,
            InboxEvent.tenant_id == uow.tenant_id,
            or_(
                InboxEvent.id.in_(sorted(inboxes)),
                *(func.lower(InboxEvent.source).contains(system.lower()) for system, _ in splits),
            ),
        )
        .order_by(FraudSignal.occurred_at, FraudSignal.id)
    ).all()
    return [
        signal
        for signal, inbox, source, envelope in rows
        if inbox in inboxes or (system_of(source), _signal_ref(envelope)) in splits
    ]


def _signal_ref(envelope: dict[str, Any]) -> str | None:
    data = envelope.get("data")
    named = data.get("signal_ref") if isinstance(data, dict) else None
    found = named or envelope.get("id")
    return found if isinstance(found, str) else None


def record_type_of(value: str) -> RecordType:
    try:
        return RecordType(value)
    except ValueError:
        known = ", ".join(t.value for t in RecordType)
        raise BadLinkRequest(f"unknown record type {value!r} (one of {known})") from None
