"""Builders for the attack suite: the same desk in eight cells, each with one of everything.

A cell is a tenant (acme, globex) x an environment (live, test: ``acme`` and
``acme.test`` are tenants of their own) x a region scope (DE, FR). Each cell holds one
case with every object that hangs off one (an action, a message, a recommendation, an
outbox row, an evidence pack, an incident, a hand-made link) plus tenant-wide ones (a
link suggestion, an evidence blob), and its people: one user of every role, limited to
the cell's region. The ids of a cell's objects are its markers: no other cell may ever
see one in any answer.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from builders.access import Person, person
from builders.backtests import stored_run
from builders.links import suggested_ticket, ticket
from builders.outbound_webhooks import failed_delivery, subscription
from builders.scopes import PlacedCase, name_brands, placed_order, scoped_person
from orderops.bootstrap import App
from orderops.decide.actions import propose
from orderops.domain.clock import FixedClock
from orderops.domain.environments import Environment, tenant_id_for
from orderops.domain.roles import Role
from orderops.domain.scopes import ScopeValues, parse
from orderops.evidence.service import default_store
from orderops.storage.tables.holds import DeskHold
from orderops.storage.tables.incidents import Incident
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.tenants import create_account
from orderops.workflow.batch import ingest_items
from orderops.workflow.sweeps import sweep_late_orders

ACCOUNTS = ("acme", "globex")
REGIONS = ("DE", "FR")
_n = itertools.count(1)


@dataclass(frozen=True)
class Cell:
    account: str
    environment: Environment
    region: str

    @property
    def tenant(self) -> str:
        return tenant_id_for(self.account, self.environment)

    def __str__(self) -> str:
        return f"{self.tenant}/{self.region}"

    def differs_only_in(self, other: Cell) -> str | None:
        """The one dimension ``other`` differs in, if it differs in exactly one."""
        diffs = [
            name
            for name, mine, theirs in (
                ("tenant", self.account, other.account),
                ("environment", self.environment, other.environment),
                ("scope", self.region, other.region),
            )
            if mine != theirs
        ]
        return diffs[0] if len(diffs) == 1 else None


CELLS = tuple(
    Cell(account, environment, region)
    for account in ACCOUNTS
    for environment in (Environment.LIVE, Environment.TEST)
    for region in REGIONS
)


@dataclass
class Seeded:
    """One cell's objects (by kind) and people (by role)."""

    cell: Cell
    objects: dict[str, str] = field(default_factory=dict)
    people: dict[Role, Person] = field(default_factory=dict)

    def markers(self) -> dict[str, str]:
        """Values unique to this cell that no other cell's answers may contain."""
        own = {
            kind: value
            for kind, value in self.objects.items()
            if kind not in TENANT_WIDE_KINDS and kind != "order_ref"
        }
        own["order_ref"] = self.objects["order_ref"]
        return own


TENANT_WIDE_KINDS = frozenset(
    {"user_id", "key_id", "suggestion_id", "sha256", "subscription_id", "webhook_delivery_id"}
)
"""Kinds that belong to the tenant, not to a place in it: a region scope does not narrow
them (a scoped administrator manages the tenant's users), a tenant and an environment do."""


def contains_marker(text: str, value: str) -> bool:
    """``value`` in ``text`` as a whole token (an order ref ``o-DE-acme-1`` is not found
    inside ``o-DE-acme-12``)."""
    return re.search(rf"(?<![\w-]){re.escape(value)}(?![\w-])", text) is not None


@dataclass
class Cells:
    app: App
    clock: FixedClock
    http: TestClient
    seeded: dict[Cell, Seeded]
    makers: dict[str, Person]
    """An unscoped administrator per tenant, who builds what the cells hold."""

    def made(self, tenant: str, method: str, path: str, body: Any = None) -> Any:
        response = self.http.request(method, path, json=body, headers=self.makers[tenant].headers)
        assert response.status_code < 300, (path, response.text)
        return response.json()


def seed_cells(app: App, clock: FixedClock, http: TestClient, *, roles: tuple[Role, ...]) -> Cells:
    for account in ACCOUNTS:
        create_account(app.sessions, account_id=account, name=account.title(), clock=clock)
    tenants = sorted({cell.tenant for cell in CELLS})
    for tenant in tenants:
        name_brands(app, clock, tenant)
    makers = {
        tenant: person(app, clock, tenant=tenant, role=Role.ADMIN, name=f"maker-{tenant}")
        for tenant in tenants
    }
    cells = Cells(app, clock, http, {}, makers)
    suggestions = {tenant: suggested_ticket(app, clock, tenant=tenant) for tenant in tenants}
    cases = {}
    for tenant in tenants:
        cases.update(_placed_cases(app, clock, tenant))
    for cell in CELLS:
        cells.seeded[cell] = _seed(
            cells, cell, roles, suggestions[cell.tenant].suggestion_id, cases[cell]
        )
    return cells


def _placed_cases(app: App, clock: FixedClock, tenant: str) -> dict[Cell, PlacedCase]:
    """The tenant's late order in each region and its case: one ingest, one sweep."""
    refs = {cell: f"o-{cell.region}-acme-{next(_n)}" for cell in CELLS if cell.tenant == tenant}
    items = [
        item
        for cell, ref in refs.items()
        for item in placed_order(ref, ScopeValues(region=cell.region, brand="acme"), clock=clock)
    ]
    report = ingest_items(app.sessions, tenant_id=tenant, items=items, channel="test", clock=clock)
    assert report.rejected == []
    opened = {
        c.order_ref: c.case_id
        for c in sweep_late_orders(app.sessions, tenant_id=tenant, clock=clock)
        if c.exception_type == "shipment_late"
    }
    return {
        cell: PlacedCase(opened[ref], ref, ScopeValues(region=cell.region, brand="acme"))
        for cell, ref in refs.items()
    }


