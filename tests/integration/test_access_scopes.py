"""Scopes below the tenant: every route x four principals x cases in four places.

The tenant sells two brands (acme, bolt) in two regions (DE, FR), so its cases sit in four
places. Four administrators (a role every route admits) are limited to region DE, to brand
acme, to both, and to nothing. Every API route has a decision, generated from the app's
routes as ``test_access_matrix.py`` does for roles, so a new route without one fails here:

- a route that names a case, or something hanging off one, answers its success status in
  scope and 404 out of scope, exactly as for another tenant's object;
- a list shows exactly the rows in scope of those the unscoped administrator sees;
- a route about tenant-wide things (settings, administration, ingestion) is the same for
  everyone, and one about records that name no order yet is for the unscoped only.

The console's queues, case page and dashboards are held to the same rule below.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from builders.access import Person
from builders.backtests import request_body, stored_run
from builders.console import console_person, signed_in
from builders.links import suggested_ticket, ticket
from builders.scopes import (
    PLACES,
    SCOPES,
    PlacedCase,
    name_brands,
    placed_case,
    scoped_person,
)
from builders.shadow import (
    lower_fraud_threshold,
    proposed_candidate,
    start_candidate,
    stop_running,
)
from orderops.api.app import ROUTERS, create_app
from orderops.audit.verify import verify_tenant
from orderops.bootstrap import App
from orderops.console.pages_insight import AUDIT_PAGE
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.domain.scopes import AccessScope, ScopeValues, parse
from orderops.storage.tables import (
    AuditRecord,
    Case,
    CaseTimelineEntry,
    OutboxMessage,
    WritebackAttempt,
)
from orderops.storage.tables.incidents import Incident
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.access_scopes import set_user_scope
from orderops.workflow.batch import ingest_items

_n = itertools.count(1)
Request = tuple[str, dict[str, Any] | None]


@dataclass
class World:
    app: App
    clock: FixedClock
    http: TestClient
    maker: Person
    """An unscoped administrator who builds what the requests act on."""
    checker: Person
    """A second unscoped administrator, for the second pair of eyes some steps need."""
    cases: dict[ScopeValues, PlacedCase]
    """One case per place, for routes that may act on a case more than once."""
    packs: dict[str, str] = field(default_factory=dict)

    def fresh(self, place: ScopeValues) -> PlacedCase:
        return placed_case(self.app, self.clock, place)

    def call(self, who: Person, method: str, path: str, body: Any = None) -> Response:
        return self.http.request(method, path, json=body, headers=who.headers)

    def made(self, method: str, path: str, body: Any = None, *, by: Person | None = None) -> Any:
        response = self.call(by or self.maker, method, path, body)
        assert response.status_code < 300, (path, response.text)
        return response.json()

    def version(self, case_id: str) -> int:
        with UnitOfWork(self.app.sessions, tenant_id="acme", write=False) as uow:
            case = uow.cases.get(case_id)
            assert case is not None
            return case.version

    def action(self, case: PlacedCase) -> str:
        body = {"kind": "release_fulfillment", "params": {"note": f"checked {next(_n)}"}}
        return str(self.made("POST", f"/v1/cases/{case.case_id}/actions", body)["id"])

    def message(self, case: PlacedCase) -> dict[str, Any]:
        body = {"body": f"Your parcel is on its way ({next(_n)}).", "subject": "Update"}
        made: dict[str, Any] = self.made("POST", f"/v1/cases/{case.case_id}/communications", body)
        return made

    def recommendation(self, case: PlacedCase) -> str:
        return str(self.made("POST", f"/v1/cases/{case.case_id}/recommendations", {})["id"])

    def pack(self, case: PlacedCase) -> str:
        """The case's evidence pack (a case has one until it is approved)."""
        if case.case_id not in self.packs:
            made = self.made("POST", f"/v1/cases/{case.case_id}/dispute-evidence", {})
            self.packs[case.case_id] = str(made["id"])
        return self.packs[case.case_id]

    def outbox(self, case: PlacedCase) -> str:
        path = f"/v1/recommendations/{self.recommendation(case)}/handoff"
        return str(self.made("POST", path)["outbox_id"])

    def hold(self, case: PlacedCase) -> str:
        """A fulfillment hold on the case (approved by the default policy's rule)."""
        body = {"kind": "hold_fulfillment", "params": {"reason": "address_check", "note": "n"}}
        made = self.made("POST", f"/v1/cases/{case.case_id}/actions", body)
        assert made["status"] == "approved", made
        holds = self.made("GET", "/v1/holds?limit=500")["items"]
        return next(str(h["id"]) for h in holds if h["action_id"] == made["id"])

    def link(self, case: PlacedCase) -> str:
        """A ticket that named no order, linked to the case's order by hand."""
        body = {
            "record_type": "ticket",
            "record_ref": _orphan_ticket(self),
            "order_ref": case.order_ref,
            "reason": "the customer called about this order",
        }
        return str(self.made("POST", "/v1/links", body)["link"]["id"])

    def incident(self, case: PlacedCase) -> str:
        with UnitOfWork(self.app.sessions, tenant_id="acme") as uow:
            incident = Incident(
                tenant_id="acme",
                key=f"shipment_late|lane:test:{case.case_id}",
                type="shipment_late",
                dimension="lane",
                summary="late parcels on one lane",
                opened_at=self.clock.now(),
                case_count=1,
            )
            uow.session.add(incident)
            uow.session.flush()
            stored = uow.cases.get(case.case_id)
            assert stored is not None
            stored.incident_id = incident.id
            uow.commit()
            return incident.id

    def attempt(self, case: PlacedCase) -> None:
        message_id = self.outbox(case)
        with UnitOfWork(self.app.sessions, tenant_id="acme") as uow:
            uow.session.add(
                WritebackAttempt(
                    tenant_id="acme",
                    message_id=message_id,
                    number=1,
                    worker_id="test",
                    outcome="retry",
                    request_summary={},
                    started_at=self.clock.now(),
                )
            )
            uow.commit()


