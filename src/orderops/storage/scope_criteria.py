"""What the unit of work's guard adds for a principal limited below the tenant.

``storage/tenant_guard.py`` gives every ORM statement of a tenant's unit of work the
tenant's filter; a unit of work bound to an ``AccessScope`` that restricts something also
gets, for every scoped entity anywhere in the statement, "sits in the scope":

- orders and cases by their own ``brand``/``store``/``channel``/``region`` columns;
- a row that hangs off a case (a tenant-owned table with a ``case_id`` column: actions,
  timeline, timers, communications, recommendations, outbox rows, ...) when its case is;
- off an order, by ``order_id`` (its lines) or ``order_ref`` (payments, parcels, tickets,
  refunds, links, ...) when its order is;
- approvals through their action, delivery attempts through their outbox row, customers
  through their orders, incidents through their cases; link suggestions (records that
  name no order yet) never, like any tenant-wide row.

Tables are found by their columns, so a new table with a ``case_id`` is scoped without
a change here. Rows reached only through a scoped parent (tracking events, communication
history, drafts, saga steps) are not filtered themselves.

Each dimension's test is ``(:any_<dimension> OR <column> IN (:<dimension> ...))``: the
statement has the same shape for every scope, so one option per group of tables serves
them all and the statement cache is shared; the values come with each execution
(``parameters``). A principal with no restriction gets no option at all.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    String,
    and_,
    bindparam,
    column,
    false,
    or_,
    select,
    true,
)
from sqlalchemy.orm import with_loader_criteria
from sqlalchemy.sql.schema import Table

from orderops.domain.scopes import AccessScope, Dimension
from orderops.storage.base import Base
from orderops.storage.tables import (
    Action,
    Approval,
    Case,
    Customer,
    Incident,
    LinkSuggestion,
    Order,
    OutboxMessage,
    WritebackAttempt,
)

_ANY = {d: bindparam(f"orderops_scope_any_{d.value}", type_=Boolean()) for d in Dimension}
_IN = {d: bindparam(f"orderops_scope_{d.value}", type_=String(), expanding=True) for d in Dimension}
_TENANT = bindparam("orderops_guard_tenant", type_=String())
"""The tenant guard's own parameter (``tenant_guard.PARAMETER``): the subqueries below read
only the bound tenant's orders and cases."""


def parameters(scope: AccessScope) -> dict[str, Any]:
    """The values a statement guarded for ``scope`` runs with."""
    values: dict[str, Any] = {}
    for dimension in Dimension:
        allowed = scope.allowed(dimension)
        values[_ANY[dimension].key] = allowed is None
        values[_IN[dimension].key] = sorted(allowed or ())
    return values


def placed_in_scope(columns: Callable[[str], ColumnElement[Any]]) -> ColumnElement[bool]:
    """A row with the four dimension columns (by name) sits in the bound scope."""
    return and_(*(or_(_ANY[d], columns(d.value).in_(_IN[d])) for d in Dimension))


_CASES_TABLE: Table = Case.__table__  # type: ignore[assignment]
_ORDERS_TABLE: Table = Order.__table__  # type: ignore[assignment]
_ACTIONS_TABLE: Table = Action.__table__  # type: ignore[assignment]
_OUTBOX_TABLE: Table = OutboxMessage.__table__  # type: ignore[assignment]

