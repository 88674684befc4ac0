"""The model registry: every trained version of a tenant's models, with its bytes.

One row per version of one kind (``delay``, ``ticket_class``) for one tenant, numbered
1, 2, ... per tenant and kind. The model itself is in ``artifact``, in skops format
(never a pickle: skops loads only the types it is told to trust), beside the window of
history it was trained on, its metrics on the held-out later part of that window, the
shadow report that compared it with the model in force, who made it and who promoted
it. The partial unique index keeps at most one promoted version per tenant and kind.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, LargeBinary, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from orderops.storage.base import Base, JsonType, tenant_column
from orderops.storage.tables.keys import row_id, tenant_primary_key

PROMOTED_PREDICATE = text("status = 'promoted'")


class ModelVersionRow(Base):
    __tablename__ = "model_versions"
    __table_args__ = (
        tenant_primary_key(),
        UniqueConstraint("tenant_id", "kind", "number"),
        Index(
            "uq_model_versions_promoted",
            "tenant_id",
            "kind",
            unique=True,
            sqlite_where=PROMOTED_PREDICATE,
            postgresql_where=PROMOTED_PREDICATE,
        ),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    kind: Mapped[str] = mapped_column(String(32))
    number: Mapped[int] = mapped_column(Integer)
    """1, 2, ... per tenant and kind, in the order the versions were trained."""
    model_version: Mapped[str] = mapped_column(String(64))
    """The model's own content version (hash of its training rows, parameters, library)."""
    status: Mapped[str] = mapped_column(String(16))
    artifact_format: Mapped[str] = mapped_column(String(16))
    artifact: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    """The skops bytes; deferred, so listing versions never reads them."""
    artifact_sha256: Mapped[str] = mapped_column(String(64))
    artifact_bytes: Mapped[int] = mapped_column(Integer)
    trained_from: Mapped[datetime | None]
    trained_to: Mapped[datetime | None]
    """The window of history the version learned from (dispatch times for delay)."""
    training: Mapped[dict[str, Any]] = mapped_column(JsonType)
    """Sizes of the split (train / test shipments), the cutoff, parameters, threshold."""
    metrics: Mapped[dict[str, Any]] = mapped_column(JsonType)
    """Scores on the held-out later part of the window, beside the plain rules."""
    shadow: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    """The last shadow report: this version and the one in force on the same shipments."""
    evaluated_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))
    promoted_at: Mapped[datetime | None]
    promoted_by: Mapped[str | None] = mapped_column(String(200))
    retired_at: Mapped[datetime | None]
    retired_by: Mapped[str | None] = mapped_column(String(200))

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012
