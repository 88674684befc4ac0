"""impact, jeopardy and incidents: incidents, recurrence keys, their columns on cases, P1-P4

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-01 10:00:00

Written by hand to mirror ``orderops.storage.tables.incidents`` and the impact columns of
``Case``. Cases only gain nullable columns and indexes, which SQLite adds in place:
recreating ``cases`` would cascade-delete its timeline. For the same reason the
priority column's server default moves to ``P3`` only on PostgreSQL (the ORM always
writes the priority); stored priorities move to P1-P4 on both.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import orderops.storage.base

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = orderops.storage.base.UtcDateTime(timezone=True)
JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
OPEN_INCIDENT = sa.text("closed_at IS NULL")
LEGACY = {"urgent": "P1", "high": "P2", "normal": "P3", "low": "P4"}


def _set_priorities(mapping: dict[str, str], default: str) -> None:
    for old, new in mapping.items():
        op.execute(
            sa.text("UPDATE cases SET priority = :new WHERE priority = :old").bindparams(
                new=new, old=old
            )
        )
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("cases", "priority", server_default=default)


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("opened_at", UTC_DATETIME, nullable=False),
        sa.Column("closed_at", UTC_DATETIME, nullable=True),
        sa.Column("case_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_incidents_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    op.create_index(
        "uq_incidents_open_key",
        "incidents",
        ["tenant_id", "key"],
        unique=True,
        sqlite_where=OPEN_INCIDENT,
        postgresql_where=OPEN_INCIDENT,
    )
    op.create_index("ix_incidents_tenant_opened", "incidents", ["tenant_id", "opened_at"])
    op.create_table(
        "recurrence_keys",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=300), nullable=False),
        sa.Column("exception_type", sa.String(length=64), nullable=False),
        sa.Column("opened_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_recurrence_keys_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_recurrence_keys_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recurrence_keys")),
    )
    op.create_index(
        "ix_recurrence_keys_lookup",
        "recurrence_keys",
        ["tenant_id", "dimension", "value", "opened_at"],
    )
    op.create_index("ix_recurrence_keys_tenant_case", "recurrence_keys", ["tenant_id", "case_id"])

    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("impact_score", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("impact", JSON_TYPE, nullable=True))
        batch_op.add_column(sa.Column("jeopardy", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("incident_key", sa.String(length=300), nullable=True))
        batch_op.create_index("ix_cases_tenant_impact", ["tenant_id", "impact_score"])
        batch_op.create_index("ix_cases_tenant_incident_key", ["tenant_id", "incident_key"])
        batch_op.create_index("ix_cases_tenant_order_ref", ["tenant_id", "order_ref"])
    _add_incident_reference()
    op.create_index("ix_cases_tenant_incident", "cases", ["tenant_id", "incident_id"])
    _set_priorities(LEGACY, "P3")


def _add_incident_reference() -> None:
    """SQLite adds a referencing column in place only by plain ALTER TABLE; batch mode
    would recreate ``cases`` (and cascade-delete its timeline) to add the constraint."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE cases ADD COLUMN incident_id VARCHAR(32) "
            "CONSTRAINT fk_cases_incident_id_incidents REFERENCES incidents (id)"
        )
        return
    op.add_column("cases", sa.Column("incident_id", sa.String(length=32), nullable=True))
    op.create_foreign_key(
        op.f("fk_cases_incident_id_incidents"), "cases", "incidents", ["incident_id"], ["id"]
    )


def downgrade() -> None:
    _set_priorities({new: old for old, new in LEGACY.items()}, "normal")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_tenant_incident")
        batch_op.drop_index("ix_cases_tenant_order_ref")
        batch_op.drop_index("ix_cases_tenant_incident_key")
        batch_op.drop_index("ix_cases_tenant_impact")
        batch_op.drop_column("incident_id")
        batch_op.drop_column("incident_key")
        batch_op.drop_column("jeopardy")
        batch_op.drop_column("impact")
        batch_op.drop_column("impact_score")
    op.drop_index("ix_recurrence_keys_tenant_case", table_name="recurrence_keys")
    op.drop_index("ix_recurrence_keys_lookup", table_name="recurrence_keys")
    op.drop_table("recurrence_keys")
    op.drop_index("ix_incidents_tenant_opened", table_name="incidents")
    op.drop_index("uq_incidents_open_key", table_name="incidents")
    op.drop_table("incidents")
