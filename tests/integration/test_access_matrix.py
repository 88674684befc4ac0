"""Who may do what: every role x every route x both tenants, generated from GRANTS.

Each cell is one real request by a person of that role. The expected answer comes from
the role table alone: a role without the route's permission gets 403; with it, the route's
success status, except that another tenant's case, action, user or key answers 404. The
resources always belong to acme; the "other" column calls as globex people.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.routing import APIRoute

from builders.access import Person, client, late_case, person
from builders.backtests import request_body, stored_run
from builders.choices import choice_case
from builders.events import order_placed
from builders.holds import place_hold
from builders.outbound_webhooks import failed_delivery, subscription
from builders.shadow import (
    equal_candidate,
    lower_fraud_threshold,
    proposed_candidate,
    start_candidate,
    stop_running,
)
from orderops.api import actions as actions_api
from orderops.api import admin as admin_api
from orderops.api import backtests as backtests_api
from orderops.api import cases as cases_api
from orderops.api import choices as choices_api
from orderops.api import connections as connections_api
from orderops.api import events as events_api
from orderops.api import holds as holds_api
from orderops.api import playbook_pins as playbook_pins_api
from orderops.api import shadow as shadow_api
from orderops.api import webhook_subscriptions as webhook_subscriptions_api
from orderops.audit.verify import verify_tenant
from orderops.bootstrap import App
from orderops.decide.actions import propose
from orderops.domain.approval_policy import DEFAULT_POLICY
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Permission, Role, allows
from orderops.domain.vendor_connections import AccountMode, VendorSystem
from orderops.evidence.service import default_store
from orderops.tenancy.users import issue_user_key
from orderops.writeback.vendor_connections import add_connection, list_connections

_n = itertools.count(1)


@dataclass
class World:
    app: App
    clock: FixedClock
    maker: Person
    case_id: str
    action_id: str

    def fresh_action(self) -> str:
        """An acme action awaiting approval, proposed by the maker (nobody in the matrix)."""
        return propose(
            self.app.sessions,
            tenant_id="acme",
            case_id=self.case_id,
            # desk approval and no money: many may wait on one order at once
            kind="release_fulfillment",
            params={"note": "checked"},
            principal=self.maker.principal,
            clock=self.clock,
            evidence=default_store(self.app.settings),
        ).id

    def fresh_hold(self) -> str:
        """An acme hold on a case of its own, placed by the maker (approved by rule)."""
        return place_hold(self.app, self.clock, self.maker).hold_id

    def fresh_user(self) -> str:
        return person(self.app, self.clock, tenant="acme", role=Role.VIEWER).user_id

    def fresh_key(self) -> str:
        return issue_user_key(
            self.app.sessions,
            tenant_id="acme",
            user_id=self.maker.user_id,
            name=f"spare-{next(_n)}",
            clock=self.clock,
            actor="test",
        ).key_id


Request = tuple[str, dict[str, Any] | None]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    permission: Permission
    success: int
    prepare: Callable[[World], Request]
    tenant_scoped_ids: bool = False
    """The request names acme resources by id, so another tenant must get 404."""

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _acme_connection(w: World, system: str) -> None:
    """acme's ``system`` connection, added unless there (globex never has one)."""
    if any(c.system == system for c in list_connections(w.app.sessions, tenant_id="acme")):
        return
    add_connection(
        w.app.sessions,
        tenant_id="acme",
        system=VendorSystem(system),
        base_url="http://127.0.0.1:9",
        secret="wms-test-key-0001",
        mode=AccountMode.TEST,
        secret_key=w.app.settings.secret_key,
        clock=w.clock,
        actor="test",
    )


def _connection_route(action: str, body: dict[str, Any] | None = None) -> Route:
    def prepare(w: World) -> Request:
        _acme_connection(w, "wms")
        return f"/v1/admin/connections/wms/{action}", body

    return Route(
        "POST",
        f"/v1/admin/connections/{{system}}/{action}",
        Permission.SOURCES_MANAGE,
        200,
        prepare,
        tenant_scoped_ids=True,
    )


HOOKS = "/v1/webhook-subscriptions"


def _hook_route(method: str, tail: str, success: int, body: dict[str, Any] | None = None) -> Route:
    """A route naming one acme subscription (fresh per request: DELETE removes it)."""

    def prepare(w: World) -> Request:
        sub = subscription(w.app, w.clock)
        if "{delivery_id}" in tail:
            delivery = failed_delivery(w.app, w.clock, sub)
            return f"{HOOKS}/{sub}" + tail.replace("{delivery_id}", delivery), body
        return f"{HOOKS}/{sub}{tail}", body

    return Route(
        method,
        f"{HOOKS}/{{subscription_id}}{tail}",
        Permission.SOURCES_MANAGE,
        success,
        prepare,
        tenant_scoped_ids=True,
    )


