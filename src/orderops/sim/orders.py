"""Planning orders: when they are placed, what is in them, how payment and delivery go.

Exceptions are injected here with the configured rates; whether an injection turns
into a label is decided later from the emitted events alone (see ``labels``).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import TypeVar

from orderops.domain.statuses import PaymentStatus
from orderops.sim.catalog import (
    CATALOGUE,
    FREE_SHIPPING_FROM_MINOR,
    PRIMARY_WAREHOUSE,
    PROMISE_DAYS,
    SHIPPING_FEE_MINOR,
    WAREHOUSES,
    ServiceLevel,
)
from orderops.sim.config import SimConfig
from orderops.sim.facts import LateMode, Line, OrderPlan, PaymentStep, ShipmentPlan
from orderops.sim.ids import IdFactory
from orderops.sim.people import Customer, CustomerBook
from orderops.sim.tickets import plan_tickets
from orderops.sim.transit import plan_shipment, promise_for, whole_seconds

HOURLY_WEIGHTS = (
    9, 8, 6, 4, 3, 2, 1, 1, 1, 1, 2, 3,
    5, 6, 7, 8, 9, 9, 8, 8, 8, 9, 10, 10,
)  # fmt: skip
"""Relative order volume per UTC hour: US shoppers, peaking at lunch and late evening."""

FAILURES = (
    ("card_declined", "Your card was declined.", 0.55),
    ("insufficient_funds", "Your card has insufficient funds.", 0.25),
    ("expired_card", "Your card has expired.", 0.12),
    ("incorrect_cvc", "Your card's security code is incorrect.", 0.08),
)
"""Stripe decline codes with Stripe's own customer-facing messages."""

LATE_MODES = (
    (LateMode.STALLED, 0.3),
    (LateMode.DELAYED, 0.4),
    (LateMode.EXCEPTION_DELAYED, 0.15),
    (LateMode.EXCEPTION_LOST, 0.15),
)
_STANDARD, _EXPEDITED, _EXPRESS = (
    ServiceLevel.STANDARD,
    ServiceLevel.EXPEDITED,
    ServiceLevel.EXPRESS,
)
_SERVICE_MIX = {
    "standard": ((_STANDARD, 0.72), (_EXPEDITED, 0.2), (_EXPRESS, 0.08)),
    "vip": ((_STANDARD, 0.5), (_EXPEDITED, 0.35), (_EXPRESS, 0.15)),
}
"""VIP customers pay for speed more often."""
_LINE_COUNTS = ((1, 0.6), (2, 0.25), (3, 0.1), (4, 0.05))
_WAREHOUSES = {warehouse.code: warehouse for warehouse in WAREHOUSES}


T = TypeVar("T")


def _pick(rng: random.Random, table: tuple[tuple[T, float], ...]) -> T:
    return rng.choices([item for item, _ in table], weights=[w for _, w in table])[0]


def placement_times(
    rng: random.Random, start: datetime, end: datetime, count: int
) -> list[datetime]:
    """``count`` times in ``[start, end)`` following the diurnal pattern (rejection sampling)."""
    span = (end - start).total_seconds()
    peak = max(HOURLY_WEIGHTS)
    times: list[datetime] = []
    while len(times) < count:
        at = whole_seconds(start + timedelta(seconds=rng.uniform(0, span)))
        if at < end and rng.random() * peak < HOURLY_WEIGHTS[at.hour]:
            times.append(at)
    return sorted(times)


def plan_orders(config: SimConfig, rng: random.Random, ids: IdFactory) -> list[OrderPlan]:
    """Every order of the run, history first, in placement order."""
    history = config.orders_per_day * config.history_days
    window = round(config.orders_per_day * config.days)
    times = placement_times(rng, config.history_start, config.start, history)
    times += placement_times(rng, config.start, config.end, window)
    book = CustomerBook(rng, ids, duplicate_rate=config.duplicate_customer_rate)
    planner = _OrderPlanner(config, rng, ids)
    return [planner.plan(placed_at, *book.next_customer()) for placed_at in times]