@pytest.fixture(autouse=True)
def _unthrottled(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tables send hundreds of requests a second with one key; rate limits are
    another test's subject (autouse: set before the app reads its settings)."""
    monkeypatch.setenv("ORDEROPS_RATE_LIMIT_API_PER_KEY", "100000/second")
    monkeypatch.setenv("ORDEROPS_RATE_LIMIT_API_PER_TENANT", "100000/second")


def _world(app: App, clock: FixedClock, *, with_cases: bool) -> Iterator[World]:
    name_brands(app, clock)
    maker = scoped_person(app, clock, role=Role.ADMIN, scope=AccessScope())
    checker = scoped_person(app, clock, role=Role.ADMIN, scope=AccessScope())
    cases = {place: placed_case(app, clock, place) for place in PLACES} if with_cases else {}
    with TestClient(create_app(app)) as http:
        yield World(app, clock, http, maker, checker, cases)


@pytest.fixture
def world(app: App, clock: FixedClock) -> Iterator[World]:
    yield from _world(app, clock, with_cases=True)


@pytest.fixture
def office(app: App, clock: FixedClock) -> Iterator[World]:
    """The same people, no cases: for administration alone."""
    yield from _world(app, clock, with_cases=False)


def principals(world: World) -> dict[str, Person]:
    return {
        label: scoped_person(world.app, world.clock, role=Role.ADMIN, scope=scope)
        for label, scope in SCOPES.items()
    }


# -- routes that name one object ----------------------------------------------------------


@dataclass(frozen=True)
class Named:
    """The route names an object that sits where ``case`` sits."""

    method: str
    path: str
    success: int
    prepare: Callable[[World, PlacedCase], Request]
    fresh: bool = False
    """Each request acts on a case of its own (the route changes what it names for good)."""

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _case(
    suffix: str = "", body: dict[str, Any] | None = None
) -> Callable[[World, PlacedCase], Request]:
    return lambda w, c: (f"/v1/cases/{c.case_id}{suffix}", body)


def _versioned(suffix: str, **body: Any) -> Callable[[World, PlacedCase], Request]:
    return lambda w, c: (
        f"/v1/cases/{c.case_id}{suffix}",
        {**body, "version": w.version(c.case_id)},
    )


def _claimed_release(w: World, c: PlacedCase) -> Request:
    w.made("POST", f"/v1/cases/{c.case_id}/claim", {"version": w.version(c.case_id)})
    return f"/v1/cases/{c.case_id}/release", {"version": w.version(c.case_id), "force": True}


def _approved_message(w: World, c: PlacedCase) -> Request:
    message = w.message(c)
    path = f"/v1/communications/{message['id']}"
    w.made("POST", f"{path}/approve", {"version": message["version"]}, by=w.checker)
    # the world sends several messages to one customer: one voice would refuse a repeat
    return f"{path}/send", {"version": message["version"] + 1, "override_reason": "scope test"}


def _sending_message(w: World, c: PlacedCase) -> Request:
    """A message queued for delivery: retrying it is refused (409) where it can be seen."""
    send, body = _approved_message(w, c)
    assert body is not None
    w.made("POST", send, body)
    return send.replace("/send", "/retry"), {"version": body["version"] + 1}


def _message(step: str, **body: Any) -> Callable[[World, PlacedCase], Request]:
    def prepare(w: World, c: PlacedCase) -> Request:
        message = w.message(c)
        return f"/v1/communications/{message['id']}{step}", {**body, "version": message["version"]}

    return prepare


def _cancelled_outbox(w: World, c: PlacedCase) -> Request:
    message_id = w.outbox(c)
    w.made("POST", f"/v1/outbox/{message_id}/cancel")
    return f"/v1/outbox/{message_id}/retry", None


def _evidence(w: World, c: PlacedCase) -> Request:
    """Bytes of the case's own, uploaded to it: a hash learnt from this case alone."""
    uploaded = w.http.post(
        f"/v1/cases/{c.case_id}/evidence",
        content=f"proof of delivery {next(_n)}".encode(),
        headers={**w.maker.headers, "content-type": "text/plain"},
    )
    assert uploaded.status_code == 201, uploaded.text
    return f"/v1/evidence/{uploaded.json()['sha256']}", None


def _hold_of(w: World, c: PlacedCase) -> str:
    """A hold on a new case where ``c`` sits: a hold leaves its case taking no proposals,
    and the routes after this one propose on ``c``."""
    return w.hold(w.fresh(c.place))


def _customer_message(w: World, c: PlacedCase) -> Request:
    w.recommendation(c)  # drafts the customer's message the route merges
    return f"/v1/orders/{c.order_ref}/customer-message", {"recipient": "buyer@example.com"}


NAMED = [
    Named("GET", "/v1/cases/{case_id}", 200, _case()),
    Named(
        "POST",
        "/v1/holds/{hold_id}/release",
        200,
        lambda w, c: (f"/v1/holds/{w.hold(c)}/release", None),
        fresh=True,
    ),
    Named("GET", "/v1/holds/{hold_id}", 200, lambda w, c: (f"/v1/holds/{_hold_of(w, c)}", None)),
    Named("GET", "/v1/cases/{case_id}/actions", 200, _case("/actions")),
    Named("GET", "/v1/cases/{case_id}/choice-offers", 200, _case("/choice-offers")),
    # a late parcel is no case to offer choices on: in scope, the offer reaches the case and
    # is refused for its type (422); out of scope it is not found (404)
    Named("POST", "/v1/cases/{case_id}/choice-offers", 422, _case("/choice-offers")),
    # nothing was offered: in scope the case answers that none was withdrawn (200)
    Named(
        "POST", "/v1/cases/{case_id}/choice-offers/withdraw", 200, _case("/choice-offers/withdraw")
    ),
    Named(
        "POST",
        "/v1/cases/{case_id}/actions",
        201,
        lambda w, c: (
            f"/v1/cases/{c.case_id}/actions",
            {"kind": "release_fulfillment", "params": {"note": f"n{next(_n)}"}},
        ),
    ),
    Named("POST", "/v1/cases/{case_id}/assign", 200, _versioned("/assign", assignee="pat")),
    Named("POST", "/v1/cases/{case_id}/claim", 200, _versioned("/claim"), fresh=True),
    Named("POST", "/v1/cases/{case_id}/release", 200, _claimed_release, fresh=True),
    Named("POST", "/v1/cases/{case_id}/priority", 200, _versioned("/priority", priority="P2")),
    Named("POST", "/v1/cases/{case_id}/route", 200, _versioned("/route")),
    Named(
        "POST",
        "/v1/cases/{case_id}/transitions",
        200,
        _versioned("/transitions", move="triage"),
        fresh=True,
    ),
    Named("GET", "/v1/cases/{case_id}/communications", 200, _case("/communications")),
    Named(
        "POST", "/v1/cases/{case_id}/communications", 201, _case("/communications", {"body": "Hi"})
    ),
    Named("POST", "/v1/cases/{case_id}/evidence", 201, _case("/evidence", {"photo": "parcel"})),
    Named("POST", "/v1/cases/{case_id}/snapshots", 201, _case("/snapshots")),
    Named("GET", "/v1/evidence/{sha256}", 200, _evidence),
    Named("GET", "/v1/cases/{case_id}/recommendations", 200, _case("/recommendations")),
    Named("POST", "/v1/cases/{case_id}/recommendations", 201, _case("/recommendations", {})),
    Named("POST", "/v1/cases/{case_id}/summary", 200, _case("/summary")),
    Named(
        "POST",
        "/v1/cases/{case_id}/playbook/reevaluate",
        200,
        _case("/playbook/reevaluate?dry_run=true"),
    ),
    Named(
        "POST",
        "/v1/cases/{case_id}/dispute-evidence",
        201,
        _case("/dispute-evidence", {}),
        fresh=True,
    ),
    Named(
        "GET",
        "/v1/cases/{case_id}/dispute-evidence",
        200,
        lambda w, c: (w.pack(c) and f"/v1/cases/{c.case_id}/dispute-evidence", None),
    ),
    Named(
        "POST",
        "/v1/dispute-evidence/{pack_id}/approve",
        200,
        lambda w, c: (f"/v1/dispute-evidence/{w.pack(c)}/approve", None),
        fresh=True,
    ),
    Named("PATCH", "/v1/communications/{message_id}", 200, _message("", body="Edited.")),
    Named("POST", "/v1/communications/{message_id}/approve", 200, _message("/approve")),
    Named("POST", "/v1/communications/{message_id}/send", 200, _approved_message),
    Named("POST", "/v1/communications/{message_id}/retry", 409, _sending_message),
    Named(
        "POST",
        "/v1/recommendations/{recommendation_id}/handoff",
        201,
        lambda w, c: (f"/v1/recommendations/{w.recommendation(c)}/handoff", None),
    ),
    Named("POST", "/v1/orders/{order_ref}/customer-message", 201, _customer_message, fresh=True),
    Named("GET", "/v1/actions/{action_id}", 200, lambda w, c: (f"/v1/actions/{w.action(c)}", None)),
    Named(
        "POST",
        "/v1/actions/{action_id}/approve",
        200,
        lambda w, c: (f"/v1/actions/{w.action(c)}/approve", {}),
        fresh=True,
    ),
    Named(
        "POST",
        "/v1/actions/{action_id}/reject",
        200,
        lambda w, c: (f"/v1/actions/{w.action(c)}/reject", {"reason": "not needed"}),
        fresh=True,
    ),
    Named(
        "POST",
        "/v1/actions/bulk-approve",
        200,
        lambda w, c: ("/v1/actions/bulk-approve", {"action_ids": [w.action(c)]}),
        fresh=True,
    ),
    Named("GET", "/v1/outbox/{message_id}", 200, lambda w, c: (f"/v1/outbox/{w.outbox(c)}", None)),
    Named(
        "POST",
        "/v1/outbox/{message_id}/cancel",
        200,
        lambda w, c: (f"/v1/outbox/{w.outbox(c)}/cancel", None),
    ),
    Named("POST", "/v1/outbox/{message_id}/retry", 200, _cancelled_outbox),
    Named(
        "GET",
        "/v1/incidents/{incident_id}",
        200,
        lambda w, c: (f"/v1/incidents/{w.incident(c)}", None),
        fresh=True,
    ),
    Named(
        "GET",
        "/v1/orders/{order_ref}/links",
        200,
        lambda w, c: (w.link(c) and f"/v1/orders/{c.order_ref}/links", None),
    ),
    Named(
        "POST",
        "/v1/links/{link_id}/unlink",
        200,
        lambda w, c: (f"/v1/links/{w.link(c)}/unlink", {"reason": "wrong order"}),
        fresh=True,
    ),
]


@pytest.mark.parametrize("label", list(SCOPES))
def test_a_route_naming_an_object_answers_404_outside_the_callers_scope(
    world: World, label: str
) -> None:
    who = scoped_person(world.app, world.clock, role=Role.ADMIN, scope=SCOPES[label])
    actual: dict[tuple[str, str], int] = {}
    for route, place in itertools.product(NAMED, PLACES):
        case = world.fresh(place) if route.fresh else world.cases[place]
        path, body = route.prepare(world, case)
        response = world.call(who, route.method, path, body)
        actual[(str(route), str(case))] = response.status_code
        if response.status_code == 404:
            assert response.headers["content-type"].startswith("application/problem+json")

    assert actual == {
        (str(route), f"{place.region}/{place.brand}"): route.success
        if SCOPES[label].admits(_full(place))
        else 404
        for route, place in itertools.product(NAMED, PLACES)
    }
    assert verify_tenant(world.app.sessions, tenant_id="acme").ok


def _full(place: ScopeValues) -> ScopeValues:
    """The place as the case holds it (store and channel follow from the brand)."""
    return ScopeValues(brand=place.brand, region=place.region, store="-", channel="web")


# -- lists --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Listed:
    """A list; ``shown`` reads the case ids its rows belong to."""

    method: str
    path: str
    prepare: Callable[[World], str]
    shown: Callable[[World, Any], set[str]]

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _each_case(make: Callable[[World, PlacedCase], object]) -> Callable[[World], None]:
    def prepare(w: World) -> None:
        for case in w.cases.values():
            make(w, case)

    return prepare


def _case_ids(key: str = "id", items: str | None = "items") -> Callable[[World, Any], set[str]]:
    return lambda w, body: {str(row[key]) for row in (body[items] if items else body)}


def _behind_the_playbook(w: World) -> None:
    """Every case pinned to the packaged playbook (v0), then the same rules stored as v1."""
    from orderops.recommend.playbook import default_playbook
    from orderops.recommend.service import playbook_yaml, store_playbook

    _each_case(World.recommendation)(w)
    with UnitOfWork(w.app.sessions, tenant_id="acme") as uow:
        text = playbook_yaml(default_playbook())
        store_playbook(uow, text, actor="test", now=w.clock.now())
        uow.commit()


def _incident_cases(w: World, body: Any) -> set[str]:
    by_incident = {}
    with UnitOfWork(w.app.sessions, tenant_id="acme", write=False) as uow:
        for case_id, incident_id in uow.session.execute(select(Case.id, Case.incident_id)):
            by_incident[incident_id] = case_id
    return {by_incident[row["id"]] for row in body["items"]}


LISTED = [
    Listed("GET", "/v1/cases", lambda w: "/v1/cases?limit=500", _case_ids()),
    Listed("GET", "/v1/cases", lambda w: "/v1/cases?limit=500&count=true&sort=impact", _case_ids()),
    Listed(
        "GET",
        "/v1/actions",
        lambda w: _each_case(World.action)(w) or "/v1/actions?limit=500",
        _case_ids("case_id", None),
    ),
    Listed(
        "GET",
        "/v1/outbox",
        lambda w: _each_case(World.outbox)(w) or "/v1/outbox?limit=200",
        _case_ids("case_id"),
    ),
    Listed(
        "GET",
        "/v1/outbox/attempts",
        lambda w: _each_case(World.attempt)(w) or "/v1/outbox/attempts",
        _case_ids("case_id"),
    ),
    Listed(
        "GET",
        "/v1/incidents",
        lambda w: _each_case(World.incident)(w) or "/v1/incidents",
        _incident_cases,
    ),
    Listed(
        "POST",
        "/v1/playbook/reevaluate",
        lambda w: _behind_the_playbook(w) or "/v1/playbook/reevaluate?dry_run=true",
        _case_ids("case_id", "cases"),
    ),
    # last: a hold approves its case, which then takes no proposals the lists above make
    Listed(
        "GET",
        "/v1/holds",
        lambda w: _each_case(World.hold)(w) or "/v1/holds?limit=500",
        _case_ids("case_id"),
    ),
]


def test_a_list_shows_exactly_the_rows_in_the_callers_scope(world: World) -> None:
    paths = {str(route) + str(n): route.prepare(world) for n, route in enumerate(LISTED)}
    people = principals(world)
    where = _places(world)
    for n, route in enumerate(LISTED):
        shown = {}
        for label, who in people.items():
            response = world.call(who, route.method, paths[str(route) + str(n)])
            assert response.status_code == 200, response.text
            shown[label] = route.shown(world, response.json())

        assert {c.case_id for c in world.cases.values()} <= shown["unscoped"], route
        assert shown == {
            label: {c for c in shown["unscoped"] if SCOPES[label].admits(where[c])}
            for label in people
        }, route


def test_an_incident_counts_only_the_callers_cases(world: World) -> None:
    """One incident over a case in each of the four places: a scoped caller sees it with
    its own cases counted, never the tenant's (neither open ones nor all ever grouped)."""
    incident_id = _one_incident(world)
    people = principals(world)

    seen = {}
    for label, who in people.items():
        listed = world.call(who, "GET", "/v1/incidents").json()["items"]
        one = world.call(who, "GET", f"/v1/incidents/{incident_id}").json()
        seen[label] = (
            [(r["case_count"], r["open_cases"]) for r in listed if r["id"] == incident_id],
            (one["case_count"], one["open_cases"]),
        )

    mine = {label: sum(1 for p in PLACES if SCOPES[label].admits(_full(p))) for label in SCOPES}
    assert mine == {"region=DE": 2, "brand=acme": 2, "region=DE+brand=acme": 1, "unscoped": 4}
    assert seen == {label: ([(n, n)], (n, n)) for label, n in mine.items()}


def _one_incident(world: World) -> str:
    with UnitOfWork(world.app.sessions, tenant_id="acme") as uow:
        incident = Incident(
            tenant_id="acme",
            key="shipment_late|lane:test:all-places",
            type="shipment_late",
            dimension="lane",
            summary="late parcels everywhere",
            opened_at=world.clock.now(),
            case_count=len(world.cases),
        )
        uow.session.add(incident)
        uow.session.flush()
        for case in world.cases.values():
            stored = uow.cases.get(case.case_id)
            assert stored is not None
            stored.incident_id = incident.id
        uow.commit()
        return incident.id


def test_a_decisions_snapshot_is_read_only_in_the_scope_of_its_case(world: World) -> None:
    """The facts frozen when an action is proposed are named by the decision's timeline
    entry alone; their hash opens them to a caller who may see that case."""
    fr_bolt = world.cases[ScopeValues(region="FR", brand="bolt")]
    action_id = world.action(fr_bolt)
    with UnitOfWork(world.app.sessions, tenant_id="acme", write=False) as uow:
        (snapshot,) = [
            e.data["snapshot"]
            for e in uow.session.scalars(
                select(CaseTimelineEntry).where(CaseTimelineEntry.case_id == fr_bolt.case_id)
            )
            if e.kind == "action_proposed" and e.data["action_id"] == action_id
        ]
    assert isinstance(snapshot, str)
    assert len(snapshot) == 64

    answers = {
        label: world.call(who, "GET", f"/v1/evidence/{snapshot}").status_code
        for label, who in principals(world).items()
    }

    assert answers == {
        label: 200 if SCOPES[label].admits(_full(fr_bolt.place)) else 404 for label in SCOPES
    }
    assert answers["unscoped"] == 200
    assert answers["region=DE"] == 404


def _places(world: World) -> dict[str, ScopeValues]:
    """Where every case sits, as stored."""
    with UnitOfWork(world.app.sessions, tenant_id="acme", write=False) as uow:
        return {c.id: ScopeValues.of_row(c) for c in uow.session.scalars(select(Case))}


def test_a_support_agent_limited_to_region_de_sees_only_de_customers_cases(
    world: World,
) -> None:
    agent = scoped_person(world.app, world.clock, role=Role.AGENT, scope=parse(["region=DE"]))

    listed = world.call(agent, "GET", "/v1/cases?limit=500").json()["items"]

    de = {c.case_id for place, c in world.cases.items() if place.region == "DE"}
    assert {row["id"] for row in listed} >= de
    assert {row["order_ref"].split("-")[1] for row in listed} == {"DE"}
    fr = world.cases[ScopeValues(region="FR", brand="acme")]
    assert world.call(agent, "GET", f"/v1/cases/{fr.case_id}").status_code == 404


def test_a_key_sees_only_what_its_user_and_its_own_scope_both_allow(world: World) -> None:
    user = scoped_person(world.app, world.clock, role=Role.ADMIN, scope=parse(["region=DE"]))
    world.made(
        "PUT", f"/v1/admin/keys/{user.principal.key_id}/scope", {"scope": {"brand": ["acme"]}}
    )

    listed = world.call(user, "GET", "/v1/cases?limit=500").json()["items"]

    both = world.cases[ScopeValues(region="DE", brand="acme")].case_id
    assert both in {row["id"] for row in listed}
    assert {(row["order_ref"].split("-")[1], row["order_ref"].split("-")[2]) for row in listed} == {
        ("DE", "acme")
    }


def test_a_scoped_administrator_cannot_hand_out_a_wider_scope(office: World) -> None:
    admin = scoped_person(office.app, office.clock, role=Role.ADMIN, scope=parse(["region=DE"]))
    other = scoped_person(office.app, office.clock, role=Role.VIEWER, scope=parse(["region=DE"]))

    widened = office.call(admin, "PUT", f"/v1/admin/users/{other.user_id}/scope", {"scope": {}})
    narrowed = office.call(
        admin,
        "PUT",
        f"/v1/admin/users/{other.user_id}/scope",
        {"scope": {"region": ["DE"], "brand": ["bolt"]}},
    )

    assert widened.status_code == 403
    assert narrowed.status_code == 200
    assert narrowed.json()["scope"] == {"brand": ["bolt"], "region": ["DE"]}


def test_a_scope_change_is_audited_with_before_and_after(office: World) -> None:
    other = scoped_person(office.app, office.clock, role=Role.VIEWER, scope=parse(["region=DE"]))

    office.made("PUT", f"/v1/admin/users/{other.user_id}/scope", {"scope": {"region": ["FR"]}})

    with UnitOfWork(office.app.sessions, tenant_id="acme", write=False) as uow:
        changes = [
            (r.actor, r.data)
            for r in uow.audit.records()
            if r.action == "user.scope_changed" and r.entity_id == other.user_id
        ]
    assert changes[-1] == (
        office.maker.principal.identity,
        {"from": {"region": ["DE"]}, "to": {"region": ["FR"]}},
    )
    assert verify_tenant(office.app.sessions, tenant_id="acme").ok


def test_an_unknown_dimension_or_an_empty_value_list_is_a_clear_422(office: World) -> None:
    user_id = office.maker.user_id
    unknown = office.call(
        office.maker, "PUT", f"/v1/admin/users/{user_id}/scope", {"scope": {"country": ["DE"]}}
    )
    empty = office.call(
        office.maker, "PUT", f"/v1/admin/users/{user_id}/scope", {"scope": {"region": []}}
    )

    assert unknown.status_code == 422
    assert "not a scope dimension" in unknown.json()["detail"]
    assert empty.status_code == 422


# -- queues -------------------------------------------------------------------------------


def _open_by_queue(world: World, who: Person) -> dict[str, int]:
    items = world.call(who, "GET", "/v1/queues").json()["items"]
    return {row["name"]: row["open"] for row in items if row["open"]}


def test_queue_counts_count_only_the_callers_cases(world: World) -> None:
    people = principals(world)
    everyone = _open_by_queue(world, people["unscoped"])

    counts = {label: _open_by_queue(world, who) for label, who in people.items()}

    with UnitOfWork(world.app.sessions, tenant_id="acme", write=False) as uow:
        open_cases = [
            (c.queue, ScopeValues.of_row(c))
            for c in uow.session.scalars(select(Case).where(Case.status != "resolved"))
        ]
    for label, scope in SCOPES.items():
        expected: dict[str, int] = {}
        for queue, place in open_cases:
            if queue is not None and scope.admits(place):
                expected[queue] = expected.get(queue, 0) + 1
        assert counts[label] == expected, label
    assert sum(everyone.values()) > sum(counts["region=DE+brand=acme"].values()) > 0


def test_a_scoped_queue_shows_only_its_cases_in_scope(world: World) -> None:
    queue = _queue_of(world, world.cases[PLACES[0]].case_id)
    world.made("PUT", f"/v1/queues/{queue}/scope", {"scope": {"brand": ["bolt"]}})
    unscoped = principals(world)["unscoped"]

    listed = world.call(unscoped, "GET", f"/v1/cases?queue={queue}&limit=500").json()["items"]
    everything = world.call(unscoped, "GET", "/v1/cases?limit=500").json()["items"]

    in_queue = {row["id"] for row in everything if row["queue"] == queue}
    bolt = {c.case_id for place, c in world.cases.items() if place.brand == "bolt"}
    assert {row["id"] for row in listed} == in_queue & _brand_cases(world, "bolt")
    assert bolt <= {row["id"] for row in listed}
    assert world.cases[PLACES[0]].case_id in {row["id"] for row in everything}
    assert _open_by_queue(world, unscoped)[queue] == len(in_queue & _brand_cases(world, "bolt"))


def _queue_of(world: World, case_id: str) -> str:
    with UnitOfWork(world.app.sessions, tenant_id="acme", write=False) as uow:
        case = uow.cases.get(case_id)
        assert case is not None
        assert case.queue is not None
        return case.queue


def _brand_cases(world: World, brand: str) -> set[str]:
    with UnitOfWork(world.app.sessions, tenant_id="acme", write=False) as uow:
        return set(uow.session.scalars(select(Case.id).where(Case.brand == brand)))


# -- records that name no order yet, and tenant-wide routes -------------------------------


def _orphan_ticket(w: World) -> str:
    ref = f"orphan-{next(_n)}"
    report = ingest_items(
        w.app.sessions,
        tenant_id="acme",
        items=[ticket(ref, at=w.clock.now() - timedelta(hours=1))],
        channel="test",
        clock=w.clock,
    )
    assert report.rejected == []
    return f"zendesk:{ref}"


UNSCOPED_ONLY: dict[tuple[str, str], Callable[[World, PlacedCase], Request]] = {
    ("GET", "/v1/link-suggestions/{suggestion_id}"): lambda w, c: (
        f"/v1/link-suggestions/{suggested_ticket(w.app, w.clock).suggestion_id}",
        None,
    ),
    ("POST", "/v1/link-suggestions/{suggestion_id}/accept"): lambda w, c: (
        f"/v1/link-suggestions/{(s := suggested_ticket(w.app, w.clock)).suggestion_id}/accept",
        {"order_ref": s.order_a},
    ),
    ("POST", "/v1/link-suggestions/{suggestion_id}/reject"): lambda w, c: (
        f"/v1/link-suggestions/{suggested_ticket(w.app, w.clock).suggestion_id}/reject",
        {"reason": "none of them"},
    ),
    ("POST", "/v1/links"): lambda w, c: (
        "/v1/links",
        {
            "record_type": "ticket",
            "record_ref": _orphan_ticket(w),
            "order_ref": c.order_ref,
            "reason": "the customer called",
        },
    ),
    ("POST", "/v1/shadow"): lambda w, c: (
        stop_running(w.app, w.clock) or "/v1/shadow",
        {"candidate": lower_fraud_threshold()},
    ),
    ("POST", "/v1/shadow/stop"): lambda w, c: (
        start_candidate(w.app, w.clock, lower_fraud_threshold()) and "/v1/shadow/stop",
        None,
    ),
    ("POST", "/v1/shadow/promotion"): lambda w, c: (
        start_candidate(w.app, w.clock, lower_fraud_threshold()) and "/v1/shadow/promotion",
        None,
    ),
    ("POST", "/v1/shadow/promotion/approve"): lambda w, c: (
        proposed_candidate(w.app, w.clock, proposer=w.checker.principal.identity)
        and "/v1/shadow/promotion/approve",
        None,
    ),
    ("GET", "/v1/backtests/{run_id}"): lambda w, c: (
        f"/v1/backtests/{stored_run(w.app, w.clock)}",
        None,
    ),
    ("POST", "/v1/backtests"): lambda w, c: ("/v1/backtests", request_body(w.clock)),
}
"""Records resolve could not tie to an order sit nowhere yet: like a case without an
order, they are tenant-wide work, for the unscoped (404 to anyone scoped). Shadow mode
judges every order of the tenant, so it is for the unscoped too (test_shadow_api.py), and so
does a backtest report (test_backtest_api.py)."""


def test_records_that_name_no_order_yet_are_for_the_unscoped_only(world: World) -> None:
    people = principals(world)
    case = world.cases[PLACES[0]]  # in everyone's scope
    actual = {}
    for route, label in itertools.product(sorted(UNSCOPED_ONLY), people):
        path, body = UNSCOPED_ONLY[route](world, case)
        actual[(" ".join(route), label)] = world.call(people[label], route[0], path, body)

    assert {key: r.status_code < 300 for key, r in actual.items()} == {
        key: key[1] == "unscoped" for key in actual
    }
    assert {r.status_code for key, r in actual.items() if key[1] != "unscoped"} == {404}


def test_a_scoped_caller_sees_no_link_suggestions(world: World) -> None:
    suggested_ticket(world.app, world.clock)
    people = principals(world)

    totals = {
        label: world.call(who, "GET", "/v1/link-suggestions").json()["total"]
        for label, who in people.items()
    }

    assert totals == {label: (1 if label == "unscoped" else 0) for label in people}


SEPARATELY = {
    ("GET", "/v1/queues"): "test_queue_counts_count_only_the_callers_cases",
    ("GET", "/v1/link-suggestions"): "test_a_scoped_caller_sees_no_link_suggestions",
    ("GET", "/v1/shadow"): "test_shadow_api.py::"
    "test_a_scoped_administrator_is_answered_as_if_there_were_nothing",
    ("GET", "/v1/backtests"): "test_backtest_api.py::"
    "test_other_tenants_scoped_callers_and_forged_ids_find_nothing",
}

HOOKS = "outbound webhook subscriptions of the tenant"

TENANT_WIDE = {
    ("GET", "/"): "the console's front door",
    ("GET", "/healthz"): "liveness",
    ("GET", "/readyz"): "readiness",
    ("GET", "/metrics"): "process metrics, no case data",
    ("GET", "/v1/action-kinds"): "the action catalogue",
    ("POST", "/v1/events"): "ingestion: an event is stored before anything is placed",
    ("POST", "/v1/webhooks/{source}/{endpoint_token}"): "ingestion, signed by the sender",
    ("POST", "/v1/sources"): "webhook sources of the tenant",
    ("GET", "/v1/inbox/lag"): "processing lag counts",
    ("GET", "/v1/usage"): "metering of the tenant",
    ("GET", "/v1/llm/usage"): "model usage totals (rows naming a case are scoped by the guard)",
    ("GET", "/v1/playbook"): "the tenant's playbook",
    ("PUT", "/v1/playbook"): "the tenant's playbook",
    ("GET", "/v1/routing-rules"): "the tenant's routing rules",
    ("POST", "/v1/routing-rules"): "the tenant's routing rules",
    ("PUT", "/v1/queues/{name}"): "queue settings",
    ("PUT", "/v1/queues/{name}/members/{member}"): "queue rosters",
    ("DELETE", "/v1/queues/{name}/members/{member}"): "queue rosters",
    ("PUT", "/v1/queues/{name}/scope"): "queue scopes (only within the caller's own)",
    ("GET", "/v1/admin/users"): "administration of identities",
    ("POST", "/v1/admin/users"): "administration of identities",
    ("POST", "/v1/admin/users/{user_id}/disable"): "administration of identities",
    ("POST", "/v1/admin/users/{user_id}/role"): "administration of identities",
    ("GET", "/v1/admin/users/{user_id}/provenance"): "administration of identities",
    ("POST", "/v1/admin/users/{user_id}/keys"): "administration of identities",
    ("PUT", "/v1/admin/users/{user_id}/scope"): "scopes (only within the caller's own)",
    ("GET", "/v1/admin/keys"): "administration of keys",
    ("POST", "/v1/admin/keys/{key_id}/revoke"): "administration of keys",
    ("POST", "/v1/admin/keys/{key_id}/rotate"): "administration of keys",
    ("PUT", "/v1/admin/keys/{key_id}/scope"): "scopes (only within the caller's own)",
    ("GET", "/v1/admin/scopes"): "scopes of the tenant's identities and queues",
    ("GET", "/v1/admin/brand-rules"): "the tenant's brands",
    ("PUT", "/v1/admin/brand-rules"): "the tenant's brands (unscoped managers only)",
    ("DELETE", "/v1/admin/brand-rules/{kind}/{value}"): "the tenant's brands (unscoped only)",
    ("GET", "/v1/admin/connections"): "vendor connections of the tenant",
    ("POST", "/v1/admin/connections"): "vendor connections of the tenant",
    ("POST", "/v1/admin/connections/{system}/test"): "vendor connections of the tenant",
    ("POST", "/v1/admin/connections/{system}/remove"): "vendor connections of the tenant",
    ("POST", "/v1/admin/connections/{system}/rotate"): "vendor connections of the tenant",
    ("GET", "/v1/webhook-subscriptions"): HOOKS,
    ("POST", "/v1/webhook-subscriptions"): HOOKS,
    ("GET", "/v1/webhook-subscriptions/{subscription_id}"): HOOKS,
    ("PATCH", "/v1/webhook-subscriptions/{subscription_id}"): HOOKS,
    ("DELETE", "/v1/webhook-subscriptions/{subscription_id}"): HOOKS,
    ("POST", "/v1/webhook-subscriptions/{subscription_id}/rotate"): HOOKS,
    ("GET", "/v1/webhook-subscriptions/{subscription_id}/deliveries"): HOOKS,
    (
        "POST",
        "/v1/webhook-subscriptions/{subscription_id}/deliveries/{delivery_id}/redeliver",
    ): HOOKS,
    ("GET", "/v1/admin/approval-policy"): "the approval policy",
    ("PUT", "/v1/admin/approval-policy"): "the approval policy",
    ("GET", "/v1/admin/approval-policy/versions"): "the approval policy",
    ("POST", "/v1/admin/approval-policy/reevaluate"): "the approval policy, all open cases",
    ("GET", "/v1/admin/notification-policy"): "the tenant's proactive notice rule",
    ("PUT", "/v1/admin/notification-policy"): "the tenant's proactive notice rule",
}
"""Routes about the tenant's settings, administration and ingestion: no case or order data
comes back, so a scope has nothing to narrow."""


def _api_routes() -> set[tuple[str, str]]:
    """Every API route the app serves (``ROUTERS``; the console's pages are held to scopes
    by the console tests below)."""
    return {
        (method, route.path)
        for router in ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute) and not route.path.startswith("/console")
        for method in route.methods
    }


