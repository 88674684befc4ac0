"""Running the worker's inbox drain in a test, as `orderops worker` does between passes,
and reading what processing left behind, to compare two runs of the same events.

Accepting only stores; a test that wants to see what an event did lets the worker work.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import func, select

from builders.database_roles import owner_sessions
from orderops.audit.verify import verify_tenant
from orderops.bootstrap import App
from orderops.cases.cases import CaseEvent
from orderops.storage.tables import (
    AuditRecord,
    Case,
    CaseTimelineEntry,
    InboxEvent,
    Order,
    Payment,
    RecordLink,
    Shipment,
)
from orderops.workflow.worker import drain_inbox


def work(app: App) -> list[CaseEvent]:
    """Process every tenant's pending inbox and return the case changes."""
    return drain_inbox(app)


def desk_state(app: App, tenant: str) -> dict[str, Any]:
    """What processing made of a tenant's inbox, without ids or wall-clock times: two runs
    of the same events must give equal states."""
    with owner_sessions(app)() as s:

        def rows(*columns: Any) -> list[tuple[Any, ...]]:
            table = columns[0].class_
            query = select(*columns).where(table.tenant_id == tenant)
            return sorted(tuple(r) for r in s.execute(query))

        cases = {
            case_id: (order_ref, kind)
            for case_id, order_ref, kind in s.execute(
                select(Case.id, Case.order_ref, Case.exception_type).where(Case.tenant_id == tenant)
            )
        }
        timeline = Counter(
            (*cases[case_id], kind)
            for case_id, kind in s.execute(
                select(CaseTimelineEntry.case_id, CaseTimelineEntry.kind).where(
                    CaseTimelineEntry.tenant_id == tenant
                )
            )
        )
        audit = Counter(
            s.scalars(select(AuditRecord.action).where(AuditRecord.tenant_id == tenant))
        )
        inbox = Counter(s.scalars(select(InboxEvent.status).where(InboxEvent.tenant_id == tenant)))
        links = s.scalar(
            select(func.count()).select_from(RecordLink).where(RecordLink.tenant_id == tenant)
        )
    return {
        "orders": rows(
            Order.order_ref, Order.status, Order.financial_status, Order.fulfillment_status
        ),
        "payments": rows(
            Payment.payment_ref, Payment.order_ref, Payment.status, Payment.amount_minor
        ),
        "shipments": rows(Shipment.tracking_number, Shipment.order_ref, Shipment.status),
        "cases": rows(Case.order_ref, Case.exception_type, Case.status, Case.occurrences),
        "timeline": sorted(timeline.items()),
        "audit": sorted(audit.items()),
        "inbox": sorted(inbox.items()),
        "links": links,
        "audit_chain_ok": verify_tenant(app.sessions, tenant_id=tenant).ok,
    }
