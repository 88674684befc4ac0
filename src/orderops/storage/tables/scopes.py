"""A tenant's brands, for scopes below the tenant (``domain/scopes.py``).

Stores do not send a brand; a rule names the brand of every order from one store
(``kind`` "store", ``value`` the shop) or carrying one tag (``kind`` "tag"). Where orders
and cases sit is kept on their own rows (``orders.brand`` ..., ``cases.brand`` ...), and
who may see what on ``users.scope``, ``api_keys.scope`` and ``queues.scope``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from orderops.storage.base import Base, tenant_column
from orderops.storage.tables.keys import row_id, tenant_primary_key


class BrandRule(Base):
    __tablename__ = "brand_rules"
    __table_args__ = (tenant_primary_key(), UniqueConstraint("tenant_id", "kind", "value"))

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    kind: Mapped[str] = mapped_column(String(16))
    """"store" or "tag"."""
    value: Mapped[str] = mapped_column(String(64))
    brand: Mapped[str] = mapped_column(String(64))
    set_by: Mapped[str] = mapped_column(String(200))
    set_at: Mapped[datetime]

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012
