"""Every route and console page x every role x two tenants x two environments x two scopes.

The desk is seeded once per module in eight cells (builders/attack_cells.py: acme and
globex, each live and test, each with cases in region DE and FR), with one object of every
kind per cell and one person of every role per cell, limited to the cell's region. The
routes come from the app itself; each is classified by what its path names:

- an object (a case, an action, a message, a key...): asked for by a person of another
  cell, it answers 404, exactly as if it did not exist (403 first when the role lacks the
  route's permission), and the answer names nothing of that cell. Writes included, and a
  refused write changes nothing: no tenant's audit chain grows during the whole attack;
- nothing (a list, a search, an export, a dashboard): its answer, for every person, holds
  no marker (object id, order reference) of any other cell;
- a name in the caller's own tenant (a queue, a brand rule, a webhook source), or a write
  that only creates in the caller's own cell: listed with the reason.

A route nobody classified fails ``test_every_route_and_page_is_classified``.

Which requests run. The full product (every route naming an object x every role x every
home cell x each cell differing from it in one dimension: 11,312 requests on SQLite) was
measured at 568 s against 29 s for the rotation it replaced (SQLite, same loaded
machine), too slow for CI. So every pair is covered instead, and the test checks it:
for every route and dimension, every role asks (its home cell rotating with the route
and the role) and every home cell asks (as a role allowed the route, rotating), so every
(route, role, dimension), every (route, home cell, dimension) and every (role, home cell,
dimension) on a route the role may use is asked (2,825 requests). A role a route's
permission refuses is refused before any object is read and asks in one dimension.
Lists the same way: every (list, role), (list, home cell) and (role, home cell), each
answer searched for all seven other cells' markers. PostgreSQL (as the app role, under
row-level security) runs the first half of each with two roles, administrator and
viewer: every (route, role, dimension) and every (role, home cell, dimension), 336
requests (the whole pairwise set there, 1,952, took 307 s on the loaded machine); every
(list, role) and every (role, home cell).
"""

from __future__ import annotations

import itertools
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from builders.access import Person, api_with_decisions
from builders.app_routes import app_routes, permission_of
from builders.attack_cells import (
    CELLS,
    TENANT_WIDE_KINDS,
    Cell,
    Cells,
    contains_marker,
    neighbours,
    seed_cells,
)
from builders.database_roles import APP_LOGIN, as_login, dispose_owner_engines, postgres_clone
from conftest import AS_APP_ROLE, T0
from orderops.bootstrap import bootstrap
from orderops.config import Settings
from orderops.console.accounts import session_policy
from orderops.console.security import csrf_token
from orderops.console.web import SESSION_COOKIE
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Permission, Role, allows
from orderops.storage.tables import AuditRecord
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.console_sessions import start_session
from orderops.tenancy.tenants import ensure_tenant

# -- the routes, from the app ---------------------------------------------------------------

PARAM_KINDS = {
    "case_id": "case_id",
    "incident_id": "incident_id",
    "action_id": "action_id",
    "sha256": "sha256",
    "user_id": "user_id",
    "key_id": "key_id",
    "recommendation_id": "recommendation_id",
    "order_ref": "order_ref",
    "pack_id": "pack_id",
    "suggestion_id": "suggestion_id",
    "link_id": "link_id",
    "hold_id": "hold_id",
    "subscription_id": "subscription_id",
    "delivery_id": "webhook_delivery_id",
    "run_id": "backtest_run_id",
}
"""Path parameters that name an object of a cell, and the object's kind."""

MESSAGE_KINDS = {
    "/v1/outbox/": "outbox_id",
    "/v1/communications/": "communication_id",
    "/console/messages/": "communication_id",
    "/console/ops/outbox/": "outbox_id",
}
"""``message_id`` names an outbox row or a customer message, depending on the path."""

