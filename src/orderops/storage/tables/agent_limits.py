"""Money limits on the keys AI agents call the tool API with, and what each key proposed.

``agent_key_limits``: per API key, the most one proposal may move and the most the key's
proposals may move in one UTC day, both in minor units (``orderops agents limits``). A key
without a row proposes nothing that moves money (``agent_tools/limits.py``).

``agent_proposals``: one row per action a key proposed through the tool API, with the
money it moves, on the UTC day it was proposed; the day's sum is a short range of the key
(tenant, key, day). Dry runs write none. The day is text (``YYYY-MM-DD``), as the usage
counters keep theirs.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from orderops.storage.base import Base, tenant_column
from orderops.storage.tables.keys import row_id, tenant_fk, tenant_primary_key


class AgentKeyLimit(Base):
    __tablename__ = "agent_key_limits"
    __table_args__ = (
        tenant_primary_key(),
        tenant_fk(__tablename__, "key_id", "api_keys"),
        UniqueConstraint("tenant_id", "key_id"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    key_id: Mapped[str] = mapped_column(String(32))
    per_action_minor: Mapped[int] = mapped_column(BigInteger)
    per_day_minor: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(200))

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012


class AgentProposal(Base):
    __tablename__ = "agent_proposals"
    __table_args__ = (
        tenant_primary_key(),
        tenant_fk(__tablename__, "key_id", "api_keys"),
        tenant_fk(__tablename__, "action_id", "actions"),
        Index("ix_agent_proposals_tenant_key_day", "tenant_id", "key_id", "day"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    key_id: Mapped[str] = mapped_column(String(32))
    action_id: Mapped[str] = mapped_column(String(32))
    case_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    day: Mapped[str] = mapped_column(String(10))
    proposed_at: Mapped[datetime]

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012
