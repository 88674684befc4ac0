"""Indexes for the case list (keyset pages, filters) and the impact queries

Revision ID: 0018_list_indexes
Revises: 0017_payment_failed_at
Create Date: 2026-12-04 09:00:00

Issue #19: GET /v1/cases sorted every matching case to show one page, and a new case's
impact score summed a customer's orders with no index on ``orders.customer_id``. Each
filter of the list gets an index ending in the page key ``(opened_at, id)``, so a page
is a range read; a customer's orders get an index, and an order's cases one that ends
in ``opened_at`` (impact's prior exceptions in a 90-day window). ``ix_cases_tenant_type``,
``ix_cases_tenant_assignee`` and ``ix_cases_tenant_order`` are prefixes of their new
indexes and go. Indexes only: no rows change.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0018_list_indexes"
down_revision: str | None = "0017_payment_failed_at"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NEW_CASE_INDEXES: dict[str, list[str]] = {
    "ix_cases_tenant_opened": ["tenant_id", "opened_at", "id"],
    "ix_cases_tenant_type_opened": ["tenant_id", "exception_type", "opened_at", "id"],
    "ix_cases_tenant_queue_opened": ["tenant_id", "queue", "opened_at", "id"],
    "ix_cases_tenant_assignee_opened": ["tenant_id", "assignee", "opened_at", "id"],
    "ix_cases_tenant_priority_opened": ["tenant_id", "priority", "opened_at", "id"],
    "ix_cases_tenant_order_opened": ["tenant_id", "order_id", "opened_at"],
}
_REPLACED_CASE_INDEXES: dict[str, list[str]] = {
    "ix_cases_tenant_type": ["tenant_id", "exception_type"],
    "ix_cases_tenant_assignee": ["tenant_id", "assignee"],
    "ix_cases_tenant_order": ["tenant_id", "order_id"],
}


def upgrade() -> None:
    for name, columns in _NEW_CASE_INDEXES.items():
        op.create_index(name, "cases", columns, unique=False)
    for name in _REPLACED_CASE_INDEXES:
        op.drop_index(name, table_name="cases")
    op.create_index(
        "ix_orders_tenant_customer", "orders", ["tenant_id", "customer_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_orders_tenant_customer", table_name="orders")
    for name, columns in _REPLACED_CASE_INDEXES.items():
        op.create_index(name, "cases", columns, unique=False)
    for name in _NEW_CASE_INDEXES:
        op.drop_index(name, table_name="cases")
