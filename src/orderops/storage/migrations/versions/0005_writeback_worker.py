"""writeback worker: outbox leases and results, attempts, sagas

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import orderops.storage.base

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _utc() -> orderops.storage.base.UtcDateTime:
    return orderops.storage.base.UtcDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("case_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("order_ref", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column(
                "attempts_at_retry", sa.Integer(), server_default=sa.text("0"), nullable=False
            )
        )
        batch_op.add_column(sa.Column("leased_by", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("leased_until", _utc(), nullable=True))
        batch_op.add_column(sa.Column("dead_letter_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("conflict", _json(), nullable=True))
        batch_op.add_column(sa.Column("result", _json(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_outbox_case_id_cases"), "cases", ["case_id"], ["id"]
        )
        batch_op.create_index("ix_outbox_tenant_case", ["tenant_id", "case_id"], unique=False)
        batch_op.create_index(
            "ix_outbox_tenant_order_ref", ["tenant_id", "order_ref"], unique=False
        )
        batch_op.create_index(
            "ix_outbox_tenant_system_status", ["tenant_id", "system", "status"], unique=False
        )

    op.create_table(
        "writeback_attempts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=32), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("worker_id", sa.String(length=100), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("request_summary", _json(), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_excerpt", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", _utc(), nullable=False),
        sa.Column("finished_at", _utc(), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["outbox.id"],
            name=op.f("fk_writeback_attempts_message_id_outbox"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_writeback_attempts_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_writeback_attempts")),
        sa.UniqueConstraint(
            "message_id", "number", name=op.f("uq_writeback_attempts_message_id_number")
        ),
    )
    with op.batch_alter_table("writeback_attempts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_writeback_attempts_tenant_started", ["tenant_id", "started_at"], unique=False
        )

    op.create_table(
        "writeback_sagas",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=True),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("saga_key", sa.String(length=160), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("failed_step", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_writeback_sagas_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_writeback_sagas_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_writeback_sagas")),
        sa.UniqueConstraint(
            "tenant_id", "saga_key", name=op.f("uq_writeback_sagas_tenant_id_saga_key")
        ),
    )
    with op.batch_alter_table("writeback_sagas", schema=None) as batch_op:
        batch_op.create_index(
            "ix_writeback_sagas_tenant_case", ["tenant_id", "case_id"], unique=False
        )

    op.create_table(
        "writeback_saga_steps",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("saga_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("system", sa.String(length=40), nullable=False),
        sa.Column("operation", sa.String(length=64), nullable=False),
        sa.Column("payload", _json(), nullable=False),
        sa.Column("undo", _json(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("message_id", sa.String(length=32), nullable=True),
        sa.Column("undo_message_id", sa.String(length=32), nullable=True),
        sa.Column("result", _json(), nullable=True),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"], ["outbox.id"], name=op.f("fk_writeback_saga_steps_message_id_outbox")
        ),
        sa.ForeignKeyConstraint(
            ["saga_id"],
            ["writeback_sagas.id"],
            name=op.f("fk_writeback_saga_steps_saga_id_writeback_sagas"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_writeback_saga_steps_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["undo_message_id"],
            ["outbox.id"],
            name=op.f("fk_writeback_saga_steps_undo_message_id_outbox"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_writeback_saga_steps")),
        sa.UniqueConstraint(
            "saga_id", "position", name=op.f("uq_writeback_saga_steps_saga_id_position")
        ),
    )
    with op.batch_alter_table("writeback_saga_steps", schema=None) as batch_op:
        batch_op.create_index("ix_writeback_saga_steps_message", ["message_id"], unique=False)
        batch_op.create_index(
            "ix_writeback_saga_steps_undo_message", ["undo_message_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("writeback_saga_steps", schema=None) as batch_op:
        batch_op.drop_index("ix_writeback_saga_steps_undo_message")
        batch_op.drop_index("ix_writeback_saga_steps_message")
    op.drop_table("writeback_saga_steps")
    with op.batch_alter_table("writeback_sagas", schema=None) as batch_op:
        batch_op.drop_index("ix_writeback_sagas_tenant_case")
    op.drop_table("writeback_sagas")
    with op.batch_alter_table("writeback_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_writeback_attempts_tenant_started")
    op.drop_table("writeback_attempts")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_tenant_system_status")
        batch_op.drop_index("ix_outbox_tenant_order_ref")
        batch_op.drop_index("ix_outbox_tenant_case")
        batch_op.drop_constraint(batch_op.f("fk_outbox_case_id_cases"), type_="foreignkey")
        batch_op.drop_column("result")
        batch_op.drop_column("conflict")
        batch_op.drop_column("dead_letter_reason")
        batch_op.drop_column("leased_until")
        batch_op.drop_column("leased_by")
        batch_op.drop_column("attempts_at_retry")
        batch_op.drop_column("order_ref")
        batch_op.drop_column("case_id")
