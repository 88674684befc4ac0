"""Builders for decisions: people with keys per tenant and role, open cases to act on."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import timedelta
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
from orderops.ingest.batch import ingest_items
from orderops.workflow.sweeps import sweep_late_orders
from orderops.workflow.tenants import Principal
from orderops.workflow.users import UserKind, add_user, issue_user_key

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