def _seed(
    cells: Cells, cell: Cell, roles: tuple[Role, ...], suggestion_id: str, case: PlacedCase
) -> Seeded:
    app, clock, tenant = cells.app, cells.clock, cell.tenant
    seeded = Seeded(cell)
    objects = seeded.objects
    objects["case_id"] = case.case_id
    objects["order_ref"] = case.order_ref
    objects["suggestion_id"] = suggestion_id
    objects["action_id"] = propose(
        app.sessions,
        tenant_id=tenant,
        case_id=case.case_id,
        kind="release_fulfillment",
        params={"note": f"checked {next(_n)}"},
        principal=cells.makers[tenant].principal,
        clock=clock,
        evidence=default_store(app.settings),
    ).id
    base = f"/v1/cases/{case.case_id}"
    message = cells.made(tenant, "POST", f"{base}/communications", {"body": "On its way."})
    objects["communication_id"] = str(message["id"])
    objects["recommendation_id"] = str(
        cells.made(tenant, "POST", f"{base}/recommendations", {})["id"]
    )
    handoff = cells.made(
        tenant, "POST", f"/v1/recommendations/{objects['recommendation_id']}/handoff"
    )
    objects["outbox_id"] = str(handoff["outbox_id"])
    objects["pack_id"] = str(cells.made(tenant, "POST", f"{base}/dispute-evidence", {})["id"])
    blob = cells.made(tenant, "POST", f"{base}/evidence", {"photo": f"parcel {cell}"})
    objects["sha256"] = str(blob["sha256"])
    objects["incident_id"] = _incident(app, clock, tenant, case.case_id)
    objects["hold_id"] = _hold(cells, tenant, case, objects["action_id"], objects["outbox_id"])
    objects["link_id"] = _link(cells, tenant, case.order_ref, _orphan(cells, tenant))
    objects["ticket_ref"] = _orphan(cells, tenant)  # left unlinked: the cell's own record
    objects["subscription_id"] = subscription(app, clock, tenant=tenant)
    objects["webhook_delivery_id"] = failed_delivery(
        app, clock, objects["subscription_id"], tenant=tenant
    )
    objects["backtest_run_id"] = stored_run(app, clock, tenant=tenant, order_ref=case.order_ref)
    for role in roles:
        seeded.people[role] = scoped_person(
            app, clock, role=role, scope=parse([f"region={cell.region}"]), tenant=tenant
        )
    objects["user_id"] = seeded.people[roles[0]].user_id
    key_id = seeded.people[roles[0]].principal.key_id
    assert key_id is not None
    objects["key_id"] = key_id
    return seeded


def _incident(app: App, clock: FixedClock, tenant: str, case_id: str) -> str:
    with UnitOfWork(app.sessions, tenant_id=tenant) as uow:
        incident = Incident(
            tenant_id=tenant,
            key=f"shipment_late|lane:attack:{case_id}",
            type="shipment_late",
            dimension="lane",
            summary="late parcels on one lane",
            opened_at=clock.now(),
            case_count=1,
        )
        uow.session.add(incident)
        uow.session.flush()
        stored = uow.cases.get(case_id)
        assert stored is not None
        stored.incident_id = incident.id
        uow.commit()
        return str(incident.id)


def _hold(cells: Cells, tenant: str, case: PlacedCase, action_id: str, outbox_id: str) -> str:
    """A fulfillment hold the desk placed on the cell's order (as an approval records it)."""
    now = cells.clock.now()
    with UnitOfWork(cells.app.sessions, tenant_id=tenant) as uow:
        hold = DeskHold(
            tenant_id=tenant,
            order_ref=case.order_ref,
            case_id=case.case_id,
            action_id=action_id,
            kind="fulfillment",
            reason="checking the address",
            owner="test",
            status="active",
            placed_at=now,
            expires_at=now + timedelta(days=2),
            place_outbox_id=outbox_id,
        )
        uow.session.add(hold)
        uow.commit()
        return str(hold.id)


def _orphan(cells: Cells, tenant: str) -> str:
    """A ticket that named no order (its record reference)."""
    ref = f"orphan-{next(_n)}"
    report = ingest_items(
        cells.app.sessions,
        tenant_id=tenant,
        items=[ticket(ref, at=cells.clock.now() - timedelta(hours=1))],
        channel="test",
        clock=cells.clock,
    )
    assert report.rejected == []
    return f"zendesk:{ref}"


def _link(cells: Cells, tenant: str, order_ref: str, record_ref: str) -> str:
    """The ticket linked to the cell's order by hand."""
    body = {
        "record_type": "ticket",
        "record_ref": record_ref,
        "order_ref": order_ref,
        "reason": "the customer called about this order",
    }
    return str(cells.made(tenant, "POST", "/v1/links", body)["link"]["id"])


def neighbours(cell: Cell) -> Iterator[tuple[str, Cell]]:
    """The cells differing from ``cell`` in exactly one dimension: the closest a leak can be."""
    for other in CELLS:
        dimension = cell.differs_only_in(other)
        if dimension is not None:
            yield dimension, other
