"""Every order detector, judged on snapshots built by hand (no database).

Each table row is one situation: whether the detector opens (``detected``), whether the
blocker is gone (``cleared``), and for deadline rules whether the verdict needs a sweep
(``time_based``). Thresholds are tested one second either side of their default, and
once with a tenant override.
"""

# ruff: noqa: E501  (the tables read one situation per line)
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orderops.detect.orders import CustomerChasingDetector, StuckOrderDetector
from orderops.detect.payments import (
    AuthorizationExpiringDetector,
    DuplicateChargeDetector,
    FraudReviewDetector,
    PaymentHoldDetector,
    RefundPendingDetector,
)
from orderops.detect.registry import DETECTORS
from orderops.detect.shipping import (
    AddressProblemDetector,
    CarrierExceptionDetector,
    PartialFulfillmentOverdueDetector,
    PreDispatchDelayDetector,
    ShipmentLateDetector,
)
from orderops.detect.silence import SourceActivity, judge_source, silence_deadline
from orderops.detect.stock import InventoryShortfallDetector, SubstitutionNeededDetector
from orderops.detect.verdict import Detector
from orderops.domain.cases import DESK_RAISED, ExceptionType
from orderops.domain.facts import (
    FraudFact,
    LineFact,
    OrderSnapshot,
    PaymentFact,
    ShipmentFact,
    TicketFact,
    derive_financial_status,
)
from orderops.domain.statuses import PaymentStatus

T0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
SEC = timedelta(seconds=1)
P = PaymentStatus
ADDRESS = {"line1": "1 Main St", "city": "Columbus", "postal_code": "43004", "country": "US"}


def pay(
    status: PaymentStatus = P.AUTHORIZED,
    *,
    ref: str = "pi_1",
    amount: int = 5000,
    refunded: int = 0,
    authorized_at: datetime | None = T0,
    captured_at: datetime | None = None,
    refunded_at: datetime | None = None,
) -> PaymentFact:
    return PaymentFact(
        payment_ref=ref,
        provider="stripe",
        status=status,
        amount_minor=amount,
        amount_refunded_minor=refunded,
        currency="USD",
        status_at=captured_at or authorized_at or T0,
        created_at=authorized_at or captured_at or T0,
        authorized_at=authorized_at,
        captured_at=captured_at,
        refunded_at=refunded_at,
    )


def parcel(
    status: str = "in_transit",
    *,
    at: datetime = T0,
    number: str = "1Z1",
    label_at: datetime | None = T0,
    first_scan_at: datetime | None = T0 + H,
    message: str | None = None,
    origin: str = "wh-east",
    delivered_at: datetime | None = None,
) -> ShipmentFact:
    return ShipmentFact(
        carrier="UPS",
        tracking_number=number,
        status=status,
        status_at=at,
        delivered_at=delivered_at,
        label_at=label_at,
        first_scan_at=first_scan_at,
        last_message=message,
        origin_location=origin,
    )


def order(
    *,
    payments: Sequence[PaymentFact] = (),
    shipments: Sequence[ShipmentFact] = (),
    lines: Sequence[LineFact] = (),
    signals: Sequence[FraudFact] = (),
    tickets: Sequence[TicketFact] = (),
    cancelled_at: datetime | None = None,
    ship_to: dict[str, Any] | None = None,
    delivered_at: datetime | None = None,
    promised_by: datetime | None = T0 + 72 * H,
) -> OrderSnapshot:
    return OrderSnapshot(
        order_ref="o1",
        number="1001",
        cancelled=cancelled_at is not None,
        cancelled_at=cancelled_at,
        currency="USD",
        total_minor=5000,
        placed_at=T0,
        promised_by=promised_by,
        financial_status=derive_financial_status(payments),
        delivered_at=delivered_at,
        payments=tuple(payments),
        shipments=tuple(shipments),
        location="wh-east",
        ship_to=ADDRESS if ship_to is None else ship_to,
        lines=tuple(lines),
        fraud_signals=tuple(signals),
        tickets=tuple(tickets),
    )


