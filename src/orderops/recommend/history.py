"""Resolved cases read for the similar-case index: a few set-based queries, never one per case.

Two reads, because they change at different rates:

- ``resolved_window`` (one statement) names the tenant's newest resolved cases with the
  parts of their outcome that can still change after they are indexed: a reopen, and a
  customer who writes again after the case closed (a ticket opened after ``closed_at``).
- ``read_resolved`` reads what was true of each case when it closed - its summary, its
  features, the action it was resolved by - for many cases at once, one query per table.
  ``recommend.history_index`` keeps that part and calls it only for cases it has not seen.

Both give what ``case_facts`` per case used to give; only the fields the index uses are
read (no scans, stock or customer names: a summary carries none of them).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, select

from orderops.domain.actions import WAS_APPROVED
from orderops.domain.cases import CaseStatus, ExceptionType
from orderops.domain.statuses import PaymentStatus, TrackingStatus
from orderops.recommend.facts import (
    CaseFacts,
    LineFact,
    PaymentFact,
    ShipmentFact,
    TicketFact,
)
from orderops.recommend.similar import ResolvedCase, features_of, summary_of
from orderops.recommend.store_facts import PENDING_REFUND
from orderops.storage.tables import (
    Action,
    Case,
    Customer,
    CustomerErasure,
    FraudSignal,
    Order,
    OrderLineRow,
    Payment,
    Shipment,
    SupportTicket,
)
from orderops.storage.uow import UnitOfWork

HISTORY_LIMIT = 200_000
"""The newest resolved cases a tenant's index holds; older ones are forgotten. (It was
2,000 when every recommendation rebuilt the index; a query now costs milliseconds at
100,000, ``benchmarks/similar_cases.py``.)"""

RESOLVED_BY = WAS_APPROVED
"""The statuses of the action a case counts as resolved by (its first such action):
approved, whether or not its writeback has been delivered since."""


CHUNK = 500
"""Ids per ``IN (...)`` list: well inside every driver's parameter limit."""


@dataclass(frozen=True, kw_only=True)
class Member:
    """One resolved case in the window, with the outcome as it stands now."""

    case_id: str
    order_id: str
    order_ref: str
    exception_type: str
    closed_at: datetime
    reopened: bool
    recontacted: bool
    customer_id: str | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class Changes:
    """What changed since a time (``changed_since``)."""

    resolved: list[Member]
    """Resolved cases touched since then: new, closed again, or relabelled."""
    left: list[str]
    """Cases touched since then that are not resolved now (reopened, say)."""
    latest: datetime | None
    """The latest ``updated_at`` among them: where the next look starts."""


def _member_rows(uow: UnitOfWork, *where: Any) -> Any:
    recontact = exists().where(
        SupportTicket.tenant_id == uow.tenant_id,
        SupportTicket.order_ref == Order.order_ref,
        SupportTicket.opened_at > Case.closed_at,
    )
    return (
        select(
            Case.id,
            Case.order_id,
            Order.order_ref,
            Case.exception_type,
            Case.closed_at,
            Case.reopen_count,
            recontact,
            Order.customer_id,
            Case.updated_at,
            Case.status,
        )
        .join(Order, Order.id == Case.order_id)
        .where(Case.tenant_id == uow.tenant_id, Order.tenant_id == uow.tenant_id, *where)
    )


def _member(row: Any) -> Member | None:
    (
        case_id,
        order_id,
        order_ref,
        kind,
        closed_at,
        reopens,
        recontacted,
        customer,
        updated,
        status,
    ) = row
    if status != str(CaseStatus.RESOLVED) or closed_at is None:
        return None
    return Member(
        case_id=case_id,
        order_id=order_id,
        order_ref=order_ref,
        exception_type=kind,
        closed_at=closed_at,
        reopened=reopens > 0,
        recontacted=bool(recontacted),
        customer_id=customer,
        updated_at=updated,
    )


def resolved_window(uow: UnitOfWork, *, limit: int = HISTORY_LIMIT) -> list[Member]:
    """The tenant's ``limit`` newest resolved cases, newest first, in one statement."""
    rows = uow.session.execute(
        _member_rows(uow, Case.status == str(CaseStatus.RESOLVED), Case.closed_at.is_not(None))
        .order_by(Case.closed_at.desc(), Case.id.desc())
        .limit(limit)
    ).all()
    return [m for m in map(_member, rows) if m is not None]


