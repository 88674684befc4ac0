"""The read tools: cases, orders, customers, timelines and a case explained.

Each reads in the principal's scoped unit of work (``storage/uow.py``), through the same
services the REST API and the console call: the case list and the case view of
``api/cases.py``, the global search of ``console/search_view.py`` for free text, the
stored recommendations of ``recommend/service.py``. So a case, order or customer of
another tenant, or outside the key's scope, is ``not found`` exactly as a missing one.
Nothing here writes: ``explain_case`` reads the newest stored recommendation (the worker
recommends open cases on its passes) and never makes one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from orderops.api.cases import _get as case_detail
from orderops.api.cases import _list as case_page
from orderops.api.cases import _View as CaseView
from orderops.api.schemas import TimelineEntryRead
from orderops.bootstrap import App
from orderops.console.search_view import search
from orderops.domain.cases import CLOSED_STATUSES
from orderops.domain.errors import NotFound
from orderops.recommend import service as recommendations
from orderops.storage.repositories.cases import CaseFilter, CaseSort
from orderops.storage.tables import Case, Order
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.tenants import Principal

CUSTOMER_ORDERS_DAYS = 365
"""How far back get_customer lists a customer's orders."""
TOP_CANDIDATES = 3
CASE_FIELDS = (
    "id",
    "order_ref",
    "exception_type",
    "status",
    "summary",
    "priority",
    "queue",
    "impact_score",
)


def search_cases(
    app: App,
    principal: Principal,
    *,
    status: Sequence[str],
    exception_type: Sequence[str],
    queue: Sequence[str],
    text: str | None,
    open_only: bool,
    limit: int,
) -> dict[str, Any]:
    """The case list's filters (``GET /v1/cases``); ``text`` narrows it to the cases the
    console's search box finds for it (an order number, email, tracking number, name)."""
    where = CaseFilter(
        status=list(status),
        exception_type=list(exception_type),
        queue=list(queue),
        open_only=open_only,
    )
    if not text:
        view = CaseView(
            sort=CaseSort.OPENED,
            collapse_incidents=False,
            limit=limit,
            offset=0,
            start_after=None,
            count=False,
        )
        listing, _ = case_page(app, principal, where, view)
        return {"cases": [item.model_dump(mode="json") for item in listing.items]}
    with _reading(app, principal) as uow:
        hits = search(uow, text).cases
        found = [uow.cases.get(hit.id) for hit in hits]
        cases = [c for c in found if c is not None and _matches(c, where)][:limit]
        return {"cases": [_case_row(c) for c in cases]}


def get_case(app: App, principal: Principal, case_id: str) -> dict[str, Any]:
    """``GET /v1/cases/{id}``: the case with its facts, timeline and holds."""
    return case_detail(app, principal, case_id).model_dump(mode="json")


def get_timeline(app: App, principal: Principal, case_id: str) -> dict[str, Any]:
    with _reading(app, principal) as uow:
        case = _case(uow, case_id)
        entries = [TimelineEntryRead.model_validate(t) for t in uow.cases.timeline(case.id)]
        return {"case_id": case.id, "timeline": [e.model_dump(mode="json") for e in entries]}


def get_order(app: App, principal: Principal, order_ref: str) -> dict[str, Any]:
    """The order as projected: lines, payments, shipments, and its cases."""
    with _reading(app, principal) as uow:
        order = uow.commerce.order_by_ref(order_ref)
        if order is None:
            raise NotFound(f"no order {order_ref}")
        return {
            **_order_row(order),
            "lines": [
                {
                    "sku": ln.sku,
                    "title": ln.title,
                    "quantity": ln.quantity,
                    "unit_price_minor": ln.unit_price_minor,
                    "location": ln.location,
                }
                for ln in order.lines
            ],
            "payments": [
                {
                    "provider": p.provider,
                    "payment_ref": p.payment_ref,
                    "status": p.status,
                    "amount_minor": p.amount_minor,
                    "amount_refunded_minor": p.amount_refunded_minor,
                    "currency": p.currency,
                }
                for p in uow.commerce.payments_for(order.order_ref)
            ],
            "shipments": [
                {
                    "carrier": s.carrier,
                    "tracking_number": s.tracking_number,
                    "status": s.status,
                    "estimated_delivery": _iso(s.estimated_delivery),
                    "delivered_at": _iso(s.delivered_at),
                }
                for s in uow.commerce.shipments_for(order.order_ref)
            ],
            "cases": [_case_row(c) for c in uow.cases.by_type_for_order(order.id).values()],
        }


