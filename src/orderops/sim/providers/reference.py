"""The reference reader: labels from deliveries.jsonl alone, by the rules in ``spec``.

It plays a careful person with the provider dashboards open and the store's policy in
hand, not the desk: it reads every delivery once (``reading``), files and links records
by the providers' conventions (``ledger``), computes promises with the policy's own rule
(``promise``) and applies each written rule. It imports nothing from the desk's
detect, resolve, ingest or workflow packages, so the labels it writes can measure the
desk and not repeat it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from orderops.sim.providers import spec
from orderops.sim.providers.ledger import Ledger, Order
from orderops.sim.providers.promise import StorePolicy, read_policy
from orderops.sim.providers.reading import Charge, Signal, load_lines, parse_time, records


@dataclass(frozen=True)
class RefLabel:
    type: str
    order_ref: str
    order_name: str
    at: datetime
    evidence: str

    def line(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "order_ref": self.order_ref,
            "order_name": self.order_name,
            "at": self.at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "evidence": self.evidence,
        }


def read_files(deliveries: Path, policy: Path, *, now: datetime) -> list[RefLabel]:
    document = yaml.safe_load(policy.read_text("utf-8"))
    return label(load_lines(deliveries), read_policy(document), now=now)


def write_labels(labels: Iterable[RefLabel], path: Path) -> None:
    path.write_text("".join(json.dumps(lb.line()) + "\n" for lb in labels), "utf-8")


def label(
    lines: Iterable[Mapping[str, Any]], policy: StorePolicy, *, now: datetime
) -> list[RefLabel]:
    """Every exception the written rules name, as of ``now``, one per (type, order)."""
    ledger = Ledger()
    for record in records(lines, now=now):
        ledger.file(record)
    ledger.settle()
    return _Judge(ledger, policy, now).labels()


def _t(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M") + "Z"


def _first(candidates: Iterable[tuple[datetime, str]]) -> tuple[datetime, str] | None:
    return min(candidates, key=lambda c: c[0], default=None)


class _Judge:
    def __init__(self, ledger: Ledger, policy: StorePolicy, now: datetime) -> None:
        self.ledger = ledger
        self.policy = policy
        self.now = now
        self.charges: dict[str, list[Charge]] = {o: [] for o in ledger.orders}
        for charge in ledger.charges.values():
            order = ledger.order_of_charge(charge.charge_id)
            if order is not None:
                self.charges[order.order_id].append(charge)
        self.delivered = {o.order_id: self._delivered(o) for o in ledger.orders.values()}
        self.signals: dict[str, list[Signal]] = {}
        for signal in ledger.signals:
            linked = (
                ledger.order_by_key(signal.metadata)
                or ledger.order_of_charge(signal.charge_id)
                or ledger.order_of_intent(signal.intent_id)
            )
            if linked is not None:
                self.signals.setdefault(linked.order_id, []).append(signal)
        self.levels: dict[str, list[tuple[datetime, str, int]]] = {}
        for at, item, location, available in ledger.levels:
            sku = ledger.skus.get(item)
            if sku is not None:
                self.levels.setdefault(sku, []).append((at, location, available))

    def labels(self) -> list[RefLabel]:
        rules = {
            "payment_failed": self.payment_failed,
            "payment_hold": self.payment_hold,
            "authorization_expiring": self.authorization_expiring,
            "fraud_review": self.fraud_review,
            "duplicate_charge": self.duplicate_charge,
            "refund_pending": self.refund_pending,
            "inventory_shortfall": self.inventory_shortfall,
            "substitution_needed": self.substitution_needed,
            "shipment_late": self.shipment_late,
            "pre_dispatch_delay": self.pre_dispatch_delay,
            "carrier_exception": self.carrier_exception,
            "stuck_order": self.stuck_order,
            "customer_chasing": self.customer_chasing,
        }
        assert set(rules) == set(spec.RULES)
        out = []
        for order in self.ledger.orders.values():
            for name, rule in rules.items():
                found = rule(order)
                if found is not None and found[0] <= self.now:
                    out.append(RefLabel(name, order.order_id, order.name, found[0], found[1]))
        return sorted(out, key=lambda lb: (lb.at, lb.type, lb.order_ref))

    # --- facts about an order at a moment -----------------------------------------------
    def _successes(self, order: Order) -> list[datetime]:
        times = [
            t for c in self.charges[order.order_id] for t in (c.authorized_at, c.captured_at) if t
        ]
        times += [
            at
            for at, status in order.statuses
            if status in ("authorized", "paid", "partially_refunded", "refunded", "partially_paid")
        ]
        return sorted(times)

    def _captured(self, order: Order, at: datetime) -> int:
        return sum(
            c.captured_minor
            for c in self.charges[order.order_id]
            if c.captured_at and c.captured_at <= at
        )

    def _refunded(self, order: Order, at: datetime) -> int:
        shopify = sum(amount for when, amount in order.refunds.values() if when <= at)
        stripe = sum(
            max((done for when, done in c.refunds if when <= at), default=0)
            for c in self.charges[order.order_id]
        )
        return max(shopify, stripe)

    def _cancelled_by(self, order: Order, at: datetime) -> bool:
        return order.cancelled_at is not None and order.cancelled_at <= at

    def _paid_at(self, order: Order, at: datetime) -> bool:
        """Captured, or authorised and still held, at ``at`` (by Stripe or Shopify)."""
        for charge in self.charges[order.order_id]:
            if charge.captured_at and charge.captured_at <= at:
                return True
            intent = self.ledger.intents.get(charge.intent_id or "")
            released = intent.canceled_at if intent else None
            if (
                charge.authorized_at
                and charge.authorized_at <= at
                and not (released and released <= at)
            ):
                return True
        status = next((s for when, s in reversed(order.statuses) if when <= at), None)
        return status in ("authorized", "paid", "partially_refunded", "partially_paid")

    def _fully_refunded(self, order: Order, at: datetime) -> bool:
        owed = self._captured(order, at) or order.total_minor
        return self._refunded(order, at) >= owed > 0

    def _codes(self, order: Order) -> set[str]:
        return {code for _, codes in order.fulfillments.values() for code in codes}

    def _delivered(self, order: Order) -> datetime | None:
        done = [
            s.at
            for code in self._codes(order)
            for s in self.ledger.scans.get(code, [])
            if s.phase == "delivered"
        ]
        return min(done, default=None)

    # --- the rules ---------------------------------------------------------------------
    def payment_failed(self, order: Order) -> tuple[datetime, str] | None:
        successes = self._successes(order)
        declines = sorted((c.declined_at, c) for c in self.charges[order.order_id] if c.declined_at)
        for at, charge in declines:
            if any(s <= at for s in successes):
                continue
            due = at + spec.PAYMENT_RECOVERY
            if any(at < s <= due for s in successes) or self._cancelled_by(order, due):
                continue
            return (
                due,
                f"{charge.charge_id} of {charge.intent_id} declined ({charge.decline_code}) "
                f"at {_t(at)}; no success within 30 min",
            )
        return None

    def _held(self, order: Order, wait: timedelta) -> tuple[datetime, str] | None:
        for charge in sorted(
            self.charges[order.order_id], key=lambda c: c.authorized_at or self.now
        ):
            if charge.authorized_at is None:
                continue
            intent = self.ledger.intents.get(charge.intent_id or "")
            ends = [
                t
                for t in (
                    charge.captured_at,
                    intent.canceled_at if intent else None,
                    order.cancelled_at,
                )
                if t
            ]
            due = charge.authorized_at + wait
            if not any(t <= due for t in ends):
                return (
                    due,
                    f"{charge.charge_id} authorised at {_t(charge.authorized_at)}, "
                    f"not captured or released by {_t(due)}",
                )
        return None

    def payment_hold(self, order: Order) -> tuple[datetime, str] | None:
        return self._held(order, spec.CAPTURE_WAIT)

    def authorization_expiring(self, order: Order) -> tuple[datetime, str] | None:
        return self._held(order, spec.AUTH_EXPIRY - spec.AUTH_WARNING)

    def fraud_review(self, order: Order) -> tuple[datetime, str] | None:
        hits = []
        for signal in self.signals.get(order.order_id, []):
            if self._cancelled_by(order, signal.at) or self._fully_refunded(order, signal.at):
                continue
            via = f"charge {signal.charge_id}" + (
                f" and {signal.intent_id}" if signal.intent_id else " only"
            )
            hits.append((signal.at, f"{signal.kind} {signal.signal_id} opened, naming {via}"))
        return _first(hits)

    def duplicate_charge(self, order: Order) -> tuple[datetime, str] | None:
        captures = sorted((c.captured_at, c) for c in self.charges[order.order_id] if c.captured_at)
        running = 0
        for at, charge in captures:
            running += charge.captured_minor
            if len(captures) > 1 and running > order.total_minor:
                return (
                    at,
                    f"{len(captures)} captures reach {running} of a {order.total_minor} total",
                )
        return None

    def refund_pending(self, order: Order) -> tuple[datetime, str] | None:
        cancelled = order.cancelled_at
        if cancelled is None:
            return None
        captured = self._captured(order, cancelled)
        due = cancelled + spec.REFUND_WAIT
        refunded = self._refunded(order, due)
        if captured and refunded < captured:
            return (
                due,
                f"cancelled at {_t(cancelled)} with {captured} captured; "
                f"{refunded} refunded 48 h later",
            )
        return None

    def _stock_windows(self, order: Order) -> list[tuple[datetime, datetime, str]]:
        """Spans (start, end, sku) in which a line asked for more than all locations held."""
        ends = [t for t in (order.cancelled_at, *[f for f, _ in order.fulfillments.values()]) if t]
        closed = min([*ends, self.now])
        latest: dict[tuple[str, str], int] = {}
        spans: list[tuple[datetime, datetime, str]] = []
        open_since: dict[str, datetime] = {}
        points = sorted(
            (at, sku, location, available)
            for sku in {sku for sku, _ in order.lines}
            for at, location, available in self.levels.get(sku, [])
        )
        moments = sorted(
            {order.placed_at, *[p[0] for p in points if order.placed_at < p[0] < closed]}
        )
        index = 0
        for moment in moments:
            while index < len(points) and points[index][0] <= moment:
                _, sku, location, available = points[index]
                latest[(sku, location)] = available
                index += 1
            for sku, quantity in order.lines:
                stocked = [n for (s, _), n in latest.items() if s == sku]
                short = bool(stocked) and quantity > sum(stocked)
                if short and sku not in open_since:
                    open_since[sku] = moment
                elif not short and sku in open_since:
                    spans.append((open_since.pop(sku), moment, sku))
        spans += [(start, closed, sku) for sku, start in open_since.items()]
        return sorted(spans)

    def inventory_shortfall(self, order: Order) -> tuple[datetime, str] | None:
        spans = self._stock_windows(order)
        if not spans:
            return None
        start, _, sku = spans[0]
        return start, f"{sku} short at every location from {_t(start)}"

    def substitution_needed(self, order: Order) -> tuple[datetime, str] | None:
        for start, end, sku in self._stock_windows(order):
            due = start + spec.SUBSTITUTE_AFTER
            if due <= end:
                return due, f"{sku} short since {_t(start)} for 24 h"
        return None

    def shipment_late(self, order: Order) -> tuple[datetime, str] | None:
        window = self.policy.window_for(*order.shipping)
        if window is None:
            return None
        due = self.policy.deadlines(window, order.placed_at).promised_by
        delivered = self.delivered[order.order_id]
        if delivered is not None and delivered <= due:
            return None
        if (
            not self._paid_at(order, due)
            or self._cancelled_by(order, due)
            or self._fully_refunded(order, due)
        ):
            return None
        when = f"delivered {_t(delivered)}" if delivered else "not delivered"
        return due, f"{window.name} promise {_t(due)}; {when}"

    def pre_dispatch_delay(self, order: Order) -> tuple[datetime, str] | None:
        hits = []
        for created, codes in order.fulfillments.values():
            if not codes:
                continue
            due = created + spec.FIRST_SCAN_WAIT
            moved = [
                s.at
                for code in codes
                for s in self.ledger.scans.get(code, [])
                if s.phase != "label"
            ]
            if not any(at <= due for at in moved):
                hits.append(
                    (
                        due,
                        f"{', '.join(sorted(codes))} labelled {_t(created)}, "
                        "no carrier scan within 24 h",
                    )
                )
        return _first(hits)

    def carrier_exception(self, order: Order) -> tuple[datetime, str] | None:
        return _first(
            (s.at, f"{s.code}: {s.message}")
            for code in self._codes(order)
            for s in self.ledger.scans.get(code, [])
            if s.phase == "trouble"
        )

    def stuck_order(self, order: Order) -> tuple[datetime, str] | None:
        hits = []
        due = order.placed_at + spec.PAYMENT_OUTCOME_WAIT
        outcomes = [
            t
            for c in self.charges[order.order_id]
            for t in (c.declined_at, c.authorized_at, c.captured_at)
            if t
        ]
        outcomes += [at for at, status in order.statuses if status != "pending"]
        if not any(t <= due for t in outcomes) and not self._cancelled_by(order, due):
            hits.append((due, f"placed {_t(order.placed_at)}, no payment outcome within 6 h"))
        window = self.policy.window_for(*order.shipping)
        if window is not None:
            handling = self.policy.deadlines(window, order.placed_at).handling_due
            shipped = [f for f, _ in order.fulfillments.values() if f <= handling]
            if (
                self._paid_at(order, handling)
                and not self._cancelled_by(order, handling)
                and not shipped
            ):
                hits.append(
                    (
                        handling,
                        f"paid and not fulfilled by the {window.name} handling deadline "
                        f"{_t(handling)}",
                    )
                )
        return _first(hits)

    def customer_chasing(self, order: Order) -> tuple[datetime, str] | None:
        opened = sorted(t.opened_at for t in self._tickets().get(order.order_id, []))
        for i in range(spec.CHASING_TICKETS - 1, len(opened)):
            if opened[i] - opened[i - spec.CHASING_TICKETS + 1] <= spec.CHASING_WINDOW:
                return (
                    opened[i],
                    f"{i + 1} tickets, the last {spec.CHASING_TICKETS} between "
                    f"{_t(opened[i - spec.CHASING_TICKETS + 1])} and {_t(opened[i])}",
                )
        return None

    _linked_tickets: dict[str, list[Any]] | None = None

    def _tickets(self) -> dict[str, list[Any]]:
        if self._linked_tickets is None:
            linked: dict[str, list[Any]] = {}
            for ticket in self.ledger.tickets.values():
                found = None
                for number in ticket.numbers:
                    orders = self.ledger.orders_by_number(number)
                    if len(orders) == 1:
                        found = orders[0]
                        break
                if found is None:
                    candidates = self.ledger.open_orders_of(
                        ticket.email, ticket.opened_at, self.delivered
                    )
                    found = candidates[0] if len(candidates) == 1 else None
                if found is not None:
                    linked.setdefault(found.order_id, []).append(ticket)
            self._linked_tickets = linked
        return self._linked_tickets


def window_end(store_json: Path) -> datetime:
    """The moment labels are judged at: the end of the store's window."""
    end = parse_time(json.loads(store_json.read_text("utf-8"))["window"]["end"])
    if end is None:
        raise ValueError(f"{store_json}: window.end is not a time")
    return end
