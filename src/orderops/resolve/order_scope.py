"""Where a projected order sits for scopes below the tenant, and its cases with it.

The projector calls ``place_order`` each time it writes an order: the store it came from
(the sender's shop, else the envelope's source), its sales channel, its shipping country
and the brand the tenant's rules give it (``domain/scopes.py``). A case copies its
order's place when it opens (``cases/cases.py``); when an order moves (a new shipping
country, a brand rule by tag), its cases move with it in the same transaction, by one
UPDATE that leaves their optimistic version alone: a reviewer's next change is not
refused because the order was re-placed.

The brand rules are read once per processing chunk, like the policy in force.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import or_, select, update

from orderops.domain.scopes import (
    NO_BRANDS,
    BrandRules,
    Dimension,
    ScopeValues,
    normalise,
    order_scope,
)
from orderops.storage.repositories.loaded import loaded_rows
from orderops.storage.tables import BrandRule, Case, Order
from orderops.storage.uow import UnitOfWork

STORE_RULE = "store"
TAG_RULE = "tag"


def brand_rules(uow: UnitOfWork) -> BrandRules:
    """The tenant's brand rules; within a processing chunk, read once."""
    loaded = loaded_rows(uow.session)
    if loaded is not None and loaded.tenant_id == uow.tenant_id:
        return loaded.value("brand_rules", lambda: _read(uow))
    return _read(uow)


def _read(uow: UnitOfWork) -> BrandRules:
    # Without autoflush: the projector asks while a new order is half made (added, its
    # amounts not yet set), and no rule depends on what it has not flushed.
    with uow.session.no_autoflush:
        rows = uow.session.execute(
            select(BrandRule.kind, BrandRule.value, BrandRule.brand).where(
                BrandRule.tenant_id == uow.tenant_id
            )
        ).all()
    if not rows:
        return NO_BRANDS
    return BrandRules(
        by_store={value: brand for kind, value, brand in rows if kind == STORE_RULE},
        by_tag={value: brand for kind, value, brand in rows if kind == TAG_RULE},
    )


def place_order(
    uow: UnitOfWork,
    order: Order,
    *,
    store: str | None,
    channel: str | None,
    country: str | None,
    tags: Sequence[str],
    created: bool,
) -> None:
    """Set the order's place; an order that moved takes its cases along."""
    before = ScopeValues.of_row(order)
    after = order_scope(
        store=store, channel=channel, country=country, tags=tags, brands=brand_rules(uow)
    )
    if after == before:
        return
    after.place(order)
    if not created:
        move_cases(uow, order_id=order.id, to=after)


def move_cases(uow: UnitOfWork, *, order_id: str, to: ScopeValues) -> None:
    """Every case of the order to the order's place (not a change of the case itself)."""
    uow.session.execute(
        update(Case)
        .where(Case.tenant_id == uow.tenant_id, Case.order_id == order_id)
        .values(to.as_dict())
        .execution_options(synchronize_session="fetch")
    )


def rebrand_store(uow: UnitOfWork, *, store: str, previous: str | None, brand: str | None) -> int:
    """After a store's brand rule changed from ``previous`` to ``brand`` (None: no rule):
    the store's orders that had no brand or the previous one take the new one, and their
    cases with them; an order branded by one of its tags keeps its brand. Returns the
    number of orders moved."""
    store = normalise(Dimension.STORE, store)
    had = (
        Order.brand.is_(None)
        if previous is None
        else or_(Order.brand.is_(None), Order.brand == previous)
    )
    moved = uow.session.execute(
        update(Order)
        .where(Order.tenant_id == uow.tenant_id, Order.store == store, had)
        .values(brand=brand)
        .execution_options(synchronize_session="fetch")
    )
    now_branded = Order.brand.is_(None) if brand is None else Order.brand == brand
    uow.session.execute(
        update(Case)
        .where(
            Case.tenant_id == uow.tenant_id,
            Case.order_id.in_(
                select(Order.id).where(
                    Order.tenant_id == uow.tenant_id, Order.store == store, now_branded
                )
            ),
        )
        .values(brand=brand)
        .execution_options(synchronize_session="fetch")
    )
    return int(moved.rowcount or 0)  # type: ignore[attr-defined]
