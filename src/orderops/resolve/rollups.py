"""An order's money and delivery roll-ups, recomputed from its payments, the store's
refunds and its shipments.

Kept apart from the projector because a person's link decision (``workflow/relink.py``)
moves payments and shipments between orders and must recompute both orders the same way.
"""

from __future__ import annotations

from orderops.domain.facts import PaymentFact, RefundFact, derive_financial_status
from orderops.domain.statuses import FulfillmentStatus, PaymentStatus
from orderops.storage.repositories.commerce import CommerceRepository
from orderops.storage.tables import Order, OrderRefund, Payment


def refresh_order_rollups(repo: CommerceRepository, order: Order) -> None:
    """Recompute the order's money and delivery roll-ups from its payments and shipments."""
    payments = [payment_fact(p) for p in repo.payments_for(order.order_ref)]
    refunds = [refund_fact(r) for r in repo.refunds_for(order.order_ref)]
    order.financial_status = derive_financial_status(payments, refunds)
    shipments = repo.shipments_for(order.order_ref)
    if not shipments:
        order.fulfillment_status, order.delivered_at = FulfillmentStatus.UNFULFILLED, None
    elif all(s.delivered_at is not None for s in shipments):
        order.fulfillment_status = FulfillmentStatus.DELIVERED
        order.delivered_at = max(s.delivered_at for s in shipments if s.delivered_at is not None)
    else:
        order.fulfillment_status, order.delivered_at = FulfillmentStatus.SHIPPED, None


def refund_fact(refund: OrderRefund) -> RefundFact:
    return RefundFact(
        refund_ref=refund.refund_ref,
        source=refund.source,
        amount_minor=refund.amount_minor,
        currency=refund.currency,
        processed_at=refund.processed_at,
        reason=refund.reason,
    )


def payment_fact(payment: Payment) -> PaymentFact:
    return PaymentFact(
        payment_ref=payment.payment_ref,
        provider=payment.provider,
        status=PaymentStatus(payment.status),
        amount_minor=payment.amount_minor,
        amount_refunded_minor=payment.amount_refunded_minor,
        currency=payment.currency,
        status_at=payment.status_at,
        failure_code=payment.failure_code,
        failure_message=payment.failure_message,
        created_at=payment.created_at,
        authorized_at=payment.authorized_at,
        captured_at=payment.captured_at,
        refunded_at=payment.refunded_at,
        failed_at=payment.failed_at,
    )
