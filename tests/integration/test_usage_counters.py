"""A count commits with what it counts, or not at all, and costs one statement per commit.

``metering.usage.count`` notes a quantity on the unit of work's session; the notes become
one upsert just before the commit. These are the properties metering stands on: a
rollback (or a savepoint's) takes its counts with it, concurrent writers add up exactly,
and counts made before the upgrade to metering are folded in by the migration.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, insert, select, text

from builders.database_roles import owner_engine
from builders.events import order_placed
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.usage import Meter, Quota, QuotaExceeded
from orderops.ingest.bulk_intake import store_items
from orderops.metering.usage import count
from orderops.metering.usage_report import set_quota
from orderops.storage.migrate import downgrade, upgrade
from orderops.storage.tables import LlmUsage, UsageCounter
from orderops.storage.uow import UnitOfWork

AT = datetime(2026, 11, 20, 12, tzinfo=UTC)


def counters(app: App, tenant: str = "acme") -> dict[tuple[str, str, str], int]:
    with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
        rows = uow.session.scalars(select(UsageCounter))
        return {(r.meter, r.day, r.dimension): r.quantity for r in rows}


def test_counts_are_written_at_the_commit_in_one_statement(app: App) -> None:
    upserts: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "usage_counters" in statement:
            upserts.append(statement)

    event.listen(app.engine, "before_cursor_execute", seen)
    try:
        with UnitOfWork(app.sessions, tenant_id="acme") as uow:
            count(uow, Meter.EVENTS, "api", 2, at=AT)
            count(uow, Meter.EVENTS, "api", 3, at=AT)
            count(uow, Meter.CASES, "payment_failed", 1, at=AT)
            count(uow, Meter.CASES, "payment_failed", 1, at=AT + timedelta(days=1))
            assert upserts == []  # nothing before the commit
            uow.commit()
    finally:
        event.remove(app.engine, "before_cursor_execute", seen)

    assert len(upserts) == 1
    assert counters(app) == {
        ("events", "2026-11-20", "api"): 5,
        ("cases", "2026-11-20", "payment_failed"): 1,
        ("cases", "2026-11-21", "payment_failed"): 1,
    }


def test_a_later_commit_adds_to_the_same_counter(app: App) -> None:
    for quantity in (4, 6):
        with UnitOfWork(app.sessions, tenant_id="acme") as uow:
            count(uow, Meter.EVIDENCE_BYTES, "upload", quantity, at=AT)
            uow.commit()
    assert counters(app) == {("evidence_bytes", "2026-11-20", "upload"): 10}


def test_a_rollback_takes_its_counts_with_it(app: App) -> None:
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        count(uow, Meter.EVENTS, "api", 7, at=AT)
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        count(uow, Meter.EVENTS, "api", 1, at=AT)
        uow.rollback()
        count(uow, Meter.EVENTS, "api", 2, at=AT)
        uow.commit()
    assert counters(app) == {("events", "2026-11-20", "api"): 2}


def test_a_savepoint_that_rolls_back_forgets_only_its_own_counts(app: App) -> None:
    """As a processing chunk does: an event that fails rolls back alone, counting nothing."""
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        count(uow, Meter.CASES, "kept", 1, at=AT)
        with uow.session.begin_nested():
            count(uow, Meter.CASES, "released", 1, at=AT)
        with pytest.raises(RuntimeError):
            _fail_in_a_savepoint(uow)
        uow.commit()
    assert counters(app) == {
        ("cases", "2026-11-20", "kept"): 1,
        ("cases", "2026-11-20", "released"): 1,
    }


def _fail_in_a_savepoint(uow: UnitOfWork) -> None:
    with uow.session.begin_nested():
        count(uow, Meter.CASES, "failed", 1, at=AT)
        with uow.session.begin_nested():
            count(uow, Meter.CASES, "inside-failed", 1, at=AT)
        raise RuntimeError("the event failed")


def test_concurrent_writers_add_up_exactly(app: App) -> None:
    writers, commits = 4, 15
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for _ in range(commits):
                with UnitOfWork(app.sessions, tenant_id="acme") as uow:
                    count(uow, Meter.API_CALLS, "cases", 1, at=AT)
                    count(uow, Meter.API_CALLS, "events", 2, at=AT)
                    uow.commit()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert counters(app) == {
        ("api_calls", "2026-11-20", "cases"): writers * commits,
        ("api_calls", "2026-11-20", "events"): 2 * writers * commits,
    }


def test_one_tenants_counts_are_not_another_tenants(app: App) -> None:
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        count(uow, Meter.EVENTS, "api", 3, at=AT)
        uow.commit()
    assert counters(app, "globex") == {}


def test_a_bulk_store_counts_once_per_batch_and_stops_at_a_hard_quota(
    app: App, clock: FixedClock
) -> None:
    items = [order_placed(f"o-{n}", at=AT - timedelta(hours=1)) for n in range(7)]
    upserts: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("INSERT INTO usage_counters"):
            upserts.append(statement)

    event.listen(app.engine, "before_cursor_execute", seen)
    try:
        stored = store_items(
            app.sessions,
            tenant_id="acme",
            items=items,
            channel="import:jsonl",
            clock=clock,
            batch=3,
        )
    finally:
        event.remove(app.engine, "before_cursor_execute", seen)
    set_quota(
        app.sessions, tenant_id="globex", quota=Quota(Meter.EVENTS, hard=4), actor="t", clock=clock
    )
    with pytest.raises(QuotaExceeded, match="monthly events quota"):
        store_items(
            app.sessions, tenant_id="globex", items=items, channel="demo", clock=clock, batch=3
        )

    assert stored.accepted == 7
    assert len(upserts) == 3  # batches of 3, 3 and 1
    assert counters(app) == {("events", "2026-11-20", "import:jsonl"): 7}
    # 0 and 3 were under the limit when their batches began; 6 was not: the hard limit is
    # held at batch boundaries, overshot by at most one batch.
    assert counters(app, "globex") == {("events", "2026-11-20", "demo"): 6}


def test_the_upgrade_folds_the_tokens_metered_before_it_into_the_counters(app: App) -> None:
    engine = owner_engine(app)
    downgrade(engine, "0024_rate_limits")
    calls = [
        ("acme", AT, "gpt-x", 100, 20),
        ("acme", AT + timedelta(hours=3), "gpt-x", 50, 5),
        ("acme", AT + timedelta(days=1), "gpt-x", 10, 0),
        ("globex", AT, "other", 7, 3),
    ]
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("ALTER TABLE llm_usage NO FORCE ROW LEVEL SECURITY"))
        for n, (tenant, at, model, prompt, completion) in enumerate(calls):
            connection.execute(
                insert(LlmUsage).values(
                    id=f"call-{n}",
                    tenant_id=tenant,
                    at=at,
                    model=model,
                    purpose="draft",
                    prompt_tokens=prompt,
                    completion_tokens=completion,
                )
            )
        if connection.dialect.name == "postgresql":
            connection.execute(text("ALTER TABLE llm_usage FORCE ROW LEVEL SECURITY"))

    upgrade(engine)

    assert counters(app) == {
        ("model_tokens", "2026-11-20", "gpt-x:prompt"): 150,
        ("model_tokens", "2026-11-20", "gpt-x:completion"): 25,
        ("model_tokens", "2026-11-21", "gpt-x:prompt"): 10,
    }
    assert counters(app, "globex") == {
        ("model_tokens", "2026-11-20", "other:prompt"): 7,
        ("model_tokens", "2026-11-20", "other:completion"): 3,
    }