CAPTURED = pay(P.CAPTURED, captured_at=T0 + 2 * H)
LINE = LineFact(sku="SKU-1", quantity=2, location=None, available=10)
SHORT = LineFact(sku="SKU-1", quantity=2, location=None, available=1, short_since=T0)
TICKETS = [
    TicketFact(ticket_ref=f"t{i}", opened_at=T0 + i * 10 * H, status="new") for i in range(3)
]

CASES: list[tuple[str, Detector, OrderSnapshot, datetime, bool, bool, bool]] = [
    # name, detector, order, now, detected, cleared, time_based
    ("hold: captured in time", PaymentHoldDetector(), order(payments=[pay(P.CAPTURED, captured_at=T0 + 47 * H)]), T0 + 60 * H, False, True, False),
    ("hold: 1s short of 48h", PaymentHoldDetector(), order(payments=[pay()]), T0 + 48 * H - SEC, False, False, False),
    ("hold: 48h uncaptured", PaymentHoldDetector(), order(payments=[pay()]), T0 + 48 * H, True, False, True),
    ("hold: held long, captured since", PaymentHoldDetector(), order(payments=[pay(P.CAPTURED, captured_at=T0 + 50 * H)]), T0 + 60 * H, True, True, True),
    ("hold: review opened", PaymentHoldDetector(), order(payments=[pay()], signals=[FraudFact(kind="review_opened", occurred_at=T0 + H)]), T0 + 2 * H, True, False, False),
    ("expiring: 1s before the warning", AuthorizationExpiringDetector(), order(payments=[pay()]), T0 + 6 * 24 * H - SEC, False, False, False),
    ("expiring: within 24h of expiry", AuthorizationExpiringDetector(), order(payments=[pay()]), T0 + 6 * 24 * H, True, False, True),
    ("expiring: captured on day 2", AuthorizationExpiringDetector(), order(payments=[pay(P.CAPTURED, captured_at=T0 + 48 * H)]), T0 + 8 * 24 * H, False, True, False),
    ("fraud: score below", FraudReviewDetector(), order(payments=[CAPTURED], signals=[FraudFact(kind="risk_score", occurred_at=T0, score=74.9)]), T0 + H, False, False, False),
    ("fraud: score at threshold", FraudReviewDetector(), order(payments=[CAPTURED], signals=[FraudFact(kind="risk_score", occurred_at=T0, score=75)]), T0 + H, True, False, False),
    ("fraud: early warning", FraudReviewDetector(), order(payments=[CAPTURED], signals=[FraudFact(kind="early_fraud_warning", occurred_at=T0)]), T0 + H, True, False, False),
    ("fraud: dispute on a cancelled order", FraudReviewDetector(), order(payments=[CAPTURED], signals=[FraudFact(kind="dispute", occurred_at=T0)], cancelled_at=T0), T0 + H, False, True, False),
    ("duplicate: one capture", DuplicateChargeDetector(), order(payments=[CAPTURED]), T0 + 3 * H, False, False, False),
    ("duplicate: two captures", DuplicateChargeDetector(), order(payments=[CAPTURED, replace(CAPTURED, payment_ref="pi_2", captured_at=T0 + 3 * H)]), T0 + 4 * H, True, False, False),
    ("duplicate: second refunded", DuplicateChargeDetector(), order(payments=[CAPTURED, replace(CAPTURED, payment_ref="pi_2", status=P.REFUNDED, amount_refunded_minor=5000)]), T0 + 4 * H, True, True, False),
    ("duplicate: two halves", DuplicateChargeDetector(), order(payments=[replace(CAPTURED, amount_minor=2500), replace(CAPTURED, payment_ref="pi_2", amount_minor=2500)]), T0 + 4 * H, False, False, False),
    ("refund: 1s before 48h", RefundPendingDetector(), order(payments=[CAPTURED], cancelled_at=T0 + 3 * H), T0 + 51 * H - SEC, False, False, False),
    ("refund: 48h unrefunded", RefundPendingDetector(), order(payments=[CAPTURED], cancelled_at=T0 + 3 * H), T0 + 51 * H, True, False, True),
    ("refund: partial only", RefundPendingDetector(), order(payments=[replace(CAPTURED, status=P.PARTIALLY_REFUNDED, amount_refunded_minor=2500)], cancelled_at=T0 + 3 * H), T0 + 60 * H, True, False, True),
    ("refund: completed in time", RefundPendingDetector(), order(payments=[replace(CAPTURED, status=P.REFUNDED, amount_refunded_minor=5000, refunded_at=T0 + 10 * H)], cancelled_at=T0 + 3 * H), T0 + 60 * H, False, True, False),
    ("shortfall: stock covers", InventoryShortfallDetector(), order(lines=[LINE]), T0 + H, False, True, False),
    ("shortfall: stock short", InventoryShortfallDetector(), order(lines=[SHORT]), T0 + H, True, False, False),
    ("shortfall: unknown stock", InventoryShortfallDetector(), order(lines=[replace(LINE, available=None)]), T0 + H, False, True, False),
    ("shortfall: line already shipped", InventoryShortfallDetector(), order(lines=[SHORT], shipments=[parcel()]), T0 + H, False, True, False),
    ("substitute: short 1s under 24h", SubstitutionNeededDetector(), order(lines=[SHORT]), T0 + 24 * H - SEC, False, False, False),
    ("substitute: short 24h", SubstitutionNeededDetector(), order(lines=[SHORT]), T0 + 24 * H, True, False, True),
    ("substitute: was short 30h, restocked", SubstitutionNeededDetector(), order(lines=[replace(SHORT, available=5, short_cleared_at=T0 + 30 * H)]), T0 + 40 * H, True, True, True),
    ("substitute: restocked after 5h", SubstitutionNeededDetector(), order(lines=[replace(SHORT, available=5, short_cleared_at=T0 + 5 * H)]), T0 + 40 * H, False, True, False),
    ("no scan: 1s under 24h", PreDispatchDelayDetector(), order(shipments=[parcel("label_created", first_scan_at=None)]), T0 + 24 * H - SEC, False, False, False),
    ("no scan: 24h", PreDispatchDelayDetector(), order(shipments=[parcel("label_created", first_scan_at=None)]), T0 + 24 * H, True, False, True),
    ("no scan: scanned after 30h", PreDispatchDelayDetector(), order(shipments=[parcel(first_scan_at=T0 + 30 * H)]), T0 + 40 * H, True, True, True),
    ("no scan: scanned in time", PreDispatchDelayDetector(), order(shipments=[parcel()]), T0 + 40 * H, False, True, False),
    ("carrier: in transit", CarrierExceptionDetector(), order(shipments=[parcel()]), T0 + H, False, True, False),
    *[
        (f"carrier: {status}", CarrierExceptionDetector(), order(shipments=[parcel(status)]), T0 + H, True, False, False)
        for status in ("failed_attempt", "return_to_sender", "lost", "exception")
    ],
    ("carrier: pickup 1s under 5 days", CarrierExceptionDetector(), order(shipments=[parcel("available_for_pickup")]), T0 + 5 * 24 * H - SEC, False, False, False),
    ("carrier: pickup 5 days", CarrierExceptionDetector(), order(shipments=[parcel("available_for_pickup")]), T0 + 5 * 24 * H, True, False, True),
    ("address: complete", AddressProblemDetector(), order(), T0 + H, False, True, False),
    ("address: postal code missing", AddressProblemDetector(), order(ship_to={**ADDRESS, "postal_code": ""}), T0 + H, True, False, False),
    ("address: carrier says invalid", AddressProblemDetector(), order(shipments=[parcel("exception", message="Address information required: street number missing")]), T0 + H, True, False, False),
    ("address: other exception message", AddressProblemDetector(), order(shipments=[parcel("exception", message="Package damaged in transit")]), T0 + H, False, True, False),
    ("stuck: 1s under 6h without payment", StuckOrderDetector(), order(), T0 + 6 * H - SEC, False, False, False),
    ("stuck: 6h without payment", StuckOrderDetector(), order(), T0 + 6 * H, True, False, True),
    ("stuck: paid after 1h", StuckOrderDetector(), order(payments=[pay(authorized_at=T0 + H)]), T0 + 10 * H, False, True, False),
    ("partial: single location", PartialFulfillmentOverdueDetector(), order(lines=[LINE], shipments=[parcel()]), T0 + 100 * H, False, False, False),
    ("partial: 1s under 2 days", PartialFulfillmentOverdueDetector(), order(lines=[LINE, replace(LINE, location="wh-west")], shipments=[parcel()]), T0 + 48 * H - SEC, False, False, False),
    ("partial: 2 days, rest not shipped", PartialFulfillmentOverdueDetector(), order(lines=[LINE, replace(LINE, location="wh-west")], shipments=[parcel()]), T0 + 48 * H, True, False, True),
    ("partial: rest shipped next day", PartialFulfillmentOverdueDetector(), order(lines=[LINE, replace(LINE, location="wh-west")], shipments=[parcel(), parcel(number="1Z2", origin="wh-west", label_at=T0 + 24 * H)]), T0 + 60 * H, False, True, False),
    ("chasing: 2 tickets", CustomerChasingDetector(), order(tickets=TICKETS[:2]), T0 + 30 * H, False, False, False),
    ("chasing: 3 within 72h", CustomerChasingDetector(), order(tickets=TICKETS), T0 + 30 * H, True, False, False),
    ("chasing: 3 spread over 100h", CustomerChasingDetector(), order(tickets=[replace(t, opened_at=T0 + i * 50 * H) for i, t in enumerate(TICKETS)]), T0 + 200 * H, False, False, False),
    ("chasing: 3, all solved", CustomerChasingDetector(), order(tickets=[replace(t, status="solved") for t in TICKETS]), T0 + 30 * H, True, True, False),
    ("late: 1s before the promise", ShipmentLateDetector(), order(payments=[CAPTURED], shipments=[parcel()]), T0 + 72 * H - SEC, False, False, False),
    ("late: promise passed", ShipmentLateDetector(), order(payments=[CAPTURED], shipments=[parcel()]), T0 + 72 * H + SEC, True, False, True),
]  # fmt: skip


