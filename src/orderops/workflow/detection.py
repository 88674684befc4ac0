"""Run the detectors on one order and turn their verdicts into case changes."""

from __future__ import annotations

from datetime import datetime

from orderops.detect.rules import DETECTORS, Detector
from orderops.domain.facts import OrderSnapshot, ShipmentFact
from orderops.domain.statuses import FinancialStatus, OrderStatus
from orderops.storage.tables import Order
from orderops.storage.uow import UnitOfWork
from orderops.workflow.cases import CaseChange, CaseEvent, clear_exception, raise_exception
from orderops.workflow.projector import payment_fact
from orderops.workflow.routing import route_case
from orderops.workflow.sla import cancel_timers


def snapshot(uow: UnitOfWork, order: Order) -> OrderSnapshot:
    shipments = []
    for shipment in uow.commerce.shipments_for(order.order_ref):
        shipments.append(
            ShipmentFact(
                carrier=shipment.carrier,
                tracking_number=shipment.tracking_number,
                status=shipment.status,
                status_at=shipment.status_at,
                delivered_at=shipment.delivered_at,
                last_location=shipment.last_location,
            )
        )
    return OrderSnapshot(
        order_ref=order.order_ref,
        number=order.number,
        cancelled=order.status == OrderStatus.CANCELLED,
        currency=order.currency,
        total_minor=order.total_minor,
        placed_at=order.placed_at,
        promised_by=order.promised_by,
        financial_status=FinancialStatus(order.financial_status),
        delivered_at=order.delivered_at,
        payments=tuple(payment_fact(p) for p in uow.commerce.payments_for(order.order_ref)),
        shipments=tuple(shipments),
    )


_NEEDS_ROUTING = (CaseChange.OPENED, CaseChange.REOPENED)
"""A case that opens already cleared (a parcel delivered late) needs no queue or SLA."""


def evaluate_order(
    uow: UnitOfWork,
    order: Order,
    *,
    now: datetime,
    from_sweep: bool,
    inbox_id: str | None = None,
    detectors: tuple[Detector, ...] = DETECTORS,
) -> list[CaseEvent]:
    """Judge the order with every detector; open, merge or resolve cases accordingly.

    Time-based detectors open cases only from a sweep: during a backfill an event-time
    view would see promises pass before the scans that kept them have been replayed.
    """
    facts = snapshot(uow, order)
    cases = uow.cases.by_type_for_order(order.id)
    changes: list[CaseEvent] = []
    for detector in detectors:
        verdict = detector.judge(facts, now=now)
        if verdict.detected and (from_sweep or detector.opens_on_events):
            change = raise_exception(
                uow,
                order=order,
                existing=cases.get(verdict.exception_type),
                verdict=verdict,
                now=now,
                inbox_id=inbox_id,
            )
            if change:
                changes.append(change)
                cases = uow.cases.by_type_for_order(order.id)
                if change.change in _NEEDS_ROUTING and not verdict.cleared:
                    route_case(uow, cases[verdict.exception_type], now=now)
        if verdict.cleared:
            case = cases.get(verdict.exception_type)
            change = clear_exception(uow, case=case, verdict=verdict, now=now, inbox_id=inbox_id)
            if change and case is not None:
                changes.append(change)
                cancel_timers(uow, case, now=now)
    return changes
