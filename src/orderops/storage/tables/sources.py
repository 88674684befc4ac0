"""Connected webhook sources and the raw deliveries they post.

A connection holds the tenant's signing secret for one provider, encrypted at rest, and
a random endpoint token that goes in the webhook URL: the tenant of a delivery is found
from the URL, never from the payload a sender controls. So a connection is found by its
token alone, through a plain index on ``endpoint_token``; the token is unique per tenant
(a database distributed by tenant keeps no uniqueness across tenants), and tokens are
random 192-bit values (``ingest/connections.py``), so two connections never share one in
practice.

A delivery row is written, and committed, before a payload is mapped, so a payload the
adapters cannot read yet is still kept byte for byte. Its uniqueness on (tenant, source,
provider delivery id, body hash) is what makes a provider's retry harmless: the retry
carries the same id and the same bytes, so the insert is refused and nothing runs twice.
The body hash is also indexed on its own (per tenant and source): a Shopify body resent
under another topic carries a new delivery id, and only its hash finds the first delivery.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from orderops.storage.base import Base, tenant_column
from orderops.storage.tables.keys import row_id, tenant_fk, tenant_primary_key


class SourceConnection(Base):
    __tablename__ = "source_connections"
    __table_args__ = (
        tenant_primary_key(),
        UniqueConstraint("tenant_id", "source"),
        UniqueConstraint("tenant_id", "endpoint_token"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    source: Mapped[str] = mapped_column(String(40))
    secret_ciphertext: Mapped[str] = mapped_column(Text)
    """Fernet token of the signing secret; the plaintext is never stored or logged."""
    previous_secret_ciphertext: Mapped[str | None] = mapped_column(Text)
    """The secret a rotation replaced, still accepted until ``previous_secret_until``, so
    deliveries the provider signed before it switched are not refused."""
    previous_secret_until: Mapped[datetime | None]
    endpoint_token: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime]
    rotated_at: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        tenant_primary_key(),
        tenant_fk(__tablename__, "dead_letter_id", "dead_letters"),
        UniqueConstraint("tenant_id", "source", "delivery_id", "body_sha256"),
        Index("ix_webhook_deliveries_tenant_status", "tenant_id", "status", "received_at"),
        Index("ix_webhook_deliveries_tenant_body_sha256", "tenant_id", "source", "body_sha256"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    source: Mapped[str] = mapped_column(String(40))
    delivery_id: Mapped[str] = mapped_column(String(200))
    """The provider's id for this delivery, or ``sha256:<body hash>`` when it sends none."""
    body_sha256: Mapped[str] = mapped_column(String(64))
    """Hex SHA-256 of the exact bytes received: the retry key with ``delivery_id``, and how a
    body resent under another topic is recognised."""
    received_at: Mapped[datetime]
    headers: Mapped[dict[str, Any]]
    """The provider's routing headers (topic, ids, timestamps); never signatures or cookies."""
    body: Mapped[str] = mapped_column(Text)
    body_bytes: Mapped[int]
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    dead_letter_id: Mapped[str | None] = mapped_column(String(32))
    completed_at: Mapped[datetime | None]

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012
