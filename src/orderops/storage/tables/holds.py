"""Holds the desk placed (``domain/holds.py``): one row per approved hold effect.

Not ``fulfillment_holds``, which mirrors what Shopify reports about every hold, whoever
placed it; this is the desk's own promise to take its hold off again. The place message's
id is unique per tenant, so approving twice cannot record one hold twice; the release's
outbox row is keyed by the hold's id (``domain.holds.release_key``), so it is queued once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from orderops.storage.base import Base, tenant_column
from orderops.storage.tables.keys import row_id, tenant_fk, tenant_primary_key


class DeskHold(Base):
    __tablename__ = "desk_holds"
    __table_args__ = (
        tenant_primary_key(),
        tenant_fk(__tablename__, "case_id", "cases"),
        tenant_fk(__tablename__, "action_id", "actions"),
        UniqueConstraint("tenant_id", "place_outbox_id"),
        Index("ix_desk_holds_tenant_case", "tenant_id", "case_id"),
        Index("ix_desk_holds_tenant_status_expires", "tenant_id", "status", "expires_at"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    order_ref: Mapped[str] = mapped_column(String(200))
    case_id: Mapped[str] = mapped_column(String(32))
    action_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(200))
    """The identity whose approval placed it (the final approver)."""
    status: Mapped[str] = mapped_column(String(16))
    placed_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    release_requested_at: Mapped[datetime | None]
    released_at: Mapped[datetime | None]
    release_reason: Mapped[str | None] = mapped_column(String(16))
    released_by: Mapped[str | None] = mapped_column(String(200))
    place_outbox_id: Mapped[str] = mapped_column(String(32))
    release_outbox_id: Mapped[str | None] = mapped_column(String(32))
    """None once released when the hold was never placed (its message failed): nothing to
    undo at the vendor."""

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012
