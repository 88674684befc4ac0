"""Reading links and suggestions for the desk: the API, the console and the CLI all read
through here, so each shows the same rows in the same order."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select

from orderops.domain.errors import InvalidEvent, NotFound
from orderops.resolve.link_records import Row, find_record
from orderops.storage.repositories import keyset
from orderops.storage.tables import (
    FraudSignal,
    FulfillmentHold,
    LinkSuggestion,
    Order,
    OrderRefund,
    Payment,
    RecordLink,
    Shipment,
    SupportTicket,
)
from orderops.storage.uow import UnitOfWork

SUGGESTION_STATUSES = ("open", "accepted", "rejected", "superseded")


@dataclass(frozen=True)
class SuggestionPage:
    items: Sequence[LinkSuggestion]
    total: int


def list_suggestions(
    uow: UnitOfWork,
    *,
    status: str | None,
    limit: int,
    offset: int,
    after: Sequence[object] | None = None,
) -> SuggestionPage:
    """Oldest first: the record that has waited longest for a person is decided first.
    ``after`` (created_at, id) starts the page after that row."""
    where = [LinkSuggestion.tenant_id == uow.tenant_id]
    if status is not None:
        where.append(LinkSuggestion.status == status)
    total = uow.session.scalar(select(func.count()).select_from(LinkSuggestion).where(*where))
    order = (keyset.SortPart(LinkSuggestion.created_at), keyset.SortPart(LinkSuggestion.id))
    if after is not None:
        where.append(keyset.after(order, after))
    items = uow.session.scalars(
        select(LinkSuggestion)
        .where(*where)
        .order_by(*keyset.ordering(order))
        .limit(limit)
        .offset(offset)
    ).all()
    return SuggestionPage(items=items, total=int(total or 0))


def get_suggestion(uow: UnitOfWork, suggestion_id: str) -> LinkSuggestion:
    suggestion = uow.session.scalar(
        select(LinkSuggestion).where(
            LinkSuggestion.tenant_id == uow.tenant_id, LinkSuggestion.id == suggestion_id
        )
    )
    if suggestion is None:
        raise NotFound(f"no link suggestion {suggestion_id}")
    return suggestion


def get_link(uow: UnitOfWork, link_id: str) -> RecordLink:
    link = uow.session.scalar(
        select(RecordLink).where(RecordLink.tenant_id == uow.tenant_id, RecordLink.id == link_id)
    )
    if link is None:
        raise NotFound(f"no link {link_id}")
    return link


def order_links(uow: UnitOfWork, order_ref: str) -> Sequence[RecordLink]:
    """Every link the order ever had, active and revoked, oldest first (404 for an order
    the tenant does not have)."""
    if uow.commerce.order_by_ref(order_ref) is None:
        raise NotFound(f"no order {order_ref}")
    return uow.session.scalars(
        select(RecordLink)
        .where(RecordLink.tenant_id == uow.tenant_id, RecordLink.order_ref == order_ref)
        .order_by(RecordLink.created_at, RecordLink.id)
    ).all()


def candidate_refs(suggestion: LinkSuggestion) -> list[str]:
    orders = (suggestion.candidates or {}).get("orders") or []
    return [str(c["order_ref"]) for c in orders if isinstance(c, dict) and c.get("order_ref")]


def orders_by_ref(uow: UnitOfWork, refs: Iterable[str]) -> dict[str, Order]:
    """The tenant's orders among ``refs`` (a candidate may name an order since deleted)."""
    wanted = sorted(set(refs))
    if not wanted:
        return {}
    rows = uow.session.scalars(
        select(Order).where(Order.tenant_id == uow.tenant_id, Order.order_ref.in_(wanted))
    ).all()
    return {order.order_ref: order for order in rows}


@dataclass(frozen=True)
class RecordView:
    """What a reviewer needs to recognise a record: where it sits now and a line about it."""

    record_type: str
    record_ref: str
    stored: bool
    order_refs: tuple[str, ...]
    about: str


def record_view(
    uow: UnitOfWork, record_type: str, record_ref: str, inbox_id: str | None = None
) -> RecordView:
    try:
        found = find_record(uow, record_type, record_ref, inbox_id)
    except (NotFound, InvalidEvent):
        return RecordView(record_type, record_ref, False, (), "not stored")
    return RecordView(
        record_type,
        record_ref,
        True,
        tuple(sorted(found.order_refs)),
        "; ".join(_about(row) for row in found.rows[:3]),
    )


def _about(row: Row) -> str:
    match row:
        case SupportTicket():
            who = row.customer_email or "unknown requester"
            return f"{row.subject or '(no subject)'} from {who}, {row.status}"
        case Payment():
            return f"{row.amount_minor / 100:,.2f} {row.currency} {row.status}"
        case Shipment():
            return f"{row.carrier} {row.tracking_number}, {row.status}"
        case OrderRefund():
            return f"refund {row.amount_minor / 100:,.2f} {row.currency}"
        case FulfillmentHold():
            return f"fulfillment order {row.status}"
        case FraudSignal():
            score = f" score {row.score:g}" if row.score is not None else ""
            return f"{row.kind}{score}"
    return ""  # pragma: no cover - every stored row kind is matched above
