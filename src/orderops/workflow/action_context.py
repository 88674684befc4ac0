"""What an action is judged against: the case's order as currently projected.

Read inside the deciding transaction, so the exposure the policy sees and the effects
that get queued come from the same state. Fraud scores arrive on a 0-100 scale
(``FraudSignalData``) and are normalised to 0-1 here, the scale policies are written in.
"""

from __future__ import annotations

from orderops.domain.actions import ActionContext, LineInfo, PaymentInfo
from orderops.domain.errors import NotFound
from orderops.storage.tables import Case, Customer
from orderops.storage.uow import UnitOfWork


def context_for(uow: UnitOfWork, case: Case) -> ActionContext:
    order = uow.commerce.order(case.order_id)
    if order is None:
        raise NotFound(f"case {case.id} has no order")
    customer = uow.session.get(Customer, order.customer_id) if order.customer_id else None
    scores = [
        s.score for s in uow.commerce.fraud_signals_for(order.order_ref) if s.score is not None
    ]
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
            )
            for p in uow.commerce.payments_for(order.order_ref)
        ),
        tracking_numbers=tuple(
            s.tracking_number for s in uow.commerce.shipments_for(order.order_ref)
        ),
        customer_id=order.customer_id,
        customer_tier=customer.tier if customer is not None else "standard",
        fraud_score=max(scores) / 100 if scores else None,
    )
