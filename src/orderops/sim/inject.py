"""Injecting the exception types beyond payment failures and late parcels.

Runs after plain planning with its own random stream (seeded from the run's seed), so
a configuration without ``rates`` consumes nothing and renders exactly the events it
did before. Each injection rewrites one clean order (paid first time, not late, not
cancelled, shipped): the story is changed, never labelled here. Whether a label exists
is decided from the emitted events alone (``sim.labels``), so an injection whose
evidence falls after the window's end gives no label, and an injection that also makes
an order late gives both labels, as a real desk would see.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from orderops.domain.cases import ExceptionType
from orderops.domain.statuses import PaymentStatus, TrackingStatus
from orderops.sim.catalog import WAREHOUSES
from orderops.sim.config import SimConfig
from orderops.sim.facts import (
    LateMode,
    Line,
    OrderPlan,
    PaymentStep,
    Scan,
    ShipmentPlan,
    SignalPlan,
    TicketPlan,
)
from orderops.sim.ids import IdFactory
from orderops.sim.tickets import CANCEL_SUBJECT
from orderops.sim.transit import plan_shipment, whole_seconds

T = ExceptionType
SHORT_QUANTITY = 350
"""More than any simulated warehouse ever holds of one SKU (levels stay under 300)."""
OUTAGE = timedelta(hours=14)
"""How long before ``end`` an injected Shopify outage begins."""
OUTAGE_SOURCE = "sim://shopify"
_WAREHOUSES = {w.code: w for w in WAREHOUSES}

Injector = Callable[[random.Random, IdFactory, OrderPlan, SimConfig], OrderPlan | None]


def _h(rng: random.Random, low: float, high: float) -> timedelta:
    return timedelta(hours=rng.uniform(low, high))


def _clean(order: OrderPlan) -> bool:
    return (
        order.late_mode is None
        and order.cancelled_at is None
        and order.shipment is not None
        and len(order.payments) == 1
        and order.payments[0].status is PaymentStatus.AUTHORIZED
        and not order.injected
    )


def _reship(
    rng: random.Random,
    ids: IdFactory,
    order: OrderPlan,
    ready_at: datetime,
    late_mode: LateMode | None = None,
) -> ShipmentPlan:
    assert order.shipment is not None
    customer = order.customer
    return plan_shipment(
        rng,
        ids,
        level=order.service_level,
        origin=order.shipment.origin,
        region=customer.region,
        destination=f"{customer.address.city}, {customer.address.region}",
        ready_at=ready_at,
        promised_by=order.promised_by,
        late_mode=late_mode,
    )


def _auth_at(order: OrderPlan) -> datetime:
    return order.payments[0].at


def _payment_hold(rng: random.Random, ids: IdFactory, o: OrderPlan, c: SimConfig) -> OrderPlan:
    review = whole_seconds(_auth_at(o) + timedelta(minutes=rng.uniform(1, 10)))
    released = whole_seconds(review + _h(rng, 20, 60))
    return replace(
        o,
        signals=(SignalPlan("review_opened", review),),
        shipment=_reship(rng, ids, o, released),
    )


def _authorization_expiring(
    rng: random.Random, ids: IdFactory, o: OrderPlan, c: SimConfig
) -> OrderPlan | None:
    if _auth_at(o) > c.end - timedelta(days=6, hours=1):
        return None
    return replace(o, shipment=None)


def _fraud_review(rng: random.Random, ids: IdFactory, o: OrderPlan, c: SimConfig) -> OrderPlan:
    assert o.shipment is not None
    at = whole_seconds(o.shipment.shipped_at + _h(rng, 1, 48))
    kind = rng.choice(("early_fraud_warning", "dispute", "risk_score"))
    score = round(rng.uniform(80, 99), 1) if kind == "risk_score" else None
    return replace(o, signals=(SignalPlan(kind, at, score),))


def _duplicate_charge(rng: random.Random, ids: IdFactory, o: OrderPlan, c: SimConfig) -> OrderPlan:
    assert o.shipment is not None
    again = whole_seconds(o.shipment.shipped_at + timedelta(minutes=rng.uniform(1, 120)))
    ref = ids.payment_ref()
    steps = [PaymentStep(ref, PaymentStatus.CAPTURED, again)]
    if rng.random() < 0.5:
        steps.append(
            PaymentStep(
                ref,
                PaymentStatus.REFUNDED,
                whole_seconds(again + _h(rng, 2, 48)),
                refunded_minor=o.total_minor,
            )
        )
    return replace(o, later_payments=tuple(steps))


def _refund_pending(rng: random.Random, ids: IdFactory, o: OrderPlan, c: SimConfig) -> OrderPlan:
    assert o.shipment is not None
    cancelled = whole_seconds(o.shipment.shipped_at + _h(rng, 0.5, 3))
    ref = o.payments[0].payment_ref
    roll = rng.random()
    steps: list[PaymentStep] = []
    if roll < 0.3:
        at = whole_seconds(cancelled + _h(rng, 1, 30))
        steps.append(PaymentStep(ref, PaymentStatus.REFUNDED, at, refunded_minor=o.total_minor))
    elif roll < 0.6:
        at = whole_seconds(cancelled + _h(rng, 1, 10))
        half = o.total_minor // 2
        steps.append(PaymentStep(ref, PaymentStatus.PARTIALLY_REFUNDED, at, refunded_minor=half))
    elif roll < 0.8:
        at = whole_seconds(cancelled + _h(rng, 50, 80))
        steps.append(PaymentStep(ref, PaymentStatus.REFUNDED, at, refunded_minor=o.total_minor))
    return replace(o, cancelled_at=cancelled, cancel_reason="customer", later_payments=tuple(steps))


def _shortfall(low: float, high: float) -> Injector:
    def inject(rng: random.Random, ids: IdFactory, o: OrderPlan, c: SimConfig) -> OrderPlan:
        first, *rest = o.lines
        restock = whole_seconds(_auth_at(o) + _h(rng, low, high))
        return replace(
            o,
            lines=(Line(first.product, SHORT_QUANTITY), *rest),
            restock_at=restock,
            shipment=_reship(rng, ids, o, restock),
        )

    return inject


def _delay_predicted(rng: random.Random, ids: IdFactory, o: OrderPlan, c: SimConfig) -> OrderPlan:
    assert o.shipment is not None
    mode = rng.choice((LateMode.STALLED, LateMode.DELAYED))
    return replace(o, late_mode=mode, shipment=_reship(rng, ids, o, _auth_at(o), mode))


def _pre_dispatch(rng: random.Random, ids: IdFactory, o: OrderPlan, c: SimConfig) -> OrderPlan:
    shipment = o.shipment
    assert shipment is not None
    first_carrier = next(
        s.at for s in shipment.scans if s.status is not TrackingStatus.LABEL_CREATED
    )
    shift = whole_seconds(shipment.shipped_at + _h(rng, 26, 50)) - first_carrier
    scans = tuple(
        s if s.status is TrackingStatus.LABEL_CREATED else replace(s, at=s.at + shift)
        for s in shipment.scans
    )
    return replace(o, shipment=replace(shipment, scans=scans))


def _carrier_exception(rng: random.Random, ids: IdFactory, o: OrderPlan, c: SimConfig) -> OrderPlan:
    shipment = o.shipment
    assert shipment is not None
    out = next(s for s in shipment.scans if s.status is TrackingStatus.OUT_FOR_DELIVERY)
    failed = Scan(
        TrackingStatus.FAILED_ATTEMPT,
        whole_seconds(out.at + _h(rng, 0.5, 1.5)),
        out.location,
        "Delivery attempted, no one available to sign",
    )
    scans: list[Scan] = []
    for scan in shipment.scans:
        if scan.status is TrackingStatus.DELIVERED:
            scans.append(failed)
            scans.append(replace(out, at=out.at + timedelta(days=1)))
            scans.append(replace(scan, at=max(scan.at, failed.at) + timedelta(days=1)))
        else:
            scans.append(scan)
    return replace(o, shipment=replace(shipment, scans=tuple(scans)))


def _address_problem(rng: random.Random, ids: IdFactory, o: OrderPlan, c: SimConfig) -> OrderPlan:
    fixed = whole_seconds(o.placed_at + _h(rng, 1, 20)) if rng.random() < 0.6 else None
    return replace(o, ship_to_missing=("postal_code", "line1"), address_fixed_at=fixed)


def _stuck(rng: random.Random, ids: IdFactory, o: OrderPlan, c: SimConfig) -> OrderPlan:
    shift = _h(rng, 7, 30)
    step = o.payments[0]
    moved = replace(step, at=whole_seconds(step.at + shift))
    return replace(o, payments=(moved,), shipment=_reship(rng, ids, o, moved.at))


def _partial(rng: random.Random, ids: IdFactory, o: OrderPlan, c: SimConfig) -> OrderPlan | None:
    shipment = o.shipment
    if len(o.lines) < 2 or shipment is None:
        return None
    other = rng.choice([code for code in _WAREHOUSES if code != o.location])
    *kept, last = o.lines
    lines = (*kept, replace(last, location=other))
    if rng.random() < 0.3:
        return replace(o, lines=lines)
    second_ready = whole_seconds(shipment.shipped_at + _h(rng, 2.2 * 24, 4 * 24))
    second = replace(_reship(rng, ids, o, second_ready), origin=_WAREHOUSES[other])
    return replace(o, lines=lines, extra_shipments=(second,))


def _chasing(rng: random.Random, ids: IdFactory, o: OrderPlan, c: SimConfig) -> OrderPlan:
    at = whole_seconds(o.placed_at + _h(rng, 10, 40))
    tickets: list[TicketPlan] = []
    solve = rng.random() < 0.5
    for i in range(rng.choice((3, 4))):
        tickets.append(
            TicketPlan(
                ids.ticket_ref(),
                at,
                f"Update on order {o.number}? ({i + 1})",
                f"Hello again, any news on order {o.number}? I have not heard back.",
            )
        )
        at = whole_seconds(at + _h(rng, 2, 20))
    if solve:
        tickets = [replace(t, solved_at=whole_seconds(at + _h(rng, 5, 30))) for t in tickets]
    return replace(o, tickets=tuple(tickets))


def _cancel_request(
    rng: random.Random, ids: IdFactory, o: OrderPlan, c: SimConfig
) -> OrderPlan | None:
    """The customer asks to cancel before the carrier's first scan (the order still ships:
    nobody acted on the request)."""
    if o.shipment is None or not o.shipment.scans:
        return None
    first_scan = min(s.at for s in o.shipment.scans)
    at = whole_seconds(o.placed_at + (first_scan - o.placed_at) * rng.uniform(0.1, 0.6))
    if at >= first_scan:
        return None
    ticket = TicketPlan(
        ids.ticket_ref(),
        at,
        f"{CANCEL_SUBJECT} {o.number}",
        f"Hi, I ordered {o.number} by mistake. Please cancel my order before it ships.",
    )
    return replace(o, tickets=(*o.tickets, ticket))


INJECTORS: dict[ExceptionType, Injector] = {
    T.PAYMENT_HOLD: _payment_hold,
    T.AUTHORIZATION_EXPIRING: _authorization_expiring,
    T.FRAUD_REVIEW: _fraud_review,
    T.DUPLICATE_CHARGE: _duplicate_charge,
    T.REFUND_PENDING: _refund_pending,
    T.INVENTORY_SHORTFALL: _shortfall(6, 20),
    T.SUBSTITUTION_NEEDED: _shortfall(30, 60),
    T.SHIPMENT_DELAY_PREDICTED: _delay_predicted,
    T.PRE_DISPATCH_DELAY: _pre_dispatch,
    T.CARRIER_EXCEPTION: _carrier_exception,
    T.ADDRESS_PROBLEM: _address_problem,
    T.STUCK_ORDER: _stuck,
    T.PARTIAL_FULFILLMENT_OVERDUE: _partial,
    T.CUSTOMER_CHASING: _chasing,
    T.CANCEL_REQUESTED: _cancel_request,
}


def inject(config: SimConfig, orders: list[OrderPlan]) -> list[OrderPlan]:
    """Apply the configured rates, each clean order getting at most one injected type."""
    rates = {T(name): rate for name, rate in config.rates.items() if rate > 0}
    if not any(t in INJECTORS for t in rates):
        return orders
    rng = random.Random(f"inject:{config.seed}")
    ids = IdFactory(random.Random(f"inject-ids:{config.seed}"))
    result: list[OrderPlan] = []
    for order in orders:
        for kind, injector in INJECTORS.items():
            rate = rates.get(kind, 0.0)
            if rate <= 0 or not _clean(order) or rng.random() >= rate:
                continue
            changed = injector(rng, ids, order, config)
            if changed is not None:
                order = replace(changed, injected=(kind.value,))
        result.append(order)
    return result


def has_outage(config: SimConfig) -> bool:
    rate = config.rates.get(T.INTEGRATION_SILENCE.value, 0.0)
    return rate > 0 and random.Random(f"outage:{config.seed}").random() < rate