NAMESPACE_PARAMS = {
    "name": "a queue or an asset: a name in the caller's own tenant, never an id",
    "member": "a queue member's display name, in the caller's own tenant",
    "kind": "a brand rule's kind, in the caller's own tenant",
    "value": "a brand rule's value, in the caller's own tenant",
    "source": "a webhook provider's name; the endpoint token picks the tenant",
    "endpoint_token": "a webhook URL's secret token (tests/attack/test_webhook_attacks.py)",
    "system": "a vendor system's name (stripe, shopify...): the caller's own tenant's connection",
    "step": "a message step (edit, approve, send), beside the message it names",
    "token": "a customer's signed choice link: its tenant, case and offer are under its MAC "
    "(tests/integration/test_customer_choices.py)",
}

OWN_CELL_WRITES = {
    ("POST", "/v1/events"): "ingests into the key's own tenant",
    ("POST", "/v1/sources"): "connects a webhook source of the key's own tenant",
    ("POST", "/v1/admin/connections"): "connects a vendor for the key's own tenant",
    ("POST", "/v1/webhook-subscriptions"): "subscribes an endpoint of the key's own tenant",
    ("POST", "/v1/admin/users"): "creates a user in the caller's own tenant",
    ("POST", "/v1/routing-rules"): "the tenant's own routing rules",
    ("PUT", "/v1/admin/approval-policy"): "the tenant's own approval policy",
    ("PUT", "/v1/admin/notification-policy"): "the tenant's own proactive notice rule",
    ("POST", "/v1/admin/approval-policy/reevaluate"): "the tenant's own open cases",
    ("PUT", "/v1/admin/brand-rules"): "the tenant's own brand rules",
    ("PUT", "/v1/playbook"): "the tenant's own playbook",
    ("POST", "/v1/playbook/reevaluate"): "the tenant's own open cases, under its playbook",
    ("POST", "/console/login"): "signs in to the tenant the form names (test_console.py)",
    ("POST", "/console/logout"): "ends the caller's own session",
    ("POST", "/console/admin/policy/preview"): "previews the tenant's own policy",
    ("POST", "/console/admin/policy"): "the tenant's own approval policy",
    ("POST", "/console/admin/users"): "creates a user in the caller's own tenant",
    ("POST", "/console/admin/keys"): "issues a service key in the caller's own tenant",
    ("POST", "/console/admin/connections"): "connects a vendor for the caller's own tenant",
    ("POST", "/console/audit/verify"): "verifies the caller's own tenant's chain",
    ("POST", "/console/account/totp/setup"): "the signed-in person's own second factor",
    ("POST", "/console/account/totp/enable"): "the signed-in person's own second factor",
    ("POST", "/console/account/totp/disable"): "the signed-in person's own second factor",
    ("POST", "/console/views"): "saves a view of the signed-in person's own",
    ("POST", "/console/views/delete"): "deletes a view found among the signed-in person's own",
    ("POST", "/console/ops/dead-letters/replay"): "a dead letter looked up in the caller's own "
    "tenant (admins only; test_console_operations.py)",
    ("POST", "/console/bulk"): "each case through its single button's service, in the caller's "
    "scoped unit of work (test_console_work_lists.py)",
    ("POST", "/v1/shadow"): "the tenant's own shadow candidate (test_shadow_api.py)",
    ("POST", "/v1/shadow/stop"): "the tenant's own running shadow candidate",
    ("POST", "/v1/shadow/promotion"): "the tenant's own running shadow candidate",
    ("POST", "/v1/shadow/promotion/approve"): "the tenant's own proposed shadow candidate",
    ("POST", "/console/shadow/promote"): "the tenant's own running shadow candidate",
    ("POST", "/console/shadow/approve"): "the tenant's own proposed shadow candidate",
    ("POST", "/v1/backtests"): "queues a backtest of the caller's own tenant "
    "(test_backtest_requests.py)",
    ("POST", "/console/backtests"): "queues a backtest of the caller's own tenant "
    "(test_backtest_requests.py)",
}
"""Writes that name no object: whatever they make belongs to the caller's cell."""