@pytest.mark.parametrize(
    ("detector", "snapshot", "now", "detected", "cleared", "time_based"),
    [pytest.param(*row[1:], id=row[0]) for row in CASES],
)
def test_detector_table(
    detector: Detector,
    snapshot: OrderSnapshot,
    now: datetime,
    detected: bool,
    cleared: bool,
    time_based: bool,
) -> None:
    verdict = detector.judge(snapshot, now=now)
    assert verdict.exception_type is detector.exception_type
    assert (verdict.detected, verdict.cleared) == (detected, cleared)
    if detected:
        assert verdict.time_based is time_based
        assert verdict.evidence_key, "a detected signal names its evidence"
        assert verdict.detected_at is not None
        assert verdict.detected_at <= now
    if cleared:
        assert verdict.clear_reason


@pytest.mark.parametrize(
    ("detector", "snapshot", "now", "thresholds", "detected"),
    [
        (
            PaymentHoldDetector(),
            order(payments=[pay()]),
            T0 + 24 * H,
            {"capture_wait_hours": 24},
            True,
        ),
        (
            PaymentHoldDetector(),
            order(payments=[pay()]),
            T0 + 24 * H,
            {"capture_wait_hours": 25},
            False,
        ),
        (
            FraudReviewDetector(),
            order(
                payments=[CAPTURED],
                signals=[FraudFact(kind="risk_score", occurred_at=T0, score=60)],
            ),
            T0 + H,
            {"risk_score": 60},
            True,
        ),
        (CustomerChasingDetector(), order(tickets=TICKETS[:2]), T0 + 30 * H, {"tickets": 2}, True),
        (
            PreDispatchDelayDetector(),
            order(shipments=[parcel("label_created", first_scan_at=None)]),
            T0 + 12 * H,
            {"first_scan_hours": 12},
            True,
        ),
        (
            ShipmentLateDetector(),
            order(payments=[CAPTURED], shipments=[parcel()]),
            T0 + 73 * H,
            {"grace_hours": 4},
            False,
        ),
    ],
)
def test_thresholds_come_from_the_tenant(
    detector: Detector,
    snapshot: OrderSnapshot,
    now: datetime,
    thresholds: dict[str, float],
    detected: bool,
) -> None:
    assert detector.judge(snapshot, now=now, thresholds=thresholds).detected is detected


