"""A simulated store, ingested whole, opens exactly the cases its ground truth names."""

from __future__ import annotations

from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.ingest.batch import ingest_items
from orderops.sim import SimConfig, simulate
from orderops.storage.repositories.cases import CaseFilter
from orderops.storage.uow import UnitOfWork
from orderops.workflow.sweeps import sweep_late_orders


def _opened_cases(app: App, tenant: str) -> set[tuple[str, str]]:
    with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
        page = uow.cases.search(CaseFilter(), limit=100_000, offset=0)
        return {(c.exception_type, c.order_ref) for c in page.items}


def test_a_simulated_day_opens_exactly_the_labelled_cases(app: App, clock: FixedClock) -> None:
    config = SimConfig(seed=11, days=1.0, history_days=6, orders_per_day=60, tenant="acme")
    result = simulate(config)
    clock.set(config.end)

    report = ingest_items(
        app.sessions, tenant_id="acme", items=result.events, channel="test", clock=clock
    )
    sweep_late_orders(app.sessions, tenant_id="acme", clock=clock)

    expected = {(str(label.type), label.order_ref) for label in result.labels}
    assert report.rejected == []
    assert report.accepted == len(result.events)
    assert {t for t, _ in expected} == {"payment_failed", "shipment_late"}
    opened = _opened_cases(app, "acme")
    assert opened - expected == set(), "cases opened that the ground truth does not name"
    assert expected - opened == set(), "labelled exceptions that no case covers"


def test_replaying_the_same_stream_changes_nothing(app: App, clock: FixedClock) -> None:
    config = SimConfig(seed=5, days=0.5, history_days=6, orders_per_day=30, tenant="acme")
    result = simulate(config)
    clock.set(config.end)
    ingest_items(app.sessions, tenant_id="acme", items=result.events, channel="test", clock=clock)
    sweep_late_orders(app.sessions, tenant_id="acme", clock=clock)
    before = _opened_cases(app, "acme")

    again = ingest_items(
        app.sessions, tenant_id="acme", items=result.events, channel="test", clock=clock
    )
    sweep_late_orders(app.sessions, tenant_id="acme", clock=clock)

    assert again.accepted == 0
    assert again.duplicates == len(result.events)
    assert again.changes == []
    assert _opened_cases(app, "acme") == before
