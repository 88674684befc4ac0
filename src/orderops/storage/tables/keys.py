"""Keys that lead with the tenant, so the schema distributes by tenant on Citus unchanged.

Citus spreads a distributed table's rows over shards by one column (here ``tenant_id``)
and can enforce a primary key, a unique constraint or a foreign key only within a shard,
so each must include that column. A tenant-owned table's primary key is therefore
``(tenant_id, id)``, and a reference from one tenant-owned table to another is
``(tenant_id, x_id) -> (tenant_id, id)``; on one database too, that refuses a row naming
another tenant's row, which a key on ``x_id`` alone let through.

The ORM keeps ``id`` alone as a row's identity (``__mapper_args__ = {"primary_key": [id]}``),
so ``session.get(Model, id)`` and everything else that finds a row by its id works as
before, while SQLAlchemy 2 writes its ``UPDATE`` and ``DELETE`` statements with the table's
whole key (``WHERE tenant_id = ? AND id = ?``). ``id`` also keeps an index of its own, not
unique: without it a lookup by id alone (``session.get``, ``id IN (...)``, a join on an
id) could not use the ``(tenant_id, id)`` index on PostgreSQL and would read the table.

``tests/integration/test_tenant_keys.py`` holds every table to this, on the models and on
the migrated databases; the two tables without a tenant (``tenants`` and
``sign_in_throttle``) are its named exceptions, Citus reference tables.
"""

from __future__ import annotations

from sqlalchemy import ForeignKeyConstraint, PrimaryKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from orderops.storage.base import new_id, new_sortable_id


def row_id(*, sortable: bool = False) -> Mapped[str]:
    """A row's id: its identity in the ORM, second in the table's key, indexed alone.

    ``sortable`` ids keep rows written in one transaction in the order they were written
    (``new_sortable_id``)."""
    return mapped_column(String(32), default=new_sortable_id if sortable else new_id, index=True)


def tenant_primary_key() -> PrimaryKeyConstraint:
    return PrimaryKeyConstraint("tenant_id", "id")


def tenant_fk(
    table: str, column: str, parent: str, *, ondelete: str | None = None
) -> ForeignKeyConstraint:
    """``table (tenant_id, column) -> parent (tenant_id, id)``.

    Named as the one-column key it replaced (``fk_<table>_<column>_<parent>``): the naming
    convention would name it after its first column, ``tenant_id``, and two references
    from one table to the same parent would collide."""
    return ForeignKeyConstraint(
        ["tenant_id", column],
        [f"{parent}.tenant_id", f"{parent}.id"],
        name=f"fk_{table}_{column}_{parent}",
        ondelete=ondelete,
    )
