"""Each claim of a draft is held against the case's facts and its approved actions; the
draft is blocked with a reason naming the claim when nothing backs it."""

from __future__ import annotations

import pytest

from orderops.recommend.claim_patterns import check_text as pattern_check
from orderops.recommend.claim_redteam import known_for
from orderops.recommend.factcheck import check_text

ISSUE_16 = [
    "Hi Ana, we will reimburse $130.99 for order #1538.",
    "Hi Ana, sorry for the wait: enjoy 50% off your next order.",
    "Hi Ana, we have added 25 dollars to your account for order #1538.",
    "Hi Ana, we have cancelled order #1538 as you asked.",
    "Hi Ana, good news: your whole order ships today.",
]


@pytest.mark.parametrize("text", ISSUE_16)
def test_the_five_drafts_of_issue_16_are_blocked_where_the_patterns_passed_them(
    text: str,
) -> None:
    known = known_for("late_contact")  # shipped, late, nothing approved but a message
    assert pattern_check(text, known).passed
    result = check_text(text, known)
    assert not result.passed
    assert all(p.value and p.value in text for p in result.problems)


@pytest.mark.parametrize(
    ("scenario", "text", "kind", "value"),
    [
        ("late_contact", "We will reimburse $130.99.", "promise", "reimburse"),
        ("late_contact", "Enjoy 50% off your next order.", "percent", "50%"),
        ("late_contact", "We have cancelled order #1538.", "promise", "cancelled"),
        ("late_contact", "Your whole order ships today.", "promise", "ships"),
        ("late_reship_credit", "Your whole order ships today.", "date", "today"),
        ("late_reship_credit", "We added EUR 10 of store credit.", "amount", "EUR 10"),
        ("late_reship_credit", "We added twenty-five dollars of credit.", "amount",
         "twenty-five dollars"),
        ("delivered_late_refund", "We have refunded your order in full.", "promise", "refunded"),
        ("delivered_late_refund", "We refunded $100.00.", "amount", "$100.00"),
        ("stock_cancel_line", "We have cancelled order #2040.", "promise", "cancelled"),
        ("late_contact", "It will arrive tomorrow.", "date", "tomorrow"),
        ("late_contact", "Order #1593 is on its way.", "order_number", "#1593"),
        ("payment_failed", "Your order #5300 has shipped.", "promise", "shipped"),
    ],
)  # fmt: skip
def test_an_unsupported_claim_is_named_in_the_problem(
    scenario: str, text: str, kind: str, value: str
) -> None:
    problems = check_text(text, known_for(scenario)).problems
    assert (kind, value) in {(p.kind, p.value) for p in problems}


@pytest.mark.parametrize(
    ("scenario", "text"),
    [
        ("late_contact", "Order #1538 is on its way; UPS expects it on June 12, 2024."),
        ("late_contact", "Su pedido llegará el miércoles."),  # the carrier's estimate
        ("late_reship_credit", "We are sending a replacement and added $10.00 of store credit."),
        ("late_reship_credit", "The credit is about 8% of your order."),
        ("delivered_late_refund", "We have refunded $25.00, a quarter (25%) of the order."),
        ("delivered_late_refund", "Wir haben Ihnen fünfundzwanzig Dollar erstattet."),
        ("stock_cancel_line", "Hemos retirado CAP-120 y le hemos reembolsado 15,00 EUR."),
        ("cancel_order", "Wir haben Ihre Bestellung #4200 storniert und 120 Euro erstattet."),
        ("payment_failed", "Please update your payment method so we can ship order #5300."),
        ("upgrade", "Melhorámos o envio da encomenda #6400, sem custo."),
    ],
)
def test_claims_the_case_backs_pass(scenario: str, text: str) -> None:
    assert check_text(text, known_for(scenario)).problems == ()
