"""Backtest runs: a candidate policy replayed over a tenant's recorded window, and its report.

One row per run (``workflow/backtest.py``): who ran it, the window, the candidate file as
given, the leaf-by-leaf diff from the live policy, and the report comparing the two
replays. Listing reads the small columns only.

A run the CLI makes is written once, ``done``. A run requested over the API or the console
(``workflow/backtest_requests.py``, migration 0047) is written ``queued`` with its window
and candidate; a worker claims it (``running``, leased to that worker until
``leased_until``), then writes the diff, the report and ``done``, or ``failed`` with the
reason. Until it is done, ``events`` and ``changed_cases`` are 0, ``policy_diff`` is ``[]``
and ``report`` is ``{}``.
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
        Index("ix_backtest_runs_tenant_status", "tenant_id", "status", "created_at"),
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
    status: Mapped[str] = mapped_column(String(16), default="done", server_default="done")
    """queued, running, done or failed (``workflow/backtest_requests.RunStatus``)."""
    failure: Mapped[str | None] = mapped_column(Text)
    """Why a failed run failed, as the person who asked for it reads it."""
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Claims so far: a run whose worker stopped is claimed again, a few times at most."""
    leased_by: Mapped[str | None] = mapped_column(String(200))
    leased_until: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    sweep_minutes: Mapped[int] = mapped_column(Integer, default=60, server_default="60")
    """The replay's pace (``workflow/backtest_replay.Pace``): minutes between sweeps..."""
    tick_minutes: Mapped[int] = mapped_column(Integer, default=5, server_default="5")
    """...and minutes of received events fed together."""
