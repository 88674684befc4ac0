"""playbook_pins: each case keeps the playbook version it was recommended with

Revision ID: 0029_playbook_pins
Revises: 0028_vendor_connections
Create Date: 2026-12-04 13:30:00

``cases.playbook_version`` is the pin (NULL: never recommended; the first recommendation
pins the tenant's current version); ``recommendations.playbook_version`` says which version
each recommendation followed. Both are plain nullable columns, added in place on both
databases. Existing rows are filled from the text every recommendation already carried,
``"<name>@<version> (tenant version N)"``: a recommendation gets its N, a case the N of its
newest recommendation, which is the advice its reviewers last saw (pinning the oldest
would move a case backwards at the upgrade). Downgrade drops both columns: the pins are
lost and cases follow the newest playbook again.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029_playbook_pins"
down_revision: str | None = "0028_vendor_connections"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MARK = "(tenant version "


def _version_of(column: str, dialect: str) -> str:
    """SQL reading N out of ``... (tenant version N)``; NULL when the text lacks it."""
    if dialect == "postgresql":
        return f"CAST(substring({column} from '\\(tenant version ([0-9]{{1,9}})\\)$') AS INTEGER)"
    # SQLite: CAST takes the leading digits of "N)"
    return (
        f"CASE WHEN instr({column}, '{_MARK}') > 0 "
        f"THEN CAST(substr({column}, instr({column}, '{_MARK}') + {len(_MARK)}) AS INTEGER) "
        "END"
    )


def upgrade() -> None:
    op.add_column("cases", sa.Column("playbook_version", sa.Integer(), nullable=True))
    op.add_column("recommendations", sa.Column("playbook_version", sa.Integer(), nullable=True))
    bind = op.get_bind()
    dialect = bind.dialect.name
    # Both tables are under FORCE row-level security: the migrating role sees no tenant's
    # rows until it is lifted for the backfill (and put back, as 0025 does).
    forced = [t for t in ("cases", "recommendations") if _forced(bind, t)]
    for table in forced:
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    op.execute(
        "UPDATE recommendations SET playbook_version = "
        f"{_version_of('recommendations.policy', dialect)}"
    )
    op.execute(
        "UPDATE cases SET playbook_version = ("
        " SELECT r.playbook_version FROM recommendations r"
        " WHERE r.tenant_id = cases.tenant_id AND r.case_id = cases.id"
        " ORDER BY r.created_at DESC, r.id DESC LIMIT 1)"
        " WHERE EXISTS (SELECT 1 FROM recommendations r"
        " WHERE r.tenant_id = cases.tenant_id AND r.case_id = cases.id)"
    )
    for table in forced:
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")


def _forced(bind: sa.Connection, table: str) -> bool:
    if bind.dialect.name != "postgresql":
        return False
    return bool(
        bind.scalar(
            sa.text("SELECT relforcerowsecurity FROM pg_class WHERE oid = CAST(:t AS regclass)"),
            {"t": table},
        )
    )


def downgrade() -> None:
    op.drop_column("recommendations", "playbook_version")
    op.drop_column("cases", "playbook_version")
