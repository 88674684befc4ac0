"""One row per tenant in every tenant-owned table, built from the metadata alone.

Isolation tests must cover every table, including the one added next month, so rows are
not hand-written per table: each required column gets a plain value of its type, each
reference names the row already built for the same tenant in the referenced table
(tables are filled in dependency order), and nullable columns stay empty.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, Connection, Table, TypeDecorator, insert

import orderops.storage.tables  # noqa: F401  (registers every table)
from orderops.storage.base import Base
from orderops.storage.tenant_guard import tenant_owned_classes

AT = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
_serial = itertools.count(1)

TENANT_OWNED_TABLES: tuple[Table, ...] = tuple(
    table for table in Base.metadata.sorted_tables if "tenant_id" in table.c
)
SHARED_TABLES = frozenset({"tenants", "sign_in_throttle"})
"""The only tables without a tenant: the tenant registry and the sign-in throttle (keyed
by hashes of tenant+email and of address, because an address guesses across tenants)."""

Built = dict[str, dict[str, dict[str, Any]]]
"""tenant -> table name -> the row built for it."""


def build_rows(tenants: Iterable[str]) -> Built:
    built: Built = {}
    for tenant in tenants:
        rows: dict[str, dict[str, Any]] = {}
        for table in TENANT_OWNED_TABLES:
            rows[table.name] = row_for(table, tenant, rows)
        built[tenant] = rows
    return built


def row_for(table: Table, tenant: str, others: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A new row of ``table`` for ``tenant``, referring to ``others`` (the tenant's rows)."""
    row: dict[str, Any] = {}
    for column in table.columns:
        if column.name == "tenant_id":
            row[column.name] = tenant
        elif column.foreign_keys:
            row[column.name] = _reference(column, tenant, others)
        elif not column.nullable or column.primary_key:
            row[column.name] = _value(column, tenant)
    return row


def insert_rows(connection: Connection, built: Built) -> None:
    for rows in built.values():
        for table in TENANT_OWNED_TABLES:
            connection.execute(insert(table).values(rows[table.name]))


def mapped_class_of(table: Table) -> type[Any]:
    (found,) = [cls for cls in tenant_owned_classes() if cls.__table__ is table]
    return found


def _reference(column: Column[Any], tenant: str, others: dict[str, dict[str, Any]]) -> Any:
    (key,) = column.foreign_keys
    target = key.column
    if target.table.name == "tenants":
        return tenant
    if target.table.name == column.table.name or target.table.name not in others:
        if column.nullable:
            return None
        raise AssertionError(f"{column.table.name}.{column.name} needs a row built before it")
    return others[target.table.name][target.name]


def _value(column: Column[Any], tenant: str) -> Any:
    kind = _python_type(column)
    if kind is datetime:
        return AT
    if kind is bool:
        return False
    if kind is int:
        return next(_serial)
    if kind is float:
        return 0.5
    if kind is dict:
        return {}
    if kind is list:
        return []
    if kind is bytes:
        return f"{tenant[:8]}-{next(_serial)}-{column.name}".encode()
    text = f"{tenant[:8]}-{next(_serial)}-{column.name}"
    length = getattr(column.type, "length", None)
    return text[-length:] if length else text


def _python_type(column: Column[Any]) -> type[Any]:
    kind = column.type
    if isinstance(kind, TypeDecorator):
        kind = kind.impl_instance
    try:
        return kind.python_type
    except NotImplementedError:
        return str
