"""A confident cancel request on an order no carrier has scanned is an exception of its
own; an unsure one, one on a shipped order, or one already done opens nothing; and the
ticket class is something a routing rule can match."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from orderops.detect.ticket_requests import CancelRequestedDetector
from orderops.domain.cases import ExceptionType
from orderops.domain.facts import OrderSnapshot, ShipmentFact, TicketFact
from orderops.domain.routing import (
    DEFAULT_RULES,
    RoutingInput,
    route,
    rule_from_dict,
    rule_to_dict,
)
from orderops.domain.statuses import FinancialStatus

T0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)


def ask(
    confidence: float = 0.9, *, at: datetime = T0 + H, kind: str = "cancel_request"
) -> TicketFact:
    return TicketFact(
        ticket_ref="t-1",
        opened_at=at,
        status="open",
        ticket_class=kind,
        ticket_class_confidence=confidence,
    )


def parcel(*, label_at: datetime = T0 + 2 * H, scan_at: datetime | None = None) -> ShipmentFact:
    return ShipmentFact(
        carrier="ups",
        tracking_number="1Z1",
        status="in_transit" if scan_at else "label_created",
        status_at=scan_at or label_at,
        delivered_at=None,
        label_at=label_at,
        first_scan_at=scan_at,
    )


def order(
    *,
    tickets: tuple[TicketFact, ...] = (),
    shipments: tuple[ShipmentFact, ...] = (),
    cancelled_at: datetime | None = None,
) -> OrderSnapshot:
    return OrderSnapshot(
        order_ref="o1",
        number="1001",
        cancelled=cancelled_at is not None,
        cancelled_at=cancelled_at,
        currency="USD",
        total_minor=5000,
        placed_at=T0,
        promised_by=None,
        financial_status=FinancialStatus.AUTHORIZED,
        delivered_at=None,
        tickets=tickets,
        shipments=shipments,
    )


@pytest.mark.parametrize(
    ("snapshot", "detected", "cleared"),
    [
        (order(tickets=(ask(),)), True, False),
        (order(tickets=(ask(),), shipments=(parcel(),)), True, False),
        (order(tickets=(ask(0.7),)), False, False),
        (order(tickets=(ask(kind="where_is_my_order"),)), False, False),
        (order(tickets=(ask(),), shipments=(parcel(scan_at=T0 + 0.5 * H),)), False, False),
        (order(tickets=(ask(),), shipments=(parcel(scan_at=T0 + 5 * H),)), True, True),
        (order(tickets=(ask(),), cancelled_at=T0 + 3 * H), True, True),
        (order(tickets=(ask(),), cancelled_at=T0 + 0.5 * H), False, False),
        (order(), False, False),
    ],
    ids=[
        "unshipped",
        "label bought, not scanned",
        "unsure",
        "another class",
        "asked after the first scan",
        "scanned after the ask",
        "cancelled as asked",
        "cancelled before the ask",
        "no ticket",
    ],
)
def test_a_cancel_request_is_an_exception_only_while_the_order_can_still_be_stopped(
    snapshot: OrderSnapshot, detected: bool, cleared: bool
) -> None:
    verdict = CancelRequestedDetector().judge(snapshot, now=T0 + 10 * H)

    assert verdict.exception_type is ExceptionType.CANCEL_REQUESTED
    assert (verdict.detected, verdict.cleared) == (detected, cleared)


def test_the_case_names_the_ticket_its_confidence_and_the_labels_to_void() -> None:
    verdict = CancelRequestedDetector().judge(
        order(tickets=(ask(0.91),), shipments=(parcel(),)), now=T0 + 10 * H
    )

    assert verdict.detected_at == T0 + H
    assert verdict.facts["ticket"] == "t-1"
    assert verdict.facts["confidence"] == 0.91
    assert verdict.facts["labels_to_void"] == ["1Z1"]
    assert "0.91" in verdict.summary


def test_a_tenant_can_ask_for_more_confidence() -> None:
    verdict = CancelRequestedDetector().judge(
        order(tickets=(ask(0.8),)), now=T0 + 10 * H, thresholds={"min_confidence": 0.85}
    )

    assert verdict.detected is False


def facts(ticket_class: str | None) -> RoutingInput:
    return RoutingInput(
        exception_type="shipment_late", order_value_minor=5000, ticket_class=ticket_class
    )


@pytest.mark.parametrize(
    ("ticket_class", "queue"),
    [
        ("damaged", "support"),
        ("wrong_item", "support"),
        ("where_is_my_order", "ops"),
        (None, "ops"),
    ],
)
def test_by_default_a_customer_reporting_damage_or_a_wrong_item_goes_to_support(
    ticket_class: str | None, queue: str
) -> None:
    assert route(DEFAULT_RULES, facts(ticket_class)).queue == queue


def test_a_rule_on_ticket_classes_survives_its_stored_form() -> None:
    rule = rule_from_dict(
        {"name": "cancels", "queue": "ops", "when": {"ticket_classes": ["cancel_request"]}}
    )

    assert rule_from_dict(rule_to_dict(rule)) == rule
    assert rule.when.matches(facts("cancel_request"))
    assert not rule.when.matches(facts("refund_request"))


def test_an_unknown_ticket_class_in_a_rule_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"unknown ticket class\(es\) \['cancel'\]"):
        rule_from_dict({"name": "x", "queue": "ops", "when": {"ticket_classes": ["cancel"]}})