def test_a_deadline_ahead_is_named_for_the_sweep() -> None:
    verdict = PaymentHoldDetector().judge(order(payments=[pay()]), now=T0 + H)
    assert verdict.recheck_at == T0 + 48 * H


def test_every_order_type_has_exactly_one_detector() -> None:
    kinds = [d.exception_type for d in DETECTORS]
    assert len(kinds) == len(set(kinds))
    assert set(kinds) == set(ExceptionType) - {ExceptionType.INTEGRATION_SILENCE} - DESK_RAISED


BUSY = SourceActivity("sim://shopify", T0, events_in_lookback=201, first_in_lookback=T0 - 200 * H)


@pytest.mark.parametrize(
    ("activity", "now", "detected"),
    [
        (BUSY, T0 + 12 * H - SEC, False),  # usual gap 1h x 10 = 10h < 12h floor
        (BUSY, T0 + 12 * H, True),
        (replace(BUSY, events_in_lookback=167), T0 + 100 * H, False),  # no habit yet
        (replace(BUSY, events_in_lookback=11), T0 + 100 * H, False),
    ],
)
def test_integration_silence(activity: SourceActivity, now: datetime, detected: bool) -> None:
    verdict = judge_source(activity, now=now)
    assert verdict.detected is detected
    assert verdict.cleared is not detected


