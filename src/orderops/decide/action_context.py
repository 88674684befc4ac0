"""What an action is judged against: the case's order as currently projected, and the
money our own actions have already committed on it (the remedy ledger).

Read inside the deciding transaction, with the order's row locked, so the exposure the
policy sees, the refundable amounts checked and the effects that get queued all come from
the same state, and a concurrent decision on the same order waits for this one. Fraud
scores arrive on a 0-100 scale (``FraudSignalData``) and are normalised to 0-1 here, the
scale policies are written in.
"""

from __future__ import annotations

from orderops.decide.remedy_ledger import lock_order, read_ledger
from orderops.domain.actions import ActionContext, LineInfo, PaymentInfo
from orderops.domain.errors import NotFound
from orderops.storage.tables import Case, Customer
from orderops.storage.uow import UnitOfWork


def context_for(uow: UnitOfWork, case: Case, *, excluding: str | None = None) -> ActionContext:
    """The context for deciding on ``case``; ``excluding`` is the action being decided, so
    its own money is not counted as already committed against it. Needs a writing unit
    of work (the order's row is locked)."""
    order = lock_order(uow, case.order_id)
    if order is None:
        raise NotFound(f"case {case.id} has no order")
    customer = uow.session.get(Customer, order.customer_id) if order.customer_id else None
    scores = [
        s.score for s in uow.commerce.fraud_signals_for(order.order_ref) if s.score is not None
    ]
    payments = list(uow.commerce.payments_for(order.order_ref))
    ledger = read_ledger(uow, order.order_ref, payments=payments, excluding=excluding)
    return ActionContext(
        order_ref=order.order_ref,
        currency=order.currency,
        order_total_minor=order.total_minor,
        cancelled=order.cancelled_at is not None,
        lines=tuple(
            LineInfo(sku=line.sku, quantity=line.quantity, unit_price_minor=line.unit_price_minor)
            for line in order.lines
        ),
        payments=tuple(
            PaymentInfo(
                payment_ref=p.payment_ref,
                provider=p.provider,
                status=p.status,
                amount_minor=p.amount_minor,
                refunded_minor=p.amount_refunded_minor,
                committed_refund_minor=ledger.committed_refund_minor(
                    p.payment_ref, reported_refunded_minor=p.amount_refunded_minor
                ),
                committed_hold_minor=ledger.committed_hold_minor(p.payment_ref),
            )
            for p in payments
        ),
        tracking_numbers=tuple(
            s.tracking_number for s in uow.commerce.shipments_for(order.order_ref)
        ),
        customer_id=order.customer_id,
        customer_tier=customer.tier if customer is not None else "standard",
        fraud_score=max(scores) / 100 if scores else None,
        committed_minor=ledger.committed_minor(),
        awaiting_approval=ledger.awaiting_approval(),
    )
