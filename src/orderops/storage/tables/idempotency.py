"""Idempotency keys of state-changing API requests (issue #15), one row per tenant, key
owner and key.

The primary key is the guarantee: two requests with one key race to insert the row, and
the database lets exactly one of them execute. The row holds a fingerprint of the request
(method, path, query and body) and, once the first answer is known, its status, content
type and body, which a retry is answered with. ``response_status`` is null while the
first request is still running. Rows expire after ``expires_at`` (24 h): an expired row
is replaced by the next claim of its key, and ``purge_expired`` deletes the rest.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, LargeBinary, PrimaryKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from orderops.storage.base import Base, tenant_column


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (PrimaryKeyConstraint("tenant_id", "owner", "idempotency_key"),)

    tenant_id: Mapped[str] = tenant_column()
    owner: Mapped[str] = mapped_column(String(100))
    """Who sent the key: the principal's identity (``user:<id>`` or ``key:<id>``)."""
    idempotency_key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    """SHA-256 (hex) of the method, path, query and body of the first request."""
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_content_type: Mapped[str | None] = mapped_column(String(100))
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
