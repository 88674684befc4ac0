"""Builders for cases in the queues: an order with the facts routing looks at, then its case."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import FastAPI

from builders.events import envelope, order_placed, payment
from orderops.api import case_work, communications, evidence, queues
from orderops.api.app import create_app
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.workflow.batch import ingest_items
from orderops.workflow.sweeps import sweep


def order_facts(
    order_ref: str,
    *,
    clock: FixedClock,
    total_minor: int = 5000,
    tier: str = "standard",
    country: str | None = "US",
) -> dict[str, Any]:
    event = order_placed(order_ref, at=clock.now() - timedelta(days=2), total_minor=total_minor)
    event["data"]["customer"]["tier"] = tier
    if country is not None:
        event["data"]["ship_to"] = {"country": country, "city": "Somewhere"}
    return event


def fraud_signal(order_ref: str, *, clock: FixedClock, score: float) -> dict[str, Any]:
    return envelope(
        "fraud.signal",
        {"order_ref": order_ref, "kind": "velocity", "score": score},
        at=clock.now() - timedelta(days=2, minutes=-30),  # known before the payment fails
        subject=order_ref,
        source="test://fraud",
    )


def open_payment_case(
    app: App,
    clock: FixedClock,
    order_ref: str,
    *,
    tenant_id: str = "acme",
    extra: list[dict[str, Any]] | None = None,
    **facts: Any,
) -> str:
    """Ingest an order (plus ``extra`` events) and a failed payment; return the case id."""
    placed = clock.now() - timedelta(days=2)
    items = [
        order_facts(order_ref, clock=clock, **facts),
        *(extra or []),
        payment(
            order_ref,
            status="failed",
            at=placed + timedelta(hours=1),
            payment_ref=f"pi_{order_ref}",
            amount_minor=facts.get("total_minor", 5000),
        ),
    ]
    report = ingest_items(
        app.sessions, tenant_id=tenant_id, items=items, channel="test", clock=clock
    )
    assert report.rejected == []
    # The decline is two days old: its grace has passed, and the sweep opens its case.
    changes = [*report.changes, *sweep(app.sessions, tenant_id=tenant_id, clock=clock)]
    opened = [
        c.case_id for c in changes if c.change == "opened" and c.exception_type == "payment_failed"
    ]
    assert len(opened) == 1, report.changes
    return opened[0]


def work_api(app: App) -> FastAPI:
    """The API with the case-work routers included (as the lead wires them in create_app)."""
    fastapi = create_app(app)
    for module in (case_work, queues, evidence, communications):
        fastapi.include_router(module.router)
    return fastapi
