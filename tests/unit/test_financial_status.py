"""An order's financial status is derived from all its payment attempts.

A success on any attempt wins over earlier failures; a failure stays a failure while
later attempts are merely pending; refunds are judged against what was captured.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from orderops.domain.facts import PaymentFact, derive_financial_status
from orderops.domain.statuses import FinancialStatus, PaymentStatus

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
P = PaymentStatus
F = FinancialStatus


def attempt(
    status: PaymentStatus,
    *,
    minute: int = 0,
    amount: int = 5000,
    refunded: int = 0,
    ref: str | None = None,
) -> PaymentFact:
    return PaymentFact(
        payment_ref=ref or f"pi_{minute}",
        provider="stripe",
        status=status,
        amount_minor=amount,
        amount_refunded_minor=refunded,
        currency="USD",
        status_at=T0 + timedelta(minutes=minute),
        failure_code="card_declined" if status is P.FAILED else None,
    )


CASES: list[tuple[str, list[PaymentFact], FinancialStatus]] = [
    ("no payments", [], F.PENDING),
    ("pending only", [attempt(P.PENDING)], F.PENDING),
    ("requires action only", [attempt(P.REQUIRES_ACTION)], F.PENDING),
    ("captured", [attempt(P.CAPTURED)], F.PAID),
    ("failed then captured", [attempt(P.FAILED), attempt(P.CAPTURED, minute=5)], F.PAID),
    ("captured then a late failure", [attempt(P.CAPTURED), attempt(P.FAILED, minute=5)], F.PAID),
    ("authorized", [attempt(P.AUTHORIZED)], F.AUTHORIZED),
    ("failed then authorized", [attempt(P.FAILED), attempt(P.AUTHORIZED, minute=5)], F.AUTHORIZED),
    ("failed only", [attempt(P.FAILED)], F.FAILED),
    ("failed twice", [attempt(P.FAILED), attempt(P.FAILED, minute=5)], F.FAILED),
    ("failed then pending retry", [attempt(P.FAILED), attempt(P.PENDING, minute=5)], F.FAILED),
    (
        "captured with a partial refund",
        [attempt(P.PARTIALLY_REFUNDED, refunded=1500)],
        F.PARTIALLY_REFUNDED,
    ),
    (
        "captured status with some amount refunded",
        [attempt(P.CAPTURED, refunded=1)],
        F.PARTIALLY_REFUNDED,
    ),
    ("fully refunded", [attempt(P.REFUNDED, refunded=5000)], F.REFUNDED),
    (
        "one of two captures fully refunded",
        [
            attempt(P.REFUNDED, amount=3000, refunded=3000),
            attempt(P.CAPTURED, minute=5, amount=2000),
        ],
        F.PARTIALLY_REFUNDED,
    ),
    (
        "both captures fully refunded",
        [
            attempt(P.REFUNDED, amount=3000, refunded=3000),
            attempt(P.REFUNDED, minute=5, amount=2000, refunded=2000),
        ],
        F.REFUNDED,
    ),
    ("voided only", [attempt(P.VOIDED)], F.VOIDED),
    ("voided twice", [attempt(P.VOIDED), attempt(P.VOIDED, minute=5)], F.VOIDED),
    ("voided then pending", [attempt(P.VOIDED), attempt(P.PENDING, minute=5)], F.PENDING),
]


@pytest.mark.parametrize(
    ("payments", "expected"),
    [(payments, expected) for _, payments, expected in CASES],
    ids=[name for name, _, _ in CASES],
)
def test_financial_status_from_payment_attempts(
    payments: list[PaymentFact], expected: FinancialStatus
) -> None:
    assert derive_financial_status(payments) is expected


@pytest.mark.parametrize(("name", "payments", "expected"), CASES, ids=[c[0] for c in CASES])
def test_the_order_of_attempts_does_not_change_the_answer(
    name: str, payments: list[PaymentFact], expected: FinancialStatus
) -> None:
    assert derive_financial_status(list(reversed(payments))) is expected
