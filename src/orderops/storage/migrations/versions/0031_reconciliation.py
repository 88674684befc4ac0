"""reconciliation: what the vendors say beside what the desk did

Revision ID: 0031_reconciliation
Revises: 0030_desk_holds
Create Date: 2026-12-04 14:20:00

Written by hand to mirror ``orderops.storage.tables.reconciliation``. Two tenant-owned
tables keyed by tenant first (``storage/tables/keys.py``), each put under row-level
security as soon as it exists: the runs (a report and the next run's due time) and the
findings, unique on (tenant, outbox message) so one effect opens one case however often
reconciliation runs. Downgrade drops both: past findings are forgotten, the cases they
opened stay.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import orderops.storage.base
from orderops.storage.migrations.row_security import protect, unprotect

revision: str = "0031_reconciliation"
down_revision: str | None = "0030_desk_holds"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = orderops.storage.base.UtcDateTime(timezone=True)
RUNS = "reconciliation_runs"
FINDINGS = "reconciliation_findings"


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["tenants.id"], name=f"fk_{table}_tenant_id_tenants", ondelete="RESTRICT"
    )


def _ref(table: str, column: str, parent: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id", column],
        [f"{parent}.tenant_id", f"{parent}.id"],
        name=f"fk_{table}_{column}_{parent}",
    )


def upgrade() -> None:
    op.create_table(
        RUNS,
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("started_at", UTC, nullable=False),
        sa.Column("finished_at", UTC, nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("checked", sa.Integer(), nullable=False),
        sa.Column("agreed", sa.Integer(), nullable=False),
        sa.Column("disagreed", sa.Integer(), nullable=False),
        sa.Column("unchecked", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        _tenant_fk(RUNS),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=f"pk_{RUNS}"),
    )
    op.create_index(f"ix_{RUNS}_id", RUNS, ["id"])
    op.create_index(f"ix_{RUNS}_tenant_started", RUNS, ["tenant_id", "started_at"])
    protect(RUNS)
    op.create_table(
        FINDINGS,
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("outbox_id", sa.String(length=32), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=True),
        sa.Column("order_ref", sa.String(length=200), nullable=True),
        sa.Column("system", sa.String(length=40), nullable=False),
        sa.Column("operation", sa.String(length=64), nullable=False),
        sa.Column("vendor_ref", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("sentence", sa.Text(), nullable=False),
        sa.Column("detail", orderops.storage.base.JsonType, nullable=False),
        sa.Column("found_at", UTC, nullable=False),
        _tenant_fk(FINDINGS),
        _ref(FINDINGS, "outbox_id", "outbox"),
        _ref(FINDINGS, "case_id", "cases"),
        _ref(FINDINGS, "run_id", RUNS),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=f"pk_{FINDINGS}"),
        sa.UniqueConstraint("tenant_id", "outbox_id", name=f"uq_{FINDINGS}_tenant_id_outbox_id"),
    )
    op.create_index(f"ix_{FINDINGS}_id", FINDINGS, ["id"])
    protect(FINDINGS)


def downgrade() -> None:
    unprotect(FINDINGS)
    op.drop_table(FINDINGS)
    unprotect(RUNS)
    op.drop_table(RUNS)
