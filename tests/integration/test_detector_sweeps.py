"""Deadline detectors on a real database: sweeps find what came due, across restarts,
with each tenant's policy, and cases close themselves when the blocker clears."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from builders.events import order_placed, payment, scan, shipment
from orderops.bootstrap import App, bootstrap
from orderops.config import Settings
from orderops.domain.cases import ExceptionType
from orderops.domain.clock import FixedClock
from orderops.domain.policy import parse_policy
from orderops.ingest.policy_file import EXAMPLE_POLICY, load_policy_file, store_policy
from orderops.storage.repositories.cases import CaseFilter
from orderops.storage.uow import UnitOfWork
from orderops.workflow.batch import ingest_items
from orderops.workflow.sweeps import sweep

T0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
HOLD = str(ExceptionType.PAYMENT_HOLD)
NO_SCAN = str(ExceptionType.PRE_DISPATCH_DELAY)


def ingest(app: App, clock: FixedClock, *items: dict[str, Any]) -> None:
    report = ingest_items(
        app.sessions, tenant_id="acme", items=list(items), channel="test", clock=clock
    )
    assert report.rejected == [], [r.reason for r in report.rejected]


def cases(app: App) -> dict[str, tuple[str, int, str | None]]:
    """Exception type -> (status, occurrences, close reason) of order o-1's cases."""
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        page = uow.cases.search(CaseFilter(), limit=1000, offset=0)
        found = {}
        for c in page.items:
            assert c.exception_type not in found, "one case per order and type"
            found[c.exception_type] = (c.status, c.occurrences, c.close_reason)
        return found


def held_order(app: App, clock: FixedClock) -> None:
    """Authorised at T0, never captured; a label bought at T0 + 1h, never scanned."""
    clock.set(T0 + H)
    ingest(
        app,
        clock,
        order_placed(at=T0, promised_by=T0 + 30 * 24 * H),
        payment(status="authorized", at=T0 + 60 * timedelta(seconds=1)),
        shipment(at=T0 + H),
    )


def test_deadlines_that_pass_while_the_worker_is_down_are_found_once(
    app: App, clock: FixedClock, database_url: str, tmp_path: Path
) -> None:
    held_order(app, clock)
    assert sweep(app.sessions, tenant_id="acme", clock=clock) == []
    app.close()

    clock.set(T0 + 50 * H)
    for _ in range(2):  # two restarts, two sweeps each: nothing missed, nothing doubled
        again = bootstrap(
            Settings(database_url=database_url, data_dir=tmp_path, demo_mode=True), clock=clock
        )
        try:
            sweep(again.sessions, tenant_id="acme", clock=clock)
            sweep(again.sessions, tenant_id="acme", clock=clock)
            found = cases(again)
        finally:
            again.close()
        assert found[HOLD] == ("new", 1, None)
        assert found[NO_SCAN] == ("new", 1, None)


def test_a_deadline_not_yet_passed_opens_nothing(app: App, clock: FixedClock) -> None:
    held_order(app, clock)
    clock.set(T0 + 24 * H)  # the label is 23h old, the authorisation 24h
    sweep(app.sessions, tenant_id="acme", clock=clock)
    assert cases(app) == {}


def test_cases_close_when_the_blocker_clears(app: App, clock: FixedClock) -> None:
    held_order(app, clock)
    clock.set(T0 + 50 * H)
    sweep(app.sessions, tenant_id="acme", clock=clock)

    ingest(
        app,
        clock,
        payment(status="captured", at=T0 + 50 * H),
        scan("in_transit", at=T0 + 50 * H),
    )

    found = cases(app)
    assert found[HOLD] == ("resolved", 1, "payment captured")
    assert found[NO_SCAN] == ("resolved", 1, "the carrier scanned the parcel")


def test_the_tenant_policy_sets_thresholds_and_switches_detectors_off(
    app: App, clock: FixedClock
) -> None:
    document = load_policy_file(EXAMPLE_POLICY).model_dump(mode="json")
    document["detectors"] = {
        "payment_hold": {"enabled": False},
        "pre_dispatch_delay": {"enabled": True, "thresholds": {"first_scan_hours": 6}},
    }
    store_policy(
        app.sessions, tenant_id="acme", policy=parse_policy(document), actor="ops", clock=clock
    )
    held_order(app, clock)

    clock.set(T0 + 8 * H)  # the label is 7h old: past the tenant's 6h, before the default 24h
    sweep(app.sessions, tenant_id="acme", clock=clock)
    clock.set(T0 + 60 * H)  # the authorisation is 60h old, but the hold detector is off
    sweep(app.sessions, tenant_id="acme", clock=clock)

    found = cases(app)
    assert found[NO_SCAN] == ("new", 1, None)
    assert HOLD not in found
