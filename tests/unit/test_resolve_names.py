"""The names resolve gives entities and records, without a database.

Which keys an entity registers decides which records can find it, and how a record names
its system decides whether its ``system:ref`` fits the link columns: both are tables here.
"""

from __future__ import annotations

import re

import pytest

from orderops.domain.errors import InvalidEvent
from orderops.resolve.aliases import (
    KEY_MAX,
    customer_names,
    key_of,
    order_names,
    payment_names,
    provider_of,
    shipment_names,
    system_of,
    ticket_names,
)
from orderops.resolve.follow import Candidate
from orderops.resolve.links import LinkMethod, RecordType, record_ref


@pytest.mark.parametrize(
    ("source", "system"),
    [
        ("shopify", "shopify"),
        ("sim://shopify", "shopify"),
        ("test://stripe", "stripe"),
        ("https://Acme.myshopify.com/admin", "acme.myshopify.com"),
        ("x" * 200, "x" * 40),
    ],
)
def test_a_source_names_its_system_in_at_most_40_characters(source: str, system: str) -> None:
    assert provider_of(source)[:40] == system
    assert system_of(source) == system


def test_a_record_ref_of_the_longest_system_and_ref_fits_its_column() -> None:
    longest = record_ref(system_of("s" * 200), "r" * 200)
    assert len(longest) <= 260


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "shopify",
            [
                ("order.ref", "5001"),
                ("shopify.order", "5001"),
                ("order.number", "#1001"),
                ("order.name", "#1001"),
            ],
        ),
        ("csv://erp", [("order.ref", "5001"), ("order.number", "#1001"), ("order.name", "#1001")]),
    ],
)
def test_an_order_is_named_by_its_ref_and_number_and_by_shopify_only_when_shopify_sent_it(
    source: str, expected: list[tuple[str, str]]
) -> None:
    assert order_names("5001", "#1001", source) == expected


def test_payments_shipments_customers_and_tickets_name_themselves_by_their_system() -> None:
    assert payment_names("stripe", "pi_1") == [
        ("payment.ref", "pi_1"),
        ("stripe.payment_intent", "pi_1"),
    ]
    assert payment_names("adyen", "psp_1") == [("payment.ref", "psp_1")]
    assert shipment_names("1Z9", "f-1", "sim://shopify") == [
        ("tracking", "1Z9"),
        ("shopify.fulfillment", "f-1"),
    ]
    assert shipment_names("1Z9", "shp_1", "easypost") == [
        ("tracking", "1Z9"),
        ("carrier.shipment", "shp_1"),
    ]
    assert customer_names("c-1", "shopify", "ann@example.com") == [
        ("customer.ref", "c-1"),
        ("shopify.customer", "c-1"),
        ("email", "ann@example.com"),
    ]
    assert ticket_names("zendesk", "77") == [("zendesk.ticket", "77")]
    assert ticket_names("freshdesk", "77") == []


@pytest.mark.parametrize(
    ("kind", "value", "key"),
    [
        ("order.number", "Order no. #01538", "order.number:1538"),
        ("tracking", " 1z 999 aa1 ", "tracking:1Z999AA1"),
        ("email", " Ann@Example.COM", "email:ann@example.com"),
        ("stripe.charge", "ch_1", "stripe.charge:ch_1"),
        ("order.number", "no digits", None),
        ("email", "a" * (KEY_MAX + 1), None),
    ],
)
def test_a_key_is_compared_by_its_normalised_value(kind: str, value: str, key: str | None) -> None:
    assert key_of(kind, value) == key


def test_a_key_of_an_unknown_kind_is_refused_naming_the_kind() -> None:
    with pytest.raises(InvalidEvent, match=re.escape("unknown key kind 'stripe.nonsense'")):
        key_of("stripe.nonsense", "x")


def test_a_suggestion_candidate_carries_the_key_a_reviewer_accepts_by() -> None:
    candidate = Candidate("o-1", "#1001", "order.number #1001 names it", "order.number", "1001")
    assert candidate.as_json() == {
        "order_ref": "o-1",
        "number": "#1001",
        "evidence": "order.number #1001 names it",
        "key_kind": "order.number",
        "key": "1001",
    }


def test_record_types_and_methods_are_the_contract_the_tables_name() -> None:
    assert {t.value for t in RecordType} == {
        "payment",
        "ticket",
        "shipment",
        "fraud_signal",
        "refund",
        "hold",
    }
    assert {m.value for m in LinkMethod} == {"alias", "mention", "email", "suggestion", "manual"}