BODY_NAMED: dict[tuple[str, str], Callable[[dict[str, str], dict[str, str]], Any]] = {
    ("POST", "/v1/actions/bulk-approve"): lambda mine, o: {"action_ids": [o["action_id"]]},
    ("POST", "/v1/links"): lambda mine, o: {
        "record_type": "ticket",
        "record_ref": mine["ticket_ref"],
        "order_ref": o["order_ref"],
        "reason": "an attacker's link",
    },
}
"""Writes that name another cell's object in the body rather than the path (given the
caller's own objects and the other cell's): a link from the caller's own unlinked ticket
to the other cell's order."""

SIGN_IN_PAGES = {"/console/login", "/console/sso", "/console/sso/start", "/console/sso/callback"}
"""Pages before sign-in: they show no tenant's data (the SSO flow: test_console_sso.py)."""

ANONYMOUS = {"/", "/healthz", "/readyz", "/metrics"}
"""Answered without credentials (probes, scrapes, the front door): asked once, as nobody."""


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    console: bool
    permission: Permission | None
    kinds: tuple[tuple[str, str], ...]
    """(path parameter, object kind) for each parameter naming an object."""

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def reads(self) -> bool:
        return self.method == "GET"

    def url(self, objects: dict[str, str]) -> str:
        path = self.path
        for param, kind in self.kinds:
            path = path.replace(f"{{{param}}}", objects[kind])
        return path.replace("{step}", "edit")

    def isolated_by(self, dimension: str) -> bool:
        """A tenant-wide object (a user, a key) is not narrowed by a region scope."""
        return dimension != "scope" or all(k not in TENANT_WIDE_KINDS for _, k in self.kinds)


def _kind(path: str, param: str) -> str | None:
    if param == "message_id":
        return next((k for prefix, k in MESSAGE_KINDS.items() if path.startswith(prefix)), None)
    return PARAM_KINDS.get(param)


def classify() -> tuple[list[Route], list[Route], dict[str, str], list[str]]:
    """(routes naming objects, lists, the rest with the reason, what nobody classified)."""
    named: list[Route] = []
    lists: list[Route] = []
    rest: dict[str, str] = {}
    unclassified: list[str] = []
    for method, path, api_route in app_routes():
        params = re.findall(r"{(\w+)}", path)
        kinds = [(p, k) for p in params if (k := _kind(path, p)) is not None]
        unknown = [p for p in params if _kind(path, p) is None and p not in NAMESPACE_PARAMS]
        route = Route(
            method, path, path.startswith("/console"), permission_of(api_route), tuple(kinds)
        )
        if unknown:
            unclassified.append(f"{route}: what does {{{unknown[0]}}} name?")
        elif kinds or (method, path) in BODY_NAMED:
            named.append(route)
        elif params:
            rest[str(route)] = "; ".join(NAMESPACE_PARAMS[p] for p in params)
        elif (method, path) in OWN_CELL_WRITES:
            rest[str(route)] = OWN_CELL_WRITES[(method, path)]
        elif method == "GET":
            lists.append(route)
        else:
            unclassified.append(f"{route}: a write naming nothing, in no table here")
    return named, lists, rest, unclassified


def test_every_route_and_page_is_classified() -> None:
    named, lists, rest, unclassified = classify()

    assert unclassified == []
    everything = {str(r) for r in named} | {str(r) for r in lists} | set(rest)
    assert everything == {f"{m} {p}" for m, p, _ in app_routes()}
    assert {f"{m} {p}" for m, p in OWN_CELL_WRITES} <= set(rest)
    assert len(named) > 40
    assert {"GET /console/cases/{case_id}", "GET /console/dashboards.csv"} <= {
        str(r) for r in named + lists
    }


# -- the desk, once per module --------------------------------------------------------------


CONSOLE_FORM = {
    "body": "x",
    "move": "triage",
    "kind": "release_fulfillment",
    "params": '{"note": "x"}',
    "reason": "not needed at all",
    "role": "agent",
    "name": "stolen",
    "password": "another long passphrase",
    "order_ref": "o-anything",
}
"""One form that every console write would accept, so a refusal is about the object."""