class _OrderPlanner:
    def __init__(self, config: SimConfig, rng: random.Random, ids: IdFactory) -> None:
        self._config = config
        self._rng = rng
        self._ids = ids

    def plan(self, placed_at: datetime, customer: Customer, first_order: bool) -> OrderPlan:
        rng, config = self._rng, self._config
        level = _pick(rng, _SERVICE_MIX[customer.tier])
        lines = self._lines()
        location = self._location(customer.region)
        subtotal = sum(line.product.price_minor * line.quantity for line in lines)
        free = level is ServiceLevel.STANDARD and subtotal >= FREE_SHIPPING_FROM_MINOR
        promised_by = promise_for(placed_at, PROMISE_DAYS[level])
        payments, ready_at, cancelled_at = self._payments(placed_at)
        late_mode = None
        if ready_at is not None and rng.random() < config.late_rate:
            late_mode = _pick(rng, LATE_MODES)
        shipment: ShipmentPlan | None = None
        if ready_at is not None:
            shipment = plan_shipment(
                rng,
                self._ids,
                level=level,
                origin=_WAREHOUSES[location],
                region=customer.region,
                destination=f"{customer.address.city}, {customer.address.region}",
                ready_at=ready_at,
                promised_by=promised_by,
                late_mode=late_mode,
            )
        number = self._ids.order_number()
        return OrderPlan(
            order_ref=self._ids.order_ref(),
            number=number,
            customer=customer,
            first_order_of_customer=first_order,
            placed_at=placed_at,
            service_level=level,
            promised_by=promised_by,
            location=location,
            lines=lines,
            shipping_minor=0 if free else SHIPPING_FEE_MINOR[level],
            payments=payments,
            cancelled_at=cancelled_at,
            shipment=shipment,
            tickets=plan_tickets(
                rng,
                self._ids,
                number=number,
                placed_at=placed_at,
                promised_by=promised_by,
                payments=payments,
                cancelled=cancelled_at is not None,
                late_mode=late_mode,
            ),
            late_mode=late_mode,
        )

    def _lines(self) -> tuple[Line, ...]:
        rng = self._rng
        wanted = _pick(rng, _LINE_COUNTS)
        chosen: list[Line] = []
        while len(chosen) < wanted:
            product = rng.choices(CATALOGUE, weights=[p.popularity for p in CATALOGUE])[0]
            if all(line.product.sku != product.sku for line in chosen):
                chosen.append(Line(product, 2 if rng.random() < 0.12 else 1))
        return tuple(chosen)

    def _location(self, region: str) -> str:
        primary = PRIMARY_WAREHOUSE[region]
        if self._rng.random() < 0.8:
            return primary
        return self._rng.choice([w.code for w in WAREHOUSES if w.code != primary])

    def _payments(
        self, placed_at: datetime
    ) -> tuple[tuple[PaymentStep, ...], datetime | None, datetime | None]:
        """The payment story: steps, when the money became good, and when the order died."""
        rng, ids = self._rng, self._ids
        first_at = placed_at + timedelta(seconds=rng.randint(2, 40))
        if rng.random() >= self._config.payment_failed_rate:
            return (
                (PaymentStep(ids.payment_ref(), PaymentStatus.AUTHORIZED, first_at),),
                first_at,
                None,
            )
        code, message = _pick(rng, tuple(((c, m), w) for c, m, w in FAILURES))
        failed = PaymentStep(ids.payment_ref(), PaymentStatus.FAILED, first_at, code, message)
        if rng.random() < self._config.payment_recovery_share:
            retry_at = whole_seconds(first_at + timedelta(hours=rng.uniform(0.5, 10)))
            retried = PaymentStep(ids.payment_ref(), PaymentStatus.AUTHORIZED, retry_at)
            return (failed, retried), retry_at, None
        cancelled_at = whole_seconds(first_at + timedelta(hours=rng.uniform(12, 36)))
        return (failed,), None, cancelled_at
