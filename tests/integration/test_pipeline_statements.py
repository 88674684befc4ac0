"""A chunk of events costs a bounded number of SQL statements per event.

A chunk loads what its events read in a few set-based queries, and each event then finds
its orders, records, cases, aliases and the policy in force in the session; the chunk's
audit records and processed stamps are written once. These are counts, not timings: a
change that brings back a query per event per order fails here, on either database.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from orderops.bootstrap import App
from orderops.domain.cases import ExceptionType
from orderops.domain.clock import FixedClock
from orderops.ingest.intake import Outcome, accept_items
from orderops.sim import SimConfig, simulate
from orderops.workflow import pipeline
from orderops.workflow.pipeline import process_pending

CONFIG = SimConfig(
    seed=3,
    days=1.0,
    history_days=3,
    orders_per_day=6,
    tenant="acme",
    rates={t.value: 0.1 for t in ExceptionType},
    payment_failed_rate=0.2,
    late_rate=0.2,
)
STATEMENTS_PER_EVENT = 9
"""Measured 7.5 on SQLite and 8.6 on PostgreSQL (where the tenant guard names the tenant
at each savepoint too); 11 when the chunk does not read ahead, 31 when every event queried
its orders' rows itself."""
READ_ONCE_PER_CHUNK = (
    "payments",
    "shipments",
    "fraud_signals",
    "order_refunds",
    "fulfillment_holds",
    "tenant_policies",
    "record_links",
    "link_suggestions",
    "customer_identities",
    "alias_waits",
)
"""Tables only the chunk's reads ahead select from: an event that queries them again
means a read the chunk's rows should have answered."""


@cache
def _events() -> list[dict[str, Any]]:
    return simulate(CONFIG).events


@contextmanager
def _statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _selects_from(statements: list[str]) -> Counter[str]:
    """SELECTs by the first table they read."""
    tables: Counter[str] = Counter()
    for statement in statements:
        if statement.lstrip().upper().startswith("SELECT"):
            found = re.search(r"\bFROM\s+([a-z_]+)", statement)
            if found:
                tables[found.group(1)] += 1
    return tables


def _process(app: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], int]:
    """Store the history, then process it: the statements processing issued, and how
    many chunks it ran."""
    clock.set(CONFIG.end)
    results = accept_items(
        app.sessions, tenant_id="acme", items=_events(), channel="test", clock=clock
    )
    assert {r.outcome for r in results} == {Outcome.ACCEPTED}
    chunks = 0
    run_chunk = pipeline._process_chunk_once

    def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal chunks
        chunks += 1
        return run_chunk(*args, **kwargs)

    monkeypatch.setattr(pipeline, "_process_chunk_once", counted)
    # Whole chunks: none cut short by its time budget on a slow machine (per-chunk reads
    # would then count against fewer events).
    monkeypatch.setattr(pipeline, "CHUNK_SECONDS", 3600.0)
    with _statements(app.engine) as seen:
        changes = process_pending(app.sessions, tenant_id="acme", clock=clock)
    assert changes, "the history opens cases, so the case path is counted too"
    return seen, chunks


def test_processing_a_store_history_costs_a_bounded_number_of_statements_per_event(
    app: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen, _ = _process(app, clock, monkeypatch)

    per_event = len(seen) / len(_events())
    assert per_event <= STATEMENTS_PER_EVENT, f"{per_event:.1f} statements per event"


def test_a_chunk_reads_its_records_policy_and_links_once_not_per_event(
    app: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen, chunks = _process(app, clock, monkeypatch)

    reads = _selects_from(seen)
    too_many = {table: reads[table] for table in READ_ONCE_PER_CHUNK if reads[table] > 3 * chunks}
    assert too_many == {}, f"read per event, not per chunk ({chunks} chunks, {reads})"
