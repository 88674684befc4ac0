"""What happens after the parcel leaves (or the order dies): refunds, fraud signals,
fulfillment holds, tickets and customer-record noise.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timedelta

from orderops.sim.providers.ids import ProviderIds
from orderops.sim.providers.story import (
    HoldStory,
    LineStory,
    OrderStory,
    Outcome,
    PaymentStory,
    RefundStory,
    Scan,
    SignalStory,
    StripeRefund,
    TicketStory,
)
from orderops.sim.providers.support import TicketWriter, pick_style

WISMO_SHARE = 0.6
PAYMENT_TICKET_SHARE = 0.3
ROUTINE_TICKET_SHARE = 0.03
CUSTOMER_NOISE_SHARE = 0.04
HOLD_REASONS = ("high_risk_of_fraud", "other", "unknown_delivery_date")
WISMO_KINDS = frozenset({"late", "stalled", "carrier_exception_late", "lost"})
SIGNAL_KINDS = {"dispute": "dispute", "early_fraud_warning": "early_fraud_warning"}
SIGNAL_KINDS["radar_review"] = "review"
_DISPUTE_REASONS = ("fraudulent", "product_not_received", "unrecognized")
_EFW_TYPES = ("made_with_stolen_card", "unauthorized_use_of_card", "misc")


def _h(rng: random.Random, low: float, high: float) -> timedelta:
    return timedelta(seconds=round(rng.uniform(low, high) * 3600))


def captured_at(payment: PaymentStory) -> datetime | None:
    if payment.capture_method == "manual":
        return payment.captured_at
    captures = [a.at for a in payment.attempts if a.outcome is Outcome.CAPTURED]
    return captures[0] if captures else None


def delivered_at(order: OrderStory) -> datetime | None:
    if order.parcel is None:
        return None
    done = [s.at for s in order.parcel.scans if s.status is Scan.DELIVERED]
    return done[-1] if done else None


def plan_hold(
    rng: random.Random, ids: ProviderIds, ready_at: datetime, planned: datetime
) -> HoldStory:
    placed = ready_at + min(_h(rng, 0.2, 3), (planned - ready_at) / 2)
    released = placed + _h(rng, 4, 50) if rng.random() < 0.75 else None
    reason = rng.choice(HOLD_REASONS)
    return HoldStory(
        fulfillment_order_id=ids.shopify("fulfillment_order"),
        placed_at=placed.replace(microsecond=0),
        released_at=released.replace(microsecond=0) if released else None,
        reason=reason,
        note={"high_risk_of_fraud": "Checking the order before it ships"}.get(
            reason, "Held by staff"
        ),
    )


class Aftermath:
    def __init__(self, rng: random.Random, ids: ProviderIds, tickets: TicketWriter) -> None:
        self._rng = rng
        self._ids = ids
        self._tickets = tickets
        self._signals = 0

    def finish(self, order: OrderStory, promised_by: datetime) -> OrderStory:
        order = self._refunds(order)
        order = self._signals_of(order)
        order = self._customer_noise(order)
        return replace(order, tickets=self._tickets_of(order, promised_by))

    def _refunds(self, order: OrderStory) -> OrderStory:
        rng, scenario = self._rng, order.scenario
        paid = [p for p in order.payments if captured_at(p) is not None]
        if not paid:
            return order
        refunds: list[tuple[datetime, int, tuple[LineStory, ...], str]] = []
        total = order.total_minor
        cancelled = order.cancelled_at
        if scenario == "partial_return":
            done = delivered_at(order)
            if done is not None:
                line = order.lines[-1]
                refunds.append(
                    (done + _h(rng, 24, 120), line.total_minor, (line,), "Returned item")
                )
        elif cancelled is not None:
            if scenario in ("cancel_refunded", "shortfall_cancelled"):
                refunds.append(
                    (cancelled + _h(rng, 0.002, 2), total, order.lines, "Order cancelled")
                )
            elif scenario == "cancel_refund_late":
                refunds.append((cancelled + _h(rng, 50, 90), total, order.lines, "Order cancelled"))
            elif scenario == "cancel_partial_refund":
                refunds.append((cancelled + _h(rng, 1, 10), total // 2, (), "Goodwill refund"))
        if not refunds:
            return order
        payment = paid[-1]
        stories, stripe = [], []
        for at, amount, lines, note in refunds:
            at = at.replace(microsecond=0)
            stripe_id = self._ids.stripe("re")
            stories.append(
                RefundStory(
                    self._ids.shopify("refund"),
                    self._ids.shopify("transaction"),
                    at,
                    amount,
                    lines,
                    note,
                    stripe_id,
                )
            )
            stripe.append(
                StripeRefund(stripe_id, at + timedelta(seconds=rng.randint(2, 20)), amount)
            )
        payments = tuple(
            replace(p, refunds=p.refunds + tuple(stripe)) if p is payment else p
            for p in order.payments
        )
        return replace(order, refunds=tuple(stories), payments=payments)

    def _signals_of(self, order: OrderStory) -> OrderStory:
        kind = SIGNAL_KINDS.get(order.scenario)
        paid = [p for p in order.payments if captured_at(p) is not None]
        if kind is None or not paid or order.cancelled_at is not None:
            return order
        rng = self._rng
        capture = captured_at(paid[-1])
        assert capture is not None
        self._signals += 1
        names_intent = self._signals % 2 == 0
        if kind == "dispute":
            base = order.parcel.at if order.parcel else capture
            signal = SignalStory(
                kind,
                self._ids.stripe("dp"),
                base + _h(rng, 24, 120),
                names_intent,
                rng.choice(_DISPUTE_REASONS),
            )
        elif kind == "early_fraud_warning":
            at = capture + _h(rng, 24, 120)
            signal = SignalStory(
                kind, self._ids.stripe("issfr"), at, names_intent, rng.choice(_EFW_TYPES)
            )
        else:
            at = capture + _h(rng, 0.02, 0.5)
            closed = at + _h(rng, 3, 30)
            signal = SignalStory(
                kind,
                self._ids.stripe("prv"),
                at,
                names_intent,
                "rule",
                closed.replace(microsecond=0),
            )
        return replace(order, signals=(replace(signal, at=signal.at.replace(microsecond=0)),))

    def _customer_noise(self, order: OrderStory) -> OrderStory:
        rng = self._rng
        times: list[datetime] = []
        if not order.new_customer:
            times.append(order.placed_at + timedelta(seconds=rng.randint(5, 60)))
        if rng.random() < CUSTOMER_NOISE_SHARE:
            times.append(order.placed_at + _h(rng, 1, 200))
        return replace(order, customer_updates=tuple(t.replace(microsecond=0) for t in times))

    def _tickets_of(self, order: OrderStory, promised_by: datetime) -> tuple[TicketStory, ...]:
        rng, write = self._rng, self._tickets.write
        ref = order.customer.ref
        scenario = order.scenario
        if scenario == "chasing":
            at = order.placed_at + _h(rng, 10, 40)
            solve = rng.random() < 0.5
            tickets = []
            for nth in range(rng.choice((3, 4))):
                tickets.append(
                    write(
                        purpose="chase",
                        style=pick_style(rng),
                        at=at,
                        number=order.number,
                        customer_ref=ref,
                        nth=nth,
                        solve=solve,
                    )
                )
                at += _h(rng, 2, 20)
            return tuple(tickets)
        if scenario in WISMO_KINDS and rng.random() < WISMO_SHARE:
            at = promised_by + _h(rng, 2, 30)
            return (
                write(
                    purpose="wismo",
                    style=pick_style(rng),
                    at=at,
                    number=order.number,
                    customer_ref=ref,
                    day=promised_by,
                ),
            )
        if scenario == "decline_unrecovered" and rng.random() < PAYMENT_TICKET_SHARE:
            declined = order.payments[0].attempts[-1].at
            return (
                write(
                    purpose="payment",
                    style=pick_style(rng),
                    at=declined + _h(rng, 0.2, 8),
                    number=order.number,
                    customer_ref=ref,
                ),
            )
        if rng.random() < ROUTINE_TICKET_SHARE:
            at = order.placed_at + _h(rng, 0.2, 20)
            return (
                write(
                    purpose="routine",
                    style=pick_style(rng),
                    at=at,
                    number=order.number,
                    customer_ref=ref,
                ),
            )
        return ()

    def ambiguous_chasers(self, orders: list[OrderStory]) -> list[OrderStory]:
        """A few customers holding two open orders chase by email alone: no order can be told."""
        rng = self._rng
        earlier: dict[str, list[OrderStory]] = {}
        chosen: set[int] = set()
        wanted = max(1, len(orders) // 300)
        for order in orders:
            others = [
                o
                for o in earlier.get(order.customer.ref, [])
                if o.cancelled_at is None and order.placed_at - o.placed_at < timedelta(days=10)
            ]
            if others and not order.tickets and order.cancelled_at is None and len(chosen) < wanted:
                chosen.add(order.order_id)
            earlier.setdefault(order.customer.ref, []).append(order)
        result = []
        for order in orders:
            if order.order_id in chosen:
                at = order.placed_at + _h(rng, 3, 20)
                tickets = []
                for nth in range(3):
                    tickets.append(
                        self._tickets.write(
                            purpose="chase",
                            style="email_only",
                            at=at,
                            number=order.number,
                            customer_ref=order.customer.ref,
                            nth=nth,
                        )
                    )
                    at += _h(rng, 2, 12)
                order = replace(order, tickets=tuple(tickets), scenario="ambiguous_chasing")
            result.append(order)
        return result
