"""How each order is paid through Stripe, scenario by scenario.

The store creates the PaymentIntent when checkout begins, before Shopify has an order,
so its metadata can only name the checkout (``checkout_token``) or the cart
(``cart_token``). A payment taken later for an existing order (a payment link after a
decline, or after a silent checkout) names the order instead: its id or its number,
written as the staff member typed it ("#1001" or "1001").
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from orderops.sim.providers.ids import ProviderIds
from orderops.sim.providers.story import Attempt, Outcome, PaymentStory

DECLINES = (
    ("card_declined", "Your card was declined.", 0.55),
    ("insufficient_funds", "Your card has insufficient funds.", 0.25),
    ("expired_card", "Your card has expired.", 0.12),
    ("incorrect_cvc", "Your card's security code is incorrect.", 0.08),
)
"""Stripe decline codes with Stripe's own customer-facing messages."""

MANUAL_CAPTURE_SHARE = 0.3
PAID_AT_CHECKOUT_SHARE = 0.4
"""Orders whose payment succeeds seconds before Shopify creates the order."""


def _s(rng: random.Random, low: float, high: float) -> timedelta:
    return timedelta(seconds=round(rng.uniform(low, high)))


@dataclass(frozen=True)
class PaymentPlan:
    payments: tuple[PaymentStory, ...]
    ready_at: datetime | None
    """When money became good (captured or authorised); None if it never did."""
    cancel_at: datetime | None = None
    cancel_reason: str | None = None


class PaymentPlanner:
    def __init__(self, rng: random.Random, ids: ProviderIds) -> None:
        self._rng = rng
        self._ids = ids

    def plan(
        self,
        *,
        scenario: str,
        manual: bool,
        order_id: int,
        number: int,
        checkout_token: str,
        cart_token: str,
        placed_at: datetime,
        amount_minor: int,
    ) -> PaymentPlan:
        rng = self._rng
        checkout_meta = (
            {"checkout_token": checkout_token} if rng.random() < 0.6 else {"cart_token": cart_token}
        )
        later_meta = self._order_metadata(order_id, number)
        method = "manual" if manual else "automatic"
        success = Outcome.AUTHORIZED if manual else Outcome.CAPTURED
        created = placed_at - _s(rng, 40, 900)
        first_at = placed_at + _s(rng, 3, 40)
        if scenario == "payment_silent":
            if rng.random() < 0.6:
                at = placed_at + timedelta(hours=rng.uniform(7, 30))
                later = self._intent(
                    at,
                    later_meta,
                    "automatic",
                    amount_minor,
                    [(at + _s(rng, 20, 90), Outcome.CAPTURED)],
                )
                return PaymentPlan((later,), later.attempts[-1].at)
            cancel = placed_at + timedelta(hours=rng.uniform(48, 96))
            return PaymentPlan((), None, cancel, "other")
        if scenario.startswith("decline"):
            steps: list[tuple[datetime, Outcome]] = [(first_at, Outcome.DECLINED)]
            if rng.random() < 0.4:
                steps.append((first_at + _s(rng, 60, 300), Outcome.DECLINED))
            last = steps[-1][0]
            if scenario == "decline_recovered":
                steps.append((last + _s(rng, 120, 1200), success))
                intent = self._intent(created, checkout_meta, method, amount_minor, steps)
                return PaymentPlan((intent,), intent.attempts[-1].at)
            first = self._intent(created, checkout_meta, "automatic", amount_minor, steps)
            if scenario == "decline_recovered_late":
                at = last + timedelta(hours=rng.uniform(1, 10))
                later = self._intent(
                    at,
                    later_meta,
                    "automatic",
                    amount_minor,
                    [(at + _s(rng, 20, 90), Outcome.CAPTURED)],
                )
                return PaymentPlan((first, later), later.attempts[-1].at)
            cancel = last + timedelta(hours=rng.uniform(20, 60))
            return PaymentPlan((replace(first, canceled_at=cancel),), None, cancel, "declined")
        at = placed_at - _s(rng, 3, 20) if rng.random() < PAID_AT_CHECKOUT_SHARE else first_at
        created = min(created, at - timedelta(seconds=30))
        intent = self._intent(created, checkout_meta, method, amount_minor, [(at, success)])
        return PaymentPlan((intent,), at)

    def _order_metadata(self, order_id: int, number: int) -> dict[str, str]:
        roll = self._rng.random()
        if roll < 0.4:
            return {"order_id": str(order_id)}
        if roll < 0.7:
            return {"order_number": f"#{number}"}
        return {"order_number": str(number)}

    def _intent(
        self,
        created: datetime,
        metadata: dict[str, str],
        method: str,
        amount_minor: int,
        steps: list[tuple[datetime, Outcome]],
    ) -> PaymentStory:
        attempts = []
        for at, outcome in steps:
            code = message = None
            if outcome is Outcome.DECLINED:
                code, message, _ = self._rng.choices(DECLINES, weights=[d[2] for d in DECLINES])[0]
            attempts.append(Attempt(at, outcome, self._ids.stripe("ch"), code, message))
        return PaymentStory(
            intent_id=self._ids.stripe("pi"),
            created_at=created,
            metadata=dict(metadata),
            capture_method=method,
            amount_minor=amount_minor,
            attempts=tuple(attempts),
            charge_metadata=self._rng.random() < 0.7,
        )
