"""Appending several audit records at once: they chain exactly as one-by-one appends do."""

from __future__ import annotations

from orderops.audit.verify import verify_tenant
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.storage.repositories.audit import AuditDraft
from orderops.storage.uow import UnitOfWork


def draft(clock: FixedClock, n: int) -> AuditDraft:
    return AuditDraft(
        at=clock.now(),
        actor="writeback",
        action="writeback.delivered",
        entity_type="outbox",
        entity_id=f"m-{n}",
        data={"n": n},
    )


def test_records_appended_together_verify_and_continue_the_chain(
    app: App, clock: FixedClock
) -> None:
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        before = uow.audit.head()
        start = before.seq if before else 0
        together = uow.audit.append_many([draft(clock, n) for n in range(3)])
        alone = uow.audit.append(**vars(draft(clock, 3)))
        uow.commit()

    assert [r.seq for r in [*together, alone]] == [start + 1, start + 2, start + 3, start + 4]
    assert [r.prev_hash for r in [*together, alone][1:]] == [r.hash for r in together]
    result = verify_tenant(app.sessions, tenant_id="acme")
    assert (result.ok, result.checked) == (True, start + 4)


def test_appending_nothing_leaves_the_chain_alone(app: App, clock: FixedClock) -> None:
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        before = uow.audit.head()
        assert uow.audit.append_many([]) == []
        after = uow.audit.head()
        uow.commit()
    assert (after.seq if after else 0) == (before.seq if before else 0)
