"""Tenants (each the live or test environment of an account) and their API keys.

A request names its key, not its tenant, so a key is found by its hash alone, through a
plain index on ``key_hash``; the hash is unique per tenant (a unique key across tenants
could not be kept by a database distributed by tenant). Secrets are random 256-bit
tokens (``tenancy/tenants.py``), so two keys never share a hash in practice.

An environment is a tenant row of its own (``domain/environments.py``), so a test
environment's rows are kept from live ones by everything that keeps tenants apart.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, UniqueConstraint
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import Mapped, mapped_column

from orderops.storage.base import Base, tenant_column
from orderops.storage.tables import access as _access  # noqa: F401  (users, for user_id)
from orderops.storage.tables.keys import row_id, tenant_fk, tenant_primary_key


def _own_id(context: DefaultExecutionContext) -> str:
    """A tenant written without an account is an account of its own, as 0023 made every
    tenant that existed before environments."""
    parameters = context.get_current_parameters()  # type: ignore[no-untyped-call]  # SQLAlchemy's
    return str(parameters["id"])


class Tenant(Base):
    """The one table every tenant-owned row names: a reference table on Citus, copied to
    every node so those keys hold on each shard (``storage/tables/keys.py``)."""

    __tablename__ = "tenants"
    __table_args__ = (
        # An index, not a constraint: SQLite adds one without rebuilding the table that
        # every tenant-owned row references (migration 0023).
        Index("uq_tenants_account_id_environment", "account_id", "environment", unique=True),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    retention_days: Mapped[int] = mapped_column(Integer, default=90, server_default="90")
    """How long processed events stay in the hot tables (``workflow/retention.py``)."""
    account_id: Mapped[str] = mapped_column(String(64), default=_own_id)
    """The retailer: its live and test environments' rows share it (live's id is it)."""
    environment: Mapped[str] = mapped_column(String(8), default="live", server_default="live")


class ApiKey(Base):
    __tablename__ = "api_keys"
    __table_args__ = (
        tenant_primary_key(),
        tenant_fk(__tablename__, "user_id", "users"),
        UniqueConstraint("tenant_id", "key_hash"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), index=True)
    role: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    # The user or service identity the key acts as (None: a key from before identities).
    user_id: Mapped[str | None] = mapped_column(String(32))
    last_used_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    """When the key stops working (None: never); a rotation moves it to the overlap's end."""
    rotated_at: Mapped[datetime | None]
    successor_id: Mapped[str | None] = mapped_column(String(32))
    """The key a rotation issued in its place. A plain id: a reference would make SQLite
    rebuild ``api_keys``, which ``identity_acts`` references."""
    scope: Mapped[dict[str, Any] | None]
    """Narrows what the key sees below its user's scope (``domain/scopes.py``); None: as
    its user (or, for a key without one, the whole tenant)."""

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012
