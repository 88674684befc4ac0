"""Reconciliation's records (``workflow/reconciliation.py``): its runs and its findings.

A finding is unique per (tenant, outbox message): however often reconciliation runs, one
delivered effect that disagrees with its vendor is reported, and opens a case, once. A
run row is both the report of a run and the due-time of the next: the worker's daily pass
runs a tenant's reconciliation when its latest run is older than the interval.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from orderops.storage.base import Base, tenant_column
from orderops.storage.tables.keys import row_id, tenant_fk, tenant_primary_key


class ReconciliationRun(Base):
    __tablename__ = "reconciliation_runs"
    __table_args__ = (
        tenant_primary_key(),
        Index("ix_reconciliation_runs_tenant_started", "tenant_id", "started_at"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    days: Mapped[int] = mapped_column(Integer)
    checked: Mapped[int] = mapped_column(Integer)
    agreed: Mapped[int] = mapped_column(Integer)
    disagreed: Mapped[int] = mapped_column(Integer)
    unchecked: Mapped[int] = mapped_column(Integer)
    """Effects whose vendor could not be asked (an error, no connection): never a finding."""
    actor: Mapped[str] = mapped_column(String(200))

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012


class ReconciliationFinding(Base):
    __tablename__ = "reconciliation_findings"
    __table_args__ = (
        tenant_primary_key(),
        tenant_fk(__tablename__, "outbox_id", "outbox"),
        tenant_fk(__tablename__, "case_id", "cases"),
        tenant_fk(__tablename__, "run_id", "reconciliation_runs"),
        UniqueConstraint("tenant_id", "outbox_id"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    outbox_id: Mapped[str] = mapped_column(String(32))
    run_id: Mapped[str] = mapped_column(String(32))
    case_id: Mapped[str | None] = mapped_column(String(32))
    """The case it opened or joined; None when the effect names no order the desk knows."""
    order_ref: Mapped[str | None] = mapped_column(String(200))
    system: Mapped[str] = mapped_column(String(40))
    operation: Mapped[str] = mapped_column(String(64))
    vendor_ref: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    sentence: Mapped[str] = mapped_column(Text)
    detail: Mapped[dict[str, Any]]
    found_at: Mapped[datetime]

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012
