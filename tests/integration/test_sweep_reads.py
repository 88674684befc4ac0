"""A sweep judges a batch of due orders on rows read for the whole batch: the records of
its orders, their lines, cases and stock and the policy are each read in one IN-query,
not once per order (a backtest runs a sweep every simulated hour)."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event

from builders.events import order_placed, payment, shipment
from orderops.bootstrap import App
from orderops.domain.cases import ExceptionType
from orderops.domain.clock import FixedClock
from orderops.ingest.policy_file import EXAMPLE_POLICY, load_policy_file, store_policy
from orderops.storage.repositories.cases import CaseFilter
from orderops.storage.uow import UnitOfWork
from orderops.workflow import sweeps
from orderops.workflow.batch import ingest_items
from orderops.workflow.sweeps import sweep

T0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
ORDERS = 6
PER_ORDER = (
    "payments",
    "shipments",
    "fraud_signals",
    "order_refunds",
    "fulfillment_holds",
    "order_lines",
    "inventory_positions",
    "tenant_policies",
)
"""Tables the judging of each order reads (its tickets too, left out: opening a case reads
them again, once per case)."""


def _held_orders(app: App, clock: FixedClock) -> None:
    """``ORDERS`` orders authorised at T0 and never captured, each with a label never scanned."""
    clock.set(T0)
    store_policy(
        app.sessions,
        tenant_id="acme",
        policy=load_policy_file(EXAMPLE_POLICY),
        actor="test",
        clock=clock,
    )
    clock.set(T0 + H)
    items: list[dict[str, Any]] = []
    for n in range(ORDERS):
        ref = f"o-{n}"
        items += [
            order_placed(ref, at=T0, promised_by=T0 + 30 * 24 * H, number=f"10{n}"),
            payment(ref, status="authorized", at=T0 + timedelta(minutes=1), payment_ref=f"pi_{n}"),
            shipment(ref, at=T0 + H, tracking=f"1Z{n:03}"),
        ]
    report = ingest_items(app.sessions, tenant_id="acme", items=items, channel="test", clock=clock)
    assert report.rejected == []


def _swept(app: App, clock: FixedClock) -> tuple[Counter[str], set[tuple[str, str]]]:
    """Sweep at T0 + 50h: the SELECTs it sent per table read, and the cases then open."""
    clock.set(T0 + 50 * H)
    reads: Counter[str] = Counter()

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        # The rows of a table, as the ORM loads them: its own columns first. An
        # aggregate (a case's impact counts open tickets) or a join starts otherwise.
        read = re.match(r"\s*SELECT (?:DISTINCT )?(\w+)\.", statement)
        if read is not None and read.group(1) in PER_ORDER:
            reads[read.group(1)] += 1

    event.listen(app.engine, "before_cursor_execute", count)
    try:
        sweep(app.sessions, tenant_id="acme", clock=clock)
    finally:
        event.remove(app.engine, "before_cursor_execute", count)
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        page = uow.cases.search(CaseFilter(), limit=1000, offset=0)
        opened = {(c.order_ref, c.exception_type) for c in page.items}
    return reads, opened


def _expected() -> set[tuple[str, str]]:
    kinds = (ExceptionType.PAYMENT_HOLD, ExceptionType.PRE_DISPATCH_DELAY)
    return {(f"o-{n}", str(kind)) for n in range(ORDERS) for kind in kinds}


def test_a_sweep_reads_each_table_once_for_its_batch_not_once_per_order(
    app: App, clock: FixedClock
) -> None:
    _held_orders(app, clock)
    reads, opened = _swept(app, clock)
    assert _expected() <= opened
    assert set(reads) >= {"payments", "shipments", "tenant_policies"}, reads
    assert max(reads.values()) < ORDERS, f"a table read per order: {reads}"


def test_the_batch_reads_change_no_verdict(
    app: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the reads ahead switched off every order reads its own rows: the same cases."""
    monkeypatch.setattr(sweeps, "_load_ahead", lambda *_: None)
    _held_orders(app, clock)
    reads, opened = _swept(app, clock)
    assert _expected() <= opened
    assert reads["payments"] >= ORDERS, reads  # the reads ahead were really off