@dataclass
class Desk:
    cells: Cells
    sessions: dict[tuple[Cell, Role], str]
    """A console session token per person."""
    database: str

    @property
    def http(self) -> TestClient:
        return self.cells.http

    def call(self, cell: Cell, role: Role, route: Route, url: str, body: Any = None) -> Any:
        if not route.console:
            who: Person = self.cells.seeded[cell].people[role]
            return self.http.request(route.method, url, json=body, headers=who.headers)
        token = self.sessions[(cell, role)]
        headers = {"Cookie": f"{SESSION_COOKIE}={token}"}
        if route.method == "GET":
            return self.http.get(url, headers=headers)
        csrf = csrf_token(token, self.cells.app.settings.secret_key)
        return self.http.post(url, data={"csrf": csrf, **CONSOLE_FORM}, headers=headers)

    def chains(self) -> dict[str, int]:
        lengths = {}
        for tenant in sorted({c.tenant for c in CELLS}):
            with UnitOfWork(self.cells.app.sessions, tenant_id=tenant, write=False) as uow:
                lengths[tenant] = int(
                    uow.session.scalar(select(func.count()).select_from(AuditRecord)) or 0
                )
        return lengths


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def desk(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Desk]:
    folder = tmp_path_factory.mktemp("route-matrix")
    if request.param == "sqlite":
        target = folder / "orderops.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), target)
        with _desk(f"sqlite:///{target}", None, folder, "sqlite") as built:
            yield built
        return
    with postgres_clone(request.getfixturevalue("postgres_template")) as owner:
        url = as_login(owner, APP_LOGIN) if AS_APP_ROLE else owner
        with _desk(url, owner if url != owner else None, folder, "postgres") as built:
            yield built


class _desk:
    def __init__(self, url: str, owner: str | None, folder: Path, database: str) -> None:
        self.url, self.owner, self.folder, self.database = url, owner, folder, database

    def __enter__(self) -> Desk:
        clock = FixedClock(T0)
        settings = Settings(
            database_url=self.url,
            migration_database_url=self.owner,
            data_dir=self.folder,
            demo_mode=True,
            rate_limit_api_per_key="1000000/second",
            rate_limit_api_per_tenant="1000000/second",
        )
        self.app = bootstrap(settings, clock=clock)
        for tenant in ("acme", "globex"):
            ensure_tenant(self.app.sessions, tenant_id=tenant, name=tenant.title(), clock=clock)
        self.client = TestClient(api_with_decisions(self.app), follow_redirects=False)
        self.client.__enter__()
        roles = tuple(Role) if self.database == "sqlite" else (Role.ADMIN, Role.VIEWER)
        cells = seed_cells(self.app, clock, self.client, roles=roles)
        return Desk(cells, _console_sessions(cells), self.database)

    def __exit__(self, *exc: object) -> None:
        self.client.__exit__(None, None, None)
        self.app.close()
        dispose_owner_engines()


def _console_sessions(cells: Cells) -> dict[tuple[Cell, Role], str]:
    policy = session_policy(cells.app.settings)
    tokens = {}
    for cell, seeded in cells.seeded.items():
        with UnitOfWork(cells.app.sessions, tenant_id=cell.tenant) as uow:
            for role, who in seeded.people.items():
                live = start_session(
                    uow, user_id=who.user_id, now=cells.clock.now(), policy=policy, address=None
                )
                tokens[(cell, role)] = live.token
            uow.commit()
    return tokens


def _roles(desk: Desk) -> tuple[Role, ...]:
    return tuple(Role) if desk.database == "sqlite" else (Role.ADMIN, Role.VIEWER)


# -- objects of another cell -------------------------------------------------------------


