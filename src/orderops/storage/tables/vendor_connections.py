"""Vendor connections: one tenant row's account at one external system.

One row per (tenant, system): a tenant row is one environment of an account
(``domain/environments.py``), so a live and a test environment each hold their own. The
credential is a Fernet token (``ingest/connections.py``'s ``SecretBox``, the key derived
from ``ORDEROPS_SECRET_KEY``), never plaintext; ``secret_fingerprint`` is what shells show.
``version`` grows with every rotation, so a worker that cached a connector notices.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from orderops.storage.base import Base, tenant_column
from orderops.storage.tables.keys import row_id, tenant_primary_key


class VendorConnection(Base):
    __tablename__ = "vendor_connections"
    __table_args__ = (tenant_primary_key(), UniqueConstraint("tenant_id", "system"))

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    system: Mapped[str] = mapped_column(String(16))
    base_url: Mapped[str] = mapped_column(String(500))
    username: Mapped[str | None] = mapped_column(String(320))
    """Not a secret: Zendesk's agent email (the others have none)."""
    secret_ciphertext: Mapped[str] = mapped_column(Text)
    secret_fingerprint: Mapped[str] = mapped_column(String(32))
    mode: Mapped[str] = mapped_column(String(8))
    """``test`` or ``live`` (``domain/vendor_connections.py``)."""
    allow_test_mode: Mapped[bool]
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))
    rotated_at: Mapped[datetime | None]
    rotated_by: Mapped[str | None] = mapped_column(String(200))

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012
