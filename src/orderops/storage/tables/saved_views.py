"""Saved views: a reviewer's named filter sets (issue #14), one row per person and name.

A view stores where it opens (a console path such as ``/console/queues/ops`` or
``/console/mine``) and the query string of its filters, exactly as the page's own
filter form writes them, so opening a view is an ordinary GET of that page: the page
parses and checks its filters as it does for anyone, and a view never widens a scope.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from orderops.storage.base import Base, tenant_column
from orderops.storage.tables.keys import row_id, tenant_fk, tenant_primary_key


class SavedView(Base):
    __tablename__ = "saved_views"
    __table_args__ = (
        tenant_primary_key(),
        tenant_fk(__tablename__, "user_id", "users", ondelete="CASCADE"),
        # A person's views, by name: the list reads this index, and saving a name twice
        # replaces the filters rather than adding a second row.
        UniqueConstraint("tenant_id", "user_id", "name"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    user_id: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    path: Mapped[str] = mapped_column(String(300))
    query: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012