def test_every_route_has_a_scope_decision() -> None:
    decided = [
        *((r.method, r.path) for r in NAMED),
        *((r.method, r.path) for r in LISTED),
        *UNSCOPED_ONLY,
        *SEPARATELY,
        *TENANT_WIDE,
    ]

    categories = [
        {(r.method, r.path) for r in NAMED},
        {(r.method, r.path) for r in LISTED},
        set(UNSCOPED_ONLY),
        set(SEPARATELY),
        set(TENANT_WIDE),
    ]
    assert sum(len(c) for c in categories) == len(set(decided))  # one decision per route
    assert set(decided) == _api_routes()


def test_a_scoped_administrator_may_not_change_brand_rules(office: World) -> None:
    admin = scoped_person(office.app, office.clock, role=Role.ADMIN, scope=parse(["region=DE"]))
    before = office.made("GET", "/v1/admin/brand-rules")

    refused = office.call(
        admin, "PUT", "/v1/admin/brand-rules", {"kind": "store", "value": "x", "brand": "y"}
    )

    assert refused.status_code == 403
    assert office.made("GET", "/v1/admin/brand-rules") == before


# -- the console --------------------------------------------------------------------------


def _viewer(world: World, scope: AccessScope) -> TestClient:
    who = console_person(world.app, world.clock, role=Role.ADMIN)
    set_user_scope(
        world.app.sessions,
        tenant_id="acme",
        user_id=who.user_id,
        scope=scope,
        actor="test",
        clock=world.clock,
    )
    return signed_in(world.app, who)


