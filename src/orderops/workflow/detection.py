"""Run the detectors on one order and turn their verdicts into case changes.

Time-based verdicts open cases only from a sweep: during a backfill an event-time
view would see promises pass before the scans that kept them have been replayed.
Instead each evaluation leaves the order's ``next_check_at`` (the earliest deadline
any detector is waiting for, or "now" when a deadline already passed), which is the
sweep's durable work list: a restart loses nothing and a sweep re-reads nothing idle.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from orderops.cases.cases import CaseChange, CaseEvent, clear_exception, raise_exception
from orderops.cases.impact import score_case
from orderops.cases.incidents import attach_to_incident, release_from_incident
from orderops.cases.recurrence import context_for, recurrence_for
from orderops.cases.routing import route_case
from orderops.cases.sla import cancel_timers
from orderops.decide.holds import on_case_cleared
from orderops.detect.registry import DETECTORS
from orderops.detect.silence import SOURCE_PREFIX
from orderops.detect.thresholds import DEFAULT_CONFIG, DetectorConfig, config_from_policy
from orderops.detect.verdict import Detector, Verdict
from orderops.domain.facts import (
    FraudFact,
    HoldFact,
    LineFact,
    OrderSnapshot,
    RefundFact,
    ShipmentFact,
    TicketFact,
    derive_financial_status,
)
from orderops.domain.policy import FulfillmentPolicy, promise_for
from orderops.domain.statuses import FinancialStatus, OrderStatus
from orderops.resolve.policy_in_force import policy_in_force
from orderops.resolve.reads import holds_for
from orderops.resolve.rollups import payment_fact, refund_fact
from orderops.storage.tables import Case, Order
from orderops.storage.uow import UnitOfWork
from orderops.telemetry.metrics import METRICS

log = logging.getLogger(__name__)

_CONFIGS: dict[str, DetectorConfig] = {}


def tenant_policy(uow: UnitOfWork) -> FulfillmentPolicy | None:
    """The tenant's fulfillment policy in force, or None when it has none yet."""
    current = policy_in_force(uow)
    return current.policy if current is not None else None


def detector_config(uow: UnitOfWork) -> DetectorConfig:
    """The tenant's detector settings from its current policy (defaults without one)."""
    current = policy_in_force(uow)
    if current is None:
        return DEFAULT_CONFIG
    version, key, policy = current
    if key not in _CONFIGS:
        _CONFIGS[key] = config_from_policy(policy, version=version, strict=False)
    return _CONFIGS[key]


def snapshot(uow: UnitOfWork, order: Order) -> OrderSnapshot:
    """What the detectors judge: the order with its payments, parcels, stock, tickets,
    signals, the store's refunds and holds, and its handling deadline.

    ``handling_due`` comes from the tenant's policy (its window for the order's shipping
    line) when the order is judged, not when it arrived, so a policy loaded later also
    applies to orders already waiting.
    """
    policy = tenant_policy(uow)
    repo = uow.commerce
    shipments = [
        ShipmentFact(
            carrier=shipment.carrier,
            tracking_number=shipment.tracking_number,
            status=shipment.status,
            status_at=shipment.status_at,
            delivered_at=shipment.delivered_at,
            last_location=shipment.last_location,
            label_at=shipment.created_at if shipment.shipment_ref else None,
            first_scan_at=shipment.first_scan_at,
            last_message=shipment.last_message,
            origin_location=shipment.origin_location,
            service=shipment.service,
            estimated_delivery=shipment.estimated_delivery,
        )
        for shipment in repo.shipments_for(order.order_ref)
    ]
    lines = []
    for line in order.lines:
        available = repo.available(line.sku, line.location or order.location)
        lines.append(
            LineFact(
                sku=line.sku,
                quantity=line.quantity,
                location=line.location,
                available=available,
                short_since=line.short_since,
                short_cleared_at=line.short_cleared_at,
            )
        )
    promise = (
        promise_for(policy, order.service_level, order.placed_at) if policy is not None else None
    )
    payments = tuple(payment_fact(p) for p in repo.payments_for(order.order_ref))
    refunds = _refunds(uow, order.order_ref)
    financial = FinancialStatus(order.financial_status)
    if refunds:  # the store's refunds are money returned, whatever the payments say
        financial = derive_financial_status(payments, refunds)
    return OrderSnapshot(
        order_ref=order.order_ref,
        number=order.number,
        cancelled=order.status == OrderStatus.CANCELLED,
        currency=order.currency,
        total_minor=order.total_minor,
        placed_at=order.placed_at,
        promised_by=order.promised_by,
        financial_status=financial,
        delivered_at=order.delivered_at,
        payments=payments,
        shipments=tuple(shipments),
        cancelled_at=order.cancelled_at,
        location=order.location,
        ship_to=order.ship_to,
        lines=tuple(lines),
        fraud_signals=tuple(
            FraudFact(kind=s.kind, occurred_at=s.occurred_at, score=s.score, detail=s.detail)
            for s in repo.fraud_signals_for(order.order_ref)
        ),
        tickets=tuple(
            TicketFact(
                ticket_ref=t.ticket_ref,
                opened_at=t.opened_at,
                status=t.status,
                ticket_class=t.ticket_class,
                ticket_class_confidence=t.ticket_class_confidence,
            )
            for t in repo.tickets_for(order.order_ref)
        ),
        refunds=refunds,
        holds=_holds(uow, order.order_ref),
        handling_due=promise.handling_due if promise is not None else None,
    )


