"""Dashboard figures for a date range: volume, time to resolve, SLA breaches, recurrence,
payment issues and customer impact.

Queries pull plain rows for the range; the arithmetic (days, percentiles, top-N) is pure
and tested on its own. The same ``Dashboard`` renders as charts and exports as CSV, so the
two can never disagree.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select

from orderops.cases.sla import TimerKind, TimerOutcome
from orderops.domain.cases import CLOSED_STATUSES
from orderops.domain.statuses import PaymentStatus
from orderops.storage.tables import Case, Customer, Order, OrderLineRow, Payment
from orderops.storage.tables.queues import CaseTimer
from orderops.storage.uow import UnitOfWork

TOP = 8
PAYMENT_ISSUES = [
    str(s) for s in (PaymentStatus.FAILED, PaymentStatus.REQUIRES_ACTION, PaymentStatus.VOIDED)
]


@dataclass(frozen=True)
class CaseFact:
    id: str
    exception_type: str
    queue: str | None
    status: str
    opened_at: datetime
    closed_at: datetime | None
    order_id: str


@dataclass
class Dashboard:
    start: date
    end: date
    """Exclusive."""
    days: list[str] = field(default_factory=list)
    volume: dict[str, list[float]] = field(default_factory=dict)
    resolve_by_type: list[tuple[str, float, float, int]] = field(default_factory=list)
    resolve_by_queue: list[tuple[str, float, float, int]] = field(default_factory=list)
    breaches_by_day: list[tuple[str, float]] = field(default_factory=list)
    breaches_by_queue: list[tuple[str, float]] = field(default_factory=list)
    top_skus: list[tuple[str, float]] = field(default_factory=list)
    top_lanes: list[tuple[str, float]] = field(default_factory=list)
    top_warehouses: list[tuple[str, float]] = field(default_factory=list)
    top_customers: list[tuple[str, float]] = field(default_factory=list)
    payment_failures: list[tuple[str, float]] = field(default_factory=list)
    impact: list[tuple[str, float]] = field(default_factory=list)

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["section", "key", "value", "p90_hours", "count"])
        for day_index, day in enumerate(self.days):
            for kind, values in self.volume.items():
                if values[day_index]:
                    writer.writerow(["volume", f"{day} {kind}", values[day_index], "", ""])
        for section, rows in (
            ("resolve_p50_hours_by_type", self.resolve_by_type),
            ("resolve_p50_hours_by_queue", self.resolve_by_queue),
        ):
            for key, p50, p90, count in rows:
                writer.writerow([section, key, f"{p50:.2f}", f"{p90:.2f}", count])
        for section, pairs in (
            ("sla_breaches_by_day", self.breaches_by_day),
            ("sla_breaches_by_queue", self.breaches_by_queue),
            ("top_skus", self.top_skus),
            ("top_lanes", self.top_lanes),
            ("top_warehouses", self.top_warehouses),
            ("top_customers", self.top_customers),
            ("payment_failures", self.payment_failures),
            ("customer_impact", self.impact),
        ):
            for key, value in pairs:
                writer.writerow([section, key, _number(value), "", ""])
        return out.getvalue()


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100) of a non-empty sample."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("percentile of no values")
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def day_range(start: date, end: date) -> list[str]:
    return [(start + timedelta(days=i)).isoformat() for i in range((end - start).days)]


def volume_by_day(cases: Iterable[CaseFact], days: Sequence[str]) -> dict[str, list[float]]:
    index = {d: i for i, d in enumerate(days)}
    series: dict[str, list[float]] = defaultdict(lambda: [0.0] * len(days))
    for case in cases:
        slot = index.get(case.opened_at.date().isoformat())
        if slot is not None:
            series[case.exception_type][slot] += 1
    return dict(sorted(series.items(), key=lambda kv: -sum(kv[1])))


def resolve_times(cases: Iterable[CaseFact], key: str) -> list[tuple[str, float, float, int]]:
    """(group, p50 hours, p90 hours, count) of closed cases grouped by ``key``."""
    hours: dict[str, list[float]] = defaultdict(list)
    closed = {str(s) for s in CLOSED_STATUSES}
    for case in cases:
        if case.closed_at is None or case.status not in closed:
            continue
        group = getattr(case, key) or "(none)"
        hours[group].append((case.closed_at - case.opened_at).total_seconds() / 3600)
    return sorted(
        ((g, percentile(v, 50), percentile(v, 90), len(v)) for g, v in hours.items()),
        key=lambda row: -row[3],
    )


def top(counter: Counter[str], n: int = TOP) -> list[tuple[str, float]]:
    return [(k, float(v)) for k, v in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


def build(uow: UnitOfWork, *, start: date, end: date) -> Dashboard:
    since = datetime.combine(start, time(), tzinfo=UTC)
    until = datetime.combine(end, time(), tzinfo=UTC)
    cases = [
        CaseFact(*row)
        for row in uow.session.execute(
            select(
                Case.id,
                Case.exception_type,
                Case.queue,
                Case.status,
                Case.opened_at,
                Case.closed_at,
                Case.order_id,
            ).where(
                Case.tenant_id == uow.tenant_id, Case.opened_at >= since, Case.opened_at < until
            )
        )
    ]
    board = Dashboard(start=start, end=end, days=day_range(start, end))
    board.volume = volume_by_day(cases, board.days)
    board.resolve_by_type = resolve_times(cases, "exception_type")
    board.resolve_by_queue = resolve_times(cases, "queue")
    _breaches(uow, board, since, until)
    _recurrence(uow, board, cases)
    _payments(uow, board, since, until)
    return board


def _breaches(uow: UnitOfWork, board: Dashboard, since: datetime, until: datetime) -> None:
    rows = uow.session.execute(
        select(CaseTimer.fired_at, Case.queue)
        .join(Case, Case.id == CaseTimer.case_id)
        .where(
            CaseTimer.tenant_id == uow.tenant_id,
            CaseTimer.kind == str(TimerKind.SLA_BREACH),
            CaseTimer.outcome.in_([str(TimerOutcome.ESCALATED), str(TimerOutcome.NOTIFIED)]),
            CaseTimer.fired_at >= since,
            CaseTimer.fired_at < until,
        )
    ).all()
    by_day = Counter(fired.date().isoformat() for fired, _ in rows if fired is not None)
    board.breaches_by_day = [(d, float(by_day.get(d, 0))) for d in board.days]
    board.breaches_by_queue = top(Counter(queue or "(none)" for _, queue in rows))


def _recurrence(uow: UnitOfWork, board: Dashboard, cases: Sequence[CaseFact]) -> None:
    order_ids = sorted({c.order_id for c in cases})
    per_order = Counter(c.order_id for c in cases)
    skus: Counter[str] = Counter()
    lanes: Counter[str] = Counter()
    warehouses: Counter[str] = Counter()
    customers: Counter[str] = Counter()
    tiers: Counter[str] = Counter()
    value = 0
    people: set[str] = set()
    for chunk in _chunks(order_ids, 500):
        orders = uow.session.execute(
            select(Order, Customer)
            .outerjoin(Customer, Customer.id == Order.customer_id)
            .where(Order.tenant_id == uow.tenant_id, Order.id.in_(chunk))
        ).all()
        for order, customer in orders:
            n = per_order[order.id]
            destination = (order.ship_to or {}).get("country") or "?"
            lanes[f"{order.location or '?'} → {destination}"] += n
            warehouses[order.location or "(unknown)"] += n
            value += order.total_minor
            if customer is not None:
                customers[customer.name or customer.email or customer.id] += n
                tiers[customer.tier] += 1
                people.add(customer.id)
        for sku, order_id in uow.session.execute(
            select(OrderLineRow.sku, OrderLineRow.order_id).where(
                OrderLineRow.tenant_id == uow.tenant_id, OrderLineRow.order_id.in_(chunk)
            )
        ):
            skus[sku] += per_order[order_id]
    board.top_skus, board.top_lanes = top(skus), top(lanes)
    board.top_warehouses, board.top_customers = top(warehouses), top(customers)
    board.impact = [
        ("cases", float(len(cases))),
        ("orders affected", float(len(order_ids))),
        ("customers affected", float(len(people))),
        ("order value affected", value / 100),
        *((f"customers of tier {t}", float(c)) for t, c in sorted(tiers.items())),
    ]


def _payments(uow: UnitOfWork, board: Dashboard, since: datetime, until: datetime) -> None:
    rows = uow.session.execute(
        select(Payment.status, Payment.failure_code).where(
            Payment.tenant_id == uow.tenant_id,
            Payment.status_at >= since,
            Payment.status_at < until,
            Payment.status.in_(PAYMENT_ISSUES),
        )
    ).all()
    board.payment_failures = top(
        Counter(f"{status}: {code}" if code else status for status, code in rows)
    )


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _number(value: float) -> str:
    return f"{value:.0f}" if value == int(value) else f"{value:.2f}"