def test_the_console_shows_a_viewer_only_the_cases_in_their_scope(world: World) -> None:
    """The case page (404 outside), the queue page and the dashboards, per scope."""
    queue = _queue_of(world, world.cases[PLACES[0]].case_id)
    where = _places(world)
    for label, scope in SCOPES.items():
        console = _viewer(world, scope)

        pages = {
            str(c): console.get(f"/console/cases/{c.case_id}").status_code
            for c in world.cases.values()
        }
        queue_page = console.get(f"/console/queues/{queue}").text
        opened = _opened_today(console.get("/console/dashboards.csv").text)  # last 14 days

        assert pages == {
            f"{p.region}/{p.brand}": 200 if scope.admits(_full(p)) else 404 for p in PLACES
        }, label
        for place, case in world.cases.items():
            shown = scope.admits(_full(place)) and _queue_of(world, case.case_id) == queue
            assert (case.case_id in queue_page) is shown, (str(case), label)
        assert opened == sum(1 for p in where.values() if scope.admits(p)) > 0, label


def test_the_audit_page_shows_a_scoped_viewer_only_the_records_of_their_cases(
    world: World,
) -> None:
    """A record is about a case when it is the case's own or names it (``case_id``); a
    scoped viewer sees those of their cases and nothing tenant-wide, the unscoped all."""
    world.action(world.cases[ScopeValues(region="FR", brand="bolt")])  # records naming a case
    where = _places(world)
    for label, scope in SCOPES.items():
        console = _viewer(world, scope)
        outside = [c for p, c in world.cases.items() if not scope.admits(_full(p))]
        inside = [c for p, c in world.cases.items() if scope.admits(_full(p))]

        page = console.get("/console/audit")
        of_case_outside = [console.get(f"/console/audit?case={c.case_id}") for c in outside]
        of_case_inside = console.get(f"/console/audit?case={inside[0].case_id}")

        about = _cases_named(world)
        expected = [
            seq
            for seq, case_id in sorted(about.items(), reverse=True)
            if scope.unrestricted or (case_id in where and scope.admits(where[case_id]))
        ][:AUDIT_PAGE]
        shown = [int(seq) for seq in re.findall(r'<td class="num">(\d+)</td>', page.text)]
        assert page.status_code == 200, label
        assert shown == expected, label
        assert shown, label
        tenant_wide = [seq for seq in shown if about[seq] is None]
        assert bool(tenant_wide) is scope.unrestricted, label
        assert [r.status_code for r in of_case_outside] == [404] * len(outside), label
        assert of_case_inside.status_code == 200, label


