"""Cases, their timelines, proposed actions and approvals.

The partial unique index ``uq_cases_open_per_order_type`` is the database's guarantee of
"one open case per order and cause"; the service turns its violation into CaseAlreadyOpen.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, Integer, String, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column

from orderops.storage.base import Base, tenant_column
from orderops.storage.tables.keys import row_id, tenant_fk, tenant_primary_key

OPEN_CASE_PREDICATE = text("status NOT IN ('resolved', 'rejected')")


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        tenant_primary_key(),
        tenant_fk(__tablename__, "order_id", "orders"),
        tenant_fk(__tablename__, "incident_id", "incidents"),
        Index(
            "uq_cases_open_per_order_type",
            "tenant_id",
            "order_id",
            "exception_type",
            unique=True,
            sqlite_where=OPEN_CASE_PREDICATE,
            postgresql_where=OPEN_CASE_PREDICATE,
        ),
        Index("ix_cases_tenant_status_opened", "tenant_id", "status", "opened_at"),
        # The case list reads pages newest first, (opened_at, id) after the equality
        # filters, so each filter the list offers has an index ending in that key and the
        # first page is a range read, not a sort of every matching case (issue #19).
        Index("ix_cases_tenant_opened", "tenant_id", "opened_at", "id"),
        Index("ix_cases_tenant_type_opened", "tenant_id", "exception_type", "opened_at", "id"),
        Index("ix_cases_tenant_queue_opened", "tenant_id", "queue", "opened_at", "id"),
        Index("ix_cases_tenant_assignee_opened", "tenant_id", "assignee", "opened_at", "id"),
        Index("ix_cases_tenant_priority_opened", "tenant_id", "priority", "opened_at", "id"),
        # An order's cases; with opened_at, impact's "this customer's cases in the last
        # 90 days" reads the customer's orders' cases instead of every recent case.
        Index("ix_cases_tenant_order_opened", "tenant_id", "order_id", "opened_at"),
        Index("ix_cases_tenant_queue_status", "tenant_id", "queue", "status"),
        Index("ix_cases_tenant_impact", "tenant_id", "impact_score"),
        Index("ix_cases_tenant_incident_key", "tenant_id", "incident_key"),
        Index("ix_cases_tenant_incident", "tenant_id", "incident_id"),
        Index("ix_cases_tenant_order_ref", "tenant_id", "order_ref"),
        # What changed since a time: the similar-case index's delta (migration 0043).
        Index("ix_cases_tenant_updated", "tenant_id", "updated_at"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    order_id: Mapped[str] = mapped_column(String(32))
    order_ref: Mapped[str] = mapped_column(String(200))
    exception_type: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32))
    summary: Mapped[str] = mapped_column(Text)
    detected_at: Mapped[datetime]
    opened_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    close_reason: Mapped[str | None] = mapped_column(Text)
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    facts: Mapped[dict[str, Any]]
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Where the case waits and who holds it (cases/routing.py, assignment.py, sla.py).
    queue: Mapped[str | None] = mapped_column(String(64))
    priority: Mapped[str] = mapped_column(String(16), default="P3", server_default="P3")
    assignee: Mapped[str | None] = mapped_column(String(200))
    snoozed_until: Mapped[datetime | None]
    wake_on_event: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Impact, SLA jeopardy and storm grouping (cases/impact.py, jeopardy.py, incidents.py).
    impact_score: Mapped[int | None] = mapped_column(Integer)
    impact: Mapped[dict[str, Any] | None]
    """The score's explanation: one contribution per factor, summing to ``impact_score``."""
    jeopardy: Mapped[str | None] = mapped_column(String(16))
    incident_key: Mapped[str | None] = mapped_column(Text)
    incident_id: Mapped[str | None] = mapped_column(String(32))
    # The order's place for scopes below the tenant, copied when the case opens and kept
    # in step with the order (resolve/order_scope.py); the unit of work's guard reads them.
    brand: Mapped[str | None] = mapped_column(String(64))
    store: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str | None] = mapped_column(String(64))
    region: Mapped[str | None] = mapped_column(String(64))
    # The playbook version its recommendations follow (recommend/playbook_pins.py); None
    # until the first one. Written without bumping ``version``: it is not a case edit.
    playbook_version: Mapped[int | None] = mapped_column(Integer)

    __mapper_args__ = {"primary_key": [id], "version_id_col": version}  # noqa: RUF012


class CaseTimelineEntry(Base):
    __tablename__ = "case_timeline"
    __table_args__ = (
        tenant_primary_key(),
        tenant_fk(__tablename__, "case_id", "cases", ondelete="CASCADE"),
        Index("ix_case_timeline_case_at", "tenant_id", "case_id", "at"),
    )

    id: Mapped[str] = row_id(sortable=True)
    tenant_id: Mapped[str] = tenant_column()
    case_id: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(64))
    summary: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(200))
    data: Mapped[dict[str, Any]]
    inbox_id: Mapped[str | None] = mapped_column(String(32))  # hot or archived: get_any

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012


class Action(Base):
    """A resolution step proposed for a case (refund, reship, ...), typed by ``kind``."""

    __tablename__ = "actions"
    __table_args__ = (
        tenant_primary_key(),
        tenant_fk(__tablename__, "case_id", "cases", ondelete="CASCADE"),
        Index("ix_actions_tenant_case", "tenant_id", "case_id"),
        Index("ix_actions_tenant_status_expires", "tenant_id", "status", "expires_at"),
    )

    # Sortable ids keep a case's actions in proposal order when their times are equal.
    id: Mapped[str] = row_id(sortable=True)
    tenant_id: Mapped[str] = tenant_column()
    case_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(32))
    proposed_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    # The decision (decide/actions.py, approvals.py): the policy version it was judged
    # under, what the policy required and saw (evaluation), the rule that auto-approved it.
    policy_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    evaluation: Mapped[dict[str, Any] | None]
    auto_rule: Mapped[str | None] = mapped_column(String(100))
    expires_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012


class Approval(Base):
    """One person's decision on one action; the unique index makes it one per person."""

    __tablename__ = "approvals"
    __table_args__ = (
        tenant_primary_key(),
        tenant_fk(__tablename__, "action_id", "actions", ondelete="CASCADE"),
        Index("ix_approvals_tenant_action", "tenant_id", "action_id"),
        Index(
            "uq_approvals_tenant_action_approver",
            "tenant_id",
            "action_id",
            "approver",
            unique=True,
        ),
    )

    # Sortable ids keep decisions in the order they were taken when their times are equal.
    id: Mapped[str] = row_id(sortable=True)
    tenant_id: Mapped[str] = tenant_column()
    action_id: Mapped[str] = mapped_column(String(32))
    approver: Mapped[str] = mapped_column(String(200))
    decision: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime]
    role: Mapped[str | None] = mapped_column(String(32))
    policy_version: Mapped[int | None] = mapped_column(Integer)
    bulk_id: Mapped[str | None] = mapped_column(String(32))

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012
