"""Case facts read from the database inside the caller's unit of work."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from orderops.domain.actions import ActionStatus
from orderops.domain.cases import ExceptionType
from orderops.domain.errors import NotFound
from orderops.domain.notifications import choose_language
from orderops.domain.statuses import PaymentStatus, TrackingStatus
from orderops.recommend.dispute_refs import dispute_ref_from
from orderops.recommend.facts import (
    CaseFacts,
    LineFact,
    PaymentFact,
    ScanFact,
    ShipmentFact,
    TicketFact,
    address_failed,
)
from orderops.recommend.formatting import LANGUAGES
from orderops.storage.tables import Action, Case, Customer, InventoryPosition, SupportTicket
from orderops.storage.uow import UnitOfWork

PENDING_REFUND = (ActionStatus.AWAITING_APPROVAL, ActionStatus.APPROVED)


def _pending_refunds(uow: UnitOfWork, case: Case) -> int:
    """Refunds proposed or approved on this order's cases that payments do not show yet."""
    rows = uow.session.scalars(
        select(Action)
        .join(Case, Case.id == Action.case_id)
        .where(
            Action.tenant_id == uow.tenant_id,
            Case.order_id == case.order_id,
            Action.kind == "refund",
            Action.status.in_([str(s) for s in PENDING_REFUND]),
        )
    )
    refunded_total = sum(p.amount_refunded_minor for p in uow.commerce.payments_for(case.order_ref))
    pending = sum(int((a.params or {}).get("amount_minor") or 0) for a in rows)
    return max(0, pending - refunded_total)


def _language_of(customer: Customer | None) -> str | None:
    """The customer's own language when their locale names one we write; else None, and
    the facts fall back to the ship-to country's."""
    locale = customer.locale if customer is not None else None
    choice = choose_language(locale, "en", LANGUAGES)
    return choice.language if locale and choice.note is None else None


def case_facts(uow: UnitOfWork, case: Case, *, now: datetime) -> CaseFacts:
    order = uow.commerce.order(case.order_id)
    if order is None:
        raise NotFound(f"case {case.id} has no order")
    customer = uow.session.get(Customer, order.customer_id) if order.customer_id else None
    shipments: list[ShipmentFact] = []
    for s in uow.commerce.shipments_for(order.order_ref):
        scans = tuple(
            ScanFact(
                status=TrackingStatus(e.status),
                at=e.occurred_at,
                location=e.location,
                message=e.message,
            )
            for e in sorted(uow.commerce.tracking_events(s.id), key=lambda e: e.occurred_at)
        )
        shipments.append(
            ShipmentFact(
                tracking_number=s.tracking_number,
                carrier=s.carrier,
                service=s.service,
                status=TrackingStatus(s.status),
                shipped_at=s.created_at,
                delivered_at=s.delivered_at,
                estimated_delivery=s.estimated_delivery,
                scans=scans,
            )
        )
    signals = list(uow.commerce.fraud_signals_for(order.order_ref))
    scores = [s.score for s in signals if s.score is not None]
    dispute = dispute_ref_from(s.detail for s in signals if s.kind == "dispute")
    tickets = uow.session.scalars(
        select(SupportTicket)
        .where(SupportTicket.tenant_id == uow.tenant_id, SupportTicket.order_ref == order.order_ref)
        .order_by(SupportTicket.opened_at, SupportTicket.id)
    ).all()
    exception_type = ExceptionType(case.exception_type)
    verified = (case.facts or {}).get("address_verified")
    failed = address_failed(tuple(shipments)) or exception_type is ExceptionType.ADDRESS_PROBLEM
    skus = [line.sku for line in order.lines]
    stock = {
        (p.sku, p.location): p.available
        for p in uow.session.scalars(
            select(InventoryPosition).where(InventoryPosition.tenant_id == uow.tenant_id)
        )
    }
    return CaseFacts(
        exception_type=exception_type,
        case_id=case.id,
        order_ref=order.order_ref,
        order_number=order.number,
        currency=order.currency,
        total_minor=order.total_minor,
        placed_at=order.placed_at,
        promised_by=order.promised_by,
        service_level=order.service_level,
        location=order.location,
        cancelled=order.cancelled_at is not None,
        now=now,
        customer_id=order.customer_id,
        customer_name=customer.name if customer else None,
        customer_email=customer.email if customer else None,
        customer_phone=customer.phone if customer else None,
        customer_tier=customer.tier if customer else "standard",
        language=_language_of(customer),
        ship_to_country=(order.ship_to or {}).get("country"),
        address_verified=False if failed else (verified if isinstance(verified, bool) else None),
        lines=tuple(
            LineFact(
                sku=line.sku,
                title=line.title,
                quantity=line.quantity,
                unit_price_minor=line.unit_price_minor,
                location=line.location or order.location,
            )
            for line in order.lines
        ),
        payments=tuple(
            PaymentFact(
                payment_ref=p.payment_ref,
                status=PaymentStatus(p.status),
                amount_minor=p.amount_minor,
                refunded_minor=p.amount_refunded_minor,
            )
            for p in uow.commerce.payments_for(order.order_ref)
        ),
        shipments=tuple(shipments),
        tickets=tuple(
            TicketFact(
                ticket_ref=t.ticket_ref,
                source=t.source,
                subject=t.subject,
                body=t.body,
                opened_at=t.opened_at,
            )
            for t in tickets
        ),
        fraud_kinds=tuple(s.kind for s in signals),
        fraud_score=max(scores) / 100 if scores else None,
        dispute_ref=dispute,
        pending_refund_minor=_pending_refunds(uow, case),
        stock=stock if skus else {},
    )
