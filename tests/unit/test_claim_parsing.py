"""The claim reader turns a draft into typed claims, in en, es, pt and de alike."""

from __future__ import annotations

from datetime import date

import pytest

from orderops.recommend.claim_lexicon import words_to_number
from orderops.recommend.claim_parsing import parse_number, read_claims
from orderops.recommend.claims import Action, Claim, ClaimKind, Tense

TODAY = date(2024, 6, 10)  # a Monday


def _of(kind: ClaimKind, text: str) -> list[Claim]:
    return [c for c in read_claims(text, today=TODAY) if c.kind is kind]


@pytest.mark.parametrize(
    ("text", "minor", "currency"),
    [
        ("We will reimburse $130.99.", 13099, "USD"),
        ("Le devolvemos 130,99 €.", 13099, "EUR"),
        ("Wir erstatten EUR 10.", 1000, "EUR"),
        ("We refunded 25 dollars.", 2500, "USD"),
        ("We refunded twenty-five dollars.", 2500, "USD"),
        ("Le reembolsamos veinticinco dólares.", 2500, "USD"),
        ("Reembolsámos vinte e cinco dólares.", 2500, "USD"),
        ("Wir haben fünfundzwanzig Dollar erstattet.", 2500, "USD"),
        ("Wir haben einhundertzwanzig Euro erstattet.", 12000, "EUR"),
        ("A refund of 1.234,56 EUR is on its way.", 123456, "EUR"),
        ("A refund of $5,000 is on its way.", 500000, "USD"),
        ("Reembolsámos R$ 49,90.", 4990, "BRL"),
        ("We owe you 50 cents.", 50, None),
        ("Refunded £7.", 700, "GBP"),
    ],
)
def test_money_is_read_in_any_notation_currency_or_words(
    text: str, minor: int, currency: str | None
) -> None:
    (claim,) = _of(ClaimKind.MONEY, text)
    assert (claim.amount_minor, claim.currency) == (minor, currency)


@pytest.mark.parametrize(
    ("raw", "value"),
    [("1,234.56", "1234.56"), ("1.234,56", "1234.56"), ("130,99", "130.99"), ("5,000", "5000")],
)
def test_numbers_are_read_in_english_and_european_notation(raw: str, value: str) -> None:
    assert str(parse_number(raw)) == value


@pytest.mark.parametrize(
    ("words", "value"),
    [
        ("twenty-five", 25),
        ("one hundred and five", 105),
        ("ciento veinte", 120),
        ("dos mil quinientos", 2500),
        ("vinte e cinco", 25),
        ("zweihundertfünfzig", 250),
        ("einundzwanzig", 21),
        ("banana", None),
    ],
)
def test_numbers_in_words_are_read_in_the_four_languages(words: str, value: int | None) -> None:
    assert words_to_number(words) == value


@pytest.mark.parametrize(
    ("text", "percent"),
    [
        ("Enjoy 50% off.", 50.0),
        ("Un 50 % de descuento.", 50.0),
        ("15 Prozent Rabatt.", 15.0),
        ("We will refund half of the order.", 50.0),
        ("Le reembolsamos la mitad.", 50.0),
        ("Reembolsamos metade.", 50.0),
        ("Wir erstatten die Hälfte.", 50.0),
        ("twenty percent off", 20.0),
    ],
)
def test_percentages_are_read_in_figures_and_words(text: str, percent: float) -> None:
    (claim,) = _of(ClaimKind.PERCENT, text)
    assert claim.percent == percent


@pytest.mark.parametrize(
    ("text", "day", "relative"),
    [
        ("Promised for 2024-06-05.", date(2024, 6, 5), False),
        ("Promised for June 5, 2024.", date(2024, 6, 5), False),
        ("Prometido para el 5 de junio de 2024.", date(2024, 6, 5), False),
        ("Prometido para 5 de junho de 2024.", date(2024, 6, 5), False),
        ("Zugesagt für den 5. Juni 2024.", date(2024, 6, 5), False),
        ("Zugesagt für 05.06.2024.", date(2024, 6, 5), False),
        ("Expected June 12.", date(2024, 6, 12), False),
        ("It ships today.", TODAY, True),
        ("Llegará mañana.", date(2024, 6, 11), True),
        ("Chega amanhã.", date(2024, 6, 11), True),
        ("Kommt übermorgen.", date(2024, 6, 12), True),
        ("It will arrive by Friday.", date(2024, 6, 14), True),
        ("Llegará el viernes.", date(2024, 6, 14), True),
        ("Chega na sexta-feira.", date(2024, 6, 14), True),
        ("Ankunft am Freitag.", date(2024, 6, 14), True),
        ("Delivered in 3 days.", date(2024, 6, 13), True),
        ("Delivered in 3-5 business days.", None, True),
        ("Innerhalb von 24 Stunden.", None, True),
        ("Esta semana.", None, True),
    ],
)
def test_days_are_read_absolute_or_relative_to_today(
    text: str, day: date | None, relative: bool
) -> None:
    (claim,) = _of(ClaimKind.DATE, text)
    assert (claim.day, claim.relative) == (day, relative)


