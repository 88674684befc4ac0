"""Scoring a case's customer impact from the database and setting its priority.

The routing rules give a priority floor (a fraud or VIP rule still wins); the impact
score may only make a case more urgent than that, never less. Call after routing on
open and reopen: ``route_case`` then ``score_case``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from orderops.cases.recurrence import case_order
from orderops.cases.routing import active_rules, routing_input, set_priority
from orderops.domain.cases import ExceptionType
from orderops.domain.impact import ImpactInputs, ImpactScore, score_impact
from orderops.domain.routing import Priority, most_urgent, parse_priority, route
from orderops.domain.statuses import OrderStatus, TicketStatus
from orderops.storage.tables import Case, Customer, Order, SupportTicket
from orderops.storage.uow import UnitOfWork

IMPACT_ACTOR = "impact"
PRIOR_WINDOW = timedelta(days=90)
_CLOSED_TICKETS = (str(TicketStatus.SOLVED), str(TicketStatus.CLOSED))
_INVENTORY_TYPES = frozenset(
    {
        ExceptionType.INVENTORY_SHORTFALL,
        ExceptionType.SUBSTITUTION_NEEDED,
        ExceptionType.PARTIAL_FULFILLMENT_OVERDUE,
    }
)


def impact_inputs(uow: UnitOfWork, case: Case, *, now: datetime) -> ImpactInputs:
    order = case_order(uow, case)
    tier: str | None = None
    lifetime = order.total_minor
    if order.customer_id is not None:
        customer = uow.session.get(Customer, order.customer_id)
        tier = customer.tier if customer is not None else None
        lifetime = _lifetime_value(uow, order.customer_id)
    return ImpactInputs(
        order_value_minor=order.total_minor,
        blocked_value_minor=blocked_value(uow, case, order),
        customer_tier=tier,
        lifetime_value_minor=lifetime,
        days_late=_days_late(order, now=now),
        prior_exceptions_90d=_prior_exceptions(uow, case, order),
        open_tickets=_open_tickets(uow, order.order_ref),
    )


def blocked_value(uow: UnitOfWork, case: Case, order: Order) -> int:
    """The part of the order the exception holds up.

    A detector may say exactly (``facts["blocked_value_minor"]``); otherwise stock
    exceptions block the lines their location cannot cover, and every other cause
    (payment, parcel, address) holds up the whole order.
    """
    stated = case.facts.get("blocked_value_minor")
    if isinstance(stated, int) and not isinstance(stated, bool):
        return max(0, min(stated, order.total_minor))
    if case.exception_type in _INVENTORY_TYPES:
        short = 0
        for line in order.lines:
            location = line.location or order.location
            position = uow.commerce.inventory(line.sku, location) if location else None
            if position is not None and position.available < line.quantity:
                short += line.unit_price_minor * line.quantity
        if short:
            return min(short, order.total_minor)
    return order.total_minor


def score_case(
    uow: UnitOfWork, case: Case, *, now: datetime, routed: Priority | None = None
) -> ImpactScore:
    """Score the case, store the score and its explanation on it, and raise its priority
    to the impact's when that is more urgent than the routing rules' (a timeline entry
    and a restarted SLA clock come with the change, through ``set_priority``).
    ``routed``: the rules' priority when the caller has just routed the case (saves
    asking the rules again)."""
    scored = score_impact(impact_inputs(uow, case, now=now))
    case.impact_score, case.impact = scored.score, scored.to_dict()
    if routed is None:
        routed = route(active_rules(uow), routing_input(uow, case)).priority
    target = target_priority(routed, scored)
    if parse_priority(case.priority) != target:
        set_priority(uow, case, priority=target, actor=IMPACT_ACTOR, now=now)
    return scored


def target_priority(routed: Priority, scored: ImpactScore) -> Priority:
    """The priority a case gets: the more urgent of the rules' and the impact's."""
    return most_urgent(routed, scored.priority)


def _lifetime_value(uow: UnitOfWork, customer_id: str) -> int:
    total = uow.session.scalar(
        select(func.coalesce(func.sum(Order.total_minor), 0)).where(
            Order.tenant_id == uow.tenant_id,
            Order.customer_id == customer_id,
            Order.status != OrderStatus.CANCELLED,
        )
    )
    return int(total or 0)


def _days_late(order: Order, *, now: datetime) -> float:
    if order.promised_by is None:
        return 0.0
    end = order.delivered_at or now
    return max((end - order.promised_by).total_seconds() / 86_400, 0.0)


def _prior_exceptions(uow: UnitOfWork, case: Case, order: Order) -> int:
    """Other cases of the same customer opened in the 90 days before this one.

    Spelled as "cases of these orders" rather than a join, so both databases start from
    the customer's few orders (``ix_orders_tenant_customer``, then ``ix_cases_tenant_order``);
    as a join SQLite started from the 90-day window, every recent case (issue #19)."""
    if order.customer_id is None:
        return 0
    customer_orders = select(Order.id).where(
        Order.tenant_id == uow.tenant_id, Order.customer_id == order.customer_id
    )
    count = uow.session.scalar(
        select(func.count(Case.id)).where(
            Case.tenant_id == uow.tenant_id,
            Case.order_id.in_(customer_orders),
            Case.id != case.id,
            Case.opened_at >= case.opened_at - PRIOR_WINDOW,
            Case.opened_at <= case.opened_at,
        )
    )
    return int(count or 0)


def _open_tickets(uow: UnitOfWork, order_ref: str) -> int:
    count = uow.session.scalar(
        select(func.count(SupportTicket.id)).where(
            SupportTicket.tenant_id == uow.tenant_id,
            SupportTicket.order_ref == order_ref,
            SupportTicket.status.not_in(_CLOSED_TICKETS),
        )
    )
    return int(count or 0)
