"""SLA jeopardy tiers at their boundaries, and what cases share: recurrence and incident keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from orderops.domain.clock import FixedClock
from orderops.domain.jeopardy import Jeopardy, jeopardy
from orderops.domain.root_causes import CaseContext, Dimension, incident_key, recurrence_keys

STARTED = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
DUE = STARTED + timedelta(hours=4)  # at risk from the last hour on


@pytest.mark.parametrize(
    ("elapsed", "tier"),
    [
        (timedelta(0), Jeopardy.ON_TRACK),
        (timedelta(hours=2, minutes=59, seconds=59), Jeopardy.ON_TRACK),
        (timedelta(hours=3), Jeopardy.AT_RISK),
        (timedelta(hours=3, minutes=59, seconds=59), Jeopardy.AT_RISK),
        (timedelta(hours=4), Jeopardy.BREACHED),
        (timedelta(days=3), Jeopardy.BREACHED),
    ],
)
def test_a_case_moves_through_the_tiers_as_its_clock_runs(
    elapsed: timedelta, tier: Jeopardy
) -> None:
    clock = FixedClock(STARTED)
    clock.advance(elapsed)

    assert jeopardy(started_at=STARTED, due_at=DUE, now=clock.now()) is tier


def test_a_case_that_breached_before_stays_breached_on_a_fresh_clock() -> None:
    clock = FixedClock(STARTED)

    fresh = jeopardy(started_at=STARTED, due_at=DUE, now=clock.now(), breached_before=True)

    assert fresh is Jeopardy.BREACHED


def test_a_case_without_a_running_clock_is_on_track() -> None:
    assert jeopardy(started_at=None, due_at=None, now=STARTED) is Jeopardy.ON_TRACK


LANE = CaseContext(
    exception_type="shipment_late",
    customer_id="c-1",
    skus=("SKU-2", "SKU-1", "SKU-2"),
    carrier="ups",
    origin="WH-1",
    destination_region="DE",
    warehouse="WH-1",
)


def test_a_case_is_about_its_customer_each_sku_its_lane_and_warehouse() -> None:
    assert recurrence_keys(LANE) == [
        (Dimension.CUSTOMER, "c-1"),
        (Dimension.SKU, "SKU-1"),
        (Dimension.SKU, "SKU-2"),
        (Dimension.LANE, "ups:WH-1:DE"),
        (Dimension.WAREHOUSE, "WH-1"),
    ]


@pytest.mark.parametrize(
    ("context", "key"),
    [
        (LANE, "shipment_late|lane:ups:WH-1:DE"),
        (
            CaseContext(exception_type="shipment_late", warehouse="WH-9"),
            "shipment_late|warehouse:WH-9",
        ),
        (
            CaseContext(exception_type="inventory_shortfall", carrier="ups", warehouse="WH-2"),
            "inventory_shortfall|warehouse:WH-2",
        ),
        (
            CaseContext(
                exception_type="payment_failed",
                payment_provider="stripe",
                failure_code="processing_error",
            ),
            "payment_failed|payment:stripe:processing_error",
        ),
        (CaseContext(exception_type="payment_failed", payment_provider="stripe"), None),
        (CaseContext(exception_type="fraud_review", warehouse="WH-1", carrier="ups"), None),
        (CaseContext(exception_type="customer_chasing", warehouse="WH-1"), None),
    ],
)
def test_the_incident_key_names_the_shared_root_cause(
    context: CaseContext, key: str | None
) -> None:
    found = incident_key(context)

    assert (found.key if found else None) == key


def test_the_same_lane_with_another_exception_type_is_another_root_cause() -> None:
    late = incident_key(LANE)
    exception = incident_key(
        CaseContext(
            exception_type="carrier_exception",
            carrier="ups",
            origin="WH-1",
            destination_region="DE",
        )
    )

    assert late is not None
    assert exception is not None
    assert late.key != exception.key
    assert late.value == exception.value
