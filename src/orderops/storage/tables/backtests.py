"""Backtest runs: a candidate policy replayed over a tenant's recorded window, and its report.

One row per run (``workflow/backtest.py``): who ran it, the window, the candidate file as
given, the leaf-by-leaf diff from the live policy, and the report comparing the two
replays. Rows are written once and never edited; listing reads the small columns only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from orderops.storage.base import Base, JsonType, tenant_column
from orderops.storage.tables.keys import row_id, tenant_primary_key


class BacktestRun(Base):
    __tablename__ = "backtest_runs"
    __table_args__ = (
        tenant_primary_key(),
        Index("ix_backtest_runs_tenant_created", "tenant_id", "created_at"),
    )

    id: Mapped[str] = row_id(sortable=True)
    tenant_id: Mapped[str] = tenant_column()
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    window_from: Mapped[datetime]
    window_to: Mapped[datetime]
    events: Mapped[int] = mapped_column(Integer)
    """Recorded events replayed (each run)."""
    changed_cases: Mapped[int] = mapped_column(Integer)
    """Cases (order and type) that differ between the live and the candidate replay."""
    candidate_text: Mapped[str] = mapped_column(Text, deferred=True)
    policy_diff: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, deferred=True)
    report: Mapped[dict[str, Any]] = mapped_column(JsonType, deferred=True)