def _cases_named(world: World) -> dict[int, str | None]:
    """Every audit record's sequence number -> the case it is about (None: no case)."""
    with UnitOfWork(world.app.sessions, tenant_id="acme", write=False) as uow:
        return {r.seq: _case_named(r) for r in uow.audit.records()}


def _case_named(record: AuditRecord) -> str | None:
    if record.entity_type == "case":
        return record.entity_id
    named = record.data.get("case_id")
    return named if isinstance(named, str) else None


def _opened_today(csv: str) -> int:
    """The volume rows (one per day and type): cases opened, summed."""
    volume = [line.split(",") for line in csv.splitlines() if line.startswith("volume,")]
    assert volume, f"no volume rows in {csv[:300]!r}"
    return sum(int(float(cells[2])) for cells in volume)


def test_outbox_rows_without_a_case_are_tenant_wide(world: World) -> None:
    with UnitOfWork(world.app.sessions, tenant_id="acme") as uow:
        uow.session.add(
            OutboxMessage(
                tenant_id="acme",
                idempotency_key=f"k-{next(_n)}",
                system="crm",
                operation="note",
                payload={},
                status="pending",
                created_at=world.clock.now(),
                next_attempt_at=world.clock.now(),
            )
        )
        uow.commit()
    people = principals(world)

    totals = {
        label: world.call(who, "GET", "/v1/outbox").json()["total"] for label, who in people.items()
    }

    assert totals == {label: (1 if label == "unscoped" else 0) for label in people}