# Core statements on the tables, so the ORM options below never apply to themselves.
_CASES = select(_CASES_TABLE.c.id).where(
    _CASES_TABLE.c.tenant_id == _TENANT, placed_in_scope(lambda name: _CASES_TABLE.c[name])
)
_ORDERS_WHERE = and_(
    _ORDERS_TABLE.c.tenant_id == _TENANT, placed_in_scope(lambda name: _ORDERS_TABLE.c[name])
)
_ORDER_IDS = select(_ORDERS_TABLE.c.id).where(_ORDERS_WHERE)
_ORDER_REFS = select(_ORDERS_TABLE.c.order_ref).where(_ORDERS_WHERE)
_CUSTOMER_IDS = select(_ORDERS_TABLE.c.customer_id).where(_ORDERS_WHERE)
_INCIDENT_IDS = select(_CASES_TABLE.c.incident_id).where(_CASES_TABLE.c.id.in_(_CASES))
_ACTION_IDS = select(_ACTIONS_TABLE.c.id).where(_ACTIONS_TABLE.c.case_id.in_(_CASES))
_MESSAGE_IDS = select(_OUTBOX_TABLE.c.id).where(_OUTBOX_TABLE.c.case_id.in_(_CASES))


class _Group(type):
    """A stand-in for a group of mapped classes in ``with_loader_criteria`` (the option
    applies to what ``__subclasses__`` names: one option for many tables, as the tenant
    guard does). It has the columns its criteria name, which SQLAlchemy reads from the
    stand-in itself when it first analyses the criteria (a lambda, which must name only
    its argument and module globals: SQLAlchemy wraps closure variables)."""

    members: tuple[type[Any], ...] = ()

    def __subclasses__(cls) -> list[type[Any]]:
        return list(cls.members)


def _group(name: str, members: tuple[type[Any], ...], *columns: str) -> type[Any]:
    attributes: dict[str, Any] = {c: column(c, String) for c in columns}
    return _Group(name, (), {"members": members, **attributes})


def _tenant_owned() -> list[type[Any]]:
    mappers = sorted(Base.registry.mappers, key=lambda mapper: mapper.class_.__name__)
    return [m.class_ for m in mappers if "tenant_id" in m.local_table.c]


def _has(cls: type[Any], name: str) -> bool:
    return name in cls.__table__.c


@cache
def options() -> tuple[Any, ...]:
    """The loader options of a unit of work bound to a scope that restricts something."""
    classes = _tenant_owned()
    placed = (Order, Case)
    by_case = tuple(c for c in classes if c not in placed and _has(c, "case_id"))
    taken = placed + by_case
    by_order_id = tuple(c for c in classes if c not in taken and _has(c, "order_id"))
    taken += by_order_id
    by_order_ref = tuple(c for c in classes if c not in taken and _has(c, "order_ref"))
    return (
        with_loader_criteria(
            _group("Placed", placed, *(d.value for d in Dimension)),
            lambda cls: placed_in_scope(lambda name: getattr(cls, name)),
            include_aliases=True,
        ),
        with_loader_criteria(
            _group("ByCase", by_case, "case_id"),
            lambda cls: cls.case_id.in_(_CASES),
            include_aliases=True,
        ),
        with_loader_criteria(
            _group("ByOrderId", by_order_id, "order_id"),
            lambda cls: cls.order_id.in_(_ORDER_IDS),
            include_aliases=True,
        ),
        with_loader_criteria(
            _group("ByOrderRef", by_order_ref, "order_ref"),
            lambda cls: cls.order_ref.in_(_ORDER_REFS),
            include_aliases=True,
        ),
        with_loader_criteria(Approval, Approval.action_id.in_(_ACTION_IDS), include_aliases=True),
        with_loader_criteria(
            WritebackAttempt, WritebackAttempt.message_id.in_(_MESSAGE_IDS), include_aliases=True
        ),
        with_loader_criteria(Customer, Customer.id.in_(_CUSTOMER_IDS), include_aliases=True),
        with_loader_criteria(Incident, Incident.id.in_(_INCIDENT_IDS), include_aliases=True),
        with_loader_criteria(LinkSuggestion, false(), include_aliases=True),
    )


def explicit(
    scope: AccessScope, columns: Callable[[str], ColumnElement[Any]]
) -> ColumnElement[bool]:
    """``scope`` as a plain predicate with its values inline, for a statement that names a
    scope of its own (a queue's) rather than the bound one."""
    return and_(true(), *(columns(d.value).in_(sorted(values)) for d, values in scope.limits))