def get_customer(app: App, principal: Principal, customer_id: str) -> dict[str, Any]:
    """The customer and their orders of the last year (within the caller's scope)."""
    with _reading(app, principal) as uow:
        customer = uow.commerce.customer(customer_id)
        if customer is None:
            raise NotFound(f"no customer {customer_id}")
        now = app.clock.now()
        orders = uow.commerce.orders_of_customers(
            [customer.id], placed_from=now - timedelta(days=CUSTOMER_ORDERS_DAYS), placed_to=now
        )
        return {
            "id": customer.id,
            "name": customer.name,
            "email": customer.email,
            "phone": customer.phone,
            "tier": customer.tier,
            "locale": customer.locale,
            "orders": [_order_row(o) for o in orders],
        }


def explain_case(app: App, principal: Principal, case_id: str) -> dict[str, Any]:
    """What the desk knows and advises: the facts, the impact, the newest recommendation
    (its candidates, best first, with their actions, rationale and who must approve)."""
    detail = get_case(app, principal, case_id)
    with _reading(app, principal) as uow:
        stored = recommendations.recommendations_for(uow, case_id, limit=1)
        best = stored[0] if stored else None
        body = {} if best is None else recommendations.get_recommendation(uow, best["id"]).body
    candidates = [_candidate(c) for c in body.get("candidates", [])[:TOP_CANDIDATES]]
    return {
        "case": {k: detail[k] for k in CASE_FIELDS},
        "facts": detail["facts"],
        "impact": detail["impact"],
        "recommendation": None
        if best is None
        else {
            "id": best["id"],
            "created_at": best["created_at"],
            "playbook_version": best["playbook_version"],
            "confidence": best["confidence"],
            "candidates": candidates,
        },
        "why": candidates[0]["rationale"] if candidates else None,
        "note": None
        if best is not None
        else ("no recommendation yet: the worker recommends open cases on its next pass"),
    }


def _candidate(candidate: dict[str, Any]) -> dict[str, Any]:
    return {
        "rule": candidate["rule"],
        "rationale": candidate["rationale"],
        "confidence": candidate.get("confidence"),
        "needs_approval": candidate.get("needs_approval", []),
        "facts_used": candidate.get("facts_used", {}),
        "actions": [
            {"kind": a["kind"], "params": a["params"], "exposure_minor": a["exposure_minor"]}
            for a in candidate.get("actions", [])
        ],
    }


def _reading(app: App, principal: Principal) -> UnitOfWork:
    return UnitOfWork(
        app.sessions, tenant_id=principal.tenant_id, write=False, scope=principal.scope
    )


def _case(uow: UnitOfWork, case_id: str) -> Case:
    case = uow.cases.get(case_id)
    if case is None:
        raise NotFound(f"no case {case_id}")
    return case


def _matches(case: Case, where: CaseFilter) -> bool:
    return (
        (not where.status or case.status in where.status)
        and (not where.exception_type or case.exception_type in where.exception_type)
        and (not where.queue or case.queue in where.queue)
        and (not where.open_only or case.status not in CLOSED_STATUSES)
    )


def _case_row(case: Case) -> dict[str, Any]:
    return {
        "id": case.id,
        "order_ref": case.order_ref,
        "exception_type": case.exception_type,
        "status": case.status,
        "summary": case.summary,
        "priority": case.priority,
        "queue": case.queue,
        "opened_at": _iso(case.opened_at),
    }


def _order_row(order: Order) -> dict[str, Any]:
    return {
        "order_ref": order.order_ref,
        "number": order.number,
        "status": order.status,
        "financial_status": order.financial_status,
        "fulfillment_status": order.fulfillment_status,
        "currency": order.currency,
        "total_minor": order.total_minor,
        "placed_at": _iso(order.placed_at),
        "promised_by": _iso(order.promised_by),
        "customer_id": order.customer_id,
    }


def _iso(value: Any) -> str | None:
    return None if value is None else str(value.isoformat())