def changed_since(uow: UnitOfWork, since: datetime) -> Changes:
    """Cases whose ``updated_at`` is ``since`` or later, in one statement (a range read of
    ``ix_cases_tenant_updated``): a case resolving, reopening or closing again stamps it."""
    rows = uow.session.execute(
        _member_rows(uow, Case.updated_at >= since).order_by(Case.updated_at, Case.id)
    ).all()
    resolved: list[Member] = []
    left: list[str] = []
    latest: datetime | None = None
    for row in rows:
        member = _member(row)
        if member is None:
            left.append(row[0])
        else:
            resolved.append(member)
        latest = row[8] if latest is None or row[8] > latest else latest
    return Changes(resolved, left, latest)


def last_change(uow: UnitOfWork) -> datetime | None:
    """The tenant's latest case ``updated_at`` (one index read)."""
    return uow.session.scalar(
        select(func.max(Case.updated_at)).where(Case.tenant_id == uow.tenant_id)
    )


ERASED_MARK = "[erased]"
"""What erasure writes over a ticket's subject (``workflow.personal_data.ERASED``; this
layer may not import workflow, ``tests/unit/test_similar_erasure_mark.py`` holds them equal)."""


def erasures_since(
    uow: UnitOfWork, since: datetime | None
) -> list[tuple[str, str | None, datetime]]:
    """The tenant's erasure requests recorded at ``since`` or later (all when None)."""
    query = select(CustomerErasure.id, CustomerErasure.customer_id, CustomerErasure.at).where(
        CustomerErasure.tenant_id == uow.tenant_id
    )
    if since is not None:
        query = query.where(CustomerErasure.at >= since)
    return [(i, c, a) for i, c, a in uow.session.execute(query)]


def erased_order_refs(uow: UnitOfWork, customer_ids: Sequence[str]) -> set[str]:
    """Orders whose summaries an erasure changed: the erased customers' orders, and any
    order with a ticket whose subject erasure overwrote (a request by email can name
    customer rows the erasure record does not)."""
    refs: set[str] = set()
    for chunk_start in range(0, len(customer_ids), CHUNK):
        chunk = list(customer_ids[chunk_start : chunk_start + CHUNK])
        refs.update(
            uow.session.scalars(
                select(Order.order_ref).where(
                    Order.tenant_id == uow.tenant_id, Order.customer_id.in_(chunk)
                )
            )
        )
    refs.update(
        ref
        for ref in uow.session.scalars(
            select(SupportTicket.order_ref)
            .where(
                SupportTicket.tenant_id == uow.tenant_id,
                SupportTicket.subject.contains(ERASED_MARK, autoescape=True),
            )
            .distinct()
        )
        if ref
    )
    return refs


def read_resolved(uow: UnitOfWork, members: Sequence[Member]) -> dict[str, ResolvedCase | None]:
    """Each member as the index holds it; None for a case no approved action resolved.

    The outcome flags come from ``members``; everything else is read here, one query
    per table per ``CHUNK`` cases.
    """
    found: dict[str, ResolvedCase | None] = {}
    for chunk in _chunks(members):
        found.update(_read_chunk(uow, chunk))
    return found


def _chunks(members: Sequence[Member]) -> Iterator[Sequence[Member]]:
    for start in range(0, len(members), CHUNK):
        yield members[start : start + CHUNK]


