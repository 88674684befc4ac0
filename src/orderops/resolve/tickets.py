"""Which order a support ticket is about.

Keys first: the Shopify order id in ``external_id``, a number in a custom field, numbers
the customer wrote ("#1538", "order 1538"). A number that names no order yet waits like
any key, unless the requester's email settles it. Without a usable key the requester's
email leads to the customer and to that customer's recent open orders: exactly one is
the ticket's order; two or more are a question for a reviewer (a suggestion), never a
guess; none leaves the ticket unlinked, with nothing to wait for.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from orderops.domain.aliases import Entity
from orderops.domain.events import TicketData
from orderops.domain.statuses import OrderStatus
from orderops.resolve.aliases import KEY_MAX, AliasStore
from orderops.resolve.follow import Candidate, Decision, Link, candidate_of, search
from orderops.resolve.links import LinkMethod
from orderops.storage.tables import Order
from orderops.storage.uow import UnitOfWork

OPEN_ORDER_DAYS = 60
"""A ticket is about an order placed at most this long before it..."""
DELIVERED_GRACE_DAYS = 14
"""...that is not cancelled, and was not delivered longer ago than this."""


def decide_ticket(
    uow: UnitOfWork, store: AliasStore, data: TicketData, *, at: datetime, own: str | None
) -> Decision:
    """The ticket's order from its keys, else its requester's email (``at``: the ticket's
    event time, so a replay decides as the first run did)."""
    found = search(uow, store, data.order_keys)
    if found.found is not None:
        return Decision(order_ref=found.found.order_ref, link=found.found, settled=True)
    if own is not None:
        return Decision(order_ref=own)
    email = _email(data.customer_email)
    if found.candidates:
        theirs = {o.order_ref for o in _orders_of(uow, store, email, at=at, recent=False)}
        narrowed = [c for c in found.candidates if c.order_ref in theirs]
        if len(narrowed) == 1:
            (only,) = narrowed
            evidence = (
                f"linked by {found.ambiguous_key}, which names {len(found.candidates)} "
                f"orders, of which only this one is the requester's ({email})"
            )
            link = Link(only.order_ref, LinkMethod.MENTION, only.key_kind, only.key, evidence)
            return Decision(order_ref=only.order_ref, link=link, settled=True)
        return Decision(
            candidates=found.candidates,
            reason=f"{found.ambiguous_key} names {len(found.candidates)} orders",
        )
    recent = _orders_of(uow, store, email, at=at, recent=True)
    if len(recent) == 1:
        (order,) = recent
        evidence = (
            f"linked by email {email}: the requester's only open order "
            f"(placed {order.placed_at:%Y-%m-%d})"
        )
        key = email if email is not None and len(email) <= KEY_MAX else None
        link = Link(order.order_ref, LinkMethod.EMAIL, "email", key, evidence)
        return Decision(order_ref=order.order_ref, link=link)
    if found.waits:
        return Decision(waits=found.waits)
    if len(recent) > 1:
        return Decision(
            candidates=tuple(_candidates(recent, email)),
            reason=f"the requester {email} has {len(recent)} open orders",
        )
    return Decision()


def _email(value: str | None) -> str | None:
    text = (value or "").strip().lower()
    return text or None


def _orders_of(
    uow: UnitOfWork, store: AliasStore, email: str | None, *, at: datetime, recent: bool
) -> list[Order]:
    """The orders of the customers with this email (``recent``: open ones of late)."""
    if email is None:
        return []
    customers = {ref for kind, ref in store.lookup("email", email) if kind == Entity.CUSTOMER}
    customers |= set(uow.commerce.customers_by_email(email))
    since = at - timedelta(days=OPEN_ORDER_DAYS) if recent else None
    orders = uow.commerce.orders_of_customers(customers, placed_from=since, placed_to=at)
    if not recent:
        return list(orders)
    delivered_by = at - timedelta(days=DELIVERED_GRACE_DAYS)
    return [
        order
        for order in orders
        if order.status != OrderStatus.CANCELLED
        and (order.delivered_at is None or order.delivered_at >= delivered_by)
    ]


def _candidates(orders: Sequence[Order], email: str | None) -> list[Candidate]:
    return [
        candidate_of(order, f"open order of {email}, placed {order.placed_at:%Y-%m-%d}")
        for order in orders
    ]