def _policy(_w: World) -> Request:
    # a whole policy: one that leaves the money kinds to the default is refused (422)
    body = {**DEFAULT_POLICY.body(), "expiry_hours": 24 + next(_n)}
    return "/v1/admin/approval-policy", {"policy": body}


ROUTES = [
    Route(
        "POST",
        "/v1/events",
        Permission.EVENTS_WRITE,
        202,
        lambda w: ("/v1/events", order_placed(f"o-m-{next(_n)}", at=w.clock.now())),
    ),
    Route("GET", "/v1/cases", Permission.CASES_READ, 200, lambda w: ("/v1/cases", None)),
    Route(
        "GET",
        "/v1/cases/{case_id}",
        Permission.CASES_READ,
        200,
        lambda w: (f"/v1/cases/{w.case_id}", None),
        tenant_scoped_ids=True,
    ),
    Route(
        "GET", "/v1/action-kinds", Permission.CASES_READ, 200, lambda w: ("/v1/action-kinds", None)
    ),
    Route(
        "POST",
        "/v1/cases/{case_id}/actions",
        Permission.ACTIONS_PROPOSE,
        201,
        lambda w: (
            f"/v1/cases/{w.case_id}/actions",
            {"kind": "release_fulfillment", "params": {"note": "checked"}},
        ),
        tenant_scoped_ids=True,
    ),
    Route(
        "GET",
        "/v1/cases/{case_id}/actions",
        Permission.CASES_READ,
        200,
        lambda w: (f"/v1/cases/{w.case_id}/actions", None),
        tenant_scoped_ids=True,
    ),
    Route("GET", "/v1/actions", Permission.CASES_READ, 200, lambda w: ("/v1/actions", None)),
    Route(
        "GET",
        "/v1/actions/{action_id}",
        Permission.CASES_READ,
        200,
        lambda w: (f"/v1/actions/{w.action_id}", None),
        tenant_scoped_ids=True,
    ),
    Route(
        "POST",
        "/v1/actions/{action_id}/approve",
        Permission.ACTIONS_APPROVE,
        200,
        lambda w: (f"/v1/actions/{w.fresh_action()}/approve", {}),
        tenant_scoped_ids=True,
    ),
    Route(
        "POST",
        "/v1/actions/{action_id}/reject",
        Permission.ACTIONS_APPROVE,
        200,
        lambda w: (f"/v1/actions/{w.fresh_action()}/reject", {"reason": "not needed"}),
        tenant_scoped_ids=True,
    ),
    Route(
        "POST",
        "/v1/actions/bulk-approve",
        Permission.ACTIONS_APPROVE,
        200,
        lambda w: ("/v1/actions/bulk-approve", {"action_ids": [w.fresh_action()]}),
        tenant_scoped_ids=True,
    ),
    Route(
        "GET", "/v1/admin/users", Permission.USERS_MANAGE, 200, lambda w: ("/v1/admin/users", None)
    ),
    Route(
        "POST",
        "/v1/admin/users",
        Permission.USERS_MANAGE,
        201,
        lambda w: (
            "/v1/admin/users",
            {"display_name": "New", "role": "agent", "email": f"new-{next(_n)}@x.example"},
        ),
    ),
    Route(
        "POST",
        "/v1/admin/users/{user_id}/disable",
        Permission.USERS_MANAGE,
        200,
        lambda w: (f"/v1/admin/users/{w.fresh_user()}/disable", None),
        tenant_scoped_ids=True,
    ),
    Route(
        "POST",
        "/v1/admin/users/{user_id}/role",
        Permission.USERS_MANAGE,
        200,
        lambda w: (f"/v1/admin/users/{w.fresh_user()}/role", {"role": "agent"}),
        tenant_scoped_ids=True,
    ),
    Route(
        "GET",
        "/v1/admin/users/{user_id}/provenance",
        Permission.USERS_MANAGE,
        200,
        lambda w: (f"/v1/admin/users/{w.maker.user_id}/provenance", None),
        tenant_scoped_ids=True,
    ),
    Route(
        "POST",
        "/v1/admin/users/{user_id}/keys",
        Permission.USERS_MANAGE,
        201,
        lambda w: (f"/v1/admin/users/{w.maker.user_id}/keys", {"name": "extra"}),
        tenant_scoped_ids=True,
    ),
    Route(
        "GET", "/v1/admin/keys", Permission.USERS_MANAGE, 200, lambda w: ("/v1/admin/keys", None)
    ),
    Route(
        "POST",
        "/v1/admin/keys/{key_id}/revoke",
        Permission.USERS_MANAGE,
        200,
        lambda w: (f"/v1/admin/keys/{w.fresh_key()}/revoke", None),
        tenant_scoped_ids=True,
    ),
    Route(
        "POST",
        "/v1/admin/keys/{key_id}/rotate",
        Permission.USERS_MANAGE,
        200,
        lambda w: (f"/v1/admin/keys/{w.fresh_key()}/rotate", {"overlap": "1h"}),
        tenant_scoped_ids=True,
    ),
    Route(
        "GET",
        "/v1/admin/approval-policy",
        Permission.POLICIES_MANAGE,
        200,
        lambda w: ("/v1/admin/approval-policy", None),
    ),
    Route(
        "GET",
        "/v1/admin/approval-policy/versions",
        Permission.POLICIES_MANAGE,
        200,
        lambda w: ("/v1/admin/approval-policy/versions", None),
    ),
    Route("PUT", "/v1/admin/approval-policy", Permission.POLICIES_MANAGE, 200, _policy),
    Route(
        "POST",
        "/v1/admin/approval-policy/reevaluate",
        Permission.POLICIES_MANAGE,
        200,
        lambda w: ("/v1/admin/approval-policy/reevaluate", {}),
    ),
    Route(
        "GET",
        "/v1/admin/connections",
        Permission.SOURCES_MANAGE,
        200,
        lambda w: ("/v1/admin/connections", None),
    ),
    Route(  # one admin per tenant: each adds its own tenant's first crm connection
        "POST",
        "/v1/admin/connections",
        Permission.SOURCES_MANAGE,
        201,
        lambda w: (
            "/v1/admin/connections",
            {
                "system": "crm",
                "base_url": "https://crm.example.com",
                "secret": "crm-token-0001",
                "mode": "test",
            },
        ),
    ),
    _connection_route("rotate", {"secret": "wms-test-key-0002"}),
    _connection_route("test"),
    _connection_route("remove"),
    Route("GET", HOOKS, Permission.SOURCES_MANAGE, 200, lambda w: (HOOKS, None)),
    Route(
        "POST",
        HOOKS,
        Permission.SOURCES_MANAGE,
        201,
        lambda w: (HOOKS, {"url": "https://hooks.example.com/x", "event_types": ["case.opened"]}),
    ),
    _hook_route("GET", "", 200),
    _hook_route("PATCH", "", 200, {"description": "ops channel"}),
    _hook_route("DELETE", "", 204),
    _hook_route("POST", "/rotate", 200, {"overlap_hours": 1}),
    _hook_route("GET", "/deliveries", 200),
    _hook_route("POST", "/deliveries/{delivery_id}/redeliver", 202),
    Route(
        "POST",
        "/v1/cases/{case_id}/playbook/reevaluate",
        Permission.POLICIES_MANAGE,
        200,
        lambda w: (f"/v1/cases/{w.case_id}/playbook/reevaluate", None),
        tenant_scoped_ids=True,
    ),
    Route("GET", "/v1/holds", Permission.CASES_READ, 200, lambda w: ("/v1/holds", None)),
    Route(
        "GET",
        "/v1/holds/{hold_id}",
        Permission.CASES_READ,
        200,
        lambda w: (f"/v1/holds/{w.fresh_hold()}", None),
        tenant_scoped_ids=True,
    ),
    Route(
        "POST",
        "/v1/holds/{hold_id}/release",
        Permission.ACTIONS_APPROVE,
        200,
        lambda w: (f"/v1/holds/{w.fresh_hold()}/release", None),
        tenant_scoped_ids=True,
    ),
    Route(
        "POST",
        "/v1/playbook/reevaluate",
        Permission.POLICIES_MANAGE,
        200,
        lambda w: ("/v1/playbook/reevaluate?dry_run=true", None),
    ),
    Route(  # a fresh delay case each time: an offer withdraws the last, never refuses
        "POST",
        "/v1/cases/{case_id}/choice-offers",
        Permission.CASES_WORK,
        201,
        lambda w: (f"/v1/cases/{choice_case(w.app, w.clock)}/choice-offers", None),
        tenant_scoped_ids=True,
    ),
    Route(
        "GET",
        "/v1/cases/{case_id}/choice-offers",
        Permission.CASES_READ,
        200,
        lambda w: (f"/v1/cases/{w.case_id}/choice-offers", None),
        tenant_scoped_ids=True,
    ),
    Route(  # nothing offered on this case: the answer says none was withdrawn
        "POST",
        "/v1/cases/{case_id}/choice-offers/withdraw",
        Permission.CASES_WORK,
        200,
        lambda w: (f"/v1/cases/{w.case_id}/choice-offers/withdraw", None),
        tenant_scoped_ids=True,
    ),
    Route("GET", "/v1/shadow", Permission.POLICIES_MANAGE, 200, lambda w: ("/v1/shadow", None)),
    Route(
        "GET", "/v1/backtests", Permission.POLICIES_MANAGE, 200, lambda w: ("/v1/backtests", None)
    ),
    Route(  # acme's stored report: globex's administrators are answered 404
        "GET",
        "/v1/backtests/{run_id}",
        Permission.POLICIES_MANAGE,
        200,
        lambda w: (f"/v1/backtests/{stored_run(w.app, w.clock)}", None),
        tenant_scoped_ids=True,
    ),
    Route(  # queued for the caller's own tenant: globex queues its own
        "POST",
        "/v1/backtests",
        Permission.POLICIES_MANAGE,
        202,
        lambda w: ("/v1/backtests", request_body(w.clock)),
    ),
    Route(  # each tenant's own candidate: globex starts its own
        "POST",
        "/v1/shadow",
        Permission.POLICIES_MANAGE,
        201,
        lambda w: (
            stop_running(w.app, w.clock) or "/v1/shadow",
            {"candidate": lower_fraud_threshold()},
        ),
    ),
    Route(  # acme's running candidate: globex has none to stop
        "POST",
        "/v1/shadow/stop",
        Permission.POLICIES_MANAGE,
        200,
        lambda w: (start_candidate(w.app, w.clock, equal_candidate()) and "/v1/shadow/stop", None),
        tenant_scoped_ids=True,
    ),
    Route(
        "POST",
        "/v1/shadow/promotion",
        Permission.POLICIES_MANAGE,
        200,
        lambda w: (
            start_candidate(w.app, w.clock, equal_candidate()) and "/v1/shadow/promotion",
            None,
        ),
        tenant_scoped_ids=True,
    ),
    Route(  # proposed by the maker, so any administrator may be the second pair of eyes
        "POST",
        "/v1/shadow/promotion/approve",
        Permission.POLICIES_MANAGE,
        200,
        lambda w: (
            proposed_candidate(w.app, w.clock, proposer=w.maker.principal.identity)
            and "/v1/shadow/promotion/approve",
            None,
        ),
        tenant_scoped_ids=True,
    ),
]