WRITE_BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/v1/cases/{case_id}/transitions"): {"move": "triage", "version": 1},
    ("POST", "/v1/cases/{case_id}/claim"): {"version": 1},
    ("POST", "/v1/cases/{case_id}/release"): {"version": 1, "force": True},
    ("POST", "/v1/cases/{case_id}/assign"): {"assignee": "pat", "version": 1},
    ("POST", "/v1/cases/{case_id}/priority"): {"priority": "P2", "version": 1},
    ("POST", "/v1/cases/{case_id}/route"): {"version": 1},
    ("POST", "/v1/cases/{case_id}/actions"): {
        "kind": "release_fulfillment",
        "params": {"note": "x"},
    },
    ("POST", "/v1/actions/{action_id}/approve"): {},
    ("POST", "/v1/actions/{action_id}/reject"): {"reason": "not needed at all"},
    ("POST", "/v1/cases/{case_id}/communications"): {"body": "Hi"},
    ("PATCH", "/v1/communications/{message_id}"): {"body": "x", "version": 1},
    ("POST", "/v1/communications/{message_id}/approve"): {"version": 1},
    ("POST", "/v1/communications/{message_id}/send"): {"version": 1},
    ("POST", "/v1/communications/{message_id}/retry"): {"version": 1},
    ("POST", "/v1/cases/{case_id}/evidence"): {"photo": "x"},
    ("POST", "/v1/admin/users/{user_id}/role"): {"role": "agent"},
    ("POST", "/v1/admin/users/{user_id}/keys"): {"name": "stolen"},
    ("POST", "/v1/admin/keys/{key_id}/rotate"): {"overlap": "1h"},
    # within the caller's own region, so only the object can be what is refused
    ("PUT", "/v1/admin/users/{user_id}/scope"): lambda home: {"scope": {"region": [home.region]}},
    ("PUT", "/v1/admin/keys/{key_id}/scope"): lambda home: {"scope": {"region": [home.region]}},
    ("POST", "/v1/cases/{case_id}/recommendations"): {},
    ("POST", "/v1/orders/{order_ref}/customer-message"): {"recipient": "buyer@example.com"},
    ("POST", "/v1/cases/{case_id}/dispute-evidence"): {},
    ("POST", "/v1/link-suggestions/{suggestion_id}/accept"): {"order_ref": "o-anything"},
    ("POST", "/v1/link-suggestions/{suggestion_id}/reject"): {"reason": "no"},
    ("POST", "/v1/links/{link_id}/unlink"): {"reason": "no"},
    ("POST", "/v1/holds/{hold_id}/release"): {"reason": "not needed at all"},
    ("PATCH", "/v1/webhook-subscriptions/{subscription_id}"): {"enabled": False},
    ("POST", "/v1/webhook-subscriptions/{subscription_id}/rotate"): {"overlap_hours": 0},
}


MISSING_STATUS = {("POST", "/v1/links"): 422}
"""Routes that answer an object that does not exist with another status than 404: a link
to an unknown order is a bad link request ("no order X"). Another cell's order must get
exactly that answer (``test_a_link_to_another_cells_order_reads_as_no_such_order``)."""


def _expected(route: Route, role: Role) -> set[int]:
    if route.console:
        return {403, 404}  # the console checks the role inside the page, then the object
    if route.permission is not None and not allows(role, route.permission):
        return {403}
    return {MISSING_STATUS.get((route.method, route.path), 404)}


def _permitted(route: Route, role: Role) -> bool:
    return route.console or route.permission is None or allows(role, route.permission)


def _neighbour(home: Cell, dimension: str) -> Cell:
    return next(target for d, target in neighbours(home) if d == dimension)


def _requests(desk: Desk, named: list[Route]) -> Iterator[tuple[Cell, Role, Route, str, Cell]]:
    """(home, role, route, dimension, target) as the module docstring describes: for every
    route and dimension, every role (from a home cell rotating with the route and the
    role) and every home cell (as a role allowed the route, rotating). A role the route's
    declared permission refuses is refused before any object is read, so it is asked in
    one dimension only (rotating)."""
    roles = _roles(desk)
    turn = itertools.count()
    for r, route in enumerate(named):
        dimensions = [d for d in ("tenant", "environment", "scope") if route.isolated_by(d)]
        allowed = [role for role in roles if _permitted(route, role)] or list(roles)
        for d, dimension in enumerate(dimensions):
            for n, role in enumerate(roles):
                if not _permitted(route, role) and (r + n) % len(dimensions) != d:
                    continue
                home = CELLS[(r + n + d) % len(CELLS)]
                yield home, role, route, dimension, _neighbour(home, dimension)
            if desk.database == "postgres":
                continue  # every cell in every dimension, over the routes, is enough there
            for home in CELLS:
                role = allowed[next(turn) % len(allowed)]
                yield home, role, route, dimension, _neighbour(home, dimension)