def test_a_german_ordinal_date_does_not_end_the_sentence() -> None:
    claims = read_claims("Sie wird am 12. Juni 2024 zugestellt.", today=TODAY)
    assert {c.sentence for c in claims} == {0}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Order #1538 is late.", "1538"),
        ("Order 1538 is late.", "1538"),
        ("El pedido número 1538 va con retraso.", "1538"),
        ("Die Bestellnummer 1538.", "1538"),
        ("A encomenda 1538 está atrasada.", "1538"),
    ],
)
def test_order_numbers_are_read_with_or_without_the_hash(text: str, value: str) -> None:
    (claim,) = _of(ClaimKind.ORDER, text)
    assert claim.value == value


def test_tracking_numbers_skus_emails_and_links_are_their_own_claims() -> None:
    claims = read_claims(
        "Tracking 1Z999AA10123456784 for APP-101; write to a@b.example or see https://x.example",
        today=TODAY,
    )
    kinds = {(c.kind, c.value or c.text) for c in claims}
    assert (ClaimKind.TRACKING, "1Z999AA10123456784") in kinds
    assert (ClaimKind.SKU, "APP-101") in kinds
    assert (ClaimKind.EMAIL, "a@b.example") in kinds
    assert any(k is ClaimKind.LINK for k, _ in kinds)


@pytest.mark.parametrize(
    ("text", "action", "tense", "whole"),
    [
        ("We have cancelled order #1538.", Action.CANCEL, Tense.DONE, True),
        ("We removed CAP-120 from order #2040.", Action.CANCEL, Tense.DONE, False),
        ("Your whole order ships today.", Action.SHIP, Tense.PROMISED, True),
        ("Your order has shipped.", Action.SHIP, Tense.DONE, False),
        ("It will be shipped tomorrow.", Action.SHIP, Tense.PROMISED, False),
        ("El pedido ya está en camino.", Action.SHIP, Tense.DONE, False),
        ("Bestellung wurde versandt.", Action.SHIP, Tense.DONE, False),
        ("We will reimburse you.", Action.REFUND, Tense.PROMISED, False),
        ("We refunded your order in full.", Action.REFUND, Tense.DONE, True),
        ("Reembolsámos a encomenda na totalidade.", Action.REFUND, Tense.DONE, True),
        ("Wir haben Ihre Bestellung vollständig erstattet.", Action.REFUND, Tense.DONE, True),
        ("Hemos añadido crédito en tienda.", Action.CREDIT, Tense.DONE, False),
        ("We are sending you a replacement.", Action.RESHIP, Tense.PROMISED, False),
        ("Wir senden Ihnen Ersatz.", Action.RESHIP, Tense.PROMISED, False),
        ("Estamos a enviar uma substituição.", Action.RESHIP, Tense.PROMISED, False),
        ("We will send a close equivalent.", Action.SUBSTITUTE, Tense.PROMISED, False),
        ("We upgraded your shipping.", Action.UPGRADE, Tense.DONE, False),
        ("Enjoy 50% off your next order.", Action.DISCOUNT, Tense.PROMISED, False),
        ("Your next order is on us.", Action.DISCOUNT, Tense.PROMISED, False),
        ("Order #1538 was delivered.", Action.DELIVER, Tense.DONE, False),
    ],
)
def test_actions_are_read_with_tense_and_scope(
    text: str, action: Action, tense: Tense, whole: bool
) -> None:
    found = [c for c in _of(ClaimKind.ACTION, text) if c.action is action]
    assert [(c.tense, c.whole) for c in found] == [(tense, whole)]


@pytest.mark.parametrize(
    "text",
    [
        "We have not refunded the order.",
        "We could not deliver order #1538.",
        "Please update your card so we can ship it.",
        "Bitte aktualisieren Sie Ihre Zahlungsart, damit wir versenden können.",
        "Actualice su método de pago para que podamos enviarlo.",
        "No hemos cancelado el pedido.",
        "We'll ship your order as soon as the payment goes through.",
    ],
)
def test_negated_and_conditional_actions_claim_nothing(text: str) -> None:
    assert _of(ClaimKind.ACTION, text) == []


def test_a_refund_on_its_way_is_not_a_parcel_on_its_way() -> None:
    actions = {c.action for c in _of(ClaimKind.ACTION, "A refund of $5.00 is on its way.")}
    assert actions == {Action.REFUND}
