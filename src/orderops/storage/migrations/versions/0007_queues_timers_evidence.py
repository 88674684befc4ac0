"""case work: queue, priority, assignee and snooze on cases; queues, members, routing rules,
case timers, communications and their history, evidence blobs

Revision ID: 0007
Revises: 0004
Create Date: 2026-11-28 09:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import orderops.storage.base

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
UTC = orderops.storage.base.UtcDateTime(timezone=True)
PENDING_TIMER = sa.text("fired_at IS NULL")


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"],
        ["tenants.id"],
        name=op.f(f"fk_{table}_tenant_id_tenants"),
        ondelete="RESTRICT",
    )


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("queue", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("priority", sa.String(length=16), server_default="normal", nullable=False)
        )
        batch_op.add_column(sa.Column("assignee", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("snoozed_until", UTC, nullable=True))
        batch_op.add_column(
            sa.Column("wake_on_event", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.create_index(
            "ix_cases_tenant_queue_status", ["tenant_id", "queue", "status"], unique=False
        )
        batch_op.create_index("ix_cases_tenant_assignee", ["tenant_id", "assignee"], unique=False)

    op.create_table(
        "queues",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("escalation_queue", sa.String(length=64), nullable=True),
        sa.Column("sla_minutes", JSON_TYPE, nullable=False),
        sa.Column("rr_last_member", sa.String(length=200), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        _tenant_fk("queues"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queues")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_queues_tenant_id_name")),
    )
    op.create_table(
        "queue_members",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("queue_id", sa.String(length=32), nullable=False),
        sa.Column("member", sa.String(length=200), nullable=False),
        sa.Column("added_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["queue_id"],
            ["queues.id"],
            name=op.f("fk_queue_members_queue_id_queues"),
            ondelete="CASCADE",
        ),
        _tenant_fk("queue_members"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queue_members")),
        sa.UniqueConstraint(
            "tenant_id",
            "queue_id",
            "member",
            name=op.f("uq_queue_members_tenant_id_queue_id_member"),
        ),
    )
    op.create_table(
        "routing_rules",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("rule", JSON_TYPE, nullable=False),
        sa.Column("published_by", sa.String(length=200), nullable=False),
        sa.Column("published_at", UTC, nullable=False),
        _tenant_fk("routing_rules"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_rules")),
        sa.UniqueConstraint(
            "tenant_id",
            "version",
            "position",
            name=op.f("uq_routing_rules_tenant_id_version_position"),
        ),
    )
    op.create_table(
        "case_timers",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("due_at", UTC, nullable=False),
        sa.Column("fired_at", UTC, nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_timers_case_id_cases"), ondelete="CASCADE"
        ),
        _tenant_fk("case_timers"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_timers")),
    )
    with op.batch_alter_table("case_timers", schema=None) as batch_op:
        batch_op.create_index(
            "uq_case_timers_pending",
            ["tenant_id", "case_id", "kind"],
            unique=True,
            sqlite_where=PENDING_TIMER,
            postgresql_where=PENDING_TIMER,
        )
        batch_op.create_index(
            "ix_case_timers_tenant_due", ["tenant_id", "fired_at", "due_at"], unique=False
        )
    op.create_table(
        "communications",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_communications_case_id_cases"),
            ondelete="CASCADE",
        ),
        _tenant_fk("communications"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_communications")),
    )
    with op.batch_alter_table("communications", schema=None) as batch_op:
        batch_op.create_index(
            "ix_communications_tenant_case", ["tenant_id", "case_id"], unique=False
        )
    op.create_table(
        "communication_events",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("communication_id", sa.String(length=32), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["communication_id"],
            ["communications.id"],
            name=op.f("fk_communication_events_communication_id_communications"),
            ondelete="CASCADE",
        ),
        _tenant_fk("communication_events"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_communication_events")),
    )
    with op.batch_alter_table("communication_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_communication_events_tenant_comm",
            ["tenant_id", "communication_id", "at"],
            unique=False,
        )
    op.create_table(
        "evidence_blobs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        _tenant_fk("evidence_blobs"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_blobs")),
        sa.UniqueConstraint("tenant_id", "sha256", name=op.f("uq_evidence_blobs_tenant_id_sha256")),
    )


def downgrade() -> None:
    op.drop_table("evidence_blobs")
    with op.batch_alter_table("communication_events", schema=None) as batch_op:
        batch_op.drop_index("ix_communication_events_tenant_comm")
    op.drop_table("communication_events")
    with op.batch_alter_table("communications", schema=None) as batch_op:
        batch_op.drop_index("ix_communications_tenant_case")
    op.drop_table("communications")
    with op.batch_alter_table("case_timers", schema=None) as batch_op:
        batch_op.drop_index("ix_case_timers_tenant_due")
        batch_op.drop_index(
            "uq_case_timers_pending", sqlite_where=PENDING_TIMER, postgresql_where=PENDING_TIMER
        )
    op.drop_table("case_timers")
    op.drop_table("routing_rules")
    op.drop_table("queue_members")
    op.drop_table("queues")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_tenant_assignee")
        batch_op.drop_index("ix_cases_tenant_queue_status")
        batch_op.drop_column("wake_on_event")
        batch_op.drop_column("snoozed_until")
        batch_op.drop_column("assignee")
        batch_op.drop_column("priority")
        batch_op.drop_column("queue")
