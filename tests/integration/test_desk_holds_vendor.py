"""A desk hold reaches Shopify and comes off again: placed by the outbox worker in the
Shopify sandbox (over HTTP), kept when its own delivery resolves the case, released once
at expiry, and the release found already done when the worker runs again."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import update

from builders.access import Person
from builders.holds import hold_row, place_hold, release_rows
from builders.writeback import Sandboxes, drain, fast_runtime, make_case, served_sandboxes
from orderops.bootstrap import App
from orderops.decide.holds import release_due
from orderops.domain.clock import FixedClock
from orderops.domain.holds import DEFAULT_EXPIRY
from orderops.storage.tables import Case
from orderops.storage.uow import UnitOfWork
from orderops.writeback.registry import Connectors


@pytest.fixture(scope="module")
def served() -> Iterator[Sandboxes]:
    with served_sandboxes() as sandboxes:
        yield sandboxes


@pytest.fixture
def sandboxes(served: Sandboxes) -> Sandboxes:
    served.renew()
    return served


def open_case(app: App, clock: FixedClock, order_id: int) -> str:
    """The order (its id is its reference) with a case a reviewer can still act on."""
    case_id = make_case(app, clock, order_ref=str(order_id))
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        uow.session.execute(update(Case).where(Case.id == case_id).values(status="new"))
        uow.commit()
    return case_id


def statuses(connectors: Connectors, order_id: int) -> list[str]:
    return [f.status for f in connectors.shopify().list_fulfillment_orders(order_id)]


def ledger(sandboxes: Sandboxes) -> list[str]:
    return [e.action for e in sandboxes.shopify.control.ledger.entries()]


def test_an_expired_hold_is_placed_then_released_at_shopify_once(
    app: App, clock: FixedClock, sandboxes: Sandboxes, agent: Person
) -> None:
    runtime = fast_runtime(sandboxes.settings(), clock)
    connectors = runtime.connectors.for_tenant("acme")
    order_id, _ = sandboxes.shopify.add_order(total_price="40.00", skus=("SKU-1",))
    case_id = open_case(app, clock, order_id)
    placed = place_hold(app, clock, agent, case_id=case_id)

    drain(app, runtime, clock)
    assert statuses(connectors, order_id) == ["on_hold"]
    assert hold_row(app, "acme", placed.hold_id).status == "active"

    clock.advance(DEFAULT_EXPIRY)
    assert release_due(app.sessions, tenant_id="acme", clock=clock) == [placed.hold_id]
    drain(app, runtime, clock)
    release_due(app.sessions, tenant_id="acme", clock=clock)
    drain(app, runtime, clock)

    assert statuses(connectors, order_id) == ["open"]
    assert ledger(sandboxes).count("fulfillment_order.held") == 1
    assert ledger(sandboxes).count("fulfillment_order.released") == 1
    (release,) = release_rows(app, "acme", placed.hold_id)
    assert release.status == "delivered"