def expected(route: Route, role: Role, tenant: str) -> int:
    if not allows(role, route.permission):
        return 403
    if tenant != "acme" and route.tenant_scoped_ids:
        return 404
    return route.success


def declared_permission(route: APIRoute) -> Permission | None:
    found = [
        getattr(d.call, "permission", None)
        for d in route.dependant.dependencies
        if getattr(d.call, "permission", None) is not None
    ]
    assert len(found) <= 1, f"{route.path} declares {found}"
    return found[0] if found else None


def test_the_table_covers_every_route_with_the_permission_it_declares() -> None:
    routers = (
        events_api.router,
        cases_api.router,
        actions_api.router,
        admin_api.router,
        connections_api.router,
        playbook_pins_api.router,
        holds_api.router,
        choices_api.router,
        webhook_subscriptions_api.router,
        shadow_api.router,
        backtests_api.router,
    )
    declared = {
        (method, route.path): declared_permission(route)
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    }

    assert declared == {(r.method, r.path): r.permission for r in ROUTES}


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_every_role_of_both_tenants_gets_what_grants_allows(
    app: App, clock: FixedClock, route: Route
) -> None:
    maker = person(app, clock, tenant="acme", role=Role.AGENT, name="maker")
    case_id = late_case(app, clock)
    world = World(app=app, clock=clock, maker=maker, case_id=case_id, action_id="")
    world.action_id = world.fresh_action()  # also keeps the case awaiting approval
    people = {
        (tenant, role): person(app, clock, tenant=tenant, role=role)
        for tenant in ("acme", "globex")
        for role in Role
    }

    actual: dict[tuple[str, str], int] = {}
    with client(app) as http:
        for (tenant, role), who in people.items():
            path, body = route.prepare(world)
            response = http.request(route.method, path, json=body, headers=who.headers)
            actual[(tenant, role.value)] = response.status_code
        anonymous = http.request(route.method, route.prepare(world)[0])

    assert actual == {
        (tenant, role.value): expected(route, role, tenant) for tenant, role in people
    }
    assert anonymous.status_code == 401
    for tenant in ("acme", "globex"):
        assert verify_tenant(app.sessions, tenant_id=tenant).ok