def _refunds(uow: UnitOfWork, order_ref: str) -> tuple[RefundFact, ...]:
    return tuple(refund_fact(r) for r in uow.commerce.refunds_for(order_ref))


def _holds(uow: UnitOfWork, order_ref: str) -> tuple[HoldFact, ...]:
    return tuple(
        HoldFact(
            fulfillment_order_ref=h.fulfillment_order_ref,
            status=h.status,
            reasons=_hold_reasons(h.reasons),
            held_at=h.held_at,
            released_at=h.released_at,
        )
        for h in holds_for(uow, order_ref)
    )


def _hold_reasons(stored: object) -> tuple[str, ...]:
    """The reasons of a hold row, stored as ``{"reasons": [...], "note": ...}``."""
    reasons = stored.get("reasons") if isinstance(stored, dict) else stored
    return tuple(str(r) for r in reasons) if isinstance(reasons, list) else ()


_NEEDS_ROUTING = (CaseChange.OPENED, CaseChange.REOPENED)
"""A case that opens already cleared (a parcel delivered late) needs no queue or SLA."""


def evaluate_order(
    uow: UnitOfWork,
    order: Order,
    *,
    now: datetime,
    from_sweep: bool,
    inbox_id: str | None = None,
    detectors: Sequence[Detector] = DETECTORS,
    config: DetectorConfig | None = None,
) -> list[CaseEvent]:
    """Judge the order with every enabled detector; open, merge or resolve cases accordingly."""
    if order.order_ref.startswith(SOURCE_PREFIX):
        return []  # a source's synthetic order: only the silence sweep judges it
    config = config or detector_config(uow)
    facts = snapshot(uow, order)
    cases = uow.cases.by_type_for_order(order.id)
    changes: list[CaseEvent] = []
    checks: list[datetime] = []
    for detector in detectors:
        if not config.enabled(detector.exception_type):
            continue
        with METRICS.detector_run.labels(detector=str(detector.exception_type)).time():
            verdict = detector.judge(
                facts, now=now, thresholds=config.thresholds(detector.exception_type)
            )
        may_open = from_sweep or (detector.opens_on_events and not verdict.time_based)
        waiting = not may_open and not _covered(cases.get(verdict.exception_type), verdict)
        if verdict.detected and waiting:
            checks.append(min(verdict.detected_at or now, now))
        if verdict.recheck_at is not None:
            checks.append(verdict.recheck_at)
        new = apply_verdict(
            uow, order, verdict, cases=cases, now=now, inbox_id=inbox_id, may_open=may_open
        )
        if new:
            changes += new
            cases = uow.cases.by_type_for_order(order.id)
    order.next_check_at = min(checks, default=None)
    return changes


def apply_verdict(
    uow: UnitOfWork,
    order: Order,
    verdict: Verdict,
    *,
    cases: dict[str, Case],
    now: datetime,
    inbox_id: str | None,
    may_open: bool,
) -> list[CaseEvent]:
    """Open or merge (when allowed), then resolve if the blocker is gone."""
    changes: list[CaseEvent] = []
    if verdict.detected and may_open:
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
                _take_in(uow, cases[verdict.exception_type], now=now)
    if verdict.cleared:
        case = cases.get(verdict.exception_type)
        change = clear_exception(uow, case=case, verdict=verdict, now=now, inbox_id=inbox_id)
        if change and case is not None:
            changes.append(change)
            cancel_timers(uow, case, now=now)
            release_from_incident(uow, case, now=now)
            on_case_cleared(uow, case, at=now, actor=f"detector:{verdict.exception_type}")
    return changes


def _take_in(uow: UnitOfWork, case: Case, *, now: datetime) -> None:
    """What a newly open case gets before anyone sees it: a queue and SLA, its impact and
    priority, its recurrence, and its incident when many cases share its root cause."""
    routed = route_case(uow, case, now=now)
    score_case(uow, case, now=now, routed=routed.priority)
    context = context_for(uow, case)
    recurrence_for(uow, case, now=now, context=context)
    attach_to_incident(uow, case, now=now, recorded=context)


def _covered(case: Case | None, verdict: Verdict) -> bool:
    """A case already holds this very signal: no sweep is needed to open it."""
    return case is not None and case.facts.get("evidence_key") == verdict.evidence_key
