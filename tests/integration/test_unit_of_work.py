"""The unit of work and the database's own guarantees, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from builders.events import order_placed
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.errors import DuplicateEvent
from orderops.storage.tables import Case
from orderops.storage.uow import UnitOfWork
from orderops.workflow.batch import ingest_items


def add_event(uow: UnitOfWork, at: datetime, *, event_id: str = "evt-1") -> str:
    return uow.inbox.add(
        source="test://shop",
        event_id=event_id,
        type="order.placed",
        subject="o-1",
        event_time=at,
        received_at=at,
        envelope={"id": event_id},
    )


def new_case(order_id: str, at: datetime, *, status: str = "new") -> Case:
    return Case(
        order_id=order_id,
        order_ref="o-1",
        exception_type="payment_failed",
        status=status,
        summary="payment failed",
        detected_at=at,
        opened_at=at,
        updated_at=at,
        facts={},
    )


@pytest.fixture
def order_id(app: App, clock: FixedClock) -> str:
    ingest_items(
        app.sessions,
        tenant_id="acme",
        items=[order_placed("o-1", at=clock.now() - timedelta(days=1))],
        channel="test",
        clock=clock,
    )
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        order = uow.commerce.order_by_ref("o-1")
        assert order is not None
        return order.id


def test_leaving_without_commit_keeps_nothing(app: App, clock: FixedClock) -> None:
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        inbox_id = add_event(uow, clock.now())
        assert uow.inbox.get(inbox_id) is not None

    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        assert uow.inbox.get(inbox_id) is None
        assert uow.inbox.find("test://shop", "evt-1") is None


def test_an_exception_inside_rolls_back(app: App, clock: FixedClock) -> None:
    def write_then_fail() -> None:
        with UnitOfWork(app.sessions, tenant_id="acme") as uow:
            add_event(uow, clock.now())
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        write_then_fail()

    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        assert uow.inbox.find("test://shop", "evt-1") is None


def test_commit_persists(app: App, clock: FixedClock) -> None:
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        inbox_id = add_event(uow, clock.now())
        uow.commit()

    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        stored = uow.inbox.get(inbox_id)
        assert stored is not None
        assert (stored.tenant_id, stored.event_id, stored.status) == ("acme", "evt-1", "pending")
        assert stored.event_time == clock.now()


def test_the_same_source_and_event_id_twice_is_a_duplicate(app: App, clock: FixedClock) -> None:
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        first = add_event(uow, clock.now())
        uow.commit()

    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        with pytest.raises(DuplicateEvent):
            add_event(uow, clock.now())
        other = add_event(uow, clock.now(), event_id="evt-2")
        uow.commit()

    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        found = uow.inbox.find("test://shop", "evt-1")
        assert found is not None
        assert found.id == first
        assert uow.inbox.get(other) is not None


def test_a_duplicate_within_one_unit_of_work_is_refused_too(app: App, clock: FixedClock) -> None:
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        add_event(uow, clock.now())
        with pytest.raises(DuplicateEvent):
            add_event(uow, clock.now())


def test_the_same_event_id_in_another_tenant_is_not_a_duplicate(
    app: App, clock: FixedClock
) -> None:
    for tenant in ("acme", "globex"):
        with UnitOfWork(app.sessions, tenant_id=tenant) as uow:
            add_event(uow, clock.now())
            uow.commit()

    with UnitOfWork(app.sessions, tenant_id="globex", write=False) as uow:
        found = uow.inbox.find("test://shop", "evt-1")
        assert found is not None
        assert found.tenant_id == "globex"


def test_the_database_refuses_two_open_cases_for_one_order_and_cause(
    app: App, clock: FixedClock, order_id: str
) -> None:
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        uow.cases.add(new_case(order_id, clock.now()))
        uow.commit()

    with UnitOfWork(app.sessions, tenant_id="acme") as uow, pytest.raises(IntegrityError):
        uow.cases.add(new_case(order_id, clock.now() + timedelta(minutes=1)))


@pytest.mark.parametrize("closed", ["resolved", "rejected"])
def test_a_new_case_is_allowed_once_the_first_is_closed(
    app: App, clock: FixedClock, order_id: str, closed: str
) -> None:
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        first = uow.cases.add(new_case(order_id, clock.now()))
        uow.commit()
        first.status = closed
        uow.commit()

    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        second = uow.cases.add(new_case(order_id, clock.now() + timedelta(minutes=1)))
        uow.commit()
        second_id = second.id

    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        assert uow.cases.get(second_id) is not None
        latest = uow.cases.latest_for(order_id, "payment_failed")
        assert latest is not None
        assert latest.id == second_id
