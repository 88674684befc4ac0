"""usage_metering: usage counters per tenant, meter, day, environment and dimension; quotas

Revision ID: 0025_usage_metering
Revises: 0024_rate_limits
Create Date: 2026-12-04 10:00:00

Mirrors ``orderops.storage.tables.usage``. Both tables are tenant-owned and get row-level
security (``row_security.protect``).

The language-model tokens metered before this revision (``llm_usage``, one row per call)
are folded into the counters, per tenant, UTC day and model, so a month's invoice covers
the calls made before the upgrade too; ``llm_usage`` stays as the per-call record. On
PostgreSQL that read crosses tenants, so it lifts FORCE on ``llm_usage`` for this
transaction (a non-superuser owner is otherwise subject to its policy) and puts it back.
Cost was not metered before, so none is folded in.

Downgrade drops both tables (their counts with them).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import orderops.storage.base
from orderops.storage.migrations.row_security import protect, unprotect

revision: str = "0025_usage_metering"
down_revision: str | None = "0024_rate_limits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("usage_counters", "usage_quotas")

_FOLD = """
INSERT INTO usage_counters (tenant_id, meter, day, environment, dimension, quantity)
SELECT tenant_id, 'model_tokens', {day}, 'live', substr(model || :suffix, 1, 100),
       SUM({part}_tokens)
FROM llm_usage
GROUP BY tenant_id, {day}, substr(model || :suffix, 1, 100)
HAVING SUM({part}_tokens) > 0
"""
_DAY = {
    "sqlite": "substr(at, 1, 10)",
    "postgresql": "to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
}


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"],
        ["tenants.id"],
        name=op.f(f"fk_{table}_tenant_id_tenants"),
        ondelete="RESTRICT",
    )


def upgrade() -> None:
    op.create_table(
        "usage_counters",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("meter", sa.String(length=32), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("environment", sa.String(length=16), server_default="live", nullable=False),
        sa.Column("dimension", sa.String(length=100), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        _tenant_fk("usage_counters"),
        sa.PrimaryKeyConstraint(
            "tenant_id", "meter", "day", "environment", "dimension", name=op.f("pk_usage_counters")
        ),
    )
    op.create_table(
        "usage_quotas",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("meter", sa.String(length=32), nullable=False),
        sa.Column("soft_limit", sa.BigInteger(), nullable=True),
        sa.Column("hard_limit", sa.BigInteger(), nullable=True),
        sa.Column("warned_month", sa.String(length=7), nullable=True),
        sa.Column("updated_at", orderops.storage.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        _tenant_fk("usage_quotas"),
        sa.PrimaryKeyConstraint("tenant_id", "meter", name=op.f("pk_usage_quotas")),
    )
    _fold_model_tokens()
    for table in TABLES:
        protect(table)


def downgrade() -> None:
    for table in TABLES:
        unprotect(table)
    op.drop_table("usage_quotas")
    op.drop_table("usage_counters")


def _fold_model_tokens() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    forced = dialect == "postgresql" and bool(
        bind.scalar(
            sa.text("SELECT relforcerowsecurity FROM pg_class WHERE oid = 'llm_usage'::regclass")
        )
    )
    if forced:
        op.execute("ALTER TABLE llm_usage NO FORCE ROW LEVEL SECURITY")
    for part in ("prompt", "completion"):
        fold = sa.text(_FOLD.format(day=_DAY[dialect], part=part))
        bind.execute(fold, {"suffix": f":{part}"})
    if forced:
        op.execute("ALTER TABLE llm_usage FORCE ROW LEVEL SECURITY")