def test_an_object_of_another_cell_answers_as_if_it_did_not_exist(desk: Desk) -> None:
    named, _, _, _ = classify()
    chains_before = desk.chains()
    wrong: dict[str, int] = {}
    leaked: list[str] = []
    covered: set[tuple[str, Role, Cell, str]] = set()
    reached: set[tuple[Role, Cell, str]] = set()

    for home, role, route, dimension, target in _requests(desk, named):
        objects = desk.cells.seeded[target].objects
        key = (route.method, route.path)
        mine = desk.cells.seeded[home].objects
        body = BODY_NAMED[key](mine, objects) if key in BODY_NAMED else WRITE_BODIES.get(key)
        body = body(home) if callable(body) else body
        answer = desk.call(home, role, route, route.url(objects), body)
        label = f"{route} as {role} of {home} at {target} ({dimension})"
        if answer.status_code not in _expected(route, role):
            wrong[label] = answer.status_code
        asked = f"{route.url(objects)} {body}"  # an answer may echo what it was asked
        leaked.extend(
            f"{label}: {kind}"
            for kind, value in desk.cells.seeded[target].markers().items()
            if value not in asked and contains_marker(answer.text, value)
        )
        covered.add((str(route), role, home, dimension))
        if _permitted(route, role):
            reached.add((role, home, dimension))

    assert wrong == {}
    assert leaked == []
    assert desk.chains() == chains_before  # no refused write wrote anything
    roles = _roles(desk)
    for route, role in itertools.product(named, roles):  # every route, every role
        dimensions = {d for d in ("tenant", "environment", "scope") if route.isolated_by(d)}
        met = {d for r, ro, _, d in covered if r == str(route) and ro == role}
        assert met == dimensions if _permitted(route, role) else len(met) == 1, (route, role)
    for route in named if desk.database == "sqlite" else []:  # from every cell, every way
        dimensions = {d for d in ("tenant", "environment", "scope") if route.isolated_by(d)}
        met_from = {(h, d) for r, _, h, d in covered if r == str(route)}
        assert met_from == set(itertools.product(CELLS, dimensions)), route
    # every role, from every cell, in every dimension, on routes it may use
    assert reached == set(itertools.product(roles, CELLS, ("tenant", "environment", "scope")))


def test_an_object_of_ones_own_cell_is_found(desk: Desk) -> None:
    """The control: the same reads, for an administrator of the object's own cell, answer
    200 (a 404 above means "someone else's", not "broken")."""
    named, _, _, _ = classify()
    found = {}
    for route in (r for r in named if r.reads and r.kinds):
        home = CELLS[len(found) % len(CELLS)]
        answer = desk.call(home, Role.ADMIN, route, route.url(desk.cells.seeded[home].objects))
        found[str(route)] = answer.status_code

    assert found == {
        str(r): 404
        if {("suggestion_id", "suggestion_id"), ("run_id", "backtest_run_id")} & set(r.kinds)
        else 200
        for r in named
        if r.reads and r.kinds
    }  # a scoped person sees no link suggestion nor backtest report, even their own
    # tenant's (test_access_scopes, test_backtest_api)


def test_a_link_to_another_cells_order_reads_as_no_such_order(desk: Desk) -> None:
    home = CELLS[0]
    mine = desk.cells.seeded[home].objects
    who = desk.cells.seeded[home].people[Role.ADMIN]
    answers = {}
    for label, order_ref in [("nowhere", "o-no-such-order")] + [
        (dimension, desk.cells.seeded[target].objects["order_ref"])
        for dimension, target in neighbours(home)
    ]:
        body = BODY_NAMED[("POST", "/v1/links")](mine, {"order_ref": order_ref})
        answer = desk.http.post("/v1/links", json=body, headers=who.headers)
        answers[label] = (answer.status_code, answer.json()["detail"].replace(order_ref, "X"))

    assert answers == {label: (422, "no order X") for label in answers}