def _read_chunk(uow: UnitOfWork, members: Sequence[Member]) -> dict[str, ResolvedCase | None]:
    tenant = uow.tenant_id
    session = uow.session
    case_ids = [m.case_id for m in members]
    first_action: dict[str, Action] = {}
    for action in session.scalars(
        select(Action)
        .where(
            Action.tenant_id == tenant,
            Action.case_id.in_(case_ids),
            Action.status.in_([str(s) for s in RESOLVED_BY]),
        )
        .order_by(Action.case_id, Action.created_at, Action.id)
    ):
        first_action.setdefault(action.case_id, action)
    resolved = [m for m in members if m.case_id in first_action]
    result: dict[str, ResolvedCase | None] = {m.case_id: None for m in members}
    if not resolved:
        return result

    order_ids = sorted({m.order_id for m in resolved})
    order_refs = sorted({m.order_ref for m in resolved})
    orders = {
        o.id: o
        for o in session.scalars(
            select(Order).where(Order.tenant_id == tenant, Order.id.in_(order_ids))
        )
    }
    lines: dict[str, list[OrderLineRow]] = defaultdict(list)
    for line in session.scalars(
        select(OrderLineRow)
        .where(OrderLineRow.tenant_id == tenant, OrderLineRow.order_id.in_(order_ids))
        .order_by(OrderLineRow.order_id, OrderLineRow.position)
    ):
        lines[line.order_id].append(line)
    customer_ids = sorted({o.customer_id for o in orders.values() if o.customer_id})
    tiers: dict[str, str] = {
        customer_id: tier
        for customer_id, tier in session.execute(
            select(Customer.id, Customer.tier).where(
                Customer.tenant_id == tenant, Customer.id.in_(customer_ids)
            )
        )
    }
    payments: dict[str, list[Payment]] = defaultdict(list)
    for payment in session.scalars(
        select(Payment)
        .where(Payment.tenant_id == tenant, Payment.order_ref.in_(order_refs))
        .order_by(Payment.created_at, Payment.id)
    ):
        payments[payment.order_ref or ""].append(payment)
    shipments: dict[str, list[Shipment]] = defaultdict(list)
    for shipment in session.scalars(
        select(Shipment)
        .where(Shipment.tenant_id == tenant, Shipment.order_ref.in_(order_refs))
        .order_by(Shipment.created_at, Shipment.id)
    ):
        shipments[shipment.order_ref or ""].append(shipment)
    tickets: dict[str, list[SupportTicket]] = defaultdict(list)
    for ticket in session.scalars(
        select(SupportTicket)
        .where(SupportTicket.tenant_id == tenant, SupportTicket.order_ref.in_(order_refs))
        .order_by(SupportTicket.opened_at, SupportTicket.id)
    ):
        tickets[ticket.order_ref or ""].append(ticket)
    fraud: dict[str, list[float]] = defaultdict(list)
    for order_ref, score in session.execute(
        select(FraudSignal.order_ref, FraudSignal.score).where(
            FraudSignal.tenant_id == tenant,
            FraudSignal.order_ref.in_(order_refs),
            FraudSignal.score.is_not(None),
        )
    ):
        if score is not None:
            fraud[order_ref].append(score)
    pending: dict[str, int] = defaultdict(int)
    for order_id, params in session.execute(
        select(Case.order_id, Action.params)
        .join(Case, Case.id == Action.case_id)
        .where(
            Action.tenant_id == tenant,
            Case.order_id.in_(order_ids),
            Action.kind == "refund",
            Action.status.in_([str(s) for s in PENDING_REFUND]),
        )
    ):
        pending[order_id] += int((params or {}).get("amount_minor") or 0)

    for member in resolved:
        order = orders[member.order_id]
        paid = payments[order.order_ref]
        refunded_total = sum(p.amount_refunded_minor for p in paid)
        scores = fraud[order.order_ref]
        facts = CaseFacts(
            exception_type=ExceptionType(member.exception_type),
            case_id=member.case_id,
            order_ref=order.order_ref,
            order_number=order.number,
            currency=order.currency,
            total_minor=order.total_minor,
            placed_at=order.placed_at,
            promised_by=order.promised_by,
            now=member.closed_at,
            customer_tier=tiers.get(order.customer_id or "", "standard"),
            lines=tuple(
                LineFact(
                    sku=line.sku,
                    title=line.title,
                    quantity=line.quantity,
                    unit_price_minor=line.unit_price_minor,
                    location=line.location or order.location,
                )
                for line in lines[order.id]
            ),
            payments=tuple(
                PaymentFact(
                    payment_ref=p.payment_ref,
                    status=PaymentStatus(p.status),
                    amount_minor=p.amount_minor,
                    refunded_minor=p.amount_refunded_minor,
                )
                for p in paid
            ),
            shipments=tuple(
                ShipmentFact(
                    tracking_number=s.tracking_number,
                    carrier=s.carrier,
                    service=s.service,
                    status=TrackingStatus(s.status),
                    shipped_at=s.created_at,
                    delivered_at=s.delivered_at,
                )
                for s in shipments[order.order_ref]
            ),
            tickets=tuple(
                TicketFact(
                    ticket_ref=t.ticket_ref,
                    source=t.source,
                    subject=t.subject,
                    body=None,
                    opened_at=t.opened_at,
                )
                for t in tickets[order.order_ref]
            ),
            fraud_score=max(scores) / 100 if scores else None,
            pending_refund_minor=max(0, pending[order.id] - refunded_total),
        )
        action = first_action[member.case_id]
        result[member.case_id] = ResolvedCase(
            case_id=member.case_id,
            exception_type=member.exception_type,
            summary=summary_of(facts),
            features=features_of(facts),
            resolution=action.kind,
            recontacted=member.recontacted,
            reopened=member.reopened,
            cost_minor=int((action.evaluation or {}).get("inputs", {}).get("amount_minor") or 0),
        )
    return result
