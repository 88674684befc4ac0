"""Builders for decisions: people with keys per tenant and role, open cases to act on.

Every key acts as someone (``tenancy.tenants.issue_key`` refuses a key that is nobody):
``key_for`` issues one for a new person of the role (a new service identity for the
service role), with ``issue_key``'s other arguments; ``legacy_key`` writes a key as keys
from before identities were, for the tests of how those are still treated."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from builders.events import envelope, order_placed, payment
from orderops.api import actions as actions_api
from orderops.api import admin as admin_api
from orderops.api.app import create_app
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.tenants import IssuedKey, Principal, add_key, issue_key
from orderops.tenancy.users import UserKind, add_user, issue_user_key
from orderops.workflow.batch import ingest_items
from orderops.workflow.sweeps import sweep_late_orders

_orders = itertools.count(1)


@dataclass(frozen=True)
class Person:
    user_id: str
    secret: str
    principal: Principal

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret}"}


def person(
    app: App, clock: FixedClock, *, tenant: str, role: Role, name: str | None = None
) -> Person:
    """A user of ``role`` with one key; service identities are added as services."""
    label = name or f"{role}-{next(_orders)}"
    service = role is Role.SERVICE
    user = add_user(
        app.sessions,
        tenant_id=tenant,
        display_name=label,
        role=role,
        email=None if service else f"{label}@{tenant}.example",
        kind=UserKind.SERVICE if service else UserKind.HUMAN,
        clock=clock,
        actor="test",
    )
    key = issue_user_key(
        app.sessions, tenant_id=tenant, user_id=user.id, name=label, clock=clock, actor="test"
    )
    principal = Principal(
        tenant_id=tenant, role=role, name=label, subject=user.subject, key_id=key.key_id
    )
    return Person(user_id=user.id, secret=key.secret, principal=principal)


def key_for(
    app: App,
    *,
    tenant_id: str,
    name: str,
    role: Role,
    clock: FixedClock,
    secret: str | None = None,
    expires_at: datetime | None = None,
) -> IssuedKey:
    """A key acting as a new identity named ``name``: a person of ``role``, or a service
    identity for the service role."""
    if role is Role.SERVICE:
        return issue_key(
            app.sessions,
            tenant_id=tenant_id,
            name=name,
            role=role,
            clock=clock,
            secret=secret,
            service=name,
            actor="test",
            expires_at=expires_at,
        )
    label = f"{name.lower().replace(' ', '-')}-{next(_orders)}"
    user = add_user(
        app.sessions,
        tenant_id=tenant_id,
        display_name=name,
        role=role,
        email=f"{label}@{tenant_id}.example",
        clock=clock,
        actor="test",
    )
    return issue_key(
        app.sessions,
        tenant_id=tenant_id,
        name=name,
        role=role,
        clock=clock,
        secret=secret,
        user_id=user.id,
        actor="test",
        expires_at=expires_at,
    )


def legacy_key(
    app: App, *, tenant_id: str, name: str, role: Role, clock: FixedClock, secret: str | None = None
) -> IssuedKey:
    """A key with no identity behind it, as keys issued before identities existed are
    stored: it acts as ``key:<id>`` with the role kept on the key."""
    with UnitOfWork(app.sessions, tenant_id=tenant_id) as uow:
        issued = add_key(uow, name=name, role=role, clock=clock, secret=secret, actor="test")
        uow.commit()
        return issued


def late_case(
    app: App,
    clock: FixedClock,
    *,
    tenant: str = "acme",
    total_minor: int = 5000,
    fraud_score: float | None = None,
) -> str:
    """A paid order past its promise: the sweep opens a shipment_late case (status new)."""
    order_ref = f"o-{tenant}-{next(_orders)}"
    placed = clock.now() - timedelta(days=10)
    items: list[Any] = [
        order_placed(
            order_ref, at=placed, promised_by=placed + timedelta(days=3), total_minor=total_minor
        ),
        payment(
            order_ref,
            status="captured",
            at=placed + timedelta(hours=1),
            payment_ref=f"pi-{order_ref}",
            amount_minor=total_minor,
        ),
    ]
    if fraud_score is not None:
        items.append(
            envelope(
                "fraud.signal",
                {"order_ref": order_ref, "kind": "risk_score", "score": fraud_score},
                at=placed + timedelta(hours=2),
                subject=order_ref,
            )
        )
    report = ingest_items(app.sessions, tenant_id=tenant, items=items, channel="test", clock=clock)
    assert report.rejected == []
    opened = [
        c.case_id
        for c in sweep_late_orders(app.sessions, tenant_id=tenant, clock=clock)
        if c.order_ref == order_ref and c.exception_type == "shipment_late"
    ]
    assert len(opened) == 1
    return opened[0]


def api_with_decisions(app: App) -> FastAPI:
    """The app with the actions and admin routers, whether or not create_app has them yet."""
    api = create_app(app)
    present = {getattr(r, "path", "") for r in api.routes}
    for router in (actions_api.router, admin_api.router):
        if not any(getattr(r, "path", "") in present for r in router.routes):
            api.include_router(router)
    return api


def client(app: App) -> TestClient:
    return TestClient(api_with_decisions(app))
