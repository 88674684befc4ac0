"""The worker drains the inbox in turns: a tenant with a backlog (or one that keeps sending)
delays another tenant's events by a turn, not by the whole backlog (issue #12, a noisy
tenant)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from builders.events import order_placed
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.ingest.intake import accept_items
from orderops.storage.tables import InboxEvent
from orderops.storage.uow import UnitOfWork
from orderops.workflow import pipeline
from orderops.workflow.worker import drain_inbox


class _Worker(App):
    def close(self) -> None:
        return None


class TickingClock:
    """Moves on a millisecond each time it is read, so the inbox's stamps show an order."""

    def __init__(self, start: datetime) -> None:
        self._at = start

    def now(self) -> datetime:
        self._at += timedelta(milliseconds=1)
        return self._at


def test_the_worker_gives_each_tenant_a_turn_so_a_backlog_does_not_hold_back_another(
    app: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Chunks of 100 rows here: none cut short by its time budget on a slow machine.
    monkeypatch.setattr(pipeline, "CHUNK_SECONDS", 3600.0)
    at = clock.now() - timedelta(hours=1)
    backlog = [order_placed(f"o-{n}", at=at) for n in range(201)]  # three chunks of acme's
    accept_items(app.sessions, tenant_id="acme", items=backlog, channel="test", clock=clock)
    accept_items(
        app.sessions,
        tenant_id="globex",
        items=[order_placed("g-1", at=at)],
        channel="test",
        clock=clock,
    )
    worker = _Worker(
        settings=app.settings,
        engine=app.engine,
        sessions=app.sessions,
        clock=TickingClock(clock.now()),
    )

    drain_inbox(worker, turn_chunks=1)

    stamps = {tenant: _processed_at(app, tenant) for tenant in ("acme", "globex")}
    assert (len(stamps["acme"]), len(stamps["globex"])) == (201, 1)
    chunks = sorted(set(stamps["acme"]))
    assert len(chunks) == 3
    assert chunks[0] < stamps["globex"][0] < chunks[1]  # globex's turn came after one chunk


def _processed_at(app: App, tenant: str) -> list[datetime]:
    with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
        stamps = uow.session.scalars(select(InboxEvent.processed_at))
        return [stamp for stamp in stamps if stamp is not None]
