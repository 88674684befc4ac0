"""What people call an order: its name as the store shows it ("#1046"), never the numeric
reference the desk keys it by (5480114161228), which stays in links and lookups only.

One indexed read per page, ``(tenant_id, order_ref)`` by ``uq_orders_tenant_id_order_ref``,
for every order a table names; an order the desk has not seen (or one without a number)
keeps its reference, since a name that is not the store's would send a person to the
wrong order.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from orderops.storage.tables import Order
from orderops.storage.uow import UnitOfWork

CHUNK = 500
"""References per IN list: well under either database's bound on parameters."""


def order_name_of(number: str) -> str:
    """``1046`` and ``#1046`` both read ``#1046``, as Shopify's admin writes them."""
    return number if number.startswith("#") else f"#{number}"


def order_names(uow: UnitOfWork, refs: Iterable[str]) -> dict[str, str]:
    """Each reference to the order's name, or to itself when the order has no number."""
    wanted = sorted({r for r in refs if r})
    names = {ref: ref for ref in wanted}
    for start in range(0, len(wanted), CHUNK):
        for ref, number in uow.session.execute(
            select(Order.order_ref, Order.number).where(
                Order.tenant_id == uow.tenant_id,
                Order.order_ref.in_(wanted[start : start + CHUNK]),
            )
        ):
            if number:
                names[ref] = order_name_of(number)
    return names
