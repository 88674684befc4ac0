"""Leasing outbox messages: concurrent workers never share a row; expired leases come back."""

from __future__ import annotations

import threading
from datetime import timedelta

from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.storage.uow import UnitOfWork
from orderops.writeback.claims import claim_due
from orderops.writeback.outbox import enqueue

LEASE = timedelta(minutes=1)


def queue_many(app: App, clock: FixedClock, count: int, *, prefix: str = "k") -> set[str]:
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        ids = {
            enqueue(
                uow,
                system="stripe",
                operation="refund",
                idempotency_key=f"{prefix}-{n}",
                payload={"n": n},
                now=clock.now(),
            )
            for n in range(count)
        }
        uow.commit()
    return ids


def claim(app: App, clock: FixedClock, worker_id: str, limit: int) -> list[str]:
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        claimed = claim_due(
            uow,
            worker_id=worker_id,
            now=clock.now(),
            lease=LEASE,
            limit=limit,
            systems=["stripe"],
            summarise=lambda row: {},
        )
        uow.commit()
    return [c.id for c in claimed]


def test_two_workers_claiming_at_once_never_take_the_same_row(app: App, clock: FixedClock) -> None:
    queued = queue_many(app, clock, 60)
    barrier = threading.Barrier(2)
    taken: dict[str, list[str]] = {"a": [], "b": []}

    def worker(name: str) -> None:
        for _ in range(len(queued)):
            barrier.wait(timeout=30)  # both claim at the same moment
            taken[name].extend(claim(app, clock, name, limit=7))
            barrier.wait(timeout=30)  # both see the same totals before deciding to stop
            if len(taken["a"]) + len(taken["b"]) >= len(queued):
                return

    threads = [threading.Thread(target=worker, args=(name,)) for name in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert set(taken["a"]).isdisjoint(taken["b"])
    assert sorted(taken["a"] + taken["b"]) == sorted(queued)
    assert taken["a"], "worker a never won a row"
    assert taken["b"], "worker b never won a row"


def test_only_due_messages_are_claimed_and_a_lease_holds_until_it_expires(
    app: App, clock: FixedClock
) -> None:
    due = queue_many(app, clock, 2, prefix="due")
    clock.advance(timedelta(hours=1))
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        later = enqueue(
            uow,
            system="stripe",
            operation="refund",
            idempotency_key="later",
            payload={},
            now=clock.now() + timedelta(hours=1),
        )
        uow.commit()

    assert sorted(claim(app, clock, "w-1", limit=10)) == sorted(due)
    assert claim(app, clock, "w-2", limit=10) == []
    clock.advance(LEASE)
    assert sorted(claim(app, clock, "w-2", limit=10)) == sorted(due)
    clock.advance(timedelta(hours=1))  # "later" is due, and w-2's leases have expired
    assert sorted(claim(app, clock, "w-3", limit=10)) == sorted({*due, later})


def test_a_claim_only_sees_its_own_tenant(app: App, clock: FixedClock) -> None:
    queue_many(app, clock, 3)
    with UnitOfWork(app.sessions, tenant_id="globex") as uow:
        claimed = claim_due(
            uow,
            worker_id="w-g",
            now=clock.now(),
            lease=LEASE,
            limit=10,
            systems=["stripe"],
            summarise=lambda row: {},
        )
    assert claimed == []
