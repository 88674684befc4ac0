"""The same stored events give the same cases however their processing is interleaved.

Tenants of one database receive the same simulated store: one processes it in event
order in a single pass (the reference), the others in another interleaving (newest
first or shuffled in chunks, or the request path racing the worker), with time sweeps
in between, all at one fixed clock. The cases, auto-resolved ones included, must come
out identical.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

import pytest

from orderops.bootstrap import App
from orderops.domain.cases import ExceptionType
from orderops.domain.clock import FixedClock
from orderops.ingest.intake import Outcome, accept_items
from orderops.sim import SimConfig, simulate
from orderops.storage.repositories.cases import CaseFilter
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.tenants import ensure_tenant
from orderops.workflow import pipeline
from orderops.workflow.pipeline import process_many, process_pending
from orderops.workflow.sweeps import sweep

RATES = {
    t.value: 0.1
    for t in ExceptionType
    if t not in (ExceptionType.PAYMENT_FAILED, ExceptionType.SHIPMENT_LATE)
} | {ExceptionType.INTEGRATION_SILENCE.value: 1.0}
CONFIG = SimConfig(
    seed=3,
    days=1.0,
    history_days=3,
    orders_per_day=6,
    tenant="acme",
    rates=RATES,
    payment_failed_rate=0.2,
    late_rate=0.2,
)
REFERENCE, OTHER = "acme", "globex"

CaseKey = tuple[str, str, str]


@cache
def _events() -> list[dict[str, Any]]:
    return simulate(CONFIG).events


def _store(app: App, clock: FixedClock, tenant: str) -> list[str]:
    """Receive every event first; return the inbox ids in the order they were sent."""
    results = accept_items(
        app.sessions, tenant_id=tenant, items=_events(), channel="test", clock=clock
    )
    assert all(r.outcome is Outcome.ACCEPTED for r in results)
    return [r.inbox_id for r in results if r.inbox_id]


def _cases(app: App, tenant: str) -> list[CaseKey]:
    with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
        page = uow.cases.search(CaseFilter(), limit=100_000, offset=0)
        return sorted((c.order_ref, c.exception_type, c.status) for c in page.items)


def _sweep(app: App, clock: FixedClock, tenant: str) -> None:
    sweep(app.sessions, tenant_id=tenant, clock=clock)


def _in_one_pass(app: App, clock: FixedClock) -> list[CaseKey]:
    ids = _store(app, clock, REFERENCE)
    process_many(app.sessions, tenant_id=REFERENCE, inbox_ids=ids, clock=clock)
    _sweep(app, clock, REFERENCE)
    cases = _cases(app, REFERENCE)
    statuses = {status for _, _, status in cases}
    assert {"new", "resolved"} <= statuses, "the reference run opens and auto-resolves cases"
    return cases


def _in_chunks(app: App, clock: FixedClock, tenant: str, ids: Sequence[str], *, size: int) -> None:
    for start in range(0, len(ids), size):
        part = ids[start : start + size]
        process_many(app.sessions, tenant_id=tenant, inbox_ids=part, clock=clock)
        _sweep(app, clock, tenant)
    _sweep(app, clock, tenant)


def _shuffled(ids: list[str]) -> list[str]:
    random.Random(8).shuffle(ids)
    return ids


def _assert_same(got: list[CaseKey], reference: list[CaseKey]) -> None:
    assert set(got) - set(reference) == set(), "cases the ordered pass never opened"
    assert set(reference) - set(got) == set(), "cases of the ordered pass missing"
    assert len(got) == len(reference)


def test_newest_first_or_shuffled_in_chunks_gives_the_cases_of_one_ordered_pass(
    app: App, clock: FixedClock
) -> None:
    clock.set(CONFIG.end)
    reference = _in_one_pass(app, clock)
    ensure_tenant(app.sessions, tenant_id="initech", name="Initech", clock=clock)

    _in_chunks(app, clock, OTHER, _store(app, clock, OTHER)[::-1], size=40)
    _in_chunks(app, clock, "initech", _shuffled(_store(app, clock, "initech")), size=25)

    _assert_same(_cases(app, OTHER), reference)
    _assert_same(_cases(app, "initech"), reference)


def test_the_request_path_racing_the_worker_gives_the_cases_of_one_ordered_pass(
    app: App, clock: FixedClock
) -> None:
    clock.set(CONFIG.end)
    reference = _in_one_pass(app, clock)
    ids = _shuffled(_store(app, clock, OTHER))
    failures: list[BaseException] = []

    def requests() -> None:
        for start in range(0, len(ids), 15):
            part = ids[start : start + 15]
            process_many(app.sessions, tenant_id=OTHER, inbox_ids=part, clock=clock)

    def worker() -> None:
        for _ in range(8):
            process_pending(app.sessions, tenant_id=OTHER, clock=clock, batch=20)
            _sweep(app, clock, OTHER)

    def guarded(body: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                body()
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                failures.append(exc)

        return run

    threads = [threading.Thread(target=guarded(requests)), threading.Thread(target=guarded(worker))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    process_pending(app.sessions, tenant_id=OTHER, clock=clock)
    _sweep(app, clock, OTHER)

    assert failures == []
    _assert_same(_cases(app, OTHER), reference)


def test_chunks_cut_short_by_their_time_budget_give_the_cases_of_one_ordered_pass(
    app: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chunk commits once it has run ``CHUNK_SECONDS`` (so a reviewer waiting for
    SQLite's writer waits for one short chunk, not a long one); with no time at all, every
    chunk stops after its first event, and the rest still comes out as one ordered pass."""
    clock.set(CONFIG.end)
    reference = _in_one_pass(app, clock)
    ensure_tenant(app.sessions, tenant_id=OTHER, name=OTHER, clock=clock)
    ids = _store(app, clock, OTHER)
    chunks: list[int] = []
    apply_rows = pipeline._apply_rows

    def counted(uow: UnitOfWork, rows: Sequence[Any], *args: Any, **kwargs: Any) -> Any:
        done = apply_rows(uow, rows, *args, **kwargs)
        chunks.append(len(rows) - len(done[0].unreached))
        return done

    monkeypatch.setattr(pipeline, "CHUNK_SECONDS", 0.0)
    monkeypatch.setattr(pipeline, "_apply_rows", counted)
    process_pending(app.sessions, tenant_id=OTHER, clock=clock)
    _sweep(app, clock, OTHER)

    assert set(chunks) == {1}, "every chunk stopped after its first event"
    with UnitOfWork(app.sessions, tenant_id=OTHER, write=False) as uow:
        assert uow.inbox.still_pending(ids) == set()
    _assert_same(_cases(app, OTHER), reference)
