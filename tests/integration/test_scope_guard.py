"""The unit of work's scope guard, table by table (storage/scope_criteria.py).

Two orders, one in DE and one in FR, each with a case, an approved action and its outbox
row, a delivery attempt, an incident and the rest a case gathers. A unit of work limited to
region DE reads, for every table that hangs off an order or a case, exactly the rows of the
DE order, however the statement is written (plain select, count, join, alias, get).
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from builders.access import person
from builders.scopes import name_brands, placed_case
from orderops.bootstrap import App
from orderops.decide.actions import propose
from orderops.decide.approvals import approve
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.domain.scopes import ScopeValues, parse
from orderops.evidence.service import default_store
from orderops.storage.tables import (
    Action,
    Approval,
    Case,
    Customer,
    Incident,
    LinkSuggestion,
    Order,
    OrderLineRow,
    Payment,
)
from orderops.storage.uow import UnitOfWork

DE = parse(["region=DE"])


@pytest.fixture
def two_orders(app: App, clock: FixedClock) -> dict[str, Any]:
    name_brands(app, clock)
    maker = person(app, clock, tenant="acme", role=Role.AGENT)
    checker = person(app, clock, tenant="acme", role=Role.APPROVER)
    placed = {}
    for region in ("DE", "FR"):
        case = placed_case(app, clock, ScopeValues(region=region, brand="acme"))
        action = propose(
            app.sessions,
            tenant_id="acme",
            case_id=case.case_id,
            kind="release_fulfillment",
            params={"note": "checked"},
            principal=maker.principal,
            clock=clock,
            evidence=default_store(app.settings),
        )
        approve(
            app.sessions,
            tenant_id="acme",
            action_id=action.id,
            principal=checker.principal,
            clock=clock,
            evidence=default_store(app.settings),
        )
        with UnitOfWork(app.sessions, tenant_id="acme") as uow:
            incident = Incident(
                tenant_id="acme",
                key=f"k-{region}",
                type="shipment_late",
                dimension="lane",
                summary=region,
                opened_at=clock.now(),
            )
            uow.session.add(incident)
            uow.session.flush()
            stored = uow.cases.get(case.case_id)
            assert stored is not None
            stored.incident_id = incident.id
            uow.commit()
        placed[region] = case
    return placed


def _ids(app: App, model: type[Any], *, scoped: bool) -> set[str]:
    with UnitOfWork(
        app.sessions, tenant_id="acme", write=False, scope=DE if scoped else parse([])
    ) as uow:
        return set(uow.session.scalars(select(model.id)))


def _owner(app: App, model: type[Any], row_id: str) -> str:
    """The region of the order a row hangs off, read unscoped through its own columns."""
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        row = uow.session.get(model, row_id)
        assert row is not None
        if isinstance(row, Order | Case):
            return str(row.region)
        if isinstance(row, Approval):
            row = uow.session.get(Action, row.action_id)
        if isinstance(row, Customer):
            orders = uow.session.scalars(select(Order.region).where(Order.customer_id == row.id))
            return ",".join(sorted({str(r) for r in orders}))
        if isinstance(row, Incident):
            cases = uow.session.scalars(select(Case.region).where(Case.incident_id == row.id))
            return ",".join(sorted({str(r) for r in cases}))
        for column, parent, key in (
            ("case_id", Case, Case.id),
            ("order_id", Order, Order.id),
            ("order_ref", Order, Order.order_ref),
        ):
            if hasattr(row, column):
                owner = uow.session.scalar(select(parent).where(key == getattr(row, column)))
                return str(owner.region) if owner is not None else "nowhere"
        raise AssertionError(f"{model.__name__} hangs off nothing")


@pytest.mark.parametrize(
    "model",
    [Order, Case, Action, Approval, OrderLineRow, Payment, Customer, Incident],
    ids=lambda m: m.__name__,
)
def test_a_scoped_unit_of_work_reads_only_the_rows_of_orders_in_scope(
    app: App, two_orders: dict[str, Any], model: type[Any]
) -> None:
    everything = _ids(app, model, scoped=False)
    seen = _ids(app, model, scoped=True)

    assert {_owner(app, model, i) for i in everything} == {"DE", "FR"}
    assert seen == {i for i in everything if _owner(app, model, i) == "DE"}


def test_joins_aliases_counts_and_get_are_guarded_alike(
    app: App, two_orders: dict[str, Any]
) -> None:
    fr = two_orders["FR"]
    other = aliased(Case)
    with UnitOfWork(app.sessions, tenant_id="acme", write=False, scope=DE) as uow:
        joined = uow.session.execute(
            select(Action.id, Case.region).join(Case, Case.id == Action.case_id)
        ).all()
        via_alias = set(uow.session.scalars(select(other.region)))
        counted = uow.session.scalar(select(func.count()).select_from(Case))
        got = uow.session.get(Case, fr.case_id)
        in_subquery = uow.session.scalar(
            select(func.count(Order.id)).where(Order.id.in_(select(Case.order_id)))
        )

    assert {region for _, region in joined} == {"DE"}
    assert via_alias == {"DE"}
    assert counted == len(_ids(app, Case, scoped=True)) > 0
    assert got is None
    assert in_subquery == 1


def test_records_that_name_no_order_are_read_by_no_scoped_unit_of_work(
    app: App, clock: FixedClock
) -> None:
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        uow.session.add(
            LinkSuggestion(
                tenant_id="acme",
                record_type="ticket",
                record_ref="zendesk:t-1",
                candidates={"orders": []},
                reason="ambiguous",
                status="open",
                created_at=clock.now(),
            )
        )
        uow.commit()

    assert len(_ids(app, LinkSuggestion, scoped=False)) == 1
    assert _ids(app, LinkSuggestion, scoped=True) == set()
