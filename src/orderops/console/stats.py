"""Dashboard figures for a date range: volume, time to resolve, SLA attainment and
breaches, backlog age, recurrence by dimension, payment issues and customer impact.

Queries pull plain rows for the range through the viewer's unit of work (whose guard
narrows a scoped viewer to their cases); the arithmetic lives in ``dash_figures`` and is
pure. The same ``Dashboard`` renders as charts, exports as CSV and answers drill-downs,
so the three can never disagree.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select

from orderops.cases.sla import TimerKind, TimerOutcome
from orderops.console.dash_export import safe_cell
from orderops.console.dash_figures import (
    Bar,
    CaseFact,
    Chart,
    backlog_age,
    by_day,
    count_bars,
    grouped,
    resolve_hours,
    sla_attainment,
)
from orderops.console.money import amounts
from orderops.domain.cases import CLOSED_STATUSES
from orderops.domain.statuses import PaymentStatus
from orderops.storage.tables import Case, Customer, Order, OrderLineRow, Payment
from orderops.storage.tables.queues import CaseTimer
from orderops.storage.uow import UnitOfWork

PAYMENT_ISSUES = [
    str(s) for s in (PaymentStatus.FAILED, PaymentStatus.REQUIRES_ACTION, PaymentStatus.VOIDED)
]
BREACHED = [str(TimerOutcome.ESCALATED), str(TimerOutcome.NOTIFIED)]


@dataclass
class Dashboard:
    start: date
    end: date
    """Exclusive."""
    now: datetime
    days: list[str] = field(default_factory=list)
    volume: dict[str, list[float]] = field(default_factory=dict)
    """Cases opened per day, one series per exception type (the stacked chart)."""
    charts: dict[str, Chart] = field(default_factory=dict)
    p90_hours: dict[tuple[str, str], float] = field(default_factory=dict)
    """(chart slug, key) -> p90 hours, beside the resolve charts' medians."""
    impact: list[tuple[str, float]] = field(default_factory=list)
    value_affected: dict[str, int] = field(default_factory=dict)
    """Order value affected, minor units per currency (never summed across currencies)."""

    @property
    def value_text(self) -> str:
        return amounts(self.value_affected) if self.value_affected else "none"

    def csv(self) -> str:
        """Every figure of the page in one file (the per-chart files: ``dash_export``)."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["section", "key", "value", "p90_hours", "count"])
        for day_index, day in enumerate(self.days):
            for kind, values in self.volume.items():
                if values[day_index]:
                    writer.writerow(["volume", f"{day} {safe_cell(kind)}", values[day_index]])
        for slug, chart in self.charts.items():
            for bar in chart.bars:
                p90 = self.p90_hours.get((slug, bar.key))
                writer.writerow(
                    [
                        slug,
                        safe_cell(bar.key),
                        _number(bar.value),
                        "" if p90 is None else f"{p90:.2f}",
                        len(bar.cases),
                    ]
                )
        for key, value in self.impact:
            writer.writerow(["customer_impact", key, _number(value), "", ""])
        for currency, minor in sorted(self.value_affected.items()):
            writer.writerow(["order_value_affected_minor", currency, minor, "", ""])
        return out.getvalue()


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


def build(uow: UnitOfWork, *, start: date, end: date, now: datetime) -> Dashboard:
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
                Case.priority,
            ).where(
                Case.tenant_id == uow.tenant_id, Case.opened_at >= since, Case.opened_at < until
            )
        )
    ]
    board = Dashboard(start=start, end=end, now=now, days=day_range(start, end))
    board.volume = volume_by_day(cases, board.days)
    board.charts["opened"] = Chart(
        "opened", "Cases opened per day", "cases", by_day(cases, board.days)
    )
    for slug, title, key in (
        ("resolve_type", "Median time to resolve by type", "exception_type"),
        ("resolve_queue", "Median time to resolve by queue", "queue"),
    ):
        rows = resolve_hours(cases, key)
        board.charts[slug] = Chart(slug, title, "hours", [bar for bar, _ in rows])
        board.p90_hours.update({(slug, bar.key): p90 for bar, p90 in rows})
    _sla(uow, board, cases, since, until)
    _backlog(uow, board)
    _recurrence(uow, board, cases)
    _payments(uow, board, since, until)
    return board


def _sla(
    uow: UnitOfWork, board: Dashboard, cases: Sequence[CaseFact], since: datetime, until: datetime
) -> None:
    """Attainment of the range's cases by priority, and breaches by the day they fired."""
    breached_ever = set(
        uow.session.scalars(
            select(CaseTimer.case_id)
            .join(Case, Case.id == CaseTimer.case_id)
            .where(
                CaseTimer.tenant_id == uow.tenant_id,
                Case.opened_at >= since,
                Case.opened_at < until,
                CaseTimer.kind == str(TimerKind.SLA_BREACH),
                CaseTimer.outcome.in_(BREACHED),
            )
        )
    )
    board.charts["sla"] = Chart(
        "sla", "SLA attainment by priority", "%", sla_attainment(cases, breached_ever)
    )
    fired = uow.session.execute(
        select(CaseTimer.fired_at, CaseTimer.case_id)
        .join(Case, Case.id == CaseTimer.case_id)
        .where(
            CaseTimer.tenant_id == uow.tenant_id,
            CaseTimer.kind == str(TimerKind.SLA_BREACH),
            CaseTimer.outcome.in_(BREACHED),
            CaseTimer.fired_at >= since,
            CaseTimer.fired_at < until,
        )
    ).all()
    groups = grouped((at.date().isoformat(), case_id) for at, case_id in fired if at)
    board.charts["breaches"] = Chart(
        "breaches",
        "SLA breaches per day",
        "cases",
        [Bar(d, float(len(groups.get(d, []))), tuple(groups.get(d, []))) for d in board.days],
    )


