"""A bug in processing one event never costs the others, and never loses the event."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from builders.events import order_placed, payment
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.storage.tables import InboxEvent, Payment
from orderops.storage.uow import UnitOfWork
from orderops.workflow import pipeline
from orderops.workflow.batch import ingest_items
from orderops.workflow.pipeline import MAX_ATTEMPTS, process_pending


def test_a_failing_event_rolls_back_alone_and_stays_in_the_inbox(
    app: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = clock.now() - timedelta(days=1)
    poisoned = payment("o-1", status="captured", at=t + timedelta(minutes=1), event_id="poison")
    events = [
        order_placed("o-1", at=t),
        poisoned,
        payment("o-2", status="failed", at=t, payment_ref="pi_9"),
    ]
    real_project = pipeline.project

    def project(repo: Any, event: Any, **kw: Any) -> Any:
        if event.envelope.id == "poison":
            raise RuntimeError("bug in a projector")
        return real_project(repo, event, **kw)

    monkeypatch.setattr(pipeline, "project", project)
    ingest_items(app.sessions, tenant_id="acme", items=events, channel="test", clock=clock)

    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        rows = {
            r.event_id: (r.status, r.attempts, r.error or "")
            for r in uow.session.scalars(select(InboxEvent))
        }
        payments = {p.payment_ref for p in uow.session.scalars(select(Payment))}
    assert rows["poison"][:2] == ("pending", 1)
    assert "bug in a projector" in rows["poison"][2]
    assert {rows[e["id"]][0] for e in events if e["id"] != "poison"} == {"processed"}
    assert payments == {"pi_9"}, "the poisoned payment left no half-written state"

    for _ in range(MAX_ATTEMPTS - 1):
        process_pending(app.sessions, tenant_id="acme", clock=clock)
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        row = uow.inbox.find("test://stripe", "poison")
        assert row is not None
        assert row.status == "failed"
        assert row.attempts == MAX_ATTEMPTS

    monkeypatch.setattr(pipeline, "project", real_project)
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        row = uow.inbox.find("test://stripe", "poison")
        assert row is not None
        row.status = "pending"
        uow.commit()
    process_pending(app.sessions, tenant_id="acme", clock=clock)
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        assert uow.commerce.payment("stripe", "pi_1") is not None