# -- lists, searches, exports, dashboards -------------------------------------------------


LIST_QUERIES = {
    "/v1/cases": "?limit=500",
    "/v1/actions": "?limit=500",
    "/v1/outbox": "?limit=200",
    "/console/queues": "",
}


def _list_requests(desk: Desk, lists: list[Route]) -> Iterator[tuple[Cell, Role, Route]]:
    """For every list: every role (from a home cell rotating with the list and the role)
    and every home cell (as a role rotating). Each answer is searched for the markers of
    all seven other cells, so every dimension is met at once."""
    roles = _roles(desk)
    for r, route in enumerate(lists):
        if route.path in SIGN_IN_PAGES or route.path in ANONYMOUS:
            continue
        for n, role in enumerate(roles):
            yield CELLS[(r + n) % len(CELLS)], role, route
        if desk.database == "postgres":
            continue  # as for objects: every role from every cell, over the lists
        for h, home in enumerate(CELLS):
            yield home, roles[(r + h) % len(roles)], route


def test_no_list_export_or_dashboard_shows_another_cells_objects(desk: Desk) -> None:
    _, lists, _, _ = classify()
    asked: set[tuple[str, Role, Cell]] = set()
    leaked: list[str] = []
    statuses: dict[str, set[int]] = {}
    own_seen: dict[str, bool] = {}

    for home, role, route in _list_requests(desk, lists):
        asked.add((str(route), role, home))
        answer = desk.call(home, role, route, route.path + LIST_QUERIES.get(route.path, ""))
        statuses.setdefault(str(route), set()).add(answer.status_code)
        shown = answer.text
        for other in CELLS:
            if other == home:
                own = desk.cells.seeded[home].objects["case_id"]
                own_seen[str(route)] = own_seen.get(str(route), False) or own in shown
                continue
            leaked.extend(
                f"{route} as {role} of {home}: {kind} of {other}"
                for kind, value in desk.cells.seeded[other].markers().items()
                if contains_marker(shown, value)
            )

    assert leaked == []
    assert all(codes <= {200, 303, 307, 403} for codes in statuses.values()), statuses
    routes, roles = set(statuses), _roles(desk)
    assert {(r, ro) for r, ro, _ in asked} == set(itertools.product(routes, roles))
    if desk.database == "sqlite":
        assert {(r, h) for r, _, h in asked} == set(itertools.product(routes, CELLS))
    assert {(ro, h) for _, ro, h in asked} == set(itertools.product(roles, CELLS))
    # the lists that show cases do show the asker's own: the search above was not empty
    assert own_seen["GET /v1/cases"]
    assert own_seen["GET /v1/actions"]


def test_a_page_before_sign_in_or_an_operators_probe_shows_no_tenants_data(desk: Desk) -> None:
    answers = {path: desk.http.get(path) for path in sorted(SIGN_IN_PAGES | ANONYMOUS)}

    for path, answer in answers.items():
        for cell, seeded in desk.cells.seeded.items():
            for kind, value in seeded.markers().items():
                assert not contains_marker(answer.text, value), (path, cell, kind)
    assert answers["/console/login"].status_code == 200


def test_the_dataset_has_every_kind_in_every_cell(desk: Desk) -> None:
    kinds = {*PARAM_KINDS.values(), *MESSAGE_KINDS.values(), "ticket_ref"}

    assert {cell: set(s.objects) for cell, s in desk.cells.seeded.items()} == {
        cell: kinds for cell in CELLS
    }
    assert len({s.objects["case_id"] for s in desk.cells.seeded.values()}) == len(CELLS)
    assert make_url(desk.cells.app.settings.resolved_database_url).get_backend_name() in {
        "sqlite",
        "postgresql",
    }
