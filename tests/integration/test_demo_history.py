"""The demo starts with similar cases: people settle part of its backfilled history
(``demo_history.settle_history``) through the same services as the console, the worker
delivers their writebacks to the sandboxes, and the next recommendation already names
similar resolved cases. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from builders.access import person
from builders.writeback import drain, fast_runtime, stored_accounts
from conftest import T0
from orderops.bootstrap import App
from orderops.demo import DEMO_RATES
from orderops.demo_history import settle_history
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.ingest.bulk_intake import store_items
from orderops.recommend.history_index import similar_cases
from orderops.recommend.service import recommend_case
from orderops.sandbox.connected import VendorSandboxes, connected_sandboxes
from orderops.sandbox.seeding import StoreMirror
from orderops.sim import SimConfig, simulate
from orderops.storage.tables import Action, Case
from orderops.storage.uow import UnitOfWork
from orderops.workflow.pipeline import process_pending
from orderops.workflow.worker import run_once

TENANT = "acme"
SIM = SimConfig(
    seed=7,
    start=T0 - timedelta(days=1),
    days=1,
    history_days=2,
    orders_per_day=60,
    tenant=TENANT,
    rates=DEMO_RATES,
)


@pytest.fixture
def demo(app: App, clock: FixedClock) -> Iterator[VendorSandboxes]:
    events = simulate(SIM).events
    mirror = StoreMirror(VendorSandboxes())
    mirror.seed(events)
    store_items(app.sessions, tenant_id=TENANT, items=events, channel="demo", clock=clock)
    process_pending(app.sessions, tenant_id=TENANT, clock=clock)
    run_once(app)  # the worker's full pass: its sweeps open the time-based cases
    with connected_sandboxes(app, tenant_id=TENANT, sandboxes=mirror.sandboxes):
        yield mirror.sandboxes


def test_settled_history_gives_the_next_recommendation_similar_cases(
    app: App, clock: FixedClock, demo: VendorSandboxes
) -> None:
    with UnitOfWork(app.sessions, tenant_id=TENANT, write=False) as uow:
        assert len(similar_cases(uow)) == 0  # a fresh desk: nothing resolved by a person

    decided = settle_history(
        app,
        tenant_id=TENANT,
        proposer=person(app, clock, tenant=TENANT, role=Role.AGENT).principal,
        approvers=[
            person(app, clock, tenant=TENANT, role=Role.ADMIN).principal,
            person(app, clock, tenant=TENANT, role=Role.ADMIN).principal,
        ],
    )
    assert decided >= 3
    with UnitOfWork(app.sessions, tenant_id=TENANT, write=False) as uow:
        proposed_by = set(uow.session.scalars(select(Action.proposed_by)))
    assert proposed_by  # through propose: a person's proposal, approved by others

    clock.advance(timedelta(minutes=5))
    drain(app, fast_runtime(stored_accounts(app), clock), clock)
    run_once(app)
    with UnitOfWork(app.sessions, tenant_id=TENANT, write=False) as uow:
        resolved = list(uow.session.scalars(select(Case.id).where(Case.status == "resolved")))
        index = similar_cases(uow)
        assert len(index) >= 1
        assert {c.case_id for c in index.cases} <= set(resolved)
        open_ids = list(
            uow.session.scalars(
                select(Case.id).where(Case.status == "new").order_by(Case.opened_at)
            )
        )
    shown = 0
    for case_id in open_ids:
        with UnitOfWork(app.sessions, tenant_id=TENANT) as uow:
            stored = recommend_case(uow, case_id, now=clock.now(), actor="t")
        shown += len(stored.advice.similar)
    assert shown > 0  # some open case of a type people settled is shown its precedents