def test_the_usual_gap_scales_the_silence() -> None:
    sparse = replace(BUSY, first_in_lookback=T0 - 400 * H)  # usual gap 2h
    assert silence_deadline(sparse) == T0 + 20 * H


def test_policy_thresholds_unknown_to_a_detector_are_named() -> None:
    from orderops.detect.thresholds import config_from_policy
    from orderops.domain.policy import InvalidPolicy
    from orderops.ingest.policy_file import EXAMPLE_POLICY, load_policy_file, parse_policy

    document = load_policy_file(EXAMPLE_POLICY).model_dump(mode="json")
    document["detectors"] = {
        "payment_hold": {"enabled": False},
        "fraud_review": {"thresholds": {"risk_score": 60, "riskscore": 1}},
    }
    policy = parse_policy(document)
    with pytest.raises(InvalidPolicy, match=r"detectors.fraud_review.thresholds.riskscore"):
        config_from_policy(policy)
    lenient = config_from_policy(policy, strict=False)
    assert lenient.thresholds(ExceptionType.FRAUD_REVIEW) == {"risk_score": 60.0}
    assert not lenient.enabled(ExceptionType.PAYMENT_HOLD)
    assert lenient.enabled(ExceptionType.PAYMENT_FAILED)


def test_a_line_no_location_names_is_short_until_the_order_ships_from_anywhere() -> None:
    """Shopify lines name no location: stock summed over all locations judges them, and
    the order's first parcel (from whichever location) takes them."""
    unrouted = replace(order(lines=[SHORT]), location=None)
    shipped = replace(order(lines=[SHORT], shipments=[parcel(origin="wh-west")]), location=None)

    waiting = InventoryShortfallDetector().judge(unrouted, now=T0 + H)
    gone = InventoryShortfallDetector().judge(shipped, now=T0 + H)

    assert (waiting.detected, waiting.cleared) == (True, False)
    assert (gone.detected, gone.cleared, gone.clear_reason) == (False, True, "order shipped")


def test_a_source_quiet_every_night_is_not_silent_at_dawn_but_one_quiet_by_day_is() -> None:
    """A support desk with 40 tickets a day, all between 08:00 and 18:00 UTC: 13 quiet
    night hours are its habit, while 13 quiet hours from 08:00 miss about 40 tickets."""
    by_hour = tuple(28 if 8 <= h < 18 else 0 for h in range(24))  # 7 days x 4 per hour
    evening = datetime(2026, 11, 9, 18, 0, tzinfo=UTC)
    desk = SourceActivity(
        "zendesk",
        evening,
        events_in_lookback=280,
        first_in_lookback=evening - 7 * 24 * H,
        by_hour=by_hour,
    )
    morning = replace(desk, last_event_at=evening - 10 * H)  # quiet since 08:00

    assert judge_source(desk, now=evening + 13 * H).detected is False  # 07:00 next day
    assert silence_deadline(desk) == evening + 16.5 * H  # 10 tickets in by 10:30 next day
    assert silence_deadline(morning) == morning.last_event_at + 12 * H  # the 12 h floor
    assert judge_source(morning, now=morning.last_event_at + 13 * H).detected is True
