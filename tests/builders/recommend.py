"""Builders for recommendation facts: a late order with one captured payment and one parcel."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from orderops.domain.cases import ExceptionType
from orderops.domain.statuses import PaymentStatus, TrackingStatus
from orderops.recommend.facts import CaseFacts, LineFact, PaymentFact, ShipmentFact

NOW = datetime(2024, 6, 12, 12, 0, tzinfo=UTC)


def late_facts(
    *,
    days_late: float = 4.0,
    tier: str = "standard",
    total_minor: int = 5000,
    delivered: bool = False,
    refunded_minor: int = 0,
    exception_type: ExceptionType = ExceptionType.SHIPMENT_LATE,
    **changes: Any,
) -> CaseFacts:
    promised = NOW - timedelta(days=days_late)
    shipped = promised - timedelta(days=3)
    facts = CaseFacts(
        exception_type=exception_type,
        case_id="case-1",
        order_ref="gid-1",
        order_number="1001",
        currency="USD",
        total_minor=total_minor,
        placed_at=shipped - timedelta(days=1),
        promised_by=promised,
        now=NOW,
        location="wh-east",
        customer_id="cust-1",
        customer_name="Ana Lopez",
        customer_email="ana@example.com",
        customer_tier=tier,
        lines=(
            LineFact(
                sku="APP-101",
                title="Tee",
                quantity=1,
                unit_price_minor=total_minor,
                location="wh-east",
            ),
        ),
        payments=(
            PaymentFact(
                payment_ref="pi_1",
                status=PaymentStatus.PARTIALLY_REFUNDED
                if refunded_minor
                else PaymentStatus.CAPTURED,
                amount_minor=total_minor,
                refunded_minor=refunded_minor,
            ),
        ),
        shipments=(
            ShipmentFact(
                tracking_number="1Z999AA10123456784",
                carrier="UPS",
                service="Ground",
                status=TrackingStatus.DELIVERED if delivered else TrackingStatus.IN_TRANSIT,
                shipped_at=shipped,
                delivered_at=NOW - timedelta(hours=1) if delivered else None,
            ),
        ),
    )
    return replace(facts, **changes)