def _backlog(uow: UnitOfWork, board: Dashboard) -> None:
    rows = uow.session.execute(
        select(Case.id, Case.opened_at).where(
            Case.tenant_id == uow.tenant_id,
            Case.status.not_in([str(s) for s in CLOSED_STATUSES]),
        )
    ).all()
    board.charts["backlog"] = Chart(
        "backlog",
        "Open cases by age, now",
        "cases",
        backlog_age(((i, _aware(at)) for i, at in rows), board.now),
    )


def _recurrence(uow: UnitOfWork, board: Dashboard, cases: Sequence[CaseFact]) -> None:
    order_ids = sorted({c.order_id for c in cases})
    of_order: dict[str, list[str]] = defaultdict(list)
    for case in cases:
        of_order[case.order_id].append(case.id)
    pairs: dict[str, list[tuple[str, str]]] = defaultdict(list)
    tier_people: dict[str, set[str]] = defaultdict(set)
    people: set[str] = set()
    value: Counter[str] = Counter()
    for chunk in _chunks(order_ids, 500):
        orders = uow.session.execute(
            select(
                Order.id,
                Order.ship_to,
                Order.location,
                Order.currency,
                Order.total_minor,
                Customer.id,
                Customer.name,
                Customer.email,
                Customer.tier,
            )
            .outerjoin(Customer, Customer.id == Order.customer_id)
            .where(Order.tenant_id == uow.tenant_id, Order.id.in_(chunk))
        ).all()
        for order_id, ship_to, location, currency, total, person, name, email, tier in orders:
            ids = of_order[order_id]
            destination = (ship_to or {}).get("country") or "?"
            lane = f"{location or '?'} → {destination}"
            pairs["lane"] += [(lane, i) for i in ids]
            pairs["warehouse"] += [(location or "(unknown)", i) for i in ids]
            value[currency.upper()] += total
            if person is not None:
                who = name or email or person
                pairs["customer"] += [(who, i) for i in ids]
                pairs["tier"] += [(tier, i) for i in ids]
                tier_people[tier].add(person)
                people.add(person)
        for sku, order_id in uow.session.execute(
            select(OrderLineRow.sku, OrderLineRow.order_id).where(
                OrderLineRow.tenant_id == uow.tenant_id, OrderLineRow.order_id.in_(chunk)
            )
        ):
            pairs["sku"] += [(sku, i) for i in of_order[order_id]]
    for slug, title in (
        ("sku", "Recurring SKUs"),
        ("lane", "Recurring lanes (warehouse → country)"),
        ("warehouse", "Recurring warehouses"),
        ("customer", "Recurring customers"),
    ):
        board.charts[slug] = Chart(slug, title, "cases", count_bars(grouped(pairs[slug])))
    tiers = grouped(pairs["tier"])
    board.charts["tier"] = Chart(
        "tier",
        "Customers affected by tier",
        "customers",
        [
            Bar(t, float(len(tier_people[t])), tuple(ids), note=f"{len(ids)} cases")
            for t, ids in sorted(tiers.items())
        ],
    )
    board.value_affected = dict(value)
    board.impact = [
        ("cases", float(len(cases))),
        ("orders affected", float(len(order_ids))),
        ("customers affected", float(len(people))),
    ]


def _payments(uow: UnitOfWork, board: Dashboard, since: datetime, until: datetime) -> None:
    """Payments that failed, wait on the customer or were voided in the range, by code;
    a bar's cases are those of the payments' orders, whenever they opened."""
    rows = uow.session.execute(
        select(
            Payment.status,
            Payment.failure_code,
            Payment.order_ref,
            Payment.amount_minor,
            Payment.currency,
        ).where(
            Payment.tenant_id == uow.tenant_id,
            Payment.status_at >= since,
            Payment.status_at < until,
            Payment.status.in_(PAYMENT_ISSUES),
        )
    ).all()
    refs = sorted({ref for _, _, ref, _, _ in rows if ref})
    cases_of: dict[str, list[str]] = defaultdict(list)
    for chunk in _chunks(refs, 500):
        for case_id, case_ref in uow.session.execute(
            select(Case.id, Case.order_ref).where(
                Case.tenant_id == uow.tenant_id, Case.order_ref.in_(chunk)
            )
        ):
            cases_of[case_ref].append(case_id)
    count: Counter[str] = Counter()
    at_stake: dict[str, Counter[str]] = defaultdict(Counter)
    ids: dict[str, set[str]] = defaultdict(set)
    for status, code, ref, minor, currency in rows:
        key = f"{status}: {code}" if code else status
        count[key] += 1
        at_stake[key][currency.upper()] += minor
        ids[key].update(cases_of.get(ref or "", []))
    ordered = sorted(count.items(), key=lambda kv: (-kv[1], kv[0]))[:8]
    board.charts["payments"] = Chart(
        "payments",
        "Payment issues by code",
        "payments",
        [Bar(k, float(n), tuple(sorted(ids[k])), note=amounts(at_stake[k])) for k, n in ordered],
    )


def _aware(at: datetime) -> datetime:
    """SQLite returns naive datetimes for UTC-aware columns."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _number(value: float) -> str:
    return f"{value:.0f}" if value == int(value) else f"{value:.2f}"
