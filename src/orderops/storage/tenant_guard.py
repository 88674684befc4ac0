"""The application's own tenant guard, on every session a unit of work opens.

Repositories filter by tenant; this guard is for the query that forgets to. A session
bound to a tenant (``bind_tenant``, done by ``UnitOfWork``) gets three things:

- every ORM SELECT it runs (``select(Model)``, joins, subqueries, ``session.get``,
  relationship and refresh loads), and every ORM ``update(Model)``/``delete(Model)``,
  gains ``tenant_id = <the tenant>`` for each tenant-owned entity anywhere in it, through
  ``with_loader_criteria``: a statement missing its filter reads or changes only the
  tenant's rows, never another's (a bulk UPDATE by primary key, one parameter set per
  row, is left to its keys);
- a flush that would write an object of another tenant (added, or moved by changing its
  ``tenant_id``) is refused with ``ForeignTenantWrite``;
- on PostgreSQL, every transaction it begins first sets ``orderops.tenant_id``, which
  the row-level security policies (migration 0021) read. Per transaction, not per
  session, because the setting is transaction-local (so a pooled connection never
  carries a tenant to its next user) and a unit of work may commit and go on.

Not covered by the ORM guard: Core statements on ``Table`` objects, ``text()`` and
Core ``insert()``/``update()``/``delete()`` of tables, and bulk writes (they bypass the
ORM's loader options and unit-of-work flush). On PostgreSQL row-level security covers
them; on SQLite only the repositories' own ``WHERE`` clauses do.

A session with no tenant (the named cross-tenant lookups, ``storage/tenant_lookups.py``;
tenant creation) is left alone: on PostgreSQL, as the app role, it sees no tenant-owned
rows at all.

A session may also be bound to an ``AccessScope`` (``bind_scope``, done by a unit of work
acting for a principal limited to some brands, stores, channels or regions): its ORM
statements then also gain "sits in the scope" for orders, cases and the rows that hang
off them (``storage/scope_criteria.py``), so another region's case answers 404 exactly
as another tenant's does. A Core statement on those tables must add the limits itself
(none does today); database row-level security knows tenants only. The worker and sweeps
bind no scope.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from itertools import chain
from typing import Any
from weakref import WeakSet

from sqlalchemy import String, bindparam, column, event, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import (
    ORMExecuteState,
    Session,
    SessionTransaction,
    sessionmaker,
    with_loader_criteria,
)

from orderops.domain.scopes import AccessScope
from orderops.storage import scope_criteria
from orderops.storage.base import Base

TENANT_KEY = "orderops.tenant_id"
"""``Session.info`` key holding the bound tenant."""
SCOPE_KEY = "orderops.access_scope"
"""``Session.info`` key holding the bound scope (absent: the whole tenant)."""
PARAMETER = "orderops_guard_tenant"
SET_DATABASE_TENANT = text("SELECT set_config('orderops.tenant_id', :tenant, true)")


class ForeignTenantWrite(RuntimeError):
    """A unit of work tried to write a row of a tenant it is not bound to."""


@cache
def tenant_owned_classes() -> tuple[type[Any], ...]:
    """Every mapped class whose table has a ``tenant_id`` column."""
    import orderops.storage.tables  # noqa: F401  (registers every table)

    mappers = sorted(Base.registry.mappers, key=lambda mapper: mapper.class_.__name__)
    return tuple(m.class_ for m in mappers if "tenant_id" in m.local_table.c)


class _EveryTenantOwnedClass(type):
    # ``with_loader_criteria`` given an unmapped base applies to the mapped classes it
    # finds through ``__subclasses__()``. One option standing for all of them costs one
    # cache-key entry per statement; one option per class (58) made a simple query about
    # 3x slower (measured on in-memory SQLite, where the statement itself costs least).
    def __subclasses__(cls) -> list[type[Any]]:
        return list(tenant_owned_classes())


class TenantOwned(metaclass=_EveryTenantOwnedClass):
    """Stands for every tenant-owned class in the loader criteria below."""

    tenant_id = column("tenant_id", String)


_TENANT = bindparam(PARAMETER, type_=String())
"""Its value comes with each execution, so the option (and the statement cache) is shared
by every tenant; a statement run without it fails instead of matching nothing."""
_CRITERIA = with_loader_criteria(
    TenantOwned, lambda cls: cls.tenant_id == _TENANT, include_aliases=True
)


def bind_tenant(session: Session, tenant_id: str) -> None:
    """Bind before the session's first statement (the PostgreSQL setting is made as its
    transaction begins)."""
    session.info[TENANT_KEY] = tenant_id


def bound_tenant(session: Session) -> str | None:
    tenant = session.info.get(TENANT_KEY)
    return tenant if isinstance(tenant, str) else None


def bind_scope(session: Session, scope: AccessScope) -> None:
    """Limit the session's ORM reads and changes to ``scope`` (with a tenant bound)."""
    if scope.unrestricted:
        session.info.pop(SCOPE_KEY, None)
    else:
        session.info[SCOPE_KEY] = scope


def bound_scope(session: Session) -> AccessScope | None:
    scope = session.info.get(SCOPE_KEY)
    return scope if isinstance(scope, AccessScope) else None


_installed: WeakSet[sessionmaker[Session]] = WeakSet()
"""Not ``event.contains``: it reports a listener on a new factory whose session class got
the id of a collected one's, and the guard would silently be missing."""


def install(factory: sessionmaker[Session]) -> None:
    """Guard every session the factory makes (only bound sessions are affected)."""
    if factory in _installed:
        return
    _installed.add(factory)
    event.listen(factory, "do_orm_execute", _filter_statements)
    event.listen(factory, "before_flush", _refuse_foreign_writes)
    event.listen(factory, "after_begin", _set_database_tenant)


def _filter_statements(state: ORMExecuteState) -> None:
    tenant = bound_tenant(state.session)
    if tenant is None or not state.is_orm_statement:
        return
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.parameters is not None and not isinstance(state.parameters, Mapping):
        return  # a bulk UPDATE by primary key (one parameter set per row): keys decide
    parameters = {**(state.parameters or {}), PARAMETER: tenant}
    scope = bound_scope(state.session)
    if scope is None:
        state.statement = state.statement.options(_CRITERIA)
    else:
        state.statement = state.statement.options(_CRITERIA, *scope_criteria.options())
        parameters.update(scope_criteria.parameters(scope))
    state.parameters = parameters


def _refuse_foreign_writes(session: Session, _context: Any, _instances: Any) -> None:
    tenant = bound_tenant(session)
    if tenant is None:
        return
    for instance in chain(session.new, session.dirty):
        owner = getattr(instance, "tenant_id", None)
        if owner is not None and owner != tenant:
            raise ForeignTenantWrite(
                f"a unit of work of tenant {tenant!r} may not write a "
                f"{type(instance).__name__} of tenant {owner!r}"
            )


def _set_database_tenant(
    session: Session, transaction: SessionTransaction, connection: Connection
) -> None:
    if transaction.nested:
        return  # a savepoint runs inside a transaction that already set it
    tenant = bound_tenant(session)
    if tenant is not None and connection.dialect.name == "postgresql":
        connection.execute(SET_DATABASE_TENANT, {"tenant": tenant})
